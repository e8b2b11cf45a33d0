import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import jwt from 'jsonwebtoken';
import { parseDuration, userHash, userJwt } from '../../packages/sign/src/index.js';

describe('sign: userHash', () => {
  it("reproduces Intercom's published test vector", () => {
    assert.equal(userHash('secret', { user_id: 'Message' }), 'aa747c502a898200f9e4fa21bac68136f886a0e27aec70ba06daf2e2a5cb5597');
  });

  it('hashes user_id when given, else email, as lowercase hex keyed with the secret text', () => {
    const secret = 'lKkFwmY3qzqwSoGWWE5CmPmuFgURi-6uwbz1ZljE-s4';
    const expected = (m: string) => createHmac('sha256', Buffer.from(secret, 'utf8')).update(m, 'utf8').digest('hex');
    assert.equal(userHash(secret, { user_id: 'ü-42', email: 'a@b.c' }), expected('ü-42'));
    assert.equal(userHash(secret, { email: 'a@b.c' }), expected('a@b.c'));
    assert.match(userHash(secret, { email: 'a@b.c' }), /^[0-9a-f]{64}$/);
  });

  it('refuses what would silently produce a wrong hash', () => {
    assert.throws(() => userHash('', { user_id: 'u' }), TypeError);
    assert.throws(() => userHash('secret\n', { user_id: 'u' }), /whitespace/);
    assert.throws(() => userHash('secret', {}), /user_id or an email/);
  });
});

describe('sign: userJwt', () => {
  const secret = 'a-secret';

  it('makes an HS256 JWT that jsonwebtoken verifies, with iat and exp', () => {
    const token = userJwt(secret, { user_id: 'u-1', email: 'u@x', plan: 'pro' }, { expiresIn: '1h' });
    const header = JSON.parse(Buffer.from(token.split('.')[0]!, 'base64url').toString());
    assert.deepEqual(header, { alg: 'HS256', typ: 'JWT' });
    const claims = jwt.verify(token, secret, { algorithms: ['HS256'] }) as Record<string, number | string>;
    assert.equal(claims.user_id, 'u-1');
    assert.equal(claims.email, 'u@x');
    assert.equal(claims.plan, 'pro');
    assert.equal(Number(claims.exp) - Number(claims.iat), 3600);
  });

  it('signs at a given time and without exp unless asked', () => {
    const token = userJwt(secret, { user_id: 'u' }, { now: 1_700_000_000 });
    assert.deepEqual(jwt.verify(token, secret), { user_id: 'u', iat: 1_700_000_000 });
    const expiring = userJwt(secret, { user_id: 'u' }, { now: 1_700_000_000, expiresIn: 90 });
    assert.equal((jwt.decode(expiring) as { exp: number }).exp, 1_700_000_090);
  });

  it('refuses a missing or non-string user_id, a bad duration, and exp given twice', () => {
    assert.throws(() => userJwt(secret, {} as { user_id: string }), /user_id/);
    assert.throws(() => userJwt(secret, { user_id: 42 } as unknown as { user_id: string }), /user_id/);
    assert.throws(() => userJwt(secret, { user_id: 'u' }, { expiresIn: '1 hour' }), /duration/);
    assert.throws(() => userJwt(secret, { user_id: 'u', exp: 1 }, { expiresIn: 60 }), /not both/);
  });

  it('parses durations in seconds, minutes, hours and days', () => {
    assert.equal(parseDuration('45'), 45);
    assert.equal(parseDuration('90s'), 90);
    assert.equal(parseDuration('30m'), 1800);
    assert.equal(parseDuration('1h'), 3600);
    assert.equal(parseDuration('7d'), 604_800);
    for (const bad of ['0', '-1', '1w', '1.5h', '', 'h']) assert.throws(() => parseDuration(bad), TypeError, bad);
    assert.throws(() => parseDuration(0), TypeError);
  });
});

describe('sign: packaging', () => {
  it('imports nothing but node:crypto and has no dependencies, so customers can depend on it or copy it', () => {
    const source = readFileSync(new URL('../../packages/sign/src/index.ts', import.meta.url), 'utf8');
    const imports = [...source.matchAll(/^\s*(?:import|export)[^'"]*from\s+['"]([^'"]+)['"]/gm)].map((m) => m[1]);
    assert.deepEqual(imports, ['node:crypto']);
    const sign = JSON.parse(readFileSync(new URL('../../packages/sign/package.json', import.meta.url), 'utf8'));
    assert.equal(sign.dependencies, undefined);
    assert.deepEqual(sign.exports['.'], { types: './dist/index.d.ts', default: './dist/index.js' });
    const server = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8'));
    assert.deepEqual(server.exports['./sign'], { types: './dist/sign.d.ts', default: './dist/sign.js' });
  });
});
