import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { api } from '../helpers/app.js';
import { eventually, startNodes, verifyStatus, withDatabase, type Nodes } from '../helpers/nodes.js';
import { createTestDatabase, skipWithoutPostgres, type TestDatabase } from '../helpers/postgres.js';
import { TcpProxy } from '../helpers/tcp-proxy.js';

const SWEEP_MS = 300;

/**
 * Three server processes on one PostgreSQL database, each through its own fault-injecting proxy, all sweeping:
 * the one holding the rotations lease advances every rotation exactly once, and when it dies or is cut off another
 * takes over.
 */
describe('rotations across three PostgreSQL nodes: exactly once, under a lease', { skip: await skipWithoutPostgres() }, () => {
  let db: TestDatabase;
  let proxies: TcpProxy[];
  let nodes: Nodes;

  before(async () => {
    db = await createTestDatabase();
    const target = new URL(db.url);
    proxies = await Promise.all([0, 1, 2].map(() => TcpProxy.start(target.hostname, Number(target.port || 5432))));
    nodes = await startNodes({
      databaseUrl: db.url,
      count: 3,
      env: {
        SECURE_MODE_SWEEP_INTERVAL_MS: String(SWEEP_MS),
        SECURE_MODE_USAGE_FLUSH_MS: '100',
        SECURE_MODE_MAX_LIVE_SECRETS: '100',
        SECURE_MODE_PG_CONNECT_TIMEOUT_MS: '500',
        SECURE_MODE_PG_QUERY_TIMEOUT_MS: '1000',
      },
      envFor: (i) => {
        const via = new URL(db.url);
        via.port = String(proxies[i]!.port);
        return { SECURE_MODE_DATABASE_URL: via.toString() };
      },
    });
  });

  after(async () => {
    await nodes?.stop();
    for (const proxy of proxies ?? []) await proxy.close();
    await db?.drop();
  });

  /** The node whose session holds the lease, found by the client port PostgreSQL sees through each proxy. */
  const holder = async (): Promise<number | undefined> => {
    const ports = await withDatabase(db.url, async (c) =>
      (
        await c.query(
          `SELECT a.client_port FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
           WHERE l.locktype = 'advisory' AND l.granted AND l.classid = $1 AND l.objid = 3`,
          [0x5ec0de],
        )
      ).rows.map((r) => r.client_port as number),
    );
    const index = proxies.findIndex((p) => p.upstreamPorts.some((port) => ports.includes(port)));
    return index === -1 ? undefined : index;
  };

  const startRotations = async (count: number, via: string[]) => {
    const started: { id: string; from: string; secret: string }[] = [];
    for (let i = 0; i < count; i++) {
      const url = via[i % via.length]!;
      const s = await api({ url, token: nodes.token }, 'POST', '/secure_mode_secrets', {
        body: { name: `r${i}`, supports_web: true },
      });
      const r = await api({ url, token: nodes.token }, 'POST', '/secure_mode_rotations', {
        body: { secret_id: s.body.id, idle_for: 60 },
      });
      assert.equal(r.status, 201, r.text);
      started.push({ id: r.body.id, from: s.body.id, secret: r.body.secret });
    }
    return started;
  };

  /** Every rotation completed, with each event once and each old secret deleted once, in the database itself. */
  const assertExactlyOnce = async (rotations: { id: string; from: string }[]) => {
    await withDatabase(db.url, async (c) => {
      for (const r of rotations) {
        const state = (await c.query('SELECT state FROM rotations WHERE id = $1', [r.id])).rows[0].state;
        assert.equal(state, 'completed', `rotation ${r.id}`);
        const events = (
          await c.query(
            `SELECT action, count(*)::int AS n FROM audit_events WHERE target_type = 'rotation' AND target_id = $1 GROUP BY action`,
            [r.id],
          )
        ).rows;
        assert.deepEqual(
          Object.fromEntries(events.map((e) => [e.action, e.n])),
          { 'rotation.started': 1, 'rotation.cut_over': 1, 'rotation.completed': 1 },
          `events of rotation ${r.id}`,
        );
        const deletes = (
          await c.query(`SELECT count(*)::int AS n FROM audit_events WHERE action = 'secret.deleted' AND target_id = $1`, [
            r.from,
          ])
        ).rows[0].n;
        assert.equal(deletes, 1, `deletes of secret ${r.from}`);
      }
    });
  };

  it('one node holds the lease; every rotation advances once however many nodes sweep', async () => {
    await eventually(async () => (await holder()) !== undefined, 'a lease holder', 10_000, 50);
    const rotations = await startRotations(9, nodes.urls);
    // Each successor verifies on a node that is not necessarily the lease holder: its usage reaches the holder by the flush.
    await Promise.all(
      rotations.map(async (r, i) => assert.equal(await verifyStatus(nodes.urls[i % 3]!, nodes.appId, r.secret), 200)),
    );
    await eventually(
      async () =>
        (await withDatabase(db.url, (c) => c.query(`SELECT count(*)::int AS n FROM rotations WHERE state = 'completed'`))).rows[0]
          .n === rotations.length,
      'every rotation completed',
      20_000,
      50,
    );
    // A few more sweeps by every node change nothing.
    await new Promise((resolve) => setTimeout(resolve, 4 * SWEEP_MS));
    await assertExactlyOnce(rotations);
  });

  it('SIGKILL the lease holder: another node takes the lease and finishes the rotations', async () => {
    const first = await holder();
    assert.ok(first !== undefined);
    const survivors = nodes.urls.filter((_, i) => i !== first);
    const rotations = await startRotations(3, survivors);
    const killedAt = Date.now();
    await nodes.servers[first]!.kill();
    await eventually(async () => ![undefined, first].includes(await holder()), 'a new lease holder', 10_000, 20);
    const tookOverMs = Date.now() - killedAt;
    // Two sweep intervals, plus slack for this shared machine's scheduling.
    assert.ok(tookOverMs <= 2 * SWEEP_MS + 1500, `took over after ${tookOverMs} ms`);
    for (const r of rotations) assert.equal(await verifyStatus(survivors[0]!, nodes.appId, r.secret), 200);
    await eventually(
      async () => {
        const states = await withDatabase(db.url, (c) =>
          c.query('SELECT state FROM rotations WHERE id = ANY($1::bigint[])', [rotations.map((r) => r.id)]),
        );
        return states.rows.every((row) => row.state === 'completed');
      },
      'the rotations completed by the new holder',
      20_000,
      50,
    );
    await assertExactlyOnce(rotations);
  });

  it('cut the holder off (a partition): the lease moves within its lifetime and nothing is done twice', async () => {
    const cutOff = await holder();
    assert.ok(cutOff !== undefined);
    const others = [0, 1, 2].filter(
      (i) => i !== cutOff && nodes.servers[i]!.proc.exitCode === null && nodes.servers[i]!.proc.signalCode === null,
    );
    assert.ok(others.length >= 1);
    const rotations = await startRotations(
      2,
      others.map((i) => nodes.urls[i]!),
    );
    proxies[cutOff]!.cut('blackhole');
    // The server ends the silent session once the lease's lifetime (two sweep intervals) passes without renewal.
    await eventually(async () => others.includes((await holder()) ?? -1), 'a new lease holder after the partition', 15_000, 50);
    for (const r of rotations) assert.equal(await verifyStatus(nodes.urls[others[0]!]!, nodes.appId, r.secret), 200);
    await eventually(
      async () => {
        const states = await withDatabase(db.url, (c) =>
          c.query('SELECT state FROM rotations WHERE id = ANY($1::bigint[])', [rotations.map((r) => r.id)]),
        );
        return states.rows.every((row) => row.state === 'completed');
      },
      'the rotations completed after the partition',
      20_000,
      50,
    );
    proxies[cutOff]!.restore();
    await new Promise((resolve) => setTimeout(resolve, 4 * SWEEP_MS));
    await assertExactlyOnce(rotations);
  });
});
