import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import pg from 'pg';
import { testDatabaseUrl } from './postgres.js';

/**
 * A second connection to a test app's database, beside the app's own, for what only SQL can do: inject faults with
 * triggers (as a failing disk or constraint would) and look at rows the API does not show. SQLite or PostgreSQL,
 * whichever the app runs on.
 */
export interface RawDb {
  /** From now on, `timing` on `table` (when `when` holds for the row) fails with an error, until heal(name). */
  failOn(name: string, timing: string, table: string, when?: string): Promise<void>;
  heal(name: string): Promise<void>;
  count(table: string, column: string, value: string | number): Promise<number>;
  /** Whether these bytes appear anywhere in the stored data (SQLite: the files, WAL included; PostgreSQL: every row). */
  contains(bytes: Buffer): Promise<boolean>;
  close(): Promise<void>;
}

export async function openRawDb(dir: string): Promise<RawDb> {
  const pgNameFile = readdirSync(dir).includes('postgres-database') ? join(dir, 'postgres-database') : undefined;
  if (pgNameFile === undefined) return sqliteRaw(join(dir, 'secure-mode.db'));
  const client = new pg.Client({ connectionString: testDatabaseUrl(readFileSync(pgNameFile, 'utf8')) });
  await client.connect();
  return postgresRaw(client);
}

function sqliteRaw(file: string): RawDb {
  const db = new Database(file);
  return {
    async failOn(name, timing, table, when) {
      db.exec(
        `CREATE TRIGGER ${name} ${timing} ON ${table} ${when ? `WHEN ${when}` : ''} BEGIN SELECT RAISE(ABORT, 'injected fault'); END;`,
      );
    },
    async heal(name) {
      db.exec(`DROP TRIGGER ${name}`);
    },
    async count(table, column, value) {
      return (db.prepare(`SELECT count(*) AS n FROM ${table} WHERE ${column} = ?`).get(value) as { n: number }).n;
    },
    async contains(bytes) {
      const dir = join(file, '..');
      const base = file.slice(dir.length + 1);
      return readdirSync(dir)
        .filter((f) => f.startsWith(base))
        .some((f) => readFileSync(join(dir, f)).includes(bytes));
    },
    async close() {
      db.close();
    },
  };
}

function postgresRaw(client: pg.Client): RawDb {
  const tables = new Map<string, string>();
  return {
    async failOn(name, timing, table, when) {
      await client.query(
        `CREATE OR REPLACE FUNCTION secure_mode_test_fault() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'injected fault'; END $$`,
      );
      await client.query(
        `CREATE TRIGGER ${name} ${timing} ON ${table} FOR EACH ROW ${when ? `WHEN (${when})` : ''} EXECUTE FUNCTION secure_mode_test_fault()`,
      );
      tables.set(name, table);
    },
    async heal(name) {
      await client.query(`DROP TRIGGER ${name} ON ${tables.get(name)}`);
    },
    async count(table, column, value) {
      return Number((await client.query(`SELECT count(*) AS n FROM ${table} WHERE ${column} = $1`, [value])).rows[0].n);
    },
    async contains(bytes) {
      const { rows } = await client.query<{ table_name: string }>(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' AND table_type = 'BASE TABLE'",
      );
      for (const { table_name } of rows) {
        // A row as text shows bytea as \x-hex: look for both spellings.
        const hit = await client.query(
          `SELECT 1 FROM "${table_name}" t WHERE strpos(t::text, $1) > 0 OR strpos(t::text, $2) > 0 LIMIT 1`,
          [bytes.toString('utf8'), bytes.toString('hex')],
        );
        if (hit.rowCount) return true;
      }
      return false;
    },
    async close() {
      await client.end();
    },
  };
}
