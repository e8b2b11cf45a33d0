import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { ManualClock } from '../../src/domain/clock.js';
import {
  type CachedWorkspace,
  DECOY_SECRET,
  type LiveSecret,
  cachedWorkspace,
  setSecrets,
  standIn,
} from '../../src/domain/secret-cache.js';
import { type VerificationRequest, evaluate, findMatchingSecret, parseVerificationRequest } from '../../src/domain/verifier.js';
import { parseHexDigest } from '../../src/crypto/hmac.js';
import { userJwt } from '../../packages/sign/src/index.js';
import { DomainError } from '../../src/domain/errors.js';
import { openTestServices, type TestServices } from '../helpers/services.js';

const hmacHex = (key: string, message: string) => createHmac('sha256', key).update(message).digest('hex');

function secret(
  id: number,
  key: string,
  p: Partial<Pick<LiveSecret, 'web' | 'ios' | 'android' | 'expiresAtMs'>> = {},
): LiveSecret {
  return {
    id,
    key: Buffer.from(key, 'utf8'),
    web: p.web ?? true,
    ios: p.ios ?? true,
    android: p.android ?? true,
    expiresAtMs: p.expiresAtMs ?? null,
  };
}

function entry(secrets: LiveSecret[]): CachedWorkspace {
  return cachedWorkspace({ exists: true, workspaceId: 1, appId: 'app', secrets, loadedAtMs: 0, freshUntilMs: 1 });
}

function hashRequest(
  userHash: string,
  p: { platform?: 'web' | 'ios' | 'android'; userId?: string | null; email?: string | null } = {},
): Extract<VerificationRequest, { method: 'user_hash' }> {
  return {
    method: 'user_hash',
    appId: 'app',
    platform: p.platform ?? 'web',
    userId: p.userId === undefined ? 'user-1' : p.userId,
    email: p.email ?? null,
    userHash,
  };
}

const NOW = Date.UTC(2026, 0, 1);

