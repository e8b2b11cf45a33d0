import { Ajv } from 'ajv';
import addFormats from 'ajv-formats';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { parse } from 'yaml';
import { api, startTestApp, type TestApp } from '../../../helpers/app.js';
import { assertErrorList } from '../../../helpers/assertions.js';

type Schema = Record<string, unknown>;
const reference = parse(readFileSync(new URL('../../../fixtures/intercom-openapi-me.yaml', import.meta.url), 'utf8')) as {
  components: { schemas: Record<string, Schema> };
};

/** OpenAPI 3.0 → JSON Schema: `nullable` becomes a null type, component refs point into $defs. */
function toJsonSchema(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(toJsonSchema);
  if (value === null || typeof value !== 'object') return value;
  const out: Schema = {};
  for (const [k, v] of Object.entries(value)) {
    if (k === 'nullable') continue;
    if (k === '$ref' && typeof v === 'string') out.$ref = v.replace('#/components/schemas/', '#/$defs/');
    else out[k] = toJsonSchema(v);
  }
  if ((value as Schema).nullable === true && typeof out.type === 'string') out.type = [out.type, 'null'];
  return out;
}

describe('GET /me (Intercom identifyAdmin)', () => {
  let app: TestApp;
  const ajv = new Ajv({ allErrors: true, strict: true, strictTypes: false, keywords: ['example'] });
  addFormats.default(ajv);
  ajv.addSchema({ $id: 'intercom', $defs: toJsonSchema(reference.components.schemas) as Schema });
  const adminWithApp = ajv.getSchema('intercom#/$defs/admin_with_app')!;

  before(async () => {
    app = await startTestApp();
  });
  after(async () => {
    await app.close();
  });

  it("answers the token as the admin and the workspace as the app, in Intercom's wire format", async () => {
    const res = await api(app, 'GET', '/me');
    assert.equal(res.status, 200);
    assert.ok(adminWithApp(res.body), JSON.stringify(adminWithApp.errors));
    const declared = (name: string) => Object.keys((reference.components.schemas[name] as { properties: Schema }).properties);
    for (const field of Object.keys(res.body)) assert.ok(declared('admin_with_app').includes(field), `admin.${field}`);
    for (const field of Object.keys(res.body.app)) assert.ok(declared('app').includes(field), `app.${field}`);
    assert.equal(res.body.type, 'admin');
    assert.equal(res.body.name, 'test');
    assert.match(res.body.id, /^\d+$/);
    assert.deepEqual(res.body.app, {
      type: 'app',
      id_code: app.workspace.appId,
      name: app.workspace.name,
      created_at: app.workspace.createdAt,
      identity_verification: false,
    });
    assert.ok(res.headers.get('x-ratelimit-limit'));
  });

  it('identity_verification is true once the workspace has a live secret, false again after its delete', async () => {
    const created = await api(app, 'POST', '/secure_mode_secrets', { body: { name: 'Web', supports_web: true } });
    assert.equal(created.status, 201);
    assert.equal((await api(app, 'GET', '/me')).body.app.identity_verification, true);
    assert.equal((await api(app, 'DELETE', `/secure_mode_secrets/${created.body.id}`)).status, 204);
    assert.equal((await api(app, 'GET', '/me')).body.app.identity_verification, false);
  });

  it('any valid token, whatever its scopes, is the admin; each token answers its own id and name', async () => {
    const reader = await api(app, 'GET', '/me', { token: await app.tokenWith(['read_secure_mode_secret']) });
    const writer = await api(app, 'GET', '/me', { token: await app.tokenWith(['write_secure_mode_secret']) });
    const all = await api(app, 'GET', '/me');
    for (const res of [reader, writer]) {
      assert.equal(res.status, 200);
      assert.equal(res.body.name, 'scoped');
      assert.equal(res.body.app.id_code, app.workspace.appId);
    }
    assert.equal(new Set([reader.body.id, writer.body.id, all.body.id]).size, 3);
  });

  it("another workspace's token sees its own app", async () => {
    const other = await app.otherWorkspace();
    const res = await api(app, 'GET', '/me', { token: other.token });
    assert.equal(res.body.app.id_code, other.workspace.appId);
    assert.notEqual(res.body.app.id_code, app.workspace.appId);
  });

  it('401 without a token or with a bad one, and the served OpenAPI documents the operation', async () => {
    assertErrorList(await api(app, 'GET', '/me', { token: null }), 401, 'unauthorized');
    assertErrorList(await api(app, 'GET', '/me', { token: 'smt_not-a-real-token-at-all' }), 401, 'unauthorized');
    const served = (await api(app, 'GET', '/openapi.json', { token: null })).body;
    assert.equal(served.paths['/me'].get.operationId, 'identifyAdmin');
  });
});
