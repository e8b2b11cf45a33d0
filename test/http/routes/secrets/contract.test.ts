import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ManualClock } from '../../../../src/domain/clock.js';
import { SCOPES } from '../../../../src/domain/scopes.js';
import type { NewWorkspaceOptions } from '../../../../src/domain/workspaces.js';
import type { Workspace } from '../../../../src/domain/model.js';
import { api, startTestApp, type ApiResponse, type TestApp } from '../../../helpers/app.js';
import { UUID, assertErrorList, assertNoRateLimitHeaders, assertRateLimitHeaders } from '../../../helpers/assertions.js';

/**
 * Every row of the HTTP contract (DESIGN.md section 2) against a real listening server. Each case that creates
 * secrets gets its own workspace, so the live-secret cap and the rate limit of one case never leak into another.
 */

interface Client {
  url: string;
  token: string;
  workspace: Workspace;
}

const PATHS = '/secure_mode_secrets';
const web = (name: string) => ({ name, supports_web: true });

async function workspaceClient(
  app: TestApp,
  options: Partial<NewWorkspaceOptions> = {},
  scopes: string[] = [...SCOPES],
): Promise<Client> {
  const workspace = await app.runtime.workspaces.createWorkspace({ name: 'contract', ...options });
  const { value } = await app.runtime.workspaces.createToken(workspace, scopes, 'contract');
  return { url: app.url, token: value, workspace };
}

async function sameWorkspace(app: TestApp, c: Client, scopes: string[]): Promise<Client> {
  const { value } = await app.runtime.workspaces.createToken(c.workspace, scopes, 'scoped');
  return { ...c, token: value };
}

async function create(c: { url: string; token: string }, body: unknown = web('s')): Promise<ApiResponse> {
  return api(c, 'POST', PATHS, { body });
}

async function listIds(c: { url: string; token: string }): Promise<string[]> {
  const res = await api(c, 'GET', PATHS);
  assert.equal(res.status, 200, res.text);
  return res.body.data.map((s: { id: string }) => s.id);
}

