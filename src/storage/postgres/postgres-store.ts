import pg from 'pg';
import { setTimeout as sleep } from 'node:timers/promises';
import type { SecretChange, UsageIncrement } from '../../domain/model.js';
import { StorageUnavailableError } from '../../domain/ports.js';
import type { Row } from '../rows.js';
import { SqlStore, type SqlTx, numbered } from '../sql-store.js';
import { Circuit } from './circuit.js';
import { isTransientConflict, isUnavailable, isUnreachable, toStorageError } from './errors.js';
import { postgresMigrations } from './migrations.js';
type Queryable = Pick<pg.PoolClient, 'query'>;

/** The channel every node LISTENs on; payloads are encodeChange() JSON, ids only, never material. */
export const CHANGE_CHANNEL = 'secure_mode_secret_changes';

/** Advisory lock keys (pg_advisory_lock(int, int)): one namespace for secure-mode, one key per purpose. */
const LOCK_NAMESPACE = 0x5ec0de;
const MIGRATION_LOCK = 1;
const STARTUP_LOCK = 2;
const LEASES = { rotations: 3 } as const;
/** How long closing the lease session waits for the server's goodbye before leaving the socket to the pg driver. */
const LEASE_END_WAIT_MS = 500;

/** Ids, counts and Unix times are BIGINT; every one of them fits a JS number (2^53). */
const types = {
  getTypeParser(oid: number, format?: 'text' | 'binary') {
    if (oid === pg.types.builtins.INT8 && format !== 'binary') return (v: string) => Number(v);
    return pg.types.getTypeParser(oid, format);
  },
};

export interface ChangePayload {
  w: number;
  s: number;
  k: SecretChange['kind'];
  /** The node that made the change; it has applied it already. */
  o: string;
}

export function encodeChange(change: SecretChange, origin: string): string {
  const payload: ChangePayload = { w: change.workspaceId, s: change.secretId, k: change.kind, o: origin };
  return JSON.stringify(payload);
}

export interface PostgresStoreOptions {
  url: string;
  /** Identifies this node in change notifications, so it skips its own. */
  nodeId: string;
  poolSize: number;
  connectTimeoutMs: number;
  /** Default 5 s: every call (connecting, its statements and its one retry) is answered within it. */
  queryTimeoutMs?: number;
  /** How often an open circuit tries the database again. Default 500 ms. */
  probeIntervalMs?: number;
  /** Told when the database becomes unreachable and when it answers again, for the log. */
  onStatus?: (status: 'unreachable' | 'reachable', err?: unknown) => void;
}

/** Attempts for work that is safe to repeat: a read, or a transaction that failed before COMMIT was sent. */
const ATTEMPTS = 2;
const RETRY_DELAY_MS = 50;

/** The driver's own wording, so that isUnreachable() knows the deadline's failures as it knows the driver's. */
const connectTimedOut = () => new Error('timeout exceeded when trying to connect');
const queryTimedOut = () => new Error('Query read timeout');

export class PostgresStore extends SqlStore {
  readonly kind = 'postgres' as const;
  protected readonly skipLocked = ' FOR UPDATE SKIP LOCKED';
  private pool: pg.Pool;
  /** The session that holds the leases: an advisory lock lives as long as its connection, and dies with its node. */
  private leaseSession: { client: pg.Client; held: Set<string> } | undefined;
  private readonly queryTimeoutMs: number;
  private readonly circuit: Circuit;
  private closed = false;

  constructor(private readonly options: PostgresStoreOptions) {
    super();
    this.queryTimeoutMs = options.queryTimeoutMs ?? 5000;
    this.pool = this.newPool();
    this.circuit = new Circuit(() => this.probe(), options.probeIntervalMs ?? 500, options.onStatus);
  }

  private newPool(): pg.Pool {
    const pool = new pg.Pool({
      connectionString: this.options.url,
      max: this.options.poolSize,
      connectionTimeoutMillis: this.options.connectTimeoutMs,
      idleTimeoutMillis: 30_000,
      keepAlive: true,
      application_name: 'secure-mode',
      // The server stops a slow statement; each call's deadline (see begin) stops waiting for a dead connection.
      statement_timeout: this.queryTimeoutMs,
      types,
    });
    // An idle connection that dies (server restart, network cut) is dropped by the pool; the next use reconnects.
    pool.on('error', () => undefined);
    return pool;
  }

