import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { userHash } from '../../../../packages/sign/src/index.js';
import { ManualClock, nowSeconds } from '../../../../src/domain/clock.js';
import { api, startTestApp, type TestApp } from '../../../helpers/app.js';
import { assertErrorList } from '../../../helpers/assertions.js';
import { eventually } from '../../../helpers/nodes.js';
import { TestRolloutCommand } from '../../../helpers/rollout.js';

const BASE_MS = 1000;
const ENV = {
  SECURE_MODE_SWEEP_INTERVAL_MS: '60000',
  SECURE_MODE_USAGE_FLUSH_MS: '60000',
  SECURE_MODE_MAX_LIVE_SECRETS: '100',
  SECURE_MODE_WEBHOOK_RETRY_BASE_MS: String(BASE_MS),
  SECURE_MODE_ROLLOUT_TIMEOUT_MS: '1000',
};

interface AuditRow {
  action: string;
  target: { type: string; id: string };
  details: Record<string, unknown>;
  actor: { token_id: string | null };
}

const auditOf = async (app: TestApp, rotationId: string): Promise<AuditRow[]> =>
  ((await api(app, 'GET', '/audit_events?limit=200')).body.data as AuditRow[])
    .filter((e) => e.target.type === 'rotation' && e.target.id === rotationId)
    .reverse();

