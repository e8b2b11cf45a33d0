import assert from 'node:assert/strict';
import Database from 'better-sqlite3';
import { randomBytes } from 'node:crypto';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { api } from '../helpers/app.js';
import { recordSensitive } from '../helpers/leaks.js';
import { spawnServer } from '../helpers/process.js';

/** Starting must fail: exit before listening, with exactly one `secure-mode:` line that never shows key material. */
async function refusesToStart(env: Record<string, string>, keyMaterial: string[]): Promise<string> {
  const message = await spawnServer(env).then(
    async (server) => {
      await server.kill();
      return assert.fail(`started and served with ${JSON.stringify(Object.keys(env))}`);
    },
    (err: Error) => err.message,
  );
  assert.match(message, /exited with 1 before listening/);
  const lines = message.split('\n').filter((l) => l.startsWith('secure-mode:'));
  assert.equal(lines.length, 1, message);
  for (const k of keyMaterial) assert.ok(!message.includes(k), 'the message shows no key material');
  return lines[0]!;
}

describe('corrupt or wrong master key', () => {
  let dir: string;
  const key = randomBytes(32).toString('base64');
  const token = 'keys-test-token-0123456789abcdef';
  let env: Record<string, string>;
  let secretId: string;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'secure-mode-keys-'));
    env = {
      SECURE_MODE_DATABASE_URL: `sqlite:${join(dir, 'secure-mode.db')}`,
      SECURE_MODE_MASTER_KEY: key,
      SECURE_MODE_BOOTSTRAP_TOKEN: token,
    };
    const server = await spawnServer(env);
    const created = await api({ url: server.url, token }, 'POST', '/secure_mode_secrets', {
      body: { name: 'sealed', supports_web: true },
    });
    assert.equal(created.status, 201);
    secretId = created.body.id;
    assert.equal(await server.stop(), 0);
  });
  after(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it('refuses a different, well-formed master key, naming the key ids and the fix', async () => {
    const wrong = randomBytes(32).toString('base64');
    const line = await refusesToStart({ ...env, SECURE_MODE_MASTER_KEY: wrong }, [key, wrong]);
    assert.match(
      line,
      /stored secrets are encrypted under master key id\(s\) [0-9a-f]{16}, but the configured keys are [0-9a-f]{16}: set SECURE_MODE_MASTER_KEY/,
    );
  });

  it('refuses a master key that is not 32 bytes', async () => {
    for (const bad of [randomBytes(31).toString('base64'), 'not a key at all', `${key}AAAA`]) {
      const line = await refusesToStart({ ...env, SECURE_MODE_MASTER_KEY: bad }, [key, bad]);
      assert.match(line, /SECURE_MODE_MASTER_KEY must be 32 bytes, given as 64 hex characters or base64/);
    }
  });

  it('refuses a corrupt master.key file next to the database', async () => {
    const fileDir = mkdtempSync(join(tmpdir(), 'secure-mode-keyfile-'));
    try {
      const fileEnv = {
        SECURE_MODE_DATABASE_URL: `sqlite:${join(fileDir, 'secure-mode.db')}`,
        SECURE_MODE_BOOTSTRAP_TOKEN: token,
      };
      const server = await spawnServer(fileEnv);
      assert.equal(
        (await api({ url: server.url, token }, 'POST', '/secure_mode_secrets', { body: { name: 'f', supports_web: true } }))
          .status,
        201,
      );
      assert.equal(await server.stop(), 0);
      const keyFile = join(fileDir, 'master.key');
      writeFileSync(keyFile, 'garbage\n');
      chmodSync(keyFile, 0o600);
      assert.match(await refusesToStart(fileEnv, []), /master\.key must be 32 bytes/);
      const other = randomBytes(32).toString('base64');
      writeFileSync(keyFile, `${other}\n`);
      assert.match(await refusesToStart(fileEnv, [other]), /stored secrets are encrypted under master key id/);
    } finally {
      rmSync(fileDir, { recursive: true, force: true });
    }
  });

  it('refuses a database whose ciphertext no longer opens under the right key, instead of serving garbage', async () => {
    const copy = mkdtempSync(join(tmpdir(), 'secure-mode-corrupt-'));
    try {
      const db = new Database(join(dir, 'secure-mode.db'));
      db.exec(`VACUUM INTO '${join(copy, 'secure-mode.db')}'`);
      db.close();
      const tampered = new Database(join(copy, 'secure-mode.db'));
      const row = tampered.prepare('SELECT ciphertext FROM secrets WHERE id = ?').get(Number(secretId)) as { ciphertext: Buffer };
      const flipped = Buffer.from(row.ciphertext);
      flipped[flipped.length - 1]! ^= 0x01;
      tampered.prepare('UPDATE secrets SET ciphertext = ? WHERE id = ?').run(flipped, Number(secretId));
      tampered.close();
      const line = await refusesToStart({ ...env, SECURE_MODE_DATABASE_URL: `sqlite:${join(copy, 'secure-mode.db')}` }, [key]);
      assert.match(line, /master key [0-9a-f]{16} does not open the stored secrets \(corrupt key or database\)/);
    } finally {
      rmSync(copy, { recursive: true, force: true });
    }
  });

  it('starts with the right key and serves the data unchanged', async () => {
    recordSensitive('token', token);
    const server = await spawnServer(env);
    try {
      const list = await api({ url: server.url, token }, 'GET', '/secure_mode_secrets');
      assert.deepEqual(
        list.body.data.map((s: { id: string; name: string }) => [s.id, s.name]),
        [[secretId, 'sealed']],
      );
    } finally {
      assert.equal(await server.stop(), 0);
    }
  });
});
