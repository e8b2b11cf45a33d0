import { Validator } from '@seriousme/openapi-schema-validator';
import { Ajv, type ValidateFunction } from 'ajv';
import addFormats from 'ajv-formats';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { parse } from 'yaml';
import { ManualClock } from '../../src/domain/clock.js';
import { SCOPES } from '../../src/domain/scopes.js';
import { api, startTestApp, type ApiResponse, type TestApp } from '../helpers/app.js';

/**
 * Wire compatibility with Intercom: every success and error response validates against the schemas of Intercom's
 * own OpenAPI excerpt (test/fixtures), and our served /openapi.json is a valid OpenAPI 3 document that keeps
 * Intercom's operations and marks everything of ours as x-secure-mode-extension.
 */

type Schema = Record<string, unknown>;
type OpenApiDoc = { paths: Record<string, Record<string, Schema>>; components: { schemas: Record<string, Schema> } };

const reference = parse(
  readFileSync(new URL('../fixtures/intercom-openapi-secure-mode-secrets.yaml', import.meta.url), 'utf8'),
) as OpenApiDoc;
// GET /me is Intercom's identifyAdmin (its own excerpt), so it counts among Intercom's operations, not our extensions.
Object.assign(
  reference.paths,
  (parse(readFileSync(new URL('../fixtures/intercom-openapi-me.yaml', import.meta.url), 'utf8')) as OpenApiDoc).paths,
);

/** OpenAPI 3.0 schema → JSON Schema for Ajv: `nullable` becomes a null type; component refs point into $defs. */
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

function newAjv(): Ajv {
  const ajv = new Ajv({
    allErrors: true,
    strict: true,
    strictTypes: false,
    keywords: ['example', 'x-tags', 'x-secure-mode-extension'],
  });
  addFormats.default(ajv);
  return ajv;
}

const ajv = newAjv();
ajv.addSchema({ $id: 'intercom', $defs: toJsonSchema(reference.components.schemas) as Schema });
function referenceSchema(name: string): ValidateFunction {
  const validate = ajv.getSchema(`intercom#/$defs/${name}`);
  assert.ok(validate, `reference schema ${name}`);
  return validate;
}

function assertValid(validate: ValidateFunction, value: unknown, what: string): void {
  assert.ok(validate(value), `${what} does not match: ${JSON.stringify(validate.errors)}\n${JSON.stringify(value)}`);
}

interface Exchange {
  method: string;
  /** The OpenAPI path template that served the request. */
  path: string;
  res: ApiResponse;
}

