import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { api } from '../helpers/app.js';
import { runCli, spawnServer, type ServerProcess } from '../helpers/process.js';

describe('first start: several processes on one empty database', () => {
  const dir = mkdtempSync(join(tmpdir(), 'secure-mode-race-'));
  const servers: ServerProcess[] = [];
  after(async () => {
    await Promise.all(servers.map((s) => s.stop()));
    rmSync(dir, { recursive: true, force: true });
  });

  it('bootstraps exactly one workspace and one master key, and every process serves', async () => {
    const token = 'race_bootstrap_token_0123456789';
    const env = { SECURE_MODE_DATABASE_URL: `sqlite:${join(dir, 'secure-mode.db')}`, SECURE_MODE_BOOTSTRAP_TOKEN: token };
    servers.push(...(await Promise.all([spawnServer(env), spawnServer(env), spawnServer(env)])));

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
    for (const server of servers) {
      const list = await api({ url: server.url, token }, 'GET', '/secure_mode_secrets');
      assert.equal(list.status, 200);
      assert.deepEqual(
        list.body.data.map((s: { id: string }) => s.id),
        [created.body.id],
      );
    }
  });
});
