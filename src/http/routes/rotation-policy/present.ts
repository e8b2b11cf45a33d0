import type { RotationPolicy } from '../../../domain/model.js';
import type { RotationPolicyBody } from '../../schemas/rotations.js';

export function presentRotationPolicy(policy: RotationPolicy): RotationPolicyBody {
  return {
    type: 'secure_mode_rotation_policy',
    max_age_days: policy.maxAgeDays,
    idle_for: policy.idleFor,
    auto_rotate: policy.autoRotate,
    updated_at: policy.updatedAt,
  };
}
