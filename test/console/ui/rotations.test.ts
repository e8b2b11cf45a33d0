import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { PLATFORM_LABELS } from '../../../src/console/ui/format.js';
import {
  type Rotation,
  anyOpen,
  cancelPath,
  completePath,
  durationText,
  isOpen,
  nextStep,
  overridable,
  platformProgress,
  stateLabel,
} from '../../../src/console/ui/rotations.js';

const rotation = (over: Partial<Rotation> = {}): Rotation => ({
  type: 'identity_verification_secret_rotation',
  id: '7',
  state: 'rolling_out',
  from_secret_id: '1',
  to_secret_id: '2',
  idle_for: 3600,
  deadline: null,
  overdue: false,
  deliver: false,
  delivered_at: null,
  created_at: 1_000,
  updated_at: 1_000,
  completed_at: null,
  platforms: {
    android: { old_last_verified_at: 900, new_last_verified_at: null },
    web: { old_last_verified_at: 950, new_last_verified_at: 990 },
  },
  ...over,
});

describe('console: rotation page rules', () => {
  it('lists progress for the old secret’s platforms only, in platform order', () => {
    assert.deepEqual(platformProgress(rotation()), [
      { platform: 'web', oldLastVerifiedAt: 950, newLastVerifiedAt: 990, newSeen: true },
      { platform: 'android', oldLastVerifiedAt: 900, newLastVerifiedAt: null, newSeen: false },
    ]);
  });

  it('polls only while a rotation is open', () => {
    assert.equal(isOpen(rotation()), true);
    assert.equal(isOpen(rotation({ state: 'cutting_over' })), true);
    assert.equal(isOpen(rotation({ state: 'completed' })), false);
    assert.equal(isOpen(rotation({ state: 'cancelled' })), false);
    assert.equal(anyOpen([]), false);
    assert.equal(anyOpen([rotation({ state: 'completed' }), rotation({ state: 'cancelled' })]), false);
    assert.equal(anyOpen([rotation({ state: 'completed' }), rotation()]), true);
  });

  it('says what the server waits for next', () => {
    assert.equal(
      nextStep(rotation(), ['android'], PLATFORM_LABELS),
      'Waiting for the new secret to verify a user on Android. Deploy it to every server that signs users.',
    );
    assert.match(nextStep(rotation(), [], PLATFORM_LABELS), /cuts over at its next sweep/);
    assert.match(
      nextStep(rotation({ state: 'cutting_over', idle_for: 120 }), [], PLATFORM_LABELS),
      /verified nobody for 2 minutes\./,
    );
    assert.match(nextStep(rotation({ state: 'completed' }), [], PLATFORM_LABELS), /old secret was deleted/);
    assert.equal(stateLabel('cutting_over'), 'Cutting over');
    assert.equal(stateLabel('something_new'), 'something_new');
  });

  it('writes durations in the largest whole unit', () => {
    assert.equal(durationText(60), '1 minute');
    assert.equal(durationText(3600), '1 hour');
    assert.equal(durationText(7200), '2 hours');
    assert.equal(durationText(604_800), '7 days');
    assert.equal(durationText(61), '61 seconds');
  });

  it('builds cancel and complete paths, with the override only when asked', () => {
    assert.equal(cancelPath('7', false), '/secure_mode_rotations/7/cancel');
    assert.equal(cancelPath('7', true), '/secure_mode_rotations/7/cancel?keep_new=true');
    assert.equal(completePath('7', false), '/secure_mode_rotations/7/complete');
    assert.equal(completePath('a/b', true), '/secure_mode_rotations/a%2Fb/complete?force=true');
  });

  it('offers keep_new and force only for the refusals they override', () => {
    assert.equal(overridable('cancel', ['identity_verification_secret_in_use']), true);
    assert.equal(overridable('cancel', ['rotation_closed']), false);
    assert.equal(overridable('complete', ['rotation_not_ready']), true);
    assert.equal(overridable('complete', ['identity_verification_secret_in_use']), true);
    assert.equal(overridable('complete', ['rotation_closed']), false);
    assert.equal(overridable('complete', []), false);
  });
});
