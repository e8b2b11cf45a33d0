import Database from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { StorageUnavailableError } from '../../errors.js';
import { envelopeKeyId } from '../../crypto/keyring.js';
import { AUDIT_INSERT_COLUMNS, type Row, SECRET_COLUMNS, auditInsertValues, toAudit, toIdempotency, toSecret, toSecretWithCiphertext, toToken, toWorkspace, workspaceCreatedEvent } from '../rows.js';
import type {
  AccessToken,
  AuditEvent,
  AuditInput,
  AuditQuery,
  CreateSecretResult,
  NewToken,
  TokenAudit,
  IdempotencyRecord,
  IdempotentCreate,
  NewSecret,
  Platform,
  SecretPatch,
  SecretRecord,
  SecretWithCiphertext,
  Store,
  UsageIncrement,
  UsageTotals,
  Workspace,
} from '../store.js';
import { sqliteMigrations } from './migrations.js';

/** SQLite error codes that mean "the database cannot serve right now", as opposed to a bug. */
const UNAVAILABLE_CODES = /^SQLITE_(BUSY|LOCKED|FULL|READONLY|IOERR|CANTOPEN|CORRUPT|NOTADB|PROTOCOL|PERM|NOMEM)/;

export interface SqliteStoreOptions {
  /** Path of the database file, or ':memory:'. */
  filename: string;
}

export class SqliteStore implements Store {
  readonly kind = 'sqlite' as const;
  private readonly db: Database.Database;

