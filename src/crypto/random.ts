import { randomBytes } from 'node:crypto';

/** A new identity verification secret: 32 bytes from the CSPRNG, base64url without padding (43 characters). */
export function generateSecret(): string {
  return randomBytes(32).toString('base64url');
}

/** A new API access token; the prefix makes leaked tokens easy to spot by secret scanners. */
export function generateAccessToken(): string {
  return `smt_${randomBytes(32).toString('base64url')}`;
}

/** A public workspace identifier, like Intercom's app_id: short, lowercase, unguessable enough to not be enumerable. */
export function generateAppId(): string {
  const alphabet = 'abcdefghijklmnopqrstuvwxyz0123456789';
  const bytes = randomBytes(10);
  let id = '';
  for (const b of bytes) id += alphabet[b % alphabet.length];
  return id;
}
