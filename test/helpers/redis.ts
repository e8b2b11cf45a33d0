import { Redis } from 'ioredis';
import { inCi } from './postgres.js';

/** The Redis tests use (CI starts one here); each test works under its own key prefix and deletes its keys. */
export const REDIS_URL = process.env.SECURE_MODE_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

/** Like skipWithoutPostgres: skipped with the reason for a developer without Redis, a failure in CI. */
export async function skipWithoutRedis(): Promise<string | false> {
  const redis = new Redis(REDIS_URL, {
    lazyConnect: true,
    maxRetriesPerRequest: 0,
    connectTimeout: 2000,
    retryStrategy: () => null,
  });
  redis.on('error', () => undefined);
  try {
    await redis.connect();
    await redis.ping();
    return false;
  } catch (err) {
    const message = `Redis is not reachable at ${REDIS_URL} (${(err as Error).message})`;
    if (inCi) throw new Error(`${message}; CI=true requires it`);
    return `${message}: skipped (start Redis or set SECURE_MODE_TEST_REDIS_URL to run them)`;
  } finally {
    redis.disconnect();
  }
}

/** Deletes every key under a test's prefix. */
export async function deleteKeys(prefix: string): Promise<void> {
  const redis = new Redis(REDIS_URL, { maxRetriesPerRequest: 1 });
  try {
    const keys = await redis.keys(`${prefix}*`);
    if (keys.length > 0) await redis.del(...keys);
  } finally {
    redis.disconnect();
  }
}
