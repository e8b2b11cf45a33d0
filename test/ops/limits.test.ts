import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { after, before, describe, it } from 'node:test';
import Fastify from 'fastify';
import { randomUUID } from 'node:crypto';
import { ManualClock } from '../../src/domain/clock.js';
import { MemoryRateLimiter } from '../../src/domain/rate-limiter.js';
import { ClientAddresses } from '../../src/http/client-address.js';
import { registerErrorHandling } from '../../src/http/error-envelope.js';
import { limitVerification } from '../../src/http/verify-rate-limit.js';
import { api, startTestApp, type TestApp } from '../helpers/app.js';
import { parseResponse, rawRequest, type RawResponse } from '../helpers/raw.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

function assertErrorList(res: RawResponse, status: number, code: string): void {
  assert.equal(res.status, status, res.raw);
  const body = JSON.parse(res.body);
  assert.equal(body.type, 'error.list');
  assert.match(body.request_id, UUID);
  assert.equal(body.request_id, res.headers['x-request-id']?.[0]);
  assert.equal(body.errors[0].code, code);
}

/**
 * Opens a connection and sends `head` then one byte of `trickle` every intervalMs, forever; resolves with what the
 * server answered once it closes the connection. The test's own timeout is the bound.
 */
function slowClient(
  url: string,
  head: string,
  trickle: string,
  intervalMs: number,
): Promise<{ response: RawResponse | undefined; bytesSent: number }> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve) => {
    const socket = connect({ host: hostname, port: Number(port) });
    const received: Buffer[] = [];
    let sent = 0;
    let timer: NodeJS.Timeout | undefined;
    socket.on('connect', () => {
      socket.write(head);
      timer = setInterval(() => {
        if (socket.writable) socket.write(trickle[sent++ % trickle.length]!);
      }, intervalMs);
    });
    socket.on('data', (d: Buffer) => received.push(d));
    socket.on('error', () => undefined);
    socket.on('close', () => {
      clearInterval(timer);
      resolve({ response: parseResponse(Buffer.concat(received)), bytesSent: sent });
    });
  });
}

describe('abuse limits', () => {
  let app: TestApp;
  before(async () => {
    app = await startTestApp({
      env: { SECURE_MODE_HEADERS_TIMEOUT_MS: '500', SECURE_MODE_REQUEST_TIMEOUT_MS: '1000', SECURE_MODE_MAX_URL_LENGTH: '512' },
    });
  });
  after(async () => {
    await app.close();
  });

  it('refuses a body over the limit with 413 payload_too_large', async () => {
    const res = await api(app, 'POST', '/secure_mode_secrets', {
      rawBody: JSON.stringify({ name: 'x'.repeat(70 * 1024), supports_web: true }),
    });
    assert.equal(res.status, 413);
    assert.equal(res.body.errors[0].code, 'payload_too_large');
    assert.equal(res.body.request_id, res.headers.get('x-request-id'));
  });

  it('refuses headers over the limit with 431 in the error format', async () => {
    const res = await rawRequest(
      app.url,
      `GET /secure_mode_secrets HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20 * 1024)}\r\n\r\n`,
    );
    assertErrorList(res, 431, 'request_header_fields_too_large');
  });

  it('refuses a URL over the limit with 414 uri_too_long', async () => {
    const res = await api(app, 'GET', `/secure_mode_secrets?q=${'a'.repeat(600)}`);
    assert.equal(res.status, 414);
    assert.equal(res.body.errors[0].code, 'uri_too_long');
    const long = await api(app, 'GET', `/secure_mode_secrets/${'9'.repeat(600)}`);
    assert.equal(long.status, 414);
    assert.equal(long.body.errors[0].code, 'uri_too_long');
  });

  it('answers an id over the parameter limit, or a path that does not decode, with 404 not_found and no echo', async () => {
    for (const path of [`/secure_mode_secrets/${'9'.repeat(300)}`, '/secure_mode_secrets/%ff%zz']) {
      const res = await api(app, 'GET', path);
      assert.equal(res.status, 404, path);
      assert.equal(res.body.errors[0].code, 'not_found');
      assert.equal(res.body.request_id, res.headers.get('x-request-id'));
      assert.ok(!res.text.includes('999999') && !res.text.includes('%zz'));
    }
  });

  it('answers a malformed request line with 400 in the error format', async () => {
    assertErrorList(await rawRequest(app.url, 'BLAH\r\n\r\n'), 400, 'bad_request');
  });

  it('cuts off a client that sends its headers one byte at a time (slowloris) with 408', async () => {
    const { response, bytesSent } = await slowClient(
      app.url,
      'GET /healthz HTTP/1.1\r\nHost: x\r\n',
      'X-Slow: aaaaaaaaaaaaaaaaaaaaaaaa\r\n',
      20,
    );
    assert.ok(response, 'the server answered before closing');
    assertErrorList(response, 408, 'request_timeout');
    assert.ok(bytesSent > 0);
    assert.equal((await api(app, 'GET', '/healthz', { token: null })).status, 200);
  });

  it('cuts off a client that trickles its body with 408', async () => {
    const { response } = await slowClient(
      app.url,
      `POST /secure_mode_secrets HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${app.token}\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n`,
      ' ',
      20,
    );
    assert.ok(response, 'the server answered before closing');
    assertErrorList(response, 408, 'request_timeout');
    assert.equal((await api(app, 'GET', '/healthz', { token: null })).status, 200);
  });

  it('keeps serving other clients while slow ones are held', async () => {
    const slow = Array.from({ length: 20 }, () => slowClient(app.url, 'GET /healthz HTTP/1.1\r\n', 'X-A: b\r\n', 30));
    for (let i = 0; i < 10; i++) assert.equal((await api(app, 'GET', '/secure_mode_secrets')).status, 200);
    const results = await Promise.all(slow);
    assert.ok(results.every((r) => r.response?.status === 408));
  });
});

