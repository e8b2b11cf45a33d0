/**
 * Fixed 10-second windows aligned to the epoch, so every node and every client agree on when a window resets.
 * The port lets a shared (Redis) implementation replace the per-process one.
 */
export const RATE_WINDOW_SECONDS = 10;

export interface RateLimitResult {
  allowed: boolean;
  limit: number;
  remaining: number;
  /** Unix seconds at which the window resets. */
  reset: number;
}

export interface RateLimiter {
  hit(key: string, limit: number, nowMs: number): Promise<RateLimitResult>;
  close(): Promise<void>;
}

export function windowOf(nowMs: number): { start: number; reset: number } {
  const start = Math.floor(nowMs / 1000 / RATE_WINDOW_SECONDS) * RATE_WINDOW_SECONDS;
  return { start, reset: start + RATE_WINDOW_SECONDS };
}

export function resultFor(count: number, limit: number, reset: number): RateLimitResult {
  return { allowed: count <= limit, limit, remaining: Math.max(0, limit - count), reset };
}

export class MemoryRateLimiter implements RateLimiter {
  private readonly windows = new Map<string, { start: number; count: number }>();

  async hit(key: string, limit: number, nowMs: number): Promise<RateLimitResult> {
    return this.hitNow(key, limit, nowMs);
  }

  /** Synchronous, for the verify route's hot path, which must not await. */
  hitNow(key: string, limit: number, nowMs: number): RateLimitResult {
    const { start, reset } = windowOf(nowMs);
    let w = this.windows.get(key);
    if (!w || w.start !== start) {
      if (this.windows.size > 100_000) this.sweep(start);
      w = { start, count: 0 };
      this.windows.set(key, w);
    }
    w.count++;
    return resultFor(w.count, limit, reset);
  }

  private sweep(currentStart: number): void {
    for (const [k, w] of this.windows) if (w.start !== currentStart) this.windows.delete(k);
  }

  async close(): Promise<void> {
    this.windows.clear();
  }
}
