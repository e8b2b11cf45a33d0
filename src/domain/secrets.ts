import { type Keyring, secretAad } from '../crypto/keyring.js';
import { generateSecret } from '../crypto/random.js';
import { errors } from './errors.js';
import { PLATFORMS, type Platform, type IdempotentCreate, type SecretPatch, type SecretRecord, type Workspace } from './model.js';
import type { SecretStore, UsageStore } from './ports.js';
import { type Actor, SYSTEM_ACTOR } from './actor.js';
import { type Clock, nowSeconds } from './clock.js';
import {
  DEFAULT_IDEMPOTENCY_WINDOW_SECONDS,
  createRequestHash,
  openKeptCreate,
  sameRequest,
  sealKeptCreate,
} from './idempotency.js';
import { type SecretCache, tryOpenSecret } from './secret-cache.js';
import { type PlatformFlags, normaliseSecretName, requireSomePlatform } from './secret-input.js';
import type { UsageRecorder } from './usage.js';
import { actorFields } from './workspaces.js';

/** Svix keeps at most five old secrets; five live secrets is room for a rotation and then some. */
export const DEFAULT_MAX_LIVE_SECRETS = 5;

export interface CreateSecretInput {
  name: unknown;
  supports_web?: boolean | undefined;
  supports_ios?: boolean | undefined;
  supports_android?: boolean | undefined;
}

export interface UpdateSecretInput {
  name?: unknown;
  supports_web?: boolean | undefined;
  supports_ios?: boolean | undefined;
  supports_android?: boolean | undefined;
  /** Unix seconds in the future; null cancels a scheduled retirement. */
  expires_at?: number | null | undefined;
}

export interface CreatedSecret {
  view: SecretView;
  secret: string;
  /** True when an Idempotency-Key matched an earlier create and this is its kept result. */
  replayed: boolean;
}

export interface UsageBucket {
  /** Unix seconds at which the bucket starts. */
  start: number;
  counts: PlatformUsage;
}

export interface UsageSeries {
  record: SecretRecord;
  lastVerifiedAt: number | null;
  windowSeconds: number;
  bucketSeconds: number;
  buckets: UsageBucket[];
}

export const MAX_USAGE_BUCKETS = 1000;

export interface SecretView {
  record: SecretRecord;
  /** last_verified_at including verifications this node has not flushed yet. */
  lastVerifiedAt: number | null;
}

export type PlatformUsage = Record<Platform, number>;

export interface SecretUsage {
  last_hour: PlatformUsage;
  last_day: PlatformUsage;
  last_week: PlatformUsage;
}

export interface SecretsServiceOptions {
  store: SecretStore & UsageStore;
  keyring: Keyring;
  cache: SecretCache;
  usage: UsageRecorder;
  clock: Clock;
  maxLiveSecrets?: number;
  idempotencyWindowSeconds?: number;
}

export class SecretsService {
  private readonly store: SecretStore & UsageStore;
  private readonly keyring: Keyring;
  private readonly cache: SecretCache;
  private readonly usage: UsageRecorder;
  private readonly clock: Clock;
  private readonly maxLiveSecrets: number;
  private readonly idempotencyWindowSeconds: number;

  /** Other nodes hear of each change from the store, which emits it when the change commits. */
  constructor(options: SecretsServiceOptions) {
    this.store = options.store;
    this.keyring = options.keyring;
    this.cache = options.cache;
    this.usage = options.usage;
    this.clock = options.clock;
    this.maxLiveSecrets = options.maxLiveSecrets ?? DEFAULT_MAX_LIVE_SECRETS;
    this.idempotencyWindowSeconds = options.idempotencyWindowSeconds ?? DEFAULT_IDEMPOTENCY_WINDOW_SECONDS;
  }

  async list(workspace: Workspace): Promise<SecretView[]> {
    const records = await this.store.listSecrets(workspace.id);
    return records.map((record) => this.view(record));
  }

