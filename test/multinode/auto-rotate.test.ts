import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { api } from '../helpers/app.js';
import { createSecret, eventually, startNodes, withDatabase, type Nodes } from '../helpers/nodes.js';
import { createTestDatabase, skipWithoutPostgres, type TestDatabase } from '../helpers/postgres.js';
import { TestRolloutCommand } from '../helpers/rollout.js';

const SWEEP_MS = 200;
const SECRETS = 4;
const TIMEOUT_MS = 2000;

/**
 * Two server processes on one PostgreSQL database, both sweeping and both able to run the rollout command: the
 * rotation policy starts one delivering rotation per due secret, and each is rolled out by one run of the command.
 */
describe('auto_rotate across two PostgreSQL nodes: exactly once', { skip: await skipWithoutPostgres() }, () => {
  let db: TestDatabase;
  let nodes: Nodes;
  const rollout = new TestRolloutCommand();

  before(async () => {
    db = await createTestDatabase();
    nodes = await startNodes({
      databaseUrl: db.url,
      count: 2,
      env: {
        SECURE_MODE_SWEEP_INTERVAL_MS: String(SWEEP_MS),
        SECURE_MODE_USAGE_FLUSH_MS: '100',
        SECURE_MODE_MAX_LIVE_SECRETS: '100',
        SECURE_MODE_ROLLOUT_COMMAND: rollout.command,
        SECURE_MODE_ROLLOUT_TIMEOUT_MS: String(TIMEOUT_MS),
      },
    });
  });
  after(async () => {
    await nodes?.stop();
    await db?.drop();
    rollout.close();
  });

  it('each due secret: one secret.due_for_rotation, one rotation, one run of the command, one rotation.delivered', async () => {
    const secrets: string[] = [];
    for (let i = 0; i < SECRETS; i++) secrets.push((await createSecret(nodes.urls[i % 2]!, nodes.token, `old ${i}`)).id);
    // Two days old, as far as the database knows: the nodes' clocks are real.
    await withDatabase(db.url, (c) => c.query('UPDATE secrets SET created_at = created_at - 2 * 86400'));
    const policy = await api({ url: nodes.urls[1]!, token: nodes.token }, 'PUT', '/secure_mode_rotation_policy', {
      body: { max_age_days: 1, auto_rotate: true, idle_for: 60 },
    });
    assert.equal(policy.status, 200, policy.text);
    await eventually(
      async () =>
        (
          await withDatabase(db.url, (c) =>
            c.query('SELECT count(*)::int AS n FROM rotations WHERE delivered_at IS NOT NULL AND deliver'),
          )
        ).rows[0].n === SECRETS,
      'every due secret rotated and delivered',
      20_000,
      50,
    );
    // More sweeps by both nodes change nothing.
    await sleep(5 * SWEEP_MS);
    await withDatabase(db.url, async (c) => {
      for (const id of secrets) {
        const rotations = (await c.query('SELECT id FROM rotations WHERE from_secret_id = $1', [id])).rows;
        assert.equal(rotations.length, 1, `rotations of secret ${id}`);
        const due = (
          await c.query(
            `SELECT count(*)::int AS n FROM audit_events WHERE action = 'secret.due_for_rotation' AND target_id = $1`,
            [id],
          )
        ).rows[0].n;
        assert.equal(due, 1, `secret.due_for_rotation of secret ${id}`);
        const events = (
          await c.query(
            `SELECT action, count(*)::int AS n FROM audit_events WHERE target_type = 'rotation' AND target_id = $1 GROUP BY action`,
            [String(rotations[0].id)],
          )
        ).rows;
        const counts = Object.fromEntries(events.map((e) => [e.action, e.n]));
        assert.equal(counts['rotation.started'], 1);
        assert.equal(counts['rotation.delivered'], 1);
        assert.equal(counts['rotation.delivery_failed'], undefined);
      }
    });
    assert.equal(rollout.runs(), SECRETS, 'the command ran once per rotation over both nodes');
    rollout.payload();
  });

  it('a node killed mid-run: its claim lapses and the other node delivers, with no failure recorded', async () => {
    rollout.mode('hang');
    const runs = rollout.runs();
    const s = await createSecret(nodes.urls[0]!, nodes.token, 'cut short');
    const started = await api({ url: nodes.urls[0]!, token: nodes.token }, 'POST', '/secure_mode_rotations', {
      body: { secret_id: s.id, deliver: true },
    });
    assert.equal(started.status, 201, started.text);
    await eventually(async () => rollout.runs() === runs + 1, 'the first run', 10_000, 20);
    const runner = rollout.runners().at(-1)!;
    const victim = nodes.servers.findIndex((server) => server.proc.pid === runner.server);
    assert.ok(victim >= 0, 'the run belongs to one of the nodes');
    await nodes.servers[victim]!.kill();
    // What the dead node started is gone with it, as on a machine that went down.
    process.kill(-runner.group, 'SIGKILL');
    rollout.mode('ok');
    const survivor = nodes.urls[1 - victim]!;
    await eventually(
      async () =>
        (await api({ url: survivor, token: nodes.token }, 'GET', `/secure_mode_rotations/${started.body.id}`)).body
          .delivered_at !== null,
      'the survivor to deliver once the claim lapsed (the timeout plus 30 s)',
      60_000,
      200,
    );
    assert.equal(rollout.runs(), runs + 2);
    assert.equal(rollout.runners().at(-1)!.server, nodes.servers[1 - victim]!.proc.pid);
    const counts = await withDatabase(db.url, async (c) =>
      Object.fromEntries(
        (
          await c.query(
            `SELECT action, count(*)::int AS n FROM audit_events WHERE target_type = 'rotation' AND target_id = $1 GROUP BY action`,
            [started.body.id],
          )
        ).rows.map((e) => [e.action, e.n]),
      ),
    );
    assert.deepEqual(counts, { 'rotation.started': 1, 'rotation.delivered': 1 });
    assert.equal(rollout.payload()?.rotation_id, started.body.id);
  });
});
