import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import fc from 'fast-check';
import { api, startTestApp, type TestApp } from '../helpers/app.js';
import { rawRequest, type RawResponse } from '../helpers/raw.js';

/**
 * Property-based fuzzing of every endpoint over raw TCP, so that anything a client can put on the wire is tried:
 * duplicated headers, invalid UTF-8, wrong Content-Length, odd methods and content types, huge and deeply nested
 * JSON, prototype-pollution keys. Invariant for every request: an answer within the timeout, never a 5xx, and for
 * every non-2xx an error.list whose request_id is a UUID equal to X-Request-Id; afterwards the server still serves.
 *
 * Fixed seed and a CI-sized number of runs; SECURE_MODE_FUZZ_RUNS=20000 (and SECURE_MODE_FUZZ_SEED) to go further.
 */
const RUNS = Number(process.env.SECURE_MODE_FUZZ_RUNS || 1000);
const SEED = Number(process.env.SECURE_MODE_FUZZ_SEED || 20260101);
const REQUEST_TIMEOUT_MS = 10_000;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

interface Endpoint {
  method: string;
  /** With {name} placeholders for path parameters. */
  path: string;
}

/** Routes outside the OpenAPI document (operations endpoints); everything else is read from /openapi.json. */
const HIDDEN_ENDPOINTS: Endpoint[] = [
  { method: 'GET', path: '/healthz' },
  { method: 'GET', path: '/readyz' },
  { method: 'GET', path: '/metrics' },
  { method: 'GET', path: '/openapi.json' },
];

/** Every documented operation: new routes join the fuzz run as soon as they are registered. */
async function endpointsOf(app: TestApp): Promise<Endpoint[]> {
  const doc = (await api(app, 'GET', '/openapi.json')).body as { paths: Record<string, Record<string, unknown>> };
  const documented = Object.entries(doc.paths).flatMap(([path, ops]) =>
    Object.keys(ops).map((m) => ({ method: m.toUpperCase(), path })),
  );
  return [...documented, ...HIDDEN_ENDPOINTS];
}

interface FuzzRequest {
  bytes: Buffer;
  method: string;
  /** For the failure message. */
  summary: string;
}

const FIELD_NAMES = [
  'name',
  'supports_web',
  'supports_ios',
  'supports_android',
  'app_id',
  'platform',
  'user_id',
  'email',
  'user_hash',
  'intercom_user_jwt',
  'expires_at',
  'secret',
  'id',
  'type',
  '__proto__',
  'constructor',
  'prototype',
  'toString',
  'hasOwnProperty',
  '',
  ' name',
  'NAME',
];

function jsonText(value: unknown): string {
  return JSON.stringify(value) ?? 'null';
}