describe('verifier: user_hash rules', () => {
  it('verifies lowercase hex HMAC-SHA256 of user_id keyed with the secret text, on every platform', () => {
    for (const platform of ['web', 'ios', 'android'] as const) {
      const out = evaluate(entry([secret(1, 'key-a')]), hashRequest(hmacHex('key-a', 'user-1'), { platform }), NOW);
      assert.deepEqual(out, { verified: true, method: 'user_hash', userId: 'user-1', email: null, secretId: 1 });
    }
  });

  it('hashes user_id when present, email only when there is no user_id', () => {
    const ws = entry([secret(1, 'k')]);
    assert.equal(evaluate(ws, hashRequest(hmacHex('k', 'a@b.c'), { userId: 'u', email: 'a@b.c' }), NOW).verified, false);
    assert.equal(evaluate(ws, hashRequest(hmacHex('k', 'u'), { userId: 'u', email: 'a@b.c' }), NOW).verified, true);
    const byEmail = evaluate(ws, hashRequest(hmacHex('k', 'a@b.c'), { userId: null, email: 'a@b.c' }), NOW);
    assert.deepEqual(byEmail, { verified: true, method: 'user_hash', userId: null, email: 'a@b.c', secretId: 1 });
  });

  it('accepts uppercase hex on web only', () => {
    const upper = hmacHex('k', 'user-1').toUpperCase();
    const mixed = hmacHex('k', 'user-1').replace(/[a-f]/, (c) => c.toUpperCase());
    const ws = entry([secret(1, 'k')]);
    assert.equal(evaluate(ws, hashRequest(upper, { platform: 'web' }), NOW).verified, true);
    assert.equal(evaluate(ws, hashRequest(mixed, { platform: 'web' }), NOW).verified, true);
    for (const platform of ['ios', 'android'] as const) {
      assert.deepEqual(evaluate(ws, hashRequest(upper, { platform }), NOW), {
        verified: false,
        method: 'user_hash',
        reason: 'malformed',
      });
      assert.deepEqual(evaluate(ws, hashRequest(mixed, { platform }), NOW), {
        verified: false,
        method: 'user_hash',
        reason: 'malformed',
      });
    }
  });

  it('refuses anything but exactly 64 hex characters, before computing an HMAC', () => {
    const good = hmacHex('k', 'user-1');
    const ws = entry([secret(1, 'k')]);
    for (const bad of [
      good.slice(0, 63),
      `${good}0`,
      ` ${good}`,
      `${good}\n`,
      `${good.slice(0, 62)}zz`,
      Buffer.from(good, 'hex').toString('base64'),
      '',
    ]) {
      assert.deepEqual(
        evaluate(ws, hashRequest(bad), NOW),
        { verified: false, method: 'user_hash', reason: 'malformed' },
        JSON.stringify(bad),
      );
    }
  });

  it('finds a non-hex character at any position of the user_hash', () => {
    const good = hmacHex('k', 'user-1');
    for (let i = 0; i < 64; i++) {
      for (const bad of ['g', ' ', 'é', '-']) {
        const hash = `${good.slice(0, i)}${bad}${good.slice(i + 1)}`;
        assert.equal(parseHexDigest(hash, true), undefined, hash);
      }
    }
    assert.deepEqual(parseHexDigest(good.toUpperCase(), true), Buffer.from(good, 'hex'));
    assert.equal(parseHexDigest(good.toUpperCase(), false), undefined);
    assert.deepEqual(parseHexDigest(good, false), Buffer.from(good, 'hex'));
  });

  it('uses the secret string as the key, not its base64url-decoded bytes', () => {
    const text = 'lKkFwmY3qzqwSoGWWE5CmPmuFgURi-6uwbz1ZljE-s4';
    const decodedKeyHash = createHmac('sha256', Buffer.from(text, 'base64url')).update('user-1').digest('hex');
    const ws = entry([secret(1, text)]);
    assert.equal(evaluate(ws, hashRequest(decodedKeyHash), NOW).verified, false);
    assert.equal(evaluate(ws, hashRequest(hmacHex(text, 'user-1')), NOW).verified, true);
  });

  it('answers unknown_app, no_secret_for_platform and mismatch as distinct reasons', () => {
    const h = hmacHex('k', 'user-1');
    assert.deepEqual(evaluate(standIn('app', 0, 1), hashRequest(h), NOW), {
      verified: false,
      method: 'user_hash',
      reason: 'unknown_app',
    });
    const webOnly = entry([secret(1, 'k', { ios: false, android: false })]);
    assert.deepEqual(evaluate(webOnly, hashRequest(h, { platform: 'ios' }), NOW), {
      verified: false,
      method: 'user_hash',
      reason: 'no_secret_for_platform',
    });
    assert.deepEqual(evaluate(webOnly, hashRequest(hmacHex('other', 'user-1')), NOW), {
      verified: false,
      method: 'user_hash',
      reason: 'mismatch',
    });
  });

  it('the decoy verifies nothing, not even a hash or token made with its key', () => {
    const key = DECOY_SECRET.key.toString('utf8');
    const webOnly = entry([secret(1, 'k', { ios: false, android: false })]);
    const expired = entry([secret(1, 'k', { expiresAtMs: NOW })]);
    for (const [ws, reason] of [
      [standIn('app', 0, 1), 'unknown_app'],
      [webOnly, 'no_secret_for_platform'],
      [expired, 'no_secret_for_platform'],
    ] as const) {
      assert.deepEqual(evaluate(ws, hashRequest(hmacHex(key, 'user-1'), { platform: 'ios' }), NOW), {
        verified: false,
        method: 'user_hash',
        reason,
      });
      const jwt = userJwt(key, { user_id: 'user-1' }, { expiresIn: '1h', now: NOW / 1000 });
      assert.deepEqual(evaluate(ws, { method: 'jwt', appId: 'app', platform: 'ios', userId: null, email: null, jwt }, NOW), {
        verified: false,
        method: 'jwt',
        reason,
      });
    }
  });
});

