import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Keyring, envelopeKeyId, parseMasterKey, secretAad, webhookSecretAad } from '../../src/crypto/keyring.js';
import { StorageUnavailableError } from '../../src/domain/ports.js';
import { PostgresStore } from '../../src/storage/postgres/postgres-store.js';
import { SqliteStore } from '../../src/storage/sqlite/sqlite-store.js';
import type { AuditInput, NewSecret, SecretChange, SecretRecord, Workspace } from '../../src/domain/model.js';
import type { Store } from '../../src/domain/ports.js';
import { createTestDatabase, skipWithoutPostgres, type TestDatabase } from '../helpers/postgres.js';

/** One Store contract, run against every adapter: the domain must not be able to tell them apart. */
interface Backend {
  name: string;
  skip: string | false;
  /** A fresh, migrated store on its own empty database. */
  open(): Promise<Store>;
  /** Another store on the same database as the last open(), as a second node would have. */
  openPeer(): Promise<Store>;
  /** A store whose database cannot be reached. */
  openUnreachable(): Promise<Store>;
  cleanup(): Promise<void>;
}

function sqliteBackend(): Backend {
  const dirs: string[] = [];
  let last = '';
  return {
    name: 'sqlite',
    skip: false,
    async open() {
      const dir = mkdtempSync(join(tmpdir(), 'secure-mode-store-'));
      dirs.push(dir);
      last = join(dir, 'db.sqlite');
      const store = new SqliteStore({ filename: last });
      await store.migrate();
      return store;
    },
    async openPeer() {
      const store = new SqliteStore({ filename: last });
      await store.migrate();
      return store;
    },
    async openUnreachable() {
      const store = new SqliteStore({ filename: ':memory:' });
      await store.close();
      return store;
    },
    async cleanup() {
      for (const d of dirs) rmSync(d, { recursive: true, force: true });
    },
  };
}

function postgresBackend(skip: string | false): Backend {
  const databases: TestDatabase[] = [];
  const nodeOptions = { nodeId: 'contract', poolSize: 4, connectTimeoutMs: 2000 };
  return {
    name: 'postgres',
    skip,
    async open() {
      const db = await createTestDatabase();
      databases.push(db);
      const store = new PostgresStore({ url: db.url, ...nodeOptions });
      await store.migrate();
      return store;
    },
    async openPeer() {
      const store = new PostgresStore({ url: databases.at(-1)!.url, ...nodeOptions });
      await store.migrate();
      return store;
    },
    async openUnreachable() {
      // Port 9 (discard) on loopback: nothing listens there, so every connection is refused.
      return new PostgresStore({ url: 'postgres://postgres@127.0.0.1:9/none', ...nodeOptions, connectTimeoutMs: 500 });
    },
    async cleanup() {
      for (const db of databases) await db.drop();
    },
  };
}

const keyring = new Keyring(parseMasterKey(randomBytes(32).toString('base64'), 'test key'));

function auditFor(workspaceId: number, action: AuditInput['action'], at = 1000): Omit<AuditInput, 'targetId'> {
  return { workspaceId, actorTokenId: null, ip: '127.0.0.1', requestId: 'req', action, targetType: 'secret', at };
}

function newSecret(workspaceId: number, name = 'web', createdAt = 1000): NewSecret {
  return { workspaceId, name, supportsWeb: true, supportsIos: false, supportsAndroid: true, createdAt, expiresAt: null };
}

async function addWorkspace(store: Store, appId = `app${randomBytes(4).toString('hex')}`): Promise<Workspace> {
  return store.createWorkspace({ appId, name: 'W', defaultVersion: 'Preview', rateLimit: 100, createdAt: 1000 });
}

async function addEndpoint(store: Store, workspace: Workspace, events: string[], url = 'https://hooks.example/in') {
  return store.createWebhookEndpoint(
    { workspaceId: workspace.id, url, events: events as never, description: null, createdAt: 1000 },
    (id) => keyring.encrypt(randomBytes(32), webhookSecretAad(workspace.id, id)),
  );
}

/** Every delivery due by then, claimed (and so leased) for a minute; as "endpoint:action". */
async function drain(store: Store, nowMs = 10_000_000): Promise<string[]> {
  const claimed = await store.claimDueDeliveries(nowMs, nowMs + 60_000, 1000);
  return claimed.map((d) => `${d.endpoint.id}:${d.event.action}`).sort();
}

async function addSecret(store: Store, workspace: Workspace, name = 'web', maxLive = 5) {
  const result = await store.createSecret(
    newSecret(workspace.id, name),
    maxLive,
    (id) => keyring.encrypt(Buffer.from(`material-${id}`), secretAad(workspace.id, id)),
    auditFor(workspace.id, 'secret.created'),
  );
  assert.ok(result.ok);
  return result.secret;
}

