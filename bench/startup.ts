import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * `npm run bench:startup`: how long the compiled server takes from exec to listening, and `secure-mode --help` from
 * exec to exit, each next to a bare `node -e` start measured in the same interleaved rounds (median and spread).
 * Run `npm run build` first: this measures dist/, what production runs.
 */
const ROUNDS = Number(process.env.ROUNDS ?? 9);
const ROOT = fileURLToPath(new URL('../', import.meta.url));
const log = (line = '') => process.stdout.write(`${line}\n`);

/** Milliseconds from spawn until `done(output)` holds (or the process exits, when no predicate is given). */
function time(args: string[], env: NodeJS.ProcessEnv, done?: (output: string) => boolean): Promise<number> {
  return new Promise((resolve, reject) => {
    const started = process.hrtime.bigint();
    const elapsed = () => Number(process.hrtime.bigint() - started) / 1e6;
    const proc = spawn(process.execPath, args, { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let measured: number | undefined;
    const onData = (d: Buffer) => {
      out += d.toString();
      if (measured === undefined && done?.(out)) {
        measured = elapsed();
        proc.kill('SIGTERM');
      }
    };
    proc.stdout.on('data', onData);
    proc.stderr.on('data', onData);
    proc.on('exit', (code) => {
      if (done)
        return measured === undefined ? reject(new Error(`exited with ${code} before it was ready:\n${out}`)) : resolve(measured);
      return code === 0 ? resolve(elapsed()) : reject(new Error(`exited with ${code}:\n${out}`));
    });
  });
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
};
const spread = (xs: number[]) => `${Math.min(...xs).toFixed(0)}–${Math.max(...xs).toFixed(0)}`;

const dir = mkdtempSync(join(tmpdir(), 'secure-mode-bench-startup-'));
const serverEnv = {
  ...process.env,
  HOST: '127.0.0.1',
  PORT: '0',
  SECURE_MODE_LOG_LEVEL: 'warn',
  SECURE_MODE_DATABASE_URL: `sqlite:${join(dir, 'secure-mode.db')}`,
  SECURE_MODE_BOOTSTRAP_TOKEN: `smt_bench_startup_${'b'.repeat(24)}`,
};
const listening = (out: string) => /listening on/.test(out);
const samples = { bare: [] as number[], server: [] as number[], help: [] as number[] };
try {
  log(
    `secure-mode startup — node ${process.version}, ${cpus().length} CPU(s), load average ${loadavg()
      .map((l) => l.toFixed(2))
      .join(' ')}`,
  );
  log(
    `${ROUNDS} interleaved rounds; the server restarts on an existing SQLite database (the first start, which creates it, is not counted)`,
  );
  await time(['dist/server.js'], serverEnv, listening);
  for (let round = 0; round < ROUNDS; round++) {
    samples.bare.push(await time(['-e', '0'], process.env));
    samples.server.push(await time(['dist/server.js'], serverEnv, listening));
    samples.help.push(await time(['bin/secure-mode.js', '--help'], process.env));
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}

const bare = median(samples.bare);
log();
log(`${'what'.padEnd(44)} ${'median ms'.padStart(9)} ${'min–max'.padStart(10)}  ratio to bare  goal`);
log(`${'bare `node -e 0` (exec to exit)'.padEnd(44)} ${bare.toFixed(0).padStart(9)} ${spread(samples.bare).padStart(10)}`);
const rows: [string, number[], number, number][] = [
  ['node dist/server.js (exec to listening)', samples.server, 1000, 8],
  ['secure-mode --help (exec to exit)', samples.help, 400, 4],
];
for (const [what, xs, goalMs, goalRatio] of rows) {
  const m = median(xs);
  const met = m <= goalMs && m / bare <= goalRatio ? 'met' : 'MISSED';
  log(
    `${what.padEnd(44)} ${m.toFixed(0).padStart(9)} ${spread(xs).padStart(10)}  ${(m / bare).toFixed(1).padStart(12)}×  ≤ ${goalMs} ms and ≤ ${goalRatio}×: ${met}`,
  );
}
