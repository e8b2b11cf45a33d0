import { cpus, loadavg } from 'node:os';
import { benchDiagnoseFlood } from './diagnose-flood.js';
import { LOAD_CPU, PINNED, SAME_HEADERS, benchHttp, pin, type RoundResult } from './http.js';
import { benchInProcess } from './inprocess.js';
import { benchLimits } from './limits.js';
import { benchOracle } from './oracle.js';
import { medianAndSpread, medianRatio } from './stats.js';

/**
 * `npm run bench`: every figure next to a baseline measured in the same run on the same machine, as a ratio; each
 * load figure the median of interleaved rounds with its spread. Absolute numbers depend on the machine and on
 * whatever else runs on it; the ratios are the result. About 2 minutes in all: the machines here are shared.
 */
const HTTP = { connections: 100, seconds: 2, warmupSeconds: 1, rounds: 7 };
const VARIANTS = [{ name: 'secure-mode', logLevel: 'info' }];
const FLOOD = { rounds: 5, seconds: 2, loops: 4 };
const MICRO = { iterations: 20_000, rounds: 15 };
const ORACLE_SAMPLES = 3000;

const log = (line = '') => process.stdout.write(`${line}\n`);
const ratio = (x: number) => x.toFixed(2);
const verdict = (ok: boolean) => (ok ? 'met' : 'NOT met');

log(
  `secure-mode bench — node ${process.version}, ${cpus().length} CPU(s) ${cpus()[0]?.model ?? ''}, load average ${loadavg()
    .map((l) => l.toFixed(2))
    .join(' ')}`,
);
log();
log(`1. POST /identity_verification/verify under load: each server in a process of its own, all loaded at once by`);
log(
  `   autocannon (${HTTP.connections} connections each), ${HTTP.rounds} rounds of ${HTTP.seconds} s after a ${HTTP.warmupSeconds} s warm-up${PINNED ? '; servers on CPU 0, load on CPU 1' : ''};`,
);
log(`   baseline: bare node:http doing the same HMAC check, and the same again sending secure-mode's answer headers`);
const http = await benchHttp(HTTP, VARIANTS, log);
const bare = http.bare!;
const sameHeaders = http[SAME_HEADERS]!;
const pick = (rs: RoundResult[], f: (r: RoundResult) => number) => rs.map(f);
log();
log(`   ${'server'.padEnd(18)} ${'req/s'.padStart(13)} ${'p99 ms'.padStart(11)} ${'CPU µs/req'.padStart(13)}`);
for (const [name, rs] of [
  ['bare node:http', bare],
  [SAME_HEADERS, sameHeaders],
  ...VARIANTS.map((v) => [v.name, http[v.name]!] as const),
] as const) {
  log(
    `   ${name.padEnd(18)} ${medianAndSpread(pick(rs, (r) => r.rps)).padStart(13)} ${medianAndSpread(pick(rs, (r) => r.p99)).padStart(11)} ${medianAndSpread(
      pick(rs, (r) => r.cpuUsPerRequest),
      1,
    ).padStart(13)}`,
  );
}
const GOALS = { throughput: 0.85, cpu: 1.15, p99: 1.3 };
for (const v of VARIANTS) {
  const ours = http[v.name]!;
  for (const [label, base] of [
    ['bare', bare],
    [SAME_HEADERS, sameHeaders],
  ] as const) {
    const of = (f: (r: RoundResult) => number) => medianRatio(pick(ours, f), pick(base, f));
    const t = of((r) => r.rps);
    const c = of((r) => r.cpuUsPerRequest);
    const p = of((r) => r.p99);
    log(
      `   ${v.name} / ${label}, median of per-round ratios: throughput ${ratio(t)} (goal >= ${GOALS.throughput}, ${verdict(t >= GOALS.throughput)}),`,
    );
    log(
      `     CPU per request ${ratio(c)} (goal <= ${GOALS.cpu}, ${verdict(c <= GOALS.cpu)}), p99 ${ratio(p)} (goal <= ${GOALS.p99}, ${verdict(p <= GOALS.p99)})`,
    );
  }
  const h = medianRatio(
    pick(sameHeaders, (r) => r.cpuUsPerRequest),
    pick(bare, (r) => r.cpuUsPerRequest),
  );
  log(`   the answer's headers alone cost bare ${ratio(h)}x its CPU per request`);
}

