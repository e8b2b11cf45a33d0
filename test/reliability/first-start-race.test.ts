import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { api } from '../helpers/app.js';
import { runCli, spawnServer, type ServerProcess } from '../helpers/process.js';

describe('first start: several servers on one empty database', () => {
  const dir = mkdtempSync(join(tmpdir(), 'secure-mode-race-'));
  const servers: ServerProcess[] = [];
  after(async () => {
    await Promise.all(servers.map((s) => s.stop()));
    rmSync(dir, { recursive: true, force: true });
  });

  it('one process serves, the others refuse in one line, and exactly one workspace and one master key exist', async () => {
    const token = 'race_bootstrap_token_0123456789';
    const env = { SECURE_MODE_DATABASE_URL: `sqlite:${join(dir, 'secure-mode.db')}`, SECURE_MODE_BOOTSTRAP_TOKEN: token };
    // All three settle the key file at once (the race that must leave one complete master.key), then one takes the lock.
    const started = await Promise.allSettled([spawnServer(env), spawnServer(env), spawnServer(env)]);
    servers.push(...started.flatMap((s) => (s.status === 'fulfilled' ? [s.value] : [])));
    assert.equal(servers.length, 1, 'exactly one serves');
    for (const s of started) {
      if (s.status === 'fulfilled') continue;
      const lines = (s.reason as Error).message.split('\n').filter((l) => l.startsWith('secure-mode:'));
      assert.equal(lines.length, 1, (s.reason as Error).message);
      assert.match(lines[0]!, /another secure-mode server is serving/);
    }

    const workspaces = await runCli(['workspaces', 'list', '--json'], { SECURE_MODE_DATABASE_URL: env.SECURE_MODE_DATABASE_URL });
    assert.equal(workspaces.code, 0, workspaces.stderr);
    assert.equal(JSON.parse(workspaces.stdout).length, 1);
    assert.deepEqual(
      readdirSync(dir).filter((f) => f.startsWith('master.key')),
      ['master.key'],
    );

    const created = await api({ url: servers[0]!.url, token }, 'POST', '/secure_mode_secrets', {
      body: { name: 'shared', supports_web: true },
    });
    assert.equal(created.status, 201);
    const list = await api({ url: servers[0]!.url, token }, 'GET', '/secure_mode_secrets');
    assert.deepEqual(
      list.body.data.map((s: { id: string }) => s.id),
      [created.body.id],
    );
  });
});
