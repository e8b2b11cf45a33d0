import assert from 'node:assert/strict';
import Database from 'better-sqlite3';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { StorageUnavailableError } from '../../src/domain/ports.js';
import { api, startTestApp, type TestApp } from '../helpers/app.js';
import { mountSmallFilesystem, type SmallFilesystem } from '../helpers/faults.js';
import { spawnServer } from '../helpers/process.js';

const DB = 'secure-mode.db';

/**
 * Fallback where this machine cannot mount a filesystem: every write method of the running store fails as SQLite
 * fails on a full disk. Returns the function that repairs it.
 */
function injectDiskFull(app: TestApp): () => void {
  const store = app.runtime.store as unknown as Record<string, unknown>;
  const writes = ['createSecret', 'deleteSecret', 'updateSecret', 'recordUsage', 'createToken', 'revokeToken', 'writeAudit'];
  const saved = writes.map((name) => [name, store[name]] as const);
  for (const name of writes) {
    store[name] = async () => {
      throw new StorageUnavailableError('sqlite: SQLITE_FULL (database or disk is full)');
    };
  }
  return () => {
    for (const [name, fn] of saved) store[name] = fn;
  };
}

/** The server's own connection, for the read-only fault. */
function serverConnection(app: TestApp): Database.Database {
  return (app.runtime.store as unknown as { db: Database.Database }).db;
}

function inspect(dir: string): {
  integrity: string;
  secrets: Array<{ id: number; name: string; deleted_at: number | null }>;
  audits: number;
  usage: number;
} {
  const db = new Database(join(dir, DB), { readonly: true });
  try {
    return {
      integrity: db.pragma('integrity_check', { simple: true }) as string,
      secrets: db.prepare('SELECT id, name, deleted_at FROM secrets ORDER BY id').all() as Array<{
        id: number;
        name: string;
        deleted_at: number | null;
      }>,
      audits: (db.prepare("SELECT count(*) AS n FROM audit_events WHERE action LIKE 'secret.%'").get() as { n: number }).n,
      usage: (db.prepare('SELECT coalesce(sum(count), 0) AS n FROM secret_usage').get() as { n: number }).n,
    };
  } finally {
    db.close();
  }
}

function assertUnavailable(res: { status: number; body: any; headers: Headers; text: string }): void {
  assert.equal(res.status, 503, res.text);
  assert.equal(res.body.type, 'error.list');
  assert.equal(res.body.errors[0].code, 'service_unavailable');
  assert.equal(res.body.request_id, res.headers.get('x-request-id'));
  assert.ok(!/SQLITE|stack|at /.test(res.text), 'no internals in the answer');
}

describe('disk full', () => {
  let fs: SmallFilesystem | undefined;
  let dir: string;
  let app: TestApp;
  const acknowledged: string[] = [];

  before(async () => {
    fs = mountSmallFilesystem(4 * 1024 * 1024);
    dir = fs?.dir ?? mkdtempSync(join(tmpdir(), 'secure-mode-disk-'));
    app = await startTestApp({ dir });
  });
  after(async () => {
    await app.close();
    if (fs) fs.unmount();
    else rmSync(dir, { recursive: true, force: true });
  });

  it(`answers writes with 503 service_unavailable while the disk is full, keeps reading, and recovers when space returns`, async (t) => {
    t.diagnostic(
      fs
        ? 'real filesystem: a 4 MiB tmpfs filled to ENOSPC'
        : 'fallback: this machine cannot mount; the store fails every write with SQLITE_FULL',
    );
    const first = await api(app, 'POST', '/secure_mode_secrets', { body: { name: 'before full', supports_web: true } });
    assert.equal(first.status, 201);
    acknowledged.push(first.body.id);
    app.runtime.usage.recordSuccess(Number(first.body.id), 'web', 'user_hash');

    // Empty the WAL so that the next commit must grow a file: it cannot reuse space already allocated.
    const side = new Database(join(dir, DB));
    side.pragma('wal_checkpoint(TRUNCATE)');
    side.close();
    let repair = () => fs?.unfill();
    if (fs) fs.fill();
    else repair = injectDiskFull(app);

    for (let i = 0; i < 5; i++) {
      assertUnavailable(
        await api(app, 'POST', '/secure_mode_secrets', { body: { name: `while full ${i}`, supports_web: true } }),
      );
    }
    assertUnavailable(await api(app, 'DELETE', `/secure_mode_secrets/${first.body.id}`));
    app.runtime.usage.recordSuccess(Number(first.body.id), 'web', 'user_hash');
    await assert.rejects(app.runtime.usage.flush(), 'the usage flush fails and keeps its counts');
    const list = await api(app, 'GET', '/secure_mode_secrets');
    assert.equal(list.status, 200, 'reads still work');
    assert.deepEqual(
      list.body.data.map((s: { id: string }) => s.id),
      acknowledged,
    );
    assert.equal(
      (await api(app, 'GET', '/readyz', { token: null })).status,
      200,
      'verification needs no write: the node stays ready',
    );

    repair();

    const after = await api(app, 'POST', '/secure_mode_secrets', { body: { name: 'after full', supports_web: true } });
    assert.equal(after.status, 201);
    acknowledged.push(after.body.id);
    await app.runtime.usage.flush();
    assert.equal((await api(app, 'DELETE', `/secure_mode_secrets/${first.body.id}`)).status, 204);
  });

  it('leaves an intact database holding exactly the acknowledged writes', async () => {
    await app.close();
    const state = inspect(dir);
    assert.equal(state.integrity, 'ok');
    assert.deepEqual(
      state.secrets.map((s) => [String(s.id), s.name]),
      [
        [acknowledged[0], 'before full'],
        [acknowledged[1], 'after full'],
      ],
    );
    assert.equal(state.secrets[0]!.deleted_at !== null, true);
    assert.equal(state.audits, 3, 'two creates and one delete: no audit row for a refused write');
    assert.equal(state.usage, 2, 'both verifications were counted: the one before the fault and the one during it');
  });
});

