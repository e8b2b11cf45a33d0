import { PLATFORMS } from '../domain/model.js';
import type { RotationBody } from './api-client.js';
import { formatSeconds } from './duration.js';
import { isoTime } from './secret-view.js';

/** How the rotations commands and rotate show a server-side rotation: its table row, its platforms, its progress. */

export const ROTATION_COLUMNS = ['id', 'state', 'from', 'to', 'idle_for', 'deadline', 'overdue', 'created', 'ended', 'delivered'];
export const PLATFORM_COLUMNS = ['platform', 'old_last_verified', 'new_last_verified'];

export function rotationRow(r: RotationBody): Record<string, unknown> {
  return {
    id: r.id,
    state: r.state,
    from: r.from_secret_id,
    to: r.to_secret_id,
    idle_for: formatSeconds(r.idle_for),
    deadline: isoTime(r.deadline),
    overdue: r.overdue ? 'yes' : 'no',
    created: isoTime(r.created_at),
    ended: isoTime(r.completed_at),
    delivered: deliveredCell(r),
  };
}

/** Only a delivering rotation (--deliver) is delivered: the others show "-", as for any empty cell. */
function deliveredCell(r: RotationBody): string | null {
  if (!r.deliver) return null;
  return isoTime(r.delivered_at) ?? 'pending';
}

export function platformRows(r: RotationBody): Record<string, unknown>[] {
  return PLATFORMS.flatMap((p) => {
    const progress = r.platforms[p];
    return progress
      ? [
          {
            platform: p,
            old_last_verified: isoTime(progress.old_last_verified_at),
            new_last_verified: isoTime(progress.new_last_verified_at),
          },
        ]
      : [];
  });
}

/** What a 404 not_found on /secure_mode_rotations means: an unknown path, as Intercom answers it. */
export const NO_ROTATIONS_API = 'this server has no rotations API (Intercom?)';

export const isOpen = (r: RotationBody): boolean => r.state === 'rolling_out' || r.state === 'cutting_over';

/** The latest verification of the old secret on any platform, null if it never verified. */
export function oldLastVerifiedAt(r: RotationBody): number | null {
  const times = Object.values(r.platforms).flatMap((p) => (p?.old_last_verified_at == null ? [] : [p.old_last_verified_at]));
  return times.length === 0 ? null : Math.max(...times);
}

/** The platforms of the old secret on which the successor has not verified yet: what keeps a rotation rolling out. */
export function platformsWaiting(r: RotationBody): string[] {
  return PLATFORMS.filter((p) => r.platforms[p] !== undefined && r.platforms[p]!.new_last_verified_at === null);
}

/** One line of live progress: what the rotation waits for, then each platform's old and new last verification. */
export function rotationProgressLine(r: RotationBody, nowSeconds: number): string {
  const ago = (t: number | null | undefined) => (t == null ? 'never' : `${formatSeconds(Math.max(0, nowSeconds - t))} ago`);
  const oldId = r.from_secret_id;
  const newId = r.to_secret_id;
  let status: string;
  if (r.state === 'rolling_out')
    status =
      r.deliver && r.delivered_at === null
        ? `waiting for the server to deliver ${newId} (its rollout command), then for ${newId} to verify on ${platformsWaiting(r).join(', ')}`
        : `waiting for ${newId} to verify on ${platformsWaiting(r).join(', ')}`;
  else if (r.state === 'cutting_over') {
    const last = oldLastVerifiedAt(r);
    status =
      last === null
        ? `${oldId} never verified: the server deletes it at its next sweep`
        : `${oldId} idle for ${formatSeconds(Math.max(0, nowSeconds - last))} of ${formatSeconds(r.idle_for)}`;
  } else if (r.state === 'completed') status = `${oldId} deleted`;
  else status = `${oldId} stays live`;
  const platforms = PLATFORMS.flatMap((p) => {
    const progress = r.platforms[p];
    return progress
      ? [`${p}: old ${oldId} ${ago(progress.old_last_verified_at)}, new ${newId} ${ago(progress.new_last_verified_at)}`]
      : [];
  });
  const delivered = r.deliver && r.delivered_at !== null ? [`${newId} delivered by the server ${ago(r.delivered_at)}`] : [];
  return [`rotation ${r.id} ${r.state}${r.overdue ? ' (OVERDUE)' : ''}: ${status}`, ...delivered, ...platforms].join(' · ');
}