  async get(workspace: Workspace, id: string): Promise<SecretView> {
    const record = await this.findLive(workspace, id);
    return this.view(record);
  }

  /**
   * With an Idempotency-Key, the first create keeps its result (secret included, encrypted) for the window, in the
   * same transaction as the secret: a retry with the same body gets that result again, a different body a 409.
   */
  async create(workspace: Workspace, input: CreateSecretInput, actor: Actor, idempotencyKey?: string): Promise<CreatedSecret> {
    const name = normaliseSecretName(input.name);
    const flags: PlatformFlags = {
      supportsWeb: input.supports_web === true,
      supportsIos: input.supports_ios === true,
      supportsAndroid: input.supports_android === true,
    };
    requireSomePlatform(flags);
    const secret = generateSecret();
    const at = nowSeconds(this.clock);
    const idempotency: IdempotentCreate | undefined =
      idempotencyKey === undefined
        ? undefined
        : {
            key: idempotencyKey,
            requestHash: createRequestHash(input),
            now: at,
            expiresAt: at + this.idempotencyWindowSeconds,
            seal: (record) => sealKeptCreate(this.keyring, workspace.id, idempotencyKey, { record, secret }),
          };
    const result = await this.store.createSecret(
      { workspaceId: workspace.id, name, ...flags, createdAt: at, expiresAt: null },
      this.maxLiveSecrets,
      (secretId) => this.keyring.encrypt(Buffer.from(secret, 'utf8'), secretAad(workspace.id, secretId)),
      {
        ...actorFields(actor),
        workspaceId: workspace.id,
        action: 'secret.created',
        targetType: 'secret',
        at,
        details: {
          name,
          supports_web: flags.supportsWeb,
          supports_ios: flags.supportsIos,
          supports_android: flags.supportsAndroid,
          idempotent: idempotencyKey !== undefined,
        },
      },
      idempotency,
    );
    if (!result.ok) {
      if (result.reason === 'limit_reached') throw errors.secretLimitReached(this.maxLiveSecrets);
      if (!idempotency || !sameRequest(result.record.requestHash, idempotency.requestHash)) throw errors.idempotencyConflict();
      const kept = openKeptCreate(this.keyring, workspace.id, result.record.key, result.record.response);
      // The kept record as it was at creation, so the replayed body is byte-for-byte the original.
      return { view: { record: kept.record, lastVerifiedAt: kept.record.lastVerifiedAt }, secret: kept.secret, replayed: true };
    }
    this.cache.secretCreated(workspace, result.secret, secret);
    return { view: this.view(result.secret), secret, replayed: false };
  }

  /** Renames, changes platforms (at least one stays enabled) or schedules/cancels retirement. */
  async update(workspace: Workspace, id: string, input: UpdateSecretInput, actor: Actor): Promise<SecretView> {
    const record = await this.findLive(workspace, id);
    const at = nowSeconds(this.clock);
    const patch: SecretPatch = {};
    const details: Record<string, string | number | boolean | null> = {};
    if (input.name !== undefined) {
      patch.name = normaliseSecretName(input.name);
      details.name = patch.name;
    }
    const touchesPlatforms = [input.supports_web, input.supports_ios, input.supports_android].some((v) => v !== undefined);
    if (touchesPlatforms) {
      // All three flags are written together, so two concurrent updates can never leave none enabled.
      const flags: PlatformFlags = {
        supportsWeb: input.supports_web ?? record.supportsWeb,
        supportsIos: input.supports_ios ?? record.supportsIos,
        supportsAndroid: input.supports_android ?? record.supportsAndroid,
      };
      requireSomePlatform(flags);
      Object.assign(patch, flags);
      Object.assign(details, {
        supports_web: flags.supportsWeb,
        supports_ios: flags.supportsIos,
        supports_android: flags.supportsAndroid,
      });
    }
    if (input.expires_at !== undefined) {
      if (input.expires_at !== null && input.expires_at <= at) {
        throw errors.parameterInvalid('expires_at must be a Unix timestamp in the future, or null to cancel', 'expires_at');
      }
      patch.expiresAt = input.expires_at;
      details.expires_at = input.expires_at;
    }
    if (Object.keys(patch).length === 0) return this.view(record);
    const updated = await this.store.updateSecret(workspace.id, record.id, patch, {
      ...actorFields(actor),
      workspaceId: workspace.id,
      action: 'secret.updated',
      targetType: 'secret',
      at,
      details,
    });
    if (!updated) throw errors.secretNotFound();
    this.cache.secretUpdated(updated);
    return this.view(updated);
  }