describe('secure_mode_secrets contract', () => {
  let app: TestApp;
  before(async () => {
    app = await startTestApp();
  });
  after(async () => {
    await app.close();
  });

  describe('authentication', () => {
    const operations: [string, string, unknown?][] = [
      ['GET', PATHS],
      ['POST', PATHS, web('x')],
      ['GET', `${PATHS}/1`],
      ['DELETE', `${PATHS}/1`],
    ];

    it('answers 401 "Access Token Invalid" without a token, with no rate-limit headers', async () => {
      for (const [method, path, body] of operations) {
        const res = await api(app, method, path, { token: null, ...(body ? { body } : {}) });
        assertErrorList(res, 401, 'unauthorized', { message: 'Access Token Invalid', field: null });
        assertNoRateLimitHeaders(res);
      }
    });

    it('answers 401 for a bad token in any form, with no rate-limit headers', async () => {
      const bad: Record<string, string>[] = [
        { authorization: `Bearer smt_${'A'.repeat(43)}` },
        { authorization: 'Bearer short' },
        { authorization: 'Bearer ' },
        { authorization: 'Bearer' },
        { authorization: `Basic ${Buffer.from(`${app.token}:`).toString('base64')}` },
        { authorization: app.token },
        { authorization: `Bearer ${app.token}x` },
        { authorization: `Bearer ${app.token} ${app.token}` },
        { authorization: `Bearer ${'x'.repeat(10_000)}` },
      ];
      for (const headers of bad) {
        for (const [method, path, body] of operations) {
          const res = await api(app, method, path, { token: null, headers, ...(body ? { body } : {}) });
          assertErrorList(res, 401, 'unauthorized', { message: 'Access Token Invalid' });
          assertNoRateLimitHeaders(res);
        }
      }
      assert.deepEqual(await listIds(app), [], 'no refused request created anything');
    });

    it('a revoked token answers 401 at once', async () => {
      const { token, value } = await app.runtime.workspaces.createToken(app.workspace, [...SCOPES], 'to revoke');
      const c = { url: app.url, token: value };
      assert.equal((await api(c, 'GET', PATHS)).status, 200);
      await app.runtime.workspaces.revokeToken(token.id);
      const res = await api(c, 'GET', PATHS);
      assertErrorList(res, 401, 'unauthorized', { message: 'Access Token Invalid' });
      assertNoRateLimitHeaders(res);
      assertErrorList(await create(c), 401, 'unauthorized');
    });

    it('accepts the scheme name in any case, as HTTP says', async () => {
      const res = await api(app, 'GET', PATHS, { token: null, headers: { authorization: `bearer ${app.token}` } });
      assert.equal(res.status, 200);
    });
  });

  describe('scopes', () => {
    const forbidden = (scope: string) => `You do not have the required scope (${scope}) to access this resource`;

    it('read_secure_mode_secret lists and gets, but cannot create or delete', async () => {
      const owner = await workspaceClient(app);
      const id = (await create(owner)).body.id as string;
      const reader = await sameWorkspace(app, owner, ['read_secure_mode_secret']);
      assert.deepEqual(await listIds(reader), [id]);
      assert.equal((await api(reader, 'GET', `${PATHS}/${id}`)).status, 200);
      const c = await create(reader);
      assertErrorList(c, 403, 'forbidden', { message: forbidden('write_secure_mode_secret'), field: null });
      assertRateLimitHeaders(c);
      assertErrorList(await api(reader, 'DELETE', `${PATHS}/${id}`), 403, 'forbidden', {
        message: forbidden('write_secure_mode_secret'),
      });
      assert.deepEqual(await listIds(owner), [id], 'nothing was created or deleted');
    });

    it('read_all lists', async () => {
      const owner = await workspaceClient(app);
      const id = (await create(owner)).body.id as string;
      const c = await sameWorkspace(app, owner, ['read_all']);
      const res = await api(c, 'GET', PATHS);
      assert.equal(res.status, 200);
      assert.deepEqual(
        res.body.data.map((s: { id: string }) => s.id),
        [id],
      );
      assertErrorList(await create(c), 403, 'forbidden', { message: forbidden('write_secure_mode_secret') });
    });

    it('write_secure_mode_secret creates and deletes, but cannot list or get', async () => {
      const writer = await workspaceClient(app, {}, ['write_secure_mode_secret']);
      const created = await create(writer);
      assert.equal(created.status, 201);
      const list = await api(writer, 'GET', PATHS);
      assertErrorList(list, 403, 'forbidden', { message: forbidden('read_secure_mode_secret') });
      assertRateLimitHeaders(list);
      assertErrorList(await api(writer, 'GET', `${PATHS}/${created.body.id}`), 403, 'forbidden', {
        message: forbidden('read_secure_mode_secret'),
      });
      assert.equal((await api(writer, 'DELETE', `${PATHS}/${created.body.id}`)).status, 204);
    });
  });

  describe('request bodies', () => {
    let c: Client;
    before(async () => {
      c = await workspaceClient(app);
    });

    it('{} is 422 parameter_invalid naming name', async () => {
      assertErrorList(await create(c, {}), 422, 'parameter_invalid', { message: 'name is required', field: 'name' });
    });

    it('a name without any platform is 422 parameter_invalid naming a platform field', async () => {
      for (const body of [{ name: 'x' }, { name: 'x', supports_web: false, supports_ios: false, supports_android: false }]) {
        const res = await create(c, body);
        assertErrorList(res, 422, 'parameter_invalid');
        assert.match(res.body.errors[0].field, /^supports_(web|ios|android)$/);
      }
    });

    it('a body that is not JSON is 400 parameter_invalid, whatever its content type', async () => {
      const cases: [string, string | undefined][] = [
        ['name=x&supports_web=true', 'application/x-www-form-urlencoded'],
        ['{"name":"x","supports_web":true', 'application/json'],
        ["{'name':'x'}", 'application/json'],
        ['not json', undefined],
        ['{"name":"x","supports_web":true}garbage', 'text/plain'],
      ];
      for (const [rawBody, type] of cases) {
        const res = await api(c, 'POST', PATHS, { rawBody, headers: type ? { 'content-type': type } : {} });
        assertErrorList(res, 400, 'parameter_invalid', { field: null });
      }
    });

    it('JSON of the wrong types is 422 parameter_invalid naming the field', async () => {
      const cases: [unknown, string][] = [
        [{ name: 5, supports_web: true }, 'name'],
        [{ name: null, supports_web: true }, 'name'],
        [{ name: ['x'], supports_web: true }, 'name'],
        [{ name: 'x', supports_web: 'true' }, 'supports_web'],
        [{ name: 'x', supports_ios: 1 }, 'supports_ios'],
        [{ name: 'x', supports_android: null }, 'supports_android'],
      ];
      for (const [body, field] of cases) {
        assertErrorList(await create(c, body), 422, 'parameter_invalid', { field });
      }
      for (const body of [[], 'name', 42, null]) {
        assertErrorList(
          await api(c, 'POST', PATHS, { rawBody: JSON.stringify(body), headers: { 'content-type': 'application/json' } }),
          422,
          'parameter_invalid',
        );
      }
    });

    it('a 1 MiB body is 413 as an error.list', async () => {
      const rawBody = JSON.stringify({ name: 'x'.repeat(1024 * 1024), supports_web: true });
      const res = await api(c, 'POST', PATHS, { rawBody, headers: { 'content-type': 'application/json' } });
      assertErrorList(res, 413, 'payload_too_large');
      assertRateLimitHeaders(res);
    });

    it('no refused body created a secret', async () => {
      assert.deepEqual(await listIds(c), []);
    });

    it('an empty body with a JSON content type is accepted on delete, as many clients send one', async () => {
      const id = (await create(c)).body.id;
      const res = await api(c, 'DELETE', `${PATHS}/${id}`, { headers: { 'content-type': 'application/json' } });
      assert.equal(res.status, 204, res.text);
    });

    it('unknown fields are ignored, as Intercom does', async () => {
      const res = await create(c, { ...web('extra'), colour: 'blue', secret: 'chosen-by-client' });
      assert.equal(res.status, 201);
      assert.notEqual(res.body.secret, 'chosen-by-client');
      assert.equal(res.body.colour, undefined);
      assert.equal((await api(c, 'DELETE', `${PATHS}/${res.body.id}`)).status, 204);
    });
  });

  describe('Intercom-Version', () => {
    const notFound = 'The requested version could not be found';
    const unsupported = 'Requested resource is not available in current API version.';

    it('Preview and Unstable serve every operation', async () => {
      const c = await workspaceClient(app);
      for (const version of ['Preview', 'Unstable']) {
        const headers = { 'intercom-version': version };
        const created = await api(c, 'POST', PATHS, { body: web(version), headers });
        assert.equal(created.status, 201, created.text);
        assert.equal((await api(c, 'GET', PATHS, { headers })).status, 200);
        assert.equal((await api(c, 'GET', `${PATHS}/${created.body.id}`, { headers })).status, 200);
        assert.equal((await api(c, 'DELETE', `${PATHS}/${created.body.id}`, { headers })).status, 204);
      }
    });

    it('refuses unknown versions (case-sensitive) and stable versions on every operation', async () => {
      const c = await workspaceClient(app);
      const id = (await create(c)).body.id;
      const cases: [string, string][] = [
        ['preview', notFound],
        ['PREVIEW', notFound],
        ['unstable', notFound],
        ['9.9', notFound],
        ['2.17', notFound],
        ['', notFound],
        ['2.16', unsupported],
        ['2.11', unsupported],
        ['1.0', unsupported],
      ];
      for (const [version, message] of cases) {
        const headers = { 'intercom-version': version };
        for (const [method, path, body] of [
          ['GET', PATHS],
          ['POST', PATHS, web('v')],
          ['GET', `${PATHS}/${id}`],
          ['DELETE', `${PATHS}/${id}`],
        ] as const) {
          const res = await api(c, method, path, { headers, ...(body ? { body } : {}) });
          assertErrorList(res, 400, 'intercom_version_invalid', { message, field: null });
          assertRateLimitHeaders(res);
        }
      }
      assert.deepEqual(await listIds(c), [id], 'refused versions neither created nor deleted anything');
    });

    it("without the header, uses the workspace's default version", async () => {
      const preview = await workspaceClient(app);
      assert.equal((await api(preview, 'GET', PATHS)).status, 200);
      assert.equal((await create(preview)).status, 201);

      const stable = await workspaceClient(app, { defaultVersion: '2.16' });
      assertErrorList(await api(stable, 'GET', PATHS), 400, 'intercom_version_invalid', { message: unsupported });
      assertErrorList(await create(stable), 400, 'intercom_version_invalid', { message: unsupported });
      const explicit = await api(stable, 'GET', PATHS, { headers: { 'intercom-version': 'Preview' } });
      assert.equal(explicit.status, 200);
      assert.deepEqual(explicit.body.data, []);
    });
  });

  describe('ids and deletion', () => {
    it('deletes once (204, empty), then answers 404 on delete and get, and never lists it again', async () => {
      const c = await workspaceClient(app);
      const keep = (await create(c, web('keep'))).body.id;
      const id = (await create(c, web('gone'))).body.id;
      const first = await api(c, 'DELETE', `${PATHS}/${id}`);
      assert.equal(first.status, 204);
      assert.equal(first.text, '');
      assert.match(first.headers.get('x-request-id') ?? '', UUID);
      assertRateLimitHeaders(first);
      const notFound = { message: 'Identity verification secret not found', field: null };
      assertErrorList(await api(c, 'DELETE', `${PATHS}/${id}`), 404, 'identity_verification_secret_not_found', notFound);
      assertErrorList(await api(c, 'GET', `${PATHS}/${id}`), 404, 'identity_verification_secret_not_found', notFound);
      assert.deepEqual(await listIds(c), [keep]);
    });

    it("another workspace's id is 404 on get and delete, and absent from that workspace's list", async () => {
      const a = await workspaceClient(app);
      const b = await workspaceClient(app);
      const id = (await create(a)).body.id;
      assertErrorList(await api(b, 'GET', `${PATHS}/${id}`), 404, 'identity_verification_secret_not_found');
      assertErrorList(await api(b, 'DELETE', `${PATHS}/${id}`), 404, 'identity_verification_secret_not_found');
      assert.deepEqual(await listIds(b), []);
      assert.deepEqual(await listIds(a), [id], "the other workspace's delete did nothing");
    });

    it('ids that cannot name a secret are 404', async () => {
      const c = await workspaceClient(app);
      const ids = [
        'abc',
        '0',
        '-1',
        '1.5',
        '1e3',
        '0x1',
        '01',
        ' 1',
        '9'.repeat(17),
        '9'.repeat(40),
        '18446744073709551617',
        '%F0%9F%98%80',
      ];
      for (const id of ids) {
        for (const method of ['GET', 'DELETE']) {
          assertErrorList(await api(c, method, `${PATHS}/${id}`), 404, 'identity_verification_secret_not_found', {
            message: 'Identity verification secret not found',
          });
        }
      }
    });

    it('an id too long or malformed for the router is still a 404 error.list', async () => {
      const c = await workspaceClient(app);
      for (const path of [`${PATHS}/${'9'.repeat(400)}`, `${PATHS}/%zz`, `/%E0%A4%A`]) {
        for (const method of ['GET', 'DELETE']) {
          const res = await api(c, method, path);
          assert.equal(res.status, 404, `${method} ${path}: ${res.text}`);
          assert.match(res.body.errors[0].code, /not_found$/);
          assertErrorList(res, 404, res.body.errors[0].code);
          assert.ok(!res.text.includes('999999999'), 'the path is not echoed');
        }
      }
    });
  });

  describe('unknown paths and methods', () => {
    it('are 404 not_found as an error.list, with or without a token', async () => {
      const cases: [string, string][] = [
        ['GET', '/'],
        ['GET', '/nope'],
        ['GET', '/secure_mode_secret'],
        ['POST', '/secure_mode_secrets/1'],
        ['PUT', PATHS],
        ['PATCH', PATHS],
        ['DELETE', PATHS],
        ['POST', `${PATHS}/1/usage`],
        ['PATCH', `${PATHS}/1`],
        ['OPTIONS', PATHS],
        ['GET', `${PATHS}/1/extra`],
      ];
      for (const [method, path] of cases) {
        for (const token of [null, app.token]) {
          const res = await api(app, method, path, { token });
          assertErrorList(res, 404, 'not_found', { field: null });
        }
      }
    });
  });

  describe('storage unavailable', () => {
    it('is 503 service_unavailable as an error.list, never a stack trace', async () => {
      const broken = await startTestApp();
      try {
        await broken.runtime.store.close();
        for (const [method, path] of [
          ['GET', PATHS],
          ['POST', PATHS],
          ['DELETE', `${PATHS}/1`],
        ] as const) {
          const res = await api(broken, method, path, method === 'POST' ? { body: web('x') } : {});
          assertErrorList(res, 503, 'service_unavailable', { field: null });
          assert.doesNotMatch(res.text, /at .*\.(ts|js):[0-9]+/);
        }
        assertErrorList(await api(broken, 'GET', '/readyz', { token: null }), 503, 'service_unavailable');
      } finally {
        await broken.close();
      }
    });
  });

  describe('request ids', () => {
    it('every response carries a fresh UUID X-Request-Id; a client-supplied one is not trusted', async () => {
      const seen = new Set<string>();
      for (const [method, path] of [
        ['GET', PATHS],
        ['GET', '/nope'],
        ['GET', '/healthz'],
      ]) {
        const res = await api(app, method!, path!, { headers: { 'x-request-id': 'client-chosen' } });
        const id = res.headers.get('x-request-id') ?? '';
        assert.match(id, UUID);
        seen.add(id);
      }
      assert.equal(seen.size, 3);
    });
  });

  describe('names', () => {
    let c: Client;
    before(async () => {
      c = await workspaceClient(app);
    });

    async function accepted(name: string, stored: string): Promise<void> {
      const res = await create(c, web(name));
      assert.equal(res.status, 201, `${JSON.stringify(name)}: ${res.text}`);
      assert.equal(res.body.name, stored);
      const listed = (await api(c, 'GET', PATHS)).body.data.find((s: { id: string }) => s.id === res.body.id);
      assert.equal(listed.name, stored);
      assert.equal((await api(c, 'DELETE', `${PATHS}/${res.body.id}`)).status, 204);
    }

    it('are trimmed, 1 to 255 characters of any Unicode, emoji and CJK counting as one character each', async () => {
      await accepted('  Production Web \n', 'Production Web');
      await accepted('a', 'a');
      await accepted('x'.repeat(255), 'x'.repeat(255));
      await accepted('😀'.repeat(255), '😀'.repeat(255));
      await accepted('本'.repeat(255), '本'.repeat(255));
      await accepted(` ${'🔐'.repeat(255)} `, '🔐'.repeat(255));
      await accepted('Prod 🔐 — 本番 / إنتاج / Ünïcödé', 'Prod 🔐 — 本番 / إنتاج / Ünïcödé');
    });

    it('blank, too long, control characters or broken Unicode are 422 naming name', async () => {
      const refused = [
        '',
        ' ',
        '\t\n \u3000',
        'x'.repeat(256),
        '😀'.repeat(256),
        '本'.repeat(256),
        'a\u0000b',
        'a\nb',
        'a\u001bb',
        'a\u007fb',
        'a\u0085b',
        'a\ud800b',
      ];
      for (const name of refused) {
        assertErrorList(await create(c, web(name)), 422, 'parameter_invalid', { field: 'name' });
      }
      assert.deepEqual(await listIds(c), []);
    });
  });

  describe('live-secret cap', () => {
    it('refuses the sixth live secret with 422 secret_limit_reached; a delete makes room', async () => {
      const c = await workspaceClient(app);
      const ids: string[] = [];
      for (let i = 0; i < 5; i++) {
        const res = await create(c, web(`s${i}`));
        assert.equal(res.status, 201);
        ids.push(res.body.id);
      }
      const refused = await create(c, web('sixth'));
      assertErrorList(refused, 422, 'secret_limit_reached', { message: /at most 5 live/ });
      assert.deepEqual(await listIds(c), ids);
      assert.equal((await api(c, 'DELETE', `${PATHS}/${ids[0]}`)).status, 204);
      const again = await create(c, web('sixth'));
      assert.equal(again.status, 201);
      assertErrorList(await create(c, web('seventh')), 422, 'secret_limit_reached');
      assert.deepEqual(await listIds(c), [...ids.slice(1), again.body.id]);
    });

    it('counts per workspace', async () => {
      const a = await workspaceClient(app);
      const b = await workspaceClient(app);
      for (let i = 0; i < 5; i++) assert.equal((await create(a)).status, 201);
      assert.equal((await create(b)).status, 201);
    });

    it('follows SECURE_MODE_MAX_LIVE_SECRETS', async () => {
      const small = await startTestApp({ env: { SECURE_MODE_MAX_LIVE_SECRETS: '2' } });
      try {
        assert.equal((await create(small)).status, 201);
        assert.equal((await create(small)).status, 201);
        assertErrorList(await create(small), 422, 'secret_limit_reached', { message: /at most 2 live/ });
      } finally {
        await small.close();
      }
    });
  });

  describe('rate limit', () => {
    it('per workspace, in 10-second windows: exact headers and 429 on a controlled clock', async () => {
      const clock = new ManualClock(1_800_000_003_000);
      const limited = await startTestApp({ clock });
      try {
        const tiny = await workspaceClient(limited, { rateLimit: 3 });
        const other = await workspaceClient(limited, { rateLimit: 3 });
        for (const remaining of [2, 1, 0]) {
          const res = await api(tiny, 'GET', PATHS);
          assert.equal(res.status, 200);
          assert.deepEqual(assertRateLimitHeaders(res), { limit: 3, remaining, reset: 1_800_000_010 });
        }
        const over = await api(tiny, 'POST', PATHS, { body: web('over') });
        assertErrorList(over, 429, 'rate_limit_exceeded', { message: 'Exceeded rate limit of 3 in 10_seconds', field: null });
        assert.deepEqual(assertRateLimitHeaders(over), { limit: 3, remaining: 0, reset: 1_800_000_010 });
        assert.deepEqual(await listIds(other), [], 'another workspace is not limited');
        const unauthenticated = await api(tiny, 'GET', PATHS, { token: null });
        assertErrorList(unauthenticated, 401, 'unauthorized');
        assertNoRateLimitHeaders(unauthenticated);

        clock.advance(7_000);
        const next = await api(tiny, 'GET', PATHS);
        assert.equal(next.status, 200, 'a new window starts at the reset time');
        assert.deepEqual(assertRateLimitHeaders(next), { limit: 3, remaining: 2, reset: 1_800_000_020 });
        assert.deepEqual(await listIds(tiny), [], 'the limited create did nothing');
      } finally {
        await limited.close();
      }
    });

    it('on the real clock: 429 once the limit is used, X-RateLimit-Reset in the future', async () => {
      const tiny = await workspaceClient(app, { rateLimit: 2 });
      // At most one window boundary can pass during a handful of requests, so 2 × limit + 1 always hits the limit.
      let over: ApiResponse | undefined;
      let before = 0;
      for (let i = 0; i < 5 && !over; i++) {
        before = Date.now();
        const res = await api(tiny, 'GET', PATHS);
        if (res.status === 429) over = res;
        else assert.equal(res.status, 200);
      }
      assert.ok(over, 'the limit was reached');
      assertErrorList(over, 429, 'rate_limit_exceeded', { message: 'Exceeded rate limit of 2 in 10_seconds' });
      const { limit, remaining, reset } = assertRateLimitHeaders(over);
      assert.equal(limit, 2);
      assert.equal(remaining, 0);
      assert.ok(reset * 1000 > before, 'reset is after the request was sent');
      assert.ok(reset * 1000 <= Date.now() + 10_000, 'reset is within one window');
    });
  });
});
