import assert from 'node:assert/strict';
import { createHmac, randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { createLogger } from '../../src/logger.js';
import { api, LogCapture, startTestApp, type TestApp } from '../helpers/app.js';
import { recordSensitive } from '../helpers/leaks.js';

function fakeCredentials() {
  const c = {
    token: `smt_${randomBytes(32).toString('base64url')}`,
    secret: randomBytes(32).toString('base64url'),
    userHash: randomBytes(32).toString('hex'),
    jwt: `eyJhbGciOiJIUzI1NiJ9.${randomBytes(24).toString('base64url')}.${randomBytes(32).toString('base64url')}`,
  };
  recordSensitive('token', c.token);
  recordSensitive('secret', c.secret);
  recordSensitive('user_hash', c.userHash);
  recordSensitive('jwt', c.jwt);
  return c;
}

function assertAbsent(text: string, values: string[]): void {
  for (const v of values) assert.ok(!text.includes(v), `log contains ${v.slice(0, 6)}…`);
}

describe('logger redaction', () => {
  it('censors authorization headers, secrets, hashes, JWTs and bodies wherever a logged object holds them', () => {
    const capture = new LogCapture();
    const log = createLogger('info', capture);
    const c = fakeCredentials();
    log.info({ req: { headers: { authorization: `Bearer ${c.token}` } } }, 'req');
    log.info({ headers: { authorization: `Bearer ${c.token}` } }, 'headers');
    log.info({ secret: c.secret, user_hash: c.userHash, intercom_user_jwt: c.jwt, token: c.token }, 'top level');
    log.info({ result: { secret: c.secret, user_hash: c.userHash, intercom_user_jwt: c.jwt, token: c.token } }, 'nested');
    log.info({ body: { anything: c.secret } }, 'body');
    assertAbsent(capture.text, [c.token, c.secret, c.userHash, c.jwt]);
    assert.equal(capture.text.split('\n').filter(Boolean).length, 5);
    assert.ok(capture.text.includes('[redacted]'));
  });
});

describe('service logs', () => {
  let app: TestApp;
  before(async () => {
    app = await startTestApp({ env: { SECURE_MODE_LOG_LEVEL: 'debug' } });
  });
  after(async () => {
    await app.close();
  });

  it('write one JSON access line per request with the route pattern, and no credential from any request', async () => {
    const c = fakeCredentials();
    const created = await api(app, 'POST', '/secure_mode_secrets', { body: { name: 'logged', supports_web: true } });
    assert.equal(created.status, 201);
    await api(app, 'GET', '/secure_mode_secrets', { token: c.token });
    await api(app, 'POST', '/secure_mode_secrets', {
      body: { name: c.secret, user_hash: c.userHash, intercom_user_jwt: c.jwt, supports_web: 'yes' },
    });
    await api(app, 'POST', '/secure_mode_secrets', {
      rawBody: `{"name":"${c.secret}","user_hash":"${c.userHash}"`,
      headers: { 'content-type': 'application/json' },
    });
    await api(app, 'GET', `/secure_mode_secrets/${c.userHash}?jwt=${c.jwt}`, {
      headers: { cookie: `s=${c.secret}`, 'x-api-key': c.token },
    });
    await api(app, 'DELETE', `/secure_mode_secrets/${created.body.id}`);

    const lines = app.logs.text
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l));
    const access = lines.filter((l) => l.msg === 'request');
    assert.equal(access.length, 6);
    assert.deepEqual(
      access.map((l) => [l.method, l.route, l.status]),
      [
        ['POST', '/secure_mode_secrets', 201],
        ['GET', '/secure_mode_secrets', 401],
        ['POST', '/secure_mode_secrets', 422],
        ['POST', '/secure_mode_secrets', 400],
        ['GET', '/secure_mode_secrets/:id', 404],
        ['DELETE', '/secure_mode_secrets/:id', 204],
      ],
    );
    assert.ok(access.every((l) => typeof l.reqId === 'string' && l.url === undefined && l.req === undefined));
    assertAbsent(app.logs.text, [c.token, c.secret, c.userHash, c.jwt, app.token, created.body.secret]);
  });

  it('log a storage failure by error type only: no body, header or secret', async () => {
    const c = fakeCredentials();
    await app.runtime.store.close();
    const res = await api(app, 'POST', '/secure_mode_secrets', {
      body: { name: c.secret, supports_web: true, user_hash: c.userHash },
    });
    assert.equal(res.status, 503);
    const failure = app.logs.text
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l))
      .find((l) => l.msg === 'request failed');
    assert.ok(failure, 'the 5xx was logged');
    assert.equal(failure.error.type, 'StorageUnavailableError');
    assertAbsent(app.logs.text, [c.secret, c.userHash, app.token]);
  });
});

describe('access log of the verify route', () => {
  async function verifyTwiceAndFailOnce(app: TestApp): Promise<void> {
    const created = await api(app, 'POST', '/secure_mode_secrets', { body: { name: 'summarised', supports_web: true } });
    const hash = createHmac('sha256', created.body.secret).update('u-1').digest('hex');
    recordSensitive('user_hash', hash);
    const body = { app_id: app.workspace.appId, platform: 'web', user_id: 'u-1', user_hash: hash };
    assert.equal((await api(app, 'POST', '/identity_verification/verify', { body, token: null })).status, 200);
    assert.equal((await api(app, 'POST', '/identity_verification/verify', { body, token: null })).status, 200);
    assert.equal(
      (await api(app, 'POST', '/identity_verification/verify', { body: { ...body, user_id: 'u-2' }, token: null })).status,
      401,
    );
  }
  const parsed = (app: TestApp) =>
    app.logs.text
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l));

  it('at info, counts successful verifications into a summary line and keeps a line for each failure', async () => {
    const app = await startTestApp();
    await verifyTwiceAndFailOnce(app);
    const before = parsed(app).filter((l) => l.route === '/identity_verification/verify');
    assert.deepEqual(
      before.map((l) => [l.msg, l.status]),
      [['request', 401]],
    );
    await app.close();
    const summary = parsed(app).filter((l) => l.msg === 'requests summarised');
    assert.equal(summary.length, 1, 'the count is written at close');
    assert.equal(summary[0].route, '/identity_verification/verify');
    assert.equal(summary[0].status, 200);
    assert.equal(summary[0].count, 2);
    assert.equal(typeof summary[0].seconds, 'number');
  });

  it('at debug, also writes a line for each successful verification', async () => {
    const app = await startTestApp({ env: { SECURE_MODE_LOG_LEVEL: 'debug' } });
    await verifyTwiceAndFailOnce(app);
    const lines = parsed(app).filter((l) => l.msg === 'request' && l.route === '/identity_verification/verify');
    assert.deepEqual(
      lines.map((l) => [l.level, l.status]),
      [
        [20, 200],
        [20, 200],
        [30, 401],
      ],
    );
    assert.ok(lines.every((l) => typeof l.reqId === 'string'));
    await app.close();
  });
});
