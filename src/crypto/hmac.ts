import { createHmac, timingSafeEqual } from 'node:crypto';

const SHA256_BYTES = 32;

const UPPER_HEX_LETTER = /[A-F]/;

export function hmacSha256(key: Buffer, message: string | Buffer): Buffer {
  return createHmac('sha256', key).update(message).digest();
}

/**
 * The 32 digest bytes a user_hash claims, or undefined when it is not 64 hex characters. Intercom's web
 * Messenger accepts either case; its mobile SDKs compare lowercase text, so uppercase fails there.
 */
export function parseHexDigest(value: string, allowUppercase: boolean): Buffer | undefined {
  if (value.length !== SHA256_BYTES * 2) return undefined;
  // Node stops decoding hex at the first character that is not hex: 32 bytes out means 64 hex characters in.
  const bytes = Buffer.from(value, 'hex');
  if (bytes.length !== SHA256_BYTES) return undefined;
  return allowUppercase || !UPPER_HEX_LETTER.test(value) ? bytes : undefined;
}

/** Constant-time equality of two digests; buffers of different lengths are unequal without comparing contents. */
export function digestEquals(expected: Buffer, actual: Buffer): boolean {
  return expected.length === actual.length && timingSafeEqual(expected, actual);
}