describe('read-only database', () => {
  it('answers writes with 503 while the database refuses writes, and recovers', async () => {
    const app = await startTestApp();
    try {
      const created = await api(app, 'POST', '/secure_mode_secrets', { body: { name: 'kept', supports_web: true } });
      assert.equal(created.status, 201);
      // The kernel refuses to remount a filesystem read-only while a process holds a file open for writing, so a
      // running server cannot be given a read-only disk; SQLite's query_only raises the same SQLITE_READONLY.
      serverConnection(app).pragma('query_only = ON');
      assertUnavailable(await api(app, 'POST', '/secure_mode_secrets', { body: { name: 'refused', supports_web: true } }));
      assertUnavailable(await api(app, 'DELETE', `/secure_mode_secrets/${created.body.id}`));
      assert.equal((await api(app, 'GET', `/secure_mode_secrets/${created.body.id}`)).status, 200);
      serverConnection(app).pragma('query_only = OFF');
      assert.equal((await api(app, 'POST', '/secure_mode_secrets', { body: { name: 'after', supports_web: true } })).status, 201);
      const names = (await api(app, 'GET', '/secure_mode_secrets')).body.data.map((s: { name: string }) => s.name);
      assert.deepEqual(names, ['kept', 'after']);
    } finally {
      await app.close();
    }
  });

  it('refuses to start on a read-only filesystem with one clear line, and starts once it is writable again', async (t) => {
    const fs = mountSmallFilesystem(8 * 1024 * 1024);
    if (!fs) {
      t.diagnostic('this machine cannot mount a filesystem: covered by the query_only case above');
      return;
    }
    const env = {
      SECURE_MODE_DATABASE_URL: `sqlite:${join(fs.dir, DB)}`,
      SECURE_MODE_BOOTSTRAP_TOKEN: 'ro-test-token-0123456789abcdef',
    };
    try {
      let server = await spawnServer(env);
      const created = await api({ url: server.url, token: env.SECURE_MODE_BOOTSTRAP_TOKEN }, 'POST', '/secure_mode_secrets', {
        body: { name: 'on disk', supports_web: true },
      });
      assert.equal(created.status, 201);
      assert.equal(await server.stop(), 0);

      fs.remount('ro');
      const refused = await spawnServer(env).then(
        () => assert.fail('started on a read-only filesystem'),
        (err: Error) => err.message,
      );
      const lines = refused.split('\n').filter((l) => l.startsWith('secure-mode:'));
      assert.equal(lines.length, 1, refused);
      assert.match(lines[0]!, /could not start: cannot open database .*secure-mode\.db \(sqlite: SQLITE_CANTOPEN/);

      fs.remount('rw');
      server = await spawnServer(env);
      const list = await api({ url: server.url, token: env.SECURE_MODE_BOOTSTRAP_TOKEN }, 'GET', '/secure_mode_secrets');
      assert.deepEqual(
        list.body.data.map((s: { name: string }) => s.name),
        ['on disk'],
      );
      assert.equal(await server.stop(), 0);
    } finally {
      fs.unmount();
    }
  });
});
