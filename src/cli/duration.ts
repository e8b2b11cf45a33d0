import { CliError, EXIT } from './output.js';

const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** "15m", "24h", "500ms", "90" (seconds) → milliseconds. */
export function parseDuration(text: string, option: string): number {
  const match = /^([0-9]+(?:\.[0-9]+)?)(ms|s|m|h|d)?$/.exec(text.trim());
  if (!match) throw new CliError(`${option} must be a duration like 90s, 15m, 24h or 1d (got "${text}")`, EXIT.usage);
  const ms = Math.round(Number(match[1]) * UNIT_MS[match[2] ?? 's']!);
  if (!Number.isSafeInteger(ms)) throw new CliError(`${option} is too large`, EXIT.usage);
  return ms;
}

/** Whole seconds, rounded up: an idle window is never shortened by rounding. */
export function durationSeconds(text: string, option: string): number {
  return Math.ceil(parseDuration(text, option) / 1000);
}

/** 75 → "1m15s"; for progress lines. */
export function formatSeconds(total: number): string {
  const s = Math.max(0, Math.round(total));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${s % 60 ? `${s % 60}s` : ''}`;
  if (s < 86_400) return `${Math.floor(s / 3600)}h${Math.floor((s % 3600) / 60) ? `${Math.floor((s % 3600) / 60)}m` : ''}`;
  return `${Math.floor(s / 86_400)}d${Math.floor((s % 86_400) / 3600) ? `${Math.floor((s % 86_400) / 3600)}h` : ''}`;
}

/**
 * A point in time for --since, --until, --expires-at: Unix seconds, an ISO 8601 date, or "+24h" / "-1d" relative
 * to now.
 */
export function parseWhen(text: string, option: string, nowMs: number = Date.now()): number {
  const t = text.trim();
  if (/^[0-9]{1,12}$/.test(t)) return Number(t);
  const relative = /^([+-])(.+)$/.exec(t);
  if (relative) {
    const ms = parseDuration(relative[2]!, option);
    return Math.floor((nowMs + (relative[1] === '+' ? ms : -ms)) / 1000);
  }
  const parsed = Date.parse(t);
  if (Number.isNaN(parsed))
    throw new CliError(`${option} must be Unix seconds, an ISO date or +/-duration (got "${text}")`, EXIT.usage);
  return Math.floor(parsed / 1000);
}
