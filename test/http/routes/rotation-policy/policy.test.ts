import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ManualClock, nowSeconds } from '../../../../src/domain/clock.js';
import { api, startTestApp, type TestApp } from '../../../helpers/app.js';
import { assertErrorList } from '../../../helpers/assertions.js';
import { TestRolloutCommand } from '../../../helpers/rollout.js';

const DAY_MS = 86_400_000;
const ENV = { SECURE_MODE_SWEEP_INTERVAL_MS: '60000', SECURE_MODE_USAGE_FLUSH_MS: '60000', SECURE_MODE_MAX_LIVE_SECRETS: '100' };

interface AuditRow {
  action: string;
  target: { type: string; id: string };
  details: Record<string, unknown>;
}
const audit = async (app: TestApp, action: string): Promise<AuditRow[]> =>
  (await api(app, 'GET', `/audit_events?action=${action}&limit=200`)).body.data as AuditRow[];
const gauge = async (app: TestApp): Promise<number> => {
  const text = await (await fetch(`${app.url}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith('secure_mode_secrets_due_for_rotation '));
  assert.ok(line, 'the gauge is exported');
  return Number(line.split(' ')[1]);
};

describe('GET and PUT /secure_mode_rotation_policy', () => {
  const clock = new ManualClock(Date.UTC(2026, 10, 1, 12, 0, 0));
  let app: TestApp;
  before(async () => {
    app = await startTestApp({ clock, env: ENV });
  });
  after(async () => {
    await app.close();
  });
  const put = (body: unknown, token?: string) =>
    api(app, 'PUT', '/secure_mode_rotation_policy', { body, ...(token ? { token } : {}) });

  it('answers the defaults until set; PUT keeps the fields it leaves out; each change is audited', async () => {
    const initial = await api(app, 'GET', '/secure_mode_rotation_policy');
    assert.equal(initial.status, 200);
    assert.deepEqual(initial.body, {
      type: 'secure_mode_rotation_policy',
      max_age_days: null,
      idle_for: 3600,
      auto_rotate: false,
      updated_at: null,
    });
    const set = await put({ max_age_days: 90, idle_for: 600 });
    assert.equal(set.status, 200);
    assert.deepEqual(set.body, {
      type: 'secure_mode_rotation_policy',
      max_age_days: 90,
      idle_for: 600,
      auto_rotate: false,
      updated_at: nowSeconds(clock),
    });
    assert.equal((await put({ idle_for: 900 })).body.max_age_days, 90);
    assert.deepEqual((await api(app, 'GET', '/secure_mode_rotation_policy')).body, {
      ...set.body,
      idle_for: 900,
    });
    assert.equal((await put({ max_age_days: null })).body.max_age_days, null);
    assert.equal((await put({})).status, 200);
    const events = await audit(app, 'rotation_policy.updated');
    assert.equal(events.length, 4);
    assert.deepEqual(events[3]!.details, { max_age_days: 90, idle_for: 600, auto_rotate: false });
    assert.deepEqual(events[3]!.target, { type: 'workspace', id: String(app.workspace.id) });
  });

  it('refuses out-of-range values with 422 and the field; auto_rotate needs a rollout command', async () => {
    for (const [field, value] of [
      ['max_age_days', 0],
      ['max_age_days', 3651],
      ['max_age_days', 1.5],
      ['max_age_days', '90'],
      ['idle_for', 59],
      ['idle_for', 2_592_001],
      ['idle_for', null],
      ['auto_rotate', 'yes'],
    ] as const) {
      assertErrorList(await put({ [field]: value }), 422, 'parameter_invalid', { field });
    }
    const refused = await put({ auto_rotate: true });
    assertErrorList(refused, 422, 'parameter_invalid', { field: 'auto_rotate' });
    assert.match(refused.body.errors[0].message, /SECURE_MODE_ROLLOUT_COMMAND/);
    assert.equal((await api(app, 'GET', '/secure_mode_rotation_policy')).body.auto_rotate, false);
    assertErrorList(await api(app, 'PUT', '/secure_mode_rotation_policy', { body: [] }), 422, 'parameter_invalid');
  });

  it('reading needs a read scope, changing it write_secure_mode_secret; each workspace has its own', async () => {
    const reader = await app.tokenWith(['read_secure_mode_secret']);
    const writer = await app.tokenWith(['write_secure_mode_secret']);
    assert.equal((await api(app, 'GET', '/secure_mode_rotation_policy', { token: reader })).status, 200);
    assertErrorList(await put({ idle_for: 120 }, reader), 403, 'forbidden');
    assert.equal((await put({ idle_for: 120 }, writer)).status, 200);
    assertErrorList(await api(app, 'GET', '/secure_mode_rotation_policy', { token: null }), 401, 'unauthorized');
    const other = await app.otherWorkspace();
    const theirs = await api({ url: app.url, token: other.token }, 'GET', '/secure_mode_rotation_policy');
    assert.equal(theirs.body.idle_for, 3600);
    assert.equal(theirs.body.updated_at, null);
  });

  it('its idle_for is the default idle_for of POST /secure_mode_rotations; a given idle_for wins', async () => {
    await put({ idle_for: 1800 });
    const a = await api(app, 'POST', '/secure_mode_secrets', { body: { name: 'Default idle', supports_web: true } });
    const b = await api(app, 'POST', '/secure_mode_secrets', { body: { name: 'Given idle', supports_web: true } });
    assert.equal((await api(app, 'POST', '/secure_mode_rotations', { body: { secret_id: a.body.id } })).body.idle_for, 1800);
    assert.equal(
      (await api(app, 'POST', '/secure_mode_rotations', { body: { secret_id: b.body.id, idle_for: 60 } })).body.idle_for,
      60,
    );
  });

  it('a live secret older than max_age_days raises secret.due_for_rotation once and is counted in /metrics', async () => {
    await put({ max_age_days: 30, idle_for: 3600 });
    const before = await gauge(app);
    const s = await api(app, 'POST', '/secure_mode_secrets', {
      body: { name: 'Ageing', supports_web: true, supports_ios: true },
    });
    const mine = async () => (await audit(app, 'secret.due_for_rotation')).filter((e) => e.target.id === s.body.id);
    clock.advance(30 * DAY_MS - 1000);
    await app.runtime.sweeper.sweep();
    assert.deepEqual(await mine(), []);
    assert.equal(await gauge(app), before);
    clock.advance(1000);
    const count = await gauge(app);
    assert.ok(count >= before + 1);
    await app.runtime.sweeper.sweep();
    await app.runtime.sweeper.sweep();
    const raised = await mine();
    assert.equal(raised.length, 1);
    assert.deepEqual(raised[0]!.details, {
      name: 'Ageing',
      platforms: 'web,ios',
      created_at: s.body.created_at,
      max_age_days: 30,
    });
    // Without auto_rotate nothing starts.
    const rotations = (await api(app, 'GET', '/secure_mode_rotations')).body.data as { from_secret_id: string }[];
    assert.equal(rotations.filter((r) => r.from_secret_id === s.body.id).length, 0);
    assert.equal((await api(app, 'DELETE', `/secure_mode_secrets/${s.body.id}`)).status, 204);
    assert.equal(await gauge(app), count - 1);
    await put({ max_age_days: null });
    assert.equal(await gauge(app), 0);
  });
});

describe('rotation policy with auto_rotate', () => {
  const clock = new ManualClock(Date.UTC(2026, 10, 5, 12, 0, 0));
  const rollout = new TestRolloutCommand();
  let app: TestApp;
  before(async () => {
    app = await startTestApp({ clock, env: { ...ENV, SECURE_MODE_ROLLOUT_COMMAND: rollout.command } });
  });
  after(async () => {
    await app.close();
    rollout.close();
  });

  it('starts one delivering rotation per due secret, with the policy idle_for, and never a second', async () => {
    const set = await api(app, 'PUT', '/secure_mode_rotation_policy', {
      body: { max_age_days: 7, auto_rotate: true, idle_for: 120 },
    });
    assert.equal(set.status, 200);
    assert.equal(set.body.auto_rotate, true);
    const s = await api(app, 'POST', '/secure_mode_secrets', { body: { name: 'Weekly', supports_web: true } });
    clock.advance(7 * DAY_MS);
    const result = await app.runtime.sweeper.sweep();
    assert.deepEqual(result.policy, { raised: 1, started: 1 });
    await app.runtime.rollout.drain();
    const rotations = ((await api(app, 'GET', '/secure_mode_rotations')).body.data as Record<string, unknown>[]).filter(
      (r) => r.from_secret_id === s.body.id,
    );
    assert.equal(rotations.length, 1);
    const r = rotations[0]!;
    assert.equal(r.deliver, true);
    assert.equal(r.idle_for, 120);
    assert.equal(r.delivered_at, nowSeconds(clock));
    assert.equal(rollout.payload()?.rotation_id, r.id);
    const started = ((await api(app, 'GET', '/audit_events?action=rotation.started&limit=200')).body.data as AuditRow[]).filter(
      (e) => e.target.id === r.id,
    );
    assert.equal(started.length, 1);
    assert.equal(started[0]!.details.by_policy, true);
    // Cancelled by a person: the policy does not start it again.
    assert.equal((await api(app, 'POST', `/secure_mode_rotations/${r.id as string}/cancel?keep_new=true`)).status, 200);
    clock.advance(DAY_MS);
    assert.deepEqual((await app.runtime.sweeper.sweep()).policy, { raised: 0, started: 0 });
    assert.equal(
      ((await api(app, 'GET', '/secure_mode_rotations')).body.data as Record<string, unknown>[]).filter(
        (x) => x.from_secret_id === s.body.id,
      ).length,
      1,
    );
    assert.equal(rollout.runs(), 1);
  });
});
