import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { CONSOLE_CSP } from '../../src/http/routes/console.js';
import { api, startTestApp, type TestApp } from '../helpers/app.js';
import { rawRequest } from '../helpers/raw.js';

/**
 * Every API answer, success or error, on the Fastify routes, the verify fast path and the answers written straight to
 * a socket, forbids caching (a create carries a secret) and content sniffing.
 */
function assertHardened(headers: { get(name: string): string | null }, what: string): void {
  assert.equal(headers.get('cache-control'), 'no-store', `${what}: Cache-Control`);
  assert.equal(headers.get('x-content-type-options'), 'nosniff', `${what}: X-Content-Type-Options`);
}

describe('security headers on every API answer', () => {
  let app: TestApp;
  before(async () => {
    app = await startTestApp();
  });
  after(async () => {
    await app.close();
  });

  it('the 201 that carries a secret and its idempotent replay', async () => {
    const body = { name: 'headers', supports_web: true };
    const created = await api(app, 'POST', '/secure_mode_secrets', { body, headers: { 'idempotency-key': 'hdr-1' } });
    assert.equal(created.status, 201);
    assertHardened(created.headers, 'create');
    const replay = await api(app, 'POST', '/secure_mode_secrets', { body, headers: { 'idempotency-key': 'hdr-1' } });
    assert.equal(replay.headers.get('idempotent-replayed'), 'true');
    assertHardened(replay.headers, 'replay');
  });

  it('successes and errors under /secure_mode_secrets, /identity_verification and /audit_events, and elsewhere', async () => {
    const id = (await api(app, 'GET', '/secure_mode_secrets')).body.data[0].id as string;
    const calls: [string, string, Parameters<typeof api>[3]][] = [
      ['GET', '/secure_mode_secrets', {}],
      ['GET', `/secure_mode_secrets/${id}`, {}],
      ['GET', `/secure_mode_secrets/${id}/usage`, {}],
      ['PUT', `/secure_mode_secrets/${id}`, { body: { name: 'renamed' } }],
      ['GET', '/secure_mode_secrets', { token: null }],
      ['GET', '/secure_mode_secrets/999999', {}],
      ['POST', '/secure_mode_secrets', { body: { name: '' } }],
      ['GET', '/audit_events', {}],
      ['GET', '/audit_events?limit=x', {}],
      ['POST', '/identity_verification/diagnose', { body: { platform: 'web', user_id: 'u', user_hash: 'ab'.repeat(32) } }],
      ['POST', '/identity_verification/verify', { body: { app_id: app.workspace.appId, platform: 'web' } }],
      ['GET', '/no/such/path', {}],
      ['GET', '/openapi.json', {}],
      ['GET', '/healthz', {}],
    ];
    for (const [method, path, options] of calls) {
      const res = await api(app, method, path, options);
      assertHardened(res.headers, `${method} ${path} ${res.status}`);
    }
  });

  it('the verify fast path and the Fastify route behind it (a chunked body) alike', async () => {
    const body = JSON.stringify({ app_id: app.workspace.appId, platform: 'web', user_id: 'u', user_hash: 'ab'.repeat(32) });
    const fast = await fetch(`${app.url}/identity_verification/verify`, { method: 'POST', body });
    assert.equal(fast.status, 401);
    assertHardened(fast.headers, 'fast path');
    const stream = new Blob([body]).stream();
    const chunked = await fetch(`${app.url}/identity_verification/verify`, { method: 'POST', body: stream, duplex: 'half' });
    assert.equal(chunked.status, 401);
    assertHardened(chunked.headers, 'Fastify route');
  });

  it('answers Node writes straight to the socket (a malformed request, CONNECT)', async () => {
    for (const request of ['GET / HTTP/1.1\r\nHost x\r\n\r\n', 'CONNECT example.com:443 HTTP/1.1\r\nHost: example.com\r\n\r\n']) {
      const res = await rawRequest(app.url, request);
      assert.ok(res.status >= 400, res.raw);
      assert.deepEqual(res.headers['cache-control'], ['no-store'], res.raw);
      assert.deepEqual(res.headers['x-content-type-options'], ['nosniff'], res.raw);
    }
  });

  it('the console keeps its CSP without framing (its files revalidate: test/http/routes/console.test.ts)', () => {
    assert.match(CONSOLE_CSP, /(^|; )frame-ancestors 'none'(;|$)/);
  });
});
