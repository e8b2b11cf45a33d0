/** Pure formatting and state rules of the console; no DOM, so unit tests run them under Node. */
import type { IdentityVerificationSecretBody } from '../../http/schemas/secrets.js';

export const PLATFORMS = ['web', 'ios', 'android'] as const;
export type Platform = (typeof PLATFORMS)[number];
export const PLATFORM_LABELS: Readonly<Record<Platform, string>> = { web: 'Web', ios: 'iOS', android: 'Android' };

export type Secret = IdentityVerificationSecretBody;

export function platformsOf(secret: Secret): Platform[] {
  return PLATFORMS.filter((p) => secret[`supports_${p}`]);
}

/** Verified traffic this recent makes a delete dangerous enough to demand an explicit acknowledgement. */
export const RECENT_TRAFFIC_SECONDS = 24 * 60 * 60;

export function trafficIsRecent(lastVerifiedAt: number | null | undefined, nowS: number): boolean {
  return typeof lastVerifiedAt === 'number' && nowS - lastVerifiedAt < RECENT_TRAFFIC_SECONDS;
}

export type SecretState = { kind: 'live' } | { kind: 'expiring'; at: number } | { kind: 'expired'; at: number };

export function secretState(secret: Secret, nowS: number): SecretState {
  const at = secret.expires_at;
  if (typeof at !== 'number') return { kind: 'live' };
  return at <= nowS ? { kind: 'expired', at } : { kind: 'expiring', at };
}

const dateTime = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'medium' });

export function formatDateTime(unix: number): string {
  return dateTime.format(unix * 1000);
}

const UNITS: ReadonlyArray<[Intl.RelativeTimeFormatUnit, number]> = [
  ['day', 86_400],
  ['hour', 3_600],
  ['minute', 60],
];
const relative = new Intl.RelativeTimeFormat('en', { numeric: 'always' });

/** "just now", "3 minutes ago", "in 2 days": coarse on purpose; the exact time is shown beside it. */
export function relativeTime(unix: number, nowS: number): string {
  const delta = unix - nowS;
  const abs = Math.abs(delta);
  if (abs < 45) return 'just now';
  for (const [unit, seconds] of UNITS) {
    if (abs >= seconds || unit === 'minute') return relative.format(Math.round(delta / seconds), unit);
  }
  return 'just now';
}

/** datetime-local input value (local time, no zone) to Unix seconds; empty or invalid gives null. */
export function parseLocalDateTime(value: string): number | null {
  if (!/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,3})?)?$/.test(value)) return null;
  const ms = new Date(value).getTime();
  return Number.isFinite(ms) ? Math.floor(ms / 1000) : null;
}

/** Unix seconds to a datetime-local input value in local time, to the minute. */
export function toLocalDateTimeValue(unix: number): string {
  const d = new Date(unix * 1000);
  const pad = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

export function plural(count: number, one: string, many: string = `${one}s`): string {
  return `${count.toLocaleString('en')} ${count === 1 ? one : many}`;
}
