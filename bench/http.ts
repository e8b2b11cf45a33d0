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
import { userHash } from '../src/sign/index.js';

export interface LoadResult {
  rps: number;
  p99: number;
  non2xx: number;
  errors: number;
}

export interface HttpOptions {
  connections: number;
  seconds: number;
  warmupSeconds: number;
  rounds: number;
}

const AUTOCANNON = createRequire(import.meta.url).resolve('autocannon/autocannon.js');

/** autocannon in a child process, so the load generator does not share the server's event loop. */
function load(url: string, body: string, connections: number, seconds: number): Promise<LoadResult> {
  return new Promise((resolve, reject) => {
    const args = [AUTOCANNON, '-c', String(connections), '-d', String(seconds), '-m', 'POST', '-H', 'content-type=application/json', '-b', body, '--json', '-n', url];
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d));
    child.stderr.on('data', (d: Buffer) => (err += d));
    child.on('error', reject);
    child.on('exit', (code) => {
      if (code !== 0) return reject(new Error(`autocannon exited ${code}: ${err}`));
      const r = JSON.parse(out);
      resolve({ rps: r.requests.average, p99: r.latency.p99, non2xx: r.non2xx, errors: r.errors + r.timeouts });
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
function bareServer(appId: string, key: Buffer): Server {
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
        if (k && HEX.test(hash)) ok = timingSafeEqual(createHmac('sha256', k).update(String(body.user_id ?? body.email)).digest(), Buffer.from(hash, 'hex'));
      } catch {
        ok = false;
      }
      const payload = ok
        ? JSON.stringify({ type: 'identity_verification.result', verified: true, method: 'user_hash', user_id: body.user_id ?? null, email: body.email ?? null })
        : '{"type":"error.list","errors":[{"code":"hmac_mismatch","message":"Failed Identity Verification check"}]}';
      res.writeHead(ok ? 200 : 401, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(payload) });
      res.end(payload);
    });
  });
}

export interface HttpFigures {
  bare: LoadResult[];
  real: LoadResult[];
}

/**
 * The real verify route (full Fastify app, SQLite, info-level JSON access log to /dev/null) against the bare
 * baseline, in alternating rounds so drift from the other tenants of the machine hits both alike.
 */
export async function benchHttp(options: HttpOptions, log: (line: string) => void): Promise<HttpFigures> {
  const dir = mkdtempSync(join(tmpdir(), 'secure-mode-bench-'));
  const config = loadConfig({ SECURE_MODE_DATABASE_URL: `sqlite:${join(dir, 'bench.db')}`, SECURE_MODE_LOG_LEVEL: 'info' });
  const runtime = await createRuntime(config, { logger: createLogger('info', pino.destination({ dest: '/dev/null', sync: true })) });
  let bare: Server | undefined;
  try {
    const [workspace] = await runtime.workspaces.listWorkspaces();
    const { secret } = await runtime.secrets.create(workspace!, { name: 'bench', supports_web: true }, SYSTEM_ACTOR);
    const userId = 'bench-user-1234';
    const body = JSON.stringify({ app_id: workspace!.appId, platform: 'web', user_id: userId, user_hash: userHash(secret, { user_id: userId }) });
    await runtime.app.listen({ host: '127.0.0.1', port: 0 });
    const urls = {
      real: `${urlOf(runtime.app.server)}/identity_verification/verify`,
      bare: `${await listen((bare = bareServer(workspace!.appId, Buffer.from(secret, 'utf8'))))}/identity_verification/verify`,
    };
    for (const which of ['bare', 'real'] as const) {
      const warm = await load(urls[which], body, options.connections, options.warmupSeconds);
      if (warm.non2xx > 0 || warm.errors > 0) throw new Error(`${which} server answered ${warm.non2xx} non-2xx and ${warm.errors} errors during warm-up`);
    }
    const figures: HttpFigures = { bare: [], real: [] };
    for (let round = 0; round < options.rounds; round++) {
      // Alternate which goes first, so neither always runs on the warmer (or busier) half of a round.
      const order = round % 2 === 0 ? (['bare', 'real'] as const) : (['real', 'bare'] as const);
      for (const which of order) {
        const r = await load(urls[which], body, options.connections, options.seconds);
        figures[which].push(r);
        log(`  round ${round + 1} ${which.padEnd(4)} ${r.rps.toFixed(0).padStart(7)} req/s  p99 ${String(r.p99).padStart(4)} ms  non-2xx ${r.non2xx}  errors ${r.errors}`);
      }
    }
    return figures;
  } finally {
    if (bare) await new Promise<void>((resolve) => bare!.close(() => resolve()));
    await runtime.close();
    rmSync(dir, { recursive: true, force: true });
  }
}
