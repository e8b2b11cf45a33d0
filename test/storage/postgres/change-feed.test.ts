import assert from 'node:assert/strict';
import pg from 'pg';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { Keyring, parseMasterKey, secretAad } from '../../../src/crypto/keyring.js';
import type { ChangeSink } from '../../../src/domain/change-feed.js';
import { systemClock } from '../../../src/domain/clock.js';
import type { SecretChange } from '../../../src/domain/model.js';
import { PostgresChangeFeed } from '../../../src/storage/postgres/change-feed.js';
import { PostgresStore } from '../../../src/storage/postgres/postgres-store.js';
import type { AuditInput, Workspace } from '../../../src/domain/model.js';
import { createTestDatabase, skipWithoutPostgres, type TestDatabase } from '../../helpers/postgres.js';
import { TcpProxy } from '../../helpers/tcp-proxy.js';

const keyring = new Keyring(parseMasterKey(randomBytes(32).toString('base64'), 'test key'));

class RecordingSink implements ChangeSink {
  readonly changes: SecretChange[] = [];
  resyncs = 0;
  apply(change: SecretChange): void {
    this.changes.push(change);
  }
  resync(): void {
    this.resyncs++;
  }
  /** What this node would answer a guarded delete's question, per secret. */
  readonly unflushed = new Map<number, number>();
  unflushedLastVerified(secretId: number): number | undefined {
    return this.unflushed.get(secretId);
  }
}

