import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { ManualClock, nowSeconds } from '../../../../src/domain/clock.js';
import { api, startTestApp, type TestApp } from '../../../helpers/app.js';

describe('PUT /secure_mode_secrets/{id} and scheduled retirement', () => {
  let app: TestApp;
  const clock = new ManualClock(Date.UTC(2026, 3, 1, 9, 0, 0));
  before(async () => {
    app = await startTestApp({ clock });
    // Only the sweeps this file asks for: "stops verifying before any sweep" must not be helped by a background one.
    await app.runtime.sweeper.stop();
  });
  after(async () => {
    await app.close();
  });

  const put = (id: string, body: unknown, headers: Record<string, string> = {}) =>
    api(app, 'PUT', `/secure_mode_secrets/${id}`, { body, headers });
  const newSecret = async (body: Record<string, unknown> = { name: 'S', supports_web: true }) =>
    (await api(app, 'POST', '/secure_mode_secrets', { body })).body as { id: string; secret: string };

  it('renames, changes platforms and schedules retirement; answers the secret without material', async () => {
    const s = await newSecret({ name: 'Old name', supports_web: true });
    const at = nowSeconds(clock) + 3600;
    const res = await put(s.id, { name: '  New name ', supports_ios: true, supports_web: false, expires_at: at });
    assert.equal(res.status, 200);
    assert.deepEqual(
      { ...res.body },
      {
        type: 'identity_verification_secret',
        id: s.id,
        name: 'New name',
        supports_android: false,
        supports_ios: true,
        supports_web: false,
        created_at: nowSeconds(clock),
        last_verified_at: null,
        expires_at: at,
      },
    );
    assert.ok(!res.text.includes(s.secret));
    const listed = (await api(app, 'GET', '/secure_mode_secrets')).body.data.find((x: { id: string }) => x.id === s.id);
    assert.equal(listed.expires_at, at);
    const cancelled = await put(s.id, { expires_at: null });
    assert.equal(cancelled.body.expires_at, null);
    assert.equal(cancelled.body.name, 'New name');
  });

  it('refuses to leave no platform, a past expiry and bad fields with 422 naming the field', async () => {
    const s = await newSecret({ name: 'Only web', supports_web: true });
    const cases: [unknown, string][] = [
      [{ supports_web: false }, 'supports_web'],
      [{ expires_at: nowSeconds(clock) }, 'expires_at'],
      [{ expires_at: nowSeconds(clock) - 10 }, 'expires_at'],
      [{ expires_at: 'tomorrow' }, 'expires_at'],
      [{ name: '' }, 'name'],
      [{ name: 42 }, 'name'],
      [{ supports_ios: 'yes' }, 'supports_ios'],
    ];
    for (const [body, field] of cases) {
      const res = await put(s.id, body);
      assert.equal(res.status, 422, JSON.stringify(body));
      assert.equal(res.body.errors[0].code, 'parameter_invalid');
      assert.equal(res.body.errors[0].field, field, JSON.stringify(body));
    }
    const unchanged = (await api(app, 'GET', `/secure_mode_secrets/${s.id}`)).body;
    assert.equal(unchanged.supports_web, true);
    assert.equal(unchanged.expires_at, null);
  });

  it('answers 404 like delete, and is Preview-only with write scope', async () => {
    for (const id of ['999999', 'abc', '0']) {
      const res = await put(id, { name: 'x' });
      assert.equal(res.status, 404);
      assert.equal(res.body.errors[0].code, 'identity_verification_secret_not_found');
    }
    const s = await newSecret();
    const other = await app.otherWorkspace();
    const foreign = await api(app, 'PUT', `/secure_mode_secrets/${s.id}`, { body: { name: 'x' }, token: other.token });
    assert.equal(foreign.status, 404);
    assert.equal((await put(s.id, { name: 'x' }, { 'intercom-version': '2.11' })).status, 400);
    const reader = await app.tokenWith(['read_secure_mode_secret']);
    const res = await api(app, 'PUT', `/secure_mode_secrets/${s.id}`, { body: { name: 'x' }, token: reader });
    assert.equal(res.status, 403);
    assert.equal((await api(app, 'DELETE', `/secure_mode_secrets/${s.id}`)).status, 204);
    assert.equal((await put(s.id, { name: 'x' })).status, 404);
  });

  const verify = async (secret: string) =>
    (
      await api(app, 'POST', '/identity_verification/verify', {
        token: null,
        body: {
          app_id: app.workspace.appId,
          platform: 'web',
          user_id: 'u-1',
          user_hash: createHmac('sha256', Buffer.from(secret, 'utf8')).update('u-1').digest('hex'),
        },
      })
    ).status;

  it('an expired secret stops verifying at that second, before any sweep; cancelling in time keeps it', async () => {
    for (const x of (await api(app, 'GET', '/secure_mode_secrets')).body.data)
      await api(app, 'DELETE', `/secure_mode_secrets/${x.id}`);
    const s = await newSecret({ name: 'Timed', supports_web: true });
    const other = await newSecret({ name: 'Other', supports_web: true });
    assert.equal(await verify(s.secret), 200);
    const at = nowSeconds(clock) + 30;
    assert.equal((await put(s.id, { expires_at: at })).status, 200);
    clock.set(at * 1000 - 1);
    assert.equal(await verify(s.secret), 200);
    clock.set(at * 1000);
    assert.equal(await verify(s.secret), 401);
    assert.equal(await verify(other.secret), 200);
    clock.set(at * 1000 + 1);
    assert.equal(await verify(s.secret), 401);

    const later = nowSeconds(clock) + 30;
    assert.equal((await put(other.id, { expires_at: later })).status, 200);
    assert.equal((await put(other.id, { expires_at: null })).status, 200);
    clock.set(later * 1000 + 5000);
    await app.runtime.sweeper.sweep();
    assert.equal(await verify(other.secret), 200);
    assert.deepEqual(
      (await api(app, 'GET', '/secure_mode_secrets')).body.data.map((x: { id: string }) => x.id),
      [other.id],
    );
  });

  it('the sweeper retires a secret at its expires_at, audited as expired rather than deleted', async () => {
    for (const x of (await api(app, 'GET', '/secure_mode_secrets')).body.data)
      await api(app, 'DELETE', `/secure_mode_secrets/${x.id}`);
    const s = await newSecret({ name: 'Retiring', supports_web: true });
    const keep = await newSecret({ name: 'Staying', supports_web: true });
    const at = nowSeconds(clock) + 60;
    assert.equal((await put(s.id, { expires_at: at })).status, 200);

    clock.set(at * 1000 - 1);
    assert.equal((await app.runtime.sweeper.sweep()).secretsExpired, 0);
    assert.equal((await api(app, 'GET', `/secure_mode_secrets/${s.id}`)).status, 200);

    clock.set(at * 1000);
    assert.equal((await app.runtime.sweeper.sweep()).secretsExpired, 1);
    assert.equal((await app.runtime.sweeper.sweep()).secretsExpired, 0);
    assert.equal((await api(app, 'GET', `/secure_mode_secrets/${s.id}`)).status, 404);
    assert.deepEqual(
      (await api(app, 'GET', '/secure_mode_secrets')).body.data.map((x: { id: string }) => x.id),
      [keep.id],
    );
    const record = await app.runtime.store.getSecret(app.workspace.id, Number(s.id));
    assert.equal(record?.deletedReason, 'expired');
    assert.equal(record?.deletedAt, at);

    const events = (await api(app, 'GET', `/audit_events?action=secret.expired,secret.deleted`)).body.data.filter(
      (e: { target: { id: string } }) => e.target.id === s.id,
    );
    assert.equal(events.length, 1);
    assert.equal(events[0].action, 'secret.expired');
    assert.equal(events[0].created_at, at);
    assert.deepEqual(events[0].actor, { token_id: null, ip: null });
    assert.deepEqual(events[0].details, { name: 'Retiring', expires_at: at });
  });
});
