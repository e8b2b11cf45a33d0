/**
 * `npm run soak`: a fixed number of mixed requests against a real server subprocess — half public verification
 * (valid user_hash and JWT on every platform a secret supports, and wrong hashes, unknown app_ids, forged and expired
 * JWTs, malformed bodies), half admin (list, create, get, delete, and their failures) — then checks that
 *  - every answer was the one expected (no 5xx, no connection error, no wrong status or error code),
 *  - memory stayed bounded after warm-up (heap and RSS of the last quarter against the second),
 *  - event-loop delay did not grow (p99 per window, read from /metrics),
 *  - the counters add up: the server's per-route request counts and its verification outcome counters equal what
 *    was sent; its audit log holds one event per acknowledged create and delete; and after a graceful stop and a
 *    restart on the same database, each verify secret's stored usage per platform equals the successful
 *    verifications sent with it.
 * SOAK_REQUESTS (default 100000), SOAK_CONCURRENCY (default 16), SOAK_VERIFY_SHARE (default 0.5).
 */
import Database from 'better-sqlite3';
import { mkdtempSync, rmSync } from 'node:fs';
import { Agent, request as httpRequest } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { userHash, userJwt } from '../packages/sign/src/index.js';
import { type BenchServer, startServer } from './server.js';

const TOTAL = Number(process.env.SOAK_REQUESTS || 100_000);
const CONCURRENCY = Number(process.env.SOAK_CONCURRENCY || 16);
const VERIFY_SHARE = Number(process.env.SOAK_VERIFY_SHARE ?? 0.5);
const SAMPLES = 40;
const TOKEN = `soak-token-${'x'.repeat(24)}`;
const VERIFY_PATH = '/identity_verification/verify';

type Platform = 'web' | 'ios' | 'android';

interface Answer {
  status: number;
  text: string;
}

const agent = new Agent({ keepAlive: true, maxSockets: CONCURRENCY + 2 });

/** `token: null` sends no Authorization header, as a Messenger calling the public verify route does. */
function send(
  url: string,
  method: string,
  path: string,
  options: { body?: string; token?: string | null } = {},
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string | number> = {};
    const token = options.token === undefined ? TOKEN : options.token;
    if (token !== null) headers.authorization = `Bearer ${token}`;
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

function pick<T>(random: () => number, xs: readonly T[]): T {
  return xs[Math.floor(random() * xs.length)]!;
}

function metric(text: string, series: string): number {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? Number.NaN : Number(line.slice(series.length + 1));
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] ?? Number.NaN;
}

function increment(map: Map<string, number>, key: string): void {
  map.set(key, (map.get(key) ?? 0) + 1);
}

const dir = mkdtempSync(join(tmpdir(), 'secure-mode-soak-'));
const dbFile = join(dir, 'soak.db');
const serverEnv = {
  SECURE_MODE_DATABASE_URL: `sqlite:${dbFile}`,
  SECURE_MODE_BOOTSTRAP_TOKEN: TOKEN,
  SECURE_MODE_RATE_LIMIT: '10000000',
  SECURE_MODE_VERIFY_RATE_LIMIT: '10000000',
  // 16 clients hold up to 5 secrets each, beside the verify secrets.
  SECURE_MODE_MAX_LIVE_SECRETS: '100',
  SECURE_MODE_LOG_LEVEL: 'info',
};
let server: BenchServer = await startServer(serverEnv, join(dir, 'server.log'));
const url = server.url;
const appId = /with app_id (\S+)/.exec(server.stderr())?.[1];
if (!appId) throw new Error(`the server did not announce its app_id:\n${server.stderr()}`);

const sent = new Map<string, number>();
/** Verification outcomes sent, keyed as the /metrics series labels: outcome, method, platform, reason. */
const outcomesSent = new Map<string, number>();
/** Successful verifications sent, by verify secret id and platform. */
const usageSent = new Map<string, number>();
const problems: string[] = [];
let acknowledgedWrites = 0;
let issued = 0;
const samples: Array<{ at: number; heap: number; rss: number; lagP99: number }> = [];

async function check(
  kind: string,
  route: string,
  method: string,
  answer: Promise<Answer>,
  expected: number,
  code?: string,
): Promise<Answer> {
  increment(sent, `${method} ${route} ${expected}`);
  const res = await answer.catch((err: Error) => ({ status: 0, text: err.message }));
  const wrongCode = code !== undefined && !res.text.includes(`"code":"${code}"`);
  if ((res.status !== expected || wrongCode) && problems.length < 20) {
    problems.push(`${kind}: expected ${expected}${code ? ` ${code}` : ''}, got ${res.status} ${res.text.slice(0, 200)}`);
  }
  return res;
}