  /** One connection and one statement, outside the pool: whether the database answers again. */
  private async probe(): Promise<void> {
    const client = new pg.Client({
      connectionString: this.options.url,
      connectionTimeoutMillis: this.options.connectTimeoutMs,
      query_timeout: this.queryTimeoutMs,
      application_name: 'secure-mode-probe',
    });
    client.on('error', () => undefined);
    try {
      await client.connect();
      await client.query('SELECT 1');
    } finally {
      destroy(client);
    }
  }

  /**
   * Every call starts here: at once 503 while the database is known unreachable, else a deadline for the whole call,
   * so that no request waits longer than the query timeout in all, however many steps and retries it takes.
   */
  private begin(): number {
    if (this.closed) throw new StorageUnavailableError('postgres: the store is closed');
    this.circuit.check();
    return Date.now() + this.queryTimeoutMs;
  }

  /** The call failed for good: an unreachable database opens the circuit, and the pool's connections are suspect. */
  private failed(err: unknown): unknown {
    if (isUnreachable(err) && !this.circuit.isOpen && !this.closed) {
      this.circuit.trip(err);
      const old = this.pool;
      this.pool = this.newPool();
      void old.end().catch(() => undefined);
    }
    return toStorageError(err);
  }

  private async connect(deadline: number): Promise<pg.PoolClient> {
    const pending = this.pool.connect();
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(connectTimedOut()), Math.max(0, deadline - Date.now()));
    });
    try {
      return await Promise.race([pending, timeout]);
    } catch (err) {
      // A connection that arrives after the deadline is not wanted any more.
      pending.then(
        (c) => c.release(true),
        () => undefined,
      );
      throw err;
    } finally {
      clearTimeout(timer);
    }
  }

  /** Retry only while the deadline leaves room for it. */
  private mayRetry(attempt: number, deadline: number): boolean {
    return attempt < ATTEMPTS && deadline - Date.now() > RETRY_DELAY_MS;
  }

  /**
   * Reads are idempotent: a failure on a dead connection is retried once on a fresh one, which hides the common case
   * of a pooled connection the server closed.
   */
  protected async read(sql: string, params: unknown[] = []): Promise<Row[]> {
    const deadline = this.begin();
    for (let attempt = 1; ; attempt++) {
      try {
        const client = await this.connect(deadline);
        try {
          const rows = await query(client, deadline, sql, params);
          client.release();
          return rows;
        } catch (err) {
          client.release(isUnavailable(err));
          throw err;
        }
      } catch (err) {
        if (isUnavailable(err) && this.mayRetry(attempt, deadline)) {
          await sleep(RETRY_DELAY_MS);
          continue;
        }
        throw this.failed(err);
      }
    }
  }

  /**
   * Every write runs here. A transaction that fails before COMMIT is sent never happened (the server rolls back a
   * transaction whose connection dies), so it may run again. Once COMMIT is sent the outcome is unknown if the
   * connection fails, and the write is never repeated: the caller gets 503 and decides.
   */
  protected async transaction<T>(work: (tx: SqlTx) => Promise<T>): Promise<T> {
    const deadline = this.begin();
    for (let attempt = 1; ; attempt++) {
      let client: pg.PoolClient;
      try {
        client = await this.connect(deadline);
      } catch (err) {
        if (isUnavailable(err) && this.mayRetry(attempt, deadline)) {
          await sleep(RETRY_DELAY_MS);
          continue;
        }
        throw this.failed(err);
      }
      let commitSent = false;
      try {
        await query(client, deadline, 'BEGIN');
        const result = await work(sqlTx(client, deadline));
        commitSent = true;
        await query(client, deadline, 'COMMIT');
        client.release();
        return result;
      } catch (err) {
        const broken = isUnavailable(err);
        if (broken) client.release(true);
        else {
          await client.query('ROLLBACK').catch(() => undefined);
          client.release();
        }
        if (!commitSent && (broken || isTransientConflict(err)) && this.mayRetry(attempt, deadline)) {
          await sleep(RETRY_DELAY_MS);
          continue;
        }
        throw this.failed(err);
      }
    }
  }

  protected async serialize(tx: SqlTx, scope: 'bootstrap' | number): Promise<void> {
    // Held until the transaction ends. Bootstrap: nodes starting together on an empty database go one at a time.
    // A workspace's row lock serialises its creates across nodes.
    if (scope === 'bootstrap') await tx.query('SELECT pg_advisory_xact_lock(?, ?)', [LOCK_NAMESPACE, STARTUP_LOCK]);
    else await tx.query('SELECT id FROM workspaces WHERE id = ? FOR UPDATE', [scope]);
  }

  /** Sent by PostgreSQL when (and only if) the transaction commits; see change-feed.ts. */
  protected async sendToOtherNodes(tx: SqlTx, change: SecretChange): Promise<void> {
    await tx.query('SELECT pg_notify(?, ?)', [CHANGE_CHANNEL, encodeChange(change, this.options.nodeId)]);
  }

  /**
   * Each migration in its own transaction, under a transaction-level advisory lock, so that nodes starting at once
   * apply each exactly once, and so that it works through a transaction-mode pooler (a session lock would stay with
   * whichever server connection the pooler lent). A connection of its own: waiting for another node's migrations may
   * take longer than the pool's statement timeout allows.
   */
  async migrate(): Promise<void> {
    const client = new pg.Client({
      connectionString: this.options.url,
      connectionTimeoutMillis: this.options.connectTimeoutMs,
      application_name: 'secure-mode-migrate',
      types,
    });
    client.on('error', () => undefined);
    try {
      await client.connect();
      for (let done = false; !done;) {
        await client.query('BEGIN');
        try {
          await client.query('SELECT pg_advisory_xact_lock($1, $2)', [LOCK_NAMESPACE, MIGRATION_LOCK]);
          await client.query(
            'CREATE TABLE IF NOT EXISTS secure_mode_schema (version INTEGER PRIMARY KEY, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())',
          );
          const { rows } = await client.query<{ v: number | null }>('SELECT max(version) AS v FROM secure_mode_schema');
          const current = rows[0]?.v ?? 0;
          done = current >= postgresMigrations.length;
          if (!done) {
            await client.query(postgresMigrations[current]!);
            await client.query('INSERT INTO secure_mode_schema (version) VALUES ($1)', [current + 1]);
          }
          await client.query('COMMIT');
        } catch (err) {
          await client.query('ROLLBACK').catch(() => undefined);
          throw err;
        }
      }
    } catch (err) {
      throw toStorageError(err);
    } finally {
      await client.end().catch(() => undefined);
    }
  }

  async close(): Promise<void> {
    // First: a call failing on the ended pool must not make a new one and carry on as if the store were open.
    this.closed = true;
    await this.dropLeaseSession();
    await this.circuit.stop();
    await this.pool.end().catch(() => undefined);
  }

  override async holdLease(name: keyof typeof LEASES, ttlMs: number): Promise<boolean> {
    try {
      const session = this.leaseSession ?? (await this.openLeaseSession(ttlMs));
      if (session.held.has(name)) {
        // Still ours only while the session is alive: a connection that no longer answers gives the lease up.
        await session.client.query('SELECT 1');
        return true;
      }
      const { rows } = await session.client.query<{ ok: boolean }>('SELECT pg_try_advisory_lock($1, $2) AS ok', [
        LOCK_NAMESPACE,
        LEASES[name],
      ]);
      if (rows[0]?.ok) session.held.add(name);
      return session.held.has(name);
    } catch {
      await this.dropLeaseSession();
      return false;
    }
  }

  private async openLeaseSession(ttlMs: number): Promise<{ client: pg.Client; held: Set<string> }> {
    const timeout = this.options.queryTimeoutMs ?? 5000;
    const client = new pg.Client({
      connectionString: this.options.url,
      connectionTimeoutMillis: this.options.connectTimeoutMs,
      application_name: 'secure-mode-lease',
      statement_timeout: timeout,
      query_timeout: timeout + 1000,
      keepAlive: true,
      types,
    });
    const session = { client, held: new Set<string>() };
    const lost = () => {
      if (this.leaseSession === session) this.leaseSession = undefined;
    };
    client.on('error', lost);
    client.on('end', lost);
    await client.connect();
    // PostgreSQL ends a session left idle this long, releasing its locks: a node cut off from the database (whose
    // connection the server still thinks open) cannot keep the lease from the others.
    await client.query(`SET idle_session_timeout = ${Math.max(1, Math.round(ttlMs))}`);
    this.leaseSession = session;
    return session;
  }

  /** Ends the lease session; a connection cut off (that never answers the goodbye) is not waited for long. */
  private async dropLeaseSession(): Promise<void> {
    const session = this.leaseSession;
    this.leaseSession = undefined;
    if (!session) return;
    const ended = session.client.end().catch(() => undefined);
    await Promise.race([ended, sleep(LEASE_END_WAIT_MS)]);
  }

  async recordUsage(increments: UsageIncrement[], lastVerified: Map<number, number>): Promise<void> {
    if (increments.length === 0 && lastVerified.size === 0) return;
    // One row per key (ON CONFLICT cannot touch a row twice in one statement), in key order so that nodes flushing
    // at once take row locks in the same order instead of deadlocking.
    const merged = new Map<string, UsageIncrement>();
    for (const u of increments) {
      const key = `${u.secretId}:${u.platform}:${u.minute}`;
      const current = merged.get(key);
      if (current) current.count += u.count;
      else merged.set(key, { ...u });
    }
    const usage = [...merged.values()].sort(
      (a, b) => a.secretId - b.secretId || a.platform.localeCompare(b.platform) || a.minute - b.minute,
    );
    const touched = [...lastVerified.entries()].sort((a, b) => a[0] - b[0]);
    await this.transaction(async (tx) => {
      if (usage.length > 0) {
        await tx.query(
          `INSERT INTO secret_usage (secret_id, platform, minute, count)
           SELECT * FROM unnest(?::bigint[], ?::text[], ?::bigint[], ?::bigint[])
           ON CONFLICT (secret_id, platform, minute) DO UPDATE SET count = secret_usage.count + excluded.count`,
          [usage.map((u) => u.secretId), usage.map((u) => u.platform), usage.map((u) => u.minute), usage.map((u) => u.count)],
        );
      }
      if (touched.length > 0) {
        await tx.query(
          `UPDATE secrets s SET last_verified_at = v.at
           FROM unnest(?::bigint[], ?::bigint[]) AS v(id, at)
           WHERE s.id = v.id AND (s.last_verified_at IS NULL OR s.last_verified_at < v.at)`,
          [touched.map(([id]) => id), touched.map(([, at]) => at)],
        );
      }
    });
  }
}

/** One statement, given what is left of the call's deadline. */
async function run(client: Queryable, deadline: number, sql: string, params: unknown[] = []): Promise<pg.QueryResult> {
  const left = deadline - Date.now();
  if (left <= 0) throw queryTimedOut();
  return client.query({ text: numbered(sql), values: params, query_timeout: left } as pg.QueryConfig);
}

async function query(client: Queryable, deadline: number, sql: string, params: unknown[] = []): Promise<Row[]> {
  return (await run(client, deadline, sql, params)).rows as Row[];
}

function sqlTx(client: Queryable, deadline: number): SqlTx {
  return {
    query: (sql, params = []) => query(client, deadline, sql, params),
    run: async (sql, params = []) => (await run(client, deadline, sql, params)).rowCount ?? 0,
  };
}

/** Ends a client without waiting: a cut network would make a polite goodbye hang. */
export function destroy(client: pg.Client): void {
  // pg does not expose its socket in the types; destroying it is the only way to end a connection that is blackholed.
  (client as unknown as { connection?: { stream?: { destroy(): void } } }).connection?.stream?.destroy();
  void client.end().catch(() => undefined);
}
