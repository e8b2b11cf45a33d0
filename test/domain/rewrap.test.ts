import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { loadConfig } from '../../src/config.js';
import { envelopeKeyId, webhookSecretAad } from '../../src/crypto/keyring.js';
import { SYSTEM_ACTOR } from '../../src/domain/actor.js';
import { rewrapSecrets } from '../../src/domain/rewrap.js';
import { createServices, type Services } from '../../src/runtime.js';

describe('keys rewrap and Idempotency-Key records', () => {
  const dir = mkdtempSync(join(tmpdir(), 'secure-mode-rewrap-idem-'));
  after(() => rmSync(dir, { recursive: true, force: true }));
  const oldKey = randomBytes(32).toString('base64');
  const newKey = randomBytes(32).toString('base64');
  const open = (env: Record<string, string>) =>
    createServices(loadConfig({ SECURE_MODE_DATABASE_URL: `sqlite:${join(dir, 'db.sqlite')}`, ...env }), { logger: false });
  const withServices = async <T>(env: Record<string, string>, work: (s: Services) => Promise<T>): Promise<T> => {
    const services = await (env.SECURE_MODE_DATABASE_URL ? createServices(loadConfig(env), { logger: false }) : open(env));
    try {
      return await work(services);
    } finally {
      await services.store.close();
    }
  };

  it('moves kept create responses to the new key, so a replay works once the old key is gone', async () => {
    const body = { name: 'rotating', supports_web: true };
    const original = await withServices({ SECURE_MODE_MASTER_KEY: oldKey }, async (s) => {
      const workspace = await s.workspaces.createWorkspace({ name: 'W' });
      return { appId: workspace.appId, created: await s.secrets.create(workspace, body, SYSTEM_ACTOR, 'retry-me') };
    });

    await withServices({ SECURE_MODE_MASTER_KEY: newKey, SECURE_MODE_PREVIOUS_MASTER_KEYS: oldKey }, async (s) => {
      await rewrapSecrets(s.store, s.keyring);
      const records = await s.store.listIdempotencyRecords();
      assert.equal(records.length, 1);
      assert.equal(envelopeKeyId(records[0]!.response), s.keyring.current.id);
    });

    await withServices({ SECURE_MODE_MASTER_KEY: newKey }, async (s) => {
      const workspace = await s.workspaces.requireWorkspace(original.appId);
      const replay = await s.secrets.create(workspace, body, SYSTEM_ACTOR, 'retry-me');
      assert.equal(replay.replayed, true);
      assert.equal(replay.secret, original.created.secret);
      assert.equal(replay.view.record.id, original.created.view.record.id);
    });
  });

  it("moves webhook endpoints' signing secrets to the new key, deleted endpoints too", async () => {
    const dev = { SECURE_MODE_WEBHOOK_ALLOW_PRIVATE: 'true', SECURE_MODE_DATABASE_URL: `sqlite:${join(dir, 'hooks.sqlite')}` };
    const made = await withServices({ ...dev, SECURE_MODE_MASTER_KEY: oldKey }, async (s) => {
      const workspace = await s.workspaces.createWorkspace({ name: 'Hooks' });
      const live = await s.webhooks.create(workspace, { url: 'http://127.0.0.1:9/live', events: ['*'] });
      const gone = await s.webhooks.create(workspace, { url: 'http://127.0.0.1:9/gone', events: ['*'] });
      await s.webhooks.delete(workspace, String(gone.endpoint.id));
      return { workspace, endpoints: [live, gone] };
    });

    await withServices({ ...dev, SECURE_MODE_MASTER_KEY: newKey, SECURE_MODE_PREVIOUS_MASTER_KEYS: oldKey }, async (s) => {
      await rewrapSecrets(s.store, s.keyring);
      assert.deepEqual(await s.store.listWebhookSecretsNotUnderKey(s.keyring.current.id, 0, 100), []);
    });

    await withServices({ ...dev, SECURE_MODE_MASTER_KEY: newKey }, async (s) => {
      const stored = await s.store.listWebhookSecretsNotUnderKey('', 0, 100);
      assert.equal(stored.length, 2);
      for (const { endpoint, secret } of made.endpoints) {
        const row = stored.find((r) => r.id === endpoint.id)!;
        const key = s.keyring.decrypt(row.ciphertext, webhookSecretAad(made.workspace.id, endpoint.id));
        assert.equal(`whsec_${key.toString('base64')}`, secret);
      }
    });
  });

  it('refuses to start when webhook signing secrets are under a key that is not configured', async () => {
    const env = {
      SECURE_MODE_WEBHOOK_ALLOW_PRIVATE: 'true',
      SECURE_MODE_DATABASE_URL: `sqlite:${join(dir, 'hooks-only.sqlite')}`,
    };
    await withServices({ ...env, SECURE_MODE_MASTER_KEY: oldKey }, async (s) => {
      const workspace = await s.workspaces.createWorkspace({ name: 'Hooks only' });
      await s.webhooks.create(workspace, { url: 'http://127.0.0.1:9/hook', events: ['*'] });
    });
    await assert.rejects(
      withServices({ ...env, SECURE_MODE_MASTER_KEY: newKey }, async () => undefined),
      /webhook signing secrets are encrypted under master key id [0-9a-f]{16}/,
    );
    await withServices(
      { ...env, SECURE_MODE_MASTER_KEY: newKey, SECURE_MODE_PREVIOUS_MASTER_KEYS: oldKey },
      async () => undefined,
    );
  });
});
