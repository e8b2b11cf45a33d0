import assert from 'node:assert/strict';
import { createHmac, generateKeyPairSync, randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import jwt from 'jsonwebtoken';
import { JWT_CLOCK_SKEW_SECONDS, checkClaims, checkHeader, decodeJwt } from '../../src/crypto/jwt.js';
import { type CachedWorkspace, cachedWorkspace } from '../../src/domain/secret-cache.js';
import { evaluate } from '../../src/domain/verifier.js';

const NOW_S = Math.floor(Date.UTC(2026, 0, 1) / 1000);
const NOW = NOW_S * 1000;
const KEY = 'live-secret-text';

const b64 = (value: unknown) => Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)).toString('base64url');

/** A compact JWS built by hand, so the header and payload can be anything at all. */
function forge(header: unknown, payload: unknown, key: string | Buffer = KEY, hash = 'sha256'): string {
  const input = `${b64(header)}.${b64(payload)}`;
  return `${input}.${createHmac(hash, key).update(input).digest('base64url')}`;
}

function workspace(): CachedWorkspace {
  return cachedWorkspace({
    exists: true,
    workspaceId: 1,
    appId: 'app',
    secrets: [{ id: 7, key: Buffer.from(KEY), web: true, ios: true, android: true, expiresAtMs: null }],
    loadedAtMs: 0,
    freshUntilMs: 1,
  });
}

function verify(token: string, body: { userId?: string | null; email?: string | null } = {}, nowMs = NOW) {
  return evaluate(
    workspace(),
    { method: 'jwt', appId: 'app', platform: 'web', userId: body.userId ?? null, email: body.email ?? null, jwt: token },
    nowMs,
  );
}

const HS256 = { alg: 'HS256', typ: 'JWT' };

describe('jwt: accepted tokens', () => {
  it('verifies jsonwebtoken HS256 tokens and returns the signed identity', () => {
    const token = jwt.sign({ user_id: 'u-1', email: 'u@example.com' }, KEY, { algorithm: 'HS256', expiresIn: '1h' });
    assert.deepEqual(verify(token, {}, Date.now()), {
      verified: true,
      method: 'jwt',
      userId: 'u-1',
      email: 'u@example.com',
      secretId: 7,
    });
  });

  it('accepts a header without typ, and a kid that names nothing: keys are never chosen by the token', () => {
    assert.equal(verify(forge({ alg: 'HS256' }, { user_id: 'u' })).verified, true);
    assert.equal(verify(forge({ ...HS256, kid: 'some-other-secret' }, { user_id: 'u' })).verified, true);
  });

  it('honours exp and nbf with a clock skew allowance of 60 s', () => {
    assert.equal(JWT_CLOCK_SKEW_SECONDS, 60);
    assert.equal(verify(forge(HS256, { user_id: 'u', exp: NOW_S - 59 })).verified, true);
    assert.equal(verify(forge(HS256, { user_id: 'u', nbf: NOW_S + 59 })).verified, true);
    assert.equal(verify(forge(HS256, { user_id: 'u', exp: NOW_S + 3600, nbf: NOW_S - 10, iat: NOW_S })).verified, true);
  });

  it('accepts user_id and email beside the token when they equal the signed claims', () => {
    const token = forge(HS256, { user_id: 'u', email: 'e@x' });
    assert.equal(verify(token, { userId: 'u', email: 'e@x' }).verified, true);
  });
});

