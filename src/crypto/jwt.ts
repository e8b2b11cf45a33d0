import { createHmac } from 'node:crypto';
import { digestEquals } from './hmac.js';

/**
 * HS256 JWT primitives on node:crypto. Deliberately narrow: one algorithm, keys chosen by the caller and never
 * by anything in the token (kid, jku, jwk, x5u and x5c are not read), no unknown critical extensions.
 */

/** Allowance for clocks of the customer's backend and ours disagreeing, on exp and nbf. */
export const JWT_CLOCK_SKEW_SECONDS = 60;

const SEGMENT = /^[A-Za-z0-9_-]*$/;
const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
/** Parsed headers by their exact text: nearly every token a workspace sees carries the same few headers. */
const HEADERS = new Map<string, Readonly<Record<string, unknown>> | JwtStructureProblem>();
const HEADER_MEMO_LIMIT = 64;

export interface DecodedJwt {
  header: Readonly<Record<string, unknown>>;
  /** Parsed JSON: not necessarily an object, which checkClaims reports. */
  payload: unknown;
  /** `header.payload` exactly as sent: the bytes the signature covers. */
  signingInput: string;
  signature: Buffer;
}

export type JwtStructureProblem = 'not_three_segments' | 'not_base64url' | 'header_not_json_object' | 'payload_not_json';

export type JwtHeaderProblem =
  | { code: 'alg_not_hs256'; alg: string | null }
  | { code: 'crit' }
  | { code: 'unencoded_payload' }
  | { code: 'typ_not_jwt'; typ: string };

export type JwtClaimsProblem =
  | { code: 'payload_not_object' }
  | { code: 'user_id_missing' }
  | { code: 'user_id_not_string'; type: string }
  | { code: 'email_not_string'; type: string }
  | { code: 'exp_not_number' }
  | { code: 'expired'; exp: number }
  | { code: 'nbf_not_number' }
  | { code: 'not_yet_valid'; nbf: number }
  | { code: 'iat_not_number' }
  | { code: 'issued_in_future'; iat: number }
  | { code: 'exp_missing'; maxAgeSeconds: number }
  | { code: 'lifetime_too_long'; lifetimeSeconds: number; maxAgeSeconds: number };

/** What a token's time claims must satisfy. */
export interface JwtTimePolicy {
  skewSeconds: number;
  /** When set, a token must carry exp, and live at most this long from iat (from now when it has no iat). */
  maxAgeSeconds: number | undefined;
}

export const DEFAULT_JWT_TIME_POLICY: JwtTimePolicy = { skewSeconds: JWT_CLOCK_SKEW_SECONDS, maxAgeSeconds: undefined };

export interface JwtIdentity {
  userId: string;
  email: string | null;
}

/**
 * Only the canonical unpadded encoding is accepted, so one signature has one spelling: the bits of the last
 * character beyond the encoded bytes must be zero.
 */
function decodeSegment(segment: string): Buffer | undefined {
  const rest = segment.length % 4;
  if (rest === 1 || !SEGMENT.test(segment)) return undefined;
  if (rest !== 0 && (ALPHABET.indexOf(segment[segment.length - 1]!) & (rest === 2 ? 0x0f : 0x03)) !== 0) return undefined;
  return Buffer.from(segment, 'base64url');
}

function decodeHeader(segment: string): Readonly<Record<string, unknown>> | JwtStructureProblem {
  let header = HEADERS.get(segment);
  if (header !== undefined) return header;
  const bytes = decodeSegment(segment);
  const json = bytes && parseJson(bytes);
  header = !bytes ? 'not_base64url' : json && isJsonObject(json.value) ? Object.freeze(json.value) : 'header_not_json_object';
  if (HEADERS.size >= HEADER_MEMO_LIMIT) HEADERS.clear();
  HEADERS.set(segment, header);
  return header;
}

function parseJson(bytes: Buffer): { value: unknown } | undefined {
  try {
    return { value: JSON.parse(bytes.toString('utf8')) };
  } catch {
    return undefined;
  }
}

export function isJsonObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function typeName(value: unknown): string {
  return value === null ? 'null' : Array.isArray(value) ? 'array' : typeof value;
}

/** Splits and parses a compact JWS without trusting any of it. */
export function decodeJwt(token: string): DecodedJwt | { problem: JwtStructureProblem } {
  const first = token.indexOf('.');
  const second = first < 0 ? -1 : token.indexOf('.', first + 1);
  if (first <= 0 || second < 0 || token.indexOf('.', second + 1) >= 0 || second === first + 1) {
    return { problem: 'not_three_segments' };
  }
  const header = decodeHeader(token.slice(0, first));
  const payloadBytes = decodeSegment(token.slice(first + 1, second));
  const signature = decodeSegment(token.slice(second + 1));
  if (header === 'not_base64url' || !payloadBytes || !signature) return { problem: 'not_base64url' };
  if (typeof header === 'string') return { problem: header };
  const payload = parseJson(payloadBytes);
  if (!payload) return { problem: 'payload_not_json' };
  return { header, payload: payload.value, signingInput: token.slice(0, second), signature };
}

