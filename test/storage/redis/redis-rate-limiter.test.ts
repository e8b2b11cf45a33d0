import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, describe, it } from 'node:test';
import { Redis } from 'ioredis';
import { RATE_WINDOW_SECONDS, type RateLimitResult } from '../../../src/domain/rate-limiter.js';
import { ConfigError } from '../../../src/errors.js';
import { RedisRateLimiter } from '../../../src/storage/redis/redis-rate-limiter.js';
import { eventually } from '../../helpers/nodes.js';
import { deleteKeys, REDIS_URL, skipWithoutRedis } from '../../helpers/redis.js';
import { TcpProxy } from '../../helpers/tcp-proxy.js';

/** A fixed instant inside one window, so no assertion can straddle a window boundary. */
const NOW = Date.UTC(2026, 0, 1, 12, 0, 3);

describe('Redis rate limiter', { skip: await skipWithoutRedis() }, () => {
  const prefix = `secure-mode-test:${process.pid}:${randomBytes(4).toString('hex')}:`;
  after(() => deleteKeys(prefix));

  it('shares one counter per key and window between nodes, atomically', async () => {
    const a = await RedisRateLimiter.connect({ url: REDIS_URL, prefix });
    const b = await RedisRateLimiter.connect({ url: REDIS_URL, prefix });
    try {
      const results = await Promise.all(Array.from({ length: 40 }, (_, i) => (i % 2 ? a : b).hit('ws:1', 25, NOW)));
      assert.deepEqual(
        results.map((r) => r.remaining).sort((x, y) => x - y),
        [...Array.from({ length: 15 }, () => 0), ...Array.from({ length: 25 }, (_, i) => i)],
      );
      assert.equal(results.filter((r) => r.allowed).length, 25);
      assert.ok(results.every((r) => r.limit === 25 && r.reset === Math.floor(NOW / 1000 / 10) * 10 + RATE_WINDOW_SECONDS));
      assert.equal((await a.hit('ws:2', 25, NOW)).remaining, 24, 'another key counts on its own');
      assert.equal((await a.hit('ws:1', 25, NOW + RATE_WINDOW_SECONDS * 1000)).remaining, 24, 'the next window starts afresh');
      const redis = new Redis(REDIS_URL);
      try {
        const keys = await redis.keys(`${prefix}*`);
        assert.equal(keys.length, 3);
        for (const key of keys) assert.ok((await redis.pttl(key)) > 0, `${key} expires`);
      } finally {
        redis.disconnect();
      }
    } finally {
      await a.close();
      await b.close();
    }
  });

  it('refuses to start on an unreachable Redis', async () => {
    await assert.rejects(RedisRateLimiter.connect({ url: 'redis://127.0.0.1:9', prefix }), ConfigError);
  });

  it('counts per node while Redis is unreachable, and goes back to Redis when it answers', async () => {
    const target = new URL(REDIS_URL);
    const proxy = await TcpProxy.start(target.hostname, Number(target.port || 6379));
    const statuses: string[] = [];
    const limiter = await RedisRateLimiter.connect({
      url: `redis://127.0.0.1:${proxy.port}`,
      prefix: `${prefix}cut:`,
      onStatus: (s) => statuses.push(s),
    });
    try {
      assert.equal((await limiter.hit('ws:1', 10, NOW)).remaining, 9);
      proxy.cut('reset');
      const during = await limiter.hit('ws:1', 10, NOW);
      assert.deepEqual([during.allowed, during.remaining], [true, 9], 'the fallback counts from zero in memory');
      assert.deepEqual(statuses, ['unavailable']);
      proxy.restore();
      let back: RateLimitResult | undefined;
      await eventually(
        async () => {
          const result = await limiter.hit('ws:1', 10, NOW);
          if (statuses.at(-1) === 'available') back = result;
          return back !== undefined;
        },
        'Redis counting again',
        10_000,
        50,
      );
      assert.equal(back?.remaining, 8, 'the count kept in Redis goes on from before the cut');
      assert.deepEqual(statuses, ['unavailable', 'available']);
    } finally {
      await limiter.close();
      await proxy.close();
    }
  });
});
