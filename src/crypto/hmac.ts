import { createHmac, timingSafeEqual } from 'node:crypto';

export const SHA256_BYTES = 32;

const LOWER_HEX_64 = /^[0-9a-f]{64}$/;
const ANY_HEX_64 = /^[0-9a-fA-F]{64}$/;

export function hmacSha256(key: Buffer, message: string | Buffer): Buffer {
  return createHmac('sha256', key).update(message).digest();
}

/**
 * The 32 digest bytes a user_hash claims, or undefined when it is not 64 hex characters. Intercom's web
 * Messenger accepts either case; its mobile SDKs compare lowercase text, so uppercase fails there.
 */
export function parseHexDigest(value: string, allowUppercase: boolean): Buffer | undefined {
  if (!(allowUppercase ? ANY_HEX_64 : LOWER_HEX_64).test(value)) return undefined;
  return Buffer.from(value, 'hex');
}

/** Constant-time equality of two digests; buffers of different lengths are unequal without comparing contents. */
export function digestEquals(expected: Buffer, actual: Buffer): boolean {
  return expected.length === actual.length && timingSafeEqual(expected, actual);
}
