import { fork, spawn, spawnSync } from 'node:child_process';
import { createHmac, randomUUID, timingSafeEqual } from 'node:crypto';
import { once } from 'node:events';
import { type Server, createServer } from 'node:http';
import { createRequire } from 'node:module';
import { cpus } from 'node:os';
import { fileURLToPath } from 'node:url';
import { userHash } from '../packages/sign/src/index.js';

export interface LoadResult {
  rps: number;
  p50: number;
  p99: number;
  non2xx: number;
  errors: number;
  requests: number;
}

/** One contender's figures in one round of the HTTP bench. */
export interface RoundResult extends LoadResult {
  /** CPU time the server's process spent per request. */
  cpuUsPerRequest: number;
}

export interface HttpOptions {
  connections: number;
  seconds: number;
  warmupSeconds: number;
  rounds: number;
}

const AUTOCANNON = createRequire(import.meta.url).resolve('autocannon/autocannon.js');

/** The CPU each side runs on when there are two and taskset is at hand: servers on 0, load generators on 1. */
export const SERVER_CPU = 0;
export const LOAD_CPU = 1;
export const PINNED = cpus().length >= 2 && spawnSync('taskset', ['-p', String(process.pid)]).status === 0;

/**
 * Keeps every thread of process `pid` on one CPU. Left to the scheduler, a server and its load generator sometimes
 * shared a core: loopback writes then cost twice the CPU, and a round's figures doubled for no reason in the code.
 */
export function pin(pid: number | undefined, cpu: number): void {
  if (PINNED && pid !== undefined) spawnSync('taskset', ['-a', '-cp', String(cpu), String(pid)], { stdio: 'ignore' });
}

/** autocannon in a child process, so the load generator does not share the server's event loop. */
export function load(
  url: string,
  body: string,
  connections: number,
  seconds: number,
  options: { headers?: string[]; ratePerSecond?: number } = {},
): Promise<LoadResult> {
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
    pin(child.pid, LOAD_CPU);
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d));
    child.stderr.on('data', (d: Buffer) => (err += d));
    child.on('error', reject);
    child.on('exit', (code) => {
      if (code !== 0) return reject(new Error(`autocannon exited ${code}: ${err}`));
      const r = JSON.parse(out);
      resolve({
        rps: r.requests.average,
        p50: r.latency.p50,
        p99: r.latency.p99,
        non2xx: r.non2xx,
        errors: r.errors + r.timeouts,
        requests: r.requests.total,
      });
    });
  });
}

/**
 * The baseline: node:http doing the same work per request (parse JSON, check hex, one HMAC, constant-time compare).
 * `sameHeaders`: it also sends the headers secure-mode's answer carries (request id, no-store, nosniff, the client's
 * rate-limit budget), to tell what the code costs from what the answer's contract does.
 */
export function bareServer(appId: string, key: Buffer, sameHeaders = false): Server {
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
        ...(sameHeaders ? contractHeaders() : {}),
        'content-type': 'application/json; charset=utf-8',
        'content-length': Buffer.byteLength(payload),
      });
      res.end(payload);
    });
  });
}

function contractHeaders(): Record<string, string> {
  return {
    'x-request-id': randomUUID(),
    'cache-control': 'no-store',
    'x-content-type-options': 'nosniff',
    'x-ratelimit-limit': '2000',
    'x-ratelimit-remaining': '1999',
    'x-ratelimit-reset': String(Math.floor(Date.now() / 10_000) * 10 + 10),
  };
}

export function requestBody(appId: string, secret: string): string {
  const userId = 'bench-user-1234';
  return JSON.stringify({ app_id: appId, platform: 'web', user_id: userId, user_hash: userHash(secret, { user_id: userId }) });
}

/** A configuration of the real service to measure. */
export interface Variant {
  name: string;
  logLevel: string;
}

export type HttpFigures = Record<string, RoundResult[]>;

