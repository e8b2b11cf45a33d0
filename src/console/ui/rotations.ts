/** Pure rules of the Rotation page; no DOM, so unit tests run them under Node. */
import type { RotationBody, RotationWithMaterialBody } from '../../http/schemas/rotations.js';
import { PLATFORMS, type Platform } from './format.js';

export type Rotation = RotationBody;
export type StartedRotation = RotationWithMaterialBody;
export type RotationState = 'rolling_out' | 'cutting_over' | 'completed' | 'cancelled';

export interface StartRotationInput {
  secret_id: string;
  name?: string;
  idle_for?: number;
}

/** While any rotation is open the page re-reads this often (and not at all in a hidden tab). */
export const POLL_INTERVAL_MS = 5000;

export function isOpen(rotation: Rotation): boolean {
  return rotation.state === 'rolling_out' || rotation.state === 'cutting_over';
}

export function anyOpen(rotations: readonly Rotation[]): boolean {
  return rotations.some(isOpen);
}

export const STATE_LABELS: Readonly<Record<RotationState, string>> = {
  rolling_out: 'Rolling out',
  cutting_over: 'Cutting over',
  completed: 'Completed',
  cancelled: 'Cancelled',
};

export function stateLabel(state: string): string {
  return STATE_LABELS[state as RotationState] ?? state;
}

export interface PlatformProgress {
  platform: Platform;
  oldLastVerifiedAt: number | null;
  newLastVerifiedAt: number | null;
  /** The server needs the new secret seen on every platform before it cuts over. */
  newSeen: boolean;
}

/** One row per platform the old secret supports, in the console's platform order. */
export function platformProgress(rotation: Rotation): PlatformProgress[] {
  return PLATFORMS.flatMap((platform) => {
    const p = rotation.platforms[platform];
    if (!p) return [];
    return [
      {
        platform,
        oldLastVerifiedAt: p.old_last_verified_at,
        newLastVerifiedAt: p.new_last_verified_at,
        newSeen: p.new_last_verified_at !== null,
      },
    ];
  });
}

/** The sentence under a rotation's state: what the server waits for next. */
export function nextStep(rotation: Rotation, waitingOn: readonly Platform[], labels: Readonly<Record<Platform, string>>): string {
  switch (rotation.state) {
    case 'rolling_out':
      return waitingOn.length > 0
        ? `Waiting for the new secret to verify a user on ${waitingOn.map((p) => labels[p]).join(', ')}. Deploy it to every server that signs users.`
        : 'The new secret verified on every platform; the server cuts over at its next sweep.';
    case 'cutting_over':
      return `The new secret verified on every platform. The server deletes the old secret once it has verified nobody for ${durationText(rotation.idle_for)}.`;
    case 'completed':
      return 'The old secret was deleted; the new one is the only one in use.';
    case 'cancelled':
      return 'Cancelled: the old secret stays.';
    default:
      return '';
  }
}

export function durationText(seconds: number): string {
  if (seconds % 86_400 === 0) return plainUnit(seconds / 86_400, 'day');
  if (seconds % 3_600 === 0) return plainUnit(seconds / 3_600, 'hour');
  if (seconds % 60 === 0) return plainUnit(seconds / 60, 'minute');
  return plainUnit(seconds, 'second');
}

function plainUnit(n: number, unit: string): string {
  return `${n} ${unit}${n === 1 ? '' : 's'}`;
}

export function cancelPath(id: string, keepNew: boolean): string {
  return `/secure_mode_rotations/${encodeURIComponent(id)}/cancel${keepNew ? '?keep_new=true' : ''}`;
}

export function completePath(id: string, force: boolean): string {
  return `/secure_mode_rotations/${encodeURIComponent(id)}/complete${force ? '?force=true' : ''}`;
}

/** The answers to cancel and complete that a second, explicit choice can override. */
export function overridable(action: 'cancel' | 'complete', codes: readonly string[]): boolean {
  if (action === 'cancel') return codes.includes('identity_verification_secret_in_use');
  return codes.includes('rotation_not_ready') || codes.includes('identity_verification_secret_in_use');
}
