import { JWT_CLOCK_SKEW_SECONDS, type JwtClaimsProblem, type JwtHeaderProblem, type JwtStructureProblem } from '../crypto/jwt.js';
import type { Platform, SecretRecord } from './model.js';
import { platformsOf } from './secret-input.js';

/**
 * What a diagnosis can say, one entry per cause code: the details it needs and the message it reads as. The table is
 * the one list of codes (the response schema enumerates them from it).
 */
export interface CauseDetails {
  wrong_app_id: { given: string; expected: string };
  deleted_secret: { secret: SecretRecord; useInstead: string };
  expired_secret: { secret: SecretRecord; useInstead: string };
  platform_not_enabled: { secret: SecretRecord; platform: Platform; useInstead: string };
  email_hashed_instead_of_user_id: object;
  uppercase_hex_on_mobile: { platform: Platform };
  key_base64url_decoded: object;
  whitespace: { where: WhitespaceWhere };
  digest_not_hex: object;
  wrong_hash_algorithm: { algorithm: string };
  not_hmac: { shape: 'plain' | 'key_first' | 'key_last' };
  user_hash_malformed: { length: number };
  jwt_malformed: { problem: JwtStructureProblem; looksLikeHash: boolean };
  jwt_wrong_alg: { signedWith: string };
  jwt_unsupported_header: { header: Exclude<JwtHeaderProblem, { code: 'alg_not_hs256' }> };
  jwt_expired: { exp: number; nowS: number };
  jwt_not_yet_valid: { nbf: number; nowS: number };
  jwt_issued_in_future: { iat: number; nowS: number };
  jwt_missing_exp: { maxAgeSeconds: number };
  jwt_lifetime_too_long: { lifetimeSeconds: number; maxAgeSeconds: number };
  jwt_missing_user_id: { problem: 'payload_not_object' | 'user_id_missing' | { notString: string } };
  jwt_invalid_claim: { claim: 'email' | 'exp' | 'nbf' | 'iat'; type: string };
  jwt_identity_mismatch: { field: 'user_id' | 'email'; sent: string; signed: string | null };
  no_secret_for_platform: { platform: Platform; live: SecretRecord[]; what: string };
  unknown_secret: { live: number; retired: number; truncated: boolean; what: string };
  not_yet_propagated: { secret: SecretRecord | null };
}

export type DiagnosisCode = keyof CauseDetails;

export type WhitespaceWhere = 'user_hash' | 'message_trimmed' | 'message_newline' | 'key_newline';

export interface DiagnosisCause {
  code: DiagnosisCode;
  message: string;
}

const PLATFORM_NAME: Record<Platform, string> = { web: 'the web Messenger', ios: 'iOS', android: 'Android' };

function iso(seconds: number): string {
  return new Date(seconds * 1000).toISOString();
}

function platformList(r: SecretRecord): string {
  return platformsOf(r).join(', ');
}

export function describeSecret(secret: SecretRecord): string {
  return `secret ${secret.id} ("${secret.name}")`;
}

const WHITESPACE: Record<WhitespaceWhere, string> = {
  user_hash: 'user_hash has surrounding whitespace (a newline?); send exactly the 64 hex characters.',
  message_trimmed:
    'The user_id/email sent has surrounding whitespace, but the hash was computed over the trimmed value: send exactly the value that was hashed.',
  message_newline:
    'The hash was computed over the value plus a trailing newline (as `echo` without -n adds); hash exactly the value.',
  key_newline: 'The HMAC key had a trailing newline (as when read from a file or env file); strip it from the secret.',
};

const JWT_STRUCTURE: Record<JwtStructureProblem, string> = {
  not_three_segments: 'it must be three base64url parts separated by dots (header.payload.signature)',
  not_base64url: 'a part is not canonical base64url (no padding, no + or /)',
  header_not_json_object: 'its header is not a JSON object',
  payload_not_json: 'its payload is not JSON',
};