interface Contender {
  name: string;
  url: string;
  body: string;
  cpuUs(): Promise<number>;
  stop(): Promise<void>;
}

/** The name of the bare server that also sends secure-mode's answer headers. */
export const SAME_HEADERS = 'bare, same headers';

const SERVER = fileURLToPath(new URL('./http-server.ts', import.meta.url));

/** A contender in a child process (bench/http-server.ts), which reports its own CPU time. */
async function spawnContender(name: string, args: string[]): Promise<Contender> {
  const child = fork(SERVER, args, { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
  const exited = once(child, 'exit');
  const next = <T>(): Promise<T> =>
    new Promise((resolve, reject) => {
      const onExit = (code: number | null) => reject(new Error(`${name} exited with ${code}`));
      child.once('exit', onExit);
      child.once('message', (m) => {
        child.off('exit', onExit);
        resolve(m as T);
      });
    });
  const { url, body } = await next<{ url: string; body: string }>();
  pin(child.pid, SERVER_CPU);
  return {
    name,
    url,
    body,
    async cpuUs() {
      const reply = next<{ cpu: NodeJS.CpuUsage }>();
      child.send('cpu');
      const { cpu } = await reply;
      return cpu.user + cpu.system;
    },
    async stop() {
      child.send('stop');
      await exited;
    },
  };
}

/**
 * The real verify route (full app on SQLite) in each variant against the bare baseline, each server in a process of
 * its own and all loaded at once, round after round: whatever else the machine does during a round, every contender
 * meets it alike, so the per-round ratios cancel it (these machines' speed swings by a quarter from one second to the
 * next, and contenders measured one after the other drifted apart by more than the differences measured). CPU per
 * request is the server process's own CPU time over the requests it answered.
 */
export async function benchHttp(options: HttpOptions, variants: Variant[], log: (line: string) => void): Promise<HttpFigures> {
  const contenders: Contender[] = [];
  try {
    contenders.push(await spawnContender('bare', ['bare']));
    contenders.push(await spawnContender(SAME_HEADERS, ['bare', 'same-headers']));
    for (const v of variants) contenders.push(await spawnContender(v.name, ['secure-mode', v.logLevel]));
    const all = (seconds: number) => Promise.all(contenders.map((c) => load(c.url, c.body, options.connections, seconds)));
    for (const [i, warm] of (await all(options.warmupSeconds)).entries()) {
      if (warm.non2xx > 0 || warm.errors > 0)
        throw new Error(`${contenders[i]!.name} answered ${warm.non2xx} non-2xx and ${warm.errors} errors during warm-up`);
    }
    const figures: HttpFigures = Object.fromEntries(contenders.map((c) => [c.name, []]));
    const width = Math.max(...contenders.map((c) => c.name.length));
    for (let round = 0; round < options.rounds; round++) {
      const before = await Promise.all(contenders.map((c) => c.cpuUs()));
      const results = await all(options.seconds);
      const after = await Promise.all(contenders.map((c) => c.cpuUs()));
      for (const [i, c] of contenders.entries()) {
        const r = { ...results[i]!, cpuUsPerRequest: (after[i]! - before[i]!) / Math.max(1, results[i]!.requests) };
        figures[c.name]!.push(r);
        log(
          `   round ${round + 1}  ${c.name.padEnd(width)}  ${r.rps.toFixed(0).padStart(6)} req/s  p99 ${String(r.p99).padStart(4)} ms  ${r.cpuUsPerRequest.toFixed(1).padStart(5)} µs CPU/request  non-2xx ${r.non2xx}  errors ${r.errors}`,
        );
        // A round with rejected or failed requests measured something other than verification: no figure from it.
        if (r.non2xx > 0 || r.errors > 0)
          throw new Error(`${c.name} answered ${r.non2xx} non-2xx and ${r.errors} errors in round ${round + 1}`);
      }
    }
    return figures;
  } finally {
    for (const c of contenders) await c.stop();
  }
}