  /**
   * Retires every secret whose expires_at has passed: soft-deleted with reason 'expired' and audited as such.
   * Verification already refuses them from that second on; this makes it permanent and visible. Safe to run on
   * every node at once: a secret another node retired first is skipped without a second event.
   */
  async expireDue(batch = 100): Promise<number> {
    const at = nowSeconds(this.clock);
    let expired = 0;
    for (;;) {
      const due = await this.store.listExpiredSecrets(at, batch);
      for (const record of due) {
        if (await this.retire(record, at, 'expired', SYSTEM_ACTOR, { expires_at: record.expiresAt })) expired++;
      }
      if (due.length < batch) return expired;
    }
  }

  /**
   * Soft delete. With `ifIdleForSeconds`, refuses (409) while the secret verified anything within that window,
   * so a rotation never cuts off traffic that has not moved to the new secret yet.
   */
  async delete(workspace: Workspace, id: string, actor: Actor, ifIdleForSeconds?: number): Promise<void> {
    const record = await this.findLive(workspace, id);
    const at = nowSeconds(this.clock);
    if (ifIdleForSeconds !== undefined) {
      const last = this.lastVerifiedAt(record);
      if (last !== null && at - last < ifIdleForSeconds) throw errors.secretInUse(last, ifIdleForSeconds);
    }
    const details: Record<string, number> = ifIdleForSeconds !== undefined ? { if_idle_for: ifIdleForSeconds } : {};
    if (!(await this.retire(record, at, 'deleted', actor, details))) throw errors.secretNotFound();
  }

  /**
   * Soft-deletes a live secret with its audit event, then drops it from this node's cache.
   * false: it was no longer live (another request or node retired it first).
   */
  private async retire(
    record: SecretRecord,
    at: number,
    reason: 'deleted' | 'expired',
    actor: Actor,
    details: Record<string, number | null>,
  ): Promise<boolean> {
    const done = await this.store.deleteSecret(record.workspaceId, record.id, at, reason, {
      ...actorFields(actor),
      workspaceId: record.workspaceId,
      action: reason === 'deleted' ? 'secret.deleted' : 'secret.expired',
      targetType: 'secret',
      at,
      details: { name: record.name, ...details },
    });
    if (!done) return false;
    this.cache.secretRemoved(record.workspaceId, record.id);
    return true;
  }

  /**
   * Whether the stored ciphertext of this live secret opens under the configured master keys: one that does not is
   * left out of verification, and this names it (the workspace has at most a handful of live secrets to read).
   */
  async readable(workspace: Workspace, id: string): Promise<boolean> {
    const record = await this.findLive(workspace, id);
    const row = (await this.store.loadLiveSecretMaterial(workspace.id)).find((r) => r.id === record.id);
    return row !== undefined && tryOpenSecret(this.keyring, row) !== undefined;
  }