const MESSAGES: { [C in DiagnosisCode]: (d: CauseDetails[C]) => string } = {
  wrong_app_id: (d) =>
    `app_id "${d.given}" is not this workspace's app_id ("${d.expected}"): the Messenger must be booted with the app_id of the workspace whose secret signed the value.`,
  deleted_secret: (d) =>
    `Signed with ${describeSecret(d.secret)}, deleted at ${iso(d.secret.deletedAt!)}: deleted secrets never verify; ${d.useInstead}.`,
  expired_secret: (d) =>
    `Signed with ${describeSecret(d.secret)}, which expired at ${iso(d.secret.expiresAt ?? d.secret.deletedAt!)}; ${d.useInstead}.`,
  platform_not_enabled: (d) =>
    `Signed with ${describeSecret(d.secret)}, which is not enabled for ${d.platform} (enabled for: ${platformList(d.secret)}); enable it for ${d.platform} or ${d.useInstead}.`,
  email_hashed_instead_of_user_id: () =>
    'user_hash is the HMAC of the email, but a user_id was sent too: when user_id is present the hash must be computed over user_id.',
  uppercase_hex_on_mobile: (d) =>
    `user_hash is uppercase hex; ${PLATFORM_NAME[d.platform]} needs lowercase hex (only the web Messenger accepts uppercase).`,
  key_base64url_decoded: () =>
    "The HMAC key was the base64url-decoded bytes of the secret; use the secret string itself as the key (its UTF-8 bytes), as Intercom's samples do.",
  whitespace: (d) => WHITESPACE[d.where],
  digest_not_hex: () => 'user_hash is the digest in base64; send it as lowercase hex (64 characters).',
  wrong_hash_algorithm: (d) => `user_hash is an HMAC-${d.algorithm} digest; it must be HMAC-SHA256.`,
  not_hmac: (d) =>
    d.shape === 'plain'
      ? 'user_hash is a plain SHA-256 of the value, with no key at all: it must be HMAC-SHA256 keyed with the secret.'
      : `user_hash is SHA-256 over the ${d.shape === 'key_first' ? 'secret followed by the value' : 'value followed by the secret'}; it must be HMAC-SHA256 keyed with the secret.`,
  user_hash_malformed: (d) =>
    `user_hash must be the 64 hex characters of an HMAC-SHA256 digest; this one has ${d.length} characters and is not hex, nor base64 of a digest.`,
  jwt_malformed: (d) =>
    `intercom_user_jwt is not a valid JWT: ${JWT_STRUCTURE[d.problem]}.${d.looksLikeHash ? ' It looks like a user_hash: send it as user_hash with user_id or email.' : ''}`,
  jwt_wrong_alg: (d) =>
    d.signedWith === 'none' || d.signedWith === 'no alg'
      ? `The JWT is unsigned (alg "${d.signedWith}"); only HS256 tokens signed with a secret are accepted.`
      : `The JWT uses ${d.signedWith}; only HS256 is accepted.`,
  jwt_unsupported_header: ({ header }) =>
    header.code === 'crit'
      ? 'The JWT header has a "crit" parameter; no JWS extension is supported, so such tokens are refused.'
      : header.code === 'unencoded_payload'
        ? 'The JWT header has a "b64" parameter (unencoded payload); it is not supported.'
        : `The JWT header has typ "${header.typ}"; leave typ out or set it to "JWT".`,
  jwt_expired: (d) =>
    `The JWT expired at ${iso(d.exp)} (exp), ${Math.round(d.nowS - d.exp)} seconds ago; up to ${JWT_CLOCK_SKEW_SECONDS} seconds of clock skew is allowed. Issue a fresh token per page load.`,
  jwt_not_yet_valid: (d) =>
    `The JWT is not valid before ${iso(d.nbf)} (nbf), ${Math.round(d.nbf - d.nowS)} seconds from now; check the signing server's clock.`,
  jwt_issued_in_future: (d) =>
    `The JWT was issued at ${iso(d.iat)} (iat), ${Math.round(d.iat - d.nowS)} seconds from now, beyond the ${JWT_CLOCK_SKEW_SECONDS} seconds of clock skew allowed; check the signing server's clock.`,
  jwt_missing_exp: (d) =>
    `The JWT has no exp claim; this server requires one, at most ${d.maxAgeSeconds} seconds after iat (SECURE_MODE_JWT_MAX_AGE).`,
  jwt_lifetime_too_long: (d) =>
    `The JWT lives ${Math.round(d.lifetimeSeconds)} seconds (exp - iat); this server accepts at most ${d.maxAgeSeconds} (SECURE_MODE_JWT_MAX_AGE).`,
  jwt_missing_user_id: ({ problem }) =>
    problem === 'payload_not_object'
      ? 'The JWT payload is not a JSON object, so it has no user_id claim.'
      : problem === 'user_id_missing'
        ? 'The JWT has no user_id claim; Intercom user JWTs must carry the user_id as a string.'
        : `The JWT's user_id claim is a ${problem.notString}; it must be a string (e.g. "42", not 42).`,
  jwt_invalid_claim: (d) =>
    d.claim === 'email'
      ? `The JWT's email claim is a ${d.type}; it must be a string.`
      : `The JWT's ${d.claim} claim is not a number of seconds since the epoch.`,
  jwt_identity_mismatch: (d) =>
    d.field === 'user_id'
      ? `user_id "${d.sent}" was sent beside the JWT, but the JWT's user_id claim is "${d.signed}": send the same value or leave it out.`
      : `email "${d.sent}" was sent beside the JWT, but the JWT ${d.signed !== null ? `says "${d.signed}"` : 'has no email claim'}: put the email in the JWT or leave it out.`,
  no_secret_for_platform: (d) =>
    d.live.length === 0
      ? 'This workspace has no live secret: create one (POST /secure_mode_secrets) and sign with it.'
      : `No live secret is enabled for ${d.platform} (live secrets: ${d.live.map((r) => `${describeSecret(r)}: ${platformList(r)}`).join('; ')}), and none of them signed ${d.what} either.`,
  unknown_secret: (d) =>
    `None of this workspace's secrets (${d.live} live, ${d.retired} deleted or expired${d.truncated ? ', the most recent' : ''}) produces ${d.what}, even allowing for the usual mistakes. It was signed with another key (another workspace's, or Intercom's own secret) or over different data.`,
  not_yet_propagated: (d) =>
    `${d.secret ? describeSecret(d.secret) : 'The secret'} signs this correctly, but this node has not loaded it yet; it verifies once the cache refreshes (within seconds).`,
};

