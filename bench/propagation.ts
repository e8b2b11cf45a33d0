/**
 * npm run bench:propagation — how long after a DELETE does every other node reject the old secret?
 *
 * Three nodes on one fresh PostgreSQL database. Each cycle creates a secret on node 1, waits until nodes 2 and 3
 * verify it (so it is in their caches), deletes it on node 1, and from the DELETE's 204 polls nodes 2 and 3 until
 * each rejects it. Then the verify throughput of one process against SECURE_MODE_WORKERS=2, on the same database.
 *
 * BENCH_CYCLES (default 200), BENCH_SECONDS (default 5 per throughput run), BENCH_ROUNDS (default 3),
 * BENCH_CONNECTIONS (default 32).
 */
import { createRequire } from 'node:module';
import { cpus, loadavg } from 'node:os';
import { createSecret, deleteSecret, eventually, startNodes, userHash, verifyStatus } from '../test/helpers/nodes.js';
import { createTestDatabase } from '../test/helpers/postgres.js';
import { spawnServer } from '../test/helpers/process.js';

interface CannonResult {
  requests: { average: number };
  non2xx: number;
  errors: number;
}
type Cannon = (options: Record<string, unknown>) => Promise<CannonResult>;
const autocannon = createRequire(import.meta.url)('autocannon') as Cannon;

const cycles = Number(process.env.BENCH_CYCLES ?? 200);
const seconds = Number(process.env.BENCH_SECONDS ?? 5);
const connections = Number(process.env.BENCH_CONNECTIONS ?? 32);
const rounds = Number(process.env.BENCH_ROUNDS ?? 3);

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

function ms(n: number): string {
  return `${n.toFixed(1)} ms`;
}

/** Polls a node back to back until it rejects; returns the time of the first rejecting answer. */
async function firstRejection(url: string, appId: string, secret: string): Promise<number> {
  for (;;) {
    const status = await verify(url, appId, secret);
    if (status === 401) return performance.now();
    if (status !== 200) throw new Error(`${url} answered ${status}`);
  }
}

/** Keep-alive verification (the cluster spreading is not needed for single-process nodes). */
async function verify(url: string, appId: string, secret: string): Promise<number> {
  const res = await fetch(`${url}/identity_verification/verify`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ app_id: appId, platform: 'web', user_id: 'bench-user', user_hash: userHash(secret, 'bench-user') }),
  });
  await res.arrayBuffer();
  return res.status;
}

async function throughput(url: string, appId: string, secret: string, duration: number): Promise<CannonResult> {
  return autocannon({
    url: `${url}/identity_verification/verify`,
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ app_id: appId, platform: 'web', user_id: 'bench-user', user_hash: userHash(secret, 'bench-user') }),
    connections,
    duration,
  });
}

async function main(): Promise<void> {
  const db = await createTestDatabase();
  const nodes = await startNodes({ databaseUrl: db.url, count: 3 });
  try {
    const [n1, n2, n3] = nodes.urls as [string, string, string];
    // Figures from a busy machine mean little: say how busy it was.
    process.stdout.write(`load average at start: ${loadavg()[0]!.toFixed(1)} on ${cpus().length} cores\n`);
    process.stdout.write(
      `propagation: ${cycles} create/delete cycles, 3 nodes on PostgreSQL (default SECURE_MODE_OFFLINE_GRACE_MS, the bound if notifications stop)\n`,
    );
    const samples: number[] = [];
    const perNode: [number[], number[]] = [[], []];
    for (let i = 0; i < cycles; i++) {
      const { id, secret } = await createSecret(n1, nodes.token, `bench ${i}`);
      for (const url of [n2, n3])
        await eventually(async () => (await verify(url, nodes.appId, secret)) === 200, 'caching', 20_000, 1);
      await deleteSecret(n1, nodes.token, id);
      const deletedAt = performance.now();
      const delays = await Promise.all([n2, n3].map(async (url) => (await firstRejection(url, nodes.appId, secret)) - deletedAt));
      delays.forEach((d, n) => perNode[n]!.push(d));
      samples.push(...delays);
    }
    const sorted = [...samples].sort((a, b) => a - b);
    const summary = (xs: number[]) => {
      const s = [...xs].sort((a, b) => a - b);
      return `p50 ${ms(percentile(s, 50))}  p99 ${ms(percentile(s, 99))}  max ${ms(s.at(-1)!)}`;
    };
    process.stdout.write(`  node 2: ${summary(perNode[0])}\n  node 3: ${summary(perNode[1])}\n`);
    process.stdout.write(
      `DELETE 204 -> first rejection on the other nodes (${sorted.length} samples): ${summary(sorted)}  (goal p99 < 100 ms: ${percentile(sorted, 99) < 100 ? 'met' : 'NOT met'})\n`,
    );

    const { secret } = await createSecret(n1, nodes.token, 'throughput');
    await nodes.stop();
    process.stdout.write(
      `throughput: POST /identity_verification/verify, ${connections} connections, ${rounds} alternating rounds of ${seconds} s, median req/s\n`,
    );
    const servers = [
      await spawnServer({ ...nodes.env }, 60_000),
      await spawnServer({ ...nodes.env, SECURE_MODE_WORKERS: '2' }, 60_000),
    ];
    try {
      const rates: [number[], number[]] = [[], []];
      for (const server of servers) {
        await eventually(async () => (await verifyStatus(server.url, nodes.appId, secret)) === 200, 'warm cache');
        await throughput(server.url, nodes.appId, secret, 1);
      }
      // Alternating the two keeps a burst of other work on this shared machine from favouring one of them.
      for (let round = 0; round < rounds; round++) {
        for (const [i, server] of servers.entries()) {
          const r = await throughput(server.url, nodes.appId, secret, seconds);
          if (r.non2xx > 0 || r.errors > 0) throw new Error(`${r.non2xx} non-2xx answers and ${r.errors} errors under load`);
          rates[i]!.push(r.requests.average);
        }
      }
      const [one, two] = rates.map((xs) =>
        percentile(
          [...xs].sort((a, b) => a - b),
          50,
        ),
      ) as [number, number];
      process.stdout.write(`  1 process: ${Math.round(one)} req/s (rounds: ${rates[0].map(Math.round).join(', ')})\n`);
      process.stdout.write(`  2 workers: ${Math.round(two)} req/s (rounds: ${rates[1].map(Math.round).join(', ')})\n`);
      process.stdout.write(
        `  2 workers / 1 process: ${(two / one).toFixed(2)}x (the load generator shares this machine's ${cpus().length} cores)\n`,
      );
      process.stdout.write(`load average at end: ${loadavg()[0]!.toFixed(1)}\n`);
    } finally {
      for (const server of servers) await server.stop();
    }
  } finally {
    await nodes.stop();
    await db.drop();
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`bench:propagation failed: ${(err as Error)?.stack ?? String(err)}\n`);
  process.exit(1);
});
