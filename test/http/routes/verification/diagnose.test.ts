import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ManualClock } from '../../../../src/domain/clock.js';
import { userHash, userJwt } from '../../../../packages/sign/src/index.js';
import { api, startTestApp, type TestApp } from '../../../helpers/app.js';

describe('POST /identity_verification/diagnose', () => {
  let app: TestApp;
  let live: { id: string; secret: string };
  let old: { id: string; secret: string };
  const diagnose = (body: unknown, token?: string | null) =>
    api(app, 'POST', '/identity_verification/diagnose', { body, ...(token !== undefined ? { token } : {}) });

  before(async () => {
    app = await startTestApp();
    old = (await api(app, 'POST', '/secure_mode_secrets', { body: { name: 'Old', supports_web: true } })).body;
    live = (await api(app, 'POST', '/secure_mode_secrets', { body: { name: 'New', supports_web: true, supports_ios: true } }))
      .body;
    assert.equal((await api(app, 'DELETE', `/secure_mode_secrets/${old.id}`)).status, 204);
  });
  after(async () => {
    await app.close();
  });

  it('needs a token with a read scope; the rate-limit headers come with it', async () => {
    const body = { platform: 'web', user_id: 'u', user_hash: userHash(live.secret, { user_id: 'u' }) };
    const anonymous = await diagnose(body, null);
    assert.equal(anonymous.status, 401);
    assert.equal(anonymous.body.errors[0].code, 'unauthorized');
    const writeOnly = await diagnose(body, await app.tokenWith(['write_secure_mode_secret']));
    assert.equal(writeOnly.status, 403);
    assert.equal(
      writeOnly.body.errors[0].message,
      'You do not have the required scope (read_secure_mode_secret) to access this resource',
    );
    for (const scope of ['read_secure_mode_secret', 'read_all']) {
      const ok = await diagnose(body, await app.tokenWith([scope]));
      assert.equal(ok.status, 200, ok.text);
      assert.ok(ok.headers.get('x-ratelimit-limit'));
    }
  });

  it('is our own path: Intercom-Version is not checked', async () => {
    const res = await api(app, 'POST', '/identity_verification/diagnose', {
      body: { platform: 'web', user_id: 'u', user_hash: userHash(live.secret, { user_id: 'u' }) },
      headers: { 'intercom-version': '2.11' },
    });
    assert.equal(res.status, 200);
  });

  it('answers a verified value with the secret that signed it', async () => {
    const res = await diagnose({
      app_id: app.workspace.appId,
      platform: 'ios',
      intercom_user_jwt: userJwt(live.secret, { user_id: 'j' }),
    });
    assert.equal(res.status, 200);
    assert.deepEqual(res.body, {
      type: 'identity_verification.diagnosis',
      verified: true,
      method: 'jwt',
      user_id: 'j',
      email: null,
      secret: {
        id: live.id,
        name: 'New',
        state: 'live',
        supports_web: true,
        supports_ios: true,
        supports_android: false,
        deleted_at: null,
        expires_at: null,
      },
      causes: [],
    });
  });

  it('names the deleted secret that signed a failing value, without revealing any secret', async () => {
    const res = await diagnose({ platform: 'web', user_id: 'u', user_hash: userHash(old.secret, { user_id: 'u' }) });
    assert.equal(res.status, 200);
    assert.equal(res.body.verified, false);
    assert.equal(res.body.secret.id, old.id);
    assert.equal(res.body.secret.state, 'deleted');
    assert.equal(typeof res.body.secret.deleted_at, 'number');
    assert.deepEqual(
      res.body.causes.map((c: { code: string }) => c.code),
      ['deleted_secret'],
    );
    assert.ok(!res.text.includes(old.secret) && !res.text.includes(live.secret));
  });

  it('explains a failure verify would not explain', async () => {
    const hash = userHash(live.secret, { user_id: 'u' }).toUpperCase();
    const verify = await api(app, 'POST', '/identity_verification/verify', {
      token: null,
      body: { app_id: app.workspace.appId, platform: 'ios', user_id: 'u', user_hash: hash },
    });
    assert.deepEqual(verify.body.errors, [{ code: 'hmac_mismatch', message: 'Failed Identity Verification check' }]);
    const res = await diagnose({ app_id: app.workspace.appId, platform: 'ios', user_id: 'u', user_hash: hash });
    assert.deepEqual(
      res.body.causes.map((c: { code: string }) => c.code),
      ['uppercase_hex_on_mobile'],
    );
  });

  it('validates the body like verify does', async () => {
    const missing = await diagnose({ platform: 'web', user_id: 'u' });
    assert.equal(missing.status, 422);
    assert.equal(missing.body.errors[0].field, 'user_hash');
    const platform = await diagnose({ platform: 'desktop', user_id: 'u', user_hash: 'h' });
    assert.equal(platform.status, 422);
    assert.equal(platform.body.errors[0].field, 'platform');
    const notJson = await api(app, 'POST', '/identity_verification/diagnose', { rawBody: 'user_hash=abc' });
    assert.equal(notJson.status, 400);
  });

  it('is described in the OpenAPI document, with verify as a public operation', async () => {
    const doc = (await api(app, 'GET', '/openapi.json')).body;
    assert.deepEqual(doc.paths['/identity_verification/verify'].post.security, []);
    assert.equal(doc.paths['/identity_verification/diagnose'].post.operationId, 'diagnoseIdentityVerification');
    assert.equal(
      doc.paths['/identity_verification/verify'].post.requestBody.content['application/json'].schema['x-secure-mode-extension'],
      true,
    );
  });
});

