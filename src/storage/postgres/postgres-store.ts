import pg from 'pg';
import { setTimeout as sleep } from 'node:timers/promises';
import { envelopeKeyId } from '../../crypto/keyring.js';
import { AUDIT_INSERT_COLUMNS, type Row, SECRET_COLUMNS, auditInsertValues, toAudit, toIdempotency, toSecret, toSecretWithCiphertext, toToken, toWorkspace, workspaceCreatedEvent } from '../rows.js';
import type { SecretChange } from '../../domain/secrets.js';
import type {
  AccessToken,
  AuditEvent,
  AuditInput,
  AuditQuery,
  CreateSecretResult,
  IdempotencyRecord,
  IdempotentCreate,
  NewSecret,
  NewToken,
  Platform,
  SecretPatch,
  SecretRecord,
  SecretWithCiphertext,
  Store,
  TokenAudit,
  UsageIncrement,
  UsageTotals,
  Workspace,
} from '../store.js';
import { isTransientConflict, isUnavailable, toStorageError } from './errors.js';
import { postgresMigrations } from './migrations.js';

type Queryable = Pick<pg.PoolClient, 'query'>;

/** The channel every node LISTENs on; payloads are encodeChange() JSON, ids only, never material. */
export const CHANGE_CHANNEL = 'secure_mode_secret_changes';

/** Advisory lock keys (pg_advisory_lock(int, int)): one namespace for secure-mode, one key per purpose. */
const LOCK_NAMESPACE = 0x5ec0de;
const MIGRATION_LOCK = 1;
const STARTUP_LOCK = 2;


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
  /** Default 5 s. */
  queryTimeoutMs?: number;
}

/** Attempts for work that is safe to repeat: a read, or a transaction that failed before COMMIT was sent. */
const ATTEMPTS = 2;
const RETRY_DELAY_MS = 50;

export class PostgresStore implements Store {
  readonly kind = 'postgres' as const;
  private readonly pool: pg.Pool;

  constructor(private readonly options: PostgresStoreOptions) {
    this.pool = new pg.Pool({
      connectionString: options.url,
      max: options.poolSize,
      connectionTimeoutMillis: options.connectTimeoutMs,
      idleTimeoutMillis: 30_000,
      keepAlive: true,
      application_name: 'secure-mode',
      // A request must not hang on a dead connection: the server cancels a slow statement, and the client gives up
      // a little later when not even the cancellation arrives (a cut network).
      statement_timeout: options.queryTimeoutMs ?? 5000,
      query_timeout: (options.queryTimeoutMs ?? 5000) + 1000,
      types,
    });
    // An idle connection that dies (server restart, network cut) is dropped by the pool; the next use reconnects.
    this.pool.on('error', () => undefined);
  }

  private async connect(): Promise<pg.PoolClient> {
    try {
      return await this.pool.connect();
    } catch (err) {
      throw toStorageError(err);
    }
  }

  /**
   * Reads are idempotent: a failure on a dead connection is retried once on a fresh one, which hides the common case
   * of a pooled connection the server closed.
   */
  private async read(sql: string, params: unknown[] = []): Promise<Row[]> {
    for (let attempt = 1; ; attempt++) {
      try {
        return (await this.pool.query(sql, params)).rows as Row[];
      } catch (err) {
        if (attempt < ATTEMPTS && isUnavailable(err)) {
          await sleep(RETRY_DELAY_MS);
          continue;
        }
        throw toStorageError(err);
      }
    }
  }

