import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ManualClock } from '../../../../src/domain/clock.js';
import { api, startTestApp, type TestApp } from '../../../helpers/app.js';
import { WebhookReceiver, verifyOurselves, verifyWithLibrary, type ReceivedWebhook } from '../../../helpers/webhook-receiver.js';

/** Local receivers need http to loopback: the development switch, whose start-up line says it is on. */
const ENV = { SECURE_MODE_WEBHOOK_ALLOW_PRIVATE: 'true', SECURE_MODE_WEBHOOK_RETRY_BASE_MS: '20' };

const bodyOf = (got: ReceivedWebhook) =>
  JSON.parse(got.body) as { type: string; timestamp: string; data: Record<string, unknown> };

/** Waits until the endpoint's deliveries list shows `count` succeeded attempts. */
async function delivered(app: TestApp, endpointId: string, count: number): Promise<void> {
  for (let i = 0; i < 200; i++) {
    const listed = (await api(app, 'GET', `/webhook_endpoints/${endpointId}/deliveries`)).body.data as { state: string }[];
    if (listed.filter((d) => d.state === 'succeeded').length >= count) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`endpoint ${endpointId}: ${count} deliveries did not succeed in time`);
}

function assertVerified(secret: string, got: ReceivedWebhook): void {
  assert.ok(verifyOurselves(secret, got), 'our own verification');
  assert.deepEqual(verifyWithLibrary(secret, got), JSON.parse(got.body), 'standardwebhooks Webhook.verify');
}

