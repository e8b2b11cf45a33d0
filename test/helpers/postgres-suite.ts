/**
 * `npm test`'s second pass: the API test files again, each app on a fresh PostgreSQL database
 * (SECURE_MODE_TEST_BACKEND=postgres). Without PostgreSQL a developer is told once that the pass is skipped;
 * in CI (CI=true) that is a failure.
 */
import { spawn } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT, TEST_FILE_CONCURRENCY } from './process.js';
import { ADMIN_URL, inCi, postgresProblem } from './postgres.js';

const problem = await postgresProblem();
if (problem !== undefined) {
  const message = `PostgreSQL is not reachable at ${ADMIN_URL} (${problem})`;
  if (inCi) {
    process.stderr.write(`postgres suite: ${message}; CI=true requires it\n`);
    process.exit(1);
  }
  process.stderr.write(
    `postgres suite: SKIPPED, ${message}. Start PostgreSQL (or set SECURE_MODE_TEST_POSTGRES_URL) to run the API tests on it.\n`,
  );
  process.exit(0);
}

// The HTTP tests (test/http mirrors src/http) are the ones that run a server on the test backend.
const files = readdirSync(join(ROOT, 'test/http'), { recursive: true, encoding: 'utf8' })
  .filter((f) => f.endsWith('.test.ts'))
  .sort()
  .map((f) => join('test/http', f));
process.stderr.write(`postgres suite: running ${files.length} HTTP test files against PostgreSQL at ${ADMIN_URL}\n`);
const child = spawn(
  process.execPath,
  ['--import', 'tsx', '--test', `--test-concurrency=${TEST_FILE_CONCURRENCY}`, '--test-reporter=spec', ...files],
  {
    cwd: ROOT,
    env: { ...process.env, SECURE_MODE_TEST_BACKEND: 'postgres' },
    stdio: 'inherit',
  },
);
child.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