describe('jwt: rejected tokens', () => {
  const rejected = (token: string, reason: string, nowMs = NOW, body: { userId?: string; email?: string } = {}) =>
    assert.deepEqual(verify(token, body, nowMs), { verified: false, method: 'jwt', reason });

  it('rejects alg none, with or without a signature', () => {
    rejected(`${b64({ alg: 'none' })}.${b64({ user_id: 'u' })}.`, 'malformed');
    rejected(forge({ alg: 'none' }, { user_id: 'u' }), 'malformed');
    rejected(jwt.sign({ user_id: 'u' }, '', { algorithm: 'none' }), 'malformed');
  });

  it('rejects HS384 and HS512 even when signed with the right secret', () => {
    rejected(jwt.sign({ user_id: 'u' }, KEY, { algorithm: 'HS384' }), 'malformed');
    rejected(jwt.sign({ user_id: 'u' }, KEY, { algorithm: 'HS512' }), 'malformed');
    rejected(forge({ alg: 'HS512' }, { user_id: 'u' }, KEY, 'sha512'), 'malformed');
  });

  it('rejects RS256 and ES256 tokens and an alg spelled differently', () => {
    const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    rejected(jwt.sign({ user_id: 'u' }, rsa.privateKey, { algorithm: 'RS256' }), 'malformed');
    rejected(jwt.sign({ user_id: 'u' }, ec.privateKey, { algorithm: 'ES256' }), 'malformed');
    // An HS256 signature under a header that claims RS256: alg confusion must not be "fixed up".
    rejected(forge({ alg: 'RS256' }, { user_id: 'u' }), 'malformed');
    rejected(forge({ alg: 'hs256' }, { user_id: 'u' }), 'malformed');
    rejected(forge({}, { user_id: 'u' }), 'malformed');
  });

  it('rejects crit, b64 and a typ other than JWT', () => {
    rejected(forge({ ...HS256, crit: ['exp'] }, { user_id: 'u' }), 'malformed');
    rejected(forge({ ...HS256, b64: false, crit: ['b64'] }, { user_id: 'u' }), 'malformed');
    rejected(forge({ ...HS256, b64: true }, { user_id: 'u' }), 'malformed');
    rejected(forge({ alg: 'HS256', typ: 'at+jwt' }, { user_id: 'u' }), 'malformed');
  });

  it('ignores jwk, jku, x5u and kid: a token signed with a key it carries itself fails', () => {
    const attacker = randomBytes(32);
    const header = {
      ...HS256,
      kid: '7',
      jwk: { kty: 'oct', k: attacker.toString('base64url') },
      jku: 'https://attacker.example/jwks.json',
      x5u: 'https://attacker.example/cert.pem',
    };
    rejected(forge(header, { user_id: 'u' }, attacker), 'mismatch');
    rejected(forge(header, { user_id: 'u' }, attacker.toString('base64url')), 'mismatch');
  });

  it('rejects a token signed with another secret', () => {
    rejected(jwt.sign({ user_id: 'u' }, 'another-secret', { algorithm: 'HS256' }), 'mismatch');
  });

  it('rejects non-object payloads and a missing, empty or non-string user_id', () => {
    for (const payload of [[{ user_id: 'u' }], JSON.stringify('u'), 42, null, true])
      rejected(forge(HS256, payload), 'jwt_invalid');
    rejected(forge(HS256, { email: 'e@x' }), 'jwt_invalid');
    rejected(forge(HS256, { user_id: '' }), 'jwt_invalid');
    rejected(forge(HS256, { user_id: 42 }), 'jwt_invalid');
    rejected(forge(HS256, { user_id: null }), 'jwt_invalid');
    rejected(forge(HS256, { user_id: 'u', email: 5 }), 'jwt_invalid');
  });

  it('rejects exp in the past beyond the skew and nbf in the future beyond the skew', () => {
    rejected(forge(HS256, { user_id: 'u', exp: NOW_S - 60 }), 'jwt_expired');
    rejected(forge(HS256, { user_id: 'u', exp: NOW_S - 3600 }), 'jwt_expired');
    rejected(forge(HS256, { user_id: 'u', nbf: NOW_S + 61 }), 'jwt_invalid');
    rejected(forge(HS256, { user_id: 'u', exp: String(NOW_S + 60) }), 'jwt_invalid');
    rejected(forge(HS256, { user_id: 'u', nbf: 'soon' }), 'jwt_invalid');
  });

  it('rejects a user_id or email beside the token that differs from the signed claims', () => {
    const token = forge(HS256, { user_id: 'u' });
    rejected(token, 'jwt_invalid', NOW, { userId: 'admin' });
    rejected(token, 'jwt_invalid', NOW, { email: 'someone@x' });
  });

  it('rejects structural damage: segments, encoding, padding, JSON', () => {
    const good = forge(HS256, { user_id: 'u' });
    const [h, p, s] = good.split('.') as [string, string, string];
    for (const bad of [
      `${h}.${p}`,
      `${good}.x`,
      `.${p}.${s}`,
      `${h}..${s}`,
      `${h}.${p}.${s}=`,
      `${h}.${p}.${s.slice(0, -1)}+`,
      `${h}.${p}.${s.slice(0, -1)}`,
      `${b64('not json')}.${p}.${s}`,
      `${b64([1])}.${p}.${s}`,
      `${h}.${b64('{not json')}.${s}`,
      'a.b.c',
      '',
    ]) {
      assert.equal(verify(bad).verified, false, bad);
    }
  });

  it('rejects a non-canonical spelling of a valid signature', () => {
    const good = forge(HS256, { user_id: 'u' });
    const sig = good.slice(good.lastIndexOf('.') + 1);
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
    // 43 characters carry 258 bits for 256: the low 2 bits of the last character are padding.
    const last = alphabet.indexOf(sig.at(-1)!);
    const twin = `${good.slice(0, -1)}${alphabet[last ^ 1]}`;
    assert.deepEqual(Buffer.from(twin.slice(twin.lastIndexOf('.') + 1), 'base64url'), Buffer.from(sig, 'base64url'));
    assert.equal(verify(good).verified, true);
    assert.equal(verify(twin).verified, false);
  });
});

