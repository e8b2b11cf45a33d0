import type { IdentityVerificationSecretUsageBody } from '../../http/schemas/secrets.js';
import { PLATFORMS, type Platform } from './format.js';

/** GET /secure_mode_secrets/{id}/usage */
export type UsageSeries = IdentityVerificationSecretUsageBody;
export type UsageBucket = UsageSeries['buckets'][number];

export interface UsageWindow {
  id: string;
  label: string;
  window: number;
  bucket: number;
}

/** The Secrets page's usage column: the last 24 hours, hourly. */
export const DEFAULT_WINDOW: UsageWindow = { id: '24h', label: 'Last 24 hours, hourly', window: 86_400, bucket: 3_600 };

export function bucketTotal(bucket: UsageBucket): number {
  return bucket.web + bucket.ios + bucket.android;
}

export function platformTotals(buckets: readonly UsageBucket[]): Record<Platform, number> {
  const totals: Record<Platform, number> = { web: 0, ios: 0, android: 0 };
  for (const b of buckets) for (const p of PLATFORMS) totals[p] += b[p];
  return totals;
}
