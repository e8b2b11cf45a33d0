import { spawn } from 'node:child_process';
import { createHmac, timingSafeEqual } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { type Server, createServer } from 'node:http';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { loadConfig } from '../src/config.js';
import { SYSTEM_ACTOR } from '../src/domain/actor.js';
import { createLogger } from '../src/logger.js';
import { createRuntime } from '../src/runtime.js';
import { userHash } from '../packages/sign/src/index.js';

export interface LoadResult {
  rps: number;
  p50: number;
  p99: number;
  non2xx: number;
  errors: number;
  /** CPU time the server process spent per request: less sensitive to the machine's other tenants than req/s. */
  cpuUsPerRequest: number;
}

export interface HttpOptions {
  connections: number;
  seconds: number;
  warmupSeconds: number;
  rounds: number;
}

const AUTOCANNON = createRequire(import.meta.url).resolve('autocannon/autocannon.js');

/** autocannon in a child process, so the load generator does not share the server's event loop. */
export function load(
  url: string,
  body: string,
  connections: number,
  seconds: number,
  options: { headers?: string[]; ratePerSecond?: number } = {},
): Promise<LoadResult> {
  const cpuBefore = process.cpuUsage();
  return new Promise((resolve, reject) => {
    const extra = (options.headers ?? []).flatMap((h) => ['-H', h]);
    if (options.ratePerSecond !== undefined) extra.push('-R', String(options.ratePerSecond));
    const args = [
      AUTOCANNON,
      '-c',
      String(connections),
      '-d',
      String(seconds),
      '-m',
      'POST',
      '-H',
      'content-type=application/json',
      ...extra,
      '-b',
      body,
      '--json',
      '-n',
      url,
    ];
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d));
    child.stderr.on('data', (d: Buffer) => (err += d));
    child.on('error', reject);
    child.on('exit', (code) => {
      if (code !== 0) return reject(new Error(`autocannon exited ${code}: ${err}`));
      const cpu = process.cpuUsage(cpuBefore);
      const r = JSON.parse(out);
      resolve({
        rps: r.requests.average,
        p50: r.latency.p50,
        p99: r.latency.p99,
        non2xx: r.non2xx,
        errors: r.errors + r.timeouts,
        cpuUsPerRequest: (cpu.user + cpu.system) / Math.max(1, r.requests.total),
      });
    });
  });
}

