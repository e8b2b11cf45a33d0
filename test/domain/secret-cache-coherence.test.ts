import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { beforeEach, describe, it } from 'node:test';
import { Keyring, parseMasterKey, secretAad } from '../../src/crypto/keyring.js';
import { ManualClock } from '../../src/domain/clock.js';
import { SecretCache } from '../../src/domain/secret-cache.js';
import { StorageUnavailableError } from '../../src/domain/ports.js';
import { SqliteStore } from '../../src/storage/sqlite/sqlite-store.js';
import type { Workspace } from '../../src/domain/model.js';
import type { Store } from '../../src/domain/ports.js';

const keyring = new Keyring(parseMasterKey(randomBytes(32).toString('base64'), 'test key'));
const MAX_STALENESS = 30_000;
const GRACE = 10_000;

/** A store that can be made unreachable, as PostgreSQL behind a cut network. */
function outageable(store: Store): { store: Store; down: (d: boolean) => void } {
  let isDown = false;
  const proxy = new Proxy(store, {
    get(target, prop, receiver) {
      const value = Reflect.get(target, prop, receiver);
      if (typeof value !== 'function') return value;
      return (...args: unknown[]) => (isDown ? Promise.reject(new StorageUnavailableError('down')) : value.apply(target, args));
    },
  });
  return { store: proxy, down: (d) => (isDown = d) };
}

describe('SecretCache: bounded staleness across nodes', () => {
  let clock: ManualClock;
  let db: ReturnType<typeof outageable>;
  let raw: SqliteStore;
  let workspace: Workspace;
  let synced: number;
  let cache: SecretCache;

  async function addSecret(): Promise<number> {
    const r = await raw.createSecret(
      {
        workspaceId: workspace.id,
        name: 's',
        supportsWeb: true,
        supportsIos: false,
        supportsAndroid: false,
        createdAt: 1,
        expiresAt: null,
      },
      10,
      (id) => keyring.encrypt(Buffer.from(`secret-${id}`), secretAad(workspace.id, id)),
      {
        workspaceId: workspace.id,
        actorTokenId: null,
        ip: null,
        requestId: null,
        action: 'secret.created',
        targetType: 'secret',
        at: 1,
      },
    );
    assert.ok(r.ok);
    return r.secret.id;
  }

  async function deleteElsewhere(id: number): Promise<void> {
    await raw.deleteSecret(workspace.id, id, 2, 'deleted', {
      workspaceId: workspace.id,
      actorTokenId: null,
      ip: null,
      requestId: null,
      action: 'secret.deleted',
      targetType: 'secret',
      at: 2,
    });
  }

  /** What the verify route does: a synchronous peek, a load on a miss. */
  async function ids(): Promise<number[]> {
    const hit = cache.peek(workspace.appId);
    const entry = hit === undefined ? await cache.load(workspace.appId) : hit;
    return entry ? entry.secrets.map((s) => s.id) : [];
  }

  beforeEach(async () => {
    clock = new ManualClock();
    raw = new SqliteStore({ filename: ':memory:' });
    await raw.migrate();
    workspace = await raw.createWorkspace({ appId: 'app1', name: 'W', defaultVersion: 'Preview', rateLimit: 10, createdAt: 1 });
    db = outageable(raw);
    synced = clock.nowMs();
    cache = new SecretCache({
      store: db.store,
      keyring,
      clock,
      options: { maxWorkspaces: 10, maxStalenessMs: MAX_STALENESS, negativeTtlMs: 1000, offlineGraceMs: GRACE },
      syncedAtMs: () => synced,
    });
  });

  it('applies a deletion from another node at once, and reloads after a creation', async () => {
    const a = await addSecret();
    assert.deepEqual(await ids(), [a]);
    const b = await addSecret();
    cache.applyChange({ workspaceId: workspace.id, secretId: b, kind: 'created' });
    assert.equal(cache.peek(workspace.appId), undefined);
    assert.deepEqual(await ids(), [a, b]);
    await deleteElsewhere(a);
    cache.applyChange({ workspaceId: workspace.id, secretId: a, kind: 'deleted' });
    assert.deepEqual(
      cache.peek(workspace.appId)?.secrets.map((s) => s.id),
      [b],
    );
  });

  it('trusts an entry while the feed keeps vouching, and reloads it after the maximum staleness', async () => {
    const a = await addSecret();
    assert.deepEqual(await ids(), [a]);
    await deleteElsewhere(a);
    clock.advance(MAX_STALENESS - 1);
    synced = clock.nowMs();
    assert.deepEqual(
      cache.peek(workspace.appId)?.secrets.map((s) => s.id),
      [a],
      'a missed message is not seen before the staleness bound',
    );
    clock.advance(1);
    synced = clock.nowMs();
    assert.equal(cache.peek(workspace.appId), undefined);
    assert.deepEqual(await ids(), []);
  });

  it('stops trusting an entry once the feed has been silent for the grace, and reloads it', async () => {
    const a = await addSecret();
    assert.deepEqual(await ids(), [a]);
    await deleteElsewhere(a);
    clock.advance(GRACE - 1);
    assert.deepEqual(
      cache.peek(workspace.appId)?.secrets.map((s) => s.id),
      [a],
    );
    clock.advance(1);
    assert.equal(cache.peek(workspace.appId), undefined, 'past the grace without the feed, the entry is not served');
    assert.deepEqual(await ids(), []);
  });

  it('serves the cache through a database outage for the grace, then refuses', async () => {
    const a = await addSecret();
    assert.deepEqual(await ids(), [a]);
    db.down(true);
    clock.advance(MAX_STALENESS);
    synced = clock.nowMs() - 1;
    assert.deepEqual(await ids(), [a], 'stale but within the grace: still served');
    assert.deepEqual(
      cache.peek(workspace.appId)?.secrets.map((s) => s.id),
      [a],
      'and without retrying the database on every request',
    );
    clock.advance(GRACE);
    assert.equal(cache.peek(workspace.appId), undefined);
    await assert.rejects(cache.load(workspace.appId), StorageUnavailableError);
    db.down(false);
    synced = clock.nowMs();
    assert.deepEqual(await ids(), [a], 'back to normal once the database answers');
  });

  it('refuses at once during an outage for a workspace it does not hold', async () => {
    db.down(true);
    await assert.rejects(cache.load(workspace.appId), StorageUnavailableError);
  });

  it('forgets everything on resync', async () => {
    const a = await addSecret();
    assert.deepEqual(await ids(), [a]);
    cache.invalidateAll();
    assert.equal(cache.peek(workspace.appId), undefined);
  });
});
