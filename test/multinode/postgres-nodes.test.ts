import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { postgresMigrations } from '../../src/storage/postgres/migrations.js';
import { api } from '../helpers/app.js';
import { createSecret, deleteSecret, eventually, startNodes, verifyStatus, withDatabase, type Nodes } from '../helpers/nodes.js';
import { createTestDatabase, skipWithoutPostgres, type TestDatabase } from '../helpers/postgres.js';
import { TcpProxy } from '../helpers/tcp-proxy.js';

/** SECURE_MODE_OFFLINE_GRACE_MS of every node: the longest a deleted secret may verify anywhere, whatever fails. */
const BOUND_MS = 2000;

/**
 * Three server processes on one PostgreSQL database; node 3 reaches it through a fault-injecting proxy.
 * The revocation check: every verification sent later than BOUND_MS after the DELETE's 204 must fail.
 */
describe('three nodes on one PostgreSQL database', { skip: await skipWithoutPostgres() }, () => {
  let db: TestDatabase;
  let proxy: TcpProxy;
  let nodes: Nodes;
  let n1: string, n2: string, n3: string;

  before(async () => {
    db = await createTestDatabase();
    const target = new URL(db.url);
    proxy = await TcpProxy.start(target.hostname, Number(target.port || 5432));
    const viaProxy = new URL(db.url);
    viaProxy.port = String(proxy.port);
    nodes = await startNodes({
      databaseUrl: db.url,
      count: 3,
      env: {
        SECURE_MODE_OFFLINE_GRACE_MS: String(BOUND_MS),
        SECURE_MODE_PG_CONNECT_TIMEOUT_MS: '500',
        SECURE_MODE_PG_QUERY_TIMEOUT_MS: '1000',
        SECURE_MODE_USAGE_FLUSH_MS: '100',
      },
      envFor: (i): Record<string, string> => (i === 2 ? { SECURE_MODE_DATABASE_URL: viaProxy.toString() } : {}),
    });
    [n1, n2, n3] = nodes.urls as [string, string, string];
  });

  after(async () => {
    await nodes?.stop();
    await proxy?.close();
    await db?.drop();
  });

  it('migrates and bootstraps once although the three started at once', async () => {
    await withDatabase(db.url, async (c) => {
      assert.equal((await c.query('SELECT count(*)::int AS n FROM workspaces')).rows[0].n, 1);
      assert.equal((await c.query('SELECT count(*)::int AS n FROM access_tokens')).rows[0].n, 1);
      assert.equal((await c.query('SELECT max(version) AS v FROM secure_mode_schema')).rows[0].v, postgresMigrations.length);
    });
  });

  it('a secret created on node 1 verifies on nodes 2 and 3', async () => {
    const { secret } = await createSecret(n1, nodes.token);
    for (const url of [n2, n3]) {
      await eventually(async () => (await verifyStatus(url, nodes.appId, secret)) === 200, `verification on ${url}`);
    }
    assert.equal(await verifyStatus(n1, nodes.appId, secret), 200);
  });

  it('a secret deleted on node 1 is rejected by nodes 2 and 3 within the bound', async () => {
    for (let round = 0; round < 3; round++) {
      const { id, secret } = await createSecret(n1, nodes.token);
      for (const url of [n2, n3])
        await eventually(async () => (await verifyStatus(url, nodes.appId, secret)) === 200, 'caching on every node');
      await deleteSecret(n1, nodes.token, id);
      const deletedAt = Date.now();
      for (const url of [n2, n3]) {
        await eventually(async () => {
          const sentAt = Date.now();
          const status = await verifyStatus(url, nodes.appId, secret);
          assert.ok(
            status !== 200 || sentAt - deletedAt < BOUND_MS,
            `${url} verified a deleted secret ${sentAt - deletedAt} ms after the 204`,
          );
          return status === 401;
        }, `rejection on ${url}`);
      }
    }
  });

  it('adds up usage counted on every node', async () => {
    const { id, secret } = await createSecret(n1, nodes.token);
    for (const url of [n1, n2, n3]) {
      await eventually(async () => (await verifyStatus(url, nodes.appId, secret)) === 200, 'first verification');
      for (let i = 0; i < 4; i++) assert.equal(await verifyStatus(url, nodes.appId, secret), 200);
    }
    await eventually(async () => {
      const one = await api({ url: n2, token: nodes.token }, 'GET', `/secure_mode_secrets/${id}`);
      return one.body.usage.last_hour.web === 15 && typeof one.body.last_verified_at === 'number';
    }, 'usage from three nodes to add up to 15');
    await deleteSecret(n1, nodes.token, id);
  });

  for (const mode of ['blackhole', 'reset'] as const) {
    it(`through a ${mode} between node 3 and PostgreSQL: no deleted secret verifies past the bound, and node 3 recovers`, async () => {
      const { id, secret } = await createSecret(n1, nodes.token);
      const keep = await createSecret(n1, nodes.token, 'kept');
      await eventually(async () => (await verifyStatus(n3, nodes.appId, secret)) === 200, 'node 3 caching the secret');

      proxy.cut(mode);
      await deleteSecret(n1, nodes.token, id);
      const deletedAt = Date.now();
      const statuses = new Set<number>();
      // Watch node 3 for twice the bound: it may serve its cache for a while, never past the bound.
      while (Date.now() - deletedAt < 2 * BOUND_MS) {
        const sentAt = Date.now();
        const status = await verifyStatus(n3, nodes.appId, secret);
        statuses.add(status);
        assert.ok(
          status !== 200 || sentAt - deletedAt < BOUND_MS,
          `node 3 verified a deleted secret ${sentAt - deletedAt} ms after the 204`,
        );
        await sleep(20);
      }
      assert.ok(statuses.has(503), `cut off past the grace, node 3 refuses (saw ${[...statuses].join(', ')})`);
      const admin = await api({ url: n3, token: nodes.token }, 'GET', '/secure_mode_secrets');
      assert.equal(admin.status, 503);
      assert.equal(admin.body.errors[0].code, 'service_unavailable');

      proxy.restore();
      await eventually(
        async () => (await api({ url: n3, token: nodes.token }, 'GET', '/secure_mode_secrets')).status === 200,
        'admin calls on node 3 again',
      );
      await eventually(
        async () => (await verifyStatus(n3, nodes.appId, keep.secret)) === 200,
        'node 3 verifying live secrets again',
      );
      assert.equal(await verifyStatus(n3, nodes.appId, secret), 401);
      const fresh = await createSecret(n1, nodes.token, 'after the cut');
      await eventually(async () => (await verifyStatus(n3, nodes.appId, fresh.secret)) === 200, 'node 3 seeing new secrets');
      await deleteSecret(n1, nodes.token, fresh.id);
      await eventually(
        async () => (await verifyStatus(n3, nodes.appId, fresh.secret)) === 401,
        'node 3 hearing of deletions again',
      );
      await deleteSecret(n1, nodes.token, keep.id);
    });
  }
});
