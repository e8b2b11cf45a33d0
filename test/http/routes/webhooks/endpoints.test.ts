import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { api, startTestApp, type TestApp } from '../../../helpers/app.js';
import { assertErrorList } from '../../../helpers/assertions.js';

/** A literal public address: checking it needs no DNS, and nothing here sends it an event. */
const PUBLIC_URL = 'https://93.184.215.14/hooks/secure-mode';

/** /webhook_endpoints through the HTTP API: the show-once secret, scopes, workspaces and the SSRF rule on create. */
describe('webhooks: /webhook_endpoints', () => {
  let app: TestApp;
  before(async () => {
    app = await startTestApp();
  });
  after(async () => {
    await app.close();
  });

  const create = (body: unknown, token?: string) => api(app, 'POST', '/webhook_endpoints', { body, ...(token ? { token } : {}) });

  it('creates an endpoint and shows its whsec_ secret only in the 201', async () => {
    const res = await create({ url: PUBLIC_URL, events: ['secret.deleted', 'rotation.completed'], description: 'ops' });
    assert.equal(res.status, 201, res.text);
    const { secret, ...endpoint } = res.body;
    assert.match(secret, /^whsec_[A-Za-z0-9+/]{43}=$/);
    assert.equal(Buffer.from(secret.slice(6), 'base64').length, 32);
    assert.deepEqual(endpoint, {
      type: 'webhook_endpoint',
      id: endpoint.id,
      url: PUBLIC_URL,
      events: ['secret.deleted', 'rotation.completed'],
      description: 'ops',
      created_at: endpoint.created_at,
    });
    assert.match(endpoint.id, /^[1-9][0-9]*$/);
    const one = await api(app, 'GET', `/webhook_endpoints/${endpoint.id}`);
    assert.equal(one.status, 200);
    assert.deepEqual(one.body, endpoint);
    const list = await api(app, 'GET', '/webhook_endpoints');
    assert.equal(list.status, 200);
    assert.deepEqual(list.body, { type: 'list', data: [endpoint] });
    assert.ok(!list.text.includes(secret.slice(6)) && !one.text.includes(secret.slice(6)));
    const deliveries = await api(app, 'GET', `/webhook_endpoints/${endpoint.id}/deliveries`);
    assert.deepEqual(deliveries.body, { type: 'list', data: [] });
    // Two endpoints never share a secret.
    const second = await create({ url: PUBLIC_URL, events: ['*'] });
    assert.equal(second.status, 201);
    assert.notEqual(second.body.secret, secret);
    assert.equal(second.body.description, null);
    assert.equal((await api(app, 'DELETE', `/webhook_endpoints/${second.body.id}`)).status, 204);
  });

  it('deletes an endpoint: then 404 everywhere, and it leaves the list', async () => {
    const res = await create({ url: PUBLIC_URL, events: ['*'] });
    const id = res.body.id as string;
    const del = await api(app, 'DELETE', `/webhook_endpoints/${id}`);
    assert.equal(del.status, 204);
    assert.equal(del.text, '');
    for (const [method, path] of [
      ['GET', `/webhook_endpoints/${id}`],
      ['GET', `/webhook_endpoints/${id}/deliveries`],
      ['DELETE', `/webhook_endpoints/${id}`],
    ] as const) {
      assertErrorList(await api(app, method, path), 404, 'webhook_endpoint_not_found', { message: 'Webhook endpoint not found' });
    }
    assert.ok(!(await api(app, 'GET', '/webhook_endpoints')).body.data.some((e: { id: string }) => e.id === id));
    for (const bad of ['0', 'abc', '99999999', '1e3']) {
      assertErrorList(await api(app, 'GET', `/webhook_endpoints/${bad}`), 404, 'webhook_endpoint_not_found');
    }
  });

  it("answers 404 for another workspace's endpoint, and lists only the workspace's own", async () => {
    const mine = await create({ url: PUBLIC_URL, events: ['*'] });
    const other = await app.otherWorkspace();
    const theirs = await api(app, 'POST', '/webhook_endpoints', { token: other.token, body: { url: PUBLIC_URL, events: ['*'] } });
    assert.equal(theirs.status, 201);
    for (const [method, path] of [
      ['GET', `/webhook_endpoints/${mine.body.id}`],
      ['GET', `/webhook_endpoints/${mine.body.id}/deliveries`],
      ['DELETE', `/webhook_endpoints/${mine.body.id}`],
    ] as const) {
      assertErrorList(await api(app, method, path, { token: other.token }), 404, 'webhook_endpoint_not_found');
    }
    const theirList = await api(app, 'GET', '/webhook_endpoints', { token: other.token });
    assert.deepEqual(
      theirList.body.data.map((e: { id: string }) => e.id),
      [theirs.body.id],
    );
    assert.equal((await api(app, 'GET', `/webhook_endpoints/${mine.body.id}`)).status, 200);
  });

  it('reads with a read scope, writes only with write_secure_mode_secret', async () => {
    const reader = await app.tokenWith(['read_secure_mode_secret']);
    const readAll = await app.tokenWith(['read_all']);
    const writer = await app.tokenWith(['write_secure_mode_secret']);
    const made = await create({ url: PUBLIC_URL, events: ['*'] }, writer);
    assert.equal(made.status, 201);
    for (const token of [reader, readAll]) {
      assert.equal((await api(app, 'GET', '/webhook_endpoints', { token })).status, 200);
      assert.equal((await api(app, 'GET', `/webhook_endpoints/${made.body.id}`, { token })).status, 200);
      assert.equal((await api(app, 'GET', `/webhook_endpoints/${made.body.id}/deliveries`, { token })).status, 200);
      const refused = { message: 'You do not have the required scope (write_secure_mode_secret) to access this resource' };
      assertErrorList(await create({ url: PUBLIC_URL, events: ['*'] }, token), 403, 'forbidden', refused);
      assertErrorList(await api(app, 'DELETE', `/webhook_endpoints/${made.body.id}`, { token }), 403, 'forbidden', refused);
    }
    assertErrorList(await api(app, 'GET', '/webhook_endpoints', { token: writer }), 403, 'forbidden');
    assertErrorList(await api(app, 'GET', '/webhook_endpoints', { token: null }), 401, 'unauthorized');
  });

  it('refuses a URL that is not https to a public address (422, field url)', async () => {
    for (const url of [
      'http://93.184.215.14/hook',
      'ftp://93.184.215.14/hook',
      'not a url',
      '/relative',
      'https://127.0.0.1/hook',
      'https://localhost/hook',
      'https://10.1.2.3/hook',
      'https://172.16.0.1/hook',
      'https://192.168.1.1/hook',
      'https://169.254.169.254/latest/meta-data',
      'https://100.64.0.1/hook',
      'https://0.0.0.0/hook',
      'https://[::1]/hook',
      'https://[fd00::1]/hook',
      'https://[fe80::1]/hook',
      'https://[::ffff:127.0.0.1]/hook',
      'https://[::ffff:10.0.0.1]/hook',
      'https://user:pass@93.184.215.14/hook',
      `https://93.184.215.14/${'x'.repeat(2100)}`,
    ]) {
      assertErrorList(await create({ url, events: ['*'] }), 422, 'parameter_invalid', { field: 'url' });
    }
    assertErrorList(await create({ url: 42, events: ['*'] }), 422, 'parameter_invalid', { field: 'url' });
    assertErrorList(await create({ events: ['*'] }), 422, 'parameter_invalid', { field: 'url' });
  });

  it('refuses events that are not a list of known types or ["*"], and a bad description', async () => {
    for (const events of [[], ['secret.nope'], ['*', 'secret.created'], 'secret.created', [1], ['token.created']]) {
      assertErrorList(await create({ url: PUBLIC_URL, events }), 422, 'parameter_invalid', { field: 'events' });
    }
    assertErrorList(await create({ url: PUBLIC_URL }), 422, 'parameter_invalid', { field: 'events' });
    for (const description of [5, 'x'.repeat(256), 'bell\u0007']) {
      assertErrorList(await create({ url: PUBLIC_URL, events: ['*'], description }), 422, 'parameter_invalid', {
        field: 'description',
      });
    }
    const dup = await create({ url: PUBLIC_URL, events: ['secret.created', 'secret.created'] });
    assert.deepEqual(dup.body.events, ['secret.created']);
    assertErrorList(await api(app, 'POST', '/webhook_endpoints', { body: [] }), 422, 'parameter_invalid');
  });

  it('is documented as an extension in /openapi.json', async () => {
    const doc = (await api(app, 'GET', '/openapi.json', { token: null })).body;
    for (const [path, method] of [
      ['/webhook_endpoints', 'post'],
      ['/webhook_endpoints', 'get'],
      ['/webhook_endpoints/{id}', 'get'],
      ['/webhook_endpoints/{id}', 'delete'],
      ['/webhook_endpoints/{id}/deliveries', 'get'],
    ] as const) {
      assert.equal(doc.paths[path]?.[method]?.['x-secure-mode-extension'], true, `${method} ${path}`);
    }
  });
});
