/**
 * npm run bench:events — how long from a change's commit until its webhook reaches a healthy local receiver?
 *
 * One server (SQLite, in a child process) with one endpoint subscribed to secret.created, on a receiver in this
 * process. Each sample creates a secret and times from sending the create until the receiver has its event: an upper
 * bound on commit → receiver, since the commit happens inside the create. The baseline, interleaved round by round:
 * a bare HTTP POST of the same size from this process to the same receiver. The target: p99 under 500 ms.
 *
 * BENCH_EVENTS (default 100 per round), BENCH_ROUNDS (default 5).
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { api } from '../test/helpers/app.js';
import { spawnServer } from '../test/helpers/process.js';
import { WebhookReceiver } from '../test/helpers/webhook-receiver.js';
import { median, medianAndSpread, medianRatio } from './stats.js';

const events = Number(process.env.BENCH_EVENTS ?? 100);
const rounds = Number(process.env.BENCH_ROUNDS ?? 5);
const log = (line = '') => process.stdout.write(`${line}\n`);

function percentile(xs: number[], p: number): number {
  const sorted = [...xs].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

const receiver = new WebhookReceiver();
const url = await receiver.start();
const arrivals = new Map<string, number>();
receiver.answer = (r) => {
  const key = r.id.startsWith('bare-') ? r.id : String((JSON.parse(r.body) as { data: { secret_id: string } }).data.secret_id);
  arrivals.set(key, performance.now());
  return 204;
};
const dir = mkdtempSync(join(tmpdir(), 'secure-mode-bench-events-'));
const token = `tok_${randomBytes(16).toString('hex')}`;
const server = await spawnServer({
  SECURE_MODE_DATABASE_URL: `sqlite:${join(dir, 'db.sqlite')}`,
  SECURE_MODE_BOOTSTRAP_TOKEN: token,
  SECURE_MODE_WEBHOOK_ALLOW_PRIVATE: 'true',
  SECURE_MODE_MAX_LIVE_SECRETS: '100',
});
const target = { url: server.url, token };

const until = async (key: string): Promise<number> => {
  for (let i = 0; !arrivals.has(key); i++) {
    if (i > 20_000) throw new Error(`no arrival for ${key}`);
    await new Promise((r) => setImmediate(r));
  }
  return arrivals.get(key)!;
};

async function eventRound(n: number): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const sent = performance.now();
    const created = await api(target, 'POST', '/secure_mode_secrets', { body: { name: `bench ${i}`, supports_web: true } });
    if (created.status !== 201) throw new Error(`create answered ${created.status}`);
    out.push((await until(created.body.id as string)) - sent);
    await api(target, 'DELETE', `/secure_mode_secrets/${created.body.id}`);
  }
  return out;
}

async function bareRound(n: number): Promise<number[]> {
  const out: number[] = [];
  const body = JSON.stringify({
    type: 'secret.created',
    timestamp: new Date().toISOString(),
    data: { secret_id: '1', name: 'x' },
  });
  for (let i = 0; i < n; i++) {
    const key = `bare-${round++}`;
    const sent = performance.now();
    const res = await fetch(url, { method: 'POST', headers: { 'webhook-id': key, 'content-type': 'application/json' }, body });
    await res.arrayBuffer();
    out.push((await until(key)) - sent);
  }
  return out;
}
let round = 0;

try {
  log(
    `secure-mode bench:events — node ${process.version}, ${cpus().length} CPU(s), load average ${loadavg()
      .map((l) => l.toFixed(2))
      .join(' ')}`,
  );
  const made = await api(target, 'POST', '/webhook_endpoints', { body: { url, events: ['secret.created'] } });
  if (made.status !== 201) throw new Error(`endpoint create answered ${made.status}`);
  await eventRound(10);
  await bareRound(10);
  const ours = { p50: [] as number[], p99: [] as number[] };
  const bare = { p50: [] as number[], p99: [] as number[] };
  for (let r = 0; r < rounds; r++) {
    const [first, second] = r % 2 === 0 ? [eventRound, bareRound] : [bareRound, eventRound];
    const a = await first(events);
    const b = await second(events);
    const [e, p] = first === eventRound ? [a, b] : [b, a];
    ours.p50.push(percentile(e, 50));
    ours.p99.push(percentile(e, 99));
    bare.p50.push(percentile(p, 50));
    bare.p99.push(percentile(p, 99));
  }
  log();
  log(`${rounds} interleaved rounds of ${events} events each; median of the rounds ±half their spread`);
  log(`  ${'path'.padEnd(44)} ${'p50 ms'.padStart(14)} ${'p99 ms'.padStart(14)}`);
  log(
    `  ${'create → its webhook at the receiver'.padEnd(44)} ${medianAndSpread(ours.p50, 1).padStart(14)} ${medianAndSpread(ours.p99, 1).padStart(14)}`,
  );
  log(
    `  ${'bare HTTP POST → the same receiver'.padEnd(44)} ${medianAndSpread(bare.p50, 1).padStart(14)} ${medianAndSpread(bare.p99, 1).padStart(14)}`,
  );
  log(`  ratio (p99, per round): ${medianRatio(ours.p99, bare.p99).toFixed(1)}×`);
  const p99 = median(ours.p99);
  log(
    `  target: delivery p99 under 500 ms — ${p99 < 500 ? 'met' : 'NOT met'} (${p99.toFixed(1)} ms, including the create itself)`,
  );
} finally {
  await server.stop();
  await receiver.stop();
  rmSync(dir, { recursive: true, force: true });
}