/** Rollout delivery: POST /secure_mode_rotations with deliver: true runs SECURE_MODE_ROLLOUT_COMMAND instead of answering the secret. */
describe('rotations: deliver with the rollout command', () => {
  const clock = new ManualClock(Date.UTC(2026, 9, 1, 12, 0, 0));
  const rollout = new TestRolloutCommand();
  let app: TestApp;
  before(async () => {
    app = await startTestApp({ clock, env: { ...ENV, SECURE_MODE_ROLLOUT_COMMAND: rollout.command } });
  });
  after(async () => {
    await app.close();
    rollout.close();
  });

  const createSecret = async (name: string, flags: Record<string, boolean> = { supports_web: true }) => {
    const res = await api(app, 'POST', '/secure_mode_secrets', { body: { name, ...flags } });
    assert.equal(res.status, 201);
    return res.body as { id: string; secret: string };
  };
  const start = (body: Record<string, unknown>, headers?: Record<string, string>) =>
    api(app, 'POST', '/secure_mode_rotations', { body, ...(headers ? { headers } : {}) });
  const get = async (id: string) => (await api(app, 'GET', `/secure_mode_rotations/${id}`)).body;
  /** A sweep, then every rollout run it started. */
  const settle = async () => {
    await app.runtime.sweeper.sweep();
    await app.runtime.rollout.drain();
  };
  const verify = async (secret: string) =>
    (
      await api(app, 'POST', '/identity_verification/verify', {
        token: null,
        body: { app_id: app.workspace.appId, platform: 'web', user_id: 'u-1', user_hash: userHash(secret, { user_id: 'u-1' }) },
      })
    ).status;

  it('201 without the secret; the command gets it on standard input; exit 0 records delivered_at once', async () => {
    rollout.mode('ok');
    const old = await createSecret('Web and iOS', { supports_web: true, supports_ios: true });
    const t = nowSeconds(clock);
    const res = await start({ secret_id: old.id, deliver: true });
    assert.equal(res.status, 201);
    assert.equal(res.body.secret, undefined);
    assert.equal(res.body.deliver, true);
    assert.equal(res.body.delivered_at, null);
    await app.runtime.rollout.drain();
    const payload = rollout.payload();
    assert.ok(payload);
    assert.deepEqual(Object.keys(payload), ['app_id', 'rotation_id', 'secret_id', 'name', 'platforms', 'secret']);
    assert.equal(payload.app_id, app.workspace.appId);
    assert.equal(payload.rotation_id, res.body.id);
    assert.equal(payload.secret_id, res.body.to_secret_id);
    assert.equal(payload.name, 'Web and iOS (rotated 2026-10-01)');
    assert.deepEqual(payload.platforms, ['web', 'ios']);
    assert.match(payload.secret, /^[A-Za-z0-9_-]{43}$/);
    // What the command got is the successor: it verifies.
    assert.equal(await verify(payload.secret), 200);
    const r = await get(res.body.id);
    assert.equal(r.delivered_at, t);
    assert.equal(r.deliver, true);
    assert.equal(r.secret, undefined);
    const events = await auditOf(app, res.body.id);
    assert.deepEqual(
      events.map((e) => e.action),
      ['rotation.started', 'rotation.delivered'],
    );
    assert.equal(events[0]!.details.deliver, true);
    assert.equal(events[1]!.details.exit_code, 0);
    assert.equal(events[1]!.actor.token_id, null);
    assert.equal(rollout.runs(), 1);
    // Nothing is run again.
    clock.advance(3_600_000);
    await settle();
    assert.equal(rollout.runs(), 1);
    assert.equal(events.length, (await auditOf(app, res.body.id)).length);
    // The log says how the run ended and how long it took; never what it was given.
    const line = app.logs.text
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as Record<string, unknown>)
      .find((l) => l.msg === 'rollout command run' && l.rotation_id === Number(res.body.id));
    assert.ok(line);
    assert.equal(line.outcome, 'delivered');
    assert.equal(line.exit_code, 0);
    assert.equal(typeof line.duration_ms, 'number');
    assert.ok(!app.logs.text.includes(payload.secret));
  });

  it('an Idempotency-Key replay of a delivering start has no secret either, and runs nothing more', async () => {
    rollout.mode('ok');
    const old = await createSecret('Replayed');
    const runs = rollout.runs();
    const first = await start({ secret_id: old.id, deliver: true }, { 'idempotency-key': 'deliver-once' });
    assert.equal(first.status, 201);
    const again = await start({ secret_id: old.id, deliver: true }, { 'idempotency-key': 'deliver-once' });
    assert.equal(again.status, 201);
    assert.equal(again.headers.get('idempotent-replayed'), 'true');
    assert.equal(again.body.secret, undefined);
    assert.equal(again.body.id, first.body.id);
    await app.runtime.rollout.drain();
    assert.equal(rollout.runs(), runs + 1);
    rollout.payload();
    // The same key without deliver is another request.
    assertErrorList(await start({ secret_id: old.id }, { 'idempotency-key': 'deliver-once' }), 409, 'idempotency_key_reused');
  });

  it('a failing command is retried with exponential backoff, each failure audited as rotation.delivery_failed', async () => {
    rollout.mode('fail');
    const old = await createSecret('Flaky');
    const runs = rollout.runs();
    const res = await start({ secret_id: old.id, deliver: true });
    await app.runtime.rollout.drain();
    assert.equal(rollout.runs(), runs + 1);
    // Not due yet: nothing runs.
    await settle();
    assert.equal(rollout.runs(), runs + 1);
    clock.advance(BASE_MS);
    await settle();
    assert.equal(rollout.runs(), runs + 2);
    rollout.mode('ok');
    clock.advance(2 * BASE_MS - 1);
    await settle();
    assert.equal(rollout.runs(), runs + 2, 'the second wait is twice the first');
    assert.equal((await get(res.body.id)).delivered_at, null);
    clock.advance(1);
    await settle();
    assert.equal(rollout.runs(), runs + 3);
    assert.equal((await get(res.body.id)).delivered_at, nowSeconds(clock));
    rollout.payload();
    const events = await auditOf(app, res.body.id);
    assert.deepEqual(
      events.map((e) => e.action),
      ['rotation.started', 'rotation.delivery_failed', 'rotation.delivery_failed', 'rotation.delivered'],
    );
    assert.deepEqual(
      events.slice(1, 3).map((e) => [e.details.attempt, e.details.exit_code, e.details.reason, e.details.next_attempt_in_ms]),
      [
        [1, 3, 'exit_status', BASE_MS],
        [2, 3, 'exit_status', 2 * BASE_MS],
      ],
    );
    assert.equal(events[3]!.details.attempt, 3);
  });

  it('a command past SECURE_MODE_ROLLOUT_TIMEOUT_MS is killed and retried; a signal is a failure too', async () => {
    for (const [mode, reason, signal] of [
      ['hang', 'timeout', 'SIGKILL'],
      ['signal', 'signal', 'SIGTERM'],
    ] as const) {
      rollout.mode(mode);
      const old = await createSecret(`Ends by ${mode}`);
      const res = await start({ secret_id: old.id, deliver: true });
      await app.runtime.rollout.drain();
      const [failed] = (await auditOf(app, res.body.id)).filter((e) => e.action === 'rotation.delivery_failed');
      assert.ok(failed, mode);
      assert.equal(failed.details.reason, reason);
      assert.equal(failed.details.signal, signal);
      assert.equal(failed.details.timed_out, mode === 'hang');
      assert.equal(failed.details.exit_code, null);
      assert.equal((await get(res.body.id)).delivered_at, null);
      await api(app, 'POST', `/secure_mode_rotations/${res.body.id}/cancel`);
    }
  });

  it("never logs the command's output, even when it prints the secret on both its outputs", async () => {
    rollout.mode('noisy');
    const old = await createSecret('Noisy');
    const res = await start({ secret_id: old.id, deliver: true });
    await app.runtime.rollout.drain();
    const payload = rollout.payload();
    assert.ok(payload);
    assert.equal((await get(res.body.id)).delivered_at, nowSeconds(clock));
    assert.ok(!app.logs.text.includes(payload.secret));
    assert.ok(!app.logs.text.includes(payload.secret.slice(0, 20)));
    const audit = JSON.stringify((await api(app, 'GET', '/audit_events?limit=200')).body);
    assert.ok(!audit.includes(payload.secret));
  });

  it('stops retrying when the rotation closes, and gives up after 24 hours with a final failure', async () => {
    rollout.mode('fail');
    const cancelled = await start({ secret_id: (await createSecret('Cancelled')).id, deliver: true });
    await app.runtime.rollout.drain();
    assert.equal((await api(app, 'POST', `/secure_mode_rotations/${cancelled.body.id}/cancel`)).status, 200);
    const runs = rollout.runs();
    clock.advance(10 * BASE_MS);
    await settle();
    assert.equal(rollout.runs(), runs);

    const abandoned = await start({ secret_id: (await createSecret('Abandoned')).id, deliver: true });
    await app.runtime.rollout.drain();
    clock.advance(25 * 3600 * 1000);
    await settle();
    const failures = (await auditOf(app, abandoned.body.id)).filter((e) => e.action === 'rotation.delivery_failed');
    assert.equal(failures.length, 2);
    assert.equal(failures[1]!.details.final, true);
    assert.equal(failures[1]!.details.next_attempt_in_ms, undefined);
    const after = rollout.runs();
    clock.advance(25 * 3600 * 1000);
    await settle();
    assert.equal(rollout.runs(), after);
    assert.equal((await get(abandoned.body.id)).delivered_at, null);
  });
});

