import { envelopeKeyId } from '../crypto/keyring.js';
import type {
  AccessToken,
  AuditEvent,
  AuditInput,
  AuditQuery,
  ClaimedDelivery,
  CreateSecretResult,
  DeliveryAttempt,
  DeliveryAttemptRecord,
  DeliveryClaim,
  DeliveryOutcome,
  DueSecret,
  IdempotencyRecord,
  IdempotentCreate,
  LastUsage,
  NewSecret,
  NewToken,
  Platform,
  SecretChange,
  SecretPatch,
  SecretRecord,
  SecretWithCiphertext,
  RotationPolicy,
  RotationRecord,
  RotationTransition,
  StartRotation,
  StartRotationResult,
  TokenAudit,
  UsageIncrement,
  UsageTotals,
  NewWebhookEndpoint,
  WebhookEndpointRecord,
  WebhookSecretCiphertext,
  Workspace,
} from '../domain/model.js';
import { OPEN_ROTATION_STATES, webhookEventTypeOf } from '../domain/model.js';
import type { Store } from '../domain/ports.js';
import {
  AUDIT_INSERT_COLUMNS,
  type Row,
  SECRET_COLUMNS,
  auditInsertValues,
  toAudit,
  toIdempotency,
  toRotation,
  toRotationPolicy,
  toSecret,
  toSecretWithCiphertext,
  toToken,
  toWorkspace,
  toWebhookEndpoint,
  WEBHOOK_ENDPOINT_COLUMNS,
  workspaceCreatedEvent,
} from './rows.js';

/** One statement inside a transaction; SQL is written with `?` placeholders, as everywhere in this file. */
export interface SqlTx {
  /** Rows of a SELECT or of a statement with RETURNING. */
  query(sql: string, params?: unknown[]): Promise<Row[]>;
  /** Number of rows a statement changed. */
  run(sql: string, params?: unknown[]): Promise<number>;
}

/** PostgreSQL numbers its placeholders: `?` → `$1`, `$2`, … in order. The shared SQL never holds a literal `?`. */
export function numbered(sql: string): string {
  let n = 0;
  return sql.replace(/\?/g, () => `$${++n}`);
}

const placeholders = (n: number) => Array.from({ length: n }, () => '?').join(', ');

/** Booleans are bound as 1/0: SQLite has no boolean, and PostgreSQL reads '1'/'0' into a BOOLEAN parameter. */
const bit = (b: boolean) => (b ? 1 : 0);

/** The states of an open rotation, as an SQL list (constants, never user input). */
const OPEN_STATES = OPEN_ROTATION_STATES.map((state) => `'${state}'`).join(', ');

/** Live secrets of workspaces with a max age, created at least that long before the first parameter. */
const DUE_FROM = `FROM secrets s JOIN rotation_policies p ON p.workspace_id = s.workspace_id
  LEFT JOIN secret_rotation_due d ON d.secret_id = s.id
  WHERE s.deleted_at IS NULL AND p.max_age_days IS NOT NULL AND s.created_at + p.max_age_days * 86400 <= ?`;

const PATCH_COLUMNS: Record<keyof SecretPatch, string> = {
  name: 'name',
  supportsWeb: 'supports_web',
  supportsIos: 'supports_ios',
  supportsAndroid: 'supports_android',
  expiresAt: 'expires_at',
};

/**
 * Every statement both SQL adapters run, written once. An adapter supplies only what differs between the
 * databases: how a transaction runs, the locks that serialise bootstrap and creates, how a change reaches other
 * nodes, bulk usage upserts and migrations.
 */
export abstract class SqlStore implements Store {
  abstract readonly kind: 'sqlite' | 'postgres';
  private readonly listeners = new Set<(change: SecretChange) => void>();
  private readonly queuedListeners = new Set<() => void>();
  /** Per running transaction: whether it queued webhook deliveries (SQLite reuses one tx object, one at a time). */
  private readonly queuing = new WeakMap<SqlTx, { queued: boolean }>();

  abstract migrate(): Promise<void>;
  abstract close(): Promise<void>;
  abstract recordUsage(increments: UsageIncrement[], lastVerified: Map<number, number>): Promise<void>;
  protected abstract read(sql: string, params?: unknown[]): Promise<Row[]>;
  /** Runs `work` in one transaction; may run it again when it failed before COMMIT. */
  protected abstract transaction<T>(work: (tx: SqlTx) => Promise<T>): Promise<T>;
  /**
   * What a SELECT appends to lock the rows it picks and skip those another transaction holds (PostgreSQL: FOR UPDATE
   * SKIP LOCKED); empty where a write transaction already holds the whole database (SQLite).
   */
  protected abstract readonly skipLocked: string;
  /** Serialises first-start bootstrap (scope 'bootstrap') or the creates of one workspace (its id). */
  protected abstract serialize(tx: SqlTx, scope: 'bootstrap' | number): Promise<void>;
  /** Tells other nodes of a change as part of the transaction (so only when it commits), where the database can. */
  protected abstract sendToOtherNodes(tx: SqlTx, change: SecretChange): Promise<void>;

  async ping(): Promise<void> {
    await this.read('SELECT 1');
  }

