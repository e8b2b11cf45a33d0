import Database from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import type { UsageIncrement } from '../../domain/model.js';
import { StorageUnavailableError } from '../../domain/ports.js';
import type { Row } from '../rows.js';
import { SqlStore, type SqlTx } from '../sql-store.js';
import { sqliteMigrations } from './migrations.js';

/** SQLite error codes that mean "the database cannot serve right now", as opposed to a bug. */
const UNAVAILABLE_CODES = /^SQLITE_(BUSY|LOCKED|FULL|READONLY|IOERR|CANTOPEN|CORRUPT|NOTADB|PROTOCOL|PERM|NOMEM)/;

export interface SqliteStoreOptions {
  /** Path of the database file, or ':memory:'. */
  filename: string;
}

export class SqliteStore extends SqlStore {
  readonly kind = 'sqlite' as const;
  protected readonly skipLocked = '';
  private readonly db: Database.Database;
  private readonly queue: { tail: Promise<unknown> };
  private readonly tx: SqlTx = {
    query: async (sql, params = []) => this.db.prepare(sql).all(...params) as Row[],
    run: async (sql, params = []) => this.db.prepare(sql).run(...params).changes,
  };

  constructor(options: SqliteStoreOptions) {
    super();
    this.queue = queueOf(options.filename);
    if (options.filename !== ':memory:') mkdirSync(dirname(options.filename), { recursive: true });
    try {
      this.db = this.guard(() => new Database(options.filename));
      this.guard(() => {
        this.db.pragma('journal_mode = WAL');
        // FULL: a commit is on disk before the call returns, so a 201/204 is only sent for a durable change.
        this.db.pragma('synchronous = FULL');
        this.db.pragma('foreign_keys = ON');
        this.db.pragma('busy_timeout = 5000');
        // Deleted rows are zeroed, not left in free pages: a purged idempotency record (an encrypted secret) is gone.
        this.db.pragma('secure_delete = ON');
      });
    } catch (err) {
      // Start-up reports this in one line: it must say which file could not be opened.
      if (err instanceof StorageUnavailableError) {
        throw new StorageUnavailableError(`cannot open database ${options.filename} (${err.message})`, { cause: err });
      }
      throw err;
    }
  }

  /** Turns "database cannot serve" failures into StorageUnavailableError (503). */
  private guard<T>(work: () => T): T {
    try {
      return work();
    } catch (err) {
      throw unavailable(err) ?? err;
    }
  }

  private exclusive<T>(work: () => Promise<T>): Promise<T> {
    const run = async () => {
      try {
        return await work();
      } catch (err) {
        throw unavailable(err) ?? err;
      }
    };
    const next = this.queue.tail.then(run, run);
    this.queue.tail = next.catch(() => undefined);
    return next;
  }

  protected read(sql: string, params: unknown[] = []): Promise<Row[]> {
    return this.exclusive(() => this.tx.query(sql, params));
  }

  protected transaction<T>(work: (tx: SqlTx) => Promise<T>): Promise<T> {
    return this.exclusive(async () => {
      // IMMEDIATE takes the write lock first, so another process cannot interleave between a check and its write.
      this.db.exec('BEGIN IMMEDIATE');
      try {
        const result = await work(this.tx);
        this.db.exec('COMMIT');
        return result;
      } catch (err) {
        if (this.db.open && this.db.inTransaction) this.db.exec('ROLLBACK');
        throw err;
      }
    });
  }

  /** Every transaction holds the database's write lock from its start: nothing more to take. */
  protected async serialize(): Promise<void> {}

  /** Other processes on this file hear of changes through the onChange listeners (the cluster relays them). */
  protected async sendToOtherNodes(): Promise<void> {}

  async migrate(): Promise<void> {
    // The version is read inside the write lock, so two processes starting together never run one migration twice.
    await this.transaction(async () => {
      const current = this.db.pragma('user_version', { simple: true }) as number;
      for (let v = current; v < sqliteMigrations.length; v++) {
        this.db.exec(sqliteMigrations[v]!);
        this.db.pragma(`user_version = ${v + 1}`);
      }
    });
  }

  async close(): Promise<void> {
    if (this.db.open) this.db.close();
  }

  async recordUsage(increments: UsageIncrement[], lastVerified: Map<number, number>): Promise<void> {
    await this.transaction(async () => {
      const add = this.db.prepare(
        `INSERT INTO secret_usage (secret_id, platform, minute, count) VALUES (?, ?, ?, ?)
         ON CONFLICT (secret_id, platform, minute) DO UPDATE SET count = count + excluded.count`,
      );
      for (const u of increments) add.run(u.secretId, u.platform, u.minute, u.count);
      const touch = this.db.prepare(
        'UPDATE secrets SET last_verified_at = ? WHERE id = ? AND (last_verified_at IS NULL OR last_verified_at < ?)',
      );
      for (const [secretId, at] of lastVerified) touch.run(at, secretId, at);
    });
  }
}

/**
 * Work on a database file runs one piece at a time in this process: a read must never see another request's
 * uncommitted transaction, and a second store on the same file (a test's second node) must not wait for the write
 * lock, which blocks the event loop, while the holder waits for its turn on it.
 */
const queues = new Map<string, { tail: Promise<unknown> }>();

function queueOf(filename: string): { tail: Promise<unknown> } {
  if (filename === ':memory:') return { tail: Promise.resolve() };
  const key = resolve(filename);
  let queue = queues.get(key);
  if (!queue) queues.set(key, (queue = { tail: Promise.resolve() }));
  return queue;
}

function unavailable(err: unknown): StorageUnavailableError | undefined {
  if (err instanceof StorageUnavailableError) return undefined;
  const code = (err as { code?: unknown }).code;
  if (typeof code === 'string' && UNAVAILABLE_CODES.test(code)) {
    // SQLite's messages are fixed texts ("database or disk is full"), never bound values.
    return new StorageUnavailableError(`sqlite: ${code} (${(err as Error).message})`, { cause: err });
  }
  if (err instanceof TypeError && /database connection is not open/.test(err.message)) {
    return new StorageUnavailableError('sqlite: database closed', { cause: err });
  }
  return undefined;
}
