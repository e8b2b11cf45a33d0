import { digestEquals, hmacSha256, parseHexDigest } from '../crypto/hmac.js';
import {
  DEFAULT_JWT_TIME_POLICY,
  type DecodedJwt,
  type JwtTimePolicy,
  checkClaims,
  checkHeader,
  decodeJwt,
  jwtSignatureMatches,
} from '../crypto/jwt.js';
import { errors } from './errors.js';
import type { Platform } from './model.js';
import type { Clock } from './clock.js';
import { type CachedWorkspace, DECOY_SECRET, type LiveSecret, NO_SECRET, type SecretCache } from './secret-cache.js';
import { FAILURE_REASONS, type FailureReason, type UsageRecorder } from './usage.js';

export type VerificationMethod = 'user_hash' | 'jwt';

/** The verify body after schema validation: every field typed, none yet cross-checked. */
export interface VerificationBody {
  app_id: string;
  platform: Platform;
  user_id?: string | undefined;
  email?: string | undefined;
  user_hash?: string | undefined;
  intercom_user_jwt?: string | undefined;
}

export type VerificationRequest =
  | { method: 'user_hash'; appId: string; platform: Platform; userId: string | null; email: string | null; userHash: string }
  | { method: 'jwt'; appId: string; platform: Platform; userId: string | null; email: string | null; jwt: string };

export type VerifyOutcome =
  | { verified: true; method: VerificationMethod; userId: string | null; email: string | null; secretId: number }
  | { verified: false; method: VerificationMethod; reason: FailureReason };

/** Which of the two request shapes this is; a body that is neither (or both) is a 422, not a failed check. */
export function parseVerificationRequest(body: VerificationBody): VerificationRequest {
  const userId = body.user_id ?? null;
  const email = body.email ?? null;
  if (body.intercom_user_jwt !== undefined) {
    if (body.user_hash !== undefined) {
      throw errors.parameterInvalid('send either user_hash or intercom_user_jwt, not both', 'user_hash');
    }
    return { method: 'jwt', appId: body.app_id, platform: body.platform, userId, email, jwt: body.intercom_user_jwt };
  }
  if (body.user_hash === undefined) throw errors.parameterInvalid('user_hash or intercom_user_jwt is required', 'user_hash');
  if (userId === null && email === null) throw errors.parameterInvalid('user_id or email is required with user_hash', 'user_id');
  return { method: 'user_hash', appId: body.app_id, platform: body.platform, userId, email, userHash: body.user_hash };
}

/** What user_hash is computed over: user_id when present, else email (Intercom's rule). */
export function userHashMessage(request: { userId: string | null; email: string | null }): string {
  return request.userId ?? request.email ?? '';
}

/**
 * The identity a user_hash vouches for: only the field it was computed over. An email sent beside a hash of the
 * user_id is unsigned, so it never comes back as verified (a consumer trusting it could be made to log in anyone).
 */
export function signedIdentity(request: { userId: string | null; email: string | null }): {
  userId: string | null;
  email: string | null;
} {
  return request.userId !== null ? { userId: request.userId, email: null } : { userId: null, email: request.email };
}

function isLiveAt(secret: { expiresAtMs: number | null }, nowMs: number): boolean {
  return secret.expiresAtMs === null || secret.expiresAtMs > nowMs;
}

/**
 * The live candidate for this platform that `matches` (given `input`), moved to the front of the candidates so that it
 * is tried first next time. `matches` is a module-level function and `input` its data, rather than a closure made per
 * request: this runs for every verification.
 *
 * One loop and one call of `matches` whatever the outcome. A platform without a secret has the decoy for its one
 * candidate, and the decoy is tried past the last candidate when every one had expired: either costs what a wrong
 * signature against one secret does. The decoy never matches, whatever its HMAC says.
 */
export function findMatchingSecret<I>(
  entry: CachedWorkspace,
  platform: Platform,
  nowMs: number,
  matches: (key: Buffer, input: I) => boolean,
  input: I,
): LiveSecret | 'mismatch' | 'no_secret_for_platform' {
  const candidates = entry.candidates[platform];
  const n = candidates.length;
  let tried = 0;
  let allExpired = false;
  for (let i = 0; i <= n; i++) {
    let s: LiveSecret;
    if (i < n) s = candidates[i]!;
    else if (tried === 0) {
      allExpired = true;
      s = DECOY_SECRET;
    } else break;
    if (!isLiveAt(s, nowMs)) continue;
    tried++;
    if (matches(s.key, input) && s !== DECOY_SECRET) {
      if (i > 0) {
        candidates[i] = candidates[0]!;
        candidates[0] = s;
      }
      return s;
    }
  }
  return candidates === NO_SECRET || allExpired ? 'no_secret_for_platform' : 'mismatch';
}

/** Every failure, built once: a failed verification allocates nothing, whichever failure it is. */
const FAILURES: Record<VerificationMethod, Record<FailureReason, VerifyOutcome>> = {
  user_hash: failuresOf('user_hash'),
  jwt: failuresOf('jwt'),
};

function failuresOf(method: VerificationMethod): Record<FailureReason, VerifyOutcome> {
  return Object.fromEntries(
    FAILURE_REASONS.map((reason) => [reason, Object.freeze({ verified: false, method, reason })]),
  ) as Record<FailureReason, VerifyOutcome>;
}

