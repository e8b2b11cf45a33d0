import assert from 'node:assert/strict';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { api } from '../../helpers/app.js';
import { runCli, spawnServer } from '../../helpers/process.js';

/** The embedded default's files on disk: who may read them, and one server per database file. */

const TOKEN = 'files-test-token-0123456789abcdef';

const modeOf = (path: string) => statSync(path).mode & 0o777;

/** Starting must fail before listening, with exactly one `secure-mode:` line; returns that line. */
async function refusesToStart(env: Record<string, string>): Promise<string> {
  const message = await spawnServer(env).then(
    async (server) => {
      await server.kill();
      return assert.fail('started although it should not have');
    },
    (err: Error) => err.message,
  );
  assert.match(message, /exited with 1 before listening/);
  const lines = message.split('\n').filter((l) => l.startsWith('secure-mode:'));
  assert.equal(lines.length, 1, message);
  assert.doesNotMatch(message, /\n\s+at /, 'no stack trace');
  return lines[0]!;
}

describe('data directory and file modes', () => {
  let root: string;
  before(() => {
    root = mkdtempSync(join(tmpdir(), 'secure-mode-files-'));
  });
  after(() => {
    rmSync(root, { recursive: true, force: true });
  });

  it('creates the data directory 0700 and the database, -wal, -shm, lock and master.key 0600, whatever the umask', async () => {
    const data = join(root, 'fresh', 'data');
    const db = join(data, 'secure-mode.db');
    // A permissive umask in the parent, inherited by the server: it must not use it for its own files.
    const umask = process.umask(0o022);
    const server = await spawnServer({ SECURE_MODE_DATABASE_URL: `sqlite:${db}`, SECURE_MODE_BOOTSTRAP_TOKEN: TOKEN }).finally(
      () => process.umask(umask),
    );
    try {
      assert.equal(
        (
          await api({ url: server.url, token: TOKEN }, 'POST', '/secure_mode_secrets', {
            body: { name: 'm', supports_web: true },
          })
        ).status,
        201,
      );
      assert.equal(modeOf(data), 0o700);
      const files = readdirSync(data).sort();
      for (const name of ['master.key', 'secure-mode.db', 'secure-mode.db-shm', 'secure-mode.db-wal', 'secure-mode.db.lock']) {
        assert.ok(files.includes(name), `${name} exists (got ${files.join(', ')})`);
      }
      for (const name of files) assert.equal(modeOf(join(data, name)), 0o600, `${name} is 0600`);
    } finally {
      assert.equal(await server.stop(), 0);
    }
  });

  it('tightens database files an older version left 0644', async () => {
    const data = join(root, 'old');
    const db = join(data, 'secure-mode.db');
    const env = { SECURE_MODE_DATABASE_URL: `sqlite:${db}`, SECURE_MODE_BOOTSTRAP_TOKEN: TOKEN };
    const first = await spawnServer(env);
    await first.kill();
    for (const name of readdirSync(data)) if (name !== 'master.key') chmodSync(join(data, name), 0o644);
    const again = await spawnServer(env);
    try {
      for (const name of readdirSync(data)) assert.equal(modeOf(join(data, name)), 0o600, `${name} is 0600`);
    } finally {
      assert.equal(await again.stop(), 0);
    }
  });

  it('refuses a master.key readable by its group, in one line naming the fix', async () => {
    const data = join(root, 'group');
    mkdirSync(data);
    writeFileSync(join(data, 'master.key'), `${Buffer.alloc(32, 3).toString('base64')}\n`);
    chmodSync(join(data, 'master.key'), 0o640);
    const line = await refusesToStart({ SECURE_MODE_DATABASE_URL: `sqlite:${join(data, 'secure-mode.db')}` });
    assert.match(line, /master\.key must not be readable by group or others \(chmod 600 /);
    assert.ok(!existsSync(join(data, 'secure-mode.db')), 'no database was created');
  });
});

describe('one server per SQLite database file', () => {
  let dir: string;
  let env: Record<string, string>;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'secure-mode-lock-'));
    env = { SECURE_MODE_DATABASE_URL: `sqlite:${join(dir, 'secure-mode.db')}`, SECURE_MODE_BOOTSTRAP_TOKEN: TOKEN };
  });
  after(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it('a second server on the same file refuses in one line, while admin commands keep working beside the first', async () => {
    const first = await spawnServer(env);
    try {
      const line = await refusesToStart(env);
      assert.match(
        line,
        /another secure-mode server is serving .*secure-mode\.db \(it holds .*secure-mode\.db\.lock\): stop it first, or use SECURE_MODE_WORKERS=N/,
      );
      const created = await runCli(['workspaces', 'create', '--name', 'Beside', '--json'], env);
      assert.equal(created.code, 0, created.stderr);
      const listed = await runCli(['workspaces', 'list', '--json'], env);
      assert.equal(listed.code, 0, listed.stderr);
      assert.match(listed.stdout, /Beside/);
      const tokens = await runCli(['tokens', 'list', '--json'], env);
      assert.equal(tokens.code, 0, tokens.stderr);
      // The first server was never disturbed.
      assert.equal((await api({ url: first.url, token: TOKEN }, 'GET', '/secure_mode_secrets')).status, 200);
    } finally {
      assert.equal(await first.stop(), 0);
    }
  });

  it('a server killed with SIGKILL does not block its restart', async () => {
    const first = await spawnServer(env);
    await first.kill();
    assert.equal(first.proc.signalCode, 'SIGKILL');
    const again = await spawnServer(env);
    try {
      assert.equal((await api({ url: again.url, token: TOKEN }, 'GET', '/secure_mode_secrets')).status, 200);
    } finally {
      assert.equal(await again.stop(), 0);
    }
  });

  it('SECURE_MODE_WORKERS serves one file with more processes; the primary holds the lock for them', async () => {
    const cluster = await spawnServer({ ...env, SECURE_MODE_WORKERS: '2' });
    try {
      assert.match(cluster.output(), /2 workers/);
      for (let i = 0; i < 4; i++) {
        assert.equal((await api({ url: cluster.url, token: TOKEN }, 'GET', '/secure_mode_secrets')).status, 200);
      }
      assert.match(await refusesToStart(env), /another secure-mode server is serving/);
    } finally {
      assert.equal(await cluster.stop(), 0);
    }
  });
});
