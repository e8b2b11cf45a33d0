import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MAX_MAX_AGE_DAYS as SERVER_MAX, MIN_MAX_AGE_DAYS as SERVER_MIN } from '../../../src/domain/rotation-policy.js';
import { MAX_MAX_AGE_DAYS, MIN_MAX_AGE_DAYS, isDue, parsePolicyForm } from '../../../src/console/ui/policy.js';

const DAY = 86_400;

describe('console: rotation policy form and due rule', () => {
  it('reads an empty max age as none, and numbers as days', () => {
    assert.deepEqual(parsePolicyForm('', '3600', false), {
      ok: true,
      input: { max_age_days: null, idle_for: 3600, auto_rotate: false },
    });
    assert.deepEqual(parsePolicyForm('  90 ', '60', true), {
      ok: true,
      input: { max_age_days: 90, idle_for: 60, auto_rotate: true },
    });
  });

  it('refuses a max age that is not a whole number of days within the server’s bounds, naming the field', () => {
    for (const bad of ['0', '3651', '1.5', '-3', 'ninety', '1e3', '0x10']) {
      const parsed = parsePolicyForm(bad, '3600', false);
      assert.equal(parsed.ok, false, bad);
      if (!parsed.ok) {
        assert.equal(parsed.field, 'max_age_days');
        assert.match(parsed.message, /whole number of days from 1 to 3650/);
      }
    }
    assert.equal(parsePolicyForm('1', '3600', false).ok, true);
    assert.equal(parsePolicyForm('3650', '3600', false).ok, true);
  });

  it('uses the server’s bounds', () => {
    assert.deepEqual([MIN_MAX_AGE_DAYS, MAX_MAX_AGE_DAYS], [SERVER_MIN, SERVER_MAX]);
  });

  it('marks a secret due exactly when created_at + max_age_days days is at or before now, as the server does', () => {
    const policy = { max_age_days: 30 };
    const created = 1_000_000;
    assert.equal(isDue({ created_at: created }, policy, created + 30 * DAY - 1), false);
    assert.equal(isDue({ created_at: created }, policy, created + 30 * DAY), true);
    assert.equal(isDue({ created_at: created }, policy, created + 400 * DAY), true);
  });

  it('never marks a secret due without a max age or without a policy', () => {
    assert.equal(isDue({ created_at: 0 }, { max_age_days: null }, 10_000 * DAY), false);
    assert.equal(isDue({ created_at: 0 }, null, 10_000 * DAY), false);
  });
});
