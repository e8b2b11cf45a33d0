import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { api, startTestApp, type TestApp } from '../../../helpers/app.js';

describe('secure_mode_secrets: happy paths', () => {
  let app: TestApp;
  before(async () => {
    app = await startTestApp();
  });
  after(async () => {
    await app.close();
  });

  it('creates a secret, shows it once, lists it without material, deletes it', async () => {
    const created = await api(app, 'POST', '/secure_mode_secrets', { body: { name: 'Production Web', supports_web: true } });
    assert.equal(created.status, 201);
    assert.equal(created.body.type, 'identity_verification_secret');
    assert.match(created.body.id, /^[0-9]+$/);
    assert.match(created.body.secret, /^[A-Za-z0-9_-]{43}$/);
    assert.equal(Buffer.from(created.body.secret, 'base64url').length, 32);
    assert.equal(created.headers.get('x-request-id')?.length, 36);

    const list = await api(app, 'GET', '/secure_mode_secrets');
    assert.equal(list.status, 200);
    assert.deepEqual(
      list.body.data.map((s: { id: string }) => s.id),
      [created.body.id],
    );
    assert.ok(!list.text.includes(created.body.secret));
    assert.equal(list.body.data[0].secret, undefined);

    const one = await api(app, 'GET', `/secure_mode_secrets/${created.body.id}`);
    assert.equal(one.status, 200);
    assert.equal(one.body.name, 'Production Web');
    assert.ok(!one.text.includes(created.body.secret));

    const del = await api(app, 'DELETE', `/secure_mode_secrets/${created.body.id}`);
    assert.equal(del.status, 204);
    assert.equal(del.text, '');
    const again = await api(app, 'DELETE', `/secure_mode_secrets/${created.body.id}`);
    assert.equal(again.status, 404);
    assert.equal(again.body.errors[0].code, 'identity_verification_secret_not_found');
    assert.deepEqual((await api(app, 'GET', '/secure_mode_secrets')).body.data, []);
  });
});