  /**
   * Every write runs here. A transaction that fails before COMMIT is sent never happened (the server rolls back a
   * transaction whose connection dies), so it may run again. Once COMMIT is sent the outcome is unknown if the
   * connection fails, and the write is never repeated: the caller gets 503 and decides.
   */
  private async transaction<T>(work: (c: Queryable) => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      const client = await this.connect();
      let commitSent = false;
      try {
        await client.query('BEGIN');
        const result = await work(client);
        commitSent = true;
        await client.query('COMMIT');
        client.release();
        return result;
      } catch (err) {
        const broken = isUnavailable(err);
        if (broken) client.release(true);
        else {
          await client.query('ROLLBACK').catch(() => undefined);
          client.release();
        }
        if (!commitSent && (broken || isTransientConflict(err)) && attempt < ATTEMPTS) {
          await sleep(RETRY_DELAY_MS);
          continue;
        }
        throw toStorageError(err);
      }
    }
  }

  /** Sent by PostgreSQL when (and only if) the transaction commits; see change-feed.ts. */
  private async notify(c: Queryable, change: SecretChange): Promise<void> {
    await c.query('SELECT pg_notify($1, $2)', [CHANGE_CHANNEL, encodeChange(change, this.options.nodeId)]);
  }

  private async insertAudit(c: Queryable, event: AuditInput): Promise<void> {
    await c.query(`INSERT INTO audit_events (${AUDIT_INSERT_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`, auditInsertValues(event));
  }


  /**
   * Holds a session-level advisory lock while `work` runs, on a connection of its own: waiting for another node's
   * migrations may take longer than the pool's statement timeout allows, and a lock dies with its connection.
   */
  private async withAdvisoryLock<T>(key: number, work: (c: Queryable) => Promise<T>): Promise<T> {
    const client = new pg.Client({
      connectionString: this.options.url,
      connectionTimeoutMillis: this.options.connectTimeoutMs,
      application_name: 'secure-mode-lock',
      types,
    });
    client.on('error', () => undefined);
    try {
      await client.connect();
      await client.query('SELECT pg_advisory_lock($1, $2)', [LOCK_NAMESPACE, key]);
      return await work(client);
    } catch (err) {
      throw toStorageError(err);
    } finally {
      await client.end().catch(() => undefined);
    }
  }

  async migrate(): Promise<void> {
    await this.withAdvisoryLock(MIGRATION_LOCK, async (c) => {
      await c.query('CREATE TABLE IF NOT EXISTS secure_mode_schema (version INTEGER PRIMARY KEY, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())');
      const { rows } = await c.query<{ v: number | null }>('SELECT max(version) AS v FROM secure_mode_schema');
      const current = rows[0]?.v ?? 0;
      for (let v = current; v < postgresMigrations.length; v++) {
        await c.query('BEGIN');
        try {
          await c.query(postgresMigrations[v]!);
          await c.query('INSERT INTO secure_mode_schema (version) VALUES ($1)', [v + 1]);
          await c.query('COMMIT');
        } catch (err) {
          await c.query('ROLLBACK').catch(() => undefined);
          throw err;
        }
      }
    });
  }

  async close(): Promise<void> {
    await this.pool.end().catch(() => undefined);
  }

  async ping(): Promise<void> {
    await this.read('SELECT 1');
  }

  private async insertWorkspace(c: Queryable, input: Omit<Workspace, 'id'>): Promise<Workspace> {
    const { rows } = await c.query(
      'INSERT INTO workspaces (app_id, name, default_version, rate_limit, created_at) VALUES ($1, $2, $3, $4, $5) RETURNING id',
      [input.appId, input.name, input.defaultVersion, input.rateLimit, input.createdAt],
    );
    const id = rows[0].id as number;
    await this.insertAudit(c, workspaceCreatedEvent(id, input));
    return { id, ...input };
  }

  async createWorkspace(input: Omit<Workspace, 'id'>): Promise<Workspace> {
    return this.transaction((c) => this.insertWorkspace(c, input));
  }

  async bootstrapWorkspace(workspace: Omit<Workspace, 'id'>, token: NewToken & { audit: TokenAudit }): Promise<Workspace | undefined> {
    return this.transaction(async (c) => {
      // Held until this transaction ends: nodes starting together on an empty database bootstrap one at a time.
      await c.query('SELECT pg_advisory_xact_lock($1, $2)', [LOCK_NAMESPACE, STARTUP_LOCK]);
      const { rows } = await c.query('SELECT EXISTS (SELECT 1 FROM workspaces) AS present');
      if (rows[0].present) return undefined;
      const created = await this.insertWorkspace(c, workspace);
      const { audit, ...input } = token;
      await this.insertToken(c, { ...input, workspaceId: created.id }, audit);
      return created;
    });
  }

  async listWorkspaces(): Promise<Workspace[]> {
    return (await this.read('SELECT * FROM workspaces ORDER BY id')).map(toWorkspace);
  }

  async findWorkspaceByAppId(appId: string): Promise<Workspace | undefined> {
    const [r] = await this.read('SELECT * FROM workspaces WHERE app_id = $1', [appId]);
    return r && toWorkspace(r);
  }


  private async insertToken(c: Queryable, input: NewToken & { workspaceId: number }, audit: TokenAudit): Promise<AccessToken> {
    const { rows } = await c.query(
      'INSERT INTO access_tokens (workspace_id, name, token_hash, scopes, created_at) VALUES ($1, $2, $3, $4, $5) RETURNING id',
      [input.workspaceId, input.name, input.tokenHash, input.scopes.join(' '), input.createdAt],
    );
    const id = rows[0].id as number;
    await this.insertAudit(c, { ...audit, workspaceId: input.workspaceId, targetId: String(id) });
    return { id, workspaceId: input.workspaceId, name: input.name, scopes: [...input.scopes], createdAt: input.createdAt, revokedAt: null };
  }

  async createToken(input: NewToken & { workspaceId: number }, audit: TokenAudit): Promise<AccessToken> {
    return this.transaction((c) => this.insertToken(c, input, audit));
  }

  async findTokenByHash(tokenHash: Buffer): Promise<{ token: AccessToken; workspace: Workspace } | undefined> {
    const [r] = await this.read(
      `SELECT t.id AS t_id, t.workspace_id AS t_workspace_id, t.name AS t_name, t.scopes AS t_scopes,
              t.created_at AS t_created_at, t.revoked_at AS t_revoked_at, w.*
       FROM access_tokens t JOIN workspaces w ON w.id = t.workspace_id
       WHERE t.token_hash = $1 AND t.revoked_at IS NULL`,
      [tokenHash],
    );
    if (!r) return undefined;
    const token = toToken({
      id: r.t_id,
      workspace_id: r.t_workspace_id,
      name: r.t_name,
      scopes: r.t_scopes,
      created_at: r.t_created_at,
      revoked_at: r.t_revoked_at,
    });
    return { token, workspace: toWorkspace(r) };
  }

  async listTokens(workspaceId?: number): Promise<AccessToken[]> {
    const rows =
      workspaceId === undefined
        ? await this.read('SELECT * FROM access_tokens ORDER BY id')
        : await this.read('SELECT * FROM access_tokens WHERE workspace_id = $1 ORDER BY id', [workspaceId]);
    return rows.map(toToken);
  }

  async revokeToken(id: number, at: number, audit: Omit<AuditInput, 'targetId' | 'workspaceId'>): Promise<AccessToken | undefined> {
    return this.transaction(async (c) => {
      const updated = await c.query('UPDATE access_tokens SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL', [at, id]);
      const { rows } = await c.query('SELECT * FROM access_tokens WHERE id = $1', [id]);
      if (!rows[0]) return undefined;
      const token = toToken(rows[0]);
      if (updated.rowCount === 1) await this.insertAudit(c, { ...audit, workspaceId: token.workspaceId, targetId: String(id) });
      return token;
    });
  }

  async createSecret(
    input: NewSecret,
    maxLive: number,
    seal: (secretId: number) => Buffer,
    audit: Omit<AuditInput, 'targetId'>,
    idempotency?: IdempotentCreate,
  ): Promise<CreateSecretResult> {
    return this.transaction(async (c): Promise<CreateSecretResult> => {
      // The workspace row lock serialises creates per workspace across nodes, so neither the Idempotency-Key lookup
      // nor the count below can race (keys are per workspace).
      await c.query('SELECT id FROM workspaces WHERE id = $1 FOR UPDATE', [input.workspaceId]);
      if (idempotency) {
        await c.query('DELETE FROM idempotency_keys WHERE workspace_id = $1 AND key = $2 AND expires_at <= $3', [
          input.workspaceId,
          idempotency.key,
          idempotency.now,
        ]);
        const kept = await c.query('SELECT * FROM idempotency_keys WHERE workspace_id = $1 AND key = $2', [input.workspaceId, idempotency.key]);
        if (kept.rows[0]) return { ok: false, reason: 'idempotent_replay', record: toIdempotency(kept.rows[0]) };
      }
      const counted = await c.query('SELECT count(*) AS n FROM secrets WHERE workspace_id = $1 AND deleted_at IS NULL', [input.workspaceId]);
      if ((counted.rows[0].n as number) >= maxLive) return { ok: false, reason: 'limit_reached' };
      const next = await c.query(`SELECT nextval(pg_get_serial_sequence('secrets', 'id')) AS id`);
      const id = next.rows[0].id as number;
      const ciphertext = seal(id);
      await c.query(
        `INSERT INTO secrets (id, workspace_id, name, supports_web, supports_ios, supports_android, ciphertext, key_id, created_at, expires_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
        [
          id,
          input.workspaceId,
          input.name,
          input.supportsWeb,
          input.supportsIos,
          input.supportsAndroid,
          ciphertext,
          envelopeKeyId(ciphertext),
          input.createdAt,
          input.expiresAt,
        ],
      );
      await this.insertAudit(c, { ...audit, targetId: String(id) });
      const secret: SecretRecord = { id, ...input, deletedAt: null, deletedReason: null, lastVerifiedAt: null };
      if (idempotency) {
        await c.query('INSERT INTO idempotency_keys (workspace_id, key, request_hash, response, expires_at) VALUES ($1, $2, $3, $4, $5)', [
          input.workspaceId,
          idempotency.key,
          idempotency.requestHash,
          idempotency.seal(secret),
          idempotency.expiresAt,
        ]);
      }
      await this.notify(c, { workspaceId: input.workspaceId, secretId: id, kind: 'created' });
      return { ok: true, secret };
    });
  }

  async listSecrets(workspaceId: number): Promise<SecretRecord[]> {
    return (await this.read(`SELECT ${SECRET_COLUMNS} FROM secrets WHERE workspace_id = $1 AND deleted_at IS NULL ORDER BY id`, [workspaceId])).map(
      toSecret,
    );
  }

  async listAllLiveSecrets(): Promise<SecretRecord[]> {
    return (await this.read(`SELECT ${SECRET_COLUMNS} FROM secrets WHERE deleted_at IS NULL ORDER BY id`)).map(toSecret);
  }

  async getSecret(workspaceId: number, id: number): Promise<SecretRecord | undefined> {
    const [r] = await this.read(`SELECT ${SECRET_COLUMNS} FROM secrets WHERE workspace_id = $1 AND id = $2`, [workspaceId, id]);
    return r && toSecret(r);
  }

  async loadLiveSecretMaterial(workspaceId: number): Promise<SecretWithCiphertext[]> {
    return (
      await this.read(`SELECT ${SECRET_COLUMNS}, ciphertext FROM secrets WHERE workspace_id = $1 AND deleted_at IS NULL ORDER BY id`, [workspaceId])
    ).map(toSecretWithCiphertext);
  }

  async loadDeletedSecretMaterial(workspaceId: number, limit: number): Promise<SecretWithCiphertext[]> {
    return (
      await this.read(
        `SELECT ${SECRET_COLUMNS}, ciphertext FROM secrets WHERE workspace_id = $1 AND deleted_at IS NOT NULL
         ORDER BY deleted_at DESC, id DESC LIMIT $2`,
        [workspaceId, limit],
      )
    ).map(toSecretWithCiphertext);
  }

  async updateSecret(workspaceId: number, id: number, patch: SecretPatch, audit: Omit<AuditInput, 'targetId'>): Promise<SecretRecord | undefined> {
    const columns: [string, unknown][] = [];
    if (patch.name !== undefined) columns.push(['name', patch.name]);
    if (patch.supportsWeb !== undefined) columns.push(['supports_web', patch.supportsWeb]);
    if (patch.supportsIos !== undefined) columns.push(['supports_ios', patch.supportsIos]);
    if (patch.supportsAndroid !== undefined) columns.push(['supports_android', patch.supportsAndroid]);
    if (patch.expiresAt !== undefined) columns.push(['expires_at', patch.expiresAt]);
    return this.transaction(async (c) => {
      let r: Row | undefined;
      if (columns.length > 0) {
        const set = columns.map(([name], i) => `${name} = $${i + 3}`).join(', ');
        const { rows } = await c.query(
          `UPDATE secrets SET ${set} WHERE workspace_id = $1 AND id = $2 AND deleted_at IS NULL RETURNING ${SECRET_COLUMNS}`,
          [workspaceId, id, ...columns.map(([, value]) => value)],
        );
        r = rows[0];
      } else {
        const { rows } = await c.query(`SELECT ${SECRET_COLUMNS} FROM secrets WHERE workspace_id = $1 AND id = $2 AND deleted_at IS NULL`, [
          workspaceId,
          id,
        ]);
        r = rows[0];
      }
      if (!r) return undefined;
      await this.insertAudit(c, { ...audit, targetId: String(id) });
      if (columns.length > 0) await this.notify(c, { workspaceId, secretId: id, kind: 'updated' });
      return toSecret(r);
    });
  }

  async deleteSecret(
    workspaceId: number,
    id: number,
    at: number,
    reason: 'deleted' | 'expired',
    audit: Omit<AuditInput, 'targetId'>,
  ): Promise<SecretRecord | undefined> {
    return this.transaction(async (c) => {
      const { rows } = await c.query(
        `UPDATE secrets SET deleted_at = $1, deleted_reason = $2 WHERE workspace_id = $3 AND id = $4 AND deleted_at IS NULL
         RETURNING ${SECRET_COLUMNS}`,
        [at, reason, workspaceId, id],
      );
      if (!rows[0]) return undefined;
      await this.insertAudit(c, { ...audit, targetId: String(id) });
      await this.notify(c, { workspaceId, secretId: id, kind: reason });
      return toSecret(rows[0]);
    });
  }

  async listExpiredSecrets(at: number, limit: number): Promise<SecretRecord[]> {
    return (
      await this.read(
        `SELECT ${SECRET_COLUMNS} FROM secrets WHERE deleted_at IS NULL AND expires_at IS NOT NULL AND expires_at <= $1
         ORDER BY expires_at LIMIT $2`,
        [at, limit],
      )
    ).map(toSecret);
  }

  async oneSecretPerKey(): Promise<SecretWithCiphertext[]> {
    return (
      await this.read(`SELECT ${SECRET_COLUMNS}, ciphertext FROM secrets WHERE id IN (SELECT min(id) FROM secrets GROUP BY key_id) ORDER BY id`)
    ).map(toSecretWithCiphertext);
  }

  async listSecretsNotUnderKey(keyId: string, afterId: number, limit: number): Promise<SecretWithCiphertext[]> {
    return (
      await this.read(`SELECT ${SECRET_COLUMNS}, ciphertext FROM secrets WHERE key_id <> $1 AND id > $2 ORDER BY id LIMIT $3`, [keyId, afterId, limit])
    ).map(toSecretWithCiphertext);
  }

  async replaceCiphertext(id: number, expected: Buffer, ciphertext: Buffer): Promise<boolean> {
    return this.transaction(async (c) => {
      const result = await c.query('UPDATE secrets SET ciphertext = $1, key_id = $2 WHERE id = $3 AND ciphertext = $4', [
        ciphertext,
        envelopeKeyId(ciphertext),
        id,
        expected,
      ]);
      return result.rowCount === 1;
    });
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
    const usage = [...merged.values()].sort((a, b) => a.secretId - b.secretId || a.platform.localeCompare(b.platform) || a.minute - b.minute);
    const touched = [...lastVerified.entries()].sort((a, b) => a[0] - b[0]);
    await this.transaction(async (c) => {
      if (usage.length > 0) {
        await c.query(
          `INSERT INTO secret_usage (secret_id, platform, minute, count)
           SELECT * FROM unnest($1::bigint[], $2::text[], $3::bigint[], $4::bigint[])
           ON CONFLICT (secret_id, platform, minute) DO UPDATE SET count = secret_usage.count + excluded.count`,
          [usage.map((u) => u.secretId), usage.map((u) => u.platform), usage.map((u) => u.minute), usage.map((u) => u.count)],
        );
      }
      if (touched.length > 0) {
        await c.query(
          `UPDATE secrets s SET last_verified_at = v.at
           FROM unnest($1::bigint[], $2::bigint[]) AS v(id, at)
           WHERE s.id = v.id AND (s.last_verified_at IS NULL OR s.last_verified_at < v.at)`,
          [touched.map(([id]) => id), touched.map(([, at]) => at)],
        );
      }
    });
  }

  async usageTotals(secretIds: number[], sinceMinute: number): Promise<UsageTotals[]> {
    if (secretIds.length === 0) return [];
    const rows = await this.read(
      `SELECT secret_id, platform, sum(count)::bigint AS count FROM secret_usage
       WHERE secret_id = ANY($1::bigint[]) AND minute >= $2 GROUP BY secret_id, platform`,
      [secretIds, sinceMinute],
    );
    return rows.map((r) => ({ secretId: r.secret_id as number, platform: r.platform as Platform, count: r.count as number }));
  }

  async usageSeries(secretIds: number[], sinceMinute: number): Promise<UsageIncrement[]> {
    if (secretIds.length === 0) return [];
    const rows = await this.read(
      `SELECT secret_id, platform, minute, count FROM secret_usage
       WHERE secret_id = ANY($1::bigint[]) AND minute >= $2 ORDER BY minute`,
      [secretIds, sinceMinute],
    );
    return rows.map((r) => ({
      secretId: r.secret_id as number,
      platform: r.platform as Platform,
      minute: r.minute as number,
      count: r.count as number,
    }));
  }

  async writeAudit(event: AuditInput): Promise<void> {
    await this.transaction((c) => this.insertAudit(c, event));
  }

  async listAudit(query: AuditQuery): Promise<AuditEvent[]> {
    const params: unknown[] = [query.workspaceId];
    const where = ['workspace_id = $1'];
    const add = (clause: (n: string) => string, value: unknown) => {
      params.push(value);
      where.push(clause(`$${params.length}`));
    };
    if (query.since !== undefined) add((n) => `at >= ${n}`, query.since);
    if (query.until !== undefined) add((n) => `at <= ${n}`, query.until);
    if (query.beforeId !== undefined) add((n) => `id < ${n}`, query.beforeId);
    if (query.actions && query.actions.length > 0) add((n) => `action = ANY(${n}::text[])`, query.actions);
    params.push(query.limit);
    const rows = await this.read(`SELECT * FROM audit_events WHERE ${where.join(' AND ')} ORDER BY id DESC LIMIT $${params.length}`, params);
    return rows.map(toAudit);
  }

  async deleteExpiredIdempotency(now: number): Promise<number> {
    return this.transaction(async (c) => (await c.query('DELETE FROM idempotency_keys WHERE expires_at <= $1', [now])).rowCount ?? 0);
  }

  async listIdempotencyRecords(): Promise<IdempotencyRecord[]> {
    return (await this.read('SELECT * FROM idempotency_keys ORDER BY workspace_id, key')).map(toIdempotency);
  }

  async replaceIdempotencyResponse(workspaceId: number, key: string, expected: Buffer, response: Buffer): Promise<boolean> {
    return this.transaction(
      async (c) =>
        (await c.query('UPDATE idempotency_keys SET response = $1 WHERE workspace_id = $2 AND key = $3 AND response = $4', [
          response,
          workspaceId,
          key,
          expected,
        ])).rowCount === 1,
    );
  }
}
