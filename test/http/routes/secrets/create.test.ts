import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ManualClock } from '../../../../src/domain/clock.js';
import { api, startTestApp, type TestApp } from '../../../helpers/app.js';
import { openRawDb } from '../../../helpers/raw-db.js';

const WINDOW = 600;

describe('Idempotency-Key on POST /secure_mode_secrets', () => {
  let app: TestApp;
  const clock = new ManualClock(Date.UTC(2026, 2, 1, 12, 0, 0));
  before(async () => {
    app = await startTestApp({ clock, env: { SECURE_MODE_IDEMPOTENCY_WINDOW: String(WINDOW) } });
  });
  after(async () => {
    await app.close();
  });

  const create = (body: unknown, key?: string, token?: string) =>
    api(app, 'POST', '/secure_mode_secrets', {
      body,
      ...(token ? { token } : {}),
      headers: key === undefined ? {} : { 'idempotency-key': key },
    });
  const liveIds = async () => (await api(app, 'GET', '/secure_mode_secrets')).body.data.map((s: { id: string }) => s.id);

  it('replays the original 201 byte-for-byte, secret included, and creates only one secret', async () => {
    const body = { name: 'Web 2026', supports_web: true };
    const first = await create(body, 'rotate-2026-03-01');
    assert.equal(first.status, 201);
    assert.equal(first.headers.get('idempotent-replayed'), null);
    clock.advance(30_000);
    // Key order and whitespace do not make it another request.
    const again = await api(app, 'POST', '/secure_mode_secrets', {
      rawBody: '{ "supports_web": true,   "name": "Web 2026" }',
      headers: { 'idempotency-key': 'rotate-2026-03-01', 'content-type': 'application/json' },
    });
    assert.equal(again.status, 201);
    assert.equal(again.text, first.text);
    assert.equal(again.headers.get('idempotent-replayed'), 'true');
    assert.notEqual(again.headers.get('x-request-id'), first.headers.get('x-request-id'));
    assert.deepEqual(await liveIds(), [first.body.id]);
    const created = await api(app, 'GET', `/audit_events?action=secret.created`);
    assert.equal(created.body.data.length, 1);
  });

  it('answers 409 idempotency_key_reused for the same key with a different body, creating nothing', async () => {
    const before = await liveIds();
    const other = await create({ name: 'Web 2026', supports_web: true, supports_ios: true }, 'rotate-2026-03-01');
    assert.equal(other.status, 409);
    assert.equal(other.body.errors[0].code, 'idempotency_key_reused');
    assert.ok(!other.text.includes('secret"'));
    assert.deepEqual(await liveIds(), before);
  });

  it('scopes keys to the workspace: another workspace with the same key gets its own secret', async () => {
    const other = await app.otherWorkspace();
    const res = await create({ name: 'Web 2026', supports_web: true }, 'rotate-2026-03-01', other.token);
    assert.equal(res.status, 201);
    assert.equal(res.headers.get('idempotent-replayed'), null);
    const mine = await create({ name: 'Web 2026', supports_web: true }, 'rotate-2026-03-01');
    assert.notEqual(res.body.secret, mine.body.secret);
  });

  it('keeps no copy of the secret in plaintext, and after the window frees the key and leaves no record', async () => {
    const first = await create({ name: 'Window', supports_web: true }, 'window-key');
    assert.equal(first.status, 201);
    const secretBytes = Buffer.from(first.body.secret, 'utf8');
    await app.runtime.usage.flush();
    const db = await openRawDb(app.dir);
    try {
      assert.equal(await db.contains(secretBytes), false);
      assert.equal(await db.count('idempotency_keys', 'key', 'window-key'), 1);

      clock.advance((WINDOW - 1) * 1000);
      assert.equal(
        (await create({ name: 'Window', supports_web: true }, 'window-key')).headers.get('idempotent-replayed'),
        'true',
      );

      clock.advance(1000);
      await app.runtime.sweeper.sweep();
      assert.equal(await db.count('idempotency_keys', 'key', 'window-key'), 0);
      assert.equal(await db.contains(secretBytes), false);
    } finally {
      await db.close();
    }

    const reused = await create({ name: 'Window, again', supports_ios: true }, 'window-key');
    assert.equal(reused.status, 201);
    assert.equal(reused.headers.get('idempotent-replayed'), null);
    assert.notEqual(reused.body.id, first.body.id);
  });

  it('a key whose record expired but was not swept yet is free too', async () => {
    const first = await create({ name: 'Unswept', supports_web: true }, 'unswept');
    clock.advance(WINDOW * 1000);
    const second = await create({ name: 'Unswept', supports_web: true }, 'unswept');
    assert.equal(second.status, 201);
    assert.notEqual(second.body.id, first.body.id);
    for (const id of [first.body.id, second.body.id])
      assert.equal((await api(app, 'DELETE', `/secure_mode_secrets/${id}`)).status, 204);
  });

  it('concurrent duplicates create exactly one secret', async () => {
    for (const id of await liveIds()) await api(app, 'DELETE', `/secure_mode_secrets/${id}`);
    const body = { name: 'Concurrent', supports_android: true };
    const results = await Promise.all(Array.from({ length: 8 }, () => create(body, 'concurrent')));
    assert.deepEqual(
      results.map((r) => r.status),
      Array(8).fill(201),
    );
    assert.equal(new Set(results.map((r) => r.text)).size, 1);
    assert.equal(results.filter((r) => r.headers.get('idempotent-replayed') === null).length, 1);
    assert.deepEqual(await liveIds(), [results[0]!.body.id]);
  });

  it('refuses malformed keys with 422 naming the header, and changes nothing without the header', async () => {
    for (const key of ['', 'x'.repeat(256), 'caf\u00e9']) {
      const res = await api(app, 'POST', '/secure_mode_secrets', {
        body: { name: 'Bad key', supports_web: true },
        headers: { 'idempotency-key': key },
      });
      assert.equal(res.status, 422, JSON.stringify(key));
      assert.equal(res.body.errors[0].field, 'Idempotency-Key');
    }
    const a = await create({ name: 'No key', supports_web: true });
    const b = await create({ name: 'No key', supports_web: true });
    assert.equal(a.status, 201);
    assert.equal(b.status, 201);
    assert.notEqual(a.body.id, b.body.id);
  });
});
