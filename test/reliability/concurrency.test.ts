import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { openSecret } from '../../src/domain/secret-cache.js';
import { api, startTestApp, type ApiResponse, type TestApp } from '../helpers/app.js';
import { assertErrorList } from '../helpers/assertions.js';
import { spawnServer, type ServerProcess } from '../helpers/process.js';

const PATH = '/secure_mode_secrets';
const web = (name: string) => ({ name, supports_web: true });

async function newClient(app: TestApp, name: string) {
  const workspace = await app.runtime.workspaces.createWorkspace({ name });
  const { value } = await app.runtime.workspaces.createToken(
    workspace,
    ['read_secure_mode_secret', 'write_secure_mode_secret'],
    name,
  );
  return { url: app.url, token: value, workspace };
}

describe('concurrency', () => {
  let dir: string;
  let app: TestApp;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'secure-mode-concurrency-'));
    app = await startTestApp({ dir, env: { SECURE_MODE_MAX_LIVE_SECRETS: '100' } });
  });
  after(async () => {
    await app.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('50 parallel creates all answer 201 with distinct ids and secrets; a restart keeps everything', async () => {
    const results = await Promise.all(
      Array.from({ length: 50 }, (_, i) =>
        api(app, 'POST', PATH, { body: { name: `parallel ${i}`, supports_web: true, supports_ios: i % 3 === 0 } }),
      ),
    );
    for (const r of results) assert.equal(r.status, 201, r.text);
    const created = results.map((r) => r.body);
    assert.equal(new Set(created.map((c) => c.id)).size, 50);
    assert.equal(new Set(created.map((c) => c.secret)).size, 50);
    assert.deepEqual(new Set(created.map((c) => c.name)), new Set(Array.from({ length: 50 }, (_, i) => `parallel ${i}`)));

    const deleted = created.slice(0, 5).map((c) => c.id as string);
    for (const id of deleted) assert.equal((await api(app, 'DELETE', `${PATH}/${id}`)).status, 204);
    const before = (await api(app, 'GET', PATH)).body;
    assert.equal(before.data.length, 45);
    const { token, workspace } = app;

    await app.close();
    app = await startTestApp({ dir, env: { SECURE_MODE_MAX_LIVE_SECRETS: '100' } });

    const restarted = { url: app.url, token };
    const after = await api(restarted, 'GET', PATH);
    assert.equal(after.status, 200, 'the token from before the restart still works');
    assert.deepEqual(after.body, before, 'the same secrets, with the same metadata');
    assert.deepEqual(app.workspace, workspace);
    for (const id of deleted)
      assertErrorList(await api(restarted, 'DELETE', `${PATH}/${id}`), 404, 'identity_verification_secret_not_found');

    const material = await app.runtime.store.loadLiveSecretMaterial(workspace.id);
    const shown = new Map(created.map((c) => [c.id as string, c.secret as string]));
    assert.equal(material.length, 45);
    for (const row of material)
      assert.equal(openSecret(app.runtime.keyring, row), shown.get(String(row.id)), 'the material survived');
  });

  it('parallel creates never exceed the live-secret cap', async () => {
    const capped = await startTestApp({ env: { SECURE_MODE_MAX_LIVE_SECRETS: '5' } });
    try {
      const results = await Promise.all(
        Array.from({ length: 30 }, (_, i) => api(capped, 'POST', PATH, { body: web(`race ${i}`) })),
      );
      const ok = results.filter((r) => r.status === 201);
      assert.equal(ok.length, 5);
      for (const r of results.filter((r) => r.status !== 201)) assertErrorList(r, 422, 'secret_limit_reached');
      assert.deepEqual(
        (await api(capped, 'GET', PATH)).body.data.map((s: { id: string }) => s.id).sort(),
        ok.map((r) => r.body.id).sort(),
      );
    } finally {
      await capped.close();
    }
  });

  it('parallel deletes of one secret: exactly one 204, the rest 404', async () => {
    const c = await newClient(app, 'deletes');
    const id = (await api(c, 'POST', PATH, { body: web('once') })).body.id;
    const results = await Promise.all(Array.from({ length: 20 }, () => api(c, 'DELETE', `${PATH}/${id}`)));
    assert.equal(results.filter((r) => r.status === 204).length, 1);
    for (const r of results.filter((r) => r.status !== 204)) assertErrorList(r, 404, 'identity_verification_secret_not_found');
  });

  it('parallel work in many workspaces stays in its own workspace', async () => {
    const clients = await Promise.all(Array.from({ length: 10 }, (_, i) => newClient(app, `parallel ${i}`)));
    const results = await Promise.all(
      clients.flatMap((c, w) =>
        Array.from({ length: 5 }, (_, i) => api(c, 'POST', PATH, { body: web(`w${w} s${i}`) }).then((r) => ({ w, r }))),
      ),
    );
    for (const { r } of results) assert.equal(r.status, 201);
    const lists = await Promise.all(clients.map((c) => api(c, 'GET', PATH)));
    lists.forEach((list, w) => {
      assert.deepEqual(
        list.body.data.map((s: { name: string }) => s.name).sort(),
        Array.from({ length: 5 }, (_, i) => `w${w} s${i}`).sort(),
      );
    });
  });
});

describe('two worker processes on one SQLite file', () => {
  let dir: string;
  const servers: ServerProcess[] = [];
  after(async () => {
    for (const s of servers) await s.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('share the live-secret cap: the check and the insert are one transaction', async () => {
    dir = mkdtempSync(join(tmpdir(), 'secure-mode-two-nodes-'));
    const token = `smt_concurrency_${'x'.repeat(30)}`;
    // SECURE_MODE_WORKERS is how one SQLite file gets more processes (a second server would refuse to start); the
    // primary hands connections to its two workers in turn.
    const env = {
      SECURE_MODE_DATABASE_URL: `sqlite:${join(dir, 'db.sqlite')}`,
      SECURE_MODE_BOOTSTRAP_TOKEN: token,
      SECURE_MODE_MAX_LIVE_SECRETS: '10',
      SECURE_MODE_WORKERS: '2',
    };
    servers.push(await spawnServer(env));
    const url = servers[0]!.url;
    const results: ApiResponse[] = await Promise.all(
      Array.from({ length: 40 }, (_, i) => api({ url, token }, 'POST', PATH, { body: web(`request #${i}`) })),
    );
    const ok = results.filter((r) => r.status === 201);
    assert.equal(ok.length, 10, results.map((r) => r.status).join(' '));
    for (const r of results.filter((r) => r.status !== 201)) assertErrorList(r, 422, 'secret_limit_reached');
    for (let i = 0; i < 4; i++) {
      const ids = (await api({ url, token }, 'GET', PATH)).body.data.map((x: { id: string }) => x.id).sort();
      assert.deepEqual(ids, ok.map((r) => r.body.id).sort());
    }
  });
});
