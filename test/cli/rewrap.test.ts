import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, linkSync, mkdtempSync, readFileSync, rmSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { loadConfig } from '../../src/config.js';
import { Keyring, keyIdOf, newMasterKeyText, parseMasterKey, secretAad } from '../../src/crypto/keyring.js';
import { generateSecret } from '../../src/crypto/random.js';
import { createServices } from '../../src/runtime.js';
import { api } from '../helpers/app.js';
import { ROOT, runCli, spawnServer } from '../helpers/process.js';

const COUNT = 10_000;

describe('secure-mode keys rewrap', () => {
  let dir: string;
  let dbFile: string;
  const oldKey = newMasterKeyText();
  const newKey = newMasterKeyText();
  const newKeyId = keyIdOf(parseMasterKey(newKey, 'new').key);
  const plaintexts = new Map<number, string>();
  const env = () => ({
    SECURE_MODE_DATABASE_URL: `sqlite:${dbFile}`,
    SECURE_MODE_MASTER_KEY: newKey,
    SECURE_MODE_PREVIOUS_MASTER_KEYS: oldKey,
  });

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'secure-mode-rewrap-'));
    dbFile = join(dir, 'secure-mode.db');
    const services = await createServices(
      loadConfig({ SECURE_MODE_DATABASE_URL: `sqlite:${dbFile}`, SECURE_MODE_MASTER_KEY: oldKey }),
      { logger: false },
    );
    const workspace = await services.workspaces.createWorkspace({ name: 'Rewrap' });
    await services.store.close();
    // 10,000 secrets under the old key in one transaction (a tenth of them deleted: those are rewrapped too).
    const keyring = new Keyring(parseMasterKey(oldKey, 'old'));
    const db = new Database(dbFile);
    const insert = db.prepare(
      `INSERT INTO secrets (id, workspace_id, name, supports_web, supports_ios, supports_android, ciphertext, key_id, created_at, deleted_at)
       VALUES (?, ?, ?, 1, 0, 0, ?, ?, 0, ?)`,
    );
    db.transaction(() => {
      for (let id = 1; id <= COUNT; id++) {
        const secret = generateSecret();
        plaintexts.set(id, secret);
        insert.run(
          id,
          workspace.id,
          `s${id}`,
          keyring.encrypt(Buffer.from(secret), secretAad(workspace.id, id)),
          keyring.current.id,
          id % 10 === 0 ? 1 : null,
        );
      }
    })();
    db.close();
  });
  after(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  const underNewKey = () => {
    const db = new Database(dbFile, { readonly: true });
    try {
      return (db.prepare('SELECT count(*) AS n FROM secrets WHERE key_id = ?').get(newKeyId) as { n: number }).n;
    } finally {
      db.close();
    }
  };

  it('killed halfway and run again, ends with every secret opening under the new key only', async () => {
    const proc = spawn(process.execPath, ['bin/secure-mode.js', 'keys', 'rewrap', '--batch-size', '100'], {
      cwd: ROOT,
      env: { ...process.env, ...env() },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    const exited = once(proc, 'exit');
    await new Promise<void>((resolve, reject) => {
      proc.stderr.on('data', (d: Buffer) => {
        stderr += d.toString();
        // Killed once it reports half the work done: no chance to finish or clean up.
        if (/\((5[0-9]|[6-9][0-9])%\)/.test(stderr)) {
          proc.kill('SIGKILL');
          resolve();
        }
      });
      proc.once('exit', () => reject(new Error(`rewrap exited before it was killed:\n${stderr}`)));
    });
    const [, signal] = (await exited) as [number | null, string | null];
    assert.equal(signal, 'SIGKILL');
    const halfway = underNewKey();
    assert.ok(halfway > 0 && halfway < COUNT, `killed after ${halfway} of ${COUNT}`);

    const second = await runCli(['keys', 'rewrap', '--json'], env(), 300_000);
    assert.equal(second.code, 0, second.stderr);
    const result = JSON.parse(second.stdout) as { rewrapped: number; verified: number; master_key_id: string };
    assert.deepEqual(result, { rewrapped: COUNT - halfway, verified: COUNT, master_key_id: newKeyId });
    assert.match(second.stderr, new RegExp(`rewrapped ${COUNT - halfway}/${COUNT - halfway} \\(100%\\)`));

    // Independently of the CLI: every row names the new key and opens with it alone, to the same secret.
    const onlyNew = new Keyring(parseMasterKey(newKey, 'new'));
    const db = new Database(dbFile, { readonly: true });
    try {
      const rows = db.prepare('SELECT id, workspace_id, key_id, ciphertext FROM secrets').all() as {
        id: number;
        workspace_id: number;
        key_id: string;
        ciphertext: Buffer;
      }[];
      assert.equal(rows.length, COUNT);
      for (const r of rows) {
        assert.equal(r.key_id, newKeyId);
        assert.equal(onlyNew.decrypt(r.ciphertext, secretAad(r.workspace_id, r.id)).toString(), plaintexts.get(r.id));
      }
    } finally {
      db.close();
    }

    // A server given only the new key starts (it refuses to when any secret is under a key it lacks).
    const services = await createServices(
      loadConfig({ SECURE_MODE_DATABASE_URL: `sqlite:${dbFile}`, SECURE_MODE_MASTER_KEY: newKey }),
      { logger: false },
    );
    await services.store.close();
    const again = await runCli(['keys', 'rewrap', '--json'], {
      SECURE_MODE_DATABASE_URL: `sqlite:${dbFile}`,
      SECURE_MODE_MASTER_KEY: newKey,
    });
    assert.equal(again.code, 0, again.stderr);
    assert.equal(JSON.parse(again.stdout).rewrapped, 0);
  });

  it('refuses to run without the old key, changing nothing', async () => {
    const fresh = newMasterKeyText();
    const res = await runCli(['keys', 'rewrap'], { SECURE_MODE_DATABASE_URL: `sqlite:${dbFile}`, SECURE_MODE_MASTER_KEY: fresh });
    assert.equal(res.code, 2);
    assert.match(res.stderr, /SECURE_MODE_PREVIOUS_MASTER_KEYS/);
    assert.equal(underNewKey(), COUNT);
  });
});

describe('secure-mode keys rewrap on the embedded default key file', () => {
  let dir: string;
  let dbFile: string;
  const token = 'rewrap-file-token-0123456789abcdef';
  const keyFile = () => join(dir, 'master.key');
  const previousFile = () => join(dir, 'master.key.previous');
  const fileKeyId = (path: string) => keyIdOf(parseMasterKey(readFileSync(path, 'utf8'), path).key);
  const plain = () => ({ SECURE_MODE_DATABASE_URL: `sqlite:${dbFile}`, SECURE_MODE_BOOTSTRAP_TOKEN: token });
  const names = async (url: string) =>
    (await api({ url, token }, 'GET', '/secure_mode_secrets')).body.data.map((s: { name: string }) => s.name);

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'secure-mode-rewrap-file-'));
    dbFile = join(dir, 'secure-mode.db');
    const server = await spawnServer(plain());
    for (const name of ['a', 'b']) {
      assert.equal(
        (await api({ url: server.url, token }, 'POST', '/secure_mode_secrets', { body: { name, supports_web: true } })).status,
        201,
      );
    }
    assert.equal(await server.stop(), 0);
  });
  after(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it('installs the new key in master.key, keeps the old one as master.key.previous 0600, and a plain restart serves', async () => {
    const oldKey = readFileSync(keyFile(), 'utf8').trim();
    const oldKeyId = fileKeyId(keyFile());
    const newKey = newMasterKeyText();
    const newKeyId = keyIdOf(parseMasterKey(newKey, 'new').key);
    const res = await runCli(['keys', 'rewrap', '--json'], {
      ...plain(),
      SECURE_MODE_MASTER_KEY: newKey,
      SECURE_MODE_PREVIOUS_MASTER_KEYS: oldKey,
    });
    assert.equal(res.code, 0, res.stderr);
    assert.deepEqual(JSON.parse(res.stdout), { rewrapped: 2, verified: 2, master_key_id: newKeyId });
    assert.match(
      res.stderr,
      /master\.key now holds master key [0-9a-f]{16}; the old key is kept in .*master\.key\.previous \(0600\)\. Next: back up/,
    );
    assert.ok(!res.stderr.includes(newKey) && !res.stderr.includes(oldKey), 'no key material printed');

    assert.equal(fileKeyId(keyFile()), newKeyId);
    assert.equal(fileKeyId(previousFile()), oldKeyId);
    for (const f of [keyFile(), previousFile()]) assert.equal(statSync(f).mode & 0o777, 0o600);

    // The plain restart: no key in the environment, only the files.
    const again = await spawnServer(plain());
    try {
      assert.deepEqual(await names(again.url), ['a', 'b']);
    } finally {
      assert.equal(await again.stop(), 0);
    }
    // Once the operator deletes the old key, it still starts: nothing needs it any more.
    unlinkSync(previousFile());
    const last = await spawnServer(plain());
    try {
      assert.deepEqual(await names(last.url), ['a', 'b']);
    } finally {
      assert.equal(await last.stop(), 0);
    }
  });

  it('never overwrites a master.key.previous left from an earlier rewrap: prints the exact next step instead', async () => {
    const currentKey = readFileSync(keyFile(), 'utf8').trim();
    const currentId = fileKeyId(keyFile());
    // An unrelated key file left behind as master.key.previous.
    const stale = join(dir, 'stale.key');
    writeFileSync(stale, `${newMasterKeyText()}\n`, { mode: 0o600 });
    linkSync(stale, previousFile());
    unlinkSync(stale);
    const staleId = fileKeyId(previousFile());
    const newKey = newMasterKeyText();
    const env = { ...plain(), SECURE_MODE_MASTER_KEY: newKey, SECURE_MODE_PREVIOUS_MASTER_KEYS: currentKey };
    const res = await runCli(['keys', 'rewrap'], env);
    assert.equal(res.code, 1, res.stderr);
    assert.match(
      res.stderr,
      /still holds the old key because .*master\.key\.previous is left from an earlier rewrap; next step: rm .*master\.key\.previous && secure-mode keys rewrap \(same environment\)/,
    );
    assert.equal(fileKeyId(keyFile()), currentId);
    assert.equal(fileKeyId(previousFile()), staleId);

    unlinkSync(previousFile());
    const done = await runCli(['keys', 'rewrap', '--json'], env);
    assert.equal(done.code, 0, done.stderr);
    assert.equal(JSON.parse(done.stdout).rewrapped, 0);
    assert.equal(fileKeyId(keyFile()), keyIdOf(parseMasterKey(newKey, 'new').key));
    assert.equal(fileKeyId(previousFile()), currentId);
    assert.ok(existsSync(previousFile()));
  });
});
