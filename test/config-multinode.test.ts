import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { loadConfig } from '../src/config.js';
import { ConfigError } from '../src/errors.js';

describe('config: multi-node settings', () => {
  it('defaults to one process, per-node rate limits and the documented bounds', () => {
    const config = loadConfig({});
    assert.equal(config.workers, 1);
    assert.equal(config.redisUrl, undefined);
    assert.equal(config.cacheMaxStalenessMs, 30_000);
    assert.equal(config.offlineGraceMs, 10_000);
    assert.equal(config.pgPoolSize, 10);
  });

  it('reads PostgreSQL, Redis, workers and bounds from the environment', () => {
    const config = loadConfig({
      SECURE_MODE_DATABASE_URL: 'postgres://u@db:5432/sm',
      SECURE_MODE_REDIS_URL: 'redis://cache:6379',
      SECURE_MODE_REDIS_PREFIX: 'prod:',
      SECURE_MODE_WORKERS: '4',
      SECURE_MODE_CACHE_MAX_STALENESS_MS: '5000',
      SECURE_MODE_OFFLINE_GRACE_MS: '3000',
      SECURE_MODE_PG_POOL_SIZE: '20',
      SECURE_MODE_PG_CONNECT_TIMEOUT_MS: '800',
      SECURE_MODE_PG_QUERY_TIMEOUT_MS: '2500',
    });
    assert.deepEqual(config.database, { kind: 'postgres', url: 'postgres://u@db:5432/sm' });
    assert.deepEqual(
      [
        config.redisUrl,
        config.redisPrefix,
        config.workers,
        config.cacheMaxStalenessMs,
        config.offlineGraceMs,
        config.pgPoolSize,
        config.pgConnectTimeoutMs,
        config.pgQueryTimeoutMs,
      ],
      ['redis://cache:6379', 'prod:', 4, 5000, 3000, 20, 800, 2500],
    );
  });

  it('refuses settings that cannot work', () => {
    assert.throws(() => loadConfig({ SECURE_MODE_WORKERS: '0' }), ConfigError);
    assert.throws(() => loadConfig({ SECURE_MODE_OFFLINE_GRACE_MS: '10' }), ConfigError);
    assert.throws(() => loadConfig({ SECURE_MODE_WORKERS: '2', SECURE_MODE_DATABASE_URL: 'sqlite::memory:' }), /in-memory/);
  });
});