describe('webhooks: delivery as Standard Webhooks to a local receiver', () => {
  let app: TestApp;
  const receiver = new WebhookReceiver();
  let url: string;
  before(async () => {
    url = await receiver.start();
    app = await startTestApp({ env: ENV });
  });
  after(async () => {
    await app.close();
    await receiver.stop();
  });

  const subscribe = async (events: string[], to = url) => {
    const res = await api(app, 'POST', '/webhook_endpoints', { body: { url: to, events } });
    assert.equal(res.status, 201, res.text);
    return res.body as { id: string; secret: string };
  };

  it('signs each event so that the standardwebhooks library and our own check both verify it; data carries no material', async () => {
    const endpoint = await subscribe(['*']);
    const created = await api(app, 'POST', '/secure_mode_secrets', {
      body: { name: 'Signed', supports_web: true, supports_ios: true },
    });
    assert.equal(created.status, 201);
    await receiver.until(() => receiver.received.some((r) => bodyOf(r).data.secret_id === created.body.id));
    const got = receiver.received.find((r) => bodyOf(r).data.secret_id === created.body.id)!;
    assertVerified(endpoint.secret, got);
    assert.match(got.id, /^evt_[1-9][0-9]*$/);
    assert.match(got.timestamp, /^[0-9]{10}$/);
    assert.ok(Math.abs(Number(got.timestamp) - Date.now() / 1000) < 300);
    assert.match(got.signature, /^v1,[A-Za-z0-9+/]{43}=$/);
    assert.equal(got.headers['content-type'], 'application/json');
    const body = bodyOf(got);
    assert.deepEqual(Object.keys(body).sort(), ['data', 'timestamp', 'type']);
    assert.equal(body.type, 'secret.created');
    assert.match(body.timestamp, /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{3})?Z$/);
    assert.equal(body.data.name, 'Signed');
    assert.deepEqual(body.data.platforms, ['web', 'ios']);
    assert.ok(!got.body.includes(created.body.secret), 'the secret never travels in an event');
    // A tampered body or another secret fails both checks.
    const tampered = { ...got, body: got.body.replace('Signed', 'Signee') };
    assert.equal(verifyOurselves(endpoint.secret, tampered), false);
    assert.throws(() => verifyWithLibrary(endpoint.secret, tampered));
    const other = await subscribe(['rotation.completed']);
    assert.throws(() => verifyWithLibrary(other.secret, got));
    // The deliveries list: the event's id and type, status and duration, never a body.
    const deliveries = await api(app, 'GET', `/webhook_endpoints/${endpoint.id}/deliveries`);
    assert.equal(deliveries.status, 200);
    const attempt = deliveries.body.data.find((d: { event_id: string }) => d.event_id === got.id);
    assert.deepEqual(Object.keys(attempt).sort(), [
      'attempted_at',
      'duration_ms',
      'error',
      'event_id',
      'event_type',
      'id',
      'state',
      'status',
      'type',
    ]);
    assert.equal(attempt.event_type, 'secret.created');
    assert.equal(attempt.status, 204);
    assert.equal(attempt.state, 'succeeded');
    assert.equal(attempt.error, null);
    assert.ok(!deliveries.text.includes('Signed'), 'no body in the list');
    for (const e of [endpoint, other]) assert.equal((await api(app, 'DELETE', `/webhook_endpoints/${e.id}`)).status, 204);
  });

  it('retries a failing receiver with one webhook-id until it answers 2xx, and lists every attempt', async () => {
    const endpoint = await subscribe(['secret.updated']);
    receiver.answer = (r) => (r.attempt <= 3 ? 500 : 200);
    try {
      const created = await api(app, 'POST', '/secure_mode_secrets', { body: { name: 'Flaky', supports_web: true } });
      const updated = await api(app, 'PUT', `/secure_mode_secrets/${created.body.id}`, { body: { name: 'Flaky 2' } });
      assert.equal(updated.status, 200);
      const mine = () =>
        receiver.received.filter((r) => bodyOf(r).type === 'secret.updated' && bodyOf(r).data.secret_id === created.body.id);
      await receiver.until(() => mine().length >= 4);
      const got = mine();
      assert.equal(new Set(got.map((r) => r.id)).size, 1, 'one webhook-id on every retry');
      assert.deepEqual(
        got.map((r) => r.attempt),
        [1, 2, 3, 4],
      );
      for (const r of got) assertVerified(endpoint.secret, r);
      assert.equal(bodyOf(got[3]!).data.name, 'Flaky 2');
      // Recorded after the answer: wait until the 2xx is listed.
      let listed: { event_id: string; status: number; state: string }[] = [];
      for (let i = 0; i < 100; i++) {
        listed = (await api(app, 'GET', `/webhook_endpoints/${endpoint.id}/deliveries`)).body.data;
        if (listed.length >= 4) break;
        await new Promise((r) => setTimeout(r, 50));
      }
      assert.deepEqual(
        listed.map((d) => [d.event_id, d.status, d.state]),
        [
          [got[0]!.id, 200, 'succeeded'],
          [got[0]!.id, 500, 'pending'],
          [got[0]!.id, 500, 'pending'],
          [got[0]!.id, 500, 'pending'],
        ],
      );
      await new Promise((r) => setTimeout(r, 200));
      assert.equal(mine().length, 4, 'nothing after the 2xx');
    } finally {
      receiver.answer = () => 204;
      await api(app, 'DELETE', `/webhook_endpoints/${endpoint.id}`);
    }
  });

  it('a refused change raises no event; only subscribed types are sent', async () => {
    const endpoint = await subscribe(['secret.deleted']);
    const before = receiver.received.length;
    const created = await api(app, 'POST', '/secure_mode_secrets', { body: { name: 'Quiet', supports_web: true } });
    const refused = await api(app, 'PUT', `/secure_mode_secrets/${created.body.id}`, { body: { supports_web: false } });
    assert.equal(refused.status, 422);
    assert.equal((await api(app, 'DELETE', `/secure_mode_secrets/${created.body.id}`)).status, 204);
    await receiver.until(() => receiver.received.slice(before).some((r) => bodyOf(r).type === 'secret.deleted'));
    await new Promise((r) => setTimeout(r, 200));
    const got = receiver.received.slice(before);
    assert.deepEqual(
      got.map((r) => [bodyOf(r).type, bodyOf(r).data.secret_id, bodyOf(r).data.reason]),
      [['secret.deleted', created.body.id, 'deleted']],
    );
    assertVerified(endpoint.secret, got[0]!);
    await api(app, 'DELETE', `/webhook_endpoints/${endpoint.id}`);
  });
});

