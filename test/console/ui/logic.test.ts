import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { describeApiError } from '../../../src/console/ui/api-error.js';
import { auditPath, detailPairs } from '../../../src/console/ui/audit.js';
import {
  type Secret,
  formatDateTime,
  parseLocalDateTime,
  platformsOf,
  relativeTime,
  secretState,
  toLocalDateTimeValue,
  trafficIsRecent,
} from '../../../src/console/ui/format.js';
import { platformTotals, type UsageBucket } from '../../../src/console/ui/usage.js';

const secret = (over: Partial<Secret> = {}): Secret => ({
  type: 'identity_verification_secret',
  id: '1',
  name: 'n',
  supports_web: true,
  supports_ios: false,
  supports_android: true,
  created_at: 1_000,
  last_verified_at: null,
  expires_at: null,
  ...over,
});

const bucket = (start: number, web: number, ios = 0, android = 0): UsageBucket => ({ start, web, ios, android });

describe('console: API errors read as sentences', () => {
  it('uses the error.list messages, never the JSON', () => {
    const body = JSON.stringify({
      type: 'error.list',
      request_id: 'b8d2a8c4-0000-4000-8000-000000000000',
      errors: [{ code: 'parameter_invalid', message: 'name must not be blank', field: 'name' }],
    });
    assert.deepEqual(describeApiError(422, body), {
      message: 'name must not be blank.',
      codes: ['parameter_invalid'],
      field: 'name',
      requestId: 'b8d2a8c4-0000-4000-8000-000000000000',
    });
  });

  it('joins several messages and keeps their own punctuation', () => {
    const body = JSON.stringify({
      type: 'error.list',
      errors: [
        { code: 'a', message: 'First.' },
        { code: 'b', message: 'Second' },
      ],
    });
    assert.equal(describeApiError(400, body).message, 'First. Second.');
  });

  it('says a missing endpoint means the server lacks the feature', () => {
    const body = JSON.stringify({ type: 'error.list', errors: [{ code: 'not_found', message: 'Resource not found' }] });
    assert.match(describeApiError(404, body).message, /does not offer this feature/);
  });

  it('falls back to a sentence for bodies that are not an error.list', () => {
    assert.equal(
      describeApiError(502, '<html>bad gateway</html>').message,
      'The server is unreachable behind its proxy (502); try again shortly.',
    );
    assert.equal(describeApiError(418, '{"weird":true}').message, 'The request failed (HTTP 418).');
    assert.equal(describeApiError(500, '').message, 'The server failed (HTTP 500); try again shortly.');
    assert.equal(describeApiError(401, '').message, 'Access Token Invalid');
  });
});

describe('console: secret state and times', () => {
  it('names platforms in a fixed order', () => {
    assert.deepEqual(platformsOf(secret()), ['web', 'android']);
  });

  it('is live, expiring or expired by expires_at', () => {
    assert.deepEqual(secretState(secret(), 5_000), { kind: 'live' });
    assert.deepEqual(secretState(secret({ expires_at: 6_000 }), 5_000), { kind: 'expiring', at: 6_000 });
    assert.deepEqual(secretState(secret({ expires_at: 5_000 }), 5_000), { kind: 'expired', at: 5_000 });
  });

  it('calls traffic recent within 24 hours', () => {
    assert.equal(trafficIsRecent(null, 100_000), false);
    assert.equal(trafficIsRecent(100_000 - 86_399, 100_000), true);
    assert.equal(trafficIsRecent(100_000 - 86_400, 100_000), false);
  });

  it('words relative times coarsely', () => {
    assert.equal(relativeTime(1_000, 1_010), 'just now');
    assert.equal(relativeTime(1_000, 1_000 + 180), '3 minutes ago');
    assert.equal(relativeTime(1_000, 1_000 + 7_200), '2 hours ago');
    assert.equal(relativeTime(1_000 + 2 * 86_400, 1_000), 'in 2 days');
  });

  it('round-trips datetime-local values and refuses partial ones', () => {
    const unix = parseLocalDateTime('2026-03-04T05:06');
    assert.equal(unix, Math.floor(new Date(2026, 2, 4, 5, 6).getTime() / 1000));
    assert.equal(toLocalDateTimeValue(unix!), '2026-03-04T05:06');
    assert.equal(parseLocalDateTime(''), null);
    assert.equal(parseLocalDateTime('2026-03-04'), null);
    assert.equal(parseLocalDateTime('not a date'), null);
  });
});

describe('console: usage', () => {
  it('totals usage per platform', () => {
    assert.deepEqual(platformTotals([bucket(0, 1, 2, 3), bucket(60, 4, 0, 1)]), { web: 5, ios: 2, android: 4 });
  });
});

describe('console: audit query and details', () => {
  it('builds the query from the filter', () => {
    assert.equal(auditPath({ actions: [], since: null, until: null }), '/audit_events?limit=50');
    assert.equal(
      auditPath({ actions: ['secret.created', 'secret.deleted'], since: 10, until: 20 }, '12', 5),
      '/audit_events?since=10&until=20&action=secret.created%2Csecret.deleted&limit=5&starting_after=12',
    );
  });

  it('flattens details to plain text pairs', () => {
    assert.deepEqual(
      detailPairs({ name: 'x', supports_web: true, changes: { name: { from: 'a', to: 'b' } }, ids: [1, 2], gone: null }),
      [
        ['name', 'x'],
        ['supports web', 'true'],
        ['changes name from', 'a'],
        ['changes name to', 'b'],
        ['ids', '1, 2'],
        ['gone', 'none'],
      ],
    );
    assert.deepEqual(detailPairs({ expires_at: 1_800_000_000, changes: { expires_at: null } }), [
      ['expires at', formatDateTime(1_800_000_000)],
      ['changes expires at', 'none'],
    ]);
    assert.deepEqual(detailPairs(null), []);
  });
});