function urlOf(server: Server): string {
  const address = server.address();
  return `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
}

function listen(server: Server): Promise<string> {
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(urlOf(server))));
}

/** The baseline: node:http doing the same work per request (parse JSON, check hex, one HMAC, constant-time compare). */
export function bareServer(appId: string, key: Buffer): Server {
  const keys = new Map([[appId, key]]);
  const HEX = /^[0-9a-f]{64}$/;
  return createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      let ok = false;
      let body: { app_id?: string; user_id?: string; email?: string; user_hash?: string } = {};
      try {
        body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
        const k = keys.get(String(body.app_id));
        const hash = String(body.user_hash);
        if (k && HEX.test(hash))
          ok = timingSafeEqual(
            createHmac('sha256', k)
              .update(String(body.user_id ?? body.email))
              .digest(),
            Buffer.from(hash, 'hex'),
          );
      } catch {
        ok = false;
      }
      const payload = ok
        ? JSON.stringify({
            type: 'identity_verification.result',
            verified: true,
            method: 'user_hash',
            user_id: body.user_id ?? null,
            email: body.email ?? null,
          })
        : '{"type":"error.list","errors":[{"code":"hmac_mismatch","message":"Failed Identity Verification check"}]}';
      res.writeHead(ok ? 200 : 401, {
        'content-type': 'application/json; charset=utf-8',
        'content-length': Buffer.byteLength(payload),
      });
      res.end(payload);
    });
  });
}

/** A configuration of the real service to measure; the access log goes to /dev/null, written as in production. */
export interface Variant {
  name: string;
  logLevel: string;
}

export type HttpFigures = Record<string, LoadResult[]>;

interface Target {
  name: string;
  url: string;
  body: string;
}

async function startVariant(variant: Variant, cleanups: (() => Promise<void>)[]): Promise<Target> {
  const dir = mkdtempSync(join(tmpdir(), 'secure-mode-bench-'));
  cleanups.push(async () => rmSync(dir, { recursive: true, force: true }));
  const config = loadConfig({
    SECURE_MODE_DATABASE_URL: `sqlite:${join(dir, 'bench.db')}`,
    SECURE_MODE_LOG_LEVEL: variant.logLevel,
    // One client and one app_id send every request: the limits still run on each, but must not answer 429, or the
    // bench would measure refusals.
    SECURE_MODE_VERIFY_RATE_LIMIT: '10000000',
    SECURE_MODE_VERIFY_CLIENT_RATE_LIMIT: '10000000',
  });
  const runtime = await createRuntime(config, {
    logger: createLogger(variant.logLevel, pino.destination({ dest: '/dev/null', sync: true })),
  });
  cleanups.push(() => runtime.close());
  const [workspace] = await runtime.workspaces.listWorkspaces();
  const { secret } = await runtime.secrets.create(workspace!, { name: 'bench', supports_web: true }, SYSTEM_ACTOR);
  await runtime.app.listen({ host: '127.0.0.1', port: 0 });
  return {
    name: variant.name,
    url: `${urlOf(runtime.app.server)}/identity_verification/verify`,
    body: requestBody(workspace!.appId, secret),
  };
}

export function requestBody(appId: string, secret: string): string {
  const userId = 'bench-user-1234';
  return JSON.stringify({ app_id: appId, platform: 'web', user_id: userId, user_hash: userHash(secret, { user_id: userId }) });
}

/**
 * The real verify route (full Fastify app on SQLite) in each variant, against the bare baseline, in rounds whose
 * order rotates so drift from the machine's other tenants hits every contender alike.
 */
export async function benchHttp(options: HttpOptions, variants: Variant[], log: (line: string) => void): Promise<HttpFigures> {
  const cleanups: (() => Promise<void>)[] = [];
  try {
    const targets: Target[] = [];
    for (const v of variants) targets.push(await startVariant(v, cleanups));
    const secret = 'bare-baseline-secret';
    const bare = bareServer('bare', Buffer.from(secret, 'utf8'));
    cleanups.push(() => new Promise<void>((resolve) => bare.close(() => resolve())));
    targets.unshift({
      name: 'bare',
      url: `${await listen(bare)}/identity_verification/verify`,
      body: requestBody('bare', secret),
    });

    for (const t of targets) {
      const warm = await load(t.url, t.body, options.connections, options.warmupSeconds);
      if (warm.non2xx > 0 || warm.errors > 0)
        throw new Error(`${t.name} answered ${warm.non2xx} non-2xx and ${warm.errors} errors during warm-up`);
    }
    const figures: HttpFigures = Object.fromEntries(targets.map((t) => [t.name, []]));
    const width = Math.max(...targets.map((t) => t.name.length));
    for (let round = 0; round < options.rounds; round++) {
      const order = [...targets.slice(round % targets.length), ...targets.slice(0, round % targets.length)];
      for (const t of order) {
        const r = await load(t.url, t.body, options.connections, options.seconds);
        figures[t.name]!.push(r);
        log(
          `   round ${round + 1}  ${t.name.padEnd(width)}  ${r.rps.toFixed(0).padStart(6)} req/s  p99 ${String(r.p99).padStart(4)} ms  ${r.cpuUsPerRequest.toFixed(1).padStart(5)} µs CPU/request  non-2xx ${r.non2xx}  errors ${r.errors}`,
        );
        // A round with rejected or failed requests measured something other than verification: no figure from it.
        if (r.non2xx > 0 || r.errors > 0)
          throw new Error(`${t.name} answered ${r.non2xx} non-2xx and ${r.errors} errors in round ${round + 1}`);
      }
    }
    return figures;
  } finally {
    for (const cleanup of cleanups.reverse()) await cleanup();
  }
}
