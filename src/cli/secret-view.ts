import { PLATFORMS, type Platform } from '../domain/model.js';
import type { CreatedSecretBody, SecretBody, UsageBody } from './api-client.js';
import { CliError, EXIT } from './output.js';
import type { SecretFile } from './secret-file.js';

/** How the secrets commands and rotate show a secret: its table row, its platforms, its value once. */

export const SECRET_COLUMNS = ['id', 'name', 'platforms', 'created', 'last_verified', 'expires'];

export function isoTime(unix: number | null | undefined): string | null {
  return unix === null || unix === undefined ? null : new Date(unix * 1000).toISOString().replace('.000Z', 'Z');
}

export function platformsOf(s: { supports_web: boolean; supports_ios: boolean; supports_android: boolean }): Platform[] {
  return PLATFORMS.filter((p) => s[`supports_${p}`]);
}

export function secretRow(s: SecretBody): Record<string, unknown> {
  return {
    id: s.id,
    name: s.name,
    platforms: platformsOf(s).join(','),
    created: isoTime(s.created_at),
    last_verified: isoTime(s.last_verified_at),
    expires: isoTime(s.expires_at),
  };
}

/** "web,ios" → the three supports_* flags; refuses unknown names and an empty list. */
export function parsePlatforms(text: string): { supports_web: boolean; supports_ios: boolean; supports_android: boolean } {
  const names = text
    .split(',')
    .map((p) => p.trim().toLowerCase())
    .filter(Boolean);
  const unknown = names.filter((p) => !(PLATFORMS as readonly string[]).includes(p));
  if (names.length === 0 || unknown.length > 0) {
    throw new CliError(`--platforms must list some of ${PLATFORMS.join(', ')} (got "${text}")`, EXIT.usage);
  }
  return {
    supports_web: names.includes('web'),
    supports_ios: names.includes('ios'),
    supports_android: names.includes('android'),
  };
}

/** Shows a new secret once: into the reserved file, or on stdout. */
export async function deliverSecret(
  created: Pick<CreatedSecretBody, 'id' | 'secret'>,
  file: SecretFile | undefined,
  json: boolean,
): Promise<void> {
  if (file) {
    await file.write(created.secret);
    process.stderr.write(`secure-mode: the secret of ${created.id} is in ${file.path} (mode 0600); it is not shown again\n`);
    return;
  }
  if (json) return;
  process.stdout.write(`secret (shown once, store it now): ${created.secret}\n`);
}

export function usageRows(usage: UsageBody): Record<string, unknown>[] {
  return usage.buckets.map((b) => ({
    start: isoTime(b.start),
    web: b.web,
    ios: b.ios,
    android: b.android,
    total: b.web + b.ios + b.android,
  }));
}