  constructor(options: SqliteStoreOptions) {
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

  /** Runs storage work, turning "database cannot serve" failures into StorageUnavailableError (503). */
  private guard<T>(work: () => T): T {
    try {
      return work();
    } catch (err) {
      const code = (err as { code?: unknown }).code;
      if (typeof code === 'string' && UNAVAILABLE_CODES.test(code)) {
        // SQLite's messages are fixed texts ("database or disk is full"), never bound values.
        throw new StorageUnavailableError(`sqlite: ${code} (${(err as Error).message})`, { cause: err });
      }
      if (err instanceof TypeError && /database connection is not open/.test(err.message)) {
        throw new StorageUnavailableError('sqlite: database closed', { cause: err });
      }
      throw err;
    }
  }

  private async run<T>(work: () => T): Promise<T> {
    return this.guard(work);
  }

  private insertAudit(event: AuditInput): void {
    this.db.prepare(`INSERT INTO audit_events (${AUDIT_INSERT_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`).run(...auditInsertValues(event));
  }


  async migrate(): Promise<void> {
    return this.run(() => {
      // The version is read inside the write lock, so two processes starting together never run one migration twice.
      this.db.transaction(() => {
        const current = this.db.pragma('user_version', { simple: true }) as number;
        for (let v = current; v < sqliteMigrations.length; v++) {
          this.db.exec(sqliteMigrations[v]!);
          this.db.pragma(`user_version = ${v + 1}`);
        }
      }).immediate();
    });
  }

  async close(): Promise<void> {
    if (this.db.open) this.db.close();
  }

  async ping(): Promise<void> {
    return this.run(() => {
      this.db.prepare('SELECT 1').get();
    });
  }

  private insertWorkspace(input: Omit<Workspace, 'id'>): Workspace {
    const info = this.db
      .prepare('INSERT INTO workspaces (app_id, name, default_version, rate_limit, created_at) VALUES (?, ?, ?, ?, ?)')
      .run(input.appId, input.name, input.defaultVersion, input.rateLimit, input.createdAt);
    const id = Number(info.lastInsertRowid);
    this.insertAudit(workspaceCreatedEvent(id, input));
    return { id, ...input };
  }

  async createWorkspace(input: Omit<Workspace, 'id'>): Promise<Workspace> {
    return this.run(() => this.db.transaction(() => this.insertWorkspace(input)).immediate());
  }

  async bootstrapWorkspace(workspace: Omit<Workspace, 'id'>, token: NewToken & { audit: TokenAudit }): Promise<Workspace | undefined> {
    return this.run(() =>
      this.db.transaction(() => {
        const { n } = this.db.prepare('SELECT count(*) AS n FROM workspaces').get() as { n: number };
        if (n > 0) return undefined;
        const created = this.insertWorkspace(workspace);
        const { audit, ...input } = token;
        this.insertToken({ ...input, workspaceId: created.id }, audit);
        return created;
      }).immediate(),
    );
  }

  async listWorkspaces(): Promise<Workspace[]> {
    return this.run(() => this.db.prepare('SELECT * FROM workspaces ORDER BY id').all().map((r) => toWorkspace(r as Row)));
  }

  async findWorkspaceByAppId(appId: string): Promise<Workspace | undefined> {
    return this.run(() => {
      const r = this.db.prepare('SELECT * FROM workspaces WHERE app_id = ?').get(appId) as Row | undefined;
      return r && toWorkspace(r);
    });
  }


  private insertToken(input: NewToken & { workspaceId: number }, audit: TokenAudit): AccessToken {
    const info = this.db
      .prepare('INSERT INTO access_tokens (workspace_id, name, token_hash, scopes, created_at) VALUES (?, ?, ?, ?, ?)')
      .run(input.workspaceId, input.name, input.tokenHash, input.scopes.join(' '), input.createdAt);
    const id = Number(info.lastInsertRowid);
    this.insertAudit({ ...audit, workspaceId: input.workspaceId, targetId: String(id) });
    return { id, workspaceId: input.workspaceId, name: input.name, scopes: [...input.scopes], createdAt: input.createdAt, revokedAt: null };
  }

  async createToken(input: NewToken & { workspaceId: number }, audit: TokenAudit): Promise<AccessToken> {
    return this.run(() => this.db.transaction(() => this.insertToken(input, audit)).immediate());
  }

  async findTokenByHash(tokenHash: Buffer): Promise<{ token: AccessToken; workspace: Workspace } | undefined> {
    return this.run(() => {
      const t = this.db
        .prepare('SELECT * FROM access_tokens WHERE token_hash = ? AND revoked_at IS NULL')
        .get(tokenHash) as Row | undefined;
      if (!t) return undefined;
      const w = this.db.prepare('SELECT * FROM workspaces WHERE id = ?').get(t.workspace_id) as Row;
      return { token: toToken(t), workspace: toWorkspace(w) };
    });
  }

  async listTokens(workspaceId?: number): Promise<AccessToken[]> {
    return this.run(() => {
      const rows =
        workspaceId === undefined
          ? this.db.prepare('SELECT * FROM access_tokens ORDER BY id').all()
          : this.db.prepare('SELECT * FROM access_tokens WHERE workspace_id = ? ORDER BY id').all(workspaceId);
      return rows.map((r) => toToken(r as Row));
    });
  }

  async revokeToken(
    id: number,
    at: number,
    audit: Omit<AuditInput, 'targetId' | 'workspaceId'>,
  ): Promise<AccessToken | undefined> {
    return this.run(() =>
      this.db.transaction(() => {
        const info = this.db.prepare('UPDATE access_tokens SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL').run(at, id);
        const r = this.db.prepare('SELECT * FROM access_tokens WHERE id = ?').get(id) as Row | undefined;
        if (!r) return undefined;
        const token = toToken(r);
        if (info.changes === 1) this.insertAudit({ ...audit, workspaceId: token.workspaceId, targetId: String(id) });
        return token;
      }).immediate(),
    );
  }

  async createSecret(
    input: NewSecret,
    maxLive: number,
    seal: (secretId: number) => Buffer,
    audit: Omit<AuditInput, 'targetId'>,
    idempotency?: IdempotentCreate,
  ): Promise<CreateSecretResult> {
    return this.run(() =>
      this.db.transaction((): CreateSecretResult => {
        // The immediate transaction holds the write lock, so the lookup and the insert below cannot interleave
        // with another create for the same key, in this process or another.
        if (idempotency) {
          this.db
            .prepare('DELETE FROM idempotency_keys WHERE workspace_id = ? AND key = ? AND expires_at <= ?')
            .run(input.workspaceId, idempotency.key, idempotency.now);
          const existing = this.db
            .prepare('SELECT * FROM idempotency_keys WHERE workspace_id = ? AND key = ?')
            .get(input.workspaceId, idempotency.key) as Row | undefined;
          if (existing) return { ok: false, reason: 'idempotent_replay', record: toIdempotency(existing) };
        }
        const { n } = this.db
          .prepare('SELECT count(*) AS n FROM secrets WHERE workspace_id = ? AND deleted_at IS NULL')
          .get(input.workspaceId) as { n: number };
        if (n >= maxLive) return { ok: false, reason: 'limit_reached' };
        const info = this.db
          .prepare(
            `INSERT INTO secrets (workspace_id, name, supports_web, supports_ios, supports_android, ciphertext, key_id, created_at, expires_at)
             VALUES (?, ?, ?, ?, ?, x'', '', ?, ?)`,
          )
          .run(
            input.workspaceId,
            input.name,
            input.supportsWeb ? 1 : 0,
            input.supportsIos ? 1 : 0,
            input.supportsAndroid ? 1 : 0,
            input.createdAt,
            input.expiresAt,
          );
        const id = Number(info.lastInsertRowid);
        const ciphertext = seal(id);
        this.db.prepare('UPDATE secrets SET ciphertext = ?, key_id = ? WHERE id = ?').run(ciphertext, envelopeKeyId(ciphertext), id);
        this.insertAudit({ ...audit, targetId: String(id) });
        const secret: SecretRecord = { id, ...input, deletedAt: null, deletedReason: null, lastVerifiedAt: null };
        if (idempotency) {
          this.db
            .prepare('INSERT INTO idempotency_keys (workspace_id, key, request_hash, response, expires_at) VALUES (?, ?, ?, ?, ?)')
            .run(input.workspaceId, idempotency.key, idempotency.requestHash, idempotency.seal(secret), idempotency.expiresAt);
        }
        return { ok: true, secret };
      }).immediate(),
    );
  }

  async listSecrets(workspaceId: number): Promise<SecretRecord[]> {
    return this.run(() =>
      this.db
        .prepare(`SELECT ${SECRET_COLUMNS} FROM secrets WHERE workspace_id = ? AND deleted_at IS NULL ORDER BY id`)
        .all(workspaceId)
        .map((r) => toSecret(r as Row)),
    );
  }

  async getSecret(workspaceId: number, id: number): Promise<SecretRecord | undefined> {
    return this.run(() => {
      const r = this.db.prepare(`SELECT ${SECRET_COLUMNS} FROM secrets WHERE workspace_id = ? AND id = ?`).get(workspaceId, id) as
        | Row
        | undefined;
      return r && toSecret(r);
    });
  }

  async listAllLiveSecrets(): Promise<SecretRecord[]> {
    return this.run(() =>
      this.db
        .prepare(`SELECT ${SECRET_COLUMNS} FROM secrets WHERE deleted_at IS NULL ORDER BY id`)
        .all()
        .map((r) => toSecret(r as Row)),
    );
  }

  async loadLiveSecretMaterial(workspaceId: number): Promise<SecretWithCiphertext[]> {
    return this.run(() =>
      this.db
        .prepare(`SELECT ${SECRET_COLUMNS}, ciphertext FROM secrets WHERE workspace_id = ? AND deleted_at IS NULL ORDER BY id`)
        .all(workspaceId)
        .map((r) => toSecretWithCiphertext(r as Row)),
    );
  }

  async loadDeletedSecretMaterial(workspaceId: number, limit: number): Promise<SecretWithCiphertext[]> {
    return this.run(() =>
      this.db
        .prepare(
          `SELECT ${SECRET_COLUMNS}, ciphertext FROM secrets WHERE workspace_id = ? AND deleted_at IS NOT NULL ORDER BY deleted_at DESC, id DESC LIMIT ?`,
        )
        .all(workspaceId, limit)
        .map((r) => toSecretWithCiphertext(r as Row)),
    );
  }

  async updateSecret(
    workspaceId: number,
    id: number,
    patch: SecretPatch,
    audit: Omit<AuditInput, 'targetId'>,
  ): Promise<SecretRecord | undefined> {
    const columns: Record<string, unknown> = {};
    if (patch.name !== undefined) columns.name = patch.name;
    if (patch.supportsWeb !== undefined) columns.supports_web = patch.supportsWeb ? 1 : 0;
    if (patch.supportsIos !== undefined) columns.supports_ios = patch.supportsIos ? 1 : 0;
    if (patch.supportsAndroid !== undefined) columns.supports_android = patch.supportsAndroid ? 1 : 0;
    if (patch.expiresAt !== undefined) columns.expires_at = patch.expiresAt;
    return this.run(() =>
      this.db.transaction(() => {
        const names = Object.keys(columns);
        if (names.length > 0) {
          const info = this.db
            .prepare(
              `UPDATE secrets SET ${names.map((n) => `${n} = @${n}`).join(', ')} WHERE workspace_id = @workspace_id AND id = @id AND deleted_at IS NULL`,
            )
            .run({ ...columns, workspace_id: workspaceId, id });
          if (info.changes === 0) return undefined;
        }
        const r = this.db
          .prepare(`SELECT ${SECRET_COLUMNS} FROM secrets WHERE workspace_id = ? AND id = ? AND deleted_at IS NULL`)
          .get(workspaceId, id) as Row | undefined;
        if (!r) return undefined;
        this.insertAudit({ ...audit, targetId: String(id) });
        return toSecret(r);
      }).immediate(),
    );
  }

  async deleteSecret(
    workspaceId: number,
    id: number,
    at: number,
    reason: 'deleted' | 'expired',
    audit: Omit<AuditInput, 'targetId'>,
  ): Promise<SecretRecord | undefined> {
    return this.run(() =>
      this.db.transaction(() => {
        const info = this.db
          .prepare('UPDATE secrets SET deleted_at = ?, deleted_reason = ? WHERE workspace_id = ? AND id = ? AND deleted_at IS NULL')
          .run(at, reason, workspaceId, id);
        if (info.changes === 0) return undefined;
        this.insertAudit({ ...audit, targetId: String(id) });
        const r = this.db.prepare(`SELECT ${SECRET_COLUMNS} FROM secrets WHERE id = ?`).get(id) as Row;
        return toSecret(r);
      }).immediate(),
    );
  }

  async listExpiredSecrets(at: number, limit: number): Promise<SecretRecord[]> {
    return this.run(() =>
      this.db
        .prepare(
          `SELECT ${SECRET_COLUMNS} FROM secrets WHERE deleted_at IS NULL AND expires_at IS NOT NULL AND expires_at <= ? ORDER BY expires_at LIMIT ?`,
        )
        .all(at, limit)
        .map((r) => toSecret(r as Row)),
    );
  }

  async oneSecretPerKey(): Promise<SecretWithCiphertext[]> {
    return this.run(() =>
      this.db
        .prepare(`SELECT ${SECRET_COLUMNS}, ciphertext FROM secrets WHERE id IN (SELECT min(id) FROM secrets GROUP BY key_id) ORDER BY id`)
        .all()
        .map((r) => toSecretWithCiphertext(r as Row)),
    );
  }

  async listSecretsNotUnderKey(keyId: string, afterId: number, limit: number): Promise<SecretWithCiphertext[]> {
    return this.run(() =>
      this.db
        .prepare(`SELECT ${SECRET_COLUMNS}, ciphertext FROM secrets WHERE key_id <> ? AND id > ? ORDER BY id LIMIT ?`)
        .all(keyId, afterId, limit)
        .map((r) => toSecretWithCiphertext(r as Row)),
    );
  }

  async replaceCiphertext(id: number, expected: Buffer, ciphertext: Buffer): Promise<boolean> {
    return this.run(
      () =>
        this.db
          .prepare('UPDATE secrets SET ciphertext = ?, key_id = ? WHERE id = ? AND ciphertext = ?')
          .run(ciphertext, envelopeKeyId(ciphertext), id, expected).changes === 1,
    );
  }

  async recordUsage(increments: UsageIncrement[], lastVerified: Map<number, number>): Promise<void> {
    return this.run(() =>
      this.db.transaction(() => {
        const add = this.db.prepare(
          `INSERT INTO secret_usage (secret_id, platform, minute, count) VALUES (?, ?, ?, ?)
           ON CONFLICT (secret_id, platform, minute) DO UPDATE SET count = count + excluded.count`,
        );
        for (const u of increments) add.run(u.secretId, u.platform, u.minute, u.count);
        const touch = this.db.prepare(
          'UPDATE secrets SET last_verified_at = ? WHERE id = ? AND (last_verified_at IS NULL OR last_verified_at < ?)',
        );
        for (const [secretId, at] of lastVerified) touch.run(at, secretId, at);
      }).immediate(),
    );
  }

  async usageTotals(secretIds: number[], sinceMinute: number): Promise<UsageTotals[]> {
    if (secretIds.length === 0) return [];
    return this.run(() =>
      this.db
        .prepare(
          `SELECT secret_id, platform, sum(count) AS count FROM secret_usage
           WHERE secret_id IN (${secretIds.map(() => '?').join(',')}) AND minute >= ? GROUP BY secret_id, platform`,
        )
        .all(...secretIds, sinceMinute)
        .map((r) => {
          const row = r as Row;
          return { secretId: row.secret_id as number, platform: row.platform as Platform, count: row.count as number };
        }),
    );
  }

  async usageSeries(secretIds: number[], sinceMinute: number): Promise<UsageIncrement[]> {
    if (secretIds.length === 0) return [];
    return this.run(() =>
      this.db
        .prepare(
          `SELECT secret_id, platform, minute, count FROM secret_usage
           WHERE secret_id IN (${secretIds.map(() => '?').join(',')}) AND minute >= ? ORDER BY minute`,
        )
        .all(...secretIds, sinceMinute)
        .map((r) => {
          const row = r as Row;
          return {
            secretId: row.secret_id as number,
            platform: row.platform as Platform,
            minute: row.minute as number,
            count: row.count as number,
          };
        }),
    );
  }

  async writeAudit(event: AuditInput): Promise<void> {
    return this.run(() => this.insertAudit(event));
  }

  async listAudit(query: AuditQuery): Promise<AuditEvent[]> {
    const where = ['workspace_id = @workspaceId'];
    const params: Record<string, unknown> = { workspaceId: query.workspaceId, limit: query.limit };
    if (query.since !== undefined) {
      where.push('at >= @since');
      params.since = query.since;
    }
    if (query.until !== undefined) {
      where.push('at <= @until');
      params.until = query.until;
    }
    if (query.beforeId !== undefined) {
      where.push('id < @beforeId');
      params.beforeId = query.beforeId;
    }
    if (query.actions && query.actions.length > 0) {
      where.push(`action IN (${query.actions.map((_, i) => `@a${i}`).join(',')})`);
      query.actions.forEach((a, i) => (params[`a${i}`] = a));
    }
    return this.run(() =>
      this.db
        .prepare(`SELECT * FROM audit_events WHERE ${where.join(' AND ')} ORDER BY id DESC LIMIT @limit`)
        .all(params)
        .map((r) => toAudit(r as Row)),
    );
  }

  async deleteExpiredIdempotency(now: number): Promise<number> {
    return this.run(() => this.db.prepare('DELETE FROM idempotency_keys WHERE expires_at <= ?').run(now).changes);
  }

  async listIdempotencyRecords(): Promise<IdempotencyRecord[]> {
    return this.run(() =>
      this.db
        .prepare('SELECT * FROM idempotency_keys ORDER BY workspace_id, key')
        .all()
        .map((r) => toIdempotency(r as Row)),
    );
  }

  async replaceIdempotencyResponse(workspaceId: number, key: string, expected: Buffer, response: Buffer): Promise<boolean> {
    return this.run(
      () =>
        this.db
          .prepare('UPDATE idempotency_keys SET response = ? WHERE workspace_id = ? AND key = ? AND response = ?')
          .run(response, workspaceId, key, expected).changes === 1,
    );
  }
}
