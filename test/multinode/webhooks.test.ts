import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { api } from '../helpers/app.js';
import { startNodes, type Nodes } from '../helpers/nodes.js';
import { createTestDatabase, skipWithoutPostgres, type TestDatabase } from '../helpers/postgres.js';
import { recordSensitive } from '../helpers/leaks.js';
import { WebhookReceiver, verifyOurselves } from '../helpers/webhook-receiver.js';

const EVENTS = 40;
const FAILURES = 2;

/**
 * Two server processes on one PostgreSQL database, both delivering: every event arrives, and each attempt of it is
 * made by one node only (the claim's FOR UPDATE SKIP LOCKED and lease), so a receiver that fails the first attempts
 * sees each webhook-id exactly FAILURES + 1 times.
 */
describe('webhooks across two PostgreSQL nodes: each attempt once', { skip: await skipWithoutPostgres() }, () => {
  let db: TestDatabase;
  let nodes: Nodes;
  const receiver = new WebhookReceiver();
  let url: string;

  before(async () => {
    url = await receiver.start();
    db = await createTestDatabase();
    nodes = await startNodes({
      databaseUrl: db.url,
      count: 2,
      env: {
        SECURE_MODE_WEBHOOK_ALLOW_PRIVATE: 'true',
        SECURE_MODE_WEBHOOK_RETRY_BASE_MS: '50',
        SECURE_MODE_MAX_LIVE_SECRETS: '100',
      },
    });
  });

  after(async () => {
    await nodes?.stop();
    await receiver.stop();
    await db?.drop();
  });

  it('says on start-up that private addresses are allowed', () => {
    for (const server of nodes.servers) assert.match(server.output(), /SECURE_MODE_WEBHOOK_ALLOW_PRIVATE is on/);
  });

  it('delivers every event, each attempt by one node only', async () => {
    receiver.answer = (r) => (r.attempt <= FAILURES ? 500 : 204);
    const created = await api({ url: nodes.urls[0]!, token: nodes.token }, 'POST', '/webhook_endpoints', {
      body: { url, events: ['secret.created'] },
    });
    assert.equal(created.status, 201);
    const secret = created.body.secret as string;
    recordSensitive('secret', secret);
    // One create after another, alternating nodes: creates of one workspace are serialised anyway.
    for (let i = 0; i < EVENTS; i++) {
      const res = await api({ url: nodes.urls[i % 2]!, token: nodes.token }, 'POST', '/secure_mode_secrets', {
        body: { name: `n${i}`, supports_web: true },
      });
      assert.equal(res.status, 201, res.text);
    }
    await receiver.until(() => receiver.received.filter((r) => r.attempt === FAILURES + 1).length >= EVENTS, 60_000);
    // Time for any duplicate attempt to show up.
    await new Promise((r) => setTimeout(r, 1000));
    const byId = new Map<string, number>();
    for (const r of receiver.received) byId.set(r.id, (byId.get(r.id) ?? 0) + 1);
    assert.equal(byId.size, EVENTS);
    for (const [id, count] of byId) assert.equal(count, FAILURES + 1, `${id} arrived ${count} times`);
    assert.ok(receiver.received.every((r) => verifyOurselves(secret, r)));
  });
});
