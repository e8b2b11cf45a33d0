import assert from 'node:assert/strict';
import Database from 'better-sqlite3';
import { createHmac, randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdtempSync, readdirSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
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

describe('a missing master.key beside a database that holds secrets', () => {
  it('refuses at once, names the missing file, and creates nothing', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'secure-mode-nokey-'));
    try {
      const token = 'nokey-test-token-0123456789abcdef';
      const env = { SECURE_MODE_DATABASE_URL: `sqlite:${join(dir, 'secure-mode.db')}`, SECURE_MODE_BOOTSTRAP_TOKEN: token };
      const server = await spawnServer(env);
      assert.equal(
        (await api({ url: server.url, token }, 'POST', '/secure_mode_secrets', { body: { name: 'kept', supports_web: true } }))
          .status,
        201,
      );
      assert.equal(await server.stop(), 0);
      const keyFile = join(dir, 'master.key');
      unlinkSync(keyFile);
      // As a database from before the server lock existed: the refusal must not create that file either.
      unlinkSync(join(dir, 'secure-mode.db.lock'));
      const before = readdirSync(dir).sort();
      const line = await refusesToStart(env, []);
      assert.equal(
        line,
        `secure-mode: ${keyFile} is missing, but ${join(dir, 'secure-mode.db')} holds secrets encrypted under it: restore master.key from your backup (or set SECURE_MODE_MASTER_KEY); nothing was created`,
      );
      assert.ok(!existsSync(keyFile), 'no new key file');
      assert.deepEqual(readdirSync(dir).sort(), before, 'no file created or removed');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('one corrupt ciphertext the start-up check does not sample', () => {
  let dir: string;
  const key = randomBytes(32).toString('base64');
  const token = 'corrupt-row-token-0123456789abcdef';
  let env: Record<string, string>;
  let appId: string;
  const secrets: { id: string; secret: string }[] = [];

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'secure-mode-badrow-'));
    env = {
      SECURE_MODE_DATABASE_URL: `sqlite:${join(dir, 'secure-mode.db')}`,
      SECURE_MODE_MASTER_KEY: key,
      SECURE_MODE_BOOTSTRAP_TOKEN: token,
    };
    const server = await spawnServer(env);
    appId = /with app_id ([a-z0-9]+)/.exec(server.output())![1]!;
    for (const name of ['intact', 'damaged']) {
      const created = await api({ url: server.url, token }, 'POST', '/secure_mode_secrets', {
        body: { name, supports_web: true },
      });
      assert.equal(created.status, 201);
      secrets.push({ id: created.body.id, secret: created.body.secret });
    }
    assert.equal(await server.stop(), 0);
    // The start-up check opens the first secret under each key; the second one is damaged.
    const db = new Database(join(dir, 'secure-mode.db'));
    const row = db.prepare('SELECT ciphertext FROM secrets WHERE id = ?').get(Number(secrets[1]!.id)) as { ciphertext: Buffer };
    const flipped = Buffer.from(row.ciphertext);
    flipped[flipped.length - 1]! ^= 0x01;
    db.prepare('UPDATE secrets SET ciphertext = ? WHERE id = ?').run(flipped, Number(secrets[1]!.id));
    db.close();
  });
  after(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it('takes only itself out: the others verify, it is named, logged once, counted, and the node is ready', async () => {
    const server = await spawnServer(env);
    try {
      const client = { url: server.url, token };
      const verify = (secret: string) =>
        api(client, 'POST', '/identity_verification/verify', {
          token: null,
          body: {
            app_id: appId,
            platform: 'web',
            user_id: 'u-1',
            user_hash: createHmac('sha256', secret).update('u-1').digest('hex'),
          },
        });
      for (let i = 0; i < 3; i++) {
        const ok = await verify(secrets[0]!.secret);
        assert.equal(ok.status, 200, ok.text);
        const bad = await verify(secrets[1]!.secret);
        assert.equal(bad.status, 401, bad.text);
        assert.equal(bad.body.errors[0].code, 'hmac_mismatch');
      }
      const intact = await api(client, 'GET', `/secure_mode_secrets/${secrets[0]!.id}`);
      assert.equal(intact.status, 200, intact.text);
      assert.equal(intact.body.readable, true);
      const damaged = await api(client, 'GET', `/secure_mode_secrets/${secrets[1]!.id}`);
      assert.equal(damaged.status, 200, damaged.text);
      assert.equal(damaged.body.readable, false);
      assert.equal(damaged.body.name, 'damaged');

      const ready = await api(client, 'GET', '/readyz', { token: null });
      assert.equal(ready.status, 200, ready.text);
      const metrics = await api(client, 'GET', '/metrics', { token: null });
      assert.match(metrics.text, /^secure_mode_secrets_unreadable 1$/m);

      const logged = server
        .output()
        .split('\n')
        .filter((l) => l.includes('does not open under the configured master keys'));
      assert.equal(logged.length, 1, server.output());
      assert.equal(JSON.parse(logged[0]!).secret_id, Number(secrets[1]!.id));
      for (const { secret } of secrets) assert.ok(!server.output().includes(secret), 'no material in the output');
    } finally {
      assert.equal(await server.stop(), 0);
    }
  });
});
