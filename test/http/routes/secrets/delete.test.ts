import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { ManualClock, nowSeconds } from '../../../../src/domain/clock.js';
import { api, startTestApp, type TestApp } from '../../../helpers/app.js';

describe('guarded delete: DELETE /secure_mode_secrets/{id}?if_idle_for=SECONDS', () => {
  let app: TestApp;
  const clock = new ManualClock(Date.UTC(2026, 6, 1, 0, 0, 0));
  before(async () => {
    app = await startTestApp({ clock });
  });
  after(async () => {
    await app.close();
  });

  const create = async (name: string) =>
    (await api(app, 'POST', '/secure_mode_secrets', { body: { name, supports_web: true } })).body;

  it('deletes a secret that never verified anything', async () => {
    const s = await create('Never used');
    assert.equal((await api(app, 'DELETE', `/secure_mode_secrets/${s.id}?if_idle_for=900`)).status, 204);
  });

  it('answers 409 with last_verified_at while the secret verified within the window, 204 once idle', async () => {
    const s = await create('Busy');
    app.runtime.usage.recordSuccess(Number(s.id), 'web', 'user_hash');
    const last = nowSeconds(clock);
    const iso = new Date(last * 1000).toISOString();

    // Not flushed yet: the node still knows.
    const busy = await api(app, 'DELETE', `/secure_mode_secrets/${s.id}?if_idle_for=900`);
    assert.equal(busy.status, 409);
    assert.equal(busy.body.type, 'error.list');
    assert.equal(busy.body.errors[0].code, 'identity_verification_secret_in_use');
    assert.ok(busy.body.errors[0].message.includes(String(last)) && busy.body.errors[0].message.includes(iso));

    await app.runtime.usage.flush();
    clock.advance(899_000);
    assert.equal((await api(app, 'DELETE', `/secure_mode_secrets/${s.id}?if_idle_for=900`)).status, 409);
    const listed = (await api(app, 'GET', '/secure_mode_secrets')).body.data.find((x: { id: string }) => x.id === s.id);
    assert.equal(listed.last_verified_at, last);

    clock.advance(1000);
    assert.equal((await api(app, 'DELETE', `/secure_mode_secrets/${s.id}?if_idle_for=900`)).status, 204);
    assert.equal((await api(app, 'DELETE', `/secure_mode_secrets/${s.id}?if_idle_for=900`)).status, 404);
  });

  it('with real verification traffic: 409 while it flows, 204 once idle, then the secret verifies nothing', async () => {
    const s = await create('Traffic');
    const verify = async () =>
      (
        await api(app, 'POST', '/identity_verification/verify', {
          token: null,
          body: {
            app_id: app.workspace.appId,
            platform: 'web',
            user_id: 'u-7',
            user_hash: createHmac('sha256', Buffer.from(s.secret, 'utf8')).update('u-7').digest('hex'),
          },
        })
      ).status;
    for (let i = 0; i < 5; i++) {
      assert.equal(await verify(), 200);
      clock.advance(60_000);
      assert.equal((await api(app, 'DELETE', `/secure_mode_secrets/${s.id}?if_idle_for=120`)).status, 409);
    }
    clock.advance(60_000);
    assert.equal((await api(app, 'DELETE', `/secure_mode_secrets/${s.id}?if_idle_for=120`)).status, 204);
    assert.equal(await verify(), 401);
  });

  it("a plain DELETE stays Intercom's: deletes at once whatever the traffic", async () => {
    const s = await create('Plain');
    app.runtime.usage.recordSuccess(Number(s.id), 'web', 'user_hash');
    assert.equal((await api(app, 'DELETE', `/secure_mode_secrets/${s.id}`)).status, 204);
  });

  it('refuses a malformed window with 422', async () => {
    const s = await create('Bad window');
    for (const v of ['-1', 'abc', '1.5', '9999999999']) {
      const res = await api(app, 'DELETE', `/secure_mode_secrets/${s.id}?if_idle_for=${v}`);
      assert.equal(res.status, 422, v);
      assert.equal(res.body.errors[0].field, 'if_idle_for');
    }
  });
});
