import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { ManualClock } from '../../src/domain/clock.js';
import { SCOPES } from '../../src/domain/scopes.js';
import { api, startTestApp, type TestApp } from '../helpers/app.js';
import { recordSensitive } from '../helpers/leaks.js';
import { rawRequest } from '../helpers/raw.js';

/**
 * The error statuses /openapi.json lists for each operation are exactly those it answers: every listed status is
 * reached by a request below, and no request below gets one its operation does not list. The probes are the same
 * for every operation (new routes join as they are registered), plus the refusals only one operation makes.
 */

type Operation = { responses: Record<string, unknown> };
type OpenApiDoc = { paths: Record<string, Record<string, Operation>> };

const BODIES: Record<string, unknown> = {
  'POST /secure_mode_secrets': { name: 'probe', supports_web: true },
  'PUT /secure_mode_secrets/{id}': { name: 'probe renamed' },
  'POST /identity_verification/verify': { platform: 'web', user_id: 'u', user_hash: 'ab'.repeat(32) },
  'POST /identity_verification/diagnose': { platform: 'web', user_id: 'u', user_hash: 'ab'.repeat(32) },
};
/** Above what the probes of the verify route spend, so that only the flood below goes over it. */
const VERIFY_RATE_LIMIT = 40;

describe('/openapi.json lists exactly the error statuses each operation answers', () => {
  let app: TestApp;
  let doc: OpenApiDoc;
  /** "METHOD /template" → the error statuses seen. */
  const seen = new Map<string, Set<number>>();
  let operations: { key: string; method: string; template: string }[];

  before(async () => {
    // A clock that stands still: no rate-limit window ends halfway through a probe.
    app = await startTestApp({
      clock: new ManualClock(1_800_000_000_000),
      env: { SECURE_MODE_VERIFY_RATE_LIMIT: String(VERIFY_RATE_LIMIT) },
    });
    doc = (await api(app, 'GET', '/openapi.json', { token: null })).body as OpenApiDoc;
    operations = Object.entries(doc.paths).flatMap(([template, ops]) =>
      Object.keys(ops).map((m) => ({ key: `${m.toUpperCase()} ${template}`, method: m.toUpperCase(), template })),
    );
    const live = await api(app, 'POST', '/secure_mode_secrets', { body: { name: 'live', supports_web: true } });
    const id = live.body.id as string;
    // The first probe starts a rotation of the live secret; the others then meet it open (409).
    BODIES['POST /secure_mode_rotations'] = { secret_id: id };
    const reader = await app.tokenWith(['read_secure_mode_secret']);
    const writer = await app.tokenWith(['write_secure_mode_secret']);
    const limited = await app.runtime.workspaces.createWorkspace({ name: 'limited', rateLimit: 1 });
    const limitedToken = (await app.runtime.workspaces.createToken(limited, [...SCOPES], 'limited')).value;
    recordSensitive('token', limitedToken);

    const note = (key: string, status: number) => {
      if (status >= 400) (seen.get(key) ?? seen.set(key, new Set()).get(key)!).add(status);
    };
    const bodyOf = (key: string, appId = app.workspace.appId) => {
      const body = BODIES[key];
      return key.includes('/identity_verification/') ? { app_id: appId, ...(body as object) } : body;
    };
    const call = async (key: string, path: string, options: Parameters<typeof api>[3] = {}) => {
      const method = key.split(' ')[0]!;
      const body = (options.body ?? options.rawBody === undefined) ? bodyOf(key) : undefined;
      const res = await api(app, method, path, { ...(body === undefined ? {} : { body }), ...options });
      note(key, res.status);
      return res;
    };

    for (const { key, method, template } of operations) {
      const path = template.replace('{id}', id);
      const readsBody = method !== 'GET';
      await call(key, path);
      await call(key, path, { token: null });
      await call(key, path, { token: reader });
      await call(key, path, { token: writer });
      await call(key, path, { headers: { 'intercom-version': '2.16' } });
      await call(key, `${path}?pad=${'x'.repeat(2100)}`);
      await call(key, `${path}?if_idle_for=x&window=x&bucket=x&limit=x&since=x`);
      await call(key, template.replace('{id}', '999999'));
      if (readsBody) {
        await call(key, path, { rawBody: '{', headers: { 'content-type': 'application/json' } });
        await call(key, path, { rawBody: JSON.stringify({ name: 'x'.repeat(70_000) }) });
        await call(key, path, { body: [] });
      }
      await call(key, path, { token: limitedToken });
      await call(key, path, { token: limitedToken });
      const repeated = await rawRequest(
        app.url,
        `${method} ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nAuthorization: Bearer ${app.token}\r\n` +
          `Authorization: Bearer ${app.token}\r\nContent-Length: 0\r\n\r\n`,
      );
      note(key, repeated.status);
    }

    // Refusals one operation makes, with room under the live-secret cap again.
    for (const s of (await api(app, 'GET', '/secure_mode_secrets')).body.data as { id: string }[]) {
      assert.equal((await api(app, 'DELETE', `/secure_mode_secrets/${s.id}`)).status, 204);
    }
    const start = 'POST /secure_mode_rotations';
    await call(start, '/secure_mode_rotations', { body: { secret_id: '999999' } });
    const rotated = await api(app, 'POST', '/secure_mode_secrets', { body: { name: 'rotated', supports_web: true } });
    const rotation = await call(start, '/secure_mode_rotations', { body: { secret_id: rotated.body.id } });
    await call(start, '/secure_mode_rotations', { body: { secret_id: rotated.body.id } });
    for (const [verb, flag] of [
      ['cancel', 'keep_new'],
      ['complete', 'force'],
    ] as const) {
      const key = `POST /secure_mode_rotations/{id}/${verb}`;
      await call(key, `/secure_mode_rotations/${rotation.body.id}/${verb}?${flag}=maybe`);
    }
    await call('POST /secure_mode_rotations/{id}/cancel', `/secure_mode_rotations/${rotation.body.id}/cancel`);
    await call('POST /secure_mode_rotations/{id}/cancel', `/secure_mode_rotations/${rotation.body.id}/cancel`);
    await call('POST /secure_mode_rotations/{id}/complete', `/secure_mode_rotations/${rotation.body.id}/complete`);
    const verify = 'POST /identity_verification/verify';
    for (let i = 0; i <= VERIFY_RATE_LIMIT; i++)
      await call(verify, '/identity_verification/verify', { body: bodyOf(verify, 'flood') });
    const create = 'POST /secure_mode_secrets';
    await call(create, '/secure_mode_secrets', { headers: { 'idempotency-key': 'k' } });
    await call(create, '/secure_mode_secrets', {
      body: { name: 'other', supports_web: true },
      headers: { 'idempotency-key': 'k' },
    });
    const kept = await call(create, '/secure_mode_secrets', {
      body: { name: 'gone', supports_web: true },
      headers: { 'idempotency-key': 'gone' },
    });
    await api(app, 'DELETE', `/secure_mode_secrets/${kept.body.id}`);
    await call(create, '/secure_mode_secrets', {
      body: { name: 'gone', supports_web: true },
      headers: { 'idempotency-key': 'gone' },
    });
    const used = await api(app, 'POST', '/secure_mode_secrets', { body: { name: 'used', supports_web: true } });
    const userHash = createHmac('sha256', used.body.secret).update('u-1').digest('hex');
    recordSensitive('user_hash', userHash);
    const verified = await api(app, 'POST', '/identity_verification/verify', {
      body: { app_id: app.workspace.appId, platform: 'web', user_id: 'u-1', user_hash: userHash },
    });
    assert.equal(verified.status, 200);
    await call('DELETE /secure_mode_secrets/{id}', `/secure_mode_secrets/${used.body.id}?if_idle_for=3600`);

    // Last: storage gone.
    await app.runtime.store.close();
    for (const { key, template } of operations) {
      await call(key, template.replace('{id}', id), { body: bodyOf(key, 'not-cached') });
    }
  });
  after(async () => {
    await app.close();
  });

  it('probed every documented operation', () => {
    assert.ok(operations.length >= 9, JSON.stringify(operations));
  });

  it('for each operation, the statuses answered equal the statuses listed', () => {
    for (const { key, method, template } of operations) {
      const listed = Object.keys(doc.paths[template]![method.toLowerCase()]!.responses)
        .map(Number)
        .filter((s) => s >= 400)
        .sort((a, b) => a - b);
      const answered = [...(seen.get(key) ?? [])].sort((a, b) => a - b);
      assert.deepEqual(answered, listed, key);
    }
  });
});
