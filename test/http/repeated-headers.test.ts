import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { api, startTestApp, type TestApp } from '../helpers/app.js';
import { rawRequest } from '../helpers/raw.js';

/**
 * Node keeps the first of two Authorization or Content-Type headers and joins two Idempotency-Keys into "a, b":
 * over raw TCP (fetch cannot repeat a header), each repeated singleton header is refused by name.
 */
describe('repeated Authorization, Idempotency-Key, Intercom-Version and Content-Type headers', () => {
  let app: TestApp;
  before(async () => {
    app = await startTestApp();
  });
  after(async () => {
    await app.close();
  });

  function send(method: string, path: string, headers: [string, string][], body = '') {
    const lines = [
      `${method} ${path} HTTP/1.1`,
      'Host: 127.0.0.1',
      'Connection: close',
      ...headers.map(([name, value]) => `${name}: ${value}`),
      ...(body ? [`Content-Length: ${Buffer.byteLength(body)}`] : []),
    ];
    return rawRequest(app.url, `${lines.join('\r\n')}\r\n\r\n${body}`);
  }

  const create = JSON.stringify({ name: 'repeated', supports_web: true });

  it('refuses each with 400 parameter_invalid naming the header, and creates nothing', async () => {
    const auth: [string, string] = ['Authorization', `Bearer ${app.token}`];
    const json: [string, string] = ['Content-Type', 'application/json'];
    const cases: { header: string; headers: [string, string][] }[] = [
      { header: 'Authorization', headers: [auth, ['authorization', 'Bearer smt_someone-else'], json] },
      { header: 'Authorization', headers: [auth, auth, json] },
      { header: 'Idempotency-Key', headers: [auth, json, ['Idempotency-Key', 'a'], ['Idempotency-Key', 'b']] },
      { header: 'Intercom-Version', headers: [auth, json, ['Intercom-Version', 'Preview'], ['intercom-version', 'Preview']] },
      { header: 'Content-Type', headers: [auth, json, ['Content-Type', 'text/plain']] },
    ];
    for (const c of cases) {
      const res = await send('POST', '/secure_mode_secrets', c.headers, create);
      assert.equal(res.status, 400, res.raw);
      const body = JSON.parse(res.body);
      assert.equal(body.type, 'error.list');
      assert.deepEqual(body.errors, [
        { code: 'parameter_invalid', message: `${c.header} must be sent at most once`, field: c.header },
      ]);
      assert.equal(body.request_id, res.headers['x-request-id']?.[0]);
    }
    assert.deepEqual((await api(app, 'GET', '/secure_mode_secrets')).body.data, []);
  });

  it('applies to every route, the public verify route (fast path) included, before authentication', async () => {
    const verify = JSON.stringify({ app_id: app.workspace.appId, platform: 'web', user_id: 'u', user_hash: 'ab'.repeat(32) });
    const json: [string, string] = ['Content-Type', 'application/json'];
    const verified = await send('POST', '/identity_verification/verify', [json, json], verify);
    assert.equal(verified.status, 400, verified.raw);
    assert.equal(JSON.parse(verified.body).errors[0].field, 'Content-Type');
    const listed = await send('GET', '/audit_events', [
      ['Authorization', 'Bearer x'],
      ['Authorization', 'Bearer y'],
    ]);
    assert.equal(listed.status, 400, listed.raw);
    assert.equal(JSON.parse(listed.body).errors[0].field, 'Authorization');
  });

  it('still serves one of each, and repeats of other headers', async () => {
    const res = await send(
      'POST',
      '/secure_mode_secrets',
      [
        ['Authorization', `Bearer ${app.token}`],
        ['Content-Type', 'application/json'],
        ['Idempotency-Key', 'once'],
        ['Intercom-Version', 'Preview'],
        ['Accept', 'application/json'],
        ['Accept', '*/*'],
      ],
      create,
    );
    assert.equal(res.status, 201, res.raw);
  });
});
