import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import jwt from 'jsonwebtoken';
import { api, startTestApp, type TestApp } from '../../../helpers/app.js';
import { runCli } from '../../../helpers/process.js';

describe('secure-mode sign (CLI)', () => {
  let app: TestApp;
  let secret: string;
  before(async () => {
    app = await startTestApp();
    secret = (await api(app, 'POST', '/secure_mode_secrets', { body: { name: 'CLI', supports_web: true } })).body.secret;
  });
  after(async () => {
    await app.close();
  });

  const verify = (body: Record<string, unknown>) =>
    api(app, 'POST', '/identity_verification/verify', {
      token: null,
      body: { app_id: app.workspace.appId, platform: 'web', ...body },
    });

  it("prints Intercom's test vector", async () => {
    const out = await runCli(['sign', '--secret', 'secret', '--user-id', 'Message']);
    assert.equal(out.code, 0, out.stderr);
    assert.equal(out.stdout, 'aa747c502a898200f9e4fa21bac68136f886a0e27aec70ba06daf2e2a5cb5597\n');
  });

  it('signs a user_hash the server accepts, with the secret from the environment', async () => {
    const out = await runCli(['sign', '--email', 'cli@example.com', '--json'], { SECURE_MODE_SIGN_SECRET: secret });
    assert.equal(out.code, 0, out.stderr);
    const { user_hash } = JSON.parse(out.stdout);
    assert.equal((await verify({ email: 'cli@example.com', user_hash })).status, 200);
  });

  it('signs an expiring JWT the server accepts', async () => {
    const out = await runCli([
      'sign',
      '--secret',
      secret,
      '--user-id',
      'cli-user',
      '--email',
      'c@x',
      '--jwt',
      '--expires-in',
      '10m',
    ]);
    assert.equal(out.code, 0, out.stderr);
    const token = out.stdout.trim();
    const claims = jwt.decode(token) as { exp: number; iat: number; email: string };
    assert.equal(claims.exp - claims.iat, 600);
    const res = await verify({ intercom_user_jwt: token });
    assert.equal(res.status, 200, res.text);
    assert.deepEqual([res.body.user_id, res.body.email], ['cli-user', 'c@x']);
  });

  it('exits 2 with a message on a usage error, printing no secret', async () => {
    for (const args of [
      ['sign', '--user-id', 'u'],
      ['sign', '--secret', secret],
      ['sign', '--secret', secret, '--email', 'e@x', '--jwt'],
      ['sign', '--secret', secret, '--user-id', 'u', '--expires-in', '1h'],
      ['sign', '--secret', secret, '--user-id', 'u', '--jwt', '--expires-in', 'soon'],
    ]) {
      const out = await runCli(args, { SECURE_MODE_SIGN_SECRET: '' });
      assert.equal(out.code, 2, `${args.join(' ')}: ${out.stderr}`);
      assert.match(out.stderr, /^secure-mode: /);
      assert.equal(out.stdout, '');
      assert.ok(!out.stderr.includes(secret));
    }
  });
});
