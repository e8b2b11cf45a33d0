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

export const USAGE_WINDOWS: readonly UsageWindow[] = [
  { id: '1h', label: 'Last hour, 5-minute steps', window: 3_600, bucket: 300 },
  { id: '24h', label: 'Last 24 hours, hourly', window: 86_400, bucket: 3_600 },
  { id: '7d', label: 'Last 7 days, 6-hour steps', window: 604_800, bucket: 21_600 },
];

export const DEFAULT_WINDOW: UsageWindow = USAGE_WINDOWS[1]!;

export function bucketTotal(bucket: UsageBucket): number {
  return bucket.web + bucket.ios + bucket.android;
}

export function platformTotals(buckets: readonly UsageBucket[]): Record<Platform, number> {
  const totals: Record<Platform, number> = { web: 0, ios: 0, android: 0 };
  for (const b of buckets) for (const p of PLATFORMS) totals[p] += b[p];
  return totals;
}

export interface ShareBucket {
  start: number;
  old: number;
  new: number;
  /** new / (old + new); null for a bucket with no traffic at all. */
  newShare: number | null;
}

/** Lines the two secrets' buckets up by start time, oldest first, as old-vs-new verification shares. */
export function rotationShares(oldBuckets: readonly UsageBucket[], newBuckets: readonly UsageBucket[]): ShareBucket[] {
  const byStart = new Map<number, { old: number; new: number }>();
  const slot = (start: number) => {
    let s = byStart.get(start);
    if (!s) byStart.set(start, (s = { old: 0, new: 0 }));
    return s;
  };
  for (const b of oldBuckets) slot(b.start).old += bucketTotal(b);
  for (const b of newBuckets) slot(b.start).new += bucketTotal(b);
  return [...byStart.entries()]
    .sort(([a], [b]) => a - b)
    .map(([start, s]) => ({ start, ...s, newShare: s.old + s.new === 0 ? null : s.new / (s.old + s.new) }));
}

export type Cutover =
  | { kind: 'no_traffic' }
  | { kind: 'not_started' }
  | { kind: 'in_progress'; oldShare: number; bucketStart: number }
  | { kind: 'cut_over' };

/** "Has traffic cut over?": judged on the latest bucket that saw any traffic. */
export function cutoverStatus(shares: readonly ShareBucket[]): Cutover {
  const withTraffic = shares.filter((s) => s.newShare !== null);
  const latest = withTraffic.at(-1);
  if (!latest) return { kind: 'no_traffic' };
  if (withTraffic.every((s) => s.new === 0)) return { kind: 'not_started' };
  if (latest.old > 0) return { kind: 'in_progress', oldShare: latest.old / (latest.old + latest.new), bucketStart: latest.start };
  return { kind: 'cut_over' };
}