/** JSON values as text, including what JSON.stringify cannot build (duplicate keys, __proto__ as an own key). */
function jsonBody(ctx: { appId: string; token: string; validId: string }): fc.Arbitrary<Buffer> {
  const leaf = fc.oneof(
    fc.constantFrom(
      'true',
      'false',
      'null',
      '0',
      '-1',
      '1e308',
      '-1e309',
      '1.5',
      '9007199254740993',
      '""',
      '"web"',
      '"ios"',
      '"android"',
    ),
    fc.string({ unit: 'grapheme', maxLength: 40 }).map(jsonText),
    fc.string({ unit: 'binary', maxLength: 40 }).map(jsonText),
    fc.constantFrom(
      jsonText(ctx.appId),
      jsonText(ctx.validId),
      jsonText('a'.repeat(300)),
      jsonText(' \t\n'),
      jsonText('\u0000'),
      jsonText('\ud800'),
    ),
    fc.integer().map(String),
    fc.double().map((d) => (Number.isFinite(d) ? String(d) : '0')),
  );
  const value: fc.Arbitrary<string> = fc.letrec<{ v: string }>((tie) => ({
    v: fc.oneof(
      { depthSize: 'small', withCrossShrink: true },
      leaf,
      fc.array(tie('v'), { maxLength: 4 }).map((a) => `[${a.join(',')}]`),
      fc
        .array(fc.tuple(fc.oneof(fc.constantFrom(...FIELD_NAMES), fc.string({ maxLength: 12 })), tie('v')), { maxLength: 6 })
        .map((pairs) => `{${pairs.map(([k, v]) => `${jsonText(k)}:${v}`).join(',')}}`),
    ),
  })).v;
  const plausible = fc
    .record(
      {
        name: fc.oneof(fc.string({ maxLength: 30 }), fc.constant('x'.repeat(256))),
        supports_web: fc.oneof(fc.boolean(), fc.constant('true')),
        supports_ios: fc.boolean(),
        app_id: fc.constantFrom(ctx.appId, 'unknown-app', ''),
        platform: fc.constantFrom('web', 'ios', 'android', 'WEB', 'windows', ''),
        user_id: fc.oneof(fc.string({ maxLength: 20 }), fc.integer()),
        email: fc.emailAddress(),
        user_hash: fc.oneof(
          fc.stringMatching(/^[0-9a-f]{64}$/),
          fc.stringMatching(/^[0-9A-F]{64}$/),
          fc.string({ maxLength: 70 }),
        ),
        intercom_user_jwt: fc.oneof(fc.constant('eyJhbGciOiJub25lIn0.eyJ1c2VyX2lkIjoiMSJ9.'), fc.string({ maxLength: 60 })),
      },
      { requiredKeys: [] },
    )
    .map((o) => jsonText(o));
  const nested = fc
    .integer({ min: 1, max: 20_000 })
    .chain((depth) =>
      fc.constantFrom(
        `${'['.repeat(depth)}${']'.repeat(depth)}`,
        `${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}`,
        `{"name":${'['.repeat(depth)}${']'.repeat(depth)}}`,
      ),
    );
  const proto = fc.constantFrom(
    '{"__proto__":{"isAdmin":true},"name":"p","supports_web":true}',
    '{"constructor":{"prototype":{"polluted":true}},"name":"c","supports_web":true}',
    '{"name":"d","supports_web":true,"supports_web":false}',
    '{"name":{"__proto__":null},"supports_web":true}',
  );
  const huge = fc.constantFrom(
    jsonText({ name: 'h'.repeat(60 * 1024), supports_web: true }),
    jsonText({ name: 'h', supports_web: true, pad: 'p'.repeat(70 * 1024) }),
    `[${'1,'.repeat(30_000)}1]`,
  );
  return fc.oneof(value, plausible, nested, proto, huge).map((text) => Buffer.from(text, 'utf8'));
}

function rawBody(): fc.Arbitrary<Buffer> {
  return fc.oneof(
    fc.uint8Array({ maxLength: 200 }).map((a) => Buffer.from(a)),
    // Invalid UTF-8 inside otherwise plausible JSON.
    fc.constantFrom(
      Buffer.concat([
        Buffer.from('{"name":"'),
        Buffer.from([0xc3, 0x28, 0xff, 0xfe, 0xed, 0xa0, 0x80]),
        Buffer.from('","supports_web":true}'),
      ]),
      Buffer.from([0xef, 0xbb, 0xbf, ...Buffer.from('{"name":"bom","supports_web":true}')]),
      Buffer.from('{"name":"utf16","supports_web":true}', 'utf16le'),
      Buffer.from('name=form&supports_web=true'),
      Buffer.alloc(0),
    ),
  );
}

/** One of several lists of header values (none, one, or the same header repeated). */
function headerValues(...choices: string[][]): fc.Arbitrary<string[]> {
  return fc.constantFrom(...choices).map((values) => [...values]);
}