describe('rotations: deliver without a rollout command', () => {
  let app: TestApp;
  before(async () => {
    app = await startTestApp({ env: { SECURE_MODE_SWEEP_INTERVAL_MS: '60000' } });
  });
  after(async () => {
    await app.close();
  });

  it('422 parameter_invalid, field deliver, and nothing is created; deliver: false is a plain start', async () => {
    const s = await api(app, 'POST', '/secure_mode_secrets', { body: { name: 'No command', supports_web: true } });
    const refused = await api(app, 'POST', '/secure_mode_rotations', { body: { secret_id: s.body.id, deliver: true } });
    assertErrorList(refused, 422, 'parameter_invalid', { field: 'deliver' });
    assert.match(refused.body.errors[0].message, /SECURE_MODE_ROLLOUT_COMMAND/);
    assert.deepEqual((await api(app, 'GET', '/secure_mode_rotations')).body.data, []);
    assert.equal((await api(app, 'GET', '/secure_mode_secrets')).body.data.length, 1);
    assertErrorList(
      await api(app, 'POST', '/secure_mode_rotations', { body: { secret_id: s.body.id, deliver: 'yes' } }),
      422,
      'parameter_invalid',
      { field: 'deliver' },
    );
    const plain = await api(app, 'POST', '/secure_mode_rotations', { body: { secret_id: s.body.id, deliver: false } });
    assert.equal(plain.status, 201);
    assert.match(plain.body.secret, /^[A-Za-z0-9_-]{43}$/);
    assert.equal(plain.body.deliver, false);
    assert.equal(plain.body.delivered_at, null);
  });
});