/** Every cause code a diagnosis may give, in the order of the table. */
export const DIAGNOSIS_CODES = Object.keys(MESSAGES) as DiagnosisCode[];

export function cause<C extends DiagnosisCode>(code: C, detail: CauseDetails[C]): DiagnosisCause {
  return { code, message: MESSAGES[code](detail) };
}

/** A claim the verifier refused, as the cause an admin reads. */
export function claimCause(problem: JwtClaimsProblem, nowS: number): DiagnosisCause {
  switch (problem.code) {
    case 'expired':
      return cause('jwt_expired', { exp: problem.exp, nowS });
    case 'not_yet_valid':
      return cause('jwt_not_yet_valid', { nbf: problem.nbf, nowS });
    case 'issued_in_future':
      return cause('jwt_issued_in_future', { iat: problem.iat, nowS });
    case 'exp_missing':
      return cause('jwt_missing_exp', { maxAgeSeconds: problem.maxAgeSeconds });
    case 'lifetime_too_long':
      return cause('jwt_lifetime_too_long', problem);
    case 'payload_not_object':
    case 'user_id_missing':
      return cause('jwt_missing_user_id', { problem: problem.code });
    case 'user_id_not_string':
      return cause('jwt_missing_user_id', { problem: { notString: problem.type } });
    case 'email_not_string':
      return cause('jwt_invalid_claim', { claim: 'email', type: problem.type });
    case 'exp_not_number':
    case 'nbf_not_number':
    case 'iat_not_number':
      return cause('jwt_invalid_claim', { claim: problem.code.slice(0, 3) as 'exp' | 'nbf' | 'iat', type: 'not a number' });
  }
}