function failed(method: VerificationMethod, reason: FailureReason): VerifyOutcome {
  return FAILURES[method][reason];
}

/**
 * The verdict for a request against a workspace's cached secrets at `nowMs`. Records no usage; only moves a match to
 * the front of the entry's candidates. Against a stand-in (an unknown app_id), the steps are those of a wrong signature and
 * the verdict is unknown_app; only a malformed request tells its own reason.
 */
export function evaluate(
  entry: CachedWorkspace,
  request: VerificationRequest,
  nowMs: number,
  policy: JwtTimePolicy = DEFAULT_JWT_TIME_POLICY,
): VerifyOutcome {
  return request.method === 'user_hash' ? evaluateUserHash(entry, request, nowMs) : evaluateJwt(entry, request, nowMs, policy);
}

/** A failed match: its reason, told as unknown_app against a stand-in (the same steps either way). */
function matchFailed(
  entry: CachedWorkspace,
  method: VerificationMethod,
  reason: 'mismatch' | 'no_secret_for_platform',
): VerifyOutcome {
  return failed(method, entry.exists ? reason : 'unknown_app');
}

interface HashInput {
  message: string;
  claimed: Buffer;
}

function hashMatches(key: Buffer, input: HashInput): boolean {
  return digestEquals(hmacSha256(key, input.message), input.claimed);
}

function jwtMatches(key: Buffer, jwt: DecodedJwt): boolean {
  return jwtSignatureMatches(jwt, key);
}

function evaluateUserHash(
  entry: CachedWorkspace,
  request: Extract<VerificationRequest, { method: 'user_hash' }>,
  nowMs: number,
): VerifyOutcome {
  const claimed = parseHexDigest(request.userHash, request.platform === 'web');
  if (!claimed) return failed('user_hash', 'malformed');
  const input: HashInput = { message: userHashMessage(request), claimed };
  const match = findMatchingSecret(entry, request.platform, nowMs, hashMatches, input);
  if (typeof match === 'string') return matchFailed(entry, 'user_hash', match);
  const identity = signedIdentity(request);
  return { verified: true, method: 'user_hash', userId: identity.userId, email: identity.email, secretId: match.id };
}

function evaluateJwt(
  entry: CachedWorkspace,
  request: Extract<VerificationRequest, { method: 'jwt' }>,
  nowMs: number,
  policy: JwtTimePolicy,
): VerifyOutcome {
  const jwt = decodeJwt(request.jwt);
  if ('problem' in jwt || checkHeader(jwt.header)) return failed('jwt', 'malformed');
  const match = findMatchingSecret(entry, request.platform, nowMs, jwtMatches, jwt);
  if (typeof match === 'string') return matchFailed(entry, 'jwt', match);
  const claims = checkClaims(jwt.payload, nowMs / 1000, policy);
  if (!claims.ok) return failed('jwt', claims.problem.code === 'expired' ? 'jwt_expired' : 'jwt_invalid');
  const { userId, email } = claims.identity;
  // Identity sent beside the token must be the signed one: otherwise an unsigned field would ride along a valid token.
  if ((request.userId !== null && request.userId !== userId) || (request.email !== null && request.email !== email)) {
    return failed('jwt', 'jwt_invalid');
  }
  return { verified: true, method: 'jwt', userId, email, secretId: match.id };
}

export interface VerifierOptions {
  cache: SecretCache;
  usage: UsageRecorder;
  clock: Clock;
  /** Time claims a JWT must satisfy (skew; SECURE_MODE_JWT_MAX_AGE). */
  jwtPolicy?: JwtTimePolicy;
}

/**
 * Verifies user_hash values and JWTs against the workspace's live secrets. On a cache hit the whole call is
 * synchronous: no await, no database; only a cache miss returns a promise.
 */
export class Verifier {
  private readonly cache: SecretCache;
  private readonly usage: UsageRecorder;
  private readonly clock: Clock;
  readonly jwtPolicy: JwtTimePolicy;

  constructor(options: VerifierOptions) {
    this.cache = options.cache;
    this.usage = options.usage;
    this.clock = options.clock;
    this.jwtPolicy = options.jwtPolicy ?? DEFAULT_JWT_TIME_POLICY;
  }

  /** `nowMs`: the caller's reading of the clock, when it has one; it serves the cache, the verdict and the usage count. */
  verify(request: VerificationRequest, nowMs = this.clock.nowMs()): VerifyOutcome | Promise<VerifyOutcome> {
    const entry = this.cache.peek(request.appId, nowMs);
    if (entry === undefined) {
      return this.cache.load(request.appId).then((loaded) => this.settle(loaded, request, this.clock.nowMs()));
    }
    return this.settle(entry, request, nowMs);
  }

  private settle(entry: CachedWorkspace, request: VerificationRequest, nowMs: number): VerifyOutcome {
    const outcome = evaluate(entry, request, nowMs, this.jwtPolicy);
    if (outcome.verified) this.usage.recordSuccess(outcome.secretId, request.platform, outcome.method, nowMs);
    else this.usage.recordFailure(entry.workspaceId, outcome.method, request.platform, outcome.reason);
    return outcome;
  }
}