describe('rotations: a pending delivery survives a restart', () => {
  const clock = new ManualClock(Date.UTC(2026, 9, 2, 12, 0, 0));
  const dir = mkdtempSync(join(tmpdir(), 'secure-mode-deliver-restart-'));
  const rollout = new TestRolloutCommand();
  const env = { ...ENV, SECURE_MODE_ROLLOUT_COMMAND: rollout.command, SECURE_MODE_ROLLOUT_TIMEOUT_MS: '60000' };
  after(() => {
    rollout.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('a failed run is retried by the next start; a run cut by shutdown runs again at once', async () => {
    rollout.mode('fail');
    let app = await startTestApp({ clock, dir, env });
    const s = await api(app, 'POST', '/secure_mode_secrets', { body: { name: 'Restarted', supports_web: true } });
    const failed = await api(app, 'POST', '/secure_mode_rotations', { body: { secret_id: s.body.id, deliver: true } });
    await app.runtime.rollout.drain();
    assert.equal(rollout.runs(), 1);
    await app.close();

    rollout.mode('ok');
    clock.advance(BASE_MS);
    app = await startTestApp({ clock, dir, env });
    await app.runtime.sweeper.sweep();
    await app.runtime.rollout.drain();
    assert.equal(rollout.runs(), 2);
    assert.equal((await api(app, 'GET', `/secure_mode_rotations/${failed.body.id}`)).body.delivered_at, nowSeconds(clock));
    assert.equal(rollout.payload()?.rotation_id, failed.body.id);

    // Shut down mid-run: the run is stopped and its claim released, so the next start need not wait for it to lapse.
    rollout.mode('hang');
    const s2 = await api(app, 'POST', '/secure_mode_secrets', { body: { name: 'Cut short', supports_web: true } });
    const runs = rollout.runs();
    const cut = await api(app, 'POST', '/secure_mode_rotations', { body: { secret_id: s2.body.id, deliver: true } });
    await eventually(async () => rollout.runs() === runs + 1, 'the run to start');
    await app.close();
    rollout.mode('ok');
    app = await startTestApp({ clock, dir, env });
    try {
      await app.runtime.sweeper.sweep();
      await app.runtime.rollout.drain();
      const r = (await api(app, 'GET', `/secure_mode_rotations/${cut.body.id}`)).body;
      assert.equal(r.delivered_at, nowSeconds(clock));
      assert.equal(rollout.payload()?.rotation_id, cut.body.id);
      const actions = ((await api(app, 'GET', '/audit_events?limit=200')).body.data as AuditRow[])
        .filter((e) => e.target.id === cut.body.id && e.target.type === 'rotation')
        .map((e) => e.action)
        .reverse();
      assert.deepEqual(actions, ['rotation.started', 'rotation.delivered']);
    } finally {
      await app.close();
    }
  });
});
