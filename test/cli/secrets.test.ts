import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { api, startTestApp, type TestApp } from '../helpers/app.js';
import { runCli } from '../helpers/process.js';

describe('secure-mode secrets and audit commands over HTTP', () => {
  let app: TestApp;
  let env: Record<string, string>;
  before(async () => {
    app = await startTestApp();
    env = { SECURE_MODE_URL: app.url, SECURE_MODE_TOKEN: app.token };
  });
  after(async () => {
    await app.close();
  });

  it('create, list, get, update, usage, delete and audit list, as tables and as JSON', async () => {
    const created = await runCli(['secrets', 'create', '--name', 'CLI made', '--platforms', 'web,android', '--json'], env);
    assert.equal(created.code, 0, created.stderr);
    const body = JSON.parse(created.stdout);
    assert.match(body.secret, /^[A-Za-z0-9_-]{43}$/);
    assert.equal(body.supports_android, true);
    assert.equal(body.supports_ios, false);

    const table = await runCli(['secrets', 'list'], env);
    assert.match(table.stdout, /^id\s+name\s+platforms\s+created\s+last_verified\s+expires$/m);
    assert.match(table.stdout, new RegExp(`^${body.id}\\s+CLI made\\s+web,android\\s`, 'm'));
    assert.ok(!table.stdout.includes(body.secret));

    const got = JSON.parse((await runCli(['secrets', 'get', body.id, '--json'], env)).stdout);
    assert.deepEqual(got.usage.last_hour, { web: 0, ios: 0, android: 0 });

    const updated = await runCli(['secrets', 'update', body.id, '--name', 'Renamed', '--expires-at', '+2h', '--json'], env);
    assert.equal(updated.code, 0, updated.stderr);
    const u = JSON.parse(updated.stdout);
    assert.equal(u.name, 'Renamed');
    assert.ok(Math.abs(u.expires_at - (Math.floor(Date.now() / 1000) + 7200)) < 60);
    assert.equal(
      JSON.parse((await runCli(['secrets', 'update', body.id, '--expires-at', 'none', '--json'], env)).stdout).expires_at,
      null,
    );

    const usage = JSON.parse(
      (await runCli(['secrets', 'usage', body.id, '--window', '10m', '--bucket', '5m', '--json'], env)).stdout,
    );
    assert.equal(usage.buckets.length, 2);
    assert.equal(usage.bucket_seconds, 300);

    app.runtime.usage.recordSuccess(Number(body.id), 'web', 'user_hash');
    const guarded = await runCli(['secrets', 'delete', body.id, '--if-idle-for', '15m'], env);
    assert.equal(guarded.code, 3);
    assert.match(guarded.stderr, /identity_verification_secret_in_use, HTTP 409, request [0-9a-f-]{36}/);
    const deleted = await runCli(['secrets', 'delete', body.id], env);
    assert.equal(deleted.code, 0, deleted.stderr);
    assert.equal((await api(app, 'GET', `/secure_mode_secrets/${body.id}`)).status, 404);

    const audit = JSON.parse(
      (
        await runCli(
          ['audit', 'list', '--action', 'secret.created,secret.updated,secret.deleted', '--json', '--all', '--limit', '2'],
          env,
        )
      ).stdout,
    );
    assert.deepEqual(
      audit
        .filter((e: { target: { type: string; id: string } }) => e.target.type === 'secret' && e.target.id === body.id)
        .map((e: { action: string }) => e.action),
      ['secret.deleted', 'secret.updated', 'secret.updated', 'secret.created'],
    );
    const human = await runCli(['audit', 'list', '--limit', '1'], env);
    assert.match(human.stdout, /secret\.deleted\s+secret:[0-9]+\s+token:[0-9]+\s+127\.0\.0\.1/);
    assert.match(human.stderr, /more events/);
    assert.ok(!JSON.stringify(audit).includes(body.secret));
  });

  it('usage errors exit 2 before any request; a stable Intercom version is refused by the server with 3', async () => {
    assert.equal((await runCli(['secrets', 'list'], { SECURE_MODE_URL: app.url })).code, 2);
    assert.equal((await runCli(['secrets', 'create', '--name', 'x', '--platforms', 'desktop'], env)).code, 2);
    assert.equal((await runCli(['audit', 'list', '--since', 'last tuesday'], env)).code, 2);
    const old = await runCli(['secrets', 'list', '--intercom-version', '2.11'], env);
    assert.equal(old.code, 3);
    assert.match(old.stderr, /not available in current API version/);
  });
});
