import assert from 'node:assert/strict';
import { createHash, createHmac, generateKeyPairSync } from 'node:crypto';
import { createRequire, syncBuiltinESMExports } from 'node:module';
import { after, before, beforeEach, describe, it } from 'node:test';
import jwt from 'jsonwebtoken';
import { secretAad } from '../../src/crypto/keyring.js';
import { SYSTEM_ACTOR } from '../../src/domain/actor.js';
import { ManualClock } from '../../src/domain/clock.js';
import { DIAGNOSE_DELETED_LIMIT, type DiagnoseBody, type Diagnosis } from '../../src/domain/diagnose.js';
import { userHash, userJwt } from '../../packages/sign/src/index.js';
import { openTestServices, type TestServices } from '../helpers/services.js';

const hmac = (key: string | Buffer, message: string, algorithm = 'sha256') =>
  createHmac(algorithm, key).update(message).digest('hex');
const codes = (d: Diagnosis) => d.causes.map((c) => c.code);

describe('diagnose', () => {
  const clock = new ManualClock(Date.UTC(2026, 5, 1));
  const nowS = () => Math.floor(clock.nowMs() / 1000);
  let s: TestServices;
  let web: { id: number; secret: string };
  let mobile: { id: number; secret: string };

  const diagnose = (body: DiagnoseBody) => s.diagnoser.diagnose(s.workspace, body);
  const hashBody = (
    platform: 'web' | 'ios' | 'android',
    hash: string,
    identity: { user_id?: string; email?: string } = { user_id: 'u-1' },
  ) => ({ platform, ...identity, user_hash: hash }) as DiagnoseBody;
  const jwtBody = (platform: 'web' | 'ios' | 'android', token: string, extra: { user_id?: string; email?: string } = {}) =>
    ({ platform, intercom_user_jwt: token, ...extra }) as DiagnoseBody;

  before(async () => {
    s = await openTestServices(clock);
    web = await s.addSecret('Web 2026', { web: true });
    mobile = await s.addSecret('Mobile 2026', { ios: true, android: true });
  });
  after(async () => {
    await s.close();
  });
  beforeEach(() => clock.advance(1000));

  describe('a value that verifies', () => {
    it('says so, names the secret and records no usage', async () => {
      const before = s.usage.pendingIncrements().length;
      const d = await diagnose(hashBody('web', userHash(web.secret, { user_id: 'u-1' })));
      assert.equal(d.verified, true);
      assert.deepEqual(d.causes, []);
      assert.equal(d.secret?.record.id, web.id);
      assert.equal(d.secret?.record.name, 'Web 2026');
      assert.equal(d.secret?.state, 'live');
      assert.equal(s.usage.pendingIncrements().length, before);
      const j = await diagnose(jwtBody('ios', userJwt(mobile.secret, { user_id: 'j', email: 'j@x' }, { now: nowS() })));
      assert.deepEqual([j.verified, j.userId, j.email, j.secret?.record.id], [true, 'j', 'j@x', mobile.id]);
    });
  });

  describe('user_hash causes', () => {
    it('wrong_app_id: the value is fine but the app_id is another workspace', async () => {
      const d = await diagnose({ ...hashBody('web', userHash(web.secret, { user_id: 'u-1' })), app_id: 'someoneelse' });
      assert.equal(d.verified, false);
      assert.deepEqual(codes(d), ['wrong_app_id']);
      assert.match(d.causes[0]!.message, new RegExp(s.workspace.appId));
      assert.equal(d.secret?.record.id, web.id);
    });

    it('deleted_secret: names the deleted secret that signed it', async () => {
      const old = await s.addSecret('Old web', { web: true });
      await s.deleteSecret(old.id);
      const d = await diagnose(hashBody('web', userHash(old.secret, { user_id: 'u-1' })));
      assert.equal(d.verified, false);
      assert.deepEqual(codes(d), ['deleted_secret']);
      assert.equal(d.secret?.record.id, old.id);
      assert.equal(d.secret?.state, 'deleted');
      assert.match(d.causes[0]!.message, /secret \d+ \("Old web"\), deleted at .*sign with secret \d+ \("Web 2026"\)/);
    });

    it('expired_secret: retired by expiry, or past expires_at and not yet retired', async () => {
      const retired = await s.addSecret('Retired', { web: true });
      const at = nowS();
      await s.store.deleteSecret(s.workspace.id, retired.id, at, 'expired', {
        workspaceId: s.workspace.id,
        actorTokenId: null,
        ip: null,
        requestId: null,
        action: 'secret.expired',
        targetType: 'secret',
        at,
      });
      s.cache.secretRemoved(s.workspace.id, retired.id);
      const d1 = await diagnose(hashBody('web', userHash(retired.secret, { user_id: 'u-1' })));
      assert.deepEqual([d1.verified, codes(d1), d1.secret?.state], [false, ['expired_secret'], 'expired']);

      const lapsing = await s.addSecret('Lapsing', { web: true });
      const updated = await s.store.updateSecret(
        s.workspace.id,
        lapsing.id,
        { expiresAt: nowS() },
        {
          workspaceId: s.workspace.id,
          actorTokenId: null,
          ip: null,
          requestId: null,
          action: 'secret.updated',
          targetType: 'secret',
          at: nowS(),
        },
      );
      s.cache.secretUpdated(updated!);
      const d2 = await diagnose(hashBody('web', userHash(lapsing.secret, { user_id: 'u-1' })));
      assert.deepEqual([d2.verified, codes(d2), d2.secret?.state], [false, ['expired_secret'], 'expired']);
      await s.deleteSecret(lapsing.id);
    });

    it('platform_not_enabled: signed with a live secret that is off for this platform', async () => {
      const d = await diagnose(hashBody('android', userHash(web.secret, { user_id: 'u-1' })));
      assert.deepEqual(codes(d), ['platform_not_enabled']);
      assert.match(d.causes[0]!.message, /not enabled for android \(enabled for: web\)/);
    });

    it('email_hashed_instead_of_user_id', async () => {
      const d = await diagnose(hashBody('ios', hmac(mobile.secret, 'a@b.c'), { user_id: 'u-1', email: 'a@b.c' }));
      assert.deepEqual(codes(d), ['email_hashed_instead_of_user_id']);
    });

    it('uppercase_hex_on_mobile, and together with a deleted secret', async () => {
      const d = await diagnose(hashBody('ios', hmac(mobile.secret, 'u-1').toUpperCase()));
      assert.deepEqual(codes(d), ['uppercase_hex_on_mobile']);
      assert.match(d.causes[0]!.message, /iOS needs lowercase/);
      const gone = await s.addSecret('Gone mobile', { android: true });
      await s.deleteSecret(gone.id);
      const both = await diagnose(hashBody('android', hmac(gone.secret, 'u-1').toUpperCase()));
      assert.deepEqual(codes(both), ['deleted_secret', 'uppercase_hex_on_mobile']);
      assert.equal(both.secret?.record.id, gone.id);
    });

    it('key_base64url_decoded', async () => {
      const d = await diagnose(hashBody('web', hmac(Buffer.from(web.secret, 'base64url'), 'u-1')));
      assert.deepEqual(codes(d), ['key_base64url_decoded']);
      assert.equal(d.secret?.record.id, web.id);
    });

    it('whitespace: around the user_hash, around user_id, a trailing newline in the message or in the key', async () => {
      const good = hmac(web.secret, 'u-1');
      const around = await diagnose(hashBody('web', `${good}\n`));
      assert.deepEqual(codes(around), ['whitespace']);
      assert.match(around.causes[0]!.message, /user_hash has surrounding whitespace/);
      const spacedId = await diagnose(hashBody('web', good, { user_id: ' u-1 ' }));
      assert.deepEqual(codes(spacedId), ['whitespace']);
      assert.match(spacedId.causes[0]!.message, /trimmed/);
      const echoed = await diagnose(hashBody('web', hmac(web.secret, 'u-1\n')));
      assert.deepEqual(codes(echoed), ['whitespace']);
      assert.match(echoed.causes[0]!.message, /echo/);
      const keyFile = await diagnose(hashBody('web', hmac(`${web.secret}\n`, 'u-1')));
      assert.deepEqual(codes(keyFile), ['whitespace']);
      assert.match(keyFile.causes[0]!.message, /key had a trailing newline/);
    });

    it('digest_not_hex: the digest was sent as base64', async () => {
      const d = await diagnose(hashBody('web', createHmac('sha256', web.secret).update('u-1').digest('base64')));
      assert.deepEqual(codes(d), ['digest_not_hex']);
    });

    it('wrong_hash_algorithm: HMAC-SHA1 or HMAC-SHA512', async () => {
      assert.deepEqual(codes(await diagnose(hashBody('web', hmac(web.secret, 'u-1', 'sha1')))), ['wrong_hash_algorithm']);
      const d = await diagnose(hashBody('web', hmac(web.secret, 'u-1', 'sha512')));
      assert.deepEqual(codes(d), ['wrong_hash_algorithm']);
      assert.match(d.causes[0]!.message, /HMAC-SHA-512/);
    });

    it('not_hmac: a plain SHA-256, or the secret concatenated with the value', async () => {
      const sha = (v: string) => createHash('sha256').update(v).digest('hex');
      const plain = await diagnose(hashBody('web', sha('u-1')));
      assert.deepEqual([codes(plain), plain.secret], [['not_hmac'], null]);
      assert.deepEqual(codes(await diagnose(hashBody('web', sha(`${web.secret}u-1`)))), ['not_hmac']);
      assert.deepEqual(codes(await diagnose(hashBody('web', sha(`u-1${web.secret}`)))), ['not_hmac']);
    });

    it('user_hash_malformed: not a digest in any encoding', async () => {
      const d = await diagnose(hashBody('web', 'not-a-hash'));
      assert.deepEqual([codes(d), d.secret], [['user_hash_malformed'], null]);
    });

    it('unknown_secret: nothing this workspace ever had signed it', async () => {
      const d = await diagnose(hashBody('web', hmac('some other key', 'u-1')));
      assert.deepEqual([codes(d), d.secret], [['unknown_secret'], null]);
      assert.match(d.causes[0]!.message, /another workspace's, or Intercom's own secret/);
    });

    it('no_secret_for_platform: no live secret is enabled for it', async () => {
      const other = await s.workspaces.createWorkspace({ name: 'Empty' });
      const empty = await s.diagnoser.diagnose(other, hashBody('web', hmac('k', 'u-1')));
      assert.deepEqual(codes(empty), ['no_secret_for_platform']);
      assert.match(empty.causes[0]!.message, /no live secret/);
      const { secret } = await s.secrets.create(other, { name: 'Only web', supports_web: true }, SYSTEM_ACTOR);
      const d = await s.diagnoser.diagnose(other, hashBody('ios', hmac('k', 'u-1')));
      assert.deepEqual(codes(d), ['no_secret_for_platform']);
      assert.match(d.causes[0]!.message, /No live secret is enabled for ios/);
      assert.ok(!JSON.stringify(d).includes(secret));
    });

    it('not_yet_propagated: a secret this node has not loaded yet', async () => {
      await diagnose(hashBody('web', userHash(web.secret, { user_id: 'warm' })));
      const created = await s.store.createSecret(
        {
          workspaceId: s.workspace.id,
          name: 'Made elsewhere',
          supportsWeb: true,
          supportsIos: false,
          supportsAndroid: false,
          createdAt: nowS(),
          expiresAt: null,
        },
        10,
        (id) => s.keyring.encrypt(Buffer.from('made-on-another-node'), secretAad(s.workspace.id, id)),
        {
          workspaceId: s.workspace.id,
          actorTokenId: null,
          ip: null,
          requestId: null,
          action: 'secret.created',
          targetType: 'secret',
          at: nowS(),
        },
      );
      assert.ok(created.ok);
      const d = await diagnose(hashBody('web', hmac('made-on-another-node', 'u-1')));
      assert.equal(d.verified, false);
      assert.deepEqual(codes(d), ['not_yet_propagated']);
      assert.equal(d.secret?.record.name, 'Made elsewhere');
      await s.deleteSecret(created.ok ? created.secret.id : 0);
    });
  });

  describe('JWT causes', () => {
    const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');
    const forge = (header: unknown, payload: unknown, key: string) => {
      const input = `${b64(header)}.${b64(payload)}`;
      return `${input}.${createHmac('sha256', key).update(input).digest('base64url')}`;
    };

    it('jwt_malformed, with a hint when a user_hash was sent as the JWT', async () => {
      const d = await diagnose(jwtBody('web', 'abc.def'));
      assert.deepEqual(codes(d), ['jwt_malformed']);
      assert.match(d.causes[0]!.message, /three base64url parts/);
      const hash = await diagnose(jwtBody('web', userHash(web.secret, { user_id: 'u' })));
      assert.match(hash.causes[0]!.message, /looks like a user_hash/);
    });

    it('jwt_wrong_alg: none, HS512 with a live secret (named), RS256', async () => {
      const none = await diagnose(jwtBody('web', jwt.sign({ user_id: 'u', iat: nowS() }, '', { algorithm: 'none' })));
      assert.deepEqual(codes(none), ['jwt_wrong_alg']);
      assert.match(none.causes[0]!.message, /unsigned/);
      const hs512 = await diagnose(jwtBody('web', jwt.sign({ user_id: 'u', iat: nowS() }, web.secret, { algorithm: 'HS512' })));
      assert.deepEqual(codes(hs512), ['jwt_wrong_alg']);
      assert.match(hs512.causes[0]!.message, /HS512; only HS256/);
      assert.equal(hs512.secret?.record.id, web.id);
      const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
      const rs = await diagnose(jwtBody('web', jwt.sign({ user_id: 'u', iat: nowS() }, privateKey, { algorithm: 'RS256' })));
      assert.deepEqual(codes(rs), ['jwt_wrong_alg']);
      assert.match(rs.causes[0]!.message, /RS256/);
    });

    it('jwt_unsupported_header: crit or an odd typ', async () => {
      const crit = await diagnose(jwtBody('web', forge({ alg: 'HS256', crit: ['x'], x: 1 }, { user_id: 'u' }, web.secret)));
      assert.deepEqual(codes(crit), ['jwt_unsupported_header']);
      const typ = await diagnose(jwtBody('web', forge({ alg: 'HS256', typ: 'dpop+jwt' }, { user_id: 'u' }, web.secret)));
      assert.deepEqual(codes(typ), ['jwt_unsupported_header']);
      assert.match(typ.causes[0]!.message, /dpop\+jwt/);
    });

    it('jwt_expired says by how much', async () => {
      const d = await diagnose(jwtBody('web', userJwt(web.secret, { user_id: 'u' }, { now: nowS() - 3600, expiresIn: '30m' })));
      assert.deepEqual(codes(d), ['jwt_expired']);
      assert.match(d.causes[0]!.message, /1800 seconds ago/);
      assert.equal(d.secret?.record.id, web.id);
      assert.equal(d.userId, 'u');
    });

    it('jwt_not_yet_valid', async () => {
      const d = await diagnose(jwtBody('web', forge({ alg: 'HS256' }, { user_id: 'u', nbf: nowS() + 600 }, web.secret)));
      assert.deepEqual(codes(d), ['jwt_not_yet_valid']);
    });

    it('jwt_missing_user_id: absent, numeric, or a payload that is not an object', async () => {
      assert.deepEqual(codes(await diagnose(jwtBody('web', forge({ alg: 'HS256' }, { email: 'e@x' }, web.secret)))), [
        'jwt_missing_user_id',
      ]);
      const numeric = await diagnose(jwtBody('web', forge({ alg: 'HS256' }, { user_id: 42 }, web.secret)));
      assert.deepEqual(codes(numeric), ['jwt_missing_user_id']);
      assert.match(numeric.causes[0]!.message, /is a number; it must be a string/);
      assert.deepEqual(codes(await diagnose(jwtBody('web', forge({ alg: 'HS256' }, ['u'], web.secret)))), [
        'jwt_missing_user_id',
      ]);
    });

    it('jwt_invalid_claim: exp that is not a number', async () => {
      const d = await diagnose(jwtBody('web', forge({ alg: 'HS256' }, { user_id: 'u', exp: 'tomorrow' }, web.secret)));
      assert.deepEqual(codes(d), ['jwt_invalid_claim']);
    });

    it('jwt_identity_mismatch: user_id or email beside the token differ from its claims', async () => {
      const token = userJwt(web.secret, { user_id: 'u' }, { now: nowS() });
      assert.deepEqual(codes(await diagnose(jwtBody('web', token, { user_id: 'admin' }))), ['jwt_identity_mismatch']);
      const email = await diagnose(jwtBody('web', token, { email: 'e@x' }));
      assert.deepEqual(codes(email), ['jwt_identity_mismatch']);
      assert.match(email.causes[0]!.message, /has no email claim/);
    });

    it('several problems at once, secret state first', async () => {
      const gone = await s.addSecret('Gone JWT', { web: true });
      await s.deleteSecret(gone.id);
      const token = userJwt(gone.secret, { user_id: 'u' }, { now: nowS() - 7200, expiresIn: '1h' });
      const d = await diagnose(jwtBody('web', token));
      assert.deepEqual(codes(d), ['deleted_secret', 'jwt_expired']);
      assert.equal(d.secret?.record.id, gone.id);
    });

    it('key_base64url_decoded, platform_not_enabled and unknown_secret apply to JWTs too', async () => {
      const decoded = await diagnose(
        jwtBody('web', jwt.sign({ user_id: 'u', iat: nowS() }, Buffer.from(web.secret, 'base64url'))),
      );
      assert.deepEqual(codes(decoded), ['key_base64url_decoded']);
      assert.deepEqual(codes(await diagnose(jwtBody('ios', userJwt(web.secret, { user_id: 'u' }, { now: nowS() })))), [
        'platform_not_enabled',
      ]);
      const unknown = await diagnose(jwtBody('web', userJwt('not ours', { user_id: 'u' }, { now: nowS() })));
      assert.deepEqual([codes(unknown), unknown.secret], [['unknown_secret'], null]);
    });
  });

  it('never puts secret material in a diagnosis', async () => {
    const all = [
      await diagnose(hashBody('android', userHash(web.secret, { user_id: 'u' }))),
      await diagnose(jwtBody('web', jwt.sign({ user_id: 'u', iat: nowS() }, web.secret, { algorithm: 'HS384' }))),
      await diagnose(hashBody('web', hmac('x', 'u'))),
    ];
    const text = JSON.stringify(all);
    for (const secret of [web.secret, mobile.secret]) assert.ok(!text.includes(secret));
  });
});

