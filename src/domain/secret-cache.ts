import { DecryptionError, type Keyring, secretAad } from '../crypto/keyring.js';
import type { Platform, SecretRecord, SecretWithCiphertext, Workspace } from './model.js';
import type { Store } from './ports.js';
import { StorageUnavailableError } from './ports.js';
import type { Clock } from './clock.js';
import type { SecretChange } from './model.js';
import { generateSecret } from '../crypto/random.js';

/** A live secret as the verifier needs it: the HMAC key is the secret string's UTF-8 bytes. */
export interface LiveSecret {
  id: number;
  key: Buffer;
  web: boolean;
  ios: boolean;
  android: boolean;
  /** Milliseconds; the secret stops verifying at this instant. */
  expiresAtMs: number | null;
}

export interface CachedWorkspace {
  /** False for the stand-in of an app_id that no workspace has (see standIn). */
  exists: boolean;
  workspaceId: number;
  appId: string;
  /** Every live secret; change it with setSecrets, which keeps `candidates` in step. */
  secrets: LiveSecret[];
  /**
   * Per platform, the secrets that may verify its requests, the one that matched most recently first, so that a
   * workspace in the middle of a rotation still pays one HMAC per request. For a platform with none, NO_SECRET.
   */
  candidates: Record<Platform, LiveSecret[]>;
  loadedAtMs: number;
  /** Served without a reload until this instant: maxStalenessMs after loading, negativeTtlMs for a stand-in. */
  freshUntilMs: number;
}

/**
 * A secret made at start-up like any other and known to nobody: the one candidate of a platform without a secret (so
 * of every platform of a stand-in), and the key the verifier tries when every candidate has expired. It never matches.
 */
export const DECOY_SECRET: LiveSecret = {
  id: 0,
  key: Buffer.from(generateSecret(), 'utf8'),
  web: true,
  ios: true,
  android: true,
  expiresAtMs: null,
};

/**
 * The candidates of a platform without a secret. Trying them costs what a wrong signature against one secret does (one
 * secret, one HMAC with a key of a real key's length), so neither the answer nor its timing tells the two apart.
 */
export const NO_SECRET: LiveSecret[] = [DECOY_SECRET];

/** The platform's candidates among `secrets`, the first of `before` (the most recent match) kept first. */
function candidatesFor(secrets: readonly LiveSecret[], platform: Platform, before: readonly LiveSecret[]): LiveSecret[] {
  const found = secrets.filter((s) => supportsPlatform(s, platform));
  if (found.length === 0) return NO_SECRET;
  const first = found.findIndex((s) => s.id === before[0]?.id);
  if (first > 0) found.unshift(...found.splice(first, 1));
  return found;
}

export function setSecrets(entry: CachedWorkspace, secrets: LiveSecret[]): void {
  entry.secrets = secrets;
  entry.candidates = {
    web: candidatesFor(secrets, 'web', entry.candidates.web),
    ios: candidatesFor(secrets, 'ios', entry.candidates.ios),
    android: candidatesFor(secrets, 'android', entry.candidates.android),
  };
}

/** A cache entry; `previous`, the entry it replaces, hands on which secret matched most recently. */
export function cachedWorkspace(
  fields: Omit<CachedWorkspace, 'candidates'>,
  previous?: Pick<CachedWorkspace, 'candidates'>,
): CachedWorkspace {
  const entry: CachedWorkspace = {
    ...fields,
    candidates: previous?.candidates ?? { web: NO_SECRET, ios: NO_SECRET, android: NO_SECRET },
  };
  setSecrets(entry, fields.secrets);
  return entry;
}

/**
 * What the cache holds for an app_id that no workspace has: a workspace without secrets, cached in the same map and
 * looked up the same way as a real one, so that an unknown app_id takes the steps of a platform without a secret.
 */
export function standIn(appId: string, loadedAtMs: number, freshUntilMs: number): CachedWorkspace {
  return cachedWorkspace({ exists: false, workspaceId: 0, appId, secrets: [], loadedAtMs, freshUntilMs });
}