// Verify secrets: created before the traffic, never deleted by it, so every valid credential stays valid throughout.
interface VerifySecret {
  id: string;
  platforms: Platform[];
  /** Per platform, precomputed credentials: signing is the customer's cost, not what the soak measures. */
  hashes: Array<{ user_id?: string; email?: string; user_hash: string }>;
  jwts: string[];
  expiredJwts: string[];
}
const USERS = 64;
const verifySecrets: VerifySecret[] = [];
for (const [name, platforms] of [
  ['soak verify all platforms', ['web', 'ios', 'android']],
  ['soak verify web', ['web']],
  ['soak verify mobile', ['ios', 'android']],
] as Array<[string, Platform[]]>) {
  const flags = Object.fromEntries(platforms.map((p) => [`supports_${p}`, true]));
  const res = await check(
    'create verify secret',
    '/secure_mode_secrets',
    'POST',
    send(url, 'POST', '/secure_mode_secrets', { body: JSON.stringify({ name, ...flags }) }),
    201,
  );
  if (res.status !== 201) throw new Error(`could not create a verify secret: ${res.status} ${res.text}`);
  acknowledgedWrites++;
  const { id, secret } = JSON.parse(res.text) as { id: string; secret: string };
  const now = Math.floor(Date.now() / 1000);
  const users = Array.from({ length: USERS }, (_, i) => `soak-user-${id}-${i}`);
  verifySecrets.push({
    id,
    platforms,
    hashes: users.map((u, i) =>
      i % 4 === 0
        ? { email: `${u}@example.com`, user_hash: userHash(secret, { email: `${u}@example.com` }) }
        : { user_id: u, user_hash: userHash(secret, { user_id: u }) },
    ),
    jwts: users.map((u) => userJwt(secret, { user_id: u }, { expiresIn: '6h' })),
    expiredJwts: users.slice(0, 8).map((u) => userJwt(secret, { user_id: u }, { now: now - 7200, expiresIn: 600 })),
  });
}
const FORGED_KEY = `not-a-secret-of-this-workspace-${'z'.repeat(12)}`;
const forgedJwts = Array.from({ length: 8 }, (_, i) => userJwt(FORGED_KEY, { user_id: `soak-forged-${i}` }));

function verify(body: unknown): Promise<Answer> {
  return send(url, 'POST', VERIFY_PATH, { body: typeof body === 'string' ? body : JSON.stringify(body), token: null });
}

async function verifyTraffic(random: () => number): Promise<void> {
  const r = random();
  const secret = pick(random, verifySecrets);
  const platform = pick(random, secret.platforms);
  const failure = (method: string, reason: string) => increment(outcomesSent, `failure|${method}|${platform}|${reason}`);
  if (r < 0.35) {
    const res = await check(
      'verify user_hash',
      VERIFY_PATH,
      'POST',
      verify({ app_id: appId, platform, ...pick(random, secret.hashes) }),
      200,
    );
    if (res.status === 200) {
      increment(outcomesSent, `success|user_hash|${platform}|`);
      increment(usageSent, `${secret.id}|${platform}`);
    }
  } else if (r < 0.6) {
    const res = await check(
      'verify jwt',
      VERIFY_PATH,
      'POST',
      verify({ app_id: appId, platform, intercom_user_jwt: pick(random, secret.jwts) }),
      200,
    );
    if (res.status === 200) {
      increment(outcomesSent, `success|jwt|${platform}|`);
      increment(usageSent, `${secret.id}|${platform}`);
    }
  } else if (r < 0.7) {
    // A real hash, but of another user: well-formed, signed with a live secret, and still wrong.
    const hash = pick(random, secret.hashes);
    await check(
      'wrong user_hash',
      VERIFY_PATH,
      'POST',
      verify({ app_id: appId, platform, user_id: 'soak-someone-else', user_hash: hash.user_hash }),
      401,
      'hmac_mismatch',
    );
    failure('user_hash', 'mismatch');
  } else if (r < 0.77) {
    const hash = pick(random, secret.hashes);
    await check(
      'unknown app_id',
      VERIFY_PATH,
      'POST',
      verify({ ...hash, app_id: `soak_unknown_${Math.floor(random() * 50)}`, platform }),
      401,
      'hmac_mismatch',
    );
    failure('user_hash', 'unknown_app');
  } else if (r < 0.83) {
    await check(
      'forged jwt',
      VERIFY_PATH,
      'POST',
      verify({ app_id: appId, platform, intercom_user_jwt: pick(random, forgedJwts) }),
      401,
      'jwt_invalid',
    );
    failure('jwt', 'mismatch');
  } else if (r < 0.88) {
    await check(
      'expired jwt',
      VERIFY_PATH,
      'POST',
      verify({ app_id: appId, platform, intercom_user_jwt: pick(random, secret.expiredJwts) }),
      401,
      'jwt_invalid',
    );
    failure('jwt', 'jwt_expired');
  } else if (r < 0.92) {
    await check(
      'malformed user_hash',
      VERIFY_PATH,
      'POST',
      verify({ app_id: appId, platform, user_id: 'soak-u', user_hash: 'not-hex' }),
      401,
      'hmac_mismatch',
    );
    failure('user_hash', 'malformed');
  } else if (r < 0.96) {
    // Rejected by validation before any check: no verification outcome is counted for these.
    const body = pick(random, [
      { app_id: appId, platform: 'desktop', user_id: 'u', user_hash: 'ab' },
      { app_id: appId, platform },
      { platform, user_id: 'u', user_hash: 'ab' },
    ]);
    await check('invalid verify body', VERIFY_PATH, 'POST', verify(body), 422, 'parameter_invalid');
  } else {
    await check('verify body not JSON', VERIFY_PATH, 'POST', verify('{"app_id": '), 400, 'parameter_invalid');
  }
}

