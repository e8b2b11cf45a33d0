import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { Keyring, parseMasterKey, secretAad } from '../../src/crypto/keyring.js';
import { ManualClock } from '../../src/domain/clock.js';
import type { Workspace } from '../../src/domain/model.js';
import { RolloutDeliverer } from '../../src/domain/rollout.js';
import { SpawnRolloutCommand } from '../../src/rollout/spawn-command.js';
import { SqliteStore } from '../../src/storage/sqlite/sqlite-store.js';
import { TestRolloutCommand } from '../helpers/rollout.js';

const key = () => new Keyring(parseMasterKey(randomBytes(32).toString('base64'), 'test key'));

/** The deliverer on a real store and a real command: what it does when the secret cannot be opened, and its backoff. */
describe('RolloutDeliverer', () => {
  const clock = new ManualClock(Date.UTC(2026, 11, 3));
  const rollout = new TestRolloutCommand('ok');
  const store = new SqliteStore({ filename: ':memory:' });
  const serverKey = key();
  let workspace: Workspace;
  before(async () => {
    await store.migrate();
    workspace = await store.createWorkspace({
      appId: 'approllout',
      name: 'W',
      defaultVersion: 'Preview',
      rateLimit: 100,
      createdAt: 1,
    });
  });
  after(async () => {
    await store.close();
    rollout.close();
  });

  const deliverer = (keyring: Keyring) =>
    new RolloutDeliverer({ store, keyring, clock, command: new SpawnRolloutCommand(rollout.command), retryBaseMs: 1000 });

  const startDelivering = async () => {
    const created = await store.createSecret(
      {
        workspaceId: workspace.id,
        name: 'old',
        supportsWeb: true,
        supportsIos: false,
        supportsAndroid: false,
        createdAt: 1,
        expiresAt: null,
      },
      10,
      (id) => serverKey.encrypt(Buffer.from('o'.repeat(43)), secretAad(workspace.id, id)),
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
    assert.ok(created.ok);
    const at = Math.floor(clock.nowMs() / 1000);
    const started = await store.startRotation({
      rotation: {
        workspaceId: workspace.id,
        fromSecretId: created.secret.id,
        idleFor: 60,
        deadline: null,
        createdAt: at,
        deliver: true,
        createdAtMs: clock.nowMs(),
      },
      successor: () => ({
        workspaceId: workspace.id,
        name: 'new',
        supportsWeb: true,
        supportsIos: false,
        supportsAndroid: false,
        createdAt: at,
        expiresAt: null,
      }),
      maxLive: 10,
      seal: (id) => serverKey.encrypt(Buffer.from('n'.repeat(43)), secretAad(workspace.id, id)),
      audit: () => [],
    });
    assert.ok(started.ok);
    return started.rotation;
  };

  it('a secret this node cannot open is a failed run (secret_unreadable), retried, and never given to the command', async () => {
    const rotation = await startDelivering();
    const wrongKey = deliverer(key());
    wrongKey.kick();
    await wrongKey.drain();
    assert.equal(rollout.runs(), 0);
    const [failed] = await store.listAudit({ workspaceId: workspace.id, actions: ['rotation.delivery_failed'], limit: 10 });
    assert.equal(failed?.details?.reason, 'secret_unreadable');
    assert.equal(failed?.details?.next_attempt_in_ms, 1000);
    const after = await store.getRotation(workspace.id, rotation.id);
    assert.equal(after?.deliveryAttempts, 1);
    assert.equal(after?.deliveryNextAtMs, clock.nowMs() + 1000);

    // A node with the right key delivers it once it is due.
    clock.advance(1000);
    const right = deliverer(serverKey);
    right.kick();
    await right.drain();
    assert.equal(rollout.runs(), 1);
    assert.equal(rollout.payload()?.secret, 'n'.repeat(43));
    assert.equal((await store.getRotation(workspace.id, rotation.id))?.deliveredAt, Math.floor(clock.nowMs() / 1000));
  });

  it('without a command it is disabled and runs nothing; stopped, it starts nothing more', async () => {
    const none = new RolloutDeliverer({ store, keyring: serverKey, clock, command: undefined });
    assert.equal(none.enabled, false);
    const rotation = await startDelivering();
    none.kick();
    await none.drain();
    assert.equal((await store.getRotation(workspace.id, rotation.id))?.deliveredAt, null);
    const stopped = deliverer(serverKey);
    await stopped.stop();
    stopped.kick();
    await stopped.drain();
    assert.equal((await store.getRotation(workspace.id, rotation.id))?.deliveredAt, null);
  });
});
