import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ManualClock } from '../../src/domain/clock.js';
import { SYSTEM_ACTOR } from '../../src/domain/actor.js';
import { DEFAULT_CACHE_OPTIONS, SecretCache } from '../../src/domain/secret-cache.js';
import { openTestServices, type TestServices } from '../helpers/services.js';

let s: TestServices;
const clock = new ManualClock();
before(async () => {
  s = await openTestServices(clock);
});
after(async () => {
  await s.close();
});

describe('secret cache: least recently used eviction', () => {
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

describe('secret cache: unknown app_ids', () => {
  function countingCache(maxWorkspaces: number) {
    const reads: string[] = [];
    const store = new Proxy(s.store, {
      get(target, prop, receiver) {
        const value = Reflect.get(target, prop, receiver) as unknown;
        if (prop !== 'findWorkspaceByAppId' || typeof value !== 'function') return value;
        return (appId: string) => {
          reads.push(appId);
          return (value as (a: string) => unknown).call(target, appId);
        };
      },
    });
    const options = { ...DEFAULT_CACHE_OPTIONS, maxWorkspaces, maxStalenessMs: 60_000, negativeTtlMs: 1_000 };
    return { cache: new SecretCache({ store, keyring: s.keyring, clock, options }), reads };
  }

  it('remembers an unknown app_id as a stand-in for the negative TTL, then asks the store again', async () => {
    const { cache, reads } = countingCache(10);
    const standIn = await cache.load('no-such-app');
    assert.equal(standIn.exists, false);
    assert.equal(standIn.workspaceId, 0);
    assert.equal(cache.peek('no-such-app'), standIn);
    assert.deepEqual(reads, ['no-such-app']);
    assert.equal(cache.stats().workspaces, 0, 'a stand-in is not a workspace');
    clock.advance(1_000);
    assert.equal(cache.peek('no-such-app'), undefined);
  });

  it('a flood of distinct unknown app_ids holds at most a tenth of the entries, so real workspaces stay cached', async () => {
    const { cache, reads } = countingCache(20);
    const workspaces = [];
    for (let i = 0; i < 18; i++) workspaces.push(await s.workspaces.createWorkspace({ name: `W${i}` }));
    for (const w of workspaces) await cache.load(w.appId);
    for (let i = 0; i < 100; i++) await cache.load(`flood-${i}`);
    assert.equal(cache.peek('flood-99')?.exists, false);
    assert.equal(cache.peek('flood-97'), undefined, 'only the newest two stand-ins are kept');
    assert.equal(cache.stats().workspaces, 18, 'no real workspace was evicted');
    reads.length = 0;
    for (const w of workspaces) assert.equal(cache.peek(w.appId)?.exists, true);
    assert.deepEqual(reads, []);
  });

  it('a secret created on this node replaces the stand-in of its app_id at once', async () => {
    const { cache } = countingCache(10);
    const w = await s.workspaces.createWorkspace({ name: 'Late' });
    // A workspace whose app_id was asked for before it existed.
    const late = { ...w, appId: 'late-app' };
    assert.equal((await cache.load(late.appId)).exists, false);
    const created = await s.secrets.create(w, { name: 'first', supports_web: true }, SYSTEM_ACTOR);
    cache.secretCreated(late, created.view.record, created.secret);
    assert.equal(cache.peek(late.appId), undefined, 'the next request loads the workspace');
  });
});