log();
log(`2. A diagnose flood against another workspace's verify: workspace A's read token floods diagnose (autocannon, 4`);
log(
  `   connections, the costliest body, 5 live + 10 deleted secrets) while ${FLOOD.loops} keep-alive clients verify for workspace B;`,
);
log(`   ${FLOOD.rounds} rounds of ${FLOOD.seconds} s flooded and quiet, alternating`);
for (const [label, ratePerSecond, goal] of [
  ['at 4 per second, twice the rate of the limit', 4, true],
  ['unpaced (as fast as answered: mostly the cost of authenticating and refusing)', undefined, false],
] as const) {
  const flood = await benchDiagnoseFlood({ ...FLOOD, ratePerSecond });
  const floodRatio = medianRatio(flood.floodedP50, flood.quietP50);
  log(`   flood ${label}:`);
  log(`     verify p50 quiet ${medianAndSpread(flood.quietP50, 3)} ms, flooded ${medianAndSpread(flood.floodedP50, 3)} ms`);
  log(
    `     flooded / quiet ${ratio(floodRatio)}${goal ? ` (goal < 1.5, ${verdict(floodRatio < 1.5)})` : ''}; ${flood.diagnosed} diagnoses done, ${flood.refused} refused (limit ${flood.limit} per 10 s)`,
  );
}

// The in-process sections on one CPU, every thread of this process: a migration mid-run is a round's figure lost.
pin(process.pid, LOAD_CPU);
log();
log(
  `3. In-process verification, ns per call (median of ${MICRO.rounds} interleaved runs of ${MICRO.iterations.toLocaleString('en')}; ratio: median of per-run ratios);`,
);
log('   baseline: raw createHmac + timingSafeEqual');
for (const f of await benchInProcess(MICRO.iterations, MICRO.rounds)) {
  const goal = f.label.startsWith('user_hash, 3') ? ` (goal <= 1.3, ${verdict(f.ratio <= 1.3)})` : '';
  const naive = f.naiveNs === undefined ? '' : `   (raw over every secret in turn: ${f.naiveNs.toFixed(0)} ns)`;
  log(
    `   ${f.label.padEnd(28)} verifier ${f.oursNs.toFixed(0).padStart(6)} ns   raw ${f.rawNs.toFixed(0).padStart(6)} ns   ratio ${ratio(f.ratio)}${goal}${naive}`,
  );
}

log();
log(
  `4. The verify limits per request, ns (median of ${MICRO.rounds} interleaved runs of ${MICRO.iterations.toLocaleString('en')}, 1,000 clients cycling)`,
);
const limits = benchLimits(MICRO.iterations, MICRO.rounds);
const added = limits.perClientNs - limits.appOnlyNs;
const addedProxy = limits.viaProxyNs - limits.appOnlyNs;
log(
  `   per-app_id limit alone ${limits.appOnlyNs.toFixed(0)} ns; with the per-client limit ${limits.perClientNs.toFixed(0)} ns; through a trusted proxy ${limits.viaProxyNs.toFixed(0)} ns`,
);
log(
  `   the per-client limit adds ${added.toFixed(0)} ns per request (goal <= 2000, ${verdict(added <= 2000)}); through a trusted proxy, reading X-Forwarded-For, ${addedProxy.toFixed(0)} ns`,
);

log();
log(
  `5. No oracle: the verifier timed call by call over ${ORACLE_SAMPLES.toLocaleString('en')} interleaved samples of each failure, in process`,
);
const oracle = await benchOracle(ORACLE_SAMPLES);
log(
  `   median ns: ${Object.entries(oracle.medianNs)
    .map(([k, v]) => `${k} ${v.toFixed(0)}`)
    .join(', ')}`,
);
for (const p of oracle.pairs) {
  log(
    `   ${p.a} vs ${p.b}: Kolmogorov–Smirnov D ${p.d.toFixed(3)}, critical ${p.critical.toFixed(3)} at α = 0.001: ${p.d > p.critical ? 'DETECTABLE difference' : 'indistinguishable'}`,
  );
}
log();
log(
  `The machine is shared (load average now ${loadavg()
    .map((l) => l.toFixed(2))
    .join(' ')}); compare ratios rather than absolute figures.`,
);