function fuzzRequest(endpoints: Endpoint[], ctx: { appId: string; token: string; validId: string }): fc.Arbitrary<FuzzRequest> {
  const segment = fc.oneof(
    fc.constantFrom(
      ctx.validId,
      '0',
      '-1',
      '1.0',
      '1e3',
      '00001',
      '9'.repeat(40),
      '%00',
      '%2e%2e',
      '..',
      '%ff%fe',
      'null',
      '%7B%7D',
      'a b',
    ),
    fc.stringMatching(/^[A-Za-z0-9._~%-]{0,30}$/),
  );
  const path = fc
    .tuple(
      fc.constantFrom(...endpoints),
      segment,
      fc.option(fc.stringMatching(/^[A-Za-z0-9=&%_.-]{0,60}$/), { nil: undefined }),
      fc.boolean(),
    )
    .map(
      ([ep, seg, query, slash]) =>
        `${ep.path.replace(/\{[^}]+\}/g, seg)}${slash ? '/' : ''}${query === undefined ? '' : `?${query}`}`,
    );
  const method = fc.oneof(
    { weight: 4, arbitrary: fc.constantFrom(...endpoints.map((e) => e.method)) },
    fc.constantFrom('GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS', 'HEAD', 'TRACE', 'PROPFIND'),
  );
  const authorization = fc.oneof(
    headerValues([`Bearer ${ctx.token}`]),
    headerValues([]),
    headerValues(
      ['Bearer'],
      ['Basic dXNlcjpwYXNz'],
      [`bearer  ${ctx.token}  `],
      [`Bearer ${ctx.token}`, `Bearer ${ctx.token}`],
      [`Bearer ${ctx.token}`, 'Bearer other'],
      [`Bearer ${'x'.repeat(600)}`],
    ),
    fc.string({ maxLength: 40 }).map((s) => [`Bearer ${s.replace(/[\r\n]/g, '')}`]),
  );
  const version = fc.oneof(
    headerValues([]),
    headerValues(['Preview'], ['Unstable'], ['2.11'], ['preview'], ['Preview', 'Preview'], ['Preview', '2.11'], ['9.9'], ['']),
  );
  const contentType = fc.oneof(
    headerValues([]),
    headerValues(
      ['application/json'],
      ['application/json; charset=utf-8'],
      ['application/json; charset=latin1'],
      ['text/plain'],
      ['multipart/form-data; boundary=x'],
      ['application/x-www-form-urlencoded'],
      ['application/json', 'text/plain'],
      ['*/*'],
      [';;;'],
    ),
  );
  const encoding = fc.oneof(headerValues([]), headerValues(['gzip'], ['br'], ['deflate, gzip'], ['identity'], ['x-unknown']));
  const lengthMode = fc.constantFrom('exact', 'exact', 'exact', 'short', 'none', 'chunked');
  const extraHeaders = fc.array(
    fc.tuple(
      fc.stringMatching(/^[A-Za-z][A-Za-z0-9-]{0,20}$/),
      fc.string({ unit: 'binary-ascii', maxLength: 40 }).map((v) => v.replace(/[\r\n]/g, '')),
    ),
    { maxLength: 4 },
  );
  const body = fc.oneof({ weight: 3, arbitrary: jsonBody(ctx) }, rawBody(), fc.constant(undefined));
  return fc
    .record({
      method,
      path,
      authorization,
      version,
      contentType,
      encoding,
      lengthMode,
      extraHeaders,
      body,
      highBytes: fc.boolean(),
    })
    .map((r) => {
      const head: Buffer[] = [
        Buffer.from(`${r.method} ${r.path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n`, 'latin1'),
      ];
      const header = (name: string, value: string) => head.push(Buffer.from(`${name}: ${value}\r\n`, 'latin1'));
      for (const v of r.authorization) header('Authorization', v);
      for (const v of r.version) header('Intercom-Version', v);
      for (const v of r.contentType) header('Content-Type', v);
      for (const v of r.encoding) header('Content-Encoding', v);
      for (const [n, v] of r.extraHeaders) header(n, v);
      // A header value with bytes above 0x7f: not UTF-8 text, which Node passes as latin1.
      if (r.highBytes) head.push(Buffer.from([...Buffer.from('X-Bytes: '), 0xc3, 0x28, 0xff, 0x0d, 0x0a]));
      let payload = r.body ?? Buffer.alloc(0);
      if (r.lengthMode === 'chunked') {
        header('Transfer-Encoding', 'chunked');
        payload = Buffer.concat([Buffer.from(`${payload.length.toString(16)}\r\n`), payload, Buffer.from('\r\n0\r\n\r\n')]);
      } else if (r.lengthMode === 'short' && payload.length > 1) {
        // Fewer bytes announced than sent: the rest reaches the parser as a second, garbage request.
        header('Content-Length', String(payload.length - 1));
      } else if (r.lengthMode !== 'none' || r.body !== undefined) {
        header('Content-Length', String(payload.length));
      }
      const bytes = Buffer.concat([...head, Buffer.from('\r\n'), payload]);
      const summary = `${r.method} ${r.path} auth=${r.authorization.length} version=${JSON.stringify(r.version)} type=${JSON.stringify(r.contentType)} encoding=${JSON.stringify(r.encoding)} length=${r.lengthMode} body=${JSON.stringify(payload.subarray(0, 120).toString('latin1'))}${payload.length > 120 ? `…(${payload.length} bytes)` : ''}`;
      return { bytes, method: r.method, summary };
    });
}

