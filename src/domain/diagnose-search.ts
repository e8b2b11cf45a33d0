import { createHash, createHmac } from 'node:crypto';
import { digestEquals, parseHexDigest } from '../crypto/hmac.js';
import { type DecodedJwt, type JwtHmacHash, jwtSignatureMatches } from '../crypto/jwt.js';
import type { Platform, SecretRecord } from './model.js';
import type { WhitespaceWhere } from './diagnose-causes.js';
import { supportsPlatform } from './secret-cache.js';

/**
 * The search behind a diagnosis: which of the workspace's secrets, under which of the mistakes people actually make,
 * produces the value sent. Its work is bounded: at most the secrets it is given, each under a fixed set of
 * encodings (3 keys × 4 digest shapes × at most 5 messages for a user_hash; 3 keys × at most 3 hashes for a JWT).
 */

export type SecretState = 'live' | 'deleted' | 'expired';

export interface DiagnosedSecret {
  record: SecretRecord;
  state: SecretState;
}

export interface KnownSecret extends DiagnosedSecret {
  text: string;
}

/** One way the signer may have departed from the rules; a match is explained by the set it needed. */
export type Deviation =
  | { code: 'deleted_secret' | 'expired_secret' | 'platform_not_enabled' }
  | { code: 'email_hashed_instead_of_user_id' | 'uppercase_hex_on_mobile' | 'key_base64url_decoded' | 'digest_not_hex' }
  | { code: 'whitespace'; where: WhitespaceWhere }
  | { code: 'wrong_hash_algorithm'; algorithm: string }
  | { code: 'not_hmac'; shape: 'plain' | 'key_first' | 'key_last' }
  | { code: 'jwt_wrong_alg'; signedWith: string };

export interface Match {
  secret: KnownSecret | null;
  deviations: Deviation[];
}

interface KeyVariant {
  key: Buffer;
  deviations: Deviation[];
}

function keyVariants(text: string): KeyVariant[] {
  const variants: KeyVariant[] = [
    { key: Buffer.from(text, 'utf8'), deviations: [] },
    { key: Buffer.from(`${text}\n`, 'utf8'), deviations: [{ code: 'whitespace', where: 'key_newline' }] },
  ];
  const decoded = Buffer.from(text, 'base64url');
  if (decoded.length > 0) variants.push({ key: decoded, deviations: [{ code: 'key_base64url_decoded' }] });
  return variants;
}

export function secretDeviations(secret: DiagnosedSecret, platform: Platform): Deviation[] {
  if (secret.state === 'deleted') return [{ code: 'deleted_secret' }];
  if (secret.state === 'expired') return [{ code: 'expired_secret' }];
  const r = secret.record;
  return supportsPlatform({ web: r.supportsWeb, ios: r.supportsIos, android: r.supportsAndroid }, platform)
    ? []
    : [{ code: 'platform_not_enabled' }];
}

/** Keeps the match that needs the fewest departures from the rules; on a tie, the first found (live secrets come first). */
class BestMatch {
  best: Match | undefined;
  offer(secret: KnownSecret | null, deviations: Deviation[]): void {
    if (!this.best || deviations.length < this.best.deviations.length) this.best = { secret, deviations };
  }
}

interface UserHashReading {
  bytes: Buffer;
  shape: 'hmac' | 'plain' | 'key_first' | 'key_last';
  algorithm: 'sha1' | 'sha256' | 'sha384' | 'sha512';
  deviations: Deviation[];
}

/** The digests a user_hash string could be, each with the mistakes that reading implies. */
export function readUserHash(value: string, platform: Platform): UserHashReading[] {
  const readings: UserHashReading[] = [];
  const trimmed = value.trim();
  const spacing: Deviation[] = trimmed === value ? [] : [{ code: 'whitespace', where: 'user_hash' }];
  const hex = parseHexDigest(trimmed, true);
  if (hex) {
    const casing: Deviation[] = platform !== 'web' && /[A-F]/.test(trimmed) ? [{ code: 'uppercase_hex_on_mobile' }] : [];
    const base = [...spacing, ...casing];
    readings.push({ bytes: hex, shape: 'hmac', algorithm: 'sha256', deviations: base });
    for (const shape of ['plain', 'key_first', 'key_last'] as const) {
      readings.push({ bytes: hex, shape, algorithm: 'sha256', deviations: [...base, { code: 'not_hmac', shape }] });
    }
    return readings;
  }
  const otherHex = { 40: 'sha1', 96: 'sha384', 128: 'sha512' } as const;
  const algorithm = /^[0-9a-fA-F]+$/.test(trimmed) ? otherHex[trimmed.length as keyof typeof otherHex] : undefined;
  if (algorithm) {
    readings.push({
      bytes: Buffer.from(trimmed, 'hex'),
      shape: 'hmac',
      algorithm,
      deviations: [...spacing, { code: 'wrong_hash_algorithm', algorithm: algorithm.toUpperCase().replace('SHA', 'SHA-') }],
    });
  } else if (/^[A-Za-z0-9+/_-]{43}=?$/.test(trimmed)) {
    readings.push({
      bytes: Buffer.from(trimmed, 'base64'),
      shape: 'hmac',
      algorithm: 'sha256',
      deviations: [...spacing, { code: 'digest_not_hex' }],
    });
  }
  return readings;
}

