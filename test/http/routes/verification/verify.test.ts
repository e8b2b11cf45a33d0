import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHmac, generateKeyPairSync, randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { createRequire, syncBuiltinESMExports } from 'node:module';
import jwt from 'jsonwebtoken';
import { DEFAULT_VERIFY_CLIENT_RATE_LIMIT } from '../../../../src/config.js';
import { SYSTEM_ACTOR } from '../../../../src/domain/actor.js';
import { userHash } from '../../../../packages/sign/src/index.js';
import type { Store } from '../../../../src/domain/ports.js';
import { api, startTestApp, type TestApp } from '../../../helpers/app.js';

/** Each method of the Store port (the compiler insists on all of them); true marks background work. */
const PORT_METHODS: Record<Exclude<keyof Store, 'kind'>, boolean> = {
  migrate: false,
  close: false,
  ping: false,
  createWorkspace: false,
  listWorkspaces: false,
  findWorkspaceByAppId: false,
  bootstrapWorkspace: false,
  createToken: false,
  findTokenByHash: false,
  listTokens: false,
  revokeToken: false,
  createSecret: false,
  listSecrets: false,
  getSecret: false,
  listAllLiveSecrets: false,
  loadLiveSecretMaterial: false,
  loadDeletedSecretMaterial: false,
  updateSecret: false,
  deleteSecret: false,
  listExpiredSecrets: true,
  onChange: false,
  recordUsage: true,
  usageTotals: false,
  usageSeries: false,
  writeAudit: false,
  listAudit: false,
  deleteExpiredIdempotency: true,
  oneSecretPerKey: false,
  listSecretsNotUnderKey: false,
  replaceCiphertext: false,
  listIdempotencyRecords: false,
  replaceIdempotencyResponse: false,
  lastUsage: false,
  startRotation: false,
  listRotations: false,
  getRotation: false,
  openRotationsOf: false,
  listOpenRotations: true,
  countOverdueRotations: false,
  transitionRotation: false,
  listDueDeliveries: true,
  claimDelivery: true,
  finishDelivery: true,
  releaseDelivery: true,
  getRotationPolicy: false,
  putRotationPolicy: false,
  listDueSecrets: true,
  countDueSecrets: false,
  markDueForRotation: true,
  holdLease: true,
  listSecretsToWarn: true,
  markExpiryWarned: true,
  oneWebhookSecretPerKey: false,
  listWebhookSecretsNotUnderKey: false,
  replaceWebhookSecretCiphertext: false,
  createWebhookEndpoint: false,
  listWebhookEndpoints: false,
  getWebhookEndpoint: false,
  deleteWebhookEndpoint: false,
  claimDueDeliveries: true,
  recordDeliveryAttempt: true,
  listDeliveryAttempts: false,
  nextDeliveryDueAt: true,
  countPendingDeliveries: false,
  onDeliveriesQueued: false,
};

/** What openssl's command line prints for the HMAC of stdin: the message goes in as bytes, exactly. */
function opensslHmac(secret: string, message: string): string {
  const out = execFileSync('openssl', ['dgst', '-sha256', '-hmac', secret], { input: Buffer.from(message, 'utf8') }).toString();
  return out.trim().split(/\s+/).at(-1)!;
}

function pythonHmac(secret: string, message: string): string {
  return execFileSync('python3', [
    '-c',
    'import hmac, hashlib, sys; print(hmac.new(sys.argv[1].encode("utf-8"), sys.argv[2].encode("utf-8"), hashlib.sha256).hexdigest())',
    secret,
    message,
  ])
    .toString()
    .trim();
}

// The CommonJS face of node:crypto: replacing a function on it and syncing reaches every ESM importer.
const cjsCrypto = createRequire(import.meta.url)('node:crypto') as typeof import('node:crypto');

/** How many HMAC-SHA256 the server computes while `run` runs (it shares this process). */
async function countHmacs(run: () => Promise<unknown>): Promise<number> {
  const original = cjsCrypto.createHmac;
  let count = 0;
  cjsCrypto.createHmac = ((algorithm: string, ...rest: unknown[]) => {
    if (algorithm === 'sha256') count++;
    return (original as (...args: unknown[]) => unknown)(algorithm, ...rest);
  }) as typeof original;
  syncBuiltinESMExports();
  try {
    await run();
  } finally {
    cjsCrypto.createHmac = original;
    syncBuiltinESMExports();
  }
  return count;
}