export interface SecretCacheOptions {
  maxWorkspaces: number;
  /** A cached entry older than this is reloaded before use: the safety net behind change notifications. */
  maxStalenessMs: number;
  /**
   * How long an unknown app_id is remembered as unknown, so a flood of them does not reach the database. At most a
   * tenth of maxWorkspaces are remembered, so a flood of distinct ones displaces few real workspaces.
   */
  negativeTtlMs: number;
  /**
   * An entry is only served while it is known to be current as of less than this long ago: known current when it was
   * loaded, and kept current while the change feed is in sync. This bounds how long a deleted secret can verify on a
   * node that lost its change feed or its database, and how long a node serves verifications through an outage.
   */
  offlineGraceMs: number;
}

export const DEFAULT_CACHE_OPTIONS: SecretCacheOptions = {
  maxWorkspaces: 10_000,
  maxStalenessMs: 30_000,
  negativeTtlMs: 1_000,
  offlineGraceMs: 10_000,
};

export function supportsPlatform(secret: { web: boolean; ios: boolean; android: boolean }, platform: Platform): boolean {
  return platform === 'web' ? secret.web : platform === 'ios' ? secret.ios : secret.android;
}

export function toLiveSecret(record: SecretRecord, plaintext: string): LiveSecret {
  return {
    id: record.id,
    key: Buffer.from(plaintext, 'utf8'),
    web: record.supportsWeb,
    ios: record.supportsIos,
    android: record.supportsAndroid,
    expiresAtMs: record.expiresAt === null ? null : record.expiresAt * 1000,
  };
}

export function openSecret(keyring: Keyring, row: SecretWithCiphertext): string {
  return keyring.decrypt(row.ciphertext, secretAad(row.workspaceId, row.id)).toString('utf8');
}

/** The plaintext of a stored secret, or undefined when its ciphertext does not open under the configured keys. */
export function tryOpenSecret(keyring: Keyring, row: SecretWithCiphertext): string | undefined {
  try {
    return openSecret(keyring, row);
  } catch (err) {
    if (err instanceof DecryptionError) return undefined;
    throw err;
  }
}

export interface SecretCacheDeps {
  store: Store;
  keyring: Keyring;
  clock: Clock;
  options?: SecretCacheOptions;
  /** When this node last had proof it has seen every change (its change feed); the clock's now without a feed. */
  syncedAtMs?: () => number;
  onUnreadable?: UnreadableSecretListener;
}

/** Told once per secret whose stored ciphertext does not open: its ids only, never anything of the ciphertext. */
export type UnreadableSecretListener = (secret: { workspaceId: number; secretId: number }) => void;

/**
 * Decrypted live secrets per workspace, keyed by app_id, least recently used evicted first. Reads on a hit are
 * synchronous, so the verify route never awaits nor touches the database while the entry is fresh.
 */
export class SecretCache {
  /** Workspaces and stand-ins alike, in recency order. */
  private readonly entries = new Map<string, CachedWorkspace>();
  private readonly appIdByWorkspace = new Map<number, string>();
  /** The app_ids whose entry is a stand-in, oldest first. */
  private readonly standIns = new Set<string>();
  private readonly loading = new Map<string, Promise<CachedWorkspace>>();
  /** The key last appended to `entries`: a hit on it needs no re-insertion, which is most hits in a quiet tenant mix. */
  private mostRecent: string | undefined;
  /** Bumped by every removal or invalidation: a load that overlapped one is discarded and read again. */
  private generation = 0;
  private hits = 0;
  private misses = 0;
  /** After the store failed to load, entries within the grace are served without retrying until this instant. */
  private storeRetryAtMs = 0;
  /** Live secrets whose ciphertext did not open: left out of verification, reported once each. */
  private readonly unreadable = new Set<number>();