describe('verifier: choosing secrets', () => {
  it('verifies with any live secret that supports the platform', () => {
    const ws = entry([secret(1, 'a', { ios: false }), secret(2, 'b'), secret(3, 'c', { web: false })]);
    assert.equal(evaluate(ws, hashRequest(hmacHex('a', 'user-1')), NOW).verified, true);
    assert.equal(evaluate(ws, hashRequest(hmacHex('b', 'user-1')), NOW).verified, true);
    assert.equal(evaluate(ws, hashRequest(hmacHex('a', 'user-1'), { platform: 'ios' }), NOW).verified, false);
    assert.equal(evaluate(ws, hashRequest(hmacHex('c', 'user-1'), { platform: 'web' }), NOW).verified, false);
    assert.equal(evaluate(ws, hashRequest(hmacHex('c', 'user-1'), { platform: 'android' }), NOW).verified, true);
  });

  it('never verifies with a secret whose expiry is now or past', () => {
    const ws = entry([secret(1, 'a', { expiresAtMs: NOW }), secret(2, 'b', { expiresAtMs: NOW + 1 })]);
    assert.deepEqual(evaluate(ws, hashRequest(hmacHex('a', 'user-1')), NOW), {
      verified: false,
      method: 'user_hash',
      reason: 'mismatch',
    });
    assert.equal(evaluate(ws, hashRequest(hmacHex('b', 'user-1')), NOW).verified, true);
    assert.equal(evaluate(ws, hashRequest(hmacHex('b', 'user-1')), NOW + 1).verified, false);
    const onlyExpired = entry([secret(1, 'a', { expiresAtMs: NOW - 5 })]);
    assert.deepEqual(evaluate(onlyExpired, hashRequest(hmacHex('a', 'user-1')), NOW), {
      verified: false,
      method: 'user_hash',
      reason: 'no_secret_for_platform',
    });
  });

  it('tries the most recent match first and remembers each new match', () => {
    const ws = entry([secret(1, 'a'), secret(2, 'b'), secret(3, 'c')]);
    const tried: number[] = [];
    const spy = (want: Buffer) => (key: Buffer) => {
      tried.push(ws.secrets.findIndex((s) => s.key === key) + 1);
      return key.equals(want);
    };
    assert.equal((findMatchingSecret(ws, 'web', NOW, spy(Buffer.from('c')), undefined) as LiveSecret).id, 3);
    assert.deepEqual(tried, [1, 2, 3]);

    assert.equal(evaluate(ws, hashRequest(hmacHex('c', 'user-1')), NOW).verified, true);
    assert.equal(ws.candidates.web[0]!.id, 3);
    tried.length = 0;
    findMatchingSecret(ws, 'web', NOW, spy(Buffer.from('c')), undefined);
    assert.deepEqual(tried, [3], 'one HMAC when the last match still matches');
    tried.length = 0;
    findMatchingSecret(ws, 'web', NOW, spy(Buffer.from('b')), undefined);
    assert.deepEqual(tried, [3, 2]);
    tried.length = 0;
    findMatchingSecret(ws, 'web', NOW, spy(Buffer.from('b')), undefined);
    assert.deepEqual(tried, [2]);
  });

  it('keeps the most recent match first when the secrets change or the workspace reloads', () => {
    const ws = entry([secret(1, 'a'), secret(2, 'b')]);
    findMatchingSecret(ws, 'web', NOW, (key: Buffer) => key.equals(Buffer.from('b')), undefined);
    setSecrets(ws, [...ws.secrets, secret(3, 'c')]);
    assert.deepEqual(
      ws.candidates.web.map((s) => s.id),
      [2, 1, 3],
    );
    const reloaded = cachedWorkspace({ ...ws, secrets: [secret(1, 'a'), secret(2, 'b'), secret(3, 'c')] }, ws);
    assert.deepEqual(
      reloaded.candidates.web.map((s) => s.id),
      [2, 1, 3],
    );
  });

  it('skips a most-recent match that no longer applies to the platform or has expired', () => {
    const ws = entry([secret(1, 'a'), secret(2, 'b', { ios: false, expiresAtMs: NOW + 10 })]);
    findMatchingSecret(ws, 'web', NOW, (key: Buffer) => key.equals(Buffer.from('b')), undefined);
    assert.equal(ws.candidates.web[0]!.id, 2);
    const tried: number[] = [];
    const spy = (key: Buffer) => {
      tried.push(ws.secrets.findIndex((s) => s.key === key) + 1);
      return false;
    };
    assert.equal(findMatchingSecret(ws, 'ios', NOW, spy, undefined), 'mismatch');
    assert.deepEqual(tried, [1]);
    tried.length = 0;
    assert.equal(findMatchingSecret(ws, 'web', NOW + 10, spy, undefined), 'mismatch');
    assert.deepEqual(tried, [1]);
  });
});

