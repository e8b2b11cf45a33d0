import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ManualClock, nowSeconds } from '../../../../src/domain/clock.js';
import type { Platform } from '../../../../src/domain/model.js';
import { userHash } from '../../../../packages/sign/src/index.js';
import { api, startTestApp, type TestApp } from '../../../helpers/app.js';
import { assertErrorList } from '../../../helpers/assertions.js';

/**
 * The rotation object through the HTTP API, on an injected clock: every state change and refusal. The background
 * sweeper is slowed to its maximum interval, so each test advances rotations with an explicit sweep.
 */
describe('rotations: /secure_mode_rotations', () => {
  const clock = new ManualClock(Date.UTC(2026, 8, 1, 12, 0, 0));
  let app: TestApp;
  before(async () => {
    app = await startTestApp({
      clock,
      env: { SECURE_MODE_SWEEP_INTERVAL_MS: '60000', SECURE_MODE_USAGE_FLUSH_MS: '60000', SECURE_MODE_MAX_LIVE_SECRETS: '100' },
    });
  });
  after(async () => {
    await app.close();
  });

  const createSecret = async (name: string, platforms: Platform[]) => {
    const body: Record<string, unknown> = { name };
    for (const p of platforms) body[`supports_${p}`] = true;
    const res = await api(app, 'POST', '/secure_mode_secrets', { body });
    assert.equal(res.status, 201);
    return res.body as { id: string; secret: string; name: string };
  };
  const verify = async (secret: string, platform: Platform, userId = 'u-1') =>
    (
      await api(app, 'POST', '/identity_verification/verify', {
        token: null,
        body: { app_id: app.workspace.appId, platform, user_id: userId, user_hash: userHash(secret, { user_id: userId }) },
      })
    ).status;
  const start = (body: Record<string, unknown>, headers?: Record<string, string>) =>
    api(app, 'POST', '/secure_mode_rotations', { body, ...(headers ? { headers } : {}) });
  const get = async (id: string) => (await api(app, 'GET', `/secure_mode_rotations/${id}`)).body;
  const auditOf = async (rotationId: string) => {
    const res = await api(app, 'GET', '/audit_events?limit=200');
    return (res.body.data as { action: string; target: { type: string; id: string }; details: Record<string, unknown> }[])
      .filter((e) => e.target.type === 'rotation' && e.target.id === rotationId)
      .map((e) => e.action)
      .reverse();
  };
  const sweep = () => app.runtime.sweeper.sweep();

  it('starts: 201 with the successor secret once, the old platforms, defaults; GET never shows a secret', async () => {
    const old = await createSecret('Web and iOS', ['web', 'ios']);
    assert.equal(await verify(old.secret, 'web'), 200);
    const t = nowSeconds(clock);
    const res = await start({ secret_id: old.id });
    assert.equal(res.status, 201);
    const r = res.body;
    assert.equal(r.type, 'identity_verification_secret_rotation');
    assert.equal(r.state, 'rolling_out');
    assert.equal(r.from_secret_id, old.id);
    assert.equal(r.idle_for, 3600);
    assert.equal(r.deadline, null);
    assert.equal(r.overdue, false);
    assert.equal(r.created_at, t);
    assert.equal(r.updated_at, t);
    assert.equal(r.completed_at, null);
    assert.match(r.secret, /^[A-Za-z0-9_-]{43}$/);
    assert.deepEqual(r.platforms, {
      web: { old_last_verified_at: t, new_last_verified_at: null },
      ios: { old_last_verified_at: null, new_last_verified_at: null },
    });
    assert.deepEqual(Object.keys(r), [
      'type',
      'id',
      'state',
      'from_secret_id',
      'to_secret_id',
      'idle_for',
      'deadline',
      'overdue',
      'created_at',
      'updated_at',
      'completed_at',
      'platforms',
      'deliver',
      'delivered_at',
      'secret',
    ]);
    const successor = (await api(app, 'GET', `/secure_mode_secrets/${r.to_secret_id}`)).body;
    assert.equal(successor.name, 'Web and iOS (rotated 2026-09-01)');
    assert.equal(successor.supports_web, true);
    assert.equal(successor.supports_ios, true);
    assert.equal(successor.supports_android, false);
    // The successor verifies at once, on this node, and the old one still does.
    assert.equal(await verify(r.secret, 'ios'), 200);
    assert.equal(await verify(old.secret, 'web'), 200);

    const fetched = await get(r.id);
    assert.equal(fetched.secret, undefined);
    assert.equal(fetched.platforms.ios.new_last_verified_at, t);
    const listed = (await api(app, 'GET', '/secure_mode_rotations')).body;
    assert.equal(listed.type, 'list');
    assert.ok(listed.data.every((x: { secret?: string }) => x.secret === undefined));
    assert.deepEqual(await auditOf(r.id), ['rotation.started']);
  });

  it('lists newest first', async () => {
    const a = await createSecret('List A', ['web']);
    const b = await createSecret('List B', ['web']);
    const ra = (await start({ secret_id: a.id })).body;
    const rb = (await start({ secret_id: b.id })).body;
    const ids = (await api(app, 'GET', '/secure_mode_rotations')).body.data.map((x: { id: string }) => x.id);
    assert.ok(ids.indexOf(rb.id) < ids.indexOf(ra.id));
    assert.equal(ids[0], rb.id);
  });

  it('rolling_out → cutting_over → completed by the server: needs every platform, then idle_for of silence', async () => {
    const old = await createSecret('Three platforms', ['web', 'ios', 'android']);
    const r = (await start({ secret_id: old.id, idle_for: 120, name: 'Successor' })).body;
    assert.equal((await api(app, 'GET', `/secure_mode_secrets/${r.to_secret_id}`)).body.name, 'Successor');
    // An old secret that never verified still waits for the successor to be seen on every platform.
    await sweep();
    assert.equal((await get(r.id)).state, 'rolling_out');
    assert.equal(await verify(r.secret, 'web'), 200);
    assert.equal(await verify(r.secret, 'ios'), 200);
    await sweep();
    assert.equal((await get(r.id)).state, 'rolling_out');
    assert.equal(await verify(old.secret, 'android'), 200);
    clock.advance(10_000);
    assert.equal(await verify(r.secret, 'android'), 200);
    await sweep();
    const cut = await get(r.id);
    assert.equal(cut.state, 'cutting_over');
    // The old secret verified 10 s ago: it stays until it has been idle for idle_for.
    clock.advance(100_000);
    await sweep();
    assert.equal((await get(r.id)).state, 'cutting_over');
    assert.equal(await verify(old.secret, 'android'), 200);
    const lastOld = nowSeconds(clock);
    clock.advance(119_000);
    await sweep();
    assert.equal((await get(r.id)).state, 'cutting_over');
    clock.advance(1_000);
    await sweep();
    const done = await get(r.id);
    assert.equal(done.state, 'completed');
    assert.equal(done.completed_at, lastOld + 120);
    assert.equal(done.platforms.android.old_last_verified_at, lastOld);
    assert.equal((await api(app, 'GET', `/secure_mode_secrets/${old.id}`)).status, 404);
    assert.equal(await verify(old.secret, 'android'), 401);
    assert.equal(await verify(r.secret, 'android'), 200);
    assert.deepEqual(await auditOf(r.id), ['rotation.started', 'rotation.cut_over', 'rotation.completed']);
    // The old secret's delete is audited once, by the system, naming the rotation.
    const deletes = (await api(app, 'GET', '/audit_events?action=secret.deleted&limit=200')).body.data.filter(
      (e: { target: { id: string } }) => e.target.id === old.id,
    );
    assert.equal(deletes.length, 1);
    assert.equal(deletes[0].actor.token_id, null);
    assert.equal(deletes[0].details.rotation_id, r.id);
    // Nothing more happens on further sweeps.
    await sweep();
    assert.deepEqual(await auditOf(r.id), ['rotation.started', 'rotation.cut_over', 'rotation.completed']);
  });

  it('a never-used old secret retires as soon as the successor has been seen everywhere, never before', async () => {
    const old = await createSecret('Unused', ['web']);
    const r = (await start({ secret_id: old.id, idle_for: 60 })).body;
    clock.advance(3_600_000);
    await sweep();
    assert.equal((await get(r.id)).state, 'rolling_out');
    assert.equal(await verify(r.secret, 'web'), 200);
    await sweep();
    assert.equal((await get(r.id)).state, 'completed');
    assert.deepEqual(await auditOf(r.id), ['rotation.started', 'rotation.cut_over', 'rotation.completed']);
  });

  it('refuses: 404 unknown secret, 409 rotation_in_progress on either side, 422 idle_for, deadline and limit', async () => {
    assertErrorList(await start({ secret_id: '999999' }), 404, 'identity_verification_secret_not_found');
    assertErrorList(await start({ secret_id: 'abc' }), 404, 'identity_verification_secret_not_found');
    const old = await createSecret('Busy', ['web']);
    const r = (await start({ secret_id: old.id })).body;
    assertErrorList(await start({ secret_id: old.id }), 409, 'rotation_in_progress');
    assertErrorList(await start({ secret_id: r.to_secret_id }), 409, 'rotation_in_progress');
    const other = await createSecret('Other', ['web']);
    for (const idle of [59, 2_592_001, 1.5]) {
      assertErrorList(await start({ secret_id: other.id, idle_for: idle }), 422, 'parameter_invalid', { field: 'idle_for' });
    }
    assertErrorList(await start({ secret_id: other.id, idle_for: 'x' }), 422, 'parameter_invalid', { field: 'idle_for' });
    const now = nowSeconds(clock);
    assertErrorList(await start({ secret_id: other.id, deadline: now }), 422, 'parameter_invalid', { field: 'deadline' });
    assertErrorList(await start({ secret_id: other.id, name: '   ' }), 422, 'parameter_invalid', { field: 'name' });
    assertErrorList(await start({}), 422, 'parameter_invalid', { field: 'secret_id' });
    assert.equal((await start({ secret_id: other.id, idle_for: 60, deadline: now + 1 })).status, 201);
  });

  it('422 secret_limit_reached when the workspace has no room for the successor', async () => {
    const small = await startTestApp({ env: { SECURE_MODE_MAX_LIVE_SECRETS: '1', SECURE_MODE_SWEEP_INTERVAL_MS: '60000' } });
    try {
      const s = await api(small, 'POST', '/secure_mode_secrets', { body: { name: 'Only', supports_web: true } });
      const res = await api(small, 'POST', '/secure_mode_rotations', { body: { secret_id: s.body.id } });
      assertErrorList(res, 422, 'secret_limit_reached');
      assert.deepEqual((await api(small, 'GET', '/secure_mode_rotations')).body.data, []);
    } finally {
      await small.close();
    }
  });

  it('Idempotency-Key: the same body replays the 201 byte for byte, another body is 409', async () => {
    const old = await createSecret('Idempotent', ['web']);
    const headers = { 'idempotency-key': 'rotate-idem-1' };
    const first = await start({ secret_id: old.id, idle_for: 600 }, headers);
    assert.equal(first.status, 201);
    const again = await start({ idle_for: 600, secret_id: old.id }, headers);
    assert.equal(again.status, 201);
    assert.equal(again.text, first.text);
    assert.equal(again.headers.get('idempotent-replayed'), 'true');
    assertErrorList(await start({ secret_id: old.id, idle_for: 601 }, headers), 409, 'idempotency_key_reused');
    // A key already used by a secret create is another request.
    await api(app, 'POST', '/secure_mode_secrets', {
      body: { name: 'K', supports_web: true },
      headers: { 'idempotency-key': 'k2' },
    });
    assertErrorList(await start({ secret_id: old.id }, { 'idempotency-key': 'k2' }), 409, 'idempotency_key_reused');
    assert.deepEqual(await auditOf(first.body.id), ['rotation.started']);
  });

  it('cancel: deletes a successor that never verified; 409 once it verified unless keep_new; 409 rotation_closed after', async () => {
    const old = await createSecret('Cancel me', ['web']);
    const r = (await start({ secret_id: old.id })).body;
    const cancelled = await api(app, 'POST', `/secure_mode_rotations/${r.id}/cancel`);
    assert.equal(cancelled.status, 200);
    assert.equal(cancelled.body.state, 'cancelled');
    assert.equal(cancelled.body.completed_at, nowSeconds(clock));
    assert.equal(cancelled.body.secret, undefined);
    assert.equal((await api(app, 'GET', `/secure_mode_secrets/${r.to_secret_id}`)).status, 404);
    assert.equal(await verify(old.secret, 'web'), 200);
    assertErrorList(await api(app, 'POST', `/secure_mode_rotations/${r.id}/cancel`), 409, 'rotation_closed');
    assertErrorList(await api(app, 'POST', `/secure_mode_rotations/${r.id}/complete`), 409, 'rotation_closed');
    assert.deepEqual(await auditOf(r.id), ['rotation.started', 'rotation.cancelled']);

    const r2 = (await start({ secret_id: old.id })).body;
    assert.equal(await verify(r2.secret, 'web'), 200);
    assertErrorList(await api(app, 'POST', `/secure_mode_rotations/${r2.id}/cancel`), 409, 'identity_verification_secret_in_use');
    const kept = await api(app, 'POST', `/secure_mode_rotations/${r2.id}/cancel?keep_new=true`);
    assert.equal(kept.body.state, 'cancelled');
    assert.equal(await verify(r2.secret, 'web'), 200);
    assert.equal(await verify(old.secret, 'web'), 200);
  });

  it('complete: 409 until the successor verified everywhere and the old is idle; force deletes at once', async () => {
    const old = await createSecret('Complete me', ['web', 'ios']);
    assert.equal(await verify(old.secret, 'web'), 200);
    const r = (await start({ secret_id: old.id, idle_for: 60 })).body;
    assertErrorList(await api(app, 'POST', `/secure_mode_rotations/${r.id}/complete`), 409, 'rotation_not_ready');
    assert.equal(await verify(r.secret, 'web'), 200);
    assert.equal(await verify(r.secret, 'ios'), 200);
    assertErrorList(
      await api(app, 'POST', `/secure_mode_rotations/${r.id}/complete`),
      409,
      'identity_verification_secret_in_use',
    );
    clock.advance(60_000);
    const done = await api(app, 'POST', `/secure_mode_rotations/${r.id}/complete`);
    assert.equal(done.status, 200);
    assert.equal(done.body.state, 'completed');
    assert.equal(await verify(old.secret, 'web'), 401);

    const leaked = await createSecret('Leaked', ['web']);
    assert.equal(await verify(leaked.secret, 'web'), 200);
    const r2 = (await start({ secret_id: leaked.id })).body;
    const forced = await api(app, 'POST', `/secure_mode_rotations/${r2.id}/complete?force=true`);
    assert.equal(forced.body.state, 'completed');
    assert.equal(await verify(leaked.secret, 'web'), 401);
    assert.deepEqual(await auditOf(r2.id), ['rotation.started', 'rotation.completed']);
  });

  it('a DELETE of the old secret completes the rotation; a DELETE or expiry of the successor cancels it', async () => {
    const a = await createSecret('Deleted old', ['web']);
    const ra = (await start({ secret_id: a.id })).body;
    assert.equal((await api(app, 'DELETE', `/secure_mode_secrets/${a.id}`)).status, 204);
    await sweep();
    assert.equal((await get(ra.id)).state, 'completed');

    const b = await createSecret('Deleted new', ['web']);
    const rb = (await start({ secret_id: b.id })).body;
    assert.equal((await api(app, 'DELETE', `/secure_mode_secrets/${rb.to_secret_id}`)).status, 204);
    await sweep();
    assert.equal((await get(rb.id)).state, 'cancelled');
    assert.equal(await verify(b.secret, 'web'), 200);

    const c = await createSecret('Expiring new', ['web']);
    const rc = (await start({ secret_id: c.id })).body;
    const expiresAt = nowSeconds(clock) + 5;
    assert.equal(
      (await api(app, 'PUT', `/secure_mode_secrets/${rc.to_secret_id}`, { body: { expires_at: expiresAt } })).status,
      200,
    );
    clock.advance(5_000);
    await sweep();
    const cancelled = await get(rc.id);
    assert.equal(cancelled.state, 'cancelled');
    assert.deepEqual(await auditOf(rc.id), ['rotation.started', 'rotation.cancelled']);

    const d = await createSecret('Expiring old', ['web']);
    const rd = (await start({ secret_id: d.id })).body;
    await api(app, 'PUT', `/secure_mode_secrets/${d.id}`, { body: { expires_at: nowSeconds(clock) + 1 } });
    clock.advance(1_000);
    await sweep();
    assert.equal((await get(rd.id)).state, 'completed');
  });

  it('a PUT that would leave the successor without a platform the old secret supports is 409', async () => {
    const old = await createSecret('Platforms', ['web', 'ios']);
    const r = (await start({ secret_id: old.id })).body;
    const res = await api(app, 'PUT', `/secure_mode_secrets/${r.to_secret_id}`, { body: { supports_ios: false } });
    assertErrorList(res, 409, 'rotation_in_progress');
    assertErrorList(
      await api(app, 'PUT', `/secure_mode_secrets/${old.id}`, { body: { supports_android: true } }),
      409,
      'rotation_in_progress',
    );
    // Adding a platform to the successor, or renaming, is fine.
    assert.equal(
      (await api(app, 'PUT', `/secure_mode_secrets/${r.to_secret_id}`, { body: { supports_android: true } })).status,
      200,
    );
    assert.equal((await api(app, 'PUT', `/secure_mode_secrets/${old.id}`, { body: { supports_ios: false } })).status, 200);
  });

  it('overdue once the deadline passes unfinished: once, audited, counted in /metrics', async () => {
    const old = await createSecret('Deadline', ['web']);
    const r = (await start({ secret_id: old.id, deadline: nowSeconds(clock) + 30 })).body;
    await sweep();
    assert.equal((await get(r.id)).overdue, false);
    clock.advance(30_000);
    await sweep();
    await sweep();
    const overdue = await get(r.id);
    assert.equal(overdue.overdue, true);
    assert.equal(overdue.state, 'rolling_out');
    assert.deepEqual(await auditOf(r.id), ['rotation.started', 'rotation.overdue']);
    const metrics = await (await fetch(`${app.url}/metrics`)).text();
    const line = metrics.split('\n').find((l) => l.startsWith('secure_mode_rotations_overdue '));
    assert.ok(line && Number(line.split(' ')[1]) >= 1, line);
  });

  it("another workspace's rotation is 404, and scopes are enforced", async () => {
    const old = await createSecret('Mine', ['web']);
    const r = (await start({ secret_id: old.id })).body;
    const other = await app.otherWorkspace();
    const as = { url: app.url, token: other.token };
    assertErrorList(await api(as, 'GET', `/secure_mode_rotations/${r.id}`), 404, 'rotation_not_found');
    assertErrorList(await api(as, 'POST', `/secure_mode_rotations/${r.id}/cancel`), 404, 'rotation_not_found');
    assertErrorList(await api(as, 'POST', `/secure_mode_rotations/${r.id}/complete?force=true`), 404, 'rotation_not_found');
    assertErrorList(
      await api(as, 'POST', '/secure_mode_rotations', { body: { secret_id: old.id } }),
      404,
      'identity_verification_secret_not_found',
    );
    assert.deepEqual((await api(as, 'GET', '/secure_mode_rotations')).body.data, []);
    assertErrorList(await api(app, 'GET', '/secure_mode_rotations/abc'), 404, 'rotation_not_found');
    const reader = await app.tokenWith(['read_secure_mode_secret']);
    const asReader = { url: app.url, token: reader };
    assert.equal((await api(asReader, 'GET', `/secure_mode_rotations/${r.id}`)).status, 200);
    assertErrorList(await api(asReader, 'POST', '/secure_mode_rotations', { body: { secret_id: old.id } }), 403, 'forbidden');
    assertErrorList(await api(asReader, 'POST', `/secure_mode_rotations/${r.id}/cancel`), 403, 'forbidden');
    assertErrorList(await api(app, 'GET', '/secure_mode_rotations', { token: null }), 401, 'unauthorized');
  });
});
