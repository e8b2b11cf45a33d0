import type { Platform, Store, UsageIncrement } from '../storage/store.js';
import type { Clock } from './clock.js';

export type FailureReason = 'unknown_app' | 'no_secret_for_platform' | 'mismatch' | 'malformed' | 'jwt_invalid' | 'jwt_expired';

/**
 * Verification counts, in memory, flushed to the store in batches: a verification never waits for a write.
 * Counters that fail to flush are kept and retried, so nothing counted is dropped while the process lives.
 */
export class UsageRecorder {
  private pending = new Map<string, UsageIncrement>();
  private lastVerified = new Map<number, number>();
  private readonly failures = new Map<string, number>();
  private readonly successes = new Map<string, number>();
  private flushing: Promise<void> | undefined;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly store: Store,
    private readonly clock: Clock,
  ) {}

  recordSuccess(secretId: number, platform: Platform, method: 'user_hash' | 'jwt'): void {
    const nowS = Math.floor(this.clock.nowMs() / 1000);
    const minute = Math.floor(nowS / 60);
    const key = `${secretId}:${platform}:${minute}`;
    const entry = this.pending.get(key);
    if (entry) entry.count++;
    else this.pending.set(key, { secretId, platform, minute, count: 1 });
    this.lastVerified.set(secretId, nowS);
    const outcome = `${method}:${platform}`;
    this.successes.set(outcome, (this.successes.get(outcome) ?? 0) + 1);
  }

  recordFailure(workspaceId: number | null, method: 'user_hash' | 'jwt', platform: string, reason: FailureReason): void {
    const key = `${workspaceId ?? 0}:${method}:${platform}:${reason}`;
    this.failures.set(key, (this.failures.get(key) ?? 0) + 1);
  }

  /** Last verification of a secret not yet flushed, in Unix seconds. */
  pendingLastVerified(secretId: number): number | undefined {
    return this.lastVerified.get(secretId);
  }

  /** Counts not yet flushed, for totals that must include the last few seconds. */
  pendingIncrements(): UsageIncrement[] {
    return [...this.pending.values()];
  }

  successCounts(): ReadonlyMap<string, number> {
    return this.successes;
  }

  failureCounts(): ReadonlyMap<string, number> {
    return this.failures;
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
    const batch = this.pending;
    const last = this.lastVerified;
    this.pending = new Map();
    this.lastVerified = new Map();
    try {
      await this.store.recordUsage([...batch.values()], last);
    } catch (err) {
      for (const [key, inc] of batch) {
        const current = this.pending.get(key);
        if (current) current.count += inc.count;
        else this.pending.set(key, inc);
      }
      for (const [id, at] of last) if ((this.lastVerified.get(id) ?? 0) < at) this.lastVerified.set(id, at);
      throw err;
    }
  }
}
