import type { RotationView } from '../../../domain/rotations.js';
import type { RotationBody } from '../../schemas/rotations.js';

export function presentRotation(view: RotationView): RotationBody {
  const r = view.record;
  return {
    type: 'identity_verification_secret_rotation',
    id: String(r.id),
    state: r.state,
    from_secret_id: String(r.fromSecretId),
    to_secret_id: String(r.toSecretId),
    idle_for: r.idleFor,
    deadline: r.deadline,
    overdue: r.overdue,
    created_at: r.createdAt,
    updated_at: r.updatedAt,
    completed_at: r.completedAt,
    platforms: Object.fromEntries(
      Object.entries(view.platforms).map(([platform, p]) => [
        platform,
        { old_last_verified_at: p.oldLastVerifiedAt, new_last_verified_at: p.newLastVerifiedAt },
      ]),
    ),
    deliver: r.deliver,
    delivered_at: r.deliveredAt,
  };
}
