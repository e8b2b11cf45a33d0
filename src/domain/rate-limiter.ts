/**
 * Fixed 10-second windows aligned to the epoch, so every node and every client agree on when a window resets.
 * The port lets a shared (Redis) implementation replace the per-process one.
 */
export const RATE_WINDOW_SECONDS = 10;
const WINDOW_MS = RATE_WINDOW_SECONDS * 1000;

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

/** Unix seconds at which the window holding `nowMs` began. */
export function windowStart(nowMs: number): number {
  return Math.floor(nowMs / WINDOW_MS) * RATE_WINDOW_SECONDS;
}

export function windowOf(nowMs: number): { start: number; reset: number } {
  const start = windowStart(nowMs);
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

  hitNow(key: string, limit: number, nowMs: number): RateLimitResult {
    return resultFor(this.countNow(key, nowMs), limit, windowOf(nowMs).reset);
  }

  /**
   * Counts a request against `key` and answers how many its window now holds. Synchronous and allocation-free on a
   * key seen in this window: the verify route's hot path calls it twice per request.
   */
  countNow(key: string, nowMs: number): number {
    const start = windowStart(nowMs);
    let w = this.windows.get(key);
    if (!w || w.start !== start) {
      if (this.windows.size > 100_000) this.sweep(start);
      w = { start, count: 0 };
      this.windows.set(key, w);
    }
    return ++w.count;
  }

  private sweep(currentStart: number): void {
    for (const [k, w] of this.windows) if (w.start !== currentStart) this.windows.delete(k);
  }

  async close(): Promise<void> {
    this.windows.clear();
  }
}