async function adminTraffic(random: () => number, n: number, mine: string[]): Promise<void> {
  const r = random();
  if (r < 0.25) await check('list', '/secure_mode_secrets', 'GET', send(url, 'GET', '/secure_mode_secrets'), 200);
  else if (r < 0.4 && mine.length < 5) {
    const res = await check(
      'create',
      '/secure_mode_secrets',
      'POST',
      send(url, 'POST', '/secure_mode_secrets', {
        body: JSON.stringify({ name: `soak ${n}`, supports_web: true, supports_ios: random() < 0.5 }),
      }),
      201,
    );
    if (res.status === 201) {
      mine.push((JSON.parse(res.text) as { id: string }).id);
      acknowledgedWrites++;
    }
  } else if (r < 0.55 && mine.length > 0) {
    const id = mine.shift()!;
    const res = await check(
      'delete',
      '/secure_mode_secrets/:id',
      'DELETE',
      send(url, 'DELETE', `/secure_mode_secrets/${id}`),
      204,
    );
    if (res.status === 204) acknowledgedWrites++;
  } else if (r < 0.7 && mine.length > 0) {
    await check('get', '/secure_mode_secrets/:id', 'GET', send(url, 'GET', `/secure_mode_secrets/${mine[0]}`), 200);
  } else if (r < 0.8) {
    await check(
      'unknown id',
      '/secure_mode_secrets/:id',
      'GET',
      send(url, 'GET', `/secure_mode_secrets/${900_000_000 + Math.floor(random() * 1000)}`),
      404,
    );
  } else if (r < 0.9) {
    await check(
      'bad token',
      '/secure_mode_secrets',
      'GET',
      send(url, 'GET', '/secure_mode_secrets', { token: `smt_wrong_${'y'.repeat(30)}` }),
      401,
    );
  } else {
    await check(
      'invalid body',
      '/secure_mode_secrets',
      'POST',
      send(url, 'POST', '/secure_mode_secrets', { body: JSON.stringify({ name: '', supports_web: 'yes' }) }),
      422,
    );
  }
}