describe('webhooks: pending deliveries survive a restart', () => {
  it('an event raised while the receiver is down arrives after the server restarts, with the same webhook-id', async () => {
    const receiver = new WebhookReceiver();
    const url = await receiver.start();
    const port = receiver.port;
    let app = await startTestApp({ env: ENV });
    const dir = app.dir;
    try {
      receiver.answer = () => 503;
      const endpoint = (await api(app, 'POST', '/webhook_endpoints', { body: { url, events: ['secret.created'] } })).body;
      const created = await api(app, 'POST', '/secure_mode_secrets', { body: { name: 'Restart', supports_web: true } });
      await receiver.until(() => receiver.received.length >= 1);
      await receiver.stop();
      await app.runtime.close();
      const seenBefore = receiver.received.map((r) => r.id);
      const restarted = new WebhookReceiver();
      await restarted.start(port);
      try {
        app = await startTestApp({ env: ENV, dir });
        await restarted.until(() => restarted.received.length >= 1);
        const got = restarted.received[0]!;
        assert.equal(got.id, seenBefore[0]);
        assert.equal(bodyOf(got).data.secret_id, created.body.id);
        assertVerified(endpoint.secret, got);
      } finally {
        await restarted.stop();
      }
    } finally {
      await app.close();
      await receiver.stop();
    }
  });
});

describe('webhooks: secret.expiring, once', () => {
  it('is raised once when expires_at comes within SECURE_MODE_EXPIRY_WARNING, then the expiry arrives as secret.deleted', async () => {
    const clock = new ManualClock(Date.UTC(2026, 10, 1));
    const receiver = new WebhookReceiver();
    const url = await receiver.start();
    const app = await startTestApp({
      clock,
      env: { ...ENV, SECURE_MODE_EXPIRY_WARNING: '3600', SECURE_MODE_SWEEP_INTERVAL_MS: '60000' },
    });
    try {
      const endpoint = (
        await api(app, 'POST', '/webhook_endpoints', { body: { url, events: ['secret.expiring', 'secret.deleted'] } })
      ).body;
      const created = await api(app, 'POST', '/secure_mode_secrets', { body: { name: 'Ephemeral', supports_android: true } });
      const now = Math.floor(clock.nowMs() / 1000);
      const expiresAt = now + 7200;
      assert.equal(
        (await api(app, 'PUT', `/secure_mode_secrets/${created.body.id}`, { body: { expires_at: expiresAt } })).status,
        200,
      );
      assert.equal((await app.runtime.sweeper.sweep()).secretsWarned, 0);
      clock.advance(3600 * 1000);
      assert.equal((await app.runtime.sweeper.sweep()).secretsWarned, 1);
      assert.equal((await app.runtime.sweeper.sweep()).secretsWarned, 0);
      // The clock jumps past the claim's lease below: first let the attempt be recorded, or it would be retried.
      await delivered(app, endpoint.id, 1);
      clock.advance(1800 * 1000);
      assert.equal((await app.runtime.sweeper.sweep()).secretsWarned, 0);
      clock.advance(1800 * 1000);
      assert.equal((await app.runtime.sweeper.sweep()).secretsExpired, 1);
      await receiver.until(() => receiver.received.length >= 2);
      const [warning, deleted] = receiver.received;
      assert.deepEqual(bodyOf(warning!), {
        type: 'secret.expiring',
        timestamp: new Date((now + 3600) * 1000).toISOString(),
        data: { secret_id: created.body.id, name: 'Ephemeral', expires_at: expiresAt, platforms: ['android'] },
      });
      assert.equal(bodyOf(deleted!).type, 'secret.deleted');
      assert.equal(bodyOf(deleted!).data.reason, 'expired');
      assert.notEqual(warning!.id, deleted!.id);
      for (const r of receiver.received) assert.ok(verifyOurselves(endpoint.secret, r));
      const audit = await api(app, 'GET', '/audit_events?action=secret.expiring');
      assert.equal(audit.body.data.length, 1);
    } finally {
      await app.close();
      await receiver.stop();
    }
  });
});