export function checkHeader(header: Readonly<Record<string, unknown>>): JwtHeaderProblem | undefined {
  if (header.alg !== 'HS256') return { code: 'alg_not_hs256', alg: typeof header.alg === 'string' ? header.alg : null };
  // We implement no JWS extension, so any critical one must be refused (RFC 7515 §4.1.11).
  if (header.crit !== undefined) return { code: 'crit' };
  if (header.b64 !== undefined) return { code: 'unencoded_payload' };
  if (header.typ !== undefined && (typeof header.typ !== 'string' || header.typ.toUpperCase() !== 'JWT')) {
    return { code: 'typ_not_jwt', typ: String(header.typ) };
  }
  return undefined;
}

export type JwtHmacHash = 'sha256' | 'sha384' | 'sha512';

/** Whether the token's signature is HMAC(hash) of its signing input under key; constant time. */
export function jwtSignatureMatches(jwt: DecodedJwt, key: Buffer, hash: JwtHmacHash = 'sha256'): boolean {
  return digestEquals(createHmac(hash, key).update(jwt.signingInput).digest(), jwt.signature);
}

function userIdProblem(payload: Record<string, unknown>): JwtClaimsProblem | undefined {
  const userId = payload.user_id;
  if (userId === undefined || userId === '') return { code: 'user_id_missing' };
  if (typeof userId !== 'string') return { code: 'user_id_not_string', type: typeName(userId) };
  return undefined;
}

function emailProblem(payload: Record<string, unknown>): JwtClaimsProblem | undefined {
  const email = payload.email;
  if (email !== undefined && email !== null && typeof email !== 'string')
    return { code: 'email_not_string', type: typeName(email) };
  return undefined;
}

function expProblem(payload: Record<string, unknown>, nowSeconds: number, policy: JwtTimePolicy): JwtClaimsProblem | undefined {
  const exp = payload.exp;
  if (exp === undefined)
    return policy.maxAgeSeconds === undefined ? undefined : { code: 'exp_missing', maxAgeSeconds: policy.maxAgeSeconds };
  if (typeof exp !== 'number' || !Number.isFinite(exp)) return { code: 'exp_not_number' };
  if (nowSeconds >= exp + policy.skewSeconds) return { code: 'expired', exp };
  return undefined;
}

function nbfProblem(payload: Record<string, unknown>, nowSeconds: number, policy: JwtTimePolicy): JwtClaimsProblem | undefined {
  const nbf = payload.nbf;
  if (nbf === undefined) return undefined;
  if (typeof nbf !== 'number' || !Number.isFinite(nbf)) return { code: 'nbf_not_number' };
  if (nowSeconds < nbf - policy.skewSeconds) return { code: 'not_yet_valid', nbf };
  return undefined;
}

/** A token issued in the future was minted by a signer with a broken clock, or to outlive any exp check. */
function iatProblem(payload: Record<string, unknown>, nowSeconds: number, policy: JwtTimePolicy): JwtClaimsProblem | undefined {
  const iat = payload.iat;
  if (iat === undefined) return undefined;
  if (typeof iat !== 'number' || !Number.isFinite(iat)) return { code: 'iat_not_number' };
  if (iat > nowSeconds + policy.skewSeconds) return { code: 'issued_in_future', iat };
  return undefined;
}

function lifetimeProblem(
  payload: Record<string, unknown>,
  nowSeconds: number,
  policy: JwtTimePolicy,
): JwtClaimsProblem | undefined {
  const { exp, iat } = payload;
  if (policy.maxAgeSeconds === undefined || typeof exp !== 'number') return undefined;
  const lifetimeSeconds = exp - (typeof iat === 'number' ? iat : nowSeconds);
  return lifetimeSeconds > policy.maxAgeSeconds
    ? { code: 'lifetime_too_long', lifetimeSeconds, maxAgeSeconds: policy.maxAgeSeconds }
    : undefined;
}

const CLAIM_CHECKS = [userIdProblem, emailProblem, expProblem, nbfProblem, iatProblem, lifetimeProblem] as const;

/** The identity a signed payload asserts, or the first reason it cannot be accepted at `nowSeconds`. */
export function checkClaims(
  payload: unknown,
  nowSeconds: number,
  policy: JwtTimePolicy = DEFAULT_JWT_TIME_POLICY,
): { ok: true; identity: JwtIdentity } | { ok: false; problem: JwtClaimsProblem } {
  if (!isJsonObject(payload)) return { ok: false, problem: { code: 'payload_not_object' } };
  for (const check of CLAIM_CHECKS) {
    const problem = check(payload, nowSeconds, policy);
    if (problem) return { ok: false, problem };
  }
  const email = payload.email;
  return { ok: true, identity: { userId: payload.user_id as string, email: typeof email === 'string' ? email : null } };
}

/** Every reason the payload cannot be accepted, for diagnosis. */
export function allClaimProblems(
  payload: unknown,
  nowSeconds: number,
  policy: JwtTimePolicy = DEFAULT_JWT_TIME_POLICY,
): JwtClaimsProblem[] {
  if (!isJsonObject(payload)) return [{ code: 'payload_not_object' }];
  return CLAIM_CHECKS.map((check) => check(payload, nowSeconds, policy)).filter((p): p is JwtClaimsProblem => p !== undefined);
}