  onChange(listener: (change: SecretChange) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Every write transaction of this class: once it commits, the delivery worker hears of the deliveries it queued. */
  private async write<T>(work: (tx: SqlTx) => Promise<T>): Promise<T> {
    const state = { queued: false };
    const result = await this.transaction((tx) => {
      state.queued = false;
      this.queuing.set(tx, state);
      return work(tx);
    });
    if (state.queued) {
      for (const listener of this.queuedListeners) {
        try {
          listener();
        } catch {
          // The deliveries are committed; the worker's poll finds them anyway.
        }
      }
    }
    return result;
  }

  onDeliveriesQueued(listener: () => void): () => void {
    this.queuedListeners.add(listener);
    return () => this.queuedListeners.delete(listener);
  }

  /** A transaction whose changes reach the listeners once it has committed, and never when it rolled back. */
  private async mutate<T>(work: (tx: SqlTx, emit: (change: SecretChange) => Promise<void>) => Promise<T>): Promise<T> {
    let changes: SecretChange[] = [];
    const result = await this.write((tx) => {
      changes = [];
      return work(tx, (change) => {
        changes.push(change);
        return this.sendToOtherNodes(tx, change);
      });
    });
    for (const change of changes) {
      for (const listener of this.listeners) {
        try {
          listener(change);
        } catch {
          // The change is committed; a listener that fails is covered by the caches' maximum staleness.
        }
      }
    }
    return result;
  }

  /** The audit record, and (the outbox) one pending delivery per live endpoint subscribed to the event it raises. */
  private async insertAudit(tx: SqlTx, event: AuditInput): Promise<void> {
    const id = await this.insertId(
      tx,
      `INSERT INTO audit_events (${AUDIT_INSERT_COLUMNS}) VALUES (${placeholders(9)})`,
      auditInsertValues(event),
    );
    const type = webhookEventTypeOf(event.action);
    if (type === undefined) return;
    const queued = await tx.run(
      `INSERT INTO webhook_deliveries (endpoint_id, audit_id, state, attempts, claim, created_at, next_attempt_at)
       SELECT e.id, CAST(? AS BIGINT), 'pending', 0, 0, CAST(? AS BIGINT), CAST(? AS BIGINT) FROM webhook_endpoints e
       WHERE e.workspace_id = ? AND e.deleted_at IS NULL
         AND EXISTS (SELECT 1 FROM webhook_endpoint_events t WHERE t.endpoint_id = e.id AND t.event_type IN ('*', ?))`,
      [id, event.at * 1000, event.at * 1000, event.workspaceId, type],
    );
    const state = this.queuing.get(tx);
    if (queued > 0 && state) state.queued = true;
  }

  private async insertId(tx: SqlTx, sql: string, params: unknown[]): Promise<number> {
    const [row] = await tx.query(`${sql} RETURNING id`, params);
    return Number(row!.id);
  }

  private async insertWorkspace(tx: SqlTx, input: Omit<Workspace, 'id'>): Promise<Workspace> {
    const id = await this.insertId(
      tx,
      'INSERT INTO workspaces (app_id, name, default_version, rate_limit, created_at) VALUES (?, ?, ?, ?, ?)',
      [input.appId, input.name, input.defaultVersion, input.rateLimit, input.createdAt],
    );
    await this.insertAudit(tx, workspaceCreatedEvent(id, input));
    return { id, ...input };
  }

  async createWorkspace(input: Omit<Workspace, 'id'>): Promise<Workspace> {
    return this.write((tx) => this.insertWorkspace(tx, input));
  }

  async bootstrapWorkspace(
    workspace: Omit<Workspace, 'id'>,
    token: NewToken & { audit: TokenAudit },
  ): Promise<Workspace | undefined> {
    return this.write(async (tx) => {
      await this.serialize(tx, 'bootstrap');
      const [counted] = await tx.query('SELECT count(*) AS n FROM workspaces');
      if (Number(counted!.n) > 0) return undefined;
      const created = await this.insertWorkspace(tx, workspace);
      const { audit, ...input } = token;
      await this.insertToken(tx, { ...input, workspaceId: created.id }, audit);
      return created;
    });
  }

  async listWorkspaces(): Promise<Workspace[]> {
    return (await this.read('SELECT * FROM workspaces ORDER BY id')).map(toWorkspace);
  }

  async findWorkspaceByAppId(appId: string): Promise<Workspace | undefined> {
    const [r] = await this.read('SELECT * FROM workspaces WHERE app_id = ?', [appId]);
    return r && toWorkspace(r);
  }

  private async insertToken(tx: SqlTx, input: NewToken & { workspaceId: number }, audit: TokenAudit): Promise<AccessToken> {
    const id = await this.insertId(
      tx,
      'INSERT INTO access_tokens (workspace_id, name, token_hash, scopes, created_at) VALUES (?, ?, ?, ?, ?)',
      [input.workspaceId, input.name, input.tokenHash, input.scopes.join(' '), input.createdAt],
    );
    await this.insertAudit(tx, { ...audit, workspaceId: input.workspaceId, targetId: String(id) });
    return {
      id,
      workspaceId: input.workspaceId,
      name: input.name,
      scopes: [...input.scopes],
      createdAt: input.createdAt,
      revokedAt: null,
    };
  }

  async createToken(input: NewToken & { workspaceId: number }, audit: TokenAudit): Promise<AccessToken> {
    return this.write((tx) => this.insertToken(tx, input, audit));
  }

  async findTokenByHash(tokenHash: Buffer): Promise<{ token: AccessToken; workspace: Workspace } | undefined> {
    const [r] = await this.read(
      `SELECT t.id AS t_id, t.workspace_id AS t_workspace_id, t.name AS t_name, t.scopes AS t_scopes,
              t.created_at AS t_created_at, t.revoked_at AS t_revoked_at, w.*
       FROM access_tokens t JOIN workspaces w ON w.id = t.workspace_id
       WHERE t.token_hash = ? AND t.revoked_at IS NULL`,
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
        : await this.read('SELECT * FROM access_tokens WHERE workspace_id = ? ORDER BY id', [workspaceId]);
    return rows.map(toToken);
  }

  async revokeToken(id: number, at: number, audit: TokenAudit): Promise<AccessToken | undefined> {
    return this.write(async (tx) => {
      const changed = await tx.run('UPDATE access_tokens SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL', [at, id]);
      const [r] = await tx.query('SELECT * FROM access_tokens WHERE id = ?', [id]);
      if (!r) return undefined;
      const token = toToken(r);
      if (changed === 1) await this.insertAudit(tx, { ...audit, workspaceId: token.workspaceId, targetId: String(id) });
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
    return this.mutate(async (tx, emit): Promise<CreateSecretResult> => {
      // Creates of one workspace run one at a time, so neither the Idempotency-Key lookup nor the count can race.
      await this.serialize(tx, input.workspaceId);
      const kept = idempotency && (await this.findKept(tx, input.workspaceId, idempotency));
      if (kept) return { ok: false, reason: 'idempotent_replay', record: kept };
      if ((await this.countLive(tx, input.workspaceId)) >= maxLive) return { ok: false, reason: 'limit_reached' };
      const secret = await this.insertSecret(tx, emit, input, seal);
      await this.insertAudit(tx, { ...audit, targetId: String(secret.id) });
      if (idempotency) await this.keep(tx, input.workspaceId, idempotency, idempotency.seal(secret));
      return { ok: true, secret };
    });
  }

  private async findKept(
    tx: SqlTx,
    workspaceId: number,
    idempotency: { key: string; now: number },
  ): Promise<IdempotencyRecord | undefined> {
    await tx.run('DELETE FROM idempotency_keys WHERE workspace_id = ? AND key = ? AND expires_at <= ?', [
      workspaceId,
      idempotency.key,
      idempotency.now,
    ]);
    const [kept] = await tx.query('SELECT * FROM idempotency_keys WHERE workspace_id = ? AND key = ?', [
      workspaceId,
      idempotency.key,
    ]);
    return kept && toIdempotency(kept);
  }

  private async keep(
    tx: SqlTx,
    workspaceId: number,
    idempotency: { key: string; tokenId: number | null; requestHash: Buffer; expiresAt: number },
    response: Buffer,
  ): Promise<void> {
    await tx.run(
      'INSERT INTO idempotency_keys (workspace_id, key, token_id, request_hash, response, expires_at) VALUES (?, ?, ?, ?, ?, ?)',
      [workspaceId, idempotency.key, idempotency.tokenId, idempotency.requestHash, response, idempotency.expiresAt],
    );
  }

  private async countLive(tx: SqlTx, workspaceId: number): Promise<number> {
    const [counted] = await tx.query('SELECT count(*) AS n FROM secrets WHERE workspace_id = ? AND deleted_at IS NULL', [
      workspaceId,
    ]);
    return Number(counted!.n);
  }

  private async insertSecret(
    tx: SqlTx,
    emit: (change: SecretChange) => Promise<void>,
    input: NewSecret,
    seal: (secretId: number) => Buffer,
  ): Promise<SecretRecord> {
    // The row exists before its ciphertext, which binds the row's id as associated data.
    const id = await this.insertId(
      tx,
      `INSERT INTO secrets (workspace_id, name, supports_web, supports_ios, supports_android, ciphertext, key_id, created_at, expires_at)
       VALUES (?, ?, ?, ?, ?, ?, '', ?, ?)`,
      [
        input.workspaceId,
        input.name,
        bit(input.supportsWeb),
        bit(input.supportsIos),
        bit(input.supportsAndroid),
        Buffer.alloc(0),
        input.createdAt,
        input.expiresAt,
      ],
    );
    const ciphertext = seal(id);
    await tx.run('UPDATE secrets SET ciphertext = ?, key_id = ? WHERE id = ?', [ciphertext, envelopeKeyId(ciphertext), id]);
    await emit({ workspaceId: input.workspaceId, secretId: id, kind: 'created' });
    return { id, ...input, deletedAt: null, deletedReason: null, lastVerifiedAt: null };
  }

  async startRotation(input: StartRotation): Promise<StartRotationResult> {
    const { workspaceId, fromSecretId } = input.rotation;
    return this.mutate(async (tx, emit): Promise<StartRotationResult> => {
      await this.serialize(tx, workspaceId);
      const kept = input.idempotency && (await this.findKept(tx, workspaceId, input.idempotency));
      if (kept) return { ok: false, reason: 'idempotent_replay', record: kept };
      const [oldRow] = await tx.query(
        `SELECT ${SECRET_COLUMNS} FROM secrets WHERE workspace_id = ? AND id = ? AND deleted_at IS NULL`,
        [workspaceId, fromSecretId],
      );
      if (!oldRow) return { ok: false, reason: 'secret_not_found' };
      const open = await tx.query(
        `SELECT id FROM rotations WHERE workspace_id = ? AND state IN (${OPEN_STATES}) AND (from_secret_id = ? OR to_secret_id = ?)`,
        [workspaceId, fromSecretId, fromSecretId],
      );
      if (open.length > 0) return { ok: false, reason: 'in_progress' };
      if (input.byPolicy) {
        const [due] = await tx.query('SELECT rotation_id FROM secret_rotation_due WHERE secret_id = ?', [fromSecretId]);
        if (!due || due.rotation_id !== null) return { ok: false, reason: 'in_progress' };
      }
      if ((await this.countLive(tx, workspaceId)) >= input.maxLive) return { ok: false, reason: 'limit_reached' };
      const old = toSecret(oldRow);
      const successor = await this.insertSecret(tx, emit, input.successor(old), input.seal);
      const [row] = await tx.query(
        `INSERT INTO rotations (workspace_id, from_secret_id, to_secret_id, idle_for, deadline, state, overdue, created_at, updated_at,
                                deliver, delivery_next_at_ms)
         VALUES (?, ?, ?, ?, ?, 'rolling_out', ?, ?, ?, ?, ?) RETURNING *`,
        [
          workspaceId,
          fromSecretId,
          successor.id,
          input.rotation.idleFor,
          input.rotation.deadline,
          bit(false),
          input.rotation.createdAt,
          input.rotation.createdAt,
          bit(input.rotation.deliver),
          input.rotation.deliver ? input.rotation.createdAtMs : null,
        ],
      );
      const rotation = toRotation(row!);
      if (input.byPolicy)
        await tx.run('UPDATE secret_rotation_due SET rotation_id = ? WHERE secret_id = ?', [rotation.id, fromSecretId]);
      for (const event of input.audit(old, successor, rotation)) await this.insertAudit(tx, event);
      if (input.idempotency)
        await this.keep(tx, workspaceId, input.idempotency, input.idempotency.seal(rotation, successor, old));
      return { ok: true, rotation, successor, old };
    });
  }

  async listRotations(workspaceId: number): Promise<RotationRecord[]> {
    return (await this.read('SELECT * FROM rotations WHERE workspace_id = ? ORDER BY id DESC', [workspaceId])).map(toRotation);
  }

  async getRotation(workspaceId: number, id: number): Promise<RotationRecord | undefined> {
    const [r] = await this.read('SELECT * FROM rotations WHERE workspace_id = ? AND id = ?', [workspaceId, id]);
    return r && toRotation(r);
  }

  async openRotationsOf(workspaceId: number, secretId: number): Promise<RotationRecord[]> {
    const sql = `SELECT * FROM rotations WHERE workspace_id = ? AND state IN (${OPEN_STATES}) AND (from_secret_id = ? OR to_secret_id = ?)
                 ORDER BY id`;
    return (await this.read(sql, [workspaceId, secretId, secretId])).map(toRotation);
  }

  async listOpenRotations(afterId: number, limit: number): Promise<RotationRecord[]> {
    const sql = `SELECT * FROM rotations WHERE state IN (${OPEN_STATES}) AND id > ? ORDER BY id LIMIT ?`;
    return (await this.read(sql, [afterId, limit])).map(toRotation);
  }

  async countOverdueRotations(): Promise<number> {
    const [r] = await this.read(`SELECT count(*) AS n FROM rotations WHERE state IN (${OPEN_STATES}) AND overdue = ?`, [
      bit(true),
    ]);
    return Number(r!.n);
  }

  async transitionRotation(step: RotationTransition): Promise<RotationRecord | undefined> {
    return this.mutate(async (tx, emit) => {
      const [r] = await tx.query(
        `UPDATE rotations SET state = ?, overdue = ?, completed_at = ?, updated_at = ?
         WHERE workspace_id = ? AND id = ? AND state = ? AND overdue = ? RETURNING *`,
        [
          step.next.state,
          bit(step.next.overdue),
          step.next.completedAt,
          step.next.updatedAt,
          step.workspaceId,
          step.id,
          step.expected.state,
          bit(step.expected.overdue),
        ],
      );
      if (!r) return undefined;
      await this.insertAudit(tx, step.audit);
      if (step.retire)
        await this.retireTx(tx, emit, step.workspaceId, step.retire.secretId, step.next.updatedAt, 'deleted', step.retire.audit);
      return toRotation(r);
    });
  }

  async listDueDeliveries(nowMs: number, limit: number): Promise<RotationRecord[]> {
    const sql = `SELECT * FROM rotations WHERE state IN (${OPEN_STATES}) AND delivery_next_at_ms IS NOT NULL AND delivery_next_at_ms <= ?
                 AND (delivery_claim IS NULL OR delivery_claimed_until_ms <= ?) ORDER BY id LIMIT ?`;
    return (await this.read(sql, [nowMs, nowMs, limit])).map(toRotation);
  }

  async claimDelivery(claim: DeliveryClaim, nowMs: number, untilMs: number): Promise<RotationRecord | undefined> {
    return this.transaction(async (tx) => {
      const [r] = await tx.query(
        `UPDATE rotations SET delivery_claim = ?, delivery_claimed_until_ms = ?
         WHERE workspace_id = ? AND id = ? AND state IN (${OPEN_STATES}) AND delivery_next_at_ms IS NOT NULL
         AND delivery_next_at_ms <= ? AND (delivery_claim IS NULL OR delivery_claimed_until_ms <= ?) RETURNING *`,
        [claim.claim, untilMs, claim.workspaceId, claim.rotationId, nowMs, nowMs],
      );
      return r && toRotation(r);
    });
  }

  async finishDelivery(claim: DeliveryClaim, outcome: DeliveryOutcome): Promise<boolean> {
    return this.transaction(async (tx) => {
      const changed = outcome.delivered
        ? await tx.run(
            `UPDATE rotations SET delivered_at = ?, delivery_next_at_ms = NULL, delivery_claim = NULL, delivery_claimed_until_ms = NULL
             WHERE workspace_id = ? AND id = ? AND delivery_claim = ?`,
            [outcome.at, claim.workspaceId, claim.rotationId, claim.claim],
          )
        : await tx.run(
            `UPDATE rotations SET delivery_attempts = delivery_attempts + 1, delivery_next_at_ms = ?, delivery_claim = NULL,
             delivery_claimed_until_ms = NULL WHERE workspace_id = ? AND id = ? AND delivery_claim = ?`,
            [outcome.nextAtMs, claim.workspaceId, claim.rotationId, claim.claim],
          );
      if (changed !== 1) return false;
      await this.insertAudit(tx, outcome.audit);
      return true;
    });
  }

  async releaseDelivery(claim: DeliveryClaim): Promise<void> {
    await this.transaction((tx) =>
      tx.run(
        `UPDATE rotations SET delivery_claim = NULL, delivery_claimed_until_ms = NULL
         WHERE workspace_id = ? AND id = ? AND delivery_claim = ?`,
        [claim.workspaceId, claim.rotationId, claim.claim],
      ),
    );
  }

  async getRotationPolicy(workspaceId: number): Promise<RotationPolicy | undefined> {
    const [r] = await this.read('SELECT * FROM rotation_policies WHERE workspace_id = ?', [workspaceId]);
    return r && toRotationPolicy(r);
  }

  async putRotationPolicy(policy: RotationPolicy & { updatedAt: number }, audit: AuditInput): Promise<RotationPolicy> {
    return this.transaction(async (tx) => {
      const [r] = await tx.query(
        `INSERT INTO rotation_policies (workspace_id, max_age_days, idle_for, auto_rotate, updated_at) VALUES (?, ?, ?, ?, ?)
         ON CONFLICT (workspace_id) DO UPDATE SET max_age_days = excluded.max_age_days, idle_for = excluded.idle_for,
         auto_rotate = excluded.auto_rotate, updated_at = excluded.updated_at RETURNING *`,
        [policy.workspaceId, policy.maxAgeDays, policy.idleFor, bit(policy.autoRotate), policy.updatedAt],
      );
      await this.insertAudit(tx, audit);
      return toRotationPolicy(r!);
    });
  }

  async listDueSecrets(at: number, afterId: number, limit: number): Promise<DueSecret[]> {
    const columns = SECRET_COLUMNS.split(',')
      .map((c) => `s.${c.trim()}`)
      .join(', ');
    const rows = await this.read(
      `SELECT ${columns}, p.max_age_days AS p_max_age_days, p.idle_for AS p_idle_for, p.auto_rotate AS p_auto_rotate,
              p.updated_at AS p_updated_at, d.raised_at AS d_raised_at, d.rotation_id AS d_rotation_id
       ${DUE_FROM} AND s.id > ? ORDER BY s.id LIMIT ?`,
      [at, afterId, limit],
    );
    return rows.map((r) => ({
      secret: toSecret(r),
      policy: toRotationPolicy({
        workspace_id: r.workspace_id,
        max_age_days: r.p_max_age_days,
        idle_for: r.p_idle_for,
        auto_rotate: r.p_auto_rotate,
        updated_at: r.p_updated_at,
      }),
      raisedAt: (r.d_raised_at as number | null) ?? null,
      rotationId: (r.d_rotation_id as number | null) ?? null,
    }));
  }

  async countDueSecrets(at: number): Promise<number> {
    const [r] = await this.read(`SELECT count(*) AS n ${DUE_FROM}`, [at]);
    return Number(r!.n);
  }

  async markDueForRotation(secret: SecretRecord, at: number, audit: AuditInput): Promise<boolean> {
    return this.transaction(async (tx) => {
      const marked = await tx.run(
        'INSERT INTO secret_rotation_due (secret_id, workspace_id, raised_at) VALUES (?, ?, ?) ON CONFLICT (secret_id) DO NOTHING',
        [secret.id, secret.workspaceId, at],
      );
      if (marked !== 1) return false;
      await this.insertAudit(tx, audit);
      return true;
    });
  }

  /**
   * Without a lease of its own (SQLite: processes on one file), every process may advance rotations: each step is a
   * compare-and-set in the database's one write transaction at a time, so it still happens once.
   */
  async holdLease(name: 'rotations', ttlMs: number): Promise<boolean> {
    return name === 'rotations' && ttlMs > 0;
  }

  async listSecrets(workspaceId: number): Promise<SecretRecord[]> {
    return (
      await this.read(`SELECT ${SECRET_COLUMNS} FROM secrets WHERE workspace_id = ? AND deleted_at IS NULL ORDER BY id`, [
        workspaceId,
      ])
    ).map(toSecret);
  }

  async listAllLiveSecrets(): Promise<SecretRecord[]> {
    return (await this.read(`SELECT ${SECRET_COLUMNS} FROM secrets WHERE deleted_at IS NULL ORDER BY id`)).map(toSecret);
  }

  async getSecret(workspaceId: number, id: number): Promise<SecretRecord | undefined> {
    const [r] = await this.read(`SELECT ${SECRET_COLUMNS} FROM secrets WHERE workspace_id = ? AND id = ?`, [workspaceId, id]);
    return r && toSecret(r);
  }

  async loadLiveSecretMaterial(workspaceId: number): Promise<SecretWithCiphertext[]> {
    const sql = `SELECT ${SECRET_COLUMNS}, ciphertext FROM secrets WHERE workspace_id = ? AND deleted_at IS NULL ORDER BY id`;
    return (await this.read(sql, [workspaceId])).map(toSecretWithCiphertext);
  }

  async loadDeletedSecretMaterial(workspaceId: number, limit: number): Promise<SecretWithCiphertext[]> {
    const sql = `SELECT ${SECRET_COLUMNS}, ciphertext FROM secrets WHERE workspace_id = ? AND deleted_at IS NOT NULL
                 ORDER BY deleted_at DESC, id DESC LIMIT ?`;
    return (await this.read(sql, [workspaceId, limit])).map(toSecretWithCiphertext);
  }

  async updateSecret(
    workspaceId: number,
    id: number,
    patch: SecretPatch,
    audit: Omit<AuditInput, 'targetId'>,
  ): Promise<SecretRecord | undefined> {
    const set = (Object.keys(PATCH_COLUMNS) as (keyof SecretPatch)[]).filter((k) => patch[k] !== undefined);
    const values = set.map((k) => (typeof patch[k] === 'boolean' ? bit(patch[k]) : patch[k]));
    return this.mutate(async (tx, emit) => {
      const [r] =
        set.length > 0
          ? await tx.query(
              `UPDATE secrets SET ${set.map((k) => `${PATCH_COLUMNS[k]} = ?`).join(', ')}
               WHERE workspace_id = ? AND id = ? AND deleted_at IS NULL RETURNING ${SECRET_COLUMNS}`,
              [...values, workspaceId, id],
            )
          : await tx.query(`SELECT ${SECRET_COLUMNS} FROM secrets WHERE workspace_id = ? AND id = ? AND deleted_at IS NULL`, [
              workspaceId,
              id,
            ]);
      if (!r) return undefined;
      await this.insertAudit(tx, { ...audit, targetId: String(id) });
      if (set.length > 0) await emit({ workspaceId, secretId: id, kind: 'updated' });
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
    return this.mutate((tx, emit) => this.retireTx(tx, emit, workspaceId, id, at, reason, { ...audit, targetId: String(id) }));
  }

  private async retireTx(
    tx: SqlTx,
    emit: (change: SecretChange) => Promise<void>,
    workspaceId: number,
    id: number,
    at: number,
    reason: 'deleted' | 'expired',
    audit: AuditInput,
  ): Promise<SecretRecord | undefined> {
    const [r] = await tx.query(
      `UPDATE secrets SET deleted_at = ?, deleted_reason = ? WHERE workspace_id = ? AND id = ? AND deleted_at IS NULL
       RETURNING ${SECRET_COLUMNS}`,
      [at, reason, workspaceId, id],
    );
    if (!r) return undefined;
    await this.insertAudit(tx, audit);
    await emit({ workspaceId, secretId: id, kind: reason });
    return toSecret(r);
  }

  async listExpiredSecrets(at: number, limit: number): Promise<SecretRecord[]> {
    const sql = `SELECT ${SECRET_COLUMNS} FROM secrets WHERE deleted_at IS NULL AND expires_at IS NOT NULL AND expires_at <= ?
                 ORDER BY expires_at LIMIT ?`;
    return (await this.read(sql, [at, limit])).map(toSecret);
  }

  async listSecretsToWarn(at: number, limit: number): Promise<SecretRecord[]> {
    const sql = `SELECT ${SECRET_COLUMNS} FROM secrets WHERE deleted_at IS NULL AND expires_at IS NOT NULL AND expires_at <= ?
                 AND (expiry_warned_for IS NULL OR expiry_warned_for <> expires_at) ORDER BY expires_at, id LIMIT ?`;
    return (await this.read(sql, [at, limit])).map(toSecret);
  }

  async markExpiryWarned(secret: SecretRecord, audit: AuditInput): Promise<boolean> {
    return this.write(async (tx) => {
      const changed = await tx.run(
        `UPDATE secrets SET expiry_warned_for = expires_at
         WHERE workspace_id = ? AND id = ? AND deleted_at IS NULL AND expires_at = ?
           AND (expiry_warned_for IS NULL OR expiry_warned_for <> expires_at)`,
        [secret.workspaceId, secret.id, secret.expiresAt],
      );
      if (changed !== 1) return false;
      await this.insertAudit(tx, audit);
      return true;
    });
  }

  async createWebhookEndpoint(input: NewWebhookEndpoint, seal: (endpointId: number) => Buffer): Promise<WebhookEndpointRecord> {
    return this.write(async (tx) => {
      // The row exists before its ciphertext, which binds the row's id as associated data.
      const id = await this.insertId(
        tx,
        `INSERT INTO webhook_endpoints (workspace_id, url, events, description, secret_ciphertext, key_id, created_at)
         VALUES (?, ?, ?, ?, ?, '', ?)`,
        [input.workspaceId, input.url, input.events.join(' '), input.description, Buffer.alloc(0), input.createdAt],
      );
      const ciphertext = seal(id);
      await tx.run('UPDATE webhook_endpoints SET secret_ciphertext = ?, key_id = ? WHERE id = ?', [
        ciphertext,
        envelopeKeyId(ciphertext),
        id,
      ]);
      for (const type of new Set(input.events)) {
        await tx.run('INSERT INTO webhook_endpoint_events (endpoint_id, event_type) VALUES (?, ?)', [id, type]);
      }
      return { id, ...input, events: [...input.events], deletedAt: null };
    });
  }

  async listWebhookEndpoints(workspaceId: number): Promise<WebhookEndpointRecord[]> {
    const sql = `SELECT ${WEBHOOK_ENDPOINT_COLUMNS} FROM webhook_endpoints WHERE workspace_id = ? AND deleted_at IS NULL ORDER BY id`;
    return (await this.read(sql, [workspaceId])).map(toWebhookEndpoint);
  }

  async getWebhookEndpoint(workspaceId: number, id: number): Promise<WebhookEndpointRecord | undefined> {
    const sql = `SELECT ${WEBHOOK_ENDPOINT_COLUMNS} FROM webhook_endpoints WHERE workspace_id = ? AND id = ? AND deleted_at IS NULL`;
    const [r] = await this.read(sql, [workspaceId, id]);
    return r && toWebhookEndpoint(r);
  }

  async deleteWebhookEndpoint(workspaceId: number, id: number, at: number): Promise<WebhookEndpointRecord | undefined> {
    return this.write(async (tx) => {
      const [r] = await tx.query(
        `UPDATE webhook_endpoints SET deleted_at = ? WHERE workspace_id = ? AND id = ? AND deleted_at IS NULL
         RETURNING ${WEBHOOK_ENDPOINT_COLUMNS}`,
        [at, workspaceId, id],
      );
      if (!r) return undefined;
      await tx.run("UPDATE webhook_deliveries SET state = 'dropped' WHERE endpoint_id = ? AND state = 'pending'", [id]);
      return toWebhookEndpoint(r);
    });
  }

  async claimDueDeliveries(nowMs: number, leaseUntilMs: number, limit: number): Promise<ClaimedDelivery[]> {
    return this.write(async (tx) => {
      const due = await tx.query(
        `SELECT id FROM webhook_deliveries WHERE state = 'pending' AND next_attempt_at <= ?
         ORDER BY next_attempt_at, id LIMIT ?${this.skipLocked}`,
        [nowMs, limit],
      );
      if (due.length === 0) return [];
      const ids = due.map((r) => Number(r.id));
      await tx.run(
        `UPDATE webhook_deliveries SET next_attempt_at = ?, claim = claim + 1 WHERE id IN (${placeholders(ids.length)})`,
        [leaseUntilMs, ...ids],
      );
      const rows = await tx.query(
        `SELECT d.id AS d_id, d.claim AS d_claim, d.attempts AS d_attempts, d.created_at AS d_created_at,
                e.id AS e_id, e.workspace_id AS e_workspace_id, e.url AS e_url, e.secret_ciphertext AS e_secret, a.*
         FROM webhook_deliveries d JOIN webhook_endpoints e ON e.id = d.endpoint_id JOIN audit_events a ON a.id = d.audit_id
         WHERE d.id IN (${placeholders(ids.length)}) ORDER BY d.next_attempt_at, d.id`,
        ids,
      );
      return rows.map((r) => ({
        id: Number(r.d_id),
        claim: Number(r.d_claim),
        attempts: Number(r.d_attempts),
        createdAtMs: Number(r.d_created_at),
        endpoint: {
          id: Number(r.e_id),
          workspaceId: Number(r.e_workspace_id),
          url: r.e_url as string,
          secretCiphertext: r.e_secret as Buffer,
        },
        event: toAudit(r),
      }));
    });
  }

  async recordDeliveryAttempt(attempt: DeliveryAttempt): Promise<boolean> {
    return this.write(async (tx) => {
      const [r] = await tx.query(
        `UPDATE webhook_deliveries SET state = ?, attempts = attempts + 1, next_attempt_at = ?, claim = claim + 1
         WHERE id = ? AND claim = ? AND state = 'pending' RETURNING endpoint_id`,
        [attempt.state, attempt.nextAttemptAtMs, attempt.deliveryId, attempt.claim],
      );
      if (!r) return false;
      await tx.run(
        `INSERT INTO webhook_attempts (delivery_id, endpoint_id, attempted_at, duration_ms, status, error, state)
         VALUES (?, ?, ?, ?, ?, ?, ?)`,
        [
          attempt.deliveryId,
          r.endpoint_id,
          attempt.attemptedAtMs,
          Math.round(attempt.durationMs),
          attempt.status,
          attempt.error,
          attempt.state,
        ],
      );
      return true;
    });
  }

  async listDeliveryAttempts(workspaceId: number, endpointId: number, limit: number): Promise<DeliveryAttemptRecord[]> {
    const rows = await this.read(
      `SELECT t.id, t.delivery_id, t.attempted_at, t.duration_ms, t.status, t.error, t.state, d.audit_id, a.action
       FROM webhook_attempts t
       JOIN webhook_endpoints e ON e.id = t.endpoint_id
       JOIN webhook_deliveries d ON d.id = t.delivery_id
       JOIN audit_events a ON a.id = d.audit_id
       WHERE e.workspace_id = ? AND t.endpoint_id = ? ORDER BY t.id DESC LIMIT ?`,
      [workspaceId, endpointId, limit],
    );
    return rows.map((r) => ({
      id: Number(r.id),
      deliveryId: Number(r.delivery_id),
      auditId: Number(r.audit_id),
      action: r.action as DeliveryAttemptRecord['action'],
      attemptedAtMs: Number(r.attempted_at),
      durationMs: Number(r.duration_ms),
      status: r.status === null || r.status === undefined ? null : Number(r.status),
      error: (r.error as string | null) ?? null,
      state: r.state as DeliveryAttemptRecord['state'],
    }));
  }

  async nextDeliveryDueAt(): Promise<number | undefined> {
    const [r] = await this.read("SELECT min(next_attempt_at) AS due FROM webhook_deliveries WHERE state = 'pending'");
    return r?.due === null || r?.due === undefined ? undefined : Number(r.due);
  }

  async countPendingDeliveries(): Promise<number> {
    const [r] = await this.read("SELECT count(*) AS n FROM webhook_deliveries WHERE state = 'pending'");
    return Number(r!.n);
  }

  async oneWebhookSecretPerKey(): Promise<WebhookSecretCiphertext[]> {
    const sql = `SELECT id, workspace_id, secret_ciphertext FROM webhook_endpoints
                 WHERE id IN (SELECT min(id) FROM webhook_endpoints GROUP BY key_id) ORDER BY id`;
    return (await this.read(sql)).map((r) => ({
      id: Number(r.id),
      workspaceId: Number(r.workspace_id),
      ciphertext: r.secret_ciphertext as Buffer,
    }));
  }

  async listWebhookSecretsNotUnderKey(keyId: string, afterId: number, limit: number): Promise<WebhookSecretCiphertext[]> {
    const sql =
      'SELECT id, workspace_id, secret_ciphertext FROM webhook_endpoints WHERE key_id <> ? AND id > ? ORDER BY id LIMIT ?';
    return (await this.read(sql, [keyId, afterId, limit])).map((r) => ({
      id: Number(r.id),
      workspaceId: Number(r.workspace_id),
      ciphertext: r.secret_ciphertext as Buffer,
    }));
  }

  async replaceWebhookSecretCiphertext(id: number, expected: Buffer, ciphertext: Buffer): Promise<boolean> {
    const sql = 'UPDATE webhook_endpoints SET secret_ciphertext = ?, key_id = ? WHERE id = ? AND secret_ciphertext = ?';
    return this.write(async (tx) => (await tx.run(sql, [ciphertext, envelopeKeyId(ciphertext), id, expected])) === 1);
  }

  async oneSecretPerKey(): Promise<SecretWithCiphertext[]> {
    const sql = `SELECT ${SECRET_COLUMNS}, ciphertext FROM secrets WHERE id IN (SELECT min(id) FROM secrets GROUP BY key_id) ORDER BY id`;
    return (await this.read(sql)).map(toSecretWithCiphertext);
  }

  async listSecretsNotUnderKey(keyId: string, afterId: number, limit: number): Promise<SecretWithCiphertext[]> {
    const sql = `SELECT ${SECRET_COLUMNS}, ciphertext FROM secrets WHERE key_id <> ? AND id > ? ORDER BY id LIMIT ?`;
    return (await this.read(sql, [keyId, afterId, limit])).map(toSecretWithCiphertext);
  }

  async replaceCiphertext(id: number, expected: Buffer, ciphertext: Buffer): Promise<boolean> {
    const sql = 'UPDATE secrets SET ciphertext = ?, key_id = ? WHERE id = ? AND ciphertext = ?';
    return this.write(async (tx) => (await tx.run(sql, [ciphertext, envelopeKeyId(ciphertext), id, expected])) === 1);
  }

  async usageTotals(secretIds: number[], sinceMinute: number): Promise<UsageTotals[]> {
    if (secretIds.length === 0) return [];
    const rows = await this.read(
      `SELECT secret_id, platform, CAST(sum(count) AS BIGINT) AS count FROM secret_usage
       WHERE secret_id IN (${placeholders(secretIds.length)}) AND minute >= ? GROUP BY secret_id, platform`,
      [...secretIds, sinceMinute],
    );
    return rows.map((r) => ({ secretId: r.secret_id as number, platform: r.platform as Platform, count: r.count as number }));
  }

  async usageSeries(secretIds: number[], sinceMinute: number): Promise<UsageIncrement[]> {
    if (secretIds.length === 0) return [];
    const rows = await this.read(
      `SELECT secret_id, platform, minute, count FROM secret_usage
       WHERE secret_id IN (${placeholders(secretIds.length)}) AND minute >= ? ORDER BY minute`,
      [...secretIds, sinceMinute],
    );
    return rows.map((r) => ({
      secretId: r.secret_id as number,
      platform: r.platform as Platform,
      minute: r.minute as number,
      count: r.count as number,
    }));
  }

  async lastUsage(secretIds: number[]): Promise<LastUsage[]> {
    if (secretIds.length === 0) return [];
    const rows = await this.read(
      `SELECT secret_id, platform, max(minute) AS minute FROM secret_usage
       WHERE secret_id IN (${placeholders(secretIds.length)}) GROUP BY secret_id, platform`,
      secretIds,
    );
    return rows.map((r) => ({ secretId: r.secret_id as number, platform: r.platform as Platform, minute: r.minute as number }));
  }

  async writeAudit(event: AuditInput): Promise<void> {
    await this.write((tx) => this.insertAudit(tx, event));
  }

  async listAudit(query: AuditQuery): Promise<AuditEvent[]> {
    const where = ['workspace_id = ?'];
    const params: unknown[] = [query.workspaceId];
    const add = (clause: string, ...values: unknown[]) => {
      where.push(clause);
      params.push(...values);
    };
    if (query.since !== undefined) add('at >= ?', query.since);
    if (query.until !== undefined) add('at <= ?', query.until);
    if (query.beforeId !== undefined) add('id < ?', query.beforeId);
    if (query.actions && query.actions.length > 0) add(`action IN (${placeholders(query.actions.length)})`, ...query.actions);
    const rows = await this.read(`SELECT * FROM audit_events WHERE ${where.join(' AND ')} ORDER BY id DESC LIMIT ?`, [
      ...params,
      query.limit,
    ]);
    return rows.map(toAudit);
  }

  async deleteExpiredIdempotency(now: number): Promise<number> {
    return this.write((tx) => tx.run('DELETE FROM idempotency_keys WHERE expires_at <= ?', [now]));
  }

  async listIdempotencyRecords(): Promise<IdempotencyRecord[]> {
    return (await this.read('SELECT * FROM idempotency_keys ORDER BY workspace_id, key')).map(toIdempotency);
  }

  async replaceIdempotencyResponse(workspaceId: number, key: string, expected: Buffer, response: Buffer): Promise<boolean> {
    const sql = 'UPDATE idempotency_keys SET response = ? WHERE workspace_id = ? AND key = ? AND response = ?';
    return this.write(async (tx) => (await tx.run(sql, [response, workspaceId, key, expected])) === 1);
  }
}