describe('POST /identity_verification/verify', () => {
  let app: TestApp;
  let appId: string;
  let web: { id: string; secret: string };
  let mobile: { id: string; secret: string };

  const verify = (body: unknown) => api(app, 'POST', '/identity_verification/verify', { body, token: null });
  const create = async (name: string, flags: Record<string, boolean>) => {
    const res = await api(app, 'POST', '/secure_mode_secrets', { body: { name, ...flags } });
    assert.equal(res.status, 201);
    return { id: res.body.id as string, secret: res.body.secret as string };
  };

  before(async () => {
    app = await startTestApp();
    appId = app.workspace.appId;
    web = await create('Web', { supports_web: true });
    mobile = await create('Mobile', { supports_ios: true, supports_android: true });
  });
  after(async () => {
    await app.close();
  });

  describe('interoperability with signers written elsewhere', () => {
    it('accepts user_hash values computed by the openssl command line', async () => {
      const userId = 'user-8f3a';
      const hash = opensslHmac(web.secret, userId);
      assert.match(hash, /^[0-9a-f]{64}$/);
      const res = await verify({ app_id: appId, platform: 'web', user_id: userId, user_hash: hash });
      assert.equal(res.status, 200, res.text);
      assert.deepEqual(res.body, {
        type: 'identity_verification.result',
        verified: true,
        method: 'user_hash',
        user_id: userId,
        email: null,
      });
      const email = 'jane@example.com';
      const byEmail = await verify({ app_id: appId, platform: 'ios', email, user_hash: opensslHmac(mobile.secret, email) });
      assert.equal(byEmail.status, 200, byEmail.text);
      assert.equal(byEmail.body.email, email);
    });

    it("accepts user_hash values computed by Python's hmac module, non-ASCII ids included", async () => {
      for (const userId of ['42', 'ünïcødé-✓', 'a b+c/d=e']) {
        const hash = pythonHmac(mobile.secret, userId);
        assert.equal(hash, opensslHmac(mobile.secret, userId));
        assert.equal(hash, userHash(mobile.secret, { user_id: userId }));
        const res = await verify({ app_id: appId, platform: 'android', user_id: userId, user_hash: hash });
        assert.equal(res.status, 200, `${userId}: ${res.text}`);
      }
    });

    it('accepts HS256 JWTs made by the jsonwebtoken package', async () => {
      const token = jwt.sign({ user_id: 'u-77', email: 'u77@example.com', name: 'U' }, mobile.secret, {
        algorithm: 'HS256',
        expiresIn: '5m',
      });
      const res = await verify({ app_id: appId, platform: 'ios', intercom_user_jwt: token });
      assert.equal(res.status, 200, res.text);
      assert.deepEqual(res.body, {
        type: 'identity_verification.result',
        verified: true,
        method: 'jwt',
        user_id: 'u-77',
        email: 'u77@example.com',
      });
      const minimal = jwt.sign({ user_id: 'u-78' }, web.secret, { noTimestamp: true });
      assert.equal((await verify({ app_id: appId, platform: 'web', intercom_user_jwt: minimal, user_id: 'u-78' })).status, 200);
    });
  });

  describe('only signed identity comes back', () => {
    it('a hash over user_id vouches for the user_id alone: an email sent beside it is not echoed', async () => {
      const hash = userHash(web.secret, { user_id: 'u-1' });
      const res = await verify({
        app_id: appId,
        platform: 'web',
        user_id: 'u-1',
        email: 'admin@victim.example',
        user_hash: hash,
      });
      assert.equal(res.status, 200, res.text);
      assert.deepEqual(res.body, {
        type: 'identity_verification.result',
        verified: true,
        method: 'user_hash',
        user_id: 'u-1',
        email: null,
      });
    });

    it('a hash over the email vouches for the email alone', async () => {
      const res = await verify({
        app_id: appId,
        platform: 'web',
        email: 'jane@example.com',
        user_hash: userHash(web.secret, { email: 'jane@example.com' }),
      });
      assert.deepEqual(res.body, {
        type: 'identity_verification.result',
        verified: true,
        method: 'user_hash',
        user_id: null,
        email: 'jane@example.com',
      });
    });

    it('a JWT vouches for its claims only', async () => {
      const token = jwt.sign({ user_id: 'u-5' }, web.secret);
      const res = await verify({ app_id: appId, platform: 'web', intercom_user_jwt: token, user_id: 'u-5' });
      assert.deepEqual(res.body, {
        type: 'identity_verification.result',
        verified: true,
        method: 'jwt',
        user_id: 'u-5',
        email: null,
      });
      const withEmail = await verify({ app_id: appId, platform: 'web', intercom_user_jwt: token, email: 'admin@victim.example' });
      assert.equal(withEmail.status, 401, 'an email the token does not carry is refused, never vouched for');
    });

    it('the response schema says what is signed', async () => {
      const doc = (await api(app, 'GET', '/openapi.json', { token: null })).body;
      const result = doc.paths['/identity_verification/verify'].post.responses['200'].content['application/json'].schema;
      assert.match(result.description, /user_hash signs exactly one string/);
      assert.match(result.properties.email.description, /never echoed/);
    });
  });

  describe('JWT time claims', () => {
    const nowS = () => Math.floor(Date.now() / 1000);

    it('refuses an iat in the future beyond the clock skew, and accepts one within it', async () => {
      const ahead = jwt.sign({ user_id: 'u', iat: nowS() + 600 }, web.secret);
      const res = await verify({ app_id: appId, platform: 'web', intercom_user_jwt: ahead });
      assert.equal(res.status, 401);
      assert.equal(res.body.errors[0].code, 'jwt_invalid');
      const slightly = jwt.sign({ user_id: 'u', iat: nowS() + 30 }, web.secret);
      assert.equal((await verify({ app_id: appId, platform: 'web', intercom_user_jwt: slightly })).status, 200);
    });

    it('SECURE_MODE_JWT_MAX_AGE refuses tokens without exp or living longer, and accepts shorter ones', async () => {
      const limited = await startTestApp({ env: { SECURE_MODE_JWT_MAX_AGE: '300' } });
      try {
        const created = await api(limited, 'POST', '/secure_mode_secrets', { body: { name: 'w', supports_web: true } });
        const key = created.body.secret as string;
        const check = async (payload: Record<string, unknown>) =>
          (
            await api(limited, 'POST', '/identity_verification/verify', {
              body: { app_id: limited.workspace.appId, platform: 'web', intercom_user_jwt: jwt.sign(payload, key) },
              token: null,
            })
          ).status;
        const now = nowS();
        assert.equal(await check({ user_id: 'u', iat: now, exp: now + 300 }), 200, 'exactly the maximum');
        assert.equal(await check({ user_id: 'u', iat: now }), 401, 'no exp');
        assert.equal(await check({ user_id: 'u', iat: now, exp: now + 301 }), 401, 'one second too long');
        assert.equal(await check({ user_id: 'u', iat: now - 3600, exp: now + 60 }), 401, 'long-lived even if nearly over');
        const noIat = jwt.sign({ user_id: 'u', exp: now + 3600 }, key, { noTimestamp: true });
        const res = await api(limited, 'POST', '/identity_verification/verify', {
          body: { app_id: limited.workspace.appId, platform: 'web', intercom_user_jwt: noIat },
          token: null,
        });
        assert.equal(res.status, 401, 'without iat, exp is measured from now');
      } finally {
        await limited.close();
      }
    });
  });

  describe('no oracle', () => {
    it('an unknown app_id, a platform without a secret and a wrong signature answer identically, each after one HMAC', async () => {
      const other = await app.otherWorkspace();
      await api({ url: app.url, token: other.token }, 'POST', '/secure_mode_secrets', {
        body: { name: 'web only', supports_web: true },
      });
      const wrong = userHash('not the secret', { user_id: 'u' });
      const cases = {
        unknown: { app_id: 'unknown-app-zz', platform: 'android', user_id: 'u', user_hash: wrong },
        noSecretForPlatform: { app_id: other.workspace.appId, platform: 'android', user_id: 'u', user_hash: wrong },
        wrongSignature: { app_id: appId, platform: 'android', user_id: 'u', user_hash: wrong },
      };
      for (const body of Object.values(cases)) await verify(body); // warm the cache: a miss is a database read
      const hmacs = [];
      for (const body of Object.values(cases)) hmacs.push(await countHmacs(() => verify(body)));
      const answers = [];
      for (const [label, body] of Object.entries(cases)) {
        const res = await verify(body);
        const headers = ['content-type', 'x-ratelimit-limit'].map((h) => res.headers.get(h));
        answers.push({
          label,
          status: res.status,
          body: { ...res.body, request_id: '<id>' },
          headers,
          names: [...res.headers.keys()].sort(),
        });
      }
      const [first, ...rest] = answers.map(({ label: _label, ...a }) => a);
      for (const a of rest) assert.deepEqual(a, first);
      assert.deepEqual(hmacs, [1, 1, 1], 'each case computed exactly one HMAC-SHA256');
    });
  });

  describe('uppercase hex', () => {
    it('passes on web and fails on iOS and Android', async () => {
      assert.equal(
        (
          await verify({
            app_id: appId,
            platform: 'web',
            user_id: 'u',
            user_hash: userHash(web.secret, { user_id: 'u' }).toUpperCase(),
          })
        ).status,
        200,
      );
      const upper = userHash(mobile.secret, { user_id: 'u' }).toUpperCase();
      for (const platform of ['ios', 'android']) {
        const res = await verify({ app_id: appId, platform, user_id: 'u', user_hash: upper });
        assert.equal(res.status, 401);
        assert.equal(res.body.errors[0].code, 'hmac_mismatch');
      }
    });
  });

  describe('every failure looks the same', () => {
    const FAILED = 'Failed Identity Verification check';

    async function expectFailure(body: Record<string, unknown>, code: 'hmac_mismatch' | 'jwt_invalid', label: string) {
      const res = await verify(body);
      assert.equal(res.status, 401, `${label}: ${res.text}`);
      assert.equal(res.body.type, 'error.list');
      assert.match(res.body.request_id, /^[0-9a-f-]{36}$/);
      assert.deepEqual(res.body.errors, [{ code, message: FAILED }], label);
      assert.equal(res.headers.get('x-request-id'), res.body.request_id);
      // The headers are the client's own budget: the same for every app_id, known or not.
      assert.equal(res.headers.get('x-ratelimit-limit'), String(DEFAULT_VERIFY_CLIENT_RATE_LIMIT));
      for (const secretish of [body.user_hash, body.intercom_user_jwt, web.secret, mobile.secret]) {
        if (typeof secretish === 'string') assert.ok(!res.text.includes(secretish), `${label} echoes input`);
      }
    }

    it('user_hash: wrong secret, unknown app_id, no secret for the platform, wrong user, malformed hash', async () => {
      const good = userHash(web.secret, { user_id: 'u' });
      await expectFailure(
        { app_id: appId, platform: 'web', user_id: 'u', user_hash: userHash('another secret', { user_id: 'u' }) },
        'hmac_mismatch',
        'wrong secret',
      );
      await expectFailure(
        { app_id: 'unknownapp1', platform: 'web', user_id: 'u', user_hash: good },
        'hmac_mismatch',
        'unknown app_id',
      );
      await expectFailure(
        { app_id: appId, platform: 'ios', user_id: 'u', user_hash: good },
        'hmac_mismatch',
        'web secret used on ios',
      );
      await expectFailure({ app_id: appId, platform: 'web', user_id: 'v', user_hash: good }, 'hmac_mismatch', 'another user');
      await expectFailure(
        { app_id: appId, platform: 'web', user_id: 'u', email: 'e@x', user_hash: userHash(web.secret, { email: 'e@x' }) },
        'hmac_mismatch',
        'email hashed',
      );
      for (const bad of [good.slice(1), `${good}0`, ` ${good}`, 'zz'.repeat(32), Buffer.from(good, 'hex').toString('base64')]) {
        await expectFailure(
          { app_id: appId, platform: 'web', user_id: 'u', user_hash: bad },
          'hmac_mismatch',
          `malformed ${bad}`,
        );
      }
      const decodedKey = createHmac('sha256', Buffer.from(web.secret, 'base64url')).update('u').digest('hex');
      await expectFailure(
        { app_id: appId, platform: 'web', user_id: 'u', user_hash: decodedKey },
        'hmac_mismatch',
        'base64url-decoded key',
      );
    });

    it('jwt: alg none, HS384, HS512, RS256, expired, not yet valid, missing or numeric user_id, crit, jwk trick, identity mismatch', async () => {
      const key = web.secret;
      const now = Math.floor(Date.now() / 1000);
      const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
      const attacker = randomBytes(32);
      const cases: [string, string][] = [
        ['alg none', jwt.sign({ user_id: 'u' }, '', { algorithm: 'none' })],
        ['HS384', jwt.sign({ user_id: 'u' }, key, { algorithm: 'HS384' })],
        ['HS512', jwt.sign({ user_id: 'u' }, key, { algorithm: 'HS512' })],
        ['RS256', jwt.sign({ user_id: 'u' }, rsa.privateKey, { algorithm: 'RS256' })],
        ['expired', jwt.sign({ user_id: 'u', exp: now - 120 }, key)],
        ['not yet valid', jwt.sign({ user_id: 'u', nbf: now + 600 }, key)],
        ['no user_id', jwt.sign({ email: 'e@x' }, key)],
        ['numeric user_id', jwt.sign({ user_id: 42 }, key)],
        ['crit', jwt.sign({ user_id: 'u' }, key, { header: { alg: 'HS256', crit: ['exp'] } as jwt.JwtHeader })],
        [
          'embedded jwk',
          jwt.sign({ user_id: 'u' }, attacker, {
            header: { alg: 'HS256', jwk: { kty: 'oct', k: attacker.toString('base64url') } } as jwt.JwtHeader,
          }),
        ],
        ['other secret', jwt.sign({ user_id: 'u' }, 'another secret')],
        ['garbage', 'not-a-jwt'],
      ];
      for (const [label, token] of cases) {
        await expectFailure({ app_id: appId, platform: 'web', intercom_user_jwt: token }, 'jwt_invalid', label);
      }
      await expectFailure(
        { app_id: appId, platform: 'web', intercom_user_jwt: jwt.sign({ user_id: 'u' }, key), user_id: 'admin' },
        'jwt_invalid',
        'user_id mismatch',
      );
      await expectFailure(
        { app_id: 'unknownapp1', platform: 'web', intercom_user_jwt: jwt.sign({ user_id: 'u' }, key) },
        'jwt_invalid',
        'unknown app',
      );
    });

    it('counts failures per workspace and reason, for metrics', async () => {
      const before = new Map(app.runtime.usage.failureCounts());
      await verify({ app_id: appId, platform: 'web', user_id: 'u', user_hash: userHash('nope', { user_id: 'u' }) });
      await verify({ app_id: appId, platform: 'ios', user_id: 'u', user_hash: 'short' });
      const grew = [...app.runtime.usage.failureCounts()].filter(([k, v]) => v > (before.get(k) ?? 0)).map(([k]) => k);
      assert.deepEqual(grew.sort(), [
        `${app.workspace.id}:user_hash:ios:malformed`,
        `${app.workspace.id}:user_hash:web:mismatch`,
      ]);
    });

    it('never writes a user_hash, JWT or secret to the logs', async () => {
      const hash = userHash(web.secret, { user_id: 'logged?' });
      const token = jwt.sign({ user_id: 'logged?' }, web.secret);
      await verify({ app_id: appId, platform: 'web', user_id: 'logged?', user_hash: hash });
      await verify({ app_id: appId, platform: 'ios', user_id: 'logged?', user_hash: hash });
      await verify({ app_id: appId, platform: 'web', intercom_user_jwt: token });
      for (const value of [hash, token, token.split('.')[2]!, web.secret, mobile.secret])
        assert.ok(!app.logs.text.includes(value));
      assert.match(app.logs.text, /identity_verification\/verify/);
    });
  });

  describe('malformed requests get a 4xx error.list, never a 500', () => {
    const cases: [string, { body?: unknown; rawBody?: string }, number, string | undefined][] = [
      ['not JSON', { rawBody: '{"app_id":' }, 400, undefined],
      ['empty body', { rawBody: '' }, 422, undefined],
      ['array', { body: [1, 2] }, 422, undefined],
      ['string', { body: 'x' }, 422, undefined],
      ['no app_id', { body: { platform: 'web', user_id: 'u', user_hash: 'h' } }, 422, 'app_id'],
      ['no platform', { body: { app_id: 'a', user_id: 'u', user_hash: 'h' } }, 422, 'platform'],
      ['unknown platform', { body: { app_id: 'a', platform: 'mac', user_id: 'u', user_hash: 'h' } }, 422, 'platform'],
      ['numeric user_id', { body: { app_id: 'a', platform: 'web', user_id: 42, user_hash: 'h' } }, 422, 'user_id'],
      ['empty user_hash', { body: { app_id: 'a', platform: 'web', user_id: 'u', user_hash: '' } }, 422, 'user_hash'],
      ['null email', { body: { app_id: 'a', platform: 'web', email: null, user_hash: 'h' } }, 422, 'email'],
      ['neither hash nor JWT', { body: { app_id: 'a', platform: 'web', user_id: 'u' } }, 422, 'user_hash'],
      [
        'both hash and JWT',
        { body: { app_id: 'a', platform: 'web', user_id: 'u', user_hash: 'h', intercom_user_jwt: 'a.b.c' } },
        422,
        'user_hash',
      ],
      ['hash without identity', { body: { app_id: 'a', platform: 'web', user_hash: 'h' } }, 422, 'user_id'],
      [
        'prototype pollution',
        { rawBody: '{"__proto__":{"x":1},"app_id":"a","platform":"web","user_id":"u","user_hash":"h"}' },
        400,
        undefined,
      ],
    ];
    for (const [label, request, status, field] of cases) {
      it(label, async () => {
        const res = await api(app, 'POST', '/identity_verification/verify', { ...request, token: null });
        assert.equal(res.status, status, res.text);
        assert.equal(res.body.type, 'error.list');
        assert.equal(res.body.errors[0].code, 'parameter_invalid');
        assert.equal(res.body.errors[0].field, field);
      });
    }

    it('a body over the limit is 413', async () => {
      const res = await api(app, 'POST', '/identity_verification/verify', {
        token: null,
        body: { app_id: appId, platform: 'web', user_id: 'x'.repeat(70_000), user_hash: 'h' },
      });
      assert.equal(res.status, 413);
      assert.equal(res.body.type, 'error.list');
    });
  });

  describe('hot path', () => {
    it('verifies from the cache without touching the store, and loads once after a miss', async () => {
      const store = app.runtime.store as unknown as Record<string, unknown>;
      const originals = new Map<string, unknown>();
      const calls: string[] = [];
      // Every method of the storage port except the background work that runs on its own schedule meanwhile (the
      // usage flush and the expiry sweep): the verification path must call none of them on a cache hit.
      const names = (Object.keys(PORT_METHODS) as (keyof typeof PORT_METHODS)[]).filter((name) => !PORT_METHODS[name]);
      for (const name of names) {
        originals.set(name, store[name]);
        const fn = store[name] as (...a: unknown[]) => unknown;
        store[name] = function (this: Store, ...args: unknown[]) {
          calls.push(name);
          return fn.apply(this, args);
        };
      }
      try {
        const body = { app_id: appId, platform: 'web', user_id: 'hot', user_hash: userHash(web.secret, { user_id: 'hot' }) };
        app.runtime.cache.invalidateAll();
        assert.equal((await verify(body)).status, 200);
        assert.ok(calls.includes('findWorkspaceByAppId') && calls.includes('loadLiveSecretMaterial'), calls.join());
        calls.length = 0;
        for (let i = 0; i < 25; i++) assert.equal((await verify(body)).status, 200);
        assert.equal((await verify({ ...body, user_id: 'cold' })).status, 401);
        assert.deepEqual(calls, []);
      } finally {
        for (const [name] of originals) delete store[name];
        app.runtime.sweeper.start(1000, () => undefined);
      }
    });

    it('a secret created or deleted through the API applies to the very next request', async () => {
      const fresh = await create('Fresh', { supports_web: true });
      const body = { app_id: appId, platform: 'web', user_id: 'n', user_hash: userHash(fresh.secret, { user_id: 'n' }) };
      assert.equal((await verify(body)).status, 200);
      assert.equal((await api(app, 'DELETE', `/secure_mode_secrets/${fresh.id}`)).status, 204);
      assert.equal((await verify(body)).status, 401);
    });

    it('a secret past its expires_at never verifies, even before it is retired', async () => {
      const expiring = await create('Expiring', { supports_web: true });
      const body = { app_id: appId, platform: 'web', user_id: 'x', user_hash: userHash(expiring.secret, { user_id: 'x' }) };
      assert.equal((await verify(body)).status, 200);
      const nowS = Math.floor(Date.now() / 1000);
      const updated = await app.runtime.store.updateSecret(
        app.workspace.id,
        Number(expiring.id),
        { expiresAt: nowS },
        {
          workspaceId: app.workspace.id,
          actorTokenId: SYSTEM_ACTOR.tokenId,
          ip: null,
          requestId: null,
          action: 'secret.updated',
          targetType: 'secret',
          at: nowS,
        },
      );
      app.runtime.cache.secretUpdated(updated!);
      assert.equal((await verify(body)).status, 401);
    });
  });
});
