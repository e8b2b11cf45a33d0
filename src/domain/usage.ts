import { PLATFORMS, type Platform, type SecretRecord, type UsageIncrement } from './model.js';
import { type Store } from './ports.js';
import type { PeerUsage } from './change-feed.js';
import { DEFAULT_CACHE_OPTIONS } from './secret-cache.js';
import type { Clock } from './clock.js';

export interface VerificationOutcome {
  outcome: 'success' | 'failure';
  method: string;
  /** web, ios, android, or `other` for a platform value the request made up. */
  platform: string;
  /** Empty for a success. */
  reason: string;
  count: number;
}

export const FAILURE_REASONS = [
  'unknown_app',
  'no_secret_for_platform',
  'mismatch',
  'malformed',
  'jwt_invalid',
  'jwt_expired',
] as const;
export type FailureReason = (typeof FAILURE_REASONS)[number];

const PLATFORM_SLOT: Record<Platform, number> = { web: 0, ios: 1, android: 2 };
/** Metric keys built once: a template string per verification costs more than the rest of the bookkeeping. */
const SUCCESS_KEY: Record<'user_hash' | 'jwt', Record<Platform, string>> = {
  user_hash: { web: 'user_hash:web', ios: 'user_hash:ios', android: 'user_hash:android' },
  jwt: { web: 'jwt:web', ios: 'jwt:ios', android: 'jwt:android' },
};

/** `method:platform:reason` for every known combination, as constants (Maps: a platform is whatever a client sent). */
const FAILURE_SUFFIX = new Map(
  (['user_hash', 'jwt'] as const).map((method) => [
    method as string,
    new Map(
      (Object.keys(PLATFORM_SLOT) as Platform[]).map((platform) => [
        platform as string,
        new Map(FAILURE_REASONS.map((reason) => [reason as string, `${method}:${platform}:${reason}`])),
      ]),
    ),
  ]),
);

/** Pending counts by minute, then by secret and platform as one number (ids stay far below 2^51). */
type PendingCounts = Map<number, Map<number, UsageIncrement>>;

/** The default of SECURE_MODE_IDLE_CHECK_TIMEOUT_MS: a node's change feed gives up on its own heartbeat after 1 s too. */
export const DEFAULT_IDLE_CHECK_TIMEOUT_MS = 1000;

export interface UsageRecorderOptions {
  /** The other nodes; without them this process is taken to be the only one verifying. */
  peers?: PeerUsage;
  /** How long lastVerifiedInCluster waits for the other nodes. */
  idleCheckTimeoutMs?: number;
  /** How long a node cut off from the others keeps verifying from its cache (SECURE_MODE_OFFLINE_GRACE_MS). */
  offlineGraceMs?: number;
}

export interface ClusterLastVerified {
  /** The latest verification with the secret on any node, flushed or not, in Unix seconds; null: none known. */
  lastVerifiedAt: number | null;
  /**
   * False when a node that may have verified within the window did not answer in time: lastVerifiedAt is then only
   * what the others know, and idleness is not proven.
   */
  complete: boolean;
  /** Counts and reasons only (never node addresses or material), for an error message. */
  detail: string;
}

const ALONE: PeerUsage = {
  askPeers: async () => ({ lastVerifiedAt: undefined, complete: true, detail: 'no other node' }),
};

/**
 * Verification counts, in memory, flushed to the store in batches: a verification never waits for a write.
 * Counters that fail to flush are kept and retried, so nothing counted is dropped while the process lives.
 */
export class UsageRecorder {
  private pending: PendingCounts = new Map();
  private lastVerified = new Map<number, number>();
  /** The last-verified times of the flush under way, until it has committed (or put them back). */
  private inFlight: Map<number, number> | undefined;
  private readonly failures = new Map<string, number>();
  /** Each workspace's failure keys, built once: see recordFailure. */
  private readonly failureKeys = new Map<number, Map<string, string>>();
  private readonly successes = new Map<string, number>();
  private flushing: Promise<void> | undefined;
  private timer: NodeJS.Timeout | undefined;

  private readonly peers: PeerUsage;
  private readonly idleCheckTimeoutMs: number;
  private readonly offlineGraceMs: number;

  constructor(
    private readonly store: Store,
    private readonly clock: Clock,
    options: UsageRecorderOptions = {},
  ) {
    this.peers = options.peers ?? ALONE;
    this.idleCheckTimeoutMs = options.idleCheckTimeoutMs ?? DEFAULT_IDLE_CHECK_TIMEOUT_MS;
    this.offlineGraceMs = options.offlineGraceMs ?? DEFAULT_CACHE_OPTIONS.offlineGraceMs;
  }

  recordSuccess(secretId: number, platform: Platform, method: 'user_hash' | 'jwt', nowMs = this.clock.nowMs()): void {
    const nowS = Math.floor(nowMs / 1000);
    this.count(secretId, platform, Math.floor(nowS / 60), 1);
    this.lastVerified.set(secretId, nowS);
    const outcome = SUCCESS_KEY[method][platform];
    this.successes.set(outcome, (this.successes.get(outcome) ?? 0) + 1);
  }

  private count(secretId: number, platform: Platform, minute: number, n: number): void {
    let counts = this.pending.get(minute);
    if (!counts) this.pending.set(minute, (counts = new Map()));
    const slot = secretId * 3 + PLATFORM_SLOT[platform];
    const entry = counts.get(slot);
    if (entry) entry.count += n;
    else counts.set(slot, { secretId, platform, minute, count: n });
  }

