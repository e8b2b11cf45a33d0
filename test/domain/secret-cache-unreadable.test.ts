import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ManualClock } from '../../src/domain/clock.js';
import { SecretCache } from '../../src/domain/secret-cache.js';
import { openTestServices, type TestServices } from '../helpers/services.js';

describe('secret cache: a secret whose ciphertext does not open', () => {
  let s: TestServices;
  const clock = new ManualClock();
  before(async () => {
    s = await openTestServices(clock);
  });
  after(async () => {
    await s.close();
  });

  it('is left out alone, reported once by id, counted until it is deleted, and named as unreadable', async () => {
    const intact = await s.addSecret('intact', { web: true });
    const damaged = await s.addSecret('damaged', { web: true });
    const row = (await s.store.loadLiveSecretMaterial(s.workspace.id)).find((r) => r.id === damaged.id)!;
    const flipped = Buffer.from(row.ciphertext);
    flipped[flipped.length - 1]! ^= 0x01;
    assert.ok(await s.store.replaceCiphertext(damaged.id, row.ciphertext, flipped));

    const reported: unknown[] = [];
    const cache = new SecretCache({ store: s.store, keyring: s.keyring, clock, onUnreadable: (secret) => reported.push(secret) });
    for (let i = 0; i < 3; i++) {
      const entry = await cache.load(s.workspace.appId);
      assert.deepEqual(
        entry?.secrets.map((x) => x.id),
        [intact.id],
      );
      cache.invalidateAll();
    }
    assert.deepEqual(reported, [{ workspaceId: s.workspace.id, secretId: damaged.id }]);
    assert.equal(cache.stats().unreadable, 1);

    assert.equal(await s.secrets.readable(s.workspace, String(intact.id)), true);
    assert.equal(await s.secrets.readable(s.workspace, String(damaged.id)), false);

    cache.secretRemoved(s.workspace.id, damaged.id);
    assert.equal(cache.stats().unreadable, 0);
  });
});
