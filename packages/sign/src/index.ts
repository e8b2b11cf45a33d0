/**
 * Signing helpers for customers' backends: `import { userHash, userJwt } from 'secure-mode-sign'` (or 'secure-mode/sign').
 * Depends on node:crypto only, so it can be copied into any Node.js service as it is.
 */
import { createHmac } from 'node:crypto';

export interface Identity {
  user_id?: string | undefined;
  email?: string | undefined;
}

export interface UserJwtClaims {
  user_id: string;
  email?: string | undefined;
  [claim: string]: unknown;
}

export interface UserJwtOptions {
  /** Seconds, or a duration such as "90s", "30m", "1h", "7d". Sets exp; without it the token does not expire. */
  expiresIn?: number | string | undefined;
  /** Seconds since the epoch to sign at (iat); defaults to now. */
  now?: number | undefined;
}

function checkSecret(secret: string): void {
  if (typeof secret !== 'string' || secret.length === 0) throw new TypeError('secret must be a non-empty string');
  // Real secrets never contain whitespace; a newline here comes from a file or env file and breaks every hash.
  if (secret.trim() !== secret)
    throw new TypeError('secret has leading or trailing whitespace (a newline from a file?); strip it');
}

/**
 * The user_hash for a Messenger user: lowercase hex HMAC-SHA256 over user_id when present, else email, keyed with
 * the secret string's UTF-8 bytes (the secret as text, not base64-decoded).
 */
export function userHash(secret: string, identity: Identity): string {
  checkSecret(secret);
  const message = identity.user_id || identity.email;
  if (typeof message !== 'string' || message.length === 0) throw new TypeError('give a user_id or an email');
  return createHmac('sha256', secret).update(message, 'utf8').digest('hex');
}

const UNIT_SECONDS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86_400 };

/** "90s", "30m", "1h", "7d" or a whole number of seconds. */
export function parseDuration(value: number | string): number {
  if (typeof value === 'number') {
    if (!Number.isInteger(value) || value <= 0) throw new TypeError('expiresIn must be a positive whole number of seconds');
    return value;
  }
  const match = /^([1-9][0-9]{0,8})([smhd]?)$/.exec(value.trim());
  if (!match) throw new TypeError(`expiresIn "${value}" is not a duration like 90s, 30m, 1h or 7d`);
  return Number(match[1]) * UNIT_SECONDS[match[2] || 's']!;
}

function base64urlJson(value: unknown): string {
  return Buffer.from(JSON.stringify(value), 'utf8').toString('base64url');
}

/** An HS256 JWT for intercom_user_jwt: the claims as given (user_id required, a string), plus iat and exp. */
export function userJwt(secret: string, claims: UserJwtClaims, options: UserJwtOptions = {}): string {
  checkSecret(secret);
  if (typeof claims?.user_id !== 'string' || claims.user_id.length === 0)
    throw new TypeError('claims.user_id must be a non-empty string');
  if (claims.email !== undefined && typeof claims.email !== 'string') throw new TypeError('claims.email must be a string');
  const iat = options.now ?? Math.floor(Date.now() / 1000);
  const payload: Record<string, unknown> = { ...claims, iat };
  if (options.expiresIn !== undefined) {
    if (claims.exp !== undefined) throw new TypeError('give exp in the claims or expiresIn, not both');
    payload.exp = iat + parseDuration(options.expiresIn);
  }
  const signingInput = `${base64urlJson({ alg: 'HS256', typ: 'JWT' })}.${base64urlJson(payload)}`;
  return `${signingInput}.${createHmac('sha256', secret).update(signingInput).digest('base64url')}`;
}