async function until(condition: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

function audit(workspaceId: number, action: AuditInput['action']): Omit<AuditInput, 'targetId'> {
  return { workspaceId, actorTokenId: null, ip: null, requestId: null, action, targetType: 'secret', at: 1000 };
}

describe('PostgreSQL change feed', { skip: await skipWithoutPostgres() }, () => {
  let db: TestDatabase;
  let writer: PostgresStore;
  let workspace: Workspace;
  const url = () => db.url;

  before(async () => {
    db = await createTestDatabase();
    writer = new PostgresStore({ url: url(), nodeId: 'writer', poolSize: 2, connectTimeoutMs: 2000 });
    await writer.migrate();
    workspace = await writer.createWorkspace({
      appId: 'feedapp',
      name: 'W',
      defaultVersion: 'Preview',
      rateLimit: 10,
      createdAt: 1,
    });
  });
  after(async () => {
    await writer?.close();
    await db?.drop();
  });

  const create = (store: PostgresStore, seal?: (id: number) => Buffer) =>
    store.createSecret(
      {
        workspaceId: workspace.id,
        name: 's',
        supportsWeb: true,
        supportsIos: false,
        supportsAndroid: false,
        createdAt: 1,
        expiresAt: null,
      },
      100,
      seal ?? ((id) => keyring.encrypt(Buffer.from('m'), secretAad(workspace.id, id))),
      audit(workspace.id, 'secret.created'),
    );

  it('delivers committed changes of other nodes in order, never its own, never a rolled-back one', async () => {
    const sink = new RecordingSink();
    const feed = new PostgresChangeFeed({
      url: url(),
      notifyUrl: url(),
      proofTimeoutMs: 2000,
      nodeId: 'reader',
      clock: systemClock,
      heartbeatMs: 100,
      connectTimeoutMs: 2000,
    });
    const own = new PostgresStore({ url: url(), nodeId: 'reader', poolSize: 1, connectTimeoutMs: 2000 });
    try {
      await feed.start(sink);
      assert.equal(sink.resyncs, 1);
      await assert.rejects(
        create(writer, () => {
          throw new Error('seal failed');
        }),
      );
      const ownCreated = await create(own);
      assert.ok(ownCreated.ok);
      const created = await create(writer);
      assert.ok(created.ok);
      const id = created.secret.id;
      await writer.updateSecret(workspace.id, id, { supportsIos: true }, audit(workspace.id, 'secret.updated'));
      await writer.deleteSecret(workspace.id, id, 2, 'deleted', audit(workspace.id, 'secret.deleted'));
      await writer.deleteSecret(workspace.id, ownCreated.secret.id, 2, 'expired', audit(workspace.id, 'secret.expired'));
      await until(() => sink.changes.length >= 4, 'four changes');
      assert.deepEqual(sink.changes, [
        { workspaceId: workspace.id, secretId: id, kind: 'created' },
        { workspaceId: workspace.id, secretId: id, kind: 'updated' },
        { workspaceId: workspace.id, secretId: id, kind: 'deleted' },
        { workspaceId: workspace.id, secretId: ownCreated.secret.id, kind: 'expired' },
      ]);
    } finally {
      await feed.close();
      await own.close();
    }
  });

  it('answers heartbeats, stops vouching when cut off, and resyncs after reconnecting', async () => {
    const target = new URL(url());
    const proxy = await TcpProxy.start(target.hostname, Number(target.port || 5432));
    const proxied = new URL(url());
    proxied.port = String(proxy.port);
    const sink = new RecordingSink();
    const statuses: string[] = [];
    const feed = new PostgresChangeFeed({
      url: proxied.toString(),
      notifyUrl: url(),
      proofTimeoutMs: 2000,
      nodeId: 'reader',
      clock: systemClock,
      heartbeatMs: 100,
      connectTimeoutMs: 500,
      onStatus: (s) => statuses.push(s),
    });
    try {
      await feed.start(sink);
      const startedSync = feed.syncedAtMs();
      await until(() => feed.syncedAtMs() > startedSync, 'a heartbeat');

      for (const mode of ['blackhole', 'reset'] as const) {
        proxy.cut(mode);
        const cutAt = Date.now();
        const created = await create(writer);
        assert.ok(created.ok);
        await until(() => statuses.at(-1) === 'disconnected', `the feed to notice the ${mode}`);
        // Nothing committed after the cut can have been vouched for.
        assert.ok(feed.syncedAtMs() <= cutAt, `${mode}: synced ${feed.syncedAtMs()} after cut ${cutAt}`);
        const resyncs = sink.resyncs;
        proxy.restore();
        await until(() => sink.resyncs === resyncs + 1 && feed.syncedAtMs() > cutAt, `reconnection after the ${mode}`);
        assert.ok(
          !sink.changes.some((c) => c.secretId === created.secret.id),
          'the missed change is covered by resync, not replayed',
        );
        const after = await create(writer);
        assert.ok(after.ok);
        await until(() => sink.changes.some((c) => c.secretId === after.secret.id), `changes flowing after the ${mode}`);
      }
    } finally {
      await feed.close();
      await proxy.close();
    }
  });

  it('asks every other node for its unflushed last verification; a silent node seen within the lookback makes it incomplete', async () => {
    const feed = (nodeId: string) =>
      new PostgresChangeFeed({
        url: url(),
        notifyUrl: url(),
        proofTimeoutMs: 2000,
        nodeId,
        clock: systemClock,
        heartbeatMs: 100,
        connectTimeoutMs: 2000,
      });
    const [asker, b, c] = [feed('asker'), feed('node-b'), feed('node-c')];
    const [bSink, cSink] = [new RecordingSink(), new RecordingSink()];
    bSink.unflushed.set(7, 1_700_000_100);
    cSink.unflushed.set(7, 1_700_000_200);
    const question = { secretId: 7, lookbackMs: 60_000, timeoutMs: 1000 };
    const db = new pg.Client({ connectionString: url() });
    await db.connect();
    try {
      await asker.start(new RecordingSink());
      await b.start(bSink);
      await c.start(cSink);
      assert.deepEqual(await asker.askPeers(question), {
        lastVerifiedAt: 1_700_000_200,
        complete: true,
        detail: '2 of 2 other nodes answered in time',
      });
      assert.deepEqual(await asker.askPeers({ ...question, secretId: 8 }), {
        lastVerifiedAt: undefined,
        complete: true,
        detail: '2 of 2 other nodes answered in time',
      });

      // A node leaving cleanly removes itself: nobody waits for it.
      await c.close();
      assert.equal((await asker.askPeers(question)).lastVerifiedAt, 1_700_000_100);
      assert.equal((await asker.askPeers(question)).complete, true);

      // A node seen 5 s ago that does not answer (crashed, frozen, cut off) may have verified: no proof.
      const nowMs = '(extract(epoch FROM clock_timestamp()) * 1000)::bigint';
      await db.query(`INSERT INTO secure_mode_nodes (node_id, seen_at) VALUES ('silent', ${nowMs} - 5000)`);
      const startedAt = Date.now();
      const silent = await asker.askPeers(question);
      assert.ok(Date.now() - startedAt < 3000, 'the round ends at its timeout');
      assert.deepEqual(silent, {
        lastVerifiedAt: 1_700_000_100,
        complete: false,
        detail: '1 of 2 other nodes answered in time',
      });
      // ... unless it went silent before the lookback: then it cannot have verified within the window.
      assert.equal((await asker.askPeers({ ...question, lookbackMs: 4000 })).complete, true);
    } finally {
      await db.query("DELETE FROM secure_mode_nodes WHERE node_id = 'silent'").catch(() => undefined);
      await db.end();
      await Promise.all([asker.close(), b.close(), c.close()]);
    }
  });

  it('cannot vouch for the other nodes while it is not listening', async () => {
    const lonely = new PostgresChangeFeed({
      url: url(),
      notifyUrl: url(),
      proofTimeoutMs: 2000,
      nodeId: 'not-started',
      clock: systemClock,
      heartbeatMs: 100,
      connectTimeoutMs: 2000,
    });
    const answers = await lonely.askPeers({ secretId: 1, lookbackMs: 1000, timeoutMs: 100 });
    assert.equal(answers.complete, false);
    assert.match(answers.detail, /not connected/);
  });

  describe('start() proves the feed with a NOTIFY round trip', () => {
    const feedFor = (listenUrl: string, connectTimeoutMs = 2000) =>
      new PostgresChangeFeed({
        url: listenUrl,
        notifyUrl: url(),
        proofTimeoutMs: 1000,
        nodeId: 'reader',
        clock: systemClock,
        heartbeatMs: 100,
        connectTimeoutMs,
      });

    it('starts when the NOTIFY arrives, and the probe is no change to anyone', async () => {
      const sink = new RecordingSink();
      const other = new RecordingSink();
      const listening = feedFor(url());
      await listening.start(other);
      const feed = feedFor(url());
      try {
        await feed.start(sink);
        const created = await create(writer);
        assert.ok(created.ok);
        await until(() => other.changes.length === 1 && sink.changes.length === 1, 'the change on both feeds');
        assert.deepEqual(other.changes, sink.changes);
      } finally {
        await feed.close();
        await listening.close();
      }
    });

    it('refuses, in one line, when the LISTEN reaches another database (NOTIFY never arrives)', async () => {
      const elsewhere = await createTestDatabase();
      const feed = feedFor(elsewhere.url);
      const startedAt = Date.now();
      try {
        await assert.rejects(feed.start(new RecordingSink()), (err: Error) => {
          assert.match(err.message, /did not arrive on the LISTEN connection .* within 1000 ms/);
          assert.doesNotMatch(err.message, /\n/);
          return true;
        });
        assert.ok(Date.now() - startedAt < 10_000);
      } finally {
        await feed.close();
        await elsewhere.drop();
      }
    });

    it('refuses when nothing listens at the LISTEN URL, and when it drops every packet', async () => {
      const dead = await TcpProxy.start('127.0.0.1', 1);
      const port = dead.port;
      await dead.close();
      const refused = new URL(url());
      refused.port = String(port);
      await assert.rejects(
        feedFor(refused.toString()).start(new RecordingSink()),
        /the change feed does not work: .*ECONNREFUSED/,
      );

      const target = new URL(url());
      const blackhole = await TcpProxy.start(target.hostname, Number(target.port || 5432));
      blackhole.cut('blackhole');
      const dropped = new URL(url());
      dropped.port = String(blackhole.port);
      try {
        await assert.rejects(
          feedFor(dropped.toString(), 300).start(new RecordingSink()),
          /the change feed does not work: .*timeout/i,
        );
      } finally {
        await blackhole.close();
      }
    });
  });
});
