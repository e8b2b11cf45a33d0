import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import jwt from 'jsonwebtoken';
import { ManualClock } from '../../../../src/domain/clock.js';
import { userHash } from '../../../../packages/sign/src/index.js';
import { api, startTestApp, type TestApp } from '../../../helpers/app.js';

describe('rotation end to end on one server', () => {
  const clock = new ManualClock(Date.UTC(2026, 2, 1, 12, 0, 0));
  const t0 = Math.floor(clock.nowMs() / 1000);
  let app: TestApp;

  before(async () => {
    app = await startTestApp({ clock, env: { SECURE_MODE_USAGE_FLUSH_MS: '60000' } });
  });
  after(async () => {
    await app.close();
  });

  const verifyHash = (secret: string, userId: string) =>
    api(app, 'POST', '/identity_verification/verify', {
      token: null,
      body: { app_id: app.workspace.appId, platform: 'web', user_id: userId, user_hash: userHash(secret, { user_id: userId }) },
    });
  const verifyJwt = (secret: string, userId: string) =>
    api(app, 'POST', '/identity_verification/verify', {
      token: null,
      body: {
        app_id: app.workspace.appId,
        platform: 'ios',
        intercom_user_jwt: jwt.sign({ user_id: userId }, secret, { noTimestamp: true }),
      },
    });
  const lastVerified = async () => {
    await app.runtime.usage.flush();
    const list = await api(app, 'GET', '/secure_mode_secrets');
    return Object.fromEntries(
      list.body.data.map((s: { name: string; last_verified_at: number | null }) => [s.name, s.last_verified_at]),
    );
  };

  it('A verifies; B is added; both verify; A is deleted; A fails at once, B passes; last_verified_at moved for both', async () => {
    const a = (await api(app, 'POST', '/secure_mode_secrets', { body: { name: 'A', supports_web: true, supports_ios: true } }))
      .body;
    assert.equal((await verifyHash(a.secret, 'alice')).status, 200);
    assert.equal((await verifyJwt(a.secret, 'alice')).status, 200);
    assert.deepEqual(await lastVerified(), { A: t0 });

    clock.advance(120_000);
    const b = (await api(app, 'POST', '/secure_mode_secrets', { body: { name: 'B', supports_web: true, supports_ios: true } }))
      .body;
    assert.deepEqual(await lastVerified(), { A: t0, B: null });
    for (let i = 0; i < 3; i++) {
      assert.equal((await verifyHash(a.secret, `old-${i}`)).status, 200, 'A still verifies during the rotation');
      assert.equal((await verifyHash(b.secret, `new-${i}`)).status, 200, 'B verifies as soon as it exists');
    }
    assert.equal((await verifyJwt(b.secret, 'bob')).status, 200);
    assert.deepEqual(await lastVerified(), { A: t0 + 120, B: t0 + 120 });

    clock.advance(60_000);
    assert.equal((await api(app, 'DELETE', `/secure_mode_secrets/${a.id}`)).status, 204);
    const aAfter = await verifyHash(a.secret, 'alice');
    assert.equal(aAfter.status, 401);
    assert.equal(aAfter.body.errors[0].code, 'hmac_mismatch');
    assert.equal((await verifyJwt(a.secret, 'alice')).status, 401);
    assert.equal((await verifyHash(b.secret, 'bob')).status, 200);
    assert.deepEqual(await lastVerified(), { B: t0 + 180 });

    const detail = await api(app, 'GET', `/secure_mode_secrets/${b.id}`);
    assert.deepEqual(detail.body.usage.last_hour, { web: 4, ios: 1, android: 0 });
    assert.equal(detail.body.last_verified_at, t0 + 180);
  });

  it('reports per-platform usage for the last hour, day and week, unflushed counts included', async () => {
    const c = (await api(app, 'POST', '/secure_mode_secrets', { body: { name: 'C', supports_web: true, supports_ios: true } }))
      .body;
    await verifyHash(c.secret, 'a');
    await app.runtime.usage.flush();
    clock.advance(2 * 3600_000);
    await verifyJwt(c.secret, 'b');
    await app.runtime.usage.flush();
    clock.advance(2 * 86_400_000);
    await verifyHash(c.secret, 'c');
    const detail = await api(app, 'GET', `/secure_mode_secrets/${c.id}`);
    assert.deepEqual(detail.body.usage, {
      last_hour: { web: 1, ios: 0, android: 0 },
      last_day: { web: 1, ios: 0, android: 0 },
      last_week: { web: 2, ios: 1, android: 0 },
    });
    assert.equal(detail.body.last_verified_at, Math.floor(clock.nowMs() / 1000));
  });
});
