import Database from 'better-sqlite3';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Keyring, parseMasterKey, secretAad } from '../../src/crypto/keyring.js';
import { ConfigError } from '../../src/errors.js';
import { api, startTestApp, type TestApp } from '../helpers/app.js';
import { spawnServer } from '../helpers/process.js';

/**
 * Secrets exist in plaintext only in the 201 that creates them: 10,000 creates over HTTP, then every list and get
 * response, every log line and every byte of the SQLite files (db, -wal, -shm) is searched for every secret in
 * four encodings. The search looks for the first 16 characters/bytes of each encoding, so a truncated copy counts
 * too; 16 random bytes cannot match by chance.
 */

const WORKSPACES = 100;
const PER_WORKSPACE = 100;
const CONCURRENCY = 100;
const PROBE = 16;

interface Created {
  id: string;
  workspace: number;
  secret: string;
}

/** Every encoding a leaked secret could take, as latin1 strings so that text and binary are searched alike. */
function probesOf(secret: string): string[] {
  const raw = Buffer.from(secret, 'base64url');
  return [
    Buffer.from(secret, 'utf8'),
    raw,
    Buffer.from(raw.toString('hex'), 'utf8'),
    Buffer.from(raw.toString('base64'), 'utf8'),
  ].map((b) => b.subarray(0, PROBE).toString('latin1'));
}

class Needles {
  private readonly probes = new Map<string, string>();
  constructor(secrets: string[]) {
    for (const s of secrets) for (const p of probesOf(s)) this.probes.set(p, s);
  }
  /** The secrets found anywhere in `haystack`, by one pass over it. */
  findIn(haystack: Buffer | string): string[] {
    const text = typeof haystack === 'string' ? Buffer.from(haystack, 'utf8').toString('latin1') : haystack.toString('latin1');
    const found = new Set<string>();
    for (let i = 0; i + PROBE <= text.length; i++) {
      const hit = this.probes.get(text.substr(i, PROBE));
      if (hit) found.add(hit);
    }
    return [...found];
  }
}

function sqliteFiles(dir: string): string[] {
  const db = join(dir, 'secure-mode.db');
  return [db, `${db}-wal`, `${db}-shm`].filter((f) => existsSync(f));
}

describe('secrets at rest', () => {
  let app: TestApp;
  let dir: string;
  const created: Created[] = [];
  const clients: { url: string; token: string }[] = [];

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'secure-mode-at-rest-'));
    app = await startTestApp({ dir, env: { SECURE_MODE_MAX_LIVE_SECRETS: String(PER_WORKSPACE) } });
    for (let w = 0; w < WORKSPACES; w++) {
      const workspace = await app.runtime.workspaces.createWorkspace({ name: `at-rest ${w}` });
      const { value } = await app.runtime.workspaces.createToken(
        workspace,
        ['read_secure_mode_secret', 'write_secure_mode_secret'],
        't',
      );
      clients.push({ url: app.url, token: value });
    }
    // Every workspace filled to the cap, concurrently: all 10,000 secrets are live at once at the end.
    const jobs = Array.from({ length: WORKSPACES * PER_WORKSPACE }, (_, i) => i % WORKSPACES);
    for (let start = 0; start < jobs.length; start += CONCURRENCY) {
      const batch = jobs.slice(start, start + CONCURRENCY);
      const results = await Promise.all(
        batch.map(async (w, k) => {
          const body = { name: `secret ${start + k}`, supports_web: true, supports_ios: k % 2 === 0 };
          const res = await api(clients[w]!, 'POST', '/secure_mode_secrets', { body });
          assert.equal(res.status, 201, res.text);
          return { id: res.body.id as string, workspace: w, secret: res.body.secret as string };
        }),
      );
      created.push(...results);
    }
  });
  after(async () => {
    await app.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('10,000 creates give 10,000 distinct secrets, each 43 base64url characters decoding to 32 bytes', () => {
    assert.equal(created.length, WORKSPACES * PER_WORKSPACE);
    assert.equal(new Set(created.map((c) => c.secret)).size, created.length);
    assert.equal(new Set(created.map((c) => c.id)).size, created.length);
    for (const { secret } of created) {
      assert.match(secret, /^[A-Za-z0-9_-]{43}$/);
      const raw = Buffer.from(secret, 'base64url');
      assert.equal(raw.length, 32);
      assert.equal(raw.toString('base64url'), secret, 'canonical encoding');
    }
  });

  it('the secret is stored encrypted under its own row: every ciphertext opens to what the 201 showed', () => {
    const key = parseMasterKey(readFileSync(join(dir, 'master.key'), 'utf8'), 'master.key');
    const keyring = new Keyring(key);
    const db = new Database(join(dir, 'secure-mode.db'), { readonly: true });
    try {
      const rows = db.prepare('SELECT id, workspace_id, ciphertext, key_id FROM secrets').all() as {
        id: number;
        workspace_id: number;
        ciphertext: Buffer;
        key_id: string;
      }[];
      assert.equal(rows.length, created.length);
      const byId = new Map(created.map((c) => [c.id, c.secret]));
      for (const row of rows) {
        assert.equal(row.key_id, key.id);
        assert.equal(
          keyring.decrypt(row.ciphertext, secretAad(row.workspace_id, row.id)).toString('utf8'),
          byId.get(String(row.id)),
        );
      }
    } finally {
      db.close();
    }
  });

  it('no secret appears in any list or get response', async () => {
    const needles = new Needles(created.map((c) => c.secret));
    let listed = 0;
    for (const client of clients) {
      const res = await api(client, 'GET', '/secure_mode_secrets');
      assert.equal(res.status, 200);
      listed += res.body.data.length;
      assert.deepEqual(needles.findIn(res.text), []);
    }
    assert.equal(listed, created.length);
    let text = '';
    for (let start = 0; start < created.length; start += CONCURRENCY) {
      const batch = created.slice(start, start + CONCURRENCY);
      const responses = await Promise.all(batch.map((c) => api(clients[c.workspace]!, 'GET', `/secure_mode_secrets/${c.id}`)));
      for (const res of responses) {
        assert.equal(res.status, 200);
        text += res.text;
      }
    }
    assert.deepEqual(needles.findIn(text), []);
  });

  it('no secret, and no access token, appears in the captured logs', () => {
    const needles = new Needles(created.map((c) => c.secret));
    const logs = app.logs.text;
    assert.ok(logs.split('\n').length > created.length, 'every request was logged');
    assert.deepEqual(needles.findIn(logs), []);
    for (const { token } of clients) assert.ok(!logs.includes(token.slice(4, 20)), 'a token reached the logs');
  });

  it('no secret appears in the bytes of the SQLite files, while running and after close, deleted ones included', async () => {
    const needles = new Needles(created.map((c) => c.secret));
    // Soft-deleted rows stay in the database: they must stay encrypted too.
    for (const c of created.filter((_, i) => i % 10 === 0)) {
      assert.equal((await api(clients[c.workspace]!, 'DELETE', `/secure_mode_secrets/${c.id}`)).status, 204);
    }
    const running = sqliteFiles(dir);
    assert.ok(
      running.some((f) => f.endsWith('-wal')),
      'the WAL is searched while the server runs',
    );
    for (const file of running) assert.deepEqual(needles.findIn(readFileSync(file)), [], file);

    await app.close();
    const closed = sqliteFiles(dir);
    assert.ok(closed.length > 0);
    for (const file of closed) assert.deepEqual(needles.findIn(readFileSync(file)), [], file);

    // Proves the search finds what is there: one plaintext written into a copy of the database is found.
    const copy = Buffer.concat([readFileSync(closed[0]!), Buffer.from(created[42]!.secret, 'utf8')]);
    assert.deepEqual(needles.findIn(copy), [created[42]!.secret]);
    const raw = Buffer.concat([
      randomBytes(100),
      Buffer.from(created[43]!.secret, 'base64url').subarray(0, PROBE),
      randomBytes(100),
    ]);
    assert.deepEqual(needles.findIn(raw), [created[43]!.secret]);
  });
});

