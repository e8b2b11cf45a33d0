import pg from 'pg';
import { randomBytes } from 'node:crypto';

/** The PostgreSQL server tests use (CI starts one here); each test makes its own database on it and drops it. */
export const ADMIN_URL = process.env.SECURE_MODE_TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const PREFIX = 'secure_mode_test_';

export const inCi = process.env.CI === 'true' || process.env.CI === '1';

/** Which backend startTestApp() uses: SECURE_MODE_TEST_BACKEND=postgres runs the API suite on PostgreSQL. */
export function testBackend(): 'sqlite' | 'postgres' {
  const value = process.env.SECURE_MODE_TEST_BACKEND ?? 'sqlite';
  if (value !== 'sqlite' && value !== 'postgres')
    throw new Error(`SECURE_MODE_TEST_BACKEND must be sqlite or postgres (got ${value})`);
  return value;
}

function withDatabase(url: string, database: string): string {
  const u = new URL(url);
  u.pathname = `/${database}`;
  return u.toString();
}

async function admin<T>(work: (c: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: ADMIN_URL, connectionTimeoutMillis: 3000 });
  client.on('error', () => undefined);
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end().catch(() => undefined);
  }
}

let reachable: Promise<string | undefined> | undefined;

/** undefined when the server answers, else why not. */
export function postgresProblem(): Promise<string | undefined> {
  reachable ??= admin((c) => c.query('SELECT 1')).then(
    () => undefined,
    (err: Error) => err.message || (err as { code?: string }).code || String(err),
  );
  return reachable;
}

/**
 * For `describe(name, { skip: await skipWithoutPostgres() })`: a developer without PostgreSQL sees these tests
 * skipped with the reason; in CI (CI=true) an unreachable server fails the run instead.
 */
export async function skipWithoutPostgres(): Promise<string | false> {
  const problem = await postgresProblem();
  if (problem === undefined) return false;
  const message = `PostgreSQL is not reachable at ${ADMIN_URL} (${problem})`;
  if (inCi) throw new Error(`${message}; CI=true requires it`);
  return `${message}: skipped (start PostgreSQL or set SECURE_MODE_TEST_POSTGRES_URL to run them)`;
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as { code?: string }).code === 'EPERM';
  }
}

let swept = false;

/** Databases left by test processes that died before their cleanup ran (their pid is in the name). */
async function sweepAbandoned(c: pg.Client): Promise<void> {
  if (swept) return;
  swept = true;
  const { rows } = await c.query<{ datname: string }>(`SELECT datname FROM pg_database WHERE datname LIKE '${PREFIX}%'`);
  for (const { datname } of rows) {
    const pid = Number(/^secure_mode_test_([0-9]+)_/.exec(datname)?.[1]);
    if (Number.isInteger(pid) && pid !== process.pid && !processAlive(pid)) {
      await c.query(`DROP DATABASE IF EXISTS "${datname}" WITH (FORCE)`).catch(() => undefined);
    }
  }
}

export interface TestDatabase {
  name: string;
  url: string;
  drop(): Promise<void>;
}

/** A fresh, empty database; drop() removes it even while servers are still connected. */
export async function createTestDatabase(): Promise<TestDatabase> {
  const name = `${PREFIX}${process.pid}_${randomBytes(6).toString('hex')}`;
  await admin(async (c) => {
    await sweepAbandoned(c);
    await c.query(`CREATE DATABASE "${name}"`);
  });
  return { name, url: withDatabase(ADMIN_URL, name), drop: () => dropTestDatabase(name) };
}

export function testDatabaseUrl(name: string): string {
  return withDatabase(ADMIN_URL, name);
}

export async function dropTestDatabase(name: string): Promise<void> {
  await admin((c) => c.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`));
}
