/**
 * `npm test`: every test file, the API files again on PostgreSQL, then the leak scan over everything they recorded
 * (test/helpers/leaks.ts).
 * Arguments narrow the run to some files: `npm test -- test/ops/metrics.test.ts`.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { ROOT, TEST_FILE_CONCURRENCY } from './helpers/process.js';
import { scanForLeaks } from './helpers/leaks.js';

/** Every *.test.ts below test/, at any depth (tests mirror src/); helpers and fixtures hold none. */
function allTestFiles(): string[] {
  return readdirSync(join(ROOT, 'test'), { recursive: true, encoding: 'utf8' })
    .filter((f) => f.endsWith('.test.ts'))
    .map((f) => join('test', f))
    .sort();
}

const files = process.argv.length > 2 ? process.argv.slice(2) : allTestFiles();
const leakDir = mkdtempSync(join(tmpdir(), 'secure-mode-leaks-'));
const child = spawn(
  process.execPath,
  ['--import', 'tsx', '--test', `--test-concurrency=${TEST_FILE_CONCURRENCY}`, '--test-reporter=spec', ...files],
  {
    cwd: ROOT,
    env: { ...process.env, SECURE_MODE_LEAK_DIR: leakDir },
    stdio: 'inherit',
  },
);
const [mainCode] = (await once(child, 'exit')) as [number | null];

// The second pass: the API suite again on PostgreSQL (skipped with a message for a developer without it; CI fails).
let postgresCode: number | null = 0;
if (process.argv.length <= 2) {
  const pgPass = spawn(process.execPath, ['--import', 'tsx', 'test/helpers/postgres-suite.ts'], {
    cwd: ROOT,
    env: { ...process.env, SECURE_MODE_LEAK_DIR: leakDir },
    stdio: 'inherit',
  });
  [postgresCode] = (await once(pgPass, 'exit')) as [number | null];
}
const code = mainCode === 0 && postgresCode === 0 ? 0 : 1;

const started = Date.now();
const scan = scanForLeaks(leakDir);
const summary =
  `leak scan: ${scan.values} recorded secrets, tokens, user_hashes and JWTs searched for in ${scan.artifacts} artifacts ` +
  `(${(scan.bytes / 1024 / 1024).toFixed(1)} MiB of logs, response bodies, metrics and database files) in ${Date.now() - started} ms`;
if (scan.hits.length > 0) {
  process.stderr.write(`${summary}: ${scan.hits.length} LEAK(S)\n`);
  for (const hit of scan.hits) process.stderr.write(`  ${hit.kind} ${hit.valuePrefix} found as ${hit.as} in ${hit.artifact}\n`);
  process.stderr.write(`artifacts kept in ${relative(process.cwd(), leakDir) || leakDir}\n`);
  process.exit(1);
}
process.stdout.write(`${summary}: no leaks\n`);
rmSync(leakDir, { recursive: true, force: true });
process.exit(code);
