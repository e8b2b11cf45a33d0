import { cpus, loadavg } from 'node:os';
import { benchHttp, type LoadResult } from './http.js';
import { benchInProcess } from './inprocess.js';

/**
 * `npm run bench`: every figure next to a baseline measured in the same run on the same machine, as a ratio.
 * Absolute numbers depend on the machine and on whatever else runs on it; the ratios are the result.
 */
const HTTP = { connections: 100, seconds: 4, warmupSeconds: 1, rounds: 2 };
/** As shipped (info: an access line per request, successful verifications summarised), and with no access log at all. */
const VARIANTS = [
  { name: 'secure-mode', logLevel: 'info' },
  { name: 'secure-mode, SECURE_MODE_LOG_LEVEL=warn', logLevel: 'warn' },
];
const MICRO = { iterations: 20_000, rounds: 15 };

const log = (line = '') => process.stdout.write(`${line}\n`);
const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
const ratio = (x: number) => x.toFixed(2);

function summary(results: LoadResult[]): { rps: number; p99: number; cpu: number } {
  return {
    rps: mean(results.map((r) => r.rps)),
    p99: mean(results.map((r) => r.p99)),
    cpu: mean(results.map((r) => r.cpuUsPerRequest)),
  };
}

log(
  `secure-mode bench — node ${process.version}, ${cpus().length} CPU(s) ${cpus()[0]?.model ?? ''}, load average ${loadavg()
    .map((l) => l.toFixed(2))
    .join(' ')}`,
);
log();
log(`1. POST /identity_verification/verify under load: autocannon in a child process, ${HTTP.connections} connections,`);
log(
  `   ${HTTP.rounds} rounds of ${HTTP.seconds} s per server after a ${HTTP.warmupSeconds} s warm-up, order rotating; baseline: bare node:http doing the same HMAC check`,
);
const http = await benchHttp(HTTP, VARIANTS, log);
const bare = summary(http.bare!);
log();
log(
  `   ${'server'.padEnd(40)} ${'req/s'.padStart(7)} ${'p99 ms'.padStart(7)} ${'CPU µs/req'.padStart(11)}   throughput ratio (goal >= 0.75)   p99 ratio (goal <= 1.5)`,
);
log(
  `   ${'bare node:http'.padEnd(40)} ${bare.rps.toFixed(0).padStart(7)} ${bare.p99.toFixed(1).padStart(7)} ${bare.cpu.toFixed(1).padStart(11)}`,
);
for (const v of VARIANTS) {
  const f = summary(http[v.name]!);
  log(
    `   ${v.name.padEnd(40)} ${f.rps.toFixed(0).padStart(7)} ${f.p99.toFixed(1).padStart(7)} ${f.cpu.toFixed(1).padStart(11)}   ${ratio(f.rps / bare.rps).padStart(16)}   ${ratio(f.p99 / bare.p99).padStart(22)}`,
  );
}
log();
log(
  `2. In-process verification, ns per call (best of ${MICRO.rounds} runs of ${MICRO.iterations.toLocaleString('en')}); baseline: raw createHmac + timingSafeEqual`,
);
for (const f of await benchInProcess(MICRO.iterations, MICRO.rounds)) {
  const naive = f.naiveNs === undefined ? '' : `   (raw over every secret in turn: ${f.naiveNs.toFixed(0)} ns)`;
  log(
    `   ${f.label.padEnd(28)} verifier ${f.oursNs.toFixed(0).padStart(6)} ns   raw ${f.rawNs.toFixed(0).padStart(6)} ns   ratio ${ratio(f.oursNs / f.rawNs)} (goal <= 1.5)${naive}`,
  );
}
log();
log('The machine is shared; run it twice and compare ratios rather than absolute figures.');
