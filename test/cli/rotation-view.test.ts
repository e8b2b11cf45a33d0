import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { RotationBody } from '../../src/cli/api-client.js';
import {
  oldLastVerifiedAt,
  platformRows,
  platformsWaiting,
  rotationProgressLine,
  rotationRow,
} from '../../src/cli/rotation-view.js';

const rotation = (over: Partial<RotationBody> = {}): RotationBody => ({
  type: 'identity_verification_secret_rotation',
  id: '7',
  state: 'rolling_out',
  from_secret_id: '12',
  to_secret_id: '13',
  idle_for: 3600,
  deadline: null,
  overdue: false,
  deliver: false,
  delivered_at: null,
  created_at: 1_800_000_000,
  updated_at: 1_800_000_000,
  completed_at: null,
  platforms: {
    web: { old_last_verified_at: 1_800_000_090, new_last_verified_at: 1_800_000_060 },
    ios: { old_last_verified_at: null, new_last_verified_at: null },
  },
  ...over,
});

describe('how the CLI shows a server-side rotation', () => {
  it('a progress line says what the rotation waits for, then each platform of the old secret', () => {
    const now = 1_800_000_100;
    assert.deepEqual(platformsWaiting(rotation()), ['ios']);
    assert.equal(oldLastVerifiedAt(rotation()), 1_800_000_090);
    assert.equal(
      rotationProgressLine(rotation(), now),
      'rotation 7 rolling_out: waiting for 13 to verify on ios · web: old 12 10s ago, new 13 40s ago · ios: old 12 never, new 13 never',
    );
    const cutOver = rotation({
      state: 'cutting_over',
      overdue: true,
      platforms: { web: { old_last_verified_at: 1_800_000_000, new_last_verified_at: 1_800_000_099 } },
    });
    assert.equal(
      rotationProgressLine(cutOver, now),
      'rotation 7 cutting_over (OVERDUE): 12 idle for 1m40s of 1h · web: old 12 1m40s ago, new 13 1s ago',
    );
    const neverUsed = rotation({
      state: 'cutting_over',
      platforms: { android: { old_last_verified_at: null, new_last_verified_at: now } },
    });
    assert.equal(oldLastVerifiedAt(neverUsed), null);
    assert.match(rotationProgressLine(neverUsed, now), /: 12 never verified: the server deletes it at its next sweep · android:/);
    assert.match(rotationProgressLine(rotation({ state: 'completed' }), now), /^rotation 7 completed: 12 deleted · /);
    assert.match(rotationProgressLine(rotation({ state: 'cancelled' }), now), /^rotation 7 cancelled: 12 stays live · /);
    assert.match(
      rotationProgressLine(rotation({ deliver: true }), now),
      /^rotation 7 rolling_out: waiting for the server to deliver 13 \(its rollout command\), then for 13 to verify on ios · web:/,
    );
    assert.match(
      rotationProgressLine(rotation({ deliver: true, delivered_at: 1_800_000_070 }), now),
      /^rotation 7 rolling_out: waiting for 13 to verify on ios · 13 delivered by the server 30s ago · web:/,
    );
    // A server clock ahead of ours never shows a negative age.
    assert.match(rotationProgressLine(rotation(), 1_800_000_000), /web: old 12 0s ago, new 13 0s ago/);
  });

  it('table rows: times in ISO, idle_for as a duration, one row per platform of the old secret', () => {
    assert.deepEqual(rotationRow(rotation({ deadline: 1_800_086_400, overdue: true })), {
      id: '7',
      state: 'rolling_out',
      from: '12',
      to: '13',
      idle_for: '1h',
      deadline: '2027-01-16T08:00:00Z',
      overdue: 'yes',
      created: '2027-01-15T08:00:00Z',
      ended: null,
      delivered: null,
    });
    assert.equal(rotationRow(rotation({ deliver: true })).delivered, 'pending');
    assert.equal(rotationRow(rotation({ deliver: true, delivered_at: 1_800_000_030 })).delivered, '2027-01-15T08:00:30Z');
    assert.deepEqual(platformRows(rotation()), [
      { platform: 'web', old_last_verified: '2027-01-15T08:01:30Z', new_last_verified: '2027-01-15T08:01:00Z' },
      { platform: 'ios', old_last_verified: null, new_last_verified: null },
    ]);
  });
});
