import Database from 'better-sqlite3';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { Keyring, parseMasterKey, secretAad } from '../../src/crypto/keyring.js';
import { api } from '../helpers/app.js';
import { spawnServer, type ServerProcess } from '../helpers/process.js';

/**
 * SIGKILL in the middle of a stream of creates and deletes, then a restart on the same file, several times over.
 * Whatever the client was told must hold, and whatever the client was not told about must be whole or absent.
 */

const PATH = '/secure_mode_secrets';
const ROUNDS = 3;
const WORKERS = 8;
/** The server is killed once this many more creates were acknowledged in a round. */
const CREATES_PER_ROUND = 60;
/** Deletes keep the workspace under the live-secret cap while the stream runs. */
const KEEP_LIVE = 20;

interface Acked {
  id: string;
  name: string;
  secret: string;
  supportsIos: boolean;
}

describe('crash safety', () => {
  const dir = mkdtempSync(join(tmpdir(), 'secure-mode-crash-'));
  const file = join(dir, 'secure-mode.db');
  const token = `smt_crash_test_${'k'.repeat(32)}`;
  const env = {
    SECURE_MODE_DATABASE_URL: `sqlite:${file}`,
    SECURE_MODE_BOOTSTRAP_TOKEN: token,
    SECURE_MODE_MAX_LIVE_SECRETS: '100',
  };
  let server: ServerProcess | undefined;
  after(async () => {
    await server?.kill();
    rmSync(dir, { recursive: true, force: true });
  });

  // What the client knows.
  const created = new Map<string, Acked>(); // by id: a 201 arrived
  const deleted = new Set<string>(); // a 204 arrived
  const createsInDoubt = new Map<string, boolean>(); // name → supports_ios: sent, no answer before the kill
  const deletesInDoubt = new Set<string>(); // id: sent, no answer before the kill
  let sequence = 0;

  async function stream(url: string): Promise<{ killedWithInFlight: number }> {
    let ackedThisRound = 0;
    let killing: Promise<void> | undefined;
    let inFlight = 0;
    let inFlightAtKill = 0;
    const client = { url, token };

    async function worker(): Promise<void> {
      while (!killing) {
        const live = [...created.keys()].filter((id) => !deleted.has(id) && !deletesInDoubt.has(id));
        const deleteOne = live.length > KEEP_LIVE;
        const target = live[0]!;
        const name = `crash #${sequence++}`;
        const supportsIos = sequence % 2 === 0;
        if (deleteOne) deletesInDoubt.add(target);
        else createsInDoubt.set(name, supportsIos);
        inFlight++;
        try {
          if (deleteOne) {
            const res = await api(client, 'DELETE', `${PATH}/${target}`);
            assert.equal(res.status, 204, res.text);
            deletesInDoubt.delete(target);
            deleted.add(target);
          } else {
            const res = await api(client, 'POST', PATH, { body: { name, supports_web: true, supports_ios: supportsIos } });
            assert.equal(res.status, 201, res.text);
            createsInDoubt.delete(name);
            created.set(res.body.id, { id: res.body.id, name, secret: res.body.secret, supportsIos });
            if (++ackedThisRound === CREATES_PER_ROUND && !killing) {
              inFlightAtKill = inFlight - 1;
              killing = server!.kill();
            }
          }
        } catch (err) {
          // Only the killed server may fail a request, and only by dropping the connection: it stays "in doubt".
          if (!killing || !(err instanceof TypeError)) throw err;
          return;
        } finally {
          inFlight--;
        }
      }
    }

    await Promise.all(Array.from({ length: WORKERS }, worker));
    await killing;
    return { killedWithInFlight: inFlightAtKill };
  }

  /** After a restart: the listed secrets are exactly what the client was told, plus some of what was in doubt. */
  async function checkListing(url: string): Promise<void> {
    const res = await api({ url, token }, 'GET', PATH);
    assert.equal(res.status, 200);
    const listed = new Map<string, { name: string; supports_ios: boolean }>(res.body.data.map((s: any) => [s.id, s]));
    for (const [id, acked] of created) {
      if (deleted.has(id)) {
        assert.ok(!listed.has(id), `secret ${id}: its delete was acknowledged, yet it is listed`);
      } else if (!deletesInDoubt.has(id)) {
        assert.ok(listed.has(id), `secret ${id}: its create was acknowledged, yet it is gone`);
        assert.equal(listed.get(id)!.name, acked.name);
        assert.equal(listed.get(id)!.supports_ios, acked.supportsIos);
      }
    }
    for (const [id, s] of listed) {
      if (created.has(id)) continue;
      assert.ok(createsInDoubt.has(s.name), `secret ${id} (${s.name}) was never asked for`);
      assert.equal(s.supports_ios, createsInDoubt.get(s.name));
    }
    // What is in doubt is now settled: adopt what the restart shows, so later rounds check it too.
    for (const [id, s] of listed) {
      if (!created.has(id)) created.set(id, { id, name: s.name, secret: '', supportsIos: s.supports_ios });
    }
    for (const id of deletesInDoubt) if (!listed.has(id)) deleted.add(id);
    createsInDoubt.clear();
    deletesInDoubt.clear();
  }

  it(`keeps every acknowledged write and nothing half-written across ${ROUNDS} SIGKILLs`, async () => {
    let inFlightKills = 0;
    for (let round = 0; round < ROUNDS; round++) {
      server = await spawnServer(env);
      if (round > 0) await checkListing(server.url);
      const { killedWithInFlight } = await stream(server.url);
      if (killedWithInFlight > 0) inFlightKills++;
    }
    // The kill happens while the other workers wait for answers; it would take all of them to finish at once to miss.
    assert.ok(inFlightKills > 0, 'at least one kill hit requests in flight');
    server = await spawnServer(env);
    await checkListing(server.url);
    assert.ok(created.size >= ROUNDS * CREATES_PER_ROUND);
    assert.equal(await server.stop(), 0, 'a graceful stop after the crashes');
    server = undefined;
  });

  it('the database file is intact: integrity_check ok, every row whole, audited and decryptable', () => {
    const db = new Database(file, { readonly: true });
    try {
      assert.equal(db.pragma('integrity_check', { simple: true }), 'ok');
      assert.deepEqual(db.pragma('foreign_key_check'), []);
      const keyring = new Keyring(parseMasterKey(readFileSync(join(dir, 'master.key'), 'utf8'), 'master.key'));
      const rows = db.prepare('SELECT id, workspace_id, ciphertext, key_id, deleted_at FROM secrets').all() as {
        id: number;
        workspace_id: number;
        ciphertext: Buffer;
        key_id: string;
        deleted_at: number | null;
      }[];
      assert.equal(rows.length, created.size, 'every row is one the client was told about or saw listed');
      for (const row of rows) {
        const acked = created.get(String(row.id));
        assert.ok(acked, `row ${row.id} is known`);
        assert.equal(row.key_id, keyring.current.id);
        const secret = keyring.decrypt(row.ciphertext, secretAad(row.workspace_id, row.id)).toString('utf8');
        assert.match(secret, /^[A-Za-z0-9_-]{43}$/);
        if (acked.secret !== '') assert.equal(secret, acked.secret, `row ${row.id} holds the secret its 201 showed`);
        assert.equal(row.deleted_at !== null, deleted.has(String(row.id)), `row ${row.id} deleted state`);
      }
      const audited = (action: string) =>
        new Set(
          (db.prepare('SELECT target_id FROM audit_events WHERE action = ?').all(action) as { target_id: string }[]).map(
            (r) => r.target_id,
          ),
        );
      assert.deepEqual(
        audited('secret.created'),
        new Set(rows.map((r) => String(r.id))),
        'each create wrote its audit event in its transaction',
      );
      assert.deepEqual(audited('secret.deleted'), new Set(rows.filter((r) => r.deleted_at !== null).map((r) => String(r.id))));
    } finally {
      db.close();
    }
  });
});