describe('verification rate limit by app_id', () => {
  it('limits each app_id separately, whatever the client, and answers 429 rate_limit_exceeded with rate-limit headers', async () => {
    const app = Fastify({ genReqId: () => randomUUID() });
    registerErrorHandling(app, 1024);
    app.addHook('onRequest', async (request, reply) => {
      reply.header('x-request-id', request.id);
    });
    const deps = {
      verifyLimiter: { clients: new MemoryRateLimiter(), apps: new MemoryRateLimiter() },
      clock: new ManualClock(1_700_000_000_000),
      verifyRateLimit: 3,
      verifyClientRateLimit: 1000,
      clientAddresses: new ClientAddresses([]),
    };
    let client = 0;
    app.post('/probe', (request, reply) => {
      const headers: Record<string, string> = {};
      try {
        // Each request from another client, so that only the per-app_id backstop can bind.
        limitVerification(deps, `10.0.0.${client++}`, (request.body as { app_id: string }).app_id, headers);
        return { ok: true };
      } finally {
        reply.headers(headers);
      }
    });
    const send = (appId: unknown) => app.inject({ method: 'POST', url: '/probe', payload: { app_id: appId } });

    for (let i = 0; i < 3; i++) {
      const ok = await send('app-one');
      assert.equal(ok.statusCode, 200);
      assert.equal(ok.headers['x-ratelimit-remaining'], '999', "a client's own budget");
    }
    const limited = await send('app-one');
    assert.equal(limited.statusCode, 429);
    assert.equal(limited.json().errors[0].code, 'rate_limit_exceeded');
    assert.equal(limited.json().errors[0].message, 'Exceeded rate limit of 3 in 10_seconds');
    assert.equal(limited.headers['x-ratelimit-limit'], '3');
    assert.equal(limited.headers['x-ratelimit-remaining'], '0');
    assert.equal(limited.headers['retry-after'], '10');
    assert.equal(limited.json().request_id, limited.headers['x-request-id']);
    assert.equal((await send('app-two')).statusCode, 200, 'another app_id has its own budget');
    await app.close();
  });
});
