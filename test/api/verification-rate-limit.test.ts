import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { userHash } from '../../packages/sign/src/index.js';
import { api, startTestApp, type TestApp } from '../helpers/app.js';
import { assertErrorList } from '../helpers/assertions.js';

describe('POST /identity_verification/verify: per-app_id rate limit', () => {
  let app: TestApp;
  before(async () => {
    app = await startTestApp({ env: { SECURE_MODE_VERIFY_RATE_LIMIT: '3' } });
  });
  after(async () => {
    await app.close();
  });

  it('answers 429 rate_limit_exceeded past the limit, counted per app_id and apart from the admin limit', async () => {
    const created = await api(app, 'POST', '/secure_mode_secrets', { body: { name: 'web', supports_web: true } });
    assert.equal(created.status, 201);
    const body = { app_id: app.workspace.appId, platform: 'web', user_id: 'u1', user_hash: userHash(created.body.secret, { user_id: 'u1' }) };
    const answers = [];
    for (let i = 0; i < 4; i++) answers.push(await api(app, 'POST', '/identity_verification/verify', { body, token: null }));
    assert.deepEqual(answers.map((a) => a.status), [200, 200, 200, 429]);
    assert.equal(answers[0]!.headers.get('x-ratelimit-limit'), '3');
    assertErrorList(answers[3]!, 429, 'rate_limit_exceeded');
    assert.equal(answers[3]!.body.errors[0].message, 'Exceeded rate limit of 3 in 10_seconds');

    const other = await app.otherWorkspace();
    const unknownApp = await api(app, 'POST', '/identity_verification/verify', { body: { ...body, app_id: other.workspace.appId }, token: null });
    assert.equal(unknownApp.status, 401, 'another app_id has its own budget');
    assert.equal((await api(app, 'GET', '/secure_mode_secrets')).status, 200, 'the admin API is not limited by verifications');
  });
});
