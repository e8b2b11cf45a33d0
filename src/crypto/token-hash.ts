import { createHash } from 'node:crypto';

/** Access tokens are stored and looked up only by their SHA-256; a 256-bit random token needs no slow hash. */
export function hashToken(token: string): Buffer {
  return createHash('sha256').update(token, 'utf8').digest();
}
