/**
 * `npm run bench:logging`: what one JSON access-log line per request costs in throughput. The same server runs with
 * access logging on (SECURE_MODE_LOG_LEVEL=info, log to a file) and off (silent), alternately, under autocannon;
 * the figures are the medians over the rounds of each round's on/off ratio of requests per second and of the server's
 * CPU time per request (process_cpu_seconds_total from /metrics).
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

async function cpuSeconds(url: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  return Number(/^process_cpu_seconds_total (\S+)$/m.exec(text)?.[1]);
}

async function round(level: string, dir: string): Promise<{ rps: number; p99: number; logBytes: number; cpuUs: number }> {
  const logFile = join(dir, `${level}.log`);
  const server = await startServer(
    { SECURE_MODE_DATABASE_URL: `sqlite:${join(dir, 'bench.db')}`, SECURE_MODE_LOG_LEVEL: level },
    logFile,
  );
  try {
    // Warm-up: JIT and connection set-up are not what is measured.
    await autocannon({ url: `${server.url}${PATH}`, connections: 20, duration: 1 });
    const cpuBefore = await cpuSeconds(server.url);
    const result = await autocannon({ url: `${server.url}${PATH}`, connections: 50, duration: SECONDS });
    const cpu = (await cpuSeconds(server.url)) - cpuBefore;
    if (result.non2xx > 0 || result.errors > 0) throw new Error(`${result.non2xx} non-2xx and ${result.errors} errors`);
    return {
      rps: result.requests.average,
      p99: result.latency.p99,
      logBytes: statSync(logFile).size,
      cpuUs: (cpu * 1e6) / result.requests.total,
    };
  } finally {
    await server.stop();
  }
}

const dir = mkdtempSync(join(tmpdir(), 'secure-mode-bench-'));
try {
  const on: number[] = [];
  const off: number[] = [];
  const ratios: number[] = [];
  const cpuRatios: number[] = [];
  for (let i = 0; i < ROUNDS; i++) {
    const quiet = await round('silent', dir);
    const logged = await round('info', dir);
    off.push(quiet.rps);
    on.push(logged.rps);
    ratios.push(logged.rps / quiet.rps);
    cpuRatios.push(logged.cpuUs / quiet.cpuUs);
    console.log(
      `round ${i + 1}: logging off ${quiet.rps.toFixed(0)} req/s, ${quiet.cpuUs.toFixed(1)} µs CPU/req | ` +
        `on ${logged.rps.toFixed(0)} req/s, ${logged.cpuUs.toFixed(1)} µs CPU/req (${logged.logBytes} log bytes)`,
    );
  }
  // Each round's pair runs back to back, so its ratio is less exposed to the machine's drift than the raw rates.
  console.log(
    `GET ${PATH}, ${ROUNDS} rounds of ${SECONDS} s, 50 connections: access logging on/off throughput ratio ${median(ratios).toFixed(3)} ` +
      `(median of rounds ${ratios.map((r) => r.toFixed(2)).join(', ')}; median ${median(on).toFixed(0)} vs ${median(off).toFixed(0)} req/s)`,
  );
  // Server CPU per request barely depends on what else the machine runs: the steadier figure on a shared host.
  console.log(
    `server CPU per request, logging on/off: ${median(cpuRatios).toFixed(3)} (median of rounds ${cpuRatios.map((r) => r.toFixed(2)).join(', ')})`,
  );
} finally {
  rmSync(dir, { recursive: true, force: true });
}
