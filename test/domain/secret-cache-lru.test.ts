import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ManualClock } from '../../src/domain/clock.js';
import { DEFAULT_CACHE_OPTIONS, SecretCache } from '../../src/domain/secret-cache.js';
import { openTestServices, type TestServices } from '../helpers/services.js';

describe('secret cache: least recently used eviction', () => {
  let s: TestServices;
  const clock = new ManualClock();
  before(async () => {
    s = await openTestServices(clock);
  });
  after(async () => {
    await s.close();
  });

  it('evicts the workspace used least recently, repeated hits on the newest included', async () => {
    const [a, b, c] = [
      s.workspace,
      await s.workspaces.createWorkspace({ name: 'B' }),
      await s.workspaces.createWorkspace({ name: 'C' }),
    ];
    const cache = new SecretCache({
      store: s.store,
      keyring: s.keyring,
      clock,
      options: { ...DEFAULT_CACHE_OPTIONS, maxWorkspaces: 2, maxStalenessMs: 60_000, negativeTtlMs: 1_000 },
    });
    await cache.load(a.appId);
    await cache.load(b.appId);
    for (let i = 0; i < 3; i++) assert.ok(cache.peek(b.appId));
    assert.ok(cache.peek(a.appId), 'A is now the most recent');
    assert.ok(cache.peek(a.appId));
    await cache.load(c.appId);
    assert.equal(cache.peek(b.appId), undefined, 'B was least recently used');
    assert.ok(cache.peek(a.appId));
    assert.ok(cache.peek(c.appId));
    await cache.load(b.appId);
    assert.equal(cache.peek(a.appId), undefined, 'A fell behind C');
    assert.equal(cache.stats().workspaces, 2);
  });
});
