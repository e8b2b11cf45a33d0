import assert from 'node:assert/strict';
import { type ChildProcessWithoutNullStreams, execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface, type Interface } from 'node:readline';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { ManualClock, nowSeconds } from '../../../../src/domain/clock.js';
import { api, startTestApp, type TestApp } from '../../../helpers/app.js';
import { recordSensitive } from '../../../helpers/leaks.js';
import { WebhookReceiver, verifyOurselves } from '../../../helpers/webhook-receiver.js';

const ROLLOUT_FILE = fileURLToPath(new URL('../../../../scripts/rollout-file.mjs', import.meta.url));
const CLIENT = fileURLToPath(new URL('../../../helpers/signing-client.mjs', import.meta.url));
const DAY_MS = 86_400_000;
const IDLE_FOR = 600;

/**
 * Zero-touch rotation, end to end, on an injected clock: a secret ages past the workspace's policy, the server
 * starts a rotation by itself, the rollout command (the file recipe of docs/rotation.md) writes the successor where a
 * separate client process picks it up and signs with it, the server sees the traffic move and retires the old secret;
 * a webhook receiver hears every step, signed, once.
 */
describe('the rotation loop: policy → rotation → rollout → client → cut-over → retirement', () => {
  const clock = new ManualClock(Date.UTC(2026, 11, 1, 9, 0, 0));
  const dir = mkdtempSync(join(tmpdir(), 'secure-mode-loop-'));
  const secretFile = join(dir, 'intercom-secret');
  let app: TestApp;
  let client: ChildProcessWithoutNullStreams;
  let lines: AsyncIterator<string>;
  let readline: Interface;
  const receiver = new WebhookReceiver();
  let receiverUrl: string;

  before(async () => {
    receiverUrl = await receiver.start();
    app = await startTestApp({
      clock,
      env: {
        SECURE_MODE_WEBHOOK_ALLOW_PRIVATE: 'true',
        SECURE_MODE_SWEEP_INTERVAL_MS: '60000',
        SECURE_MODE_USAGE_FLUSH_MS: '60000',
        SECURE_MODE_ROLLOUT_COMMAND: `node '${ROLLOUT_FILE}' '${secretFile}'`,
      },
    });
  });
  after(async () => {
    client?.stdin.end();
    readline?.close();
    if (client && client.exitCode === null) await new Promise((resolve) => client.once('exit', resolve));
    await app.close();
    await receiver.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  /** The client signs one user_hash with whatever its file holds now; the server's answer. */
  const clientVerifies = async (userId: string): Promise<number> => {
    client.stdin.write(`${userId}\n`);
    const next = await lines.next();
    assert.equal(next.done, false, 'the client answered');
    return Number(next.value);
  };
  const sweep = () => app.runtime.sweeper.sweep();
  const rotationOf = async (secretId: string) =>
    ((await api(app, 'GET', '/secure_mode_rotations')).body.data as Record<string, any>[]).filter(
      (r) => r.from_secret_id === secretId,
    );

  it('runs by itself once the policy is set, and the audit log and the webhooks tell the story once', async () => {
    const endpoint = await api(app, 'POST', '/webhook_endpoints', { body: { url: receiverUrl, events: ['*'] } });
    assert.equal(endpoint.status, 201, endpoint.text);
    const old = await api(app, 'POST', '/secure_mode_secrets', { body: { name: 'Production web', supports_web: true } });
    assert.equal(old.status, 201);
    // The client is deployed with the first secret, written by the same recipe the server will use.
    execFileSync(process.execPath, [ROLLOUT_FILE, secretFile], { input: JSON.stringify({ secret: old.body.secret }) });
    client = spawn(process.execPath, [CLIENT, app.url, app.workspace.appId, secretFile]);
    readline = createInterface({ input: client.stdout });
    lines = readline[Symbol.asyncIterator]();
    assert.equal(await clientVerifies('user-1'), 200);

    const policy = await api(app, 'PUT', '/secure_mode_rotation_policy', {
      body: { max_age_days: 90, idle_for: IDLE_FOR, auto_rotate: true },
    });
    assert.equal(policy.status, 200);
    clock.advance(90 * DAY_MS - 60_000);
    await sweep();
    assert.deepEqual(await rotationOf(old.body.id), [], 'not due yet');
    assert.equal(await clientVerifies('user-2'), 200);

    // Ages past the policy: the next sweep raises it and starts a delivering rotation by itself.
    clock.advance(60_000);
    assert.equal(await clientVerifies('user-3'), 200);
    const lastOld = nowSeconds(clock);
    await sweep();
    await app.runtime.rollout.drain();
    const [started] = await rotationOf(old.body.id);
    assert.ok(started);
    assert.equal(started.deliver, true);
    assert.equal(started.idle_for, IDLE_FOR);
    assert.equal(started.delivered_at, nowSeconds(clock));
    assert.equal(started.state, 'rolling_out');
    const successor = readFileSync(secretFile, 'utf8');
    recordSensitive('secret', successor);
    assert.notEqual(successor, old.body.secret);

    // The client picks the new file up by itself; the server sees the traffic move and cuts over.
    clock.advance(5_000);
    assert.equal(await clientVerifies('user-4'), 200);
    await sweep();
    const cut = (await api(app, 'GET', `/secure_mode_rotations/${started.id}`)).body;
    assert.equal(cut.state, 'cutting_over');
    assert.equal(cut.platforms.web.old_last_verified_at, lastOld);
    assert.equal(cut.platforms.web.new_last_verified_at, nowSeconds(clock));

    // The old secret has been silent for idle_for: the server retires it.
    clock.advance((IDLE_FOR - 5) * 1000 - 1000);
    await sweep();
    assert.equal((await api(app, 'GET', `/secure_mode_rotations/${started.id}`)).body.state, 'cutting_over');
    clock.advance(1000);
    await sweep();
    const done = (await api(app, 'GET', `/secure_mode_rotations/${started.id}`)).body;
    assert.equal(done.state, 'completed');
    assert.equal(done.completed_at, lastOld + IDLE_FOR);
    assert.equal((await api(app, 'GET', `/secure_mode_secrets/${old.body.id}`)).status, 404);
    assert.equal(await clientVerifies('user-5'), 200);

    // Nothing more happens: the successor is young, and further sweeps change nothing.
    clock.advance(DAY_MS);
    await sweep();
    await app.runtime.rollout.drain();
    assert.equal((await api(app, 'GET', '/secure_mode_rotations')).body.data.length, 1);

    const events = ((await api(app, 'GET', '/audit_events?limit=200')).body.data as Record<string, any>[]).reverse();
    const once = (action: string, target: { type: string; id: string }) => {
      const matching = events.filter((e) => e.action === action && e.target.type === target.type && e.target.id === target.id);
      assert.equal(matching.length, 1, `${action} on ${target.type} ${target.id}`);
      return events.indexOf(matching[0]!);
    };
    const oldSecret = { type: 'secret', id: old.body.id as string };
    const rotation = { type: 'rotation', id: started.id as string };
    const order = [
      once('secret.due_for_rotation', oldSecret),
      once('rotation.started', rotation),
      once('rotation.delivered', rotation),
      once('rotation.cut_over', rotation),
      // One transaction: the rotation closes, then its old secret is deleted.
      once('rotation.completed', rotation),
      once('secret.deleted', oldSecret),
    ];
    assert.deepEqual(
      order,
      [...order].sort((a, b) => a - b),
      'in the order they happened',
    );
    assert.equal(events.filter((e) => e.action === 'rotation.delivery_failed').length, 0);
    // The same story as signed webhooks, each type once: one webhook-id each, no retry, every signature good.
    const story = ['secret.due_for_rotation', 'rotation.started', 'rotation.cut_over', 'secret.deleted', 'rotation.completed'];
    const typeOf = (r: { body: string }) => (JSON.parse(r.body) as { type: string }).type;
    await receiver.until(() => story.every((type) => receiver.received.some((r) => typeOf(r) === type)));
    for (const type of story) {
      const got = receiver.received.filter((r) => typeOf(r) === type);
      assert.equal(got.length, 1, `${type} arrived once`);
      assert.equal(got[0]!.attempt, 1);
      assert.ok(verifyOurselves(endpoint.body.secret, got[0]!), `${type} is signed with the endpoint's secret`);
    }
    const deleted = JSON.parse(receiver.received.find((r) => typeOf(r) === 'secret.deleted')!.body);
    assert.equal(deleted.data.secret_id, old.body.id);
  });
});