  /**
   * Counts a failure under `workspace:method:platform:reason`. The key is built once per workspace and outcome, not
   * per call: building and hashing a fresh string costs time in proportion to its length, and the reasons differ in
   * length ('mismatch', 'no_secret_for_platform'), which would let the public route's timing tell them apart.
   */
  recordFailure(workspaceId: number | null, method: 'user_hash' | 'jwt', platform: string, reason: FailureReason): void {
    const workspace = workspaceId ?? 0;
    const suffix = FAILURE_SUFFIX.get(method)?.get(platform)?.get(reason) ?? `${method}:${platform}:${reason}`;
    let keys = this.failureKeys.get(workspace);
    if (!keys) this.failureKeys.set(workspace, (keys = new Map()));
    let key = keys.get(suffix);
    if (key === undefined) keys.set(suffix, (key = `${workspace}:${suffix}`));
    this.failures.set(key, (this.failures.get(key) ?? 0) + 1);
  }

  /** Last verification of a secret on this node that the store may not hold yet (pending or in flight), Unix seconds. */
  pendingLastVerified(secretId: number): number | undefined {
    return latest(this.lastVerified.get(secretId), this.inFlight?.get(secretId)) ?? undefined;
  }

  /**
   * The latest verification with a secret anywhere in the cluster, including what every node has counted but not
   * flushed: the question a guarded delete (and a rotation retiring an old secret) must answer before it may call
   * a secret idle for `windowSeconds`. Costs one round to the other nodes, bounded by the idle-check timeout;
   * verification itself never waits for it.
   *
   * Order matters: the other nodes answer first, then this node's memory is read, then the store. A count that a
   * node flushes meanwhile has either been reported (still in its memory when it answered) or committed before the
   * store is read.
   */
  async lastVerifiedInCluster(record: SecretRecord, windowSeconds: number): Promise<ClusterLastVerified> {
    const peers = await this.peers.askPeers({
      secretId: record.id,
      lookbackMs: windowSeconds * 1000 + this.offlineGraceMs,
      timeoutMs: this.idleCheckTimeoutMs,
    });
    const local = this.pendingLastVerified(record.id);
    const stored = await this.store.getSecret(record.workspaceId, record.id);
    return {
      lastVerifiedAt: latest(stored?.lastVerifiedAt ?? undefined, local, peers.lastVerifiedAt),
      complete: peers.complete,
      detail: peers.detail,
    };
  }

  /** Counts not yet flushed, for totals that must include the last few seconds. */
  pendingIncrements(): UsageIncrement[] {
    return [...this.pending.values()].flatMap((counts) => [...counts.values()]);
  }

  successCounts(): ReadonlyMap<string, number> {
    return this.successes;
  }

  failureCounts(): ReadonlyMap<string, number> {
    return this.failures;
  }

  /**
   * Every outcome counted since start, summed over workspaces. Read when /metrics is scraped, so verification
   * itself pays only for the map increments above.
   */
  outcomes(): VerificationOutcome[] {
    const totals = new Map<string, VerificationOutcome>();
    const add = (o: Omit<VerificationOutcome, 'count'>, count: number) => {
      const key = `${o.outcome}\0${o.method}\0${o.platform}\0${o.reason}`;
      const entry = totals.get(key);
      if (entry) entry.count += count;
      else totals.set(key, { ...o, count });
    };
    for (const [key, count] of this.successes) {
      const [method = '', platform = ''] = key.split(':');
      add({ outcome: 'success', method, platform: knownPlatform(platform), reason: '' }, count);
    }
    for (const [key, count] of this.failures) {
      const parts = key.split(':');
      // workspace:method:platform:reason, where a made-up platform may itself hold colons.
      add(
        {
          outcome: 'failure',
          method: parts[1] ?? '',
          platform: knownPlatform(parts.slice(2, -1).join(':')),
          reason: parts.at(-1) ?? '',
        },
        count,
      );
    }
    return [...totals.values()];
  }

  start(intervalMs: number): void {
    this.timer = setInterval(() => void this.flush().catch(() => undefined), intervalMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await this.flush();
  }

  /** Writes everything counted so far in one transaction; on failure the counts go back into the pending maps. */
  flush(): Promise<void> {
    if (!this.flushing) {
      this.flushing = this.flushOnce().finally(() => {
        this.flushing = undefined;
      });
    }
    return this.flushing;
  }

  private async flushOnce(): Promise<void> {
    if (this.pending.size === 0 && this.lastVerified.size === 0) return;
    const batch = this.pendingIncrements();
    const last = this.lastVerified;
    this.pending = new Map();
    this.lastVerified = new Map();
    this.inFlight = last;
    try {
      await this.store.recordUsage(batch, last);
    } catch (err) {
      for (const inc of batch) this.count(inc.secretId, inc.platform, inc.minute, inc.count);
      for (const [id, at] of last) if ((this.lastVerified.get(id) ?? 0) < at) this.lastVerified.set(id, at);
      throw err;
    } finally {
      this.inFlight = undefined;
    }
  }
}

function latest(...times: (number | undefined)[]): number | null {
  let max: number | null = null;
  for (const t of times) if (t !== undefined && (max === null || t > max)) max = t;
  return max;
}

function knownPlatform(platform: string): string {
  return (PLATFORMS as readonly string[]).includes(platform) ? platform : 'other';
}