describe('diagnose: bounded work', () => {
  // The CommonJS face of node:crypto: replacing a function on it and syncing reaches every ESM importer.
  const cjsCrypto = createRequire(import.meta.url)('node:crypto') as typeof import('node:crypto');

  async function digestsDuring(run: () => Promise<unknown>): Promise<number> {
    const { createHmac: hmacFn, createHash: hashFn } = cjsCrypto;
    let count = 0;
    cjsCrypto.createHmac = ((...args: Parameters<typeof hmacFn>) => (count++, hmacFn(...args))) as typeof hmacFn;
    cjsCrypto.createHash = ((...args: Parameters<typeof hashFn>) => (count++, hashFn(...args))) as typeof hashFn;
    syncBuiltinESMExports();
    try {
      await run();
    } finally {
      Object.assign(cjsCrypto, { createHmac: hmacFn, createHash: hashFn });
      syncBuiltinESMExports();
    }
    return count;
  }

  it(`tries the live secrets and at most ${DIAGNOSE_DELETED_LIMIT} deleted ones, a fixed number of encodings each`, async () => {
    const s = await openTestServices();
    try {
      await s.addSecret('live', { web: true });
      const retire = async (n: number) => {
        for (let i = 0; i < n; i++) await s.deleteSecret((await s.addSecret(`old ${i}`, { web: true })).id);
      };
      const body = {
        platform: 'web',
        user_id: ' u-1',
        email: 'e@x',
        user_hash: createHmac('sha256', 'nobody').update('u').digest('hex'),
      } as DiagnoseBody;
      await retire(DIAGNOSE_DELETED_LIMIT);
      const atLimit = await digestsDuring(() => s.diagnoser.diagnose(s.workspace, body));
      await retire(DIAGNOSE_DELETED_LIMIT);
      const beyond = await digestsDuring(() => s.diagnoser.diagnose(s.workspace, body));
      assert.equal(beyond, atLimit, 'more deleted secrets cost a diagnosis nothing more');
      // Per secret: 3 keys × 5 messages for HMAC, 2 concatenations × 5 messages; plus 5 plain hashes and the verify HMAC.
      assert.ok(atLimit <= (1 + DIAGNOSE_DELETED_LIMIT) * 25 + 6, `${atLimit} digests`);
      assert.ok(atLimit >= (1 + DIAGNOSE_DELETED_LIMIT) * 25, `${atLimit} digests: every secret tried was tried fully`);
    } finally {
      await s.close();
    }
  });
});