describe('POST /identity_verification/diagnose: its own limit per workspace', () => {
  const clock = new ManualClock(Date.UTC(2026, 5, 1, 12, 0, 4));
  let app: TestApp;
  before(async () => {
    app = await startTestApp({ clock, env: { SECURE_MODE_DIAGNOSE_RATE_LIMIT: '3' } });
  });
  after(async () => {
    await app.close();
  });

  it('answers 429 with Retry-After past SECURE_MODE_DIAGNOSE_RATE_LIMIT, apart from other workspaces and from verify', async () => {
    const created = await api(app, 'POST', '/secure_mode_secrets', { body: { name: 'web', supports_web: true } });
    const body = { platform: 'web', user_id: 'u', user_hash: userHash('not it', { user_id: 'u' }) };
    const statuses = [];
    for (let i = 0; i < 4; i++) statuses.push(await api(app, 'POST', '/identity_verification/diagnose', { body }));
    assert.deepEqual(
      statuses.map((r) => r.status),
      [200, 200, 200, 429],
    );
    const limited = statuses[3]!;
    assert.equal(limited.body.errors[0].code, 'rate_limit_exceeded');
    assert.equal(limited.body.errors[0].message, 'Exceeded rate limit of 3 in 10_seconds');
    assert.equal(limited.headers.get('x-ratelimit-limit'), '3');
    assert.equal(limited.headers.get('x-ratelimit-remaining'), '0');
    assert.equal(limited.headers.get('retry-after'), '6');

    const other = await app.otherWorkspace();
    const elsewhere = await api({ url: app.url, token: other.token }, 'POST', '/identity_verification/diagnose', { body });
    assert.equal(elsewhere.status, 200, 'another workspace has its own budget');
    const verify = await api(app, 'POST', '/identity_verification/verify', {
      body: {
        app_id: app.workspace.appId,
        platform: 'web',
        user_id: 'u',
        user_hash: userHash(created.body.secret, { user_id: 'u' }),
      },
      token: null,
    });
    assert.equal(verify.status, 200, 'verification is not limited by diagnoses');
    assert.equal((await api(app, 'GET', '/secure_mode_secrets')).status, 200, 'nor is the admin API');
    clock.advance(10_000);
    assert.equal((await api(app, 'POST', '/identity_verification/diagnose', { body })).status, 200, 'a new window');
  });
});
