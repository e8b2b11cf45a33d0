import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { api } from '../helpers/app.js';
import { startNodes, type Nodes } from '../helpers/nodes.js';
import { spawnServer, type ServerProcess } from '../helpers/process.js';
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

/**
 * SECURE_MODE_WORKERS=2 on one SQLite file: every worker delivers, and the claim (in the file's write transaction)
 * still hands each attempt to one worker only.
 */
describe('webhooks in a node:cluster of 2 workers on SQLite: each attempt once', () => {
  const dir = mkdtempSync(join(tmpdir(), 'secure-mode-webhooks-cluster-'));
  const token = `tok_${randomBytes(16).toString('hex')}`;
  const receiver = new WebhookReceiver();
  let server: ServerProcess;
  let url: string;

  before(async () => {
    url = await receiver.start();
    server = await spawnServer(
      {
        SECURE_MODE_WORKERS: '2',
        SECURE_MODE_BOOTSTRAP_TOKEN: token,
        SECURE_MODE_DATABASE_URL: `sqlite:${join(dir, 'db.sqlite')}`,
        SECURE_MODE_WEBHOOK_ALLOW_PRIVATE: 'true',
        SECURE_MODE_WEBHOOK_RETRY_BASE_MS: '50',
        SECURE_MODE_MAX_LIVE_SECRETS: '100',
      },
      60_000,
    );
  });

  after(async () => {
    await server?.stop();
    await receiver.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('delivers every event, each attempt by one worker only', async () => {
    assert.match(server.output(), /2 workers; SECURE_MODE_WEBHOOK_ALLOW_PRIVATE is on/);
    receiver.answer = (r) => (r.attempt <= FAILURES ? 500 : 204);
    const target = { url: server.url, token };
    const created = await api(target, 'POST', '/webhook_endpoints', { body: { url, events: ['secret.created'] } });
    assert.equal(created.status, 201);
    recordSensitive('secret', created.body.secret);
    // Fresh connections each time, so the primary spreads the creates over both workers.
    for (let i = 0; i < EVENTS; i++) {
      const res = await api(target, 'POST', '/secure_mode_secrets', {
        body: { name: `c${i}`, supports_web: true },
        headers: { connection: 'close' },
      });
      assert.equal(res.status, 201, res.text);
    }
    await receiver.until(() => receiver.received.filter((r) => r.attempt === FAILURES + 1).length >= EVENTS, 60_000);
    await new Promise((r) => setTimeout(r, 1000));
    const byId = new Map<string, number>();
    for (const r of receiver.received) byId.set(r.id, (byId.get(r.id) ?? 0) + 1);
    assert.equal(byId.size, EVENTS);
    for (const [id, count] of byId) assert.equal(count, FAILURES + 1, `${id} arrived ${count} times`);
  });
});
