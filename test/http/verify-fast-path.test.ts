import fc from 'fast-check';
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { type IncomingHttpHeaders, createServer, request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { loadConfig } from '../../src/config.js';
import { VERIFY_PATH } from '../../src/http/routes/verification/verify.js';
import { verifyBodyValidator } from '../../src/http/validation.js';
import { verifyFastPath } from '../../src/http/verify-fast-path.js';
import { userJwt } from '../../packages/sign/src/index.js';
import { api, startTestApp, type TestApp } from '../helpers/app.js';
import { recordSensitive } from '../helpers/leaks.js';

/**
 * The verify route has two ways in: the node:http fast path and the Fastify route behind it. These tests hold them to
 * the same answers, byte for byte apart from request ids, and check which requests the fast path takes.
 */

interface RawResponse {
  status: number;
  headers: IncomingHttpHeaders;
  text: string;
}

function post(
  url: string,
  path: string,
  body: string | Buffer | undefined,
  headers: Record<string, string>,
  chunked = false,
): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const length = body === undefined ? 0 : Buffer.byteLength(body);
    const req = request(
      `${url}${path}`,
      { method: 'POST', headers: chunked ? headers : { ...headers, 'content-length': String(length) } },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => (text += d));
        res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, text }));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

/** Headers whose value differs from one request to the next on either path; both paths must still send them or not. */
const PER_REQUEST_HEADERS = ['x-request-id', 'x-ratelimit-remaining', 'x-ratelimit-reset'];
/** Headers the transport adds (a real socket on the fast path, light-my-request's inject on Fastify), not either path. */
const TRANSPORT_HEADERS = ['date', 'connection', 'keep-alive', 'transfer-encoding'];

/** What must agree between the two paths: status, body (request id aside) and every response header but the above. */
function comparable(res: { status: number; headers: Record<string, unknown>; text: string }) {
  const requestId = String(res.headers['x-request-id']);
  assert.match(requestId, /^[0-9a-f-]{36}$/);
  if (res.status !== 200)
    assert.equal(JSON.parse(res.text).request_id, requestId, 'the error names the request id of its header');
  const headers = Object.entries(res.headers)
    .filter(([name]) => !TRANSPORT_HEADERS.includes(name))
    .map(([name, value]) => [name, PER_REQUEST_HEADERS.includes(name) ? '<per request>' : value] as const)
    .sort(([a], [b]) => a.localeCompare(b));
  return { status: res.status, body: res.text.replaceAll(requestId, '<request-id>'), headers: Object.fromEntries(headers) };
}

interface FastServer {
  url: string;
  /** Requests the fast path handed to Fastify, as "METHOD url". */
  fallbacks: string[];
  /** What the fast path recorded: method, route, status. */
  recorded: [string, string, number][];
  setClosing(closing: boolean): void;
  close(): Promise<void>;
}

