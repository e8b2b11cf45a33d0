import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { api } from '../helpers/app.js';
import { createSecret, deleteSecret, eventually, startNodes, verifyStatus, withDatabase, type Nodes } from '../helpers/nodes.js';
import { createTestDatabase, skipWithoutPostgres, type TestDatabase } from '../helpers/postgres.js';
import { spawnServer, type ServerProcess } from '../helpers/process.js';

/**
 * Far longer than any test waits: a node's verifications reach the database only through the ask round, never
 * through a flush that happened to run in time.
 */
const FLUSH_MS = '60000';
const ROUNDS = 5;

async function guardedDelete(url: string, token: string, id: string, idleFor: number) {
  // A fresh connection each time, so a cluster deals the deletes out to its workers in turn.
  return api({ url, token }, 'DELETE', `/secure_mode_secrets/${id}?if_idle_for=${idleFor}`, { headers: { connection: 'close' } });
}

async function isLive(url: string, token: string, id: string): Promise<boolean> {
  return (await api({ url, token }, 'GET', `/secure_mode_secrets/${id}`)).status === 200;
}

describe('guarded delete on three PostgreSQL nodes', { skip: await skipWithoutPostgres() }, () => {
  let db: TestDatabase;
  let nodes: Nodes;
  let a: string, b: string, c: string;

  before(async () => {
    db = await createTestDatabase();
    nodes = await startNodes({
      databaseUrl: db.url,
      count: 3,
      env: { SECURE_MODE_USAGE_FLUSH_MS: FLUSH_MS, SECURE_MODE_IDLE_CHECK_TIMEOUT_MS: '1000' },
    });
    [a, b, c] = nodes.urls as [string, string, string];
  });

  after(async () => {
    for (const server of nodes?.servers ?? []) server.proc.kill('SIGCONT');
    await nodes?.stop();
    await db?.drop();
  });

  it(`answers 409 right after another node verified, ${ROUNDS} of ${ROUNDS} times, and deletes nothing`, async () => {
    const { id, secret } = await createSecret(a, nodes.token);
    for (let round = 0; round < ROUNDS; round++) {
      const verifier = round % 2 === 0 ? b : c;
      await eventually(async () => (await verifyStatus(verifier, nodes.appId, secret)) === 200, 'the other node verifying');
      const res = await guardedDelete(a, nodes.token, id, 600);
      assert.equal(res.status, 409, `round ${round}: ${res.text}`);
      assert.equal(res.body.errors[0].code, 'identity_verification_secret_in_use');
      assert.ok(await isLive(a, nodes.token, id));
    }
    const stored = await withDatabase(db.url, async (client) => {
      return (await client.query('SELECT last_verified_at FROM secrets WHERE id = $1', [Number(id)])).rows[0].last_verified_at;
    });
    assert.equal(stored, null, 'nothing was flushed: the answers came from the other nodes themselves');
  });

  it('deletes (204) once the window has passed since the last verification anywhere', async () => {
    const { id, secret } = await createSecret(a, nodes.token);
    await eventually(async () => (await verifyStatus(b, nodes.appId, secret)) === 200, 'node B verifying');
    assert.equal((await guardedDelete(a, nodes.token, id, 2)).status, 409);
    // Verification times are whole seconds: 3 s after the last one, it is at least 2 s old on every clock.
    await sleep(3000);
    const res = await guardedDelete(a, nodes.token, id, 2);
    assert.equal(res.status, 204, res.text);
    assert.equal(await verifyStatus(b, nodes.appId, secret), 401);
  });

  it('deletes at once a secret that no node has verified', async () => {
    const { id } = await createSecret(a, nodes.token);
    assert.equal((await guardedDelete(b, nodes.token, id, 600)).status, 204);
  });

  it('refuses with 503 while a node that may have verified does not answer, and decides once it does', async () => {
    const { id, secret } = await createSecret(a, nodes.token);
    await eventually(async () => (await verifyStatus(c, nodes.appId, secret)) === 200, 'node C verifying');
    const frozen = nodes.servers[2]!.proc;
    frozen.kill('SIGSTOP');
    try {
      const startedAt = Date.now();
      const res = await guardedDelete(a, nodes.token, id, 600);
      assert.equal(res.status, 503, res.text);
      assert.equal(res.body.errors[0].code, 'service_unavailable');
      assert.match(res.body.errors[0].message, /idle/);
      assert.ok(Date.now() - startedAt < 10_000, 'the refusal came within the bound, not after a hang');
      assert.ok(await isLive(a, nodes.token, id), 'nothing was deleted');
    } finally {
      frozen.kill('SIGCONT');
    }
    await eventually(async () => (await guardedDelete(a, nodes.token, id, 600)).status === 409, 'node C answering again');
    assert.ok(await isLive(a, nodes.token, id));
  });

  it('a node that stopped cleanly (after flushing) is not waited for', async () => {
    const { id, secret } = await createSecret(a, nodes.token);
    await eventually(async () => (await verifyStatus(c, nodes.appId, secret)) === 200, 'node C verifying');
    assert.equal(await nodes.servers[2]!.stop(), 0);
    const res = await guardedDelete(a, nodes.token, id, 600);
    assert.equal(res.status, 409, 'its flushed verification is in the database');
    // Still within its lookback (window plus offline grace), a silent node would make this a 503.
    await sleep(2000);
    assert.equal((await guardedDelete(b, nodes.token, id, 1)).status, 204);
  });
});

const WORKERS = 2;

describe(`guarded delete across ${WORKERS} node:cluster workers on SQLite`, () => {
  let server: ServerProcess;
  let dir: string;
  const token = `tok_${randomBytes(16).toString('hex')}`;
  let appId: string;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'secure-mode-guard-'));
    server = await spawnServer(
      {
        SECURE_MODE_WORKERS: String(WORKERS),
        SECURE_MODE_BOOTSTRAP_TOKEN: token,
        SECURE_MODE_DATABASE_URL: `sqlite:${join(dir, 'db.sqlite')}`,
        SECURE_MODE_USAGE_FLUSH_MS: FLUSH_MS,
      },
      60_000,
    );
    appId = /with app_id ([a-z0-9]+)/.exec(server.output())![1]!;
  });

  after(async () => {
    await server?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it(`answers 409 right after a verification on any worker, ${ROUNDS} of ${ROUNDS} times`, async () => {
    for (let round = 0; round < ROUNDS; round++) {
      const { id, secret } = await createSecret(server.url, token);
      // One verification, on one worker; the primary deals fresh connections out to its workers (round-robin, not
      // strictly alternating), so of the deletes that follow some land on a worker that did not verify.
      assert.equal(await verifyStatus(server.url, appId, secret), 200);
      for (let i = 0; i < 4 * WORKERS; i++) {
        const res = await guardedDelete(server.url, token, id, 600);
        assert.equal(res.status, 409, `round ${round}, delete ${i}: ${res.text}`);
      }
      assert.ok(await isLive(server.url, token, id));
      await deleteSecret(server.url, token, id);
    }
  });

  it('deletes (204) once the window has passed', async () => {
    const { id, secret } = await createSecret(server.url, token);
    await eventually(async () => (await verifyStatus(server.url, appId, secret)) === 200, 'verification');
    await sleep(3000);
    assert.equal((await guardedDelete(server.url, token, id, 2)).status, 204);
  });
});
