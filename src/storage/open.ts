import type { Config } from '../config.js';
import type { ChangeFeed } from '../domain/change-feed.js';
import type { Clock } from '../domain/clock.js';
import type { RateLimiter } from '../domain/rate-limiter.js';
import type { Store } from '../domain/ports.js';

// Each adapter is loaded only when configured: pg and ioredis cost a third of the embedded default's start-up.

export interface StorageContext {
  /** This process's identity in change notifications. */
  nodeId: string;
  clock: Clock;
  log?: (level: 'info' | 'warn', message: string, err?: unknown) => void;
}

export async function openStore(config: Config, context: StorageContext): Promise<Store> {
  const location = config.database;
  if (location.kind === 'sqlite') {
    const { SqliteStore } = await import('./sqlite/sqlite-store.js');
    return new SqliteStore({ filename: location.filename });
  }
  const { PostgresStore } = await import('./postgres/postgres-store.js');
  return new PostgresStore({
    url: location.url,
    nodeId: context.nodeId,
    poolSize: config.pgPoolSize,
    connectTimeoutMs: config.pgConnectTimeoutMs,
    queryTimeoutMs: config.pgQueryTimeoutMs,
    onStatus: (status, err) =>
      status === 'unreachable'
        ? context.log?.('warn', 'postgres unreachable: answering 503 at once until a probe reaches it again', err)
        : context.log?.('info', 'postgres reachable again'),
  });
}

/** The database's own change feed, where it has one (PostgreSQL LISTEN/NOTIFY); undefined for SQLite. */
export async function openChangeFeed(config: Config, context: StorageContext): Promise<ChangeFeed | undefined> {
  if (config.database.kind !== 'postgres') return undefined;
  const { PostgresChangeFeed } = await import('./postgres/change-feed.js');
  return new PostgresChangeFeed({
    url: config.databaseListenUrl ?? config.database.url,
    notifyUrl: config.database.url,
    proofTimeoutMs: config.pgQueryTimeoutMs,
    nodeId: context.nodeId,
    clock: context.clock,
    // Five heartbeats fit in the grace, so a healthy feed never lets the cache's entries run out.
    heartbeatMs: Math.max(50, Math.min(1000, Math.floor(config.offlineGraceMs / 5))),
    connectTimeoutMs: config.pgConnectTimeoutMs,
    onStatus: (status, err) => context.log?.(status === 'connected' ? 'info' : 'warn', `change feed ${status}`, err),
  });
}

/** Shared limits in Redis when SECURE_MODE_REDIS_URL is set; undefined means per-node memory. */
export async function openRateLimiter(config: Config, context: StorageContext): Promise<RateLimiter | undefined> {
  if (config.redisUrl === undefined) return undefined;
  const { RedisRateLimiter } = await import('./redis/redis-rate-limiter.js');
  return RedisRateLimiter.connect({
    url: config.redisUrl,
    prefix: config.redisPrefix,
    onStatus: (status, err) =>
      status === 'available'
        ? context.log?.('info', 'redis rate limiter available again')
        : context.log?.('warn', 'redis rate limiter unavailable, counting per node meanwhile', err),
  });
}