function contract(backend: Backend): void {
  describe(`Store contract: ${backend.name}`, { skip: backend.skip }, () => {
    let store: Store;
    before(async () => {
      store = await backend.open();
    });
    after(async () => {
      await store?.close();
      await backend.cleanup();
    });

    it('migrates idempotently and answers ping', async () => {
      await store.migrate();
      await store.ping();
      assert.equal(store.kind, backend.name);
    });

    it('creates, finds and counts workspaces, with an audit event', async () => {
      const before = (await store.listWorkspaces()).length;
      const w = await addWorkspace(store, 'appcontract1');
      assert.ok(Number.isSafeInteger(w.id));
      assert.deepEqual(await store.findWorkspaceByAppId('appcontract1'), w);
      assert.equal(await store.findWorkspaceByAppId('nope'), undefined);
      assert.equal((await store.listWorkspaces()).length, before + 1);
      assert.deepEqual((await store.listWorkspaces()).at(-1), w);
      const audit = await store.listAudit({ workspaceId: w.id, limit: 10 });
      assert.deepEqual(
        audit.map((a) => [a.action, a.targetType, a.targetId]),
        [['workspace.created', 'workspace', 'appcontract1']],
      );
    });

    it('stores tokens by hash, finds live ones with their workspace, revokes once', async () => {
      const w = await addWorkspace(store);
      const hash = randomBytes(32);
      const audit = {
        actorTokenId: null,
        ip: null,
        requestId: null,
        action: 'token.created' as const,
        targetType: 'token' as const,
        at: 1000,
      };
      const token = await store.createToken(
        { workspaceId: w.id, name: 't', tokenHash: hash, scopes: ['read_all', 'write_secure_mode_secret'], createdAt: 1000 },
        audit,
      );
      assert.deepEqual(token.scopes, ['read_all', 'write_secure_mode_secret']);
      const found = await store.findTokenByHash(hash);
      assert.deepEqual(found, { token, workspace: w });
      assert.deepEqual(await store.listTokens(w.id), [token]);
      const revoked = await store.revokeToken(token.id, 2000, { ...audit, action: 'token.revoked' });
      assert.equal(revoked?.revokedAt, 2000);
      assert.equal(await store.findTokenByHash(hash), undefined);
      assert.equal((await store.revokeToken(token.id, 3000, { ...audit, action: 'token.revoked' }))?.revokedAt, 2000);
      assert.equal(await store.revokeToken(999_999, 3000, { ...audit, action: 'token.revoked' }), undefined);
      const actions = (await store.listAudit({ workspaceId: w.id, limit: 10 })).map((a) => a.action);
      assert.deepEqual(actions, ['token.revoked', 'token.created', 'workspace.created']);
    });

    it("emits exactly each secret mutation's change once it has committed, and none when it rolls back", async () => {
      const w = await addWorkspace(store);
      const peer = await backend.openPeer();
      const heard: { change: SecretChange; seen: Promise<SecretRecord | undefined> }[] = [];
      // What another connection reads when the change arrives: only a committed change is visible there.
      const stop = store.onChange((change) => heard.push({ change, seen: peer.getSecret(change.workspaceId, change.secretId) }));
      try {
        const created = await addSecret(store, w, 'emits');
        const updated = await store.updateSecret(w.id, created.id, { name: 'renamed' }, auditFor(w.id, 'secret.updated'));
        assert.equal((await store.updateSecret(w.id, created.id, {}, auditFor(w.id, 'secret.updated')))?.name, 'renamed');
        const second = await addSecret(store, w, 'expires');
        await store.deleteSecret(w.id, second.id, 2000, 'expired', auditFor(w.id, 'secret.expired'));
        await store.deleteSecret(w.id, created.id, 2000, 'deleted', auditFor(w.id, 'secret.deleted'));
        assert.equal(await store.deleteSecret(w.id, created.id, 2001, 'deleted', auditFor(w.id, 'secret.deleted')), undefined);
        assert.deepEqual(
          heard.map((h) => [h.change.workspaceId, h.change.secretId, h.change.kind]),
          [
            [w.id, created.id, 'created'],
            [w.id, created.id, 'updated'],
            [w.id, second.id, 'created'],
            [w.id, second.id, 'expired'],
            [w.id, created.id, 'deleted'],
          ],
        );
        const seen = await Promise.all(heard.map((h) => h.seen));
        assert.ok(seen.every((record) => record !== undefined));
        assert.equal(seen[1]?.name, updated?.name);
        assert.equal(seen[3]?.deletedReason, 'expired');
        assert.equal(seen[4]?.deletedReason, 'deleted');

        heard.length = 0;
        const failing = { ...auditFor(w.id, 'secret.updated'), details: { poison: 1n as unknown as number } };
        const live = await addSecret(store, w, 'stays');
        heard.length = 0;
        await assert.rejects(store.updateSecret(w.id, live.id, { name: 'never' }, failing));
        await assert.rejects(store.deleteSecret(w.id, live.id, 3000, 'deleted', failing));
        await assert.rejects(
          store.createSecret(
            newSecret(w.id, 'never'),
            5,
            () => {
              throw new Error('seal failed');
            },
            auditFor(w.id, 'secret.created'),
          ),
        );
        assert.deepEqual(heard, []);
        assert.deepEqual(
          (await store.listSecrets(w.id)).map((s) => [s.id, s.name]),
          [[live.id, 'stays']],
        );
      } finally {
        stop();
        await peer.close();
      }
    });

    it('creates a secret sealed with its own id, lists it, and keeps its audit event', async () => {
      const w = await addWorkspace(store);
      const sealedWith: number[] = [];
      const result = await store.createSecret(
        newSecret(w.id, 'Production'),
        5,
        (id) => {
          sealedWith.push(id);
          return keyring.encrypt(Buffer.from('plain'), secretAad(w.id, id));
        },
        { ...auditFor(w.id, 'secret.created'), details: { name: 'Production', supports_web: true } },
      );
      assert.ok(result.ok);
      assert.deepEqual(sealedWith, [result.secret.id]);
      assert.deepEqual(await store.listSecrets(w.id), [result.secret]);
      assert.deepEqual(await store.getSecret(w.id, result.secret.id), result.secret);
      const [material] = await store.loadLiveSecretMaterial(w.id);
      assert.equal(keyring.decrypt(material!.ciphertext, secretAad(w.id, result.secret.id)).toString(), 'plain');
      const [event] = await store.listAudit({ workspaceId: w.id, actions: ['secret.created'], limit: 10 });
      assert.equal(event?.targetId, String(result.secret.id));
      assert.deepEqual(event?.details, { name: 'Production', supports_web: true });
    });

    it('refuses a create past the live-secret cap, and a failed seal leaves nothing behind', async () => {
      const w = await addWorkspace(store);
      await addSecret(store, w, 'a', 2);
      await addSecret(store, w, 'b', 2);
      const refused = await store.createSecret(
        newSecret(w.id, 'c'),
        2,
        () => assert.fail('no seal past the cap'),
        auditFor(w.id, 'secret.created'),
      );
      assert.deepEqual(refused, { ok: false, reason: 'limit_reached' });
      await assert.rejects(
        store.createSecret(
          newSecret(w.id, 'd'),
          5,
          () => {
            throw new Error('seal failed');
          },
          auditFor(w.id, 'secret.created'),
        ),
        /seal failed/,
      );
      assert.deepEqual(
        (await store.listSecrets(w.id)).map((s) => s.name),
        ['a', 'b'],
      );
      assert.equal((await store.listAudit({ workspaceId: w.id, actions: ['secret.created'], limit: 10 })).length, 2);
    });

    it('never exceeds the cap when two nodes create at once', async () => {
      const w = await addWorkspace(store);
      const peer = await backend.openPeer();
      try {
        const attempts = Array.from({ length: 12 }, (_, i) =>
          (i % 2 === 0 ? store : peer).createSecret(
            newSecret(w.id, `s${i}`),
            3,
            (id) => keyring.encrypt(Buffer.from('x'), secretAad(w.id, id)),
            auditFor(w.id, 'secret.created'),
          ),
        );
        const results = await Promise.all(attempts);
        assert.equal(results.filter((r) => r.ok).length, 3);
        assert.equal((await store.listSecrets(w.id)).length, 3);
      } finally {
        await peer.close();
      }
    });

    it('updates, soft-deletes and expires secrets; deleted ones stay readable for diagnosis', async () => {
      const w = await addWorkspace(store);
      const a = await addSecret(store, w, 'a');
      const b = await addSecret(store, w, 'b');
      const updated = await store.updateSecret(
        w.id,
        a.id,
        { supportsIos: true, expiresAt: 5000 },
        auditFor(w.id, 'secret.updated'),
      );
      assert.equal(updated?.supportsIos, true);
      assert.equal(updated?.expiresAt, 5000);
      assert.equal(await store.updateSecret(w.id, 999_999, { name: 'x' }, auditFor(w.id, 'secret.updated')), undefined);
      assert.deepEqual(
        (await store.listExpiredSecrets(4999, 10)).map((s) => s.id),
        [],
      );
      assert.deepEqual(
        (await store.listExpiredSecrets(5000, 10)).map((s) => s.id),
        [a.id],
      );

      const deleted = await store.deleteSecret(w.id, b.id, 2000, 'deleted', auditFor(w.id, 'secret.deleted', 2000));
      assert.equal(deleted?.deletedAt, 2000);
      assert.equal(deleted?.deletedReason, 'deleted');
      assert.equal(await store.deleteSecret(w.id, b.id, 2001, 'deleted', auditFor(w.id, 'secret.deleted')), undefined);
      const other = await addWorkspace(store);
      assert.equal(await store.deleteSecret(other.id, a.id, 2001, 'deleted', auditFor(other.id, 'secret.deleted')), undefined);
      assert.equal(await store.updateSecret(w.id, b.id, { name: 'z' }, auditFor(w.id, 'secret.updated')), undefined);

      const expired = await store.deleteSecret(w.id, a.id, 5000, 'expired', auditFor(w.id, 'secret.expired', 5000));
      assert.equal(expired?.deletedReason, 'expired');
      assert.deepEqual(await store.listSecrets(w.id), []);
      assert.deepEqual(await store.loadLiveSecretMaterial(w.id), []);
      assert.equal((await store.getSecret(w.id, b.id))?.deletedAt, 2000);
      assert.deepEqual(
        (await store.loadDeletedSecretMaterial(w.id, 10)).map((s) => s.id),
        [a.id, b.id],
      );
      assert.deepEqual(
        (await store.loadDeletedSecretMaterial(w.id, 1)).map((s) => s.id),
        [a.id],
      );
      const actions = (await store.listAudit({ workspaceId: w.id, limit: 10 })).map((e) => e.action);
      assert.deepEqual(actions.slice(0, 3), ['secret.expired', 'secret.deleted', 'secret.updated']);
    });

    it('adds usage from several nodes and only moves last_verified_at forward', async () => {
      const w = await addWorkspace(store);
      const s = await addSecret(store, w);
      const peer = await backend.openPeer();
      try {
        await Promise.all([
          store.recordUsage([{ secretId: s.id, platform: 'web', minute: 100, count: 3 }], new Map([[s.id, 6000]])),
          peer.recordUsage(
            [
              { secretId: s.id, platform: 'web', minute: 100, count: 4 },
              { secretId: s.id, platform: 'android', minute: 101, count: 1 },
            ],
            new Map([[s.id, 6030]]),
          ),
        ]);
        await store.recordUsage([{ secretId: s.id, platform: 'web', minute: 101, count: 2 }], new Map([[s.id, 5000]]));
      } finally {
        await peer.close();
      }
      assert.equal((await store.getSecret(w.id, s.id))?.lastVerifiedAt, 6030);
      const totals = await store.usageTotals([s.id], 0);
      assert.deepEqual(
        totals.sort((a, b) => a.platform.localeCompare(b.platform)),
        [
          { secretId: s.id, platform: 'android', count: 1 },
          { secretId: s.id, platform: 'web', count: 9 },
        ],
      );
      assert.deepEqual(await store.usageTotals([s.id], 102), []);
      const series = await store.usageSeries([s.id], 101);
      assert.deepEqual(
        series.sort((a, b) => a.platform.localeCompare(b.platform)),
        [
          { secretId: s.id, platform: 'android', minute: 101, count: 1 },
          { secretId: s.id, platform: 'web', minute: 101, count: 2 },
        ],
      );
      assert.deepEqual(await store.usageTotals([], 0), []);
    });

    it('finds ciphertexts per key and swaps one only if it is unchanged', async () => {
      const w = await addWorkspace(store);
      const s = await addSecret(store, w);
      const other = new Keyring(parseMasterKey(randomBytes(32).toString('base64'), 'other'));
      const mine = (await store.listSecretsNotUnderKey(other.current.id, 0, 1000)).find((p) => p.id === s.id);
      assert.ok(mine);
      const rewrapped = other.encrypt(Buffer.from('material'), secretAad(w.id, s.id));
      assert.equal(await store.replaceCiphertext(s.id, Buffer.from('stale'), rewrapped), false);
      assert.equal(await store.replaceCiphertext(s.id, mine.ciphertext, rewrapped), true);
      assert.ok(!(await store.listSecretsNotUnderKey(other.current.id, 0, 1000)).some((p) => p.id === s.id));
      const perKey = await store.oneSecretPerKey();
      assert.deepEqual(
        perKey.filter((r) => envelopeKeyId(r.ciphertext) === other.current.id).map((r) => r.id),
        [s.id],
      );
      assert.equal(new Set(perKey.map((r) => envelopeKeyId(r.ciphertext))).size, perKey.length);
    });

    it('filters and pages the audit log, newest first', async () => {
      const w = await addWorkspace(store);
      for (let i = 0; i < 5; i++)
        await store.writeAudit({ ...auditFor(w.id, i % 2 ? 'secret.deleted' : 'secret.created', 100 + i), targetId: String(i) });
      const all = await store.listAudit({ workspaceId: w.id, limit: 100, actions: ['secret.created', 'secret.deleted'] });
      assert.deepEqual(
        all.map((e) => e.targetId),
        ['4', '3', '2', '1', '0'],
      );
      const page = await store.listAudit({ workspaceId: w.id, limit: 2, beforeId: all[1]!.id });
      assert.deepEqual(
        page.map((e) => e.targetId),
        ['2', '1'],
      );
      const window = await store.listAudit({
        workspaceId: w.id,
        limit: 100,
        since: 101,
        until: 103,
        actions: ['secret.deleted'],
      });
      assert.deepEqual(
        window.map((e) => e.targetId),
        ['3', '1'],
      );
    });

    it('keeps idempotency records with the secret until they expire', async () => {
      const w = await addWorkspace(store);
      const create = (now: number) =>
        store.createSecret(
          newSecret(w.id),
          5,
          (id) => keyring.encrypt(Buffer.from(`material-${id}`), secretAad(w.id, id)),
          auditFor(w.id, 'secret.created'),
          {
            key: 'k1',
            tokenId: 42,
            requestHash: Buffer.from('h'),
            now,
            expiresAt: 2000,
            seal: (secret) => Buffer.from(`response-${secret.id}`),
          },
        );
      const first = await create(1000);
      assert.ok(first.ok);
      const replay = await create(1999);
      assert.equal(replay.ok, false);
      assert.ok(!replay.ok && replay.reason === 'idempotent_replay');
      assert.deepEqual(replay.record.response, Buffer.from(`response-${first.secret.id}`));
      assert.deepEqual(replay.record.requestHash, Buffer.from('h'));
      assert.equal(replay.record.tokenId, 42, 'the record keeps the token that created it');
      assert.equal((await store.listSecrets(w.id)).length, 1, 'a replay writes nothing');
      assert.ok((await store.deleteExpiredIdempotency(2000)) >= 1);
      const again = await create(2000);
      assert.ok(again.ok, 'the key is free once its record expired');
    });

    it('the audit log is the outbox: a committed event queues one delivery per subscribed live endpoint, a rolled-back one none', async () => {
      const w = await addWorkspace(store);
      const other = await addWorkspace(store);
      const deletesOnly = await addEndpoint(store, w, ['secret.deleted']);
      const everything = await addEndpoint(store, w, ['*']);
      const gone = await addEndpoint(store, w, ['*']);
      const elsewhere = await addEndpoint(store, other, ['*']);
      assert.deepEqual(
        (await store.listWebhookEndpoints(w.id)).map((e) => [e.id, e.events]),
        [
          [deletesOnly.id, ['secret.deleted']],
          [everything.id, ['*']],
          [gone.id, ['*']],
        ],
      );
      assert.ok(await store.deleteWebhookEndpoint(w.id, gone.id, 1000));
      assert.equal(await store.deleteWebhookEndpoint(w.id, gone.id, 1000), undefined);
      assert.equal(await store.getWebhookEndpoint(other.id, everything.id), undefined);
      assert.equal(await store.getWebhookEndpoint(w.id, elsewhere.id), undefined);
      assert.equal((await store.getWebhookEndpoint(w.id, everything.id))?.url, 'https://hooks.example/in');
      await drain(store);

      let queued = 0;
      const stop = store.onDeliveriesQueued(() => queued++);
      try {
        const pending = await store.countPendingDeliveries();
        const secret = await addSecret(store, w, 'outbox');
        assert.equal(await store.countPendingDeliveries(), pending + 1, 'queued: pending');
        assert.deepEqual(await drain(store), [`${everything.id}:secret.created`]);
        assert.equal(await store.countPendingDeliveries(), pending + 1, 'claimed, not yet delivered: still pending');
        assert.equal(queued, 1);
        await store.deleteSecret(w.id, secret.id, 1001, 'deleted', auditFor(w.id, 'secret.deleted', 1001));
        assert.deepEqual(await drain(store), [`${deletesOnly.id}:secret.deleted`, `${everything.id}:secret.deleted`]);
        // Expiry is a delete to subscribers: secret.expired reaches secret.deleted subscriptions.
        const expiring = await addSecret(store, w, 'expiring');
        await drain(store);
        await store.deleteSecret(w.id, expiring.id, 1002, 'expired', auditFor(w.id, 'secret.expired', 1002));
        assert.deepEqual(await drain(store), [`${deletesOnly.id}:secret.expired`, `${everything.id}:secret.expired`]);
        // Not an event: no delivery.
        await store.createToken(
          { workspaceId: w.id, name: 't', tokenHash: randomBytes(32), scopes: ['read_all'], createdAt: 1000 },
          { actorTokenId: null, ip: null, requestId: null, action: 'token.created', targetType: 'token', at: 1000 },
        );
        queued = 0;
        await assert.rejects(
          store.createSecret(
            newSecret(w.id, 'rolled back'),
            5,
            () => {
              throw new Error('seal failed');
            },
            auditFor(w.id, 'secret.created'),
          ),
          /seal failed/,
        );
        assert.deepEqual(await drain(store), []);
        assert.equal(queued, 0);
        assert.equal(await store.nextDeliveryDueAt(), 10_000_000 + 60_000);
      } finally {
        stop();
      }
    });

    it('claims each due delivery once across nodes, leases it, and records an attempt only under the latest claim', async () => {
      const w = await addWorkspace(store);
      const endpoint = await addEndpoint(store, w, ['secret.created']);
      await drain(store, 50_000_000);
      for (let i = 0; i < 30; i++) await addSecret(store, w, `c${i}`, 100);
      const peer = await backend.openPeer();
      try {
        const now = 20_000_000;
        const claimedBy = await Promise.all(
          Array.from({ length: 10 }, (_, i) => (i % 2 === 0 ? store : peer).claimDueDeliveries(now, now + 30_000, 4)),
        );
        let claimed = claimedBy.flat();
        for (let more = await store.claimDueDeliveries(now, now + 30_000, 100); more.length > 0;) {
          claimed = claimed.concat(more);
          more = await peer.claimDueDeliveries(now, now + 30_000, 100);
        }
        const ids = claimed.map((d) => d.id);
        assert.equal(ids.length, 30);
        assert.equal(new Set(ids).size, 30, 'no delivery claimed twice');
        assert.ok(claimed.every((d) => d.endpoint.id === endpoint.id && d.attempts === 0 && d.event.action === 'secret.created'));
        // Leased: nothing is due again before the lease ends; after it, the same delivery under a new claim.
        assert.deepEqual(await peer.claimDueDeliveries(now + 29_999, now + 60_000, 100), []);
        const first = claimed[0]!;
        const [again] = (await peer.claimDueDeliveries(now + 30_000, now + 60_000, 100)).filter((d) => d.id === first.id);
        assert.ok(again && again.claim > first.claim);
        const attempt = {
          deliveryId: first.id,
          attemptedAtMs: now,
          durationMs: 12,
          status: 500,
          error: null,
          state: 'pending' as const,
          nextAttemptAtMs: now + 5000,
        };
        assert.equal(
          await store.recordDeliveryAttempt({ ...attempt, claim: first.claim }),
          false,
          'a stale claim records nothing',
        );
        assert.equal(await store.recordDeliveryAttempt({ ...attempt, claim: again.claim }), true);
        assert.equal(await store.recordDeliveryAttempt({ ...attempt, claim: again.claim }), false, 'one attempt per claim');
        const [third] = (await store.claimDueDeliveries(now + 5000, now + 90_000, 100)).filter((d) => d.id === first.id);
        assert.equal(third?.attempts, 1);
        assert.equal(
          await store.recordDeliveryAttempt({ ...attempt, claim: third!.claim, state: 'succeeded', status: 204 }),
          true,
        );
        assert.equal(
          await store.recordDeliveryAttempt({ ...attempt, claim: third!.claim }),
          false,
          'a finished delivery stays finished',
        );
        const listed = await store.listDeliveryAttempts(w.id, endpoint.id, 10);
        assert.deepEqual(
          listed.map((a) => [a.deliveryId, a.status, a.state, a.action]),
          [
            [first.id, 204, 'succeeded', 'secret.created'],
            [first.id, 500, 'pending', 'secret.created'],
          ],
        );
        assert.deepEqual(await store.listDeliveryAttempts(w.id + 1000, endpoint.id, 10), []);
      } finally {
        await peer.close();
      }
    });

    const startRotationOf = (w: Workspace, from: SecretRecord, options: { deliver?: boolean; byPolicy?: boolean } = {}) =>
      store.startRotation({
        rotation: {
          workspaceId: w.id,
          fromSecretId: from.id,
          idleFor: 60,
          deadline: null,
          createdAt: 2000,
          deliver: options.deliver === true,
          createdAtMs: 2_000_000,
        },
        successor: (old) => ({ ...newSecret(w.id, `${old.name} next`, 2000) }),
        maxLive: 10,
        seal: (id) => keyring.encrypt(Buffer.from(`material-${id}`), secretAad(w.id, id)),
        audit: (_old, _successor, rotation) => [
          { ...auditFor(w.id, 'rotation.started', 2000), targetType: 'rotation', targetId: String(rotation.id) },
        ],
        ...(options.byPolicy ? { byPolicy: true } : {}),
      });
    const rotationAudit = (w: Workspace, id: number, action: AuditInput['action']): AuditInput => ({
      ...auditFor(w.id, action, 2100),
      targetType: 'rotation',
      targetId: String(id),
    });

    const cancelRotation = (w: Workspace, id: number) =>
      store.transitionRotation({
        workspaceId: w.id,
        id,
        expected: { state: 'rolling_out', overdue: false },
        next: { state: 'cancelled', overdue: false, completedAt: 2001, updatedAt: 2001 },
        audit: rotationAudit(w, id, 'rotation.cancelled'),
      });

    it('claims a due rollout run for one node, records its outcome once, and releases it', async () => {
      const w = await addWorkspace(store);
      const plain = await startRotationOf(w, await addSecret(store, w, 'plain'));
      const started = await startRotationOf(w, await addSecret(store, w, 'delivered'), { deliver: true });
      assert.ok(plain.ok && started.ok);
      assert.equal(plain.rotation.deliver, false);
      assert.equal(plain.rotation.deliveryNextAtMs, null);
      assert.equal(started.rotation.deliver, true);
      assert.equal(started.rotation.deliveredAt, null);
      assert.equal(started.rotation.deliveryNextAtMs, 2_000_000);
      const mine = (rows: { id: number; workspaceId: number }[]) => rows.filter((r) => r.workspaceId === w.id).map((r) => r.id);
      const id = started.rotation.id;
      assert.deepEqual(mine(await store.listDueDeliveries(1_999_999, 100)), []);
      assert.deepEqual(mine(await store.listDueDeliveries(2_000_000, 100)), [id]);

      const peer = await backend.openPeer();
      try {
        const a = { workspaceId: w.id, rotationId: id, claim: 'claim-a' };
        const b = { workspaceId: w.id, rotationId: id, claim: 'claim-b' };
        const claims = await Promise.all([
          store.claimDelivery(a, 2_000_000, 2_010_000),
          peer.claimDelivery(b, 2_000_000, 2_010_000),
        ]);
        assert.equal(claims.filter(Boolean).length, 1, 'one of two nodes claims the run');
        const [won, lost] = claims[0] ? [a, b] : [b, a];
        assert.deepEqual(mine(await store.listDueDeliveries(2_005_000, 100)), [], 'a claimed run is not due');
        assert.equal(
          await store.finishDelivery(lost, { delivered: true, at: 2001, audit: rotationAudit(w, id, 'rotation.delivered') }),
          false,
        );

        // A failure: the attempt is counted, the next run is due later, the claim is gone.
        assert.equal(
          await store.finishDelivery(won, {
            delivered: false,
            nextAtMs: 2_005_000,
            audit: rotationAudit(w, id, 'rotation.delivery_failed'),
          }),
          true,
        );
        let r = await store.getRotation(w.id, id);
        assert.equal(r?.deliveryAttempts, 1);
        assert.equal(r?.deliveryNextAtMs, 2_005_000);
        assert.deepEqual(mine(await store.listDueDeliveries(2_004_999, 100)), []);
        assert.deepEqual(mine(await store.listDueDeliveries(2_005_000, 100)), [id]);

        // A claim that lapsed (its node died) may be taken by another node; the old holder can no longer record.
        const c = { workspaceId: w.id, rotationId: id, claim: 'claim-c' };
        const d = { workspaceId: w.id, rotationId: id, claim: 'claim-d' };
        assert.ok(await store.claimDelivery(c, 2_005_000, 2_006_000));
        assert.equal(await peer.claimDelivery(d, 2_005_999, 2_100_000), undefined);
        assert.ok(await peer.claimDelivery(d, 2_006_000, 2_100_000));
        assert.equal(
          await store.finishDelivery(c, { delivered: true, at: 2006, audit: rotationAudit(w, id, 'rotation.delivered') }),
          false,
        );

        // Released (a node stopping): due again at once, nothing recorded.
        await peer.releaseDelivery(d);
        assert.deepEqual(mine(await store.listDueDeliveries(2_006_000, 100)), [id]);
        const e = { workspaceId: w.id, rotationId: id, claim: 'claim-e' };
        assert.ok(await store.claimDelivery(e, 2_006_000, 2_100_000));
        assert.equal(
          await store.finishDelivery(e, { delivered: true, at: 2007, audit: rotationAudit(w, id, 'rotation.delivered') }),
          true,
        );
        r = await store.getRotation(w.id, id);
        assert.equal(r?.deliveredAt, 2007);
        assert.equal(r?.deliveryNextAtMs, null);
        assert.equal(r?.deliveryAttempts, 1);
        assert.deepEqual(mine(await store.listDueDeliveries(9_999_999, 100)), []);
        const events = (await store.listAudit({ workspaceId: w.id, limit: 20 }))
          .filter((x) => x.targetType === 'rotation' && x.targetId === String(id))
          .map((x) => x.action);
        assert.deepEqual(events, ['rotation.delivered', 'rotation.delivery_failed', 'rotation.started']);
      } finally {
        await peer.close();
      }
    });

    it('warns of an expiry once across nodes, and again for a new expires_at', async () => {
      const w = await addWorkspace(store);
      const secret = await addSecret(store, w, 'soon');
      const updated = await store.updateSecret(w.id, secret.id, { expiresAt: 5000 }, auditFor(w.id, 'secret.updated'));
      assert.ok(updated);
      const due = (await store.listSecretsToWarn(5000, 100)).filter((s) => s.id === secret.id);
      assert.equal(due.length, 1);
      assert.deepEqual(
        (await store.listSecretsToWarn(4999, 100)).filter((s) => s.id === secret.id),
        [],
      );
      const peer = await backend.openPeer();
      try {
        const warning = { ...auditFor(w.id, 'secret.expiring'), targetId: String(secret.id) };
        const results = await Promise.all([store.markExpiryWarned(due[0]!, warning), peer.markExpiryWarned(due[0]!, warning)]);
        assert.deepEqual(results.sort(), [false, true]);
        assert.equal((await store.listAudit({ workspaceId: w.id, actions: ['secret.expiring'], limit: 10 })).length, 1);
        assert.deepEqual(
          (await store.listSecretsToWarn(5000, 100)).filter((s) => s.id === secret.id),
          [],
        );
        const moved = await store.updateSecret(w.id, secret.id, { expiresAt: 6000 }, auditFor(w.id, 'secret.updated'));
        assert.equal((await peer.listSecretsToWarn(6000, 100)).filter((s) => s.id === moved!.id).length, 1);
      } finally {
        await peer.close();
      }
    });

    it('lists webhook secrets not under a key and swaps one only if it is unchanged', async () => {
      const w = await addWorkspace(store);
      const endpoint = await addEndpoint(store, w, ['*']);
      const [row] = (await store.listWebhookSecretsNotUnderKey('', endpoint.id - 1, 1)).filter((r) => r.id === endpoint.id);
      assert.ok(row);
      assert.equal(envelopeKeyId(row.ciphertext), keyring.current.id);
      assert.deepEqual(
        (await store.oneWebhookSecretPerKey()).map((r) => envelopeKeyId(r.ciphertext)),
        [keyring.current.id],
      );
      assert.deepEqual(
        (await store.listWebhookSecretsNotUnderKey(keyring.current.id, 0, 1000)).filter((r) => r.id === endpoint.id),
        [],
      );
      const resealed = keyring.encrypt(
        keyring.decrypt(row.ciphertext, webhookSecretAad(w.id, endpoint.id)),
        webhookSecretAad(w.id, endpoint.id),
      );
      assert.equal(await store.replaceWebhookSecretCiphertext(endpoint.id, Buffer.from('other'), resealed), false);
      assert.equal(await store.replaceWebhookSecretCiphertext(endpoint.id, row.ciphertext, resealed), true);
    });

    it('a closed rotation has no due run', async () => {
      const w = await addWorkspace(store);
      const started = await startRotationOf(w, await addSecret(store, w), { deliver: true });
      assert.ok(started.ok);
      assert.ok(await cancelRotation(w, started.rotation.id));
      assert.equal((await store.listDueDeliveries(9_999_999, 1000)).filter((r) => r.id === started.rotation.id).length, 0);
      assert.equal(
        await store.claimDelivery({ workspaceId: w.id, rotationId: started.rotation.id, claim: 'x' }, 9_999_999, 10_000_000),
        undefined,
      );
    });

    it('keeps one rotation policy per workspace, with its audit event', async () => {
      const w = await addWorkspace(store);
      const other = await addWorkspace(store);
      assert.equal(await store.getRotationPolicy(w.id), undefined);
      const audit = { ...auditFor(w.id, 'rotation_policy.updated'), targetType: 'workspace' as const, targetId: String(w.id) };
      const put = await store.putRotationPolicy(
        { workspaceId: w.id, maxAgeDays: 90, idleFor: 600, autoRotate: true, updatedAt: 1500 },
        audit,
      );
      assert.deepEqual(put, { workspaceId: w.id, maxAgeDays: 90, idleFor: 600, autoRotate: true, updatedAt: 1500 });
      const again = await store.putRotationPolicy(
        { workspaceId: w.id, maxAgeDays: null, idleFor: 60, autoRotate: false, updatedAt: 1600 },
        audit,
      );
      assert.deepEqual(await store.getRotationPolicy(w.id), again);
      assert.deepEqual(again, { workspaceId: w.id, maxAgeDays: null, idleFor: 60, autoRotate: false, updatedAt: 1600 });
      assert.equal(await store.getRotationPolicy(other.id), undefined);
      const actions = (await store.listAudit({ workspaceId: w.id, limit: 10 })).map((e) => e.action);
      assert.deepEqual(actions.slice(0, 2), ['rotation_policy.updated', 'rotation_policy.updated']);
    });

    it('finds secrets past their max age, marks each due once, and lets the policy rotate each once', async () => {
      const w = await addWorkspace(store);
      const audit = { ...auditFor(w.id, 'rotation_policy.updated'), targetType: 'workspace' as const, targetId: String(w.id) };
      const old = await addSecret(store, w, 'old');
      const gone = await addSecret(store, w, 'gone');
      await store.deleteSecret(w.id, gone.id, 1500, 'deleted', auditFor(w.id, 'secret.deleted'));
      const mine = async (at: number) => (await store.listDueSecrets(at, 0, 1000)).filter((d) => d.secret.workspaceId === w.id);
      const dueAt = 1000 + 86400;
      assert.deepEqual(await mine(dueAt), [], 'no policy: nothing is due');
      await store.putRotationPolicy({ workspaceId: w.id, maxAgeDays: 1, idleFor: 600, autoRotate: true, updatedAt: 1500 }, audit);
      assert.deepEqual(await mine(dueAt - 1), []);
      const before = await store.countDueSecrets(dueAt - 1);
      const due = await mine(dueAt);
      assert.deepEqual(
        due.map((d) => [d.secret.id, d.raisedAt, d.rotationId, d.policy.maxAgeDays, d.policy.autoRotate]),
        [[old.id, null, null, 1, true]],
      );
      assert.equal(await store.countDueSecrets(dueAt), before + 1);
      assert.deepEqual(
        (await store.listDueSecrets(dueAt, old.id, 1000)).filter((d) => d.secret.workspaceId === w.id),
        [],
        'paged by id',
      );

      const raise = { ...auditFor(w.id, 'secret.due_for_rotation', dueAt), targetId: String(old.id) };
      const peer = await backend.openPeer();
      try {
        const marks = await Promise.all([
          store.markDueForRotation(old, dueAt, raise),
          peer.markDueForRotation(old, dueAt, raise),
        ]);
        assert.deepEqual(marks.sort(), [false, true]);
      } finally {
        await peer.close();
      }
      assert.equal((await mine(dueAt))[0]?.raisedAt, dueAt);
      const raised = (await store.listAudit({ workspaceId: w.id, limit: 50 })).filter(
        (e) => e.action === 'secret.due_for_rotation',
      );
      assert.equal(raised.length, 1);

      const first = await startRotationOf(w, old, { byPolicy: true, deliver: true });
      assert.ok(first.ok);
      assert.equal((await mine(dueAt))[0]?.rotationId, first.rotation.id);
      assert.ok(await cancelRotation(w, first.rotation.id));
      // The policy rotates a secret once: after a cancel, a person decides.
      assert.deepEqual(await startRotationOf(w, old, { byPolicy: true }), { ok: false, reason: 'in_progress' });
      // A secret never marked due is not rotated by the policy.
      const young = await addSecret(store, w, 'young');
      assert.deepEqual(await startRotationOf(w, young, { byPolicy: true }), { ok: false, reason: 'in_progress' });
      // A person may still rotate it.
      assert.ok((await startRotationOf(w, old)).ok);
    });

    it('bootstraps an empty database exactly once when two nodes race', async () => {
      const fresh = await backend.open();
      const peer = await backend.openPeer();
      try {
        const boot = (s: Store, name: string) =>
          s.bootstrapWorkspace(
            { appId: `boot${name}`, name, defaultVersion: 'Preview', rateLimit: 100, createdAt: 1000 },
            {
              name: 'bootstrap',
              tokenHash: randomBytes(32),
              scopes: ['read_all'],
              createdAt: 1000,
              audit: { actorTokenId: null, ip: null, requestId: null, action: 'token.created', targetType: 'token', at: 1000 },
            },
          );
        const results = await Promise.all([boot(fresh, 'a'), boot(peer, 'b'), boot(fresh, 'c'), boot(peer, 'd')]);
        const created = results.filter((r) => r !== undefined);
        assert.equal(created.length, 1);
        assert.deepEqual(await fresh.listWorkspaces(), created);
        assert.equal((await fresh.listTokens(created[0]!.id)).length, 1);
        assert.equal(await boot(fresh, 'e'), undefined);
      } finally {
        await peer.close();
        await fresh.close();
      }
    });

    it('reports an unreachable database as StorageUnavailableError', async () => {
      const down = await backend.openUnreachable();
      try {
        await assert.rejects(down.ping(), StorageUnavailableError);
        await assert.rejects(down.listWorkspaces(), StorageUnavailableError);
        await assert.rejects(addWorkspace(down), StorageUnavailableError);
      } finally {
        await down.close();
      }
    });
  });
}

contract(sqliteBackend());
contract(postgresBackend(await skipWithoutPostgres()));

describe('PostgreSQL migrations', { skip: await skipWithoutPostgres() }, () => {
  it('apply once when several nodes start at once on an empty database', async () => {
    const db = await createTestDatabase();
    const stores = Array.from(
      { length: 4 },
      (_, i) => new PostgresStore({ url: db.url, nodeId: `n${i}`, poolSize: 2, connectTimeoutMs: 2000 }),
    );
    try {
      await Promise.all(stores.map((s) => s.migrate()));
      const w = await addWorkspace(stores[0]!);
      assert.deepEqual(await stores[3]!.findWorkspaceByAppId(w.appId), w);
    } finally {
      for (const s of stores) await s.close();
      await db.drop();
    }
  });
});