async function worker(n: number): Promise<void> {
  const random = prng(n + 1);
  const mine: string[] = [];
  while (issued < TOTAL) {
    issued++;
    if (random() < VERIFY_SHARE) await verifyTraffic(random);
    else await adminTraffic(random, n, mine);
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
  const counted = metric(
    metricsText,
    `secure_mode_http_request_duration_seconds_count{method="${method}",route="${route}",status="${status}"}`,
  );
  if (counted !== count) problems.push(`${key}: sent ${count}, server counted ${counted}`);
}
// Verification outcomes: every series the server reports was sent in exactly that number, and nothing else.
const outcomesCounted = new Map<string, number>();
for (const line of metricsText.split('\n')) {
  const m =
    /^secure_mode_verifications_total\{outcome="([^"]*)",method="([^"]*)",platform="([^"]*)",reason="([^"]*)"\} (\S+)$/.exec(
      line,
    );
  if (m && Number(m[5]) !== 0) outcomesCounted.set(`${m[1]}|${m[2]}|${m[3]}|${m[4]}`, Number(m[5]));
}
for (const key of new Set([...outcomesSent.keys(), ...outcomesCounted.keys()])) {
  if (outcomesSent.get(key) !== outcomesCounted.get(key))
    problems.push(`verification ${key}: sent ${outcomesSent.get(key) ?? 0}, server counted ${outcomesCounted.get(key) ?? 0}`);
}

const exitCode = await server.stop();
if (exitCode !== 0) problems.push(`server exited with ${exitCode}`);
const db = new Database(dbFile, { readonly: true });
const audited = (
  db.prepare("SELECT count(*) AS n FROM audit_events WHERE action IN ('secret.created', 'secret.deleted')").get() as { n: number }
).n;
db.close();
if (audited !== acknowledgedWrites) problems.push(`${acknowledgedWrites} acknowledged writes, ${audited} audit events`);

// Usage: the graceful stop flushed every count; a fresh process has nothing pending, so it reads only what was stored.
server = await startServer(serverEnv, join(dir, 'server.log'));
const usageStored: string[] = [];
for (const secret of verifySecrets) {
  const res = await send(server.url, 'GET', `/secure_mode_secrets/${secret.id}`);
  const usage = (JSON.parse(res.text) as { usage?: { last_day: Record<Platform, number> } }).usage;
  for (const platform of ['web', 'ios', 'android'] as const) {
    const expected = usageSent.get(`${secret.id}|${platform}`) ?? 0;
    const stored = usage?.last_day[platform];
    if (stored !== expected)
      problems.push(`usage of secret ${secret.id} on ${platform}: sent ${expected} successful verifications, stored ${stored}`);
    if (expected > 0) usageStored.push(`${secret.id}/${platform} ${stored}`);
  }
}
const restartExit = await server.stop();
if (restartExit !== 0) problems.push(`restarted server exited with ${restartExit}`);

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
if (!(lagLate <= lagEarly * 2 + 0.02))
  problems.push(`event-loop p99 grew from ${(lagEarly * 1000).toFixed(1)} ms to ${(lagLate * 1000).toFixed(1)} ms`);

const mib = (b: number) => (b / 1024 / 1024).toFixed(1);
const sum = (m: Map<string, number>) => [...m.values()].reduce((a, b) => a + b, 0);
const verifySent = [...sent].filter(([k]) => k.includes(VERIFY_PATH)).reduce((a, [, v]) => a + v, 0);
const successes = [...outcomesSent].filter(([k]) => k.startsWith('success')).reduce((a, [, v]) => a + v, 0);
console.log(
  `soak: ${issued} requests (${sum(sent)} checked) in ${seconds.toFixed(1)} s = ${(issued / seconds).toFixed(0)} req/s, concurrency ${CONCURRENCY}`,
);
console.log(`  mix: ${[...sent].map(([k, v]) => `${k}: ${v}`).join(', ')}`);
console.log(
  `  verification: ${verifySent} requests, ${successes} verified, ${sum(outcomesSent) - successes} failed checks, ${verifySent - sum(outcomesSent)} rejected bodies`,
);
console.log(
  `  outcomes: ${[...outcomesSent]
    .sort()
    .map(([k, v]) => `${k}: ${v}`)
    .join(', ')}`,
);
console.log(
  `  server outcome counters match what was sent: ${problems.every((p) => !p.startsWith('verification '))}; stored usage after SIGTERM and restart matches per secret and platform: ${problems.every((p) => !p.startsWith('usage '))} (${usageStored.join(', ')})`,
);
console.log(
  `  acknowledged writes ${acknowledgedWrites}, audit events ${audited}; server request counts match what was sent: ${problems.every((p) => !p.includes('server counted') || p.startsWith('verification '))}`,
);
console.log(
  `  heap after warm-up ${mib(median(early.map((s) => s.heap)))} → ${mib(median(late.map((s) => s.heap)))} MiB (×${heapGrowth.toFixed(2)}), RSS ${mib(median(early.map((s) => s.rss)))} → ${mib(median(late.map((s) => s.rss)))} MiB (×${rssGrowth.toFixed(2)})`,
);
console.log(
  `  event-loop delay p99 ${(lagEarly * 1000).toFixed(1)} → ${(lagLate * 1000).toFixed(1)} ms (${samples.length} samples)`,
);
rmSync(dir, { recursive: true, force: true });
agent.destroy();
if (problems.length > 0) {
  console.error(`soak FAILED:\n  ${problems.join('\n  ')}`);
  process.exit(1);
}
console.log('soak passed');