describe('master key', () => {
  const key = () => randomBytes(32).toString('base64');

  it('a wrong SECURE_MODE_MASTER_KEY refuses to start with one clear line that holds no key', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'secure-mode-wrong-key-'));
    try {
      const right = key();
      const first = await startTestApp({ dir, env: { SECURE_MODE_MASTER_KEY: right } });
      assert.equal((await api(first, 'POST', '/secure_mode_secrets', { body: { name: 'k', supports_web: true } })).status, 201);
      await first.close();

      const wrong = key();
      await assert.rejects(
        startTestApp({ dir, env: { SECURE_MODE_MASTER_KEY: wrong } }),
        (err: Error) =>
          err instanceof ConfigError &&
          /SECURE_MODE_MASTER_KEY/.test(err.message) &&
          !err.message.includes('\n') &&
          !err.message.includes(right) &&
          !err.message.includes(wrong),
      );
      // The right key still opens everything: refusing did not damage anything.
      const again = await startTestApp({ dir, env: { SECURE_MODE_MASTER_KEY: right } });
      assert.equal((await api(again, 'GET', '/secure_mode_secrets')).body.data.length, 1);
      await again.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a replaced master.key file refuses to start; the server says so in one line, no stack trace', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'secure-mode-wrong-file-'));
    try {
      const first = await startTestApp({ dir });
      assert.equal((await api(first, 'POST', '/secure_mode_secrets', { body: { name: 'k', supports_web: true } })).status, 201);
      await first.close();
      writeFileSync(join(dir, 'master.key'), `${key()}\n`, { mode: 0o600 });
      await assert.rejects(startTestApp({ dir }), ConfigError);

      const server = spawnServer({ SECURE_MODE_DATABASE_URL: `sqlite:${join(dir, 'secure-mode.db')}` });
      await assert.rejects(server, (err: Error) => {
        const lines = err.message.split('\n').filter((l) => l.trim() !== '');
        // spawnServer's own first line, then exactly what the server printed.
        assert.equal(lines.length, 2, err.message);
        assert.match(lines[1]!, /^secure-mode: .*master key/);
        assert.doesNotMatch(err.message, /\n\s+at /);
        return /exited with 1/.test(lines[0]!);
      });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a ciphertext copied onto another row does not open, and start-up refuses rather than serve it', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'secure-mode-moved-'));
    try {
      const first = await startTestApp({ dir });
      for (const name of ['one', 'two']) {
        assert.equal((await api(first, 'POST', '/secure_mode_secrets', { body: { name, supports_web: true } })).status, 201);
      }
      await first.close();
      const db = new Database(join(dir, 'secure-mode.db'));
      db.prepare('UPDATE secrets SET ciphertext = (SELECT ciphertext FROM secrets WHERE id = 2) WHERE id = 1').run();
      db.close();
      await assert.rejects(
        startTestApp({ dir }),
        (err: Error) => err instanceof ConfigError && /does not open/.test(err.message),
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
