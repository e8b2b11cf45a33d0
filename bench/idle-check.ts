/**
 * node --import tsx bench/idle-check.ts — what the cluster-wide idle check costs a guarded DELETE, and its bound.
 *
 * Three nodes on one fresh PostgreSQL database, usage flushed only every 60 s, so every answer comes from the ask
 * round. A secret verified on node B; on node A, interleaved: `DELETE …?if_idle_for=600` (node A knows nothing
 * itself, so it asks B and C, gets B's unflushed time and answers 409) and, as the baseline, `GET` of the same
 * secret (the same auth, one database read). Then node C is frozen (SIGSTOP) and the time to the 503 for a secret
 * nobody verified is measured.
 *
 * BENCH_SAMPLES (default 200 of each), BENCH_ROUNDS (default 5 interleaved rounds).
 */
import { loadavg, cpus } from 'node:os';
import { api } from '../test/helpers/app.js';
import { createSecret, eventually, startNodes, verifyStatus } from '../test/helpers/nodes.js';
import { createTestDatabase } from '../test/helpers/postgres.js';

const samples = Number(process.env.BENCH_SAMPLES ?? 200);
const rounds = Number(process.env.BENCH_ROUNDS ?? 5);
const TIMEOUT_MS = 1000;

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

function summary(values: number[]): string {
  const sorted = [...values].sort((a, b) => a - b);
  return `p50 ${percentile(sorted, 50).toFixed(1)} ms  p99 ${percentile(sorted, 99).toFixed(1)} ms  max ${sorted.at(-1)!.toFixed(1)} ms`;
}

async function timed(work: () => Promise<number>, expected: number): Promise<number> {
  const start = performance.now();
  const status = await work();
  const elapsed = performance.now() - start;
  if (status !== expected) throw new Error(`expected ${expected}, got ${status}`);
  return elapsed;
}

const db = await createTestDatabase();
const nodes = await startNodes({
  databaseUrl: db.url,
  count: 3,
  env: { SECURE_MODE_USAGE_FLUSH_MS: '60000', SECURE_MODE_IDLE_CHECK_TIMEOUT_MS: String(TIMEOUT_MS) },
});
try {
  const [a, b] = nodes.urls as [string, string, string];
  console.log(`load average at start: ${loadavg()[0]!.toFixed(1)} on ${cpus().length} cores`);
  const { id, secret } = await createSecret(a, nodes.token);
  await eventually(async () => (await verifyStatus(b, nodes.appId, secret)) === 200, 'node B verifying');
  const guarded = () =>
    api({ url: a, token: nodes.token }, 'DELETE', `/secure_mode_secrets/${id}?if_idle_for=600`).then((r) => r.status);
  const get = () => api({ url: a, token: nodes.token }, 'GET', `/secure_mode_secrets/${id}`).then((r) => r.status);
  for (let i = 0; i < 20; i++) await Promise.all([timed(guarded, 409), timed(get, 200)]);

  const guardedMs: number[] = [];
  const getMs: number[] = [];
  const ratios: number[] = [];
  const perRound = Math.ceil(samples / rounds);
  for (let r = 0; r < rounds; r++) {
    const g: number[] = [];
    const base: number[] = [];
    for (let i = 0; i < perRound; i++) {
      g.push(await timed(guarded, 409));
      base.push(await timed(get, 200));
    }
    const median = (v: number[]) =>
      percentile(
        [...v].sort((x, y) => x - y),
        50,
      );
    ratios.push(median(g) / median(base));
    guardedMs.push(...g);
    getMs.push(...base);
  }
  ratios.sort((x, y) => x - y);
  console.log(`3 nodes on PostgreSQL, ${perRound * rounds} samples of each in ${rounds} interleaved rounds`);
  console.log(`  guarded DELETE, 409 from node B's unflushed count: ${summary(guardedMs)}`);
  console.log(`  GET of the same secret (baseline):                 ${summary(getMs)}`);
  console.log(
    `  ratio of medians: ${ratios[Math.floor(ratios.length / 2)]!.toFixed(2)}x (rounds ${ratios.map((x) => x.toFixed(2)).join(', ')})`,
  );

  // A secret nobody verified: only node C's silence stands between it and a 204.
  const idle = await createSecret(a, nodes.token, 'idle');
  const guardedIdle = () =>
    api({ url: a, token: nodes.token }, 'DELETE', `/secure_mode_secrets/${idle.id}?if_idle_for=600`).then((r) => r.status);
  const frozen = nodes.servers[2]!.proc;
  frozen.kill('SIGSTOP');
  try {
    const refusals: number[] = [];
    for (let i = 0; i < 5; i++) refusals.push(await timed(guardedIdle, 503));
    console.log(`  node C frozen (SIGSTOP), SECURE_MODE_IDLE_CHECK_TIMEOUT_MS=${TIMEOUT_MS}: 503 after ${summary(refusals)}`);
  } finally {
    frozen.kill('SIGCONT');
  }
} finally {
  await nodes.stop();
  await db.drop();
}