  /** Per-platform verification counts for the last hour, day and week, including what is not flushed yet. */
  async usageOf(workspace: Workspace, id: string): Promise<SecretUsage> {
    const record = await this.findLive(workspace, id);
    const nowMinute = Math.floor(nowSeconds(this.clock) / 60);
    const weekAgo = nowMinute - 7 * 24 * 60 + 1;
    const series = await this.store.usageSeries([record.id], weekAgo);
    const pending = this.usage.pendingIncrements().filter((u) => u.secretId === record.id);
    const usage: SecretUsage = { last_hour: zeroUsage(), last_day: zeroUsage(), last_week: zeroUsage() };
    for (const u of [...series, ...pending]) {
      const age = nowMinute - u.minute;
      if (age < 60) usage.last_hour[u.platform] += u.count;
      if (age < 24 * 60) usage.last_day[u.platform] += u.count;
      if (age < 7 * 24 * 60) usage.last_week[u.platform] += u.count;
    }
    return usage;
  }

  /**
   * Verifications per platform in buckets of `bucketSeconds` (aligned to the epoch), oldest first, every bucket
   * present; the last one holds the current time. Includes counts this node has not flushed yet.
   */
  async usageSeries(workspace: Workspace, id: string, windowSeconds: number, bucketSeconds: number): Promise<UsageSeries> {
    if (!Number.isInteger(bucketSeconds) || bucketSeconds < 60 || bucketSeconds % 60 !== 0) {
      throw errors.parameterInvalid('bucket must be a whole number of minutes, in seconds (60, 120, …)', 'bucket');
    }
    if (!Number.isInteger(windowSeconds) || windowSeconds < 1)
      throw errors.parameterInvalid('window must be a positive number of seconds', 'window');
    const count = Math.ceil(windowSeconds / bucketSeconds);
    if (count > MAX_USAGE_BUCKETS) {
      throw errors.parameterInvalid(`window / bucket gives ${count} buckets; at most ${MAX_USAGE_BUCKETS}`, 'bucket');
    }
    const record = await this.findLive(workspace, id);
    const now = nowSeconds(this.clock);
    const lastStart = Math.floor(now / bucketSeconds) * bucketSeconds;
    const firstStart = lastStart - (count - 1) * bucketSeconds;
    const buckets: UsageBucket[] = Array.from({ length: count }, (_, i) => ({
      start: firstStart + i * bucketSeconds,
      counts: zeroUsage(),
    }));
    const series = await this.store.usageSeries([record.id], firstStart / 60);
    const pending = this.usage.pendingIncrements().filter((u) => u.secretId === record.id);
    for (const u of [...series, ...pending]) {
      const index = Math.floor((u.minute * 60 - firstStart) / bucketSeconds);
      const bucket = buckets[index];
      if (bucket) bucket.counts[u.platform] += u.count;
    }
    return { record, lastVerifiedAt: this.lastVerifiedAt(record), windowSeconds, bucketSeconds, buckets };
  }

  private async findLive(workspace: Workspace, id: string): Promise<SecretRecord> {
    const numeric = parseSecretId(id);
    const record = numeric === undefined ? undefined : await this.store.getSecret(workspace.id, numeric);
    if (!record || record.deletedAt !== null) throw errors.secretNotFound();
    return record;
  }

  private lastVerifiedAt(record: SecretRecord): number | null {
    const pending = this.usage.pendingLastVerified(record.id);
    if (pending === undefined) return record.lastVerifiedAt;
    return record.lastVerifiedAt === null ? pending : Math.max(pending, record.lastVerifiedAt);
  }

  private view(record: SecretRecord): SecretView {
    return { record, lastVerifiedAt: this.lastVerifiedAt(record) };
  }
}

export function zeroUsage(): PlatformUsage {
  return Object.fromEntries(PLATFORMS.map((p) => [p, 0])) as PlatformUsage;
}

/** Ids are positive decimal strings; anything else cannot name a secret and answers 404 like an unknown id. */
export function parseSecretId(id: string): number | undefined {
  if (!/^[1-9][0-9]{0,15}$/.test(id)) return undefined;
  const n = Number(id);
  return Number.isSafeInteger(n) ? n : undefined;
}