  /**
   * `syncedAtMs`: every change committed before the returned instant has been applied to this cache (see ChangeFeed).
   * The default suits a process that is the only writer of its database.
   */
  private readonly store: Store;
  private readonly keyring: Keyring;
  private readonly clock: Clock;
  private readonly options: SecretCacheOptions;
  private readonly syncedAtMs: () => number;
  private readonly onUnreadable: UnreadableSecretListener;

  constructor(deps: SecretCacheDeps) {
    this.store = deps.store;
    this.keyring = deps.keyring;
    this.clock = deps.clock;
    this.options = deps.options ?? DEFAULT_CACHE_OPTIONS;
    this.syncedAtMs = deps.syncedAtMs ?? (() => Number.POSITIVE_INFINITY);
    this.onUnreadable = deps.onUnreadable ?? (() => undefined);
  }

  /** Within the offline grace: the entry reflects every change committed up to less than offlineGraceMs ago. */
  private withinGrace(entry: CachedWorkspace, now: number): boolean {
    return now - Math.max(entry.loadedAtMs, this.syncedAtMs()) < this.options.offlineGraceMs;
  }

  /**
   * The fresh entry for app_id (a stand-in when no workspace has it), or undefined when it must be loaded. One path
   * for both: an unknown app_id costs what a known one does, or its timing would tell.
   */
  peek(appId: string, now = this.clock.nowMs()): CachedWorkspace | undefined {
    const entry = this.entries.get(appId);
    if (entry && (now < entry.freshUntilMs || now < this.storeRetryAtMs) && this.withinGrace(entry, now)) {
      // Re-insert to keep Map order = recency order for LRU eviction.
      if (this.mostRecent !== appId) {
        this.entries.delete(appId);
        this.entries.set(appId, entry);
        this.mostRecent = appId;
      }
      this.hits++;
      return entry;
    }
    this.misses++;
    return undefined;
  }

  async get(appId: string): Promise<CachedWorkspace> {
    const cached = this.peek(appId);
    return cached === undefined ? this.load(appId) : cached;
  }

  /** Loads (once, however many callers wait) the live secrets of the workspace with this app_id. */
  load(appId: string): Promise<CachedWorkspace> {
    let pending = this.loading.get(appId);
    if (!pending) {
      pending = this.fetch(appId).finally(() => this.loading.delete(appId));
      this.loading.set(appId, pending);
    }
    return pending;
  }

  private async fetch(appId: string): Promise<CachedWorkspace> {
    for (;;) {
      const generation = this.generation;
      let entry: CachedWorkspace;
      try {
        entry = await this.read(appId);
      } catch (err) {
        if (!(err instanceof StorageUnavailableError)) throw err;
        // Through an outage, what is cached keeps verifying until the grace runs out, then the caller refuses (503).
        const now = this.clock.nowMs();
        this.storeRetryAtMs = now + Math.min(1000, this.options.offlineGraceMs / 4);
        const cached = this.entries.get(appId);
        if (cached && this.withinGrace(cached, now)) return cached;
        throw err;
      }
      if (generation !== this.generation) continue;
      this.put(entry);
      return entry;
    }
  }

  private async read(appId: string): Promise<CachedWorkspace> {
    const startedAt = this.clock.nowMs();
    const workspace = await this.store.findWorkspaceByAppId(appId);
    if (!workspace) return standIn(appId, startedAt, startedAt + this.options.negativeTtlMs);
    const rows = await this.store.loadLiveSecretMaterial(workspace.id);
    const previous = this.entries.get(appId);
    // One damaged row takes only itself out: the workspace's other secrets keep verifying.
    const secrets: LiveSecret[] = [];
    for (const row of rows) {
      const plaintext = tryOpenSecret(this.keyring, row);
      if (plaintext !== undefined) secrets.push(toLiveSecret(row, plaintext));
      else if (!this.unreadable.has(row.id)) {
        this.unreadable.add(row.id);
        this.onUnreadable({ workspaceId: row.workspaceId, secretId: row.id });
      }
    }
    return cachedWorkspace(
      {
        exists: true,
        workspaceId: workspace.id,
        appId,
        secrets,
        // The load started before the rows were read: staleness counts from then.
        loadedAtMs: startedAt,
        freshUntilMs: startedAt + this.options.maxStalenessMs,
      },
      previous,
    );
  }