describe('jwt primitives', () => {
  it('decodeJwt names the structural problem', () => {
    assert.deepEqual(decodeJwt('abc'), { problem: 'not_three_segments' });
    assert.deepEqual(decodeJwt('a*.b.c'), { problem: 'not_base64url' });
    assert.deepEqual(decodeJwt(`${b64('[]')}.${b64('{}')}.`), { problem: 'header_not_json_object' });
    assert.deepEqual(decodeJwt(`${b64('{}')}.${b64('{')}.`), { problem: 'payload_not_json' });
  });

  it('checkHeader and checkClaims report what is wrong', () => {
    assert.deepEqual(checkHeader({ alg: 'RS256' }), { code: 'alg_not_hs256', alg: 'RS256' });
    assert.deepEqual(checkHeader({ alg: 5 }), { code: 'alg_not_hs256', alg: null });
    assert.equal(checkHeader({ alg: 'HS256', typ: 'jwt' }), undefined);
    assert.deepEqual(checkClaims({ user_id: 'u', exp: 100 }, 200), { ok: false, problem: { code: 'expired', exp: 100 } });
    assert.deepEqual(checkClaims({ user_id: 'u', email: null }, 0), { ok: true, identity: { userId: 'u', email: null } });
  });

  it('checkClaims: iat beyond the skew in the future, and a maximum age that needs exp and bounds exp - iat', () => {
    const skewed = { skewSeconds: 60, maxAgeSeconds: undefined };
    assert.deepEqual(checkClaims({ user_id: 'u', iat: 1061 }, 1000, skewed), {
      ok: false,
      problem: { code: 'issued_in_future', iat: 1061 },
    });
    assert.equal(checkClaims({ user_id: 'u', iat: 1060 }, 1000, skewed).ok, true);
    assert.deepEqual(checkClaims({ user_id: 'u', iat: 'now' }, 1000, skewed), { ok: false, problem: { code: 'iat_not_number' } });
    const capped = { skewSeconds: 60, maxAgeSeconds: 300 };
    assert.deepEqual(checkClaims({ user_id: 'u', iat: 1000 }, 1000, capped), {
      ok: false,
      problem: { code: 'exp_missing', maxAgeSeconds: 300 },
    });
    assert.equal(checkClaims({ user_id: 'u', iat: 1000, exp: 1300 }, 1000, capped).ok, true);
    assert.deepEqual(checkClaims({ user_id: 'u', iat: 1000, exp: 1301 }, 1000, capped), {
      ok: false,
      problem: { code: 'lifetime_too_long', lifetimeSeconds: 301, maxAgeSeconds: 300 },
    });
    assert.equal(checkClaims({ user_id: 'u', exp: 1300 }, 1000, capped).ok, true, 'without iat, measured from now');
    assert.equal(checkClaims({ user_id: 'u', exp: 1400 }, 1000, capped).ok, false);
    assert.equal(checkClaims({ user_id: 'u' }, 1000, skewed).ok, true, 'no maximum age: exp stays optional');
  });
});