describe('verifier: request shapes', () => {
  const base = { app_id: 'app', platform: 'web' as const };
  const invalid = (body: Parameters<typeof parseVerificationRequest>[0], field: string) => {
    assert.throws(
      () => parseVerificationRequest(body),
      (err: unknown) => err instanceof DomainError && err.code === 'parameter_invalid' && err.field === field,
    );
  };

  it('needs user_hash or a JWT, not both, and an identity with user_hash', () => {
    invalid({ ...base, user_id: 'u' }, 'user_hash');
    invalid({ ...base, user_id: 'u', user_hash: 'x', intercom_user_jwt: 'a.b.c' }, 'user_hash');
    invalid({ ...base, user_hash: 'x' }, 'user_id');
  });

  it('keeps user_id and email as sent', () => {
    assert.deepEqual(parseVerificationRequest({ ...base, email: 'e', user_hash: 'h' }), {
      method: 'user_hash',
      appId: 'app',
      platform: 'web',
      userId: null,
      email: 'e',
      userHash: 'h',
    });
    assert.deepEqual(parseVerificationRequest({ ...base, user_id: 'u', intercom_user_jwt: 't' }), {
      method: 'jwt',
      appId: 'app',
      platform: 'web',
      userId: 'u',
      email: null,
      jwt: 't',
    });
  });
});

describe('Verifier service: cache, hot path and usage', () => {
  let s: TestServices;
  const clock = new ManualClock(NOW);
  before(async () => {
    s = await openTestServices(clock);
  });
  after(async () => {
    await s.close();
  });

  it('answers synchronously on a cache hit and with a promise only on a miss', async () => {
    const { secret: key } = await s.addSecret('A', { web: true });
    const request = { ...hashRequest(hmacHex(key, 'user-1')), appId: s.workspace.appId };
    s.cache.invalidateAll();
    const miss = s.verifier.verify(request);
    assert.ok(miss instanceof Promise);
    assert.equal((await miss).verified, true);
    const hit = s.verifier.verify(request);
    assert.ok(!(hit instanceof Promise));
    assert.equal(hit.verified, true);
  });

  it('counts successes per secret, platform and minute in memory, and failures per workspace and reason', async () => {
    const { id, secret: key } = await s.addSecret('B', { web: true, ios: true });
    await s.usage.flush();
    const ok = { ...hashRequest(hmacHex(key, 'user-1'), { platform: 'ios' }), appId: s.workspace.appId };
    for (let i = 0; i < 3; i++) await s.verifier.verify(ok);
    // A minute later the cache entry is stale too: this verification reloads it first.
    clock.advance(60_000);
    await s.verifier.verify(ok);
    const pending = s.usage.pendingIncrements().filter((u) => u.secretId === id);
    assert.deepEqual(
      pending.map((u) => [u.platform, u.count]),
      [
        ['ios', 3],
        ['ios', 1],
      ],
    );
    assert.equal(pending[1]!.minute - pending[0]!.minute, 1);

    const before = new Map(s.usage.failureCounts());
    await s.verifier.verify({ ...ok, userHash: hmacHex('wrong', 'user-1') });
    await s.verifier.verify({ ...ok, userHash: 'not hex' });
    await s.verifier.verify({ ...ok, appId: 'no-such-app' });
    const delta = (key: string) => (s.usage.failureCounts().get(key) ?? 0) - (before.get(key) ?? 0);
    assert.equal(delta(`${s.workspace.id}:user_hash:ios:mismatch`), 1);
    assert.equal(delta(`${s.workspace.id}:user_hash:ios:malformed`), 1);
    assert.equal(delta('0:user_hash:ios:unknown_app'), 1);

    await s.usage.flush();
    assert.equal(s.usage.pendingIncrements().length, 0);
    const stored = await s.store.usageSeries([id], 0);
    assert.deepEqual(
      stored.map((u) => u.count),
      [3, 1],
    );
  });

  it('stops verifying a deleted secret at once, while the other keeps verifying', async () => {
    const a = await s.addSecret('rot-A', { android: true });
    const b = await s.addSecret('rot-B', { android: true });
    const req = (key: string) => ({ ...hashRequest(hmacHex(key, 'user-1'), { platform: 'android' }), appId: s.workspace.appId });
    assert.equal((s.verifier.verify(req(a.secret)) as { verified: boolean }).verified, true);
    await s.deleteSecret(a.id);
    const after = s.verifier.verify(req(a.secret));
    assert.ok(!(after instanceof Promise), 'still a cache hit: the delete patched the cache');
    assert.equal(after.verified, false);
    assert.equal((s.verifier.verify(req(b.secret)) as { verified: boolean }).verified, true);
  });
});
