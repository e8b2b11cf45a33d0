/**
 * `npm run soak`: a fixed number of mixed requests against a real server subprocess, then checks that
 *  - every answer was the one expected (no 5xx, no connection error, no wrong status),
 *  - memory stayed bounded after warm-up (heap and RSS of the last quarter against the second),
 *  - event-loop delay did not grow (p99 per window, read from /metrics),
 *  - the counters add up: the server's per-route request counts equal what was sent, and its audit log holds one
 *    event per acknowledged create and delete.
 * SOAK_REQUESTS (default 60000), SOAK_CONCURRENCY (default 16).
 */
import Database from 'better-sqlite3';
import { mkdtempSync, rmSync } from 'node:fs';
import { Agent, request as httpRequest } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startServer } from './server.js';

const TOTAL = Number(process.env.SOAK_REQUESTS || 60_000);
const CONCURRENCY = Number(process.env.SOAK_CONCURRENCY || 16);
const SAMPLES = 40;
const TOKEN = `soak-token-${'x'.repeat(24)}`;

interface Answer {
  status: number;
  text: string;
}

const agent = new Agent({ keepAlive: true, maxSockets: CONCURRENCY + 2 });

function send(url: string, method: string, path: string, options: { body?: string; token?: string } = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string | number> = { authorization: `Bearer ${options.token ?? TOKEN}` };
    if (options.body !== undefined) {
      headers['content-type'] = 'application/json';
      headers['content-length'] = Buffer.byteLength(options.body);
    }
    const req = httpRequest(`${url}${path}`, { method, agent, headers });
    req.on('response', (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (text += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
    });
    req.on('error', reject);
    req.end(options.body);
  });
}

/** A small seeded PRNG: the same mix of requests on every run. */
function prng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = Math.imul(s ^ (s >>> 15), 1 | s);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function metric(text: string, series: string): number {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? Number.NaN : Number(line.slice(series.length + 1));
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] ?? Number.NaN;
}

const dir = mkdtempSync(join(tmpdir(), 'secure-mode-soak-'));
const dbFile = join(dir, 'soak.db');
const server = await startServer(
  {
    SECURE_MODE_DATABASE_URL: `sqlite:${dbFile}`,
    SECURE_MODE_BOOTSTRAP_TOKEN: TOKEN,
    SECURE_MODE_RATE_LIMIT: '10000000',
    SECURE_MODE_MAX_LIVE_SECRETS: '100',
    SECURE_MODE_LOG_LEVEL: 'info',
  },
  join(dir, 'server.log'),
);
const url = server.url;

const sent = new Map<string, number>();
const problems: string[] = [];
let acknowledgedWrites = 0;
let issued = 0;
const samples: Array<{ at: number; heap: number; rss: number; lagP99: number }> = [];

async function check(kind: string, route: string, method: string, answer: Promise<Answer>, expected: number): Promise<Answer> {
  const key = `${method} ${route} ${expected}`;
  sent.set(key, (sent.get(key) ?? 0) + 1);
  const res = await answer.catch((err: Error) => ({ status: 0, text: err.message }));
  if (res.status !== expected && problems.length < 20) problems.push(`${kind}: expected ${expected}, got ${res.status} ${res.text.slice(0, 200)}`);
  return res;
}

async function worker(n: number): Promise<void> {
  const random = prng(n + 1);
  const mine: string[] = [];
  while (issued < TOTAL) {
    issued++;
    const r = random();
    if (r < 0.25) await check('list', '/secure_mode_secrets', 'GET', send(url, 'GET', '/secure_mode_secrets'), 200);
    else if (r < 0.4 && mine.length < 5) {
      const res = await check('create', '/secure_mode_secrets', 'POST', send(url, 'POST', '/secure_mode_secrets', { body: JSON.stringify({ name: `soak ${n}`, supports_web: true, supports_ios: random() < 0.5 }) }), 201);
      if (res.status === 201) {
        mine.push((JSON.parse(res.text) as { id: string }).id);
        acknowledgedWrites++;
      }
    } else if (r < 0.55 && mine.length > 0) {
      const id = mine.shift()!;
      const res = await check('delete', '/secure_mode_secrets/:id', 'DELETE', send(url, 'DELETE', `/secure_mode_secrets/${id}`), 204);
      if (res.status === 204) acknowledgedWrites++;
    } else if (r < 0.7 && mine.length > 0) {
      await check('get', '/secure_mode_secrets/:id', 'GET', send(url, 'GET', `/secure_mode_secrets/${mine[0]}`), 200);
    } else if (r < 0.8) {
      await check('unknown id', '/secure_mode_secrets/:id', 'GET', send(url, 'GET', `/secure_mode_secrets/${900_000_000 + Math.floor(random() * 1000)}`), 404);
    } else if (r < 0.9) {
      await check('bad token', '/secure_mode_secrets', 'GET', send(url, 'GET', '/secure_mode_secrets', { token: `smt_wrong_${'y'.repeat(30)}` }), 401);
    } else {
      await check('invalid body', '/secure_mode_secrets', 'POST', send(url, 'POST', '/secure_mode_secrets', { body: JSON.stringify({ name: '', supports_web: 'yes' }) }), 422);
    }
  }
}

