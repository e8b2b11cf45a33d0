import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ManualClock, nowSeconds } from '../../../../src/domain/clock.js';
import { api, startTestApp, type TestApp } from '../../../helpers/app.js';

describe('GET /secure_mode_secrets/{id}/usage', () => {
  let app: TestApp;
  // 10:30:00 UTC: hour buckets start at 10:00, minute buckets at 10:30.
  const clock = new ManualClock(Date.UTC(2026, 5, 1, 10, 30, 0));
  before(async () => {
    app = await startTestApp({ clock });
  });
  after(async () => {
    await app.close();
  });

  it('answers every bucket oldest first, zeros included, with flushed and unflushed counts', async () => {
    const s = (
      await api(app, 'POST', '/secure_mode_secrets', { body: { name: 'Counted', supports_web: true, supports_ios: true } })
    ).body;
    const id = Number(s.id);
    const now = nowSeconds(clock);
    const empty = await api(app, 'GET', `/secure_mode_secrets/${s.id}/usage`);
    assert.equal(empty.status, 200);
    assert.equal(empty.body.type, 'identity_verification_secret.usage');
    assert.equal(empty.body.id, s.id);
    assert.equal(empty.body.window_seconds, 86_400);
    assert.equal(empty.body.bucket_seconds, 3_600);
    assert.equal(empty.body.last_verified_at, null);
    assert.equal(empty.body.buckets.length, 24);
    assert.equal(empty.body.buckets[23].start, now - 30 * 60);
    assert.equal(empty.body.buckets[0].start, now - 30 * 60 - 23 * 3600);
    assert.ok(empty.body.buckets.every((b: Record<string, number>) => b.web === 0 && b.ios === 0 && b.android === 0));

    // Two hours ago (flushed to the store), then now (still in memory).
    clock.advance(-2 * 3600 * 1000);
    app.runtime.usage.recordSuccess(id, 'web', 'user_hash');
    app.runtime.usage.recordSuccess(id, 'web', 'user_hash');
    await app.runtime.usage.flush();
    clock.advance(2 * 3600 * 1000);
    app.runtime.usage.recordSuccess(id, 'ios', 'jwt');
    app.runtime.usage.recordSuccess(id, 'web', 'user_hash');

    const day = (await api(app, 'GET', `/secure_mode_secrets/${s.id}/usage`)).body;
    assert.equal(day.last_verified_at, now);
    assert.deepEqual(day.buckets[21], { start: now - 30 * 60 - 2 * 3600, web: 2, ios: 0, android: 0 });
    assert.deepEqual(day.buckets[23], { start: now - 30 * 60, web: 1, ios: 1, android: 0 });
    const total = day.buckets.reduce((n: number, b: Record<string, number>) => n + b.web! + b.ios! + b.android!, 0);
    assert.equal(total, 4);

    const minutes = (await api(app, 'GET', `/secure_mode_secrets/${s.id}/usage?window=300&bucket=60`)).body;
    assert.equal(minutes.buckets.length, 5);
    assert.deepEqual(
      minutes.buckets.map((b: { start: number }) => b.start),
      [now - 240, now - 180, now - 120, now - 60, now],
    );
    assert.deepEqual(minutes.buckets[4], { start: now, web: 1, ios: 1, android: 0 });
    assert.equal(
      minutes.buckets.slice(0, 4).reduce((n: number, b: Record<string, number>) => n + b.web!, 0),
      0,
    );
    // A window that is not a whole number of buckets is rounded up.
    assert.equal((await api(app, 'GET', `/secure_mode_secrets/${s.id}/usage?window=61&bucket=60`)).body.buckets.length, 2);
  });

  it('validates window and bucket, 404s like the other secret paths, and is Preview-only', async () => {
    const s = (await api(app, 'POST', '/secure_mode_secrets', { body: { name: 'Validated', supports_web: true } })).body;
    for (const [query, field] of [
      ['bucket=30', 'bucket'],
      ['bucket=90', 'bucket'],
      ['window=86400&bucket=60', 'bucket'],
      ['window=0', 'window'],
      ['window=-1', 'window'],
      ['bucket=abc', 'bucket'],
    ]) {
      const res = await api(app, 'GET', `/secure_mode_secrets/${s.id}/usage?${query}`);
      assert.equal(res.status, 422, query);
      assert.equal(res.body.errors[0].field, field, query);
    }
    assert.equal((await api(app, 'GET', `/secure_mode_secrets/${s.id}/usage?window=60000&bucket=60`)).status, 200);
    assert.equal(
      (await api(app, 'GET', '/secure_mode_secrets/424242/usage')).body.errors[0].code,
      'identity_verification_secret_not_found',
    );
    assert.equal(
      (await api(app, 'GET', `/secure_mode_secrets/${s.id}/usage`, { headers: { 'intercom-version': '2.14' } })).status,
      400,
    );
    const writer = await app.tokenWith(['write_secure_mode_secret']);
    assert.equal((await api(app, 'GET', `/secure_mode_secrets/${s.id}/usage`, { token: writer })).status, 403);
    await api(app, 'DELETE', `/secure_mode_secrets/${s.id}`);
    assert.equal((await api(app, 'GET', `/secure_mode_secrets/${s.id}/usage`)).status, 404);
  });
});