describe('OpenAPI conformance', () => {
  let app: TestApp;
  let served: OpenApiDoc;
  const exchanges: Exchange[] = [];

  async function call(
    method: string,
    template: string,
    path: string,
    options: Parameters<typeof api>[3] = {},
    client: { url: string; token: string } = app,
  ) {
    const res = await api(client, method, path, options);
    exchanges.push({ method, path: template, res });
    return res;
  }

  before(async () => {
    app = await startTestApp({ clock: new ManualClock(1_800_000_003_000) });
    served = (await api(app, 'GET', '/openapi.json', { token: null })).body as OpenApiDoc;

    // Successes: every platform combination, unusual names, an empty and a full list, deletes.
    await call('GET', '/secure_mode_secrets', '/secure_mode_secrets');
    const ids: string[] = [];
    const bodies = [
      { name: 'Production Web', supports_web: true },
      { name: 'iOS', supports_ios: true, supports_web: false },
      { name: 'Android 本番 🔐', supports_android: true },
      { name: 'All', supports_web: true, supports_ios: true, supports_android: true },
    ];
    for (const body of bodies) ids.push((await call('POST', '/secure_mode_secrets', '/secure_mode_secrets', { body })).body.id);
    await call('GET', '/secure_mode_secrets', '/secure_mode_secrets', { headers: { 'intercom-version': 'Unstable' } });
    await call('GET', '/secure_mode_secrets/{id}', `/secure_mode_secrets/${ids[0]}`);
    await call('DELETE', '/secure_mode_secrets/{id}', `/secure_mode_secrets/${ids[1]}`);
    await call('DELETE', '/secure_mode_secrets/{id}', `/secure_mode_secrets/${ids[2]}?if_idle_for=60`);
    await call('GET', '/secure_mode_secrets', '/secure_mode_secrets');

    // Errors of every kind the operations answer with.
    const reader = { url: app.url, token: await app.tokenWith(['read_secure_mode_secret']) };
    const limited = await app.runtime.workspaces.createWorkspace({ name: 'limited', rateLimit: 1 });
    const limitedClient = { url: app.url, token: (await app.runtime.workspaces.createToken(limited, [...SCOPES], 't')).value };
    await call('GET', '/secure_mode_secrets', '/secure_mode_secrets', { token: null });
    await call('POST', '/secure_mode_secrets', '/secure_mode_secrets', { body: {}, token: 'smt_not-a-real-token-at-all' });
    await call('POST', '/secure_mode_secrets', '/secure_mode_secrets', { body: {} });
    await call('POST', '/secure_mode_secrets', '/secure_mode_secrets', { body: { name: 'x' } });
    await call('POST', '/secure_mode_secrets', '/secure_mode_secrets', {
      rawBody: '{',
      headers: { 'content-type': 'application/json' },
    });
    await call('POST', '/secure_mode_secrets', '/secure_mode_secrets', {
      rawBody: JSON.stringify({ name: 'x'.repeat(1 << 20) }),
    });
    await call('POST', '/secure_mode_secrets', '/secure_mode_secrets', { body: { name: 'x', supports_web: true } }, reader);
    await call('GET', '/secure_mode_secrets', '/secure_mode_secrets', { headers: { 'intercom-version': '2.16' } });
    await call('GET', '/secure_mode_secrets', '/secure_mode_secrets', { headers: { 'intercom-version': 'preview' } });
    await call('DELETE', '/secure_mode_secrets/{id}', `/secure_mode_secrets/${ids[1]}`);
    await call('DELETE', '/secure_mode_secrets/{id}', '/secure_mode_secrets/abc');
    await call('GET', '/secure_mode_secrets/{id}', '/secure_mode_secrets/999999');
    await call('GET', '/secure_mode_secrets', '/secure_mode_secrets', {}, limitedClient);
    await call('GET', '/secure_mode_secrets', '/secure_mode_secrets', {}, limitedClient);
    for (let i = 0; i < 3; i++)
      await call('POST', '/secure_mode_secrets', '/secure_mode_secrets', { body: { name: `fill ${i}`, supports_web: true } });
    await call('POST', '/secure_mode_secrets', '/secure_mode_secrets', { body: { name: 'one too many', supports_web: true } });
  });
  after(async () => {
    await app.close();
  });

  const successes = () => exchanges.filter((e) => e.res.status < 300);
  const failures = () => exchanges.filter((e) => e.res.status >= 400);

  it('exercised every success and error status the contract names', () => {
    const statuses = new Set(exchanges.map((e) => `${e.method} ${e.path} ${e.res.status}`));
    for (const s of [
      'GET /secure_mode_secrets 200',
      'POST /secure_mode_secrets 201',
      'DELETE /secure_mode_secrets/{id} 204',
      'GET /secure_mode_secrets/{id} 200',
    ]) {
      assert.ok(statuses.has(s), s);
    }
    assert.deepEqual([...new Set(failures().map((e) => e.res.status))].sort(), [400, 401, 403, 404, 413, 422, 429]);
  });

  it('list responses match identity_verification_secret_list', () => {
    const validate = referenceSchema('identity_verification_secret_list');
    const lists = successes().filter((e) => e.method === 'GET' && e.path === '/secure_mode_secrets');
    assert.ok(lists.some((e) => e.res.body.data.length === 4));
    for (const e of lists) assertValid(validate, e.res.body, 'list');
  });

  it('create responses match identity_verification_secret_with_material', () => {
    const validate = referenceSchema('identity_verification_secret_with_material');
    const creates = successes().filter((e) => e.method === 'POST');
    assert.ok(creates.length >= 4);
    for (const e of creates) {
      assert.equal(e.res.status, 201);
      assertValid(validate, e.res.body, 'create');
      assert.match(e.res.body.secret, /^[A-Za-z0-9_-]{43}$/);
    }
  });

  it('the extension GET /secure_mode_secrets/{id} answers a superset of identity_verification_secret', () => {
    const validate = referenceSchema('identity_verification_secret');
    const gets = successes().filter((e) => e.method === 'GET' && e.path === '/secure_mode_secrets/{id}');
    assert.ok(gets.length > 0);
    for (const e of gets) assertValid(validate, e.res.body, 'get');
  });

  it('delete answers 204 with no content, as the reference says', () => {
    const deletes = successes().filter((e) => e.method === 'DELETE');
    assert.equal(deletes.length, 2);
    const documented = reference.paths['/secure_mode_secrets/{id}']!.delete!.responses as Record<string, Schema>;
    assert.equal(documented['204']!.content, undefined);
    for (const e of deletes) {
      assert.equal(e.res.status, 204);
      assert.equal(e.res.text, '');
    }
  });

  it('strictly: every field the reference declares is present with its type, and any other field is a marked extension', () => {
    const item = (reference.components.schemas.identity_verification_secret as { properties: Record<string, Schema> }).properties;
    const material = (reference.components.schemas.identity_verification_secret_with_material as { allOf: Schema[] })
      .allOf[1] as {
      properties: Record<string, Schema>;
    };
    const servedItem = (
      (served.paths['/secure_mode_secrets']!.get!.responses as Record<string, any>)['200'].content['application/json'].schema
        .properties.data.items as { properties: Record<string, Schema> }
    ).properties;
    const extensions = Object.fromEntries(Object.entries(servedItem).filter(([, s]) => s['x-secure-mode-extension'] === true));
    assert.deepEqual(Object.keys(extensions).sort(), ['expires_at', 'last_verified_at']);
    const strict = (properties: Record<string, Schema>) =>
      newAjv().compile({
        type: 'object',
        properties: toJsonSchema({ ...properties, ...extensions }) as Schema,
        required: Object.keys(properties),
        additionalProperties: false,
      });
    const strictItem = strict(item);
    const strictMaterial = strict({ ...item, ...material.properties });
    for (const e of successes()) {
      if (e.method === 'GET' && e.path === '/secure_mode_secrets') {
        for (const s of e.res.body.data) {
          assertValid(strictItem, s, 'list item');
          assert.equal(s.type, 'identity_verification_secret');
          assert.match(s.id, /^[1-9][0-9]*$/);
        }
      }
      if (e.method === 'POST') assertValid(strictMaterial, e.res.body, 'created secret');
    }
  });

  it('every error matches the reference error schema, strictly', () => {
    const validate = referenceSchema('error');
    const strict = newAjv().compile({
      type: 'object',
      required: ['type', 'request_id', 'errors'],
      additionalProperties: false,
      properties: {
        type: { const: 'error.list' },
        request_id: { type: 'string', format: 'uuid' },
        errors: {
          type: 'array',
          minItems: 1,
          items: {
            type: 'object',
            required: ['code', 'message'],
            additionalProperties: false,
            properties: {
              code: { type: 'string', minLength: 1 },
              message: { type: 'string', minLength: 1 },
              field: { type: 'string' },
            },
          },
        },
      },
    });
    assert.ok(failures().length >= 10);
    for (const e of failures()) {
      assertValid(validate, e.res.body, `${e.method} ${e.path} ${e.res.status}`);
      assertValid(strict, e.res.body, `${e.method} ${e.path} ${e.res.status}`);
      assert.equal(e.res.body.request_id, e.res.headers.get('x-request-id'));
    }
  });

  it('every response also matches what our own /openapi.json documents for that operation and status', () => {
    const own = newAjv();
    for (const e of exchanges) {
      const operation = served.paths[e.path]?.[e.method.toLowerCase()] as { responses: Record<string, any> } | undefined;
      assert.ok(operation, `${e.method} ${e.path} is documented`);
      const documented = operation.responses[String(e.res.status)];
      assert.ok(documented, `${e.method} ${e.path} documents ${e.res.status}`);
      const schema = documented.content?.['application/json']?.schema;
      if (e.res.status === 204) {
        assert.equal(schema, undefined);
        continue;
      }
      assert.match(e.res.headers.get('content-type') ?? '', /^application\/json/);
      assertValid(own.compile(toJsonSchema(schema) as Schema), e.res.body, `${e.method} ${e.path} ${e.res.status} (own schema)`);
    }
  });

  describe('GET /openapi.json', () => {
    it('is a valid OpenAPI 3 document', async () => {
      const validator = new Validator();
      const result = await validator.validate(structuredClone(served) as unknown as Record<string, unknown>);
      assert.ok(result.valid, JSON.stringify(result.errors, null, 2));
      assert.match(validator.version ?? '', /^3\./);
    });

    it("keeps Intercom's three operations with their operationIds, paths and methods", () => {
      const expected: [string, string, string][] = [
        ['/secure_mode_secrets', 'get', 'listIdentityVerificationSecrets'],
        ['/secure_mode_secrets', 'post', 'createIdentityVerificationSecret'],
        ['/secure_mode_secrets/{id}', 'delete', 'deleteIdentityVerificationSecret'],
      ];
      for (const [path, method, operationId] of expected) {
        assert.equal(reference.paths[path]?.[method]?.operationId, operationId, 'the fixture agrees');
        const ours = served.paths[path]?.[method];
        assert.equal(ours?.operationId, operationId, `${method} ${path}`);
        assert.equal(ours?.['x-secure-mode-extension'], undefined, `${operationId} is Intercom's, not an extension`);
      }
      const ids = Object.values(served.paths).flatMap((ops) => Object.values(ops).map((o) => o.operationId));
      assert.equal(new Set(ids).size, ids.length, 'operationIds are unique');
    });

    it('marks every operation, parameter and response field that Intercom does not have as x-secure-mode-extension', () => {
      for (const [path, ops] of Object.entries(served.paths)) {
        for (const [method, op] of Object.entries(ops)) {
          const intercom = reference.paths[path]?.[method];
          if (!intercom) {
            assert.equal(op['x-secure-mode-extension'], true, `${method} ${path} is ours`);
            continue;
          }
          const theirs = new Set(
            ((intercom.parameters as Schema[] | undefined) ?? []).map((p) => `${p.in}:${String(p.name).toLowerCase()}`),
          );
          for (const p of (op.parameters as Schema[] | undefined) ?? []) {
            if (theirs.has(`${p.in}:${String(p.name).toLowerCase()}`)) continue;
            const marked = p['x-secure-mode-extension'] === true || (p.schema as Schema)['x-secure-mode-extension'] === true;
            assert.ok(marked, `parameter ${p.name} of ${method} ${path} is ours`);
          }
        }
      }
      const create = served.paths['/secure_mode_secrets']!.post!;
      const created = (create.responses as Record<string, any>)['201'].content['application/json'].schema.properties as Record<
        string,
        Schema
      >;
      const theirs = new Set(['type', 'id', 'name', 'supports_android', 'supports_ios', 'supports_web', 'created_at', 'secret']);
      for (const [name, schema] of Object.entries(created)) {
        if (!theirs.has(name)) assert.equal(schema['x-secure-mode-extension'], true, `${name} in the 201 is ours`);
      }
    });

    it("documents Intercom's request body for create", () => {
      const body = (served.paths['/secure_mode_secrets']!.post!.requestBody as any).content['application/json'].schema;
      const theirs = reference.components.schemas.create_identity_verification_secret_request as any;
      assert.deepEqual(body.required, theirs.required);
      for (const [name, schema] of Object.entries(theirs.properties as Record<string, Schema>)) {
        assert.equal(body.properties[name]?.type, schema.type, name);
      }
    });
  });
});