function checkInvariant(req: FuzzRequest, res: RawResponse): void {
  const context = `${req.summary}\n→ ${res.raw.slice(0, 600)}`;
  assert.ok(res.status >= 200 && res.status < 500, `status ${res.status} for ${context}`);
  const id = res.headers['x-request-id'];
  assert.equal(id?.length, 1, `one X-Request-Id for ${context}`);
  assert.match(id[0]!, UUID, context);
  if (res.status < 300 || req.method === 'HEAD') return;
  let body: { type?: unknown; request_id?: unknown; errors?: Array<{ code?: unknown; message?: unknown }> };
  try {
    body = JSON.parse(res.body);
  } catch {
    assert.fail(`non-JSON error body for ${context}`);
  }
  assert.equal(body.type, 'error.list', context);
  assert.equal(body.request_id, id[0], context);
  assert.ok(Array.isArray(body.errors) && body.errors.length > 0, context);
  for (const e of body.errors) assert.ok(typeof e.code === 'string' && typeof e.message === 'string', context);
}

describe('fuzzing every endpoint', () => {
  let app: TestApp;
  let endpoints: Endpoint[];
  let ctx: { appId: string; token: string; validId: string };
  let tried = 0;

  before(async () => {
    // Generous limits so that requests reach validation and the handlers rather than stopping at the rate limit.
    app = await startTestApp({
      env: { SECURE_MODE_RATE_LIMIT: '10000000', SECURE_MODE_VERIFY_RATE_LIMIT: '10000000', SECURE_MODE_MAX_LIVE_SECRETS: '100' },
    });
    const created = await api(app, 'POST', '/secure_mode_secrets', {
      body: { name: 'fuzz target', supports_web: true, supports_ios: true },
    });
    ctx = { appId: app.workspace.appId, token: app.token, validId: created.body.id };
    endpoints = await endpointsOf(app);
  });
  after(async () => {
    process.stdout.write(`# fuzz: ${tried} requests over ${endpoints.length} endpoints, seed ${SEED}\n`);
    await app.close();
  });

  it('lists every endpoint it fuzzes', () => {
    const names = endpoints.map((e) => `${e.method} ${e.path}`);
    for (const expected of [
      'GET /secure_mode_secrets',
      'POST /secure_mode_secrets',
      'GET /secure_mode_secrets/{id}',
      'DELETE /secure_mode_secrets/{id}',
      'GET /metrics',
    ]) {
      assert.ok(names.includes(expected), `${expected} in ${names.join(', ')}`);
    }
  });

  it('never answers 5xx, never hangs, and always answers errors as error.list with the request id', async () => {
    await fc.assert(
      fc.asyncProperty(fuzzRequest(endpoints, ctx), async (req) => {
        tried++;
        const res = await rawRequest(app.url, req.bytes, REQUEST_TIMEOUT_MS, { head: req.method === 'HEAD' });
        checkInvariant(req, res);
      }),
      { numRuns: RUNS, seed: SEED, endOnFailure: true, includeErrorInReport: true },
    );
  });

  it('keeps serving normal traffic afterwards', async () => {
    assert.equal((await api(app, 'GET', '/healthz', { token: null })).status, 200);
    assert.equal((await api(app, 'GET', '/readyz', { token: null })).status, 200);
    const created = await api(app, 'POST', '/secure_mode_secrets', { body: { name: 'after fuzz', supports_web: true } });
    assert.equal(created.status, 201);
    assert.equal((await api(app, 'GET', `/secure_mode_secrets/${created.body.id}`)).status, 200);
    // Prototype-pollution keys in bodies changed nothing shared.
    assert.equal(({} as Record<string, unknown>).isAdmin, undefined);
    assert.equal(({} as Record<string, unknown>).polluted, undefined);
  });
});