  private put(entry: CachedWorkspace): void {
    this.remove(entry.appId);
    this.entries.set(entry.appId, entry);
    this.mostRecent = entry.appId;
    if (entry.exists) this.appIdByWorkspace.set(entry.workspaceId, entry.appId);
    else {
      this.standIns.add(entry.appId);
      if (this.standIns.size > Math.max(1, Math.floor(this.options.maxWorkspaces / 10))) {
        this.remove(this.standIns.values().next().value as string);
      }
    }
    while (this.entries.size > this.options.maxWorkspaces) this.remove(this.entries.keys().next().value as string);
  }

  private remove(appId: string): void {
    const entry = this.entries.get(appId);
    if (!entry) return;
    this.entries.delete(appId);
    if (entry.exists) this.appIdByWorkspace.delete(entry.workspaceId);
    else this.standIns.delete(appId);
  }

  /** The node that created a secret adds it at once, without a reload. */
  secretCreated(workspace: Workspace, record: SecretRecord, plaintext: string): void {
    this.generation++;
    const entry = this.entries.get(workspace.appId);
    // A stand-in remembered the app_id as unknown; the workspace exists now, so the next request loads it.
    if (entry && !entry.exists) this.remove(workspace.appId);
    else if (entry) setSecrets(entry, [...entry.secrets.filter((s) => s.id !== record.id), toLiveSecret(record, plaintext)]);
  }

  /** Deleted or expired: gone from this node's cache before the change is acknowledged. */
  secretRemoved(workspaceId: number, secretId: number): void {
    this.generation++;
    this.unreadable.delete(secretId);
    const appId = this.appIdByWorkspace.get(workspaceId);
    const entry = appId === undefined ? undefined : this.entries.get(appId);
    if (entry)
      setSecrets(
        entry,
        entry.secrets.filter((s) => s.id !== secretId),
      );
  }

  /** Platform flags or expiry changed: patch in place so the change applies at once. */
  secretUpdated(record: SecretRecord): void {
    this.generation++;
    const appId = this.appIdByWorkspace.get(record.workspaceId);
    const entry = appId === undefined ? undefined : this.entries.get(appId);
    if (!entry) return;
    setSecrets(
      entry,
      entry.secrets.map((s) =>
        s.id === record.id
          ? {
              ...s,
              web: record.supportsWeb,
              ios: record.supportsIos,
              android: record.supportsAndroid,
              expiresAtMs: record.expiresAt === null ? null : record.expiresAt * 1000,
            }
          : s,
      ),
    );
  }

  /** Forget a workspace (another node changed it): the next request reloads. */
  invalidate(workspaceId: number): void {
    this.generation++;
    const appId = this.appIdByWorkspace.get(workspaceId);
    if (appId !== undefined) this.remove(appId);
  }

  /** A change made by another node or process. */
  applyChange(change: SecretChange): void {
    if (change.kind === 'deleted' || change.kind === 'expired') this.secretRemoved(change.workspaceId, change.secretId);
    else this.invalidate(change.workspaceId);
  }

  invalidateAll(): void {
    this.generation++;
    this.entries.clear();
    this.appIdByWorkspace.clear();
    this.standIns.clear();
  }

  stats(): { workspaces: number; secrets: number; unreadable: number; hits: number; misses: number } {
    let secrets = 0;
    for (const e of this.entries.values()) if (e.exists) secrets += e.secrets.length;
    return {
      workspaces: this.entries.size - this.standIns.size,
      secrets,
      unreadable: this.unreadable.size,
      hits: this.hits,
      misses: this.misses,
    };
  }
}