/** The fast path as the app mounts it, over the app's services, on a server of its own; its fallback is the app's router. */
async function fastServerFor(app: TestApp, bodyLimit: number): Promise<FastServer> {
  let closing = false;
  const fallbacks: string[] = [];
  const recorded: [string, string, number][] = [];
  const listener = verifyFastPath({
    deps: app.runtime,
    bodyLimit,
    validate: verifyBodyValidator(),
    record: (_id, method, route, status) => recorded.push([method, route, status]),
    logger: false,
    closing: () => closing,
  })((req, res) => {
    fallbacks.push(`${req.method} ${req.url}`);
    app.runtime.app.routing(req, res);
  });
  const server = createServer(listener);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    fallbacks,
    recorded,
    setClosing: (value) => (closing = value),
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

async function viaFastify(app: TestApp, body: string | Buffer | undefined, headers: Record<string, string>) {
  const res = await app.runtime.app.inject({
    method: 'POST',
    url: VERIFY_PATH,
    headers,
    ...(body === undefined ? {} : { payload: body }),
  });
  return comparable({ status: res.statusCode, headers: res.headers, text: res.body });
}

describe('POST /identity_verification/verify: the fast path and the Fastify route', () => {
  let app: TestApp;
  let fast: FastServer;
  let fastUrl: string;
  let fallbacks: string[];
  let recorded: [string, string, number][];
  const bodyLimit = loadConfig({}).bodyLimit;
  let secret: string;

  before(async () => {
    app = await startTestApp();
    const created = await api(app, 'POST', '/secure_mode_secrets', {
      body: { name: 'fast', supports_web: true, supports_ios: true },
    });
    assert.equal(created.status, 201);
    secret = created.body.secret;
    fast = await fastServerFor(app, bodyLimit);
    ({ url: fastUrl, fallbacks, recorded } = fast);
  });
  after(async () => {
    await fast.close();
    await app.close();
  });

  function signed(message: string, key = secret): string {
    const h = createHmac('sha256', key).update(message).digest('hex');
    recordSensitive('user_hash', h);
    return h;
  }

  const contentType = fc.constantFrom<Record<string, string>>(
    {},
    { 'content-type': 'application/json' },
    { 'content-type': 'Application/JSON; charset=UTF-8' },
  );

  it('answers every generated body exactly as the Fastify route does, without falling back', async () => {
    const appId = app.workspace.appId;
    const body = fc.record(
      {
        app_id: fc.oneof(fc.constant(appId), fc.string({ maxLength: 8 }), fc.integer(), fc.constant('x'.repeat(201))),
        platform: fc.constantFrom('web', 'ios', 'android', 'WEB', 'tv', 7),
        user_id: fc.oneof(fc.constant('user-1'), fc.string({ maxLength: 6 }), fc.integer()),
        email: fc.oneof(fc.constant('a@example.com'), fc.string({ maxLength: 6 })),
        user_hash: fc.oneof(
          fc.constant('VALID'),
          fc.stringMatching(/^[0-9a-f]{64}$/),
          fc.string({ maxLength: 6 }),
          fc.integer(),
          fc.constant(null),
        ),
        intercom_user_jwt: fc.oneof(fc.constant('VALID'), fc.string({ maxLength: 10 })),
        extra: fc.jsonValue({ maxDepth: 1 }),
      },
      { requiredKeys: [] },
    );
    // Well-formed requests, signed right or almost: the secret accepts web and ios, uppercase hex only on web.
    const wellFormed = fc
      .record({
        platform: fc.constantFrom('web', 'ios', 'android'),
        user_id: fc.string({ minLength: 1, maxLength: 6 }),
        jwt: fc.boolean(),
        upper: fc.boolean(),
      })
      .map(({ platform, user_id, jwt, upper }) => {
        if (jwt) {
          const token = userJwt(secret, { user_id });
          recordSensitive('jwt', token);
          return JSON.stringify({ app_id: appId, platform, intercom_user_jwt: token });
        }
        const h = signed(user_id);
        return JSON.stringify({ app_id: appId, platform, user_id, user_hash: upper ? h.toUpperCase() : h });
      });
    const text = fc.oneof(
      { weight: 3, arbitrary: wellFormed },
      // A byte-order mark, which the library strips before parsing.
      { weight: 1, arbitrary: wellFormed.map((t) => `\ufeff${t}`) },
      { weight: 4, arbitrary: body.map((b) => materialise(b)) },
      { weight: 1, arbitrary: fc.string({ minLength: 1, maxLength: 40 }) },
      {
        weight: 1,
        arbitrary: fc.constantFrom(
          'null',
          '[]',
          '1',
          '"s"',
          '{',
          '{"__proto__":{"x":1}}',
          '{"constructor":{"prototype":{}}}',
          // The same keys spelt with escapes, which only the library's own scan sees.
          '{"\\u005f_proto__":{"x":1}}',
          '{"constructo\\u0072":{"prototype":{}}}',
          '\ufeff{"__proto__":{"x":1}}',
          '{"app_id":"a","platform":"web"}',
        ),
      },
      { weight: 1, arbitrary: fc.uint8Array({ minLength: 1, maxLength: 40 }).map((b) => Buffer.from(b)) },
    );
    function materialise(b: Record<string, unknown>): string {
      const out = { ...b };
      if (out.user_hash === 'VALID')
        out.user_hash = signed(typeof out.user_id === 'string' ? out.user_id : String(out.email ?? ''));
      if (out.intercom_user_jwt === 'VALID') {
        out.intercom_user_jwt = userJwt(secret, {
          user_id: typeof out.user_id === 'string' && out.user_id !== '' ? out.user_id : 'user-1',
        });
        recordSensitive('jwt', out.intercom_user_jwt as string);
      }
      return JSON.stringify(out);
    }

    const statuses = new Set<number>();
    await fc.assert(
      fc.asyncProperty(text, contentType, async (payload, headers) => {
        const fromFast = comparable(await post(fastUrl, VERIFY_PATH, payload, headers));
        const fromFastify = await viaFastify(app, payload, headers);
        statuses.add(fromFast.status);
        assert.deepEqual(fromFast, fromFastify);
      }),
      { numRuns: Number(process.env.SECURE_MODE_FUZZ_RUNS || 300) },
    );
    assert.deepEqual(fallbacks, [], 'every generated request was a plain one, served by the fast path');
    // The generator reached every kind of answer the route gives.
    for (const status of [200, 400, 401, 422]) assert.ok(statuses.has(status), `no ${status} was generated`);
  });

  it('answers a verified user_hash and records it as a request to the route', async () => {
    recorded.length = 0;
    const res = await post(
      fastUrl,
      VERIFY_PATH,
      JSON.stringify({ app_id: app.workspace.appId, platform: 'web', user_id: 'u-9', user_hash: signed('u-9') }),
      {},
    );
    assert.equal(res.status, 200, res.text);
    assert.deepEqual(JSON.parse(res.text), {
      type: 'identity_verification.result',
      verified: true,
      method: 'user_hash',
      user_id: 'u-9',
      email: null,
    });
    assert.deepEqual(recorded, [['POST', VERIFY_PATH, 200]]);
    assert.deepEqual(fallbacks, []);
  });

  it('answers the same after a cache miss, which verifies asynchronously', async () => {
    const other = await app.otherWorkspace();
    const created = await api({ url: app.url, token: other.token }, 'POST', '/secure_mode_secrets', {
      body: { name: 'cold', supports_web: true },
    });
    const body = JSON.stringify({
      app_id: other.workspace.appId,
      platform: 'web',
      user_id: 'cold-1',
      user_hash: signed('cold-1', created.body.secret),
    });
    for (const expected of [200, 401]) {
      const payload = expected === 200 ? body : body.replace('cold-1', 'cold-2');
      app.runtime.cache.invalidateAll();
      const fromFast = comparable(await post(fastUrl, VERIFY_PATH, payload, {}));
      app.runtime.cache.invalidateAll();
      assert.deepEqual(fromFast, await viaFastify(app, payload, {}));
      assert.equal(fromFast.status, expected);
    }
    assert.deepEqual(fallbacks, []);
  });

  it('hands to Fastify, before reading the body, anything but a plain request, and the answers still agree', async () => {
    const good = JSON.stringify({ app_id: app.workspace.appId, platform: 'web', user_id: 'u-1', user_hash: signed('u-1') });
    const cases: {
      name: string;
      path?: string;
      body?: string;
      headers?: Record<string, string>;
      chunked?: boolean;
      status: number;
    }[] = [
      { name: 'a query string', path: `${VERIFY_PATH}?debug=1`, body: good, status: 200 },
      { name: 'a chunked body', body: good, headers: { 'transfer-encoding': 'chunked' }, chunked: true, status: 200 },
      { name: 'another media type', body: good, headers: { 'content-type': 'text/plain' }, status: 200 },
      {
        name: 'a media type with other parameters',
        body: good,
        headers: { 'content-type': 'application/json; charset' },
        status: 200,
      },
      { name: 'a malformed media type', body: good, headers: { 'content-type': 'json' }, status: 400 },
      { name: 'an empty body', status: 422 },
      { name: 'a body over the limit', body: JSON.stringify({ app_id: 'x'.repeat(bodyLimit) }), status: 413 },
    ];
    for (const c of cases) {
      fallbacks.length = 0;
      const res = await post(fastUrl, c.path ?? VERIFY_PATH, c.body, c.headers ?? {}, c.chunked);
      assert.equal(res.status, c.status, `${c.name}: ${res.text}`);
      assert.equal(fallbacks.length, 1, `${c.name} goes to Fastify`);
      if (!c.chunked && !c.path) assert.deepEqual(comparable(res), await viaFastify(app, c.body, c.headers ?? {}), c.name);
    }
  });

  it('steps aside once the app says it is closing', async () => {
    fallbacks.length = 0;
    fast.setClosing(true);
    try {
      const res = await post(
        fastUrl,
        VERIFY_PATH,
        JSON.stringify({ app_id: app.workspace.appId, platform: 'web', user_id: 'u-2', user_hash: signed('u-2') }),
        {},
      );
      assert.equal(res.status, 200);
      assert.deepEqual(fallbacks, [`POST ${VERIFY_PATH}`]);
    } finally {
      fast.setClosing(false);
    }
  });
});

describe('POST /identity_verification/verify over the per-app_id limit', () => {
  it('answers 429 with the same body and rate-limit headers on both paths', async () => {
    const app = await startTestApp({ env: { SECURE_MODE_VERIFY_RATE_LIMIT: '2' } });
    const fast = await fastServerFor(app, loadConfig({}).bodyLimit);
    try {
      const body = JSON.stringify({ app_id: app.workspace.appId, platform: 'web', user_id: 'u', user_hash: 'ab'.repeat(32) });
      // Both paths spend the one limiter: two requests use the budget, the next two are over it.
      assert.equal((await post(fast.url, VERIFY_PATH, body, {})).status, 401);
      assert.equal((await viaFastify(app, body, {})).status, 401);
      const fromFast = comparable(await post(fast.url, VERIFY_PATH, body, {}));
      assert.equal(fromFast.status, 429);
      assert.equal(fromFast.headers['x-ratelimit-limit'], '2');
      assert.equal(fromFast.headers['x-ratelimit-remaining'], '<per request>');
      assert.equal(fromFast.headers['x-ratelimit-reset'], '<per request>');
      assert.match(fromFast.body, /"code":"rate_limit_exceeded"/);
      assert.deepEqual(fromFast, await viaFastify(app, body, {}));
      assert.deepEqual(fast.fallbacks, []);
    } finally {
      await fast.close();
      await app.close();
    }
  });
});

describe('POST /identity_verification/verify on the running app when storage fails', () => {
  it('answers 503 through the fast path and logs the failure by type under the request id', async () => {
    const app = await startTestApp();
    try {
      await app.runtime.store.close();
      // An app_id the cache has never seen: verifying it needs the database.
      const res = await post(
        app.url,
        VERIFY_PATH,
        JSON.stringify({ app_id: 'not-cached', platform: 'web', user_id: 'u', user_hash: 'ab'.repeat(32) }),
        {
          'content-type': 'application/json',
        },
      );
      assert.equal(res.status, 503, res.text);
      const body = JSON.parse(res.text);
      assert.equal(body.errors[0].code, 'service_unavailable');
      const failure = app.logs.text
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l))
        .find((l) => l.msg === 'request failed');
      assert.equal(failure?.reqId, body.request_id);
      assert.equal(failure?.error.type, 'StorageUnavailableError');
    } finally {
      await app.close();
    }
  });
});
