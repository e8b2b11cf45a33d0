/** The rotation policy: the form's parsing and the "due" rule of the Secrets page; no DOM. */
import type { RotationPolicyBody } from '../../http/schemas/rotations.js';
import type { Secret } from './format.js';

export type RotationPolicy = RotationPolicyBody;

export interface PolicyInput {
  max_age_days: number | null;
  idle_for: number;
  auto_rotate: boolean;
}

/** The server's bounds (src/domain/rotation-policy.ts); the server checks them again and its 422 is shown as is. */
export const MIN_MAX_AGE_DAYS = 1;
export const MAX_MAX_AGE_DAYS = 3650;
const DAY_SECONDS = 86_400;

export type PolicyParse = { ok: true; input: PolicyInput } | { ok: false; field: 'max_age_days'; message: string };

/** The form's fields as typed: an empty max age is "no max age" (null). */
export function parsePolicyForm(maxAgeDays: string, idleFor: string, autoRotate: boolean): PolicyParse {
  const text = maxAgeDays.trim();
  let maxAge: number | null = null;
  if (text !== '') {
    maxAge = /^\d+$/.test(text) ? Number(text) : NaN;
    if (!Number.isInteger(maxAge) || maxAge < MIN_MAX_AGE_DAYS || maxAge > MAX_MAX_AGE_DAYS) {
      return {
        ok: false,
        field: 'max_age_days',
        message: `Enter a whole number of days from ${MIN_MAX_AGE_DAYS} to ${MAX_MAX_AGE_DAYS}, or leave it empty for no maximum age.`,
      };
    }
  }
  return { ok: true, input: { max_age_days: maxAge, idle_for: Number(idleFor), auto_rotate: autoRotate } };
}

/**
 * The server's rule, exactly (its due-secret query): a secret not deleted is due once created_at plus max_age_days
 * whole days is at or before now. Listed secrets are the live ones.
 */
export function isDue(
  secret: Pick<Secret, 'created_at'>,
  policy: Pick<RotationPolicy, 'max_age_days'> | null,
  nowS: number,
): boolean {
  if (!policy || policy.max_age_days === null) return false;
  return secret.created_at + policy.max_age_days * DAY_SECONDS <= nowS;
}