async function sampler(done: () => boolean): Promise<void> {
  const every = Math.max(1, Math.floor(TOTAL / SAMPLES));
  let next = every;
  while (!done()) {
    if (issued >= next) {
      next += every;
      const text = (await send(url, 'GET', '/metrics')).text;
      samples.push({
        at: issued,
        heap: metric(text, 'nodejs_heap_size_used_bytes'),
        rss: metric(text, 'process_resident_memory_bytes'),
        lagP99: metric(text, 'nodejs_eventloop_lag_p99_seconds'),
      });
    }
    await new Promise((r) => setTimeout(r, 20));
  }
}

const started = Date.now();
let finished = false;
const sampling = sampler(() => finished);
await Promise.all(Array.from({ length: CONCURRENCY }, (_, i) => worker(i)));
finished = true;
await sampling;
const seconds = (Date.now() - started) / 1000;

// Counters: the server's own request counts per route and status must equal what was sent.
const metricsText = (await send(url, 'GET', '/metrics')).text;
for (const [key, count] of sent) {
  const [method, route, status] = key.split(' ');
  const counted = metric(metricsText, `secure_mode_http_request_duration_seconds_count{method="${method}",route="${route}",status="${status}"}`);
  if (counted !== count) problems.push(`${key}: sent ${count}, server counted ${counted}`);
}
const exitCode = await server.stop();
if (exitCode !== 0) problems.push(`server exited with ${exitCode}`);
const db = new Database(dbFile, { readonly: true });
const audited = (db.prepare("SELECT count(*) AS n FROM audit_events WHERE action IN ('secret.created', 'secret.deleted')").get() as { n: number }).n;
db.close();
if (audited !== acknowledgedWrites) problems.push(`${acknowledgedWrites} acknowledged writes, ${audited} audit events`);

// Bounds after warm-up: the first quarter of samples warms up; the last quarter is compared with the second.
const q = Math.floor(samples.length / 4);
const early = samples.slice(q, 2 * q);
const late = samples.slice(3 * q);
const heapGrowth = median(late.map((s) => s.heap)) / median(early.map((s) => s.heap));
const rssGrowth = median(late.map((s) => s.rss)) / median(early.map((s) => s.rss));
const lagEarly = median(early.map((s) => s.lagP99));
const lagLate = median(late.map((s) => s.lagP99));
if (!(heapGrowth < 1.5)) problems.push(`heap grew ×${heapGrowth.toFixed(2)} after warm-up`);
if (!(rssGrowth < 1.5)) problems.push(`RSS grew ×${rssGrowth.toFixed(2)} after warm-up`);
// Event-loop delay on a shared machine is noisy: "growing" means the late windows are well above the early ones.
if (!(lagLate <= lagEarly * 2 + 0.02)) problems.push(`event-loop p99 grew from ${(lagEarly * 1000).toFixed(1)} ms to ${(lagLate * 1000).toFixed(1)} ms`);

const mib = (b: number) => (b / 1024 / 1024).toFixed(1);
console.log(`soak: ${issued} requests (${[...sent.values()].reduce((a, b) => a + b, 0)} checked) in ${seconds.toFixed(1)} s = ${(issued / seconds).toFixed(0)} req/s, concurrency ${CONCURRENCY}`);
console.log(`  mix: ${[...sent].map(([k, v]) => `${k}: ${v}`).join(', ')}`);
console.log(`  acknowledged writes ${acknowledgedWrites}, audit events ${audited}; server request counts match what was sent: ${problems.every((p) => !p.includes('server counted'))}`);
console.log(`  heap after warm-up ${mib(median(early.map((s) => s.heap)))} → ${mib(median(late.map((s) => s.heap)))} MiB (×${heapGrowth.toFixed(2)}), RSS ${mib(median(early.map((s) => s.rss)))} → ${mib(median(late.map((s) => s.rss)))} MiB (×${rssGrowth.toFixed(2)})`);
console.log(`  event-loop delay p99 ${(lagEarly * 1000).toFixed(1)} → ${(lagLate * 1000).toFixed(1)} ms (${samples.length} samples)`);
rmSync(dir, { recursive: true, force: true });
agent.destroy();
if (problems.length > 0) {
  console.error(`soak FAILED:\n  ${problems.join('\n  ')}`);
  process.exit(1);
}
console.log('soak passed');
