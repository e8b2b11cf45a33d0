import { type Keyring, secretAad } from '../crypto/keyring.js';
import { generateSecret } from '../crypto/random.js';
import { errors } from '../errors.js';
import { PLATFORMS, type Platform, type SecretRecord, type Store, type Workspace } from '../storage/store.js';
import { type Actor } from './actor.js';
import { type Clock, nowSeconds } from './clock.js';
import type { SecretCache } from './secret-cache.js';
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

/** A change other nodes must apply to their caches. */
export interface SecretChange {
  workspaceId: number;
  secretId: number;
  kind: 'created' | 'updated' | 'deleted' | 'expired';
}

export interface ChangePublisher {
  publish(change: SecretChange): Promise<void>;
}

export const noChangePublisher: ChangePublisher = { publish: async () => undefined };

export class SecretsService {
  constructor(
    private readonly store: Store,
    private readonly keyring: Keyring,
    private readonly cache: SecretCache,
    private readonly usage: UsageRecorder,
    private readonly clock: Clock,
    private readonly maxLiveSecrets: number = DEFAULT_MAX_LIVE_SECRETS,
    private readonly changes: ChangePublisher = noChangePublisher,
  ) {}

  async list(workspace: Workspace): Promise<SecretView[]> {
    const records = await this.store.listSecrets(workspace.id);
    return records.map((record) => this.view(record));
  }

  async get(workspace: Workspace, id: string): Promise<SecretView> {
    const record = await this.findLive(workspace, id);
    return this.view(record);
  }

  async create(workspace: Workspace, input: CreateSecretInput, actor: Actor): Promise<{ view: SecretView; secret: string }> {
    const name = normaliseSecretName(input.name);
    const flags: PlatformFlags = {
      supportsWeb: input.supports_web === true,
      supportsIos: input.supports_ios === true,
      supportsAndroid: input.supports_android === true,
    };
    requireSomePlatform(flags);
    const secret = generateSecret();
    const at = nowSeconds(this.clock);
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
        details: { name, supports_web: flags.supportsWeb, supports_ios: flags.supportsIos, supports_android: flags.supportsAndroid },
      },
    );
    if (!result.ok) throw errors.secretLimitReached(this.maxLiveSecrets);
    this.cache.secretCreated(workspace, result.secret, secret);
    await this.announce({ workspaceId: workspace.id, secretId: result.secret.id, kind: 'created' });
    return { view: this.view(result.secret), secret };
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
    const deleted = await this.store.deleteSecret(workspace.id, record.id, at, 'deleted', {
      ...actorFields(actor),
      workspaceId: workspace.id,
      action: 'secret.deleted',
      targetType: 'secret',
      at,
      details: { name: record.name, ...(ifIdleForSeconds !== undefined ? { if_idle_for: ifIdleForSeconds } : {}) },
    });
    if (!deleted) throw errors.secretNotFound();
    this.cache.secretRemoved(workspace.id, record.id);
    await this.announce({ workspaceId: workspace.id, secretId: record.id, kind: 'deleted' });
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

  private async announce(change: SecretChange): Promise<void> {
    // The change is committed; a failed announcement is covered by the other nodes' maximum staleness.
    await this.changes.publish(change).catch(() => undefined);
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
