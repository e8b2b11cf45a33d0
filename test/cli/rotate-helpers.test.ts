import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { defaultNewName, measure, platformsNotCutOver, usageWindow } from '../../src/cli/rotate.js';
import { durationSeconds, formatSeconds, parseDuration, parseWhen } from '../../src/cli/duration.js';
import { decodeAuditCursor, encodeAuditCursor, parseAuditActions } from '../../src/domain/audit.js';
import { createRequestHash, sameRequest } from '../../src/domain/idempotency.js';
import { parseIdempotencyKey } from '../../src/http/idempotency-key.js';
import { DomainError } from '../../src/domain/errors.js';

const field = (fn: () => unknown) => {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof DomainError);
    return err.field;
  }
  assert.fail('did not throw');
};

describe('rotation helpers', () => {
  it('keeps the old secret while its successor has not verified on every platform the old one supports', () => {
    const old = { supports_web: true, supports_ios: true, supports_android: false } as Parameters<typeof platformsNotCutOver>[0];
    const usage = (web: number, ios: number, android: number) => ({
      usage: { last_hour: { web, ios, android }, last_day: { web, ios, android }, last_week: { web, ios, android } },
    });
    assert.deepEqual(platformsNotCutOver(old, usage(0, 0, 0)), ['web', 'ios']);
    assert.deepEqual(platformsNotCutOver(old, usage(3, 0, 9)), ['ios']);
    assert.deepEqual(platformsNotCutOver(old, usage(1, 1, 0)), []);
  });

  it('parses durations and points in time', () => {
    assert.equal(parseDuration('15m', 'x'), 900_000);
    assert.equal(parseDuration('500ms', 'x'), 500);
    assert.equal(parseDuration('90', 'x'), 90_000);
    assert.equal(parseDuration('1.5h', 'x'), 5_400_000);
    assert.equal(durationSeconds('1500ms', 'x'), 2);
    assert.throws(() => parseDuration('15 minutes', 'x'), /duration like/);
    assert.throws(() => parseDuration('-1s', 'x'));
    assert.equal(formatSeconds(75), '1m15s');
    assert.equal(formatSeconds(86_400), '1d');
    const now = Date.UTC(2026, 0, 1);
    assert.equal(parseWhen('+24h', 'x', now), now / 1000 + 86_400);
    assert.equal(parseWhen('-1d', 'x', now), now / 1000 - 86_400);
    assert.equal(parseWhen('1767225600', 'x', now), 1_767_225_600);
    assert.equal(parseWhen('2026-01-02T00:00:00Z', 'x', now), now / 1000 + 86_400);
  });

  it('measures shares and idleness, and picks buckets within the API limit', () => {
    const usage = (counts: number[], last: number | null) => ({
      type: 'identity_verification_secret.usage' as const,
      id: '1',
      window_seconds: 60 * counts.length,
      bucket_seconds: 60,
      last_verified_at: last,
      buckets: counts.map((c, i) => ({ start: i * 60, web: c, ios: 0, android: 0 })),
    });
    assert.deepEqual(measure(usage([3, 1], 100), usage([0, 4], 130), 130), {
      oldCount: 4,
      newCount: 4,
      newShare: 0.5,
      oldLastVerifiedAt: 100,
      oldIdleSeconds: 30,
    });
    assert.equal(measure(usage([0], null), usage([0], null), 5).newShare, null);
    assert.deepEqual(usageWindow(3), { window: 60, bucket: 60 });
    assert.deepEqual(usageWindow(900), { window: 900, bucket: 60 });
    const day = usageWindow(86_400);
    assert.ok(day.window >= 86_400 && day.window / day.bucket <= 1000 && day.bucket % 60 === 0);
    assert.equal([...defaultNewName('n'.repeat(255), Date.UTC(2026, 0, 2))].length, 255);
    assert.equal(defaultNewName('Web', Date.UTC(2026, 0, 2)), 'Web (rotated 2026-01-02)');
  });

  it('audit cursors are opaque and validated; actions are checked', () => {
    assert.equal(decodeAuditCursor(encodeAuditCursor(12345)), 12345);
    for (const bad of ['12', 'x', Buffer.from('audit:0').toString('base64url'), Buffer.from('audit:1e3').toString('base64url')]) {
      assert.equal(
        field(() => decodeAuditCursor(bad)),
        'starting_after',
      );
    }
    assert.deepEqual(parseAuditActions('secret.created, secret.expired'), ['secret.created', 'secret.expired']);
    assert.equal(parseAuditActions(''), undefined);
    assert.equal(
      field(() => parseAuditActions('secret.created,secret.stolen')),
      'action',
    );
  });

  it('idempotency keys and request identity', () => {
    assert.equal(parseIdempotencyKey(undefined), undefined);
    assert.equal(parseIdempotencyKey(' a~Z '), ' a~Z ');
    for (const bad of ['', 'a\tb', 'é', 'x'.repeat(256), ['a', 'b']])
      assert.equal(
        field(() => parseIdempotencyKey(bad)),
        'Idempotency-Key',
      );
    const a = createRequestHash({ name: 'x', supports_web: true });
    assert.ok(sameRequest(a, createRequestHash({ supports_web: true, name: 'x' })));
    assert.ok(!sameRequest(a, createRequestHash({ name: 'x', supports_web: true, supports_ios: false })));
    assert.ok(!sameRequest(a, createRequestHash({ name: 'x ', supports_web: true })));
  });
});
