import { Redis } from 'ioredis';
import { ConfigError } from '../../errors.js';
import {
  MemoryRateLimiter,
  RATE_WINDOW_SECONDS,
  type RateLimiter,
  type RateLimitResult,
  resultFor,
  windowOf,
} from '../../domain/rate-limiter.js';

/** INCR and the window's expiry in one atomic step: a counter can never be left without its expiry. */
const HIT_SCRIPT = `
local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
return n
`;

export interface RedisRateLimiterOptions {
  url: string;
  /** Key prefix (SECURE_MODE_REDIS_PREFIX), so deployments and tests sharing a Redis do not share counters. */
  prefix: string;
  /** Told when Redis stops or starts answering, for the log. */
  onStatus?: (status: 'unavailable' | 'available', err?: unknown) => void;
}

/**
 * Rate limits shared by every node: one counter per key and 10-second window, in Redis. The window is part of the
 * key (windows are aligned to the epoch), so nodes agree on it as far as their clocks agree.
 *
 * While Redis does not answer, each node falls back to counting in its own memory rather than refusing the API:
 * limits are then per node, as without Redis, until Redis is back.
 */
export class RedisRateLimiter implements RateLimiter {
  private readonly redis: Redis;
  private readonly prefix: string;
  private readonly fallback = new MemoryRateLimiter();
  private available = true;

  private constructor(
    redis: Redis,
    private readonly options: RedisRateLimiterOptions,
  ) {
    this.redis = redis;
    this.prefix = options.prefix;
    this.redis.defineCommand('secureModeHit', { numberOfKeys: 1, lua: HIT_SCRIPT });
    this.redis.on('error', () => undefined);
  }

  /** Connects once at start-up, so a wrong SECURE_MODE_REDIS_URL stops the server with a clear message. */
  static async connect(options: RedisRateLimiterOptions): Promise<RedisRateLimiter> {
    const redis = new Redis(options.url, {
      lazyConnect: true,
      // Fail fast while disconnected (the fallback counts meanwhile) instead of queueing requests behind a dead link.
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      commandTimeout: 500,
      connectTimeout: 2000,
      retryStrategy: (times) => Math.min(100 * 2 ** times, 2000),
    });
    redis.on('error', () => undefined);
    try {
      await redis.connect();
    } catch (err) {
      redis.disconnect();
      throw new ConfigError(`cannot reach SECURE_MODE_REDIS_URL: ${(err as Error).message}`);
    }
    return new RedisRateLimiter(redis, options);
  }

  async hit(key: string, limit: number, nowMs: number): Promise<RateLimitResult> {
    const { start, reset } = windowOf(nowMs);
    try {
      const hit = (this.redis as unknown as { secureModeHit(key: string, ttlMs: number): Promise<number> }).secureModeHit;
      const count = await hit.call(this.redis, `${this.prefix}${key}:${start}`, (RATE_WINDOW_SECONDS + 5) * 1000);
      this.setAvailable(true);
      return resultFor(Number(count), limit, reset);
    } catch (err) {
      this.setAvailable(false, err);
      return this.fallback.hit(key, limit, nowMs);
    }
  }

  private setAvailable(available: boolean, err?: unknown): void {
    if (available === this.available) return;
    this.available = available;
    this.options.onStatus?.(available ? 'available' : 'unavailable', err);
  }

  async close(): Promise<void> {
    await this.fallback.close();
    await this.redis.quit().catch(() => this.redis.disconnect());
  }
}