/** The messages a user_hash may have been computed over, each with the mistake it implies. */
function candidateMessages(
  message: string,
  userId: string | null,
  email: string | null,
): { message: string; deviations: Deviation[] }[] {
  const messages: { message: string; deviations: Deviation[] }[] = [{ message, deviations: [] }];
  if (userId !== null && email !== null)
    messages.push({ message: email, deviations: [{ code: 'email_hashed_instead_of_user_id' }] });
  if (message.trim() !== message)
    messages.push({ message: message.trim(), deviations: [{ code: 'whitespace', where: 'message_trimmed' }] });
  for (const suffix of ['\n', '\r\n'])
    messages.push({ message: message + suffix, deviations: [{ code: 'whitespace', where: 'message_newline' }] });
  return messages;
}

function digestOf(reading: UserHashReading, key: Buffer, message: string): Buffer {
  if (reading.shape === 'hmac') return createHmac(reading.algorithm, key).update(message).digest();
  const parts = reading.shape === 'key_first' ? [key, Buffer.from(message)] : [Buffer.from(message), key];
  return createHash('sha256').update(Buffer.concat(parts)).digest();
}

/** The readings of the user_hash (none when it is no digest at all) and the best explained match, if any. */
export function searchUserHash(
  request: { userHash: string; platform: Platform; userId: string | null; email: string | null },
  message: string,
  known: KnownSecret[],
): { readings: number; best: Match | undefined } {
  const messages = candidateMessages(message, request.userId, request.email);
  const readings = readUserHash(request.userHash, request.platform);
  const best = new BestMatch();
  for (const reading of readings) {
    if (reading.shape === 'plain') {
      for (const m of messages) {
        if (digestEquals(createHash('sha256').update(m.message).digest(), reading.bytes))
          best.offer(null, [...reading.deviations, ...m.deviations]);
      }
      continue;
    }
    for (const secret of known) {
      const fromSecret = secretDeviations(secret, request.platform);
      const keys =
        reading.shape === 'hmac' ? keyVariants(secret.text) : [{ key: Buffer.from(secret.text, 'utf8'), deviations: [] }];
      for (const k of keys) {
        for (const m of messages) {
          if (digestEquals(digestOf(reading, k.key, m.message), reading.bytes)) {
            best.offer(secret, [...fromSecret, ...reading.deviations, ...k.deviations, ...m.deviations]);
          }
        }
      }
    }
  }
  return { readings: readings.length, best: best.best };
}

/** HS256 always; HS384/HS512 too when the header or the signature length says so, to name what the signer did. */
function hashesToTry(jwt: DecodedJwt): JwtHmacHash[] {
  const hashes: JwtHmacHash[] = ['sha256'];
  if (jwt.header.alg === 'HS384' || jwt.signature.length === 48) hashes.push('sha384');
  if (jwt.header.alg === 'HS512' || jwt.signature.length === 64) hashes.push('sha512');
  return hashes;
}

/** The best explained signer of a decoded JWT; `algDeviation` is what its header's alg already says is wrong. */
export function searchJwt(
  decoded: DecodedJwt,
  platform: Platform,
  known: KnownSecret[],
  algDeviation: Deviation[],
): Match | undefined {
  const best = new BestMatch();
  for (const hash of hashesToTry(decoded)) {
    const signedWith: Deviation[] =
      hash === 'sha256' ? algDeviation : [{ code: 'jwt_wrong_alg', signedWith: `HS${hash.slice(3)}` }];
    for (const secret of known) {
      const fromSecret = secretDeviations(secret, platform);
      for (const k of keyVariants(secret.text)) {
        if (jwtSignatureMatches(decoded, k.key, hash)) best.offer(secret, [...signedWith, ...fromSecret, ...k.deviations]);
      }
    }
  }
  return best.best;
}
