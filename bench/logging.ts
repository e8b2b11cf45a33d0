/**
 * `npm run bench:logging`: what one JSON access-log line per request costs in throughput. The same server runs with
 * access logging on (SECURE_MODE_LOG_LEVEL=info, log to a file) and off (silent), alternately, under autocannon;
 * the figure is the ratio on/off of requests per second, medians over the rounds.
 * BENCH_SECONDS (default 5) per round, BENCH_ROUNDS (default 3), BENCH_PATH (default /healthz).
 */
import autocannon from 'autocannon';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startServer } from './server.js';

const SECONDS = Number(process.env.BENCH_SECONDS || 5);
const ROUNDS = Number(process.env.BENCH_ROUNDS || 3);
const PATH = process.env.BENCH_PATH || '/healthz';

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

async function round(level: string, dir: string): Promise<{ rps: number; p99: number; logBytes: number }> {
  const logFile = join(dir, `${level}.log`);
  const server = await startServer({ SECURE_MODE_DATABASE_URL: `sqlite:${join(dir, 'bench.db')}`, SECURE_MODE_LOG_LEVEL: level }, logFile);
  try {
    // Warm-up: JIT and connection set-up are not what is measured.
    await autocannon({ url: `${server.url}${PATH}`, connections: 20, duration: 1 });
    const result = await autocannon({ url: `${server.url}${PATH}`, connections: 50, duration: SECONDS });
    if (result.non2xx > 0 || result.errors > 0) throw new Error(`${result.non2xx} non-2xx and ${result.errors} errors`);
    return { rps: result.requests.average, p99: result.latency.p99, logBytes: statSync(logFile).size };
  } finally {
    await server.stop();
  }
}

const dir = mkdtempSync(join(tmpdir(), 'secure-mode-bench-'));
try {
  const on: number[] = [];
  const off: number[] = [];
  for (let i = 0; i < ROUNDS; i++) {
    const quiet = await round('silent', dir);
    const logged = await round('info', dir);
    off.push(quiet.rps);
    on.push(logged.rps);
    console.log(
      `round ${i + 1}: logging off ${quiet.rps.toFixed(0)} req/s (p99 ${quiet.p99} ms) | on ${logged.rps.toFixed(0)} req/s (p99 ${logged.p99} ms, ${logged.logBytes} log bytes)`,
    );
  }
  const ratio = median(on) / median(off);
  console.log(`GET ${PATH}, ${ROUNDS} rounds of ${SECONDS} s, 50 connections: access logging on/off throughput ratio ${ratio.toFixed(3)} (median ${median(on).toFixed(0)} vs ${median(off).toFixed(0)} req/s)`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
