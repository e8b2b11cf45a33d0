import type { Keyring } from '../crypto/keyring.js';
import {
  DEFAULT_JWT_TIME_POLICY,
  type JwtTimePolicy,
  allClaimProblems,
  checkHeader,
  decodeJwt,
  isJsonObject,
} from '../crypto/jwt.js';
import type { SecretWithCiphertext, Workspace } from './model.js';
import type { Store } from './ports.js';
import type { Clock } from './clock.js';
import { type DiagnosisCause, cause, claimCause, describeSecret } from './diagnose-causes.js';
import {
  type Deviation,
  type DiagnosedSecret,
  type KnownSecret,
  type Match,
  type SecretState,
  searchJwt,
  searchUserHash,
  secretDeviations,
} from './diagnose-search.js';
import { type SecretCache, tryOpenSecret } from './secret-cache.js';
import {
  type VerificationBody,
  type VerificationMethod,
  type VerificationRequest,
  evaluate,
  parseVerificationRequest,
  userHashMessage,
} from './verifier.js';

export { DIAGNOSIS_CODES, type DiagnosisCause, type DiagnosisCode } from './diagnose-causes.js';
export type { DiagnosedSecret, SecretState } from './diagnose-search.js';

export interface Diagnosis {
  verified: boolean;
  method: VerificationMethod;
  userId: string | null;
  email: string | null;
  /** The secret that signed the value, whatever its state; null when none of the workspace's did. */
  secret: DiagnosedSecret | null;
  /** Most likely first; empty when verified. */
  causes: DiagnosisCause[];
}

export type DiagnoseBody = Omit<VerificationBody, 'app_id'> & { app_id?: string | undefined };

/**
 * How many deleted secrets are tried when explaining a failure: rotations keep only the last few relevant, and each
 * one tried costs up to 60 HMACs, so this bounds a diagnosis's work.
 */
export const DIAGNOSE_DELETED_LIMIT = 10;

export interface DiagnoserOptions {
  store: Store;
  keyring: Keyring;
  cache: SecretCache;
  clock: Clock;
  /** The verifier's JWT time policy, so that a diagnosis explains exactly what verify refuses. */
  jwtPolicy?: JwtTimePolicy;
  deletedLimit?: number;
}

interface Found {
  secret: KnownSecret | null;
  causes: DiagnosisCause[];
  userId: string | null;
  email: string | null;
}

/** The secret as a diagnosis may show it: its record and state, never its material. */
function publicView(secret: KnownSecret | null | undefined): DiagnosedSecret | null {
  return secret ? { record: secret.record, state: secret.state } : null;
}

/**
 * Explains why a user_hash or JWT fails, for an administrator holding a read token: it tries the workspace's live
 * and recently deleted secrets under the mistakes people actually make (diagnose-search.ts), names the one that
 * signed the value, and says why in words (diagnose-causes.ts). Never on the hot path; it records no usage.
 */
export class Diagnoser {
  private readonly store: Store;
  private readonly keyring: Keyring;
  private readonly cache: SecretCache;
  private readonly clock: Clock;
  private readonly jwtPolicy: JwtTimePolicy;
  private readonly deletedLimit: number;

  constructor(options: DiagnoserOptions) {
    this.store = options.store;
    this.keyring = options.keyring;
    this.cache = options.cache;
    this.clock = options.clock;
    this.jwtPolicy = options.jwtPolicy ?? DEFAULT_JWT_TIME_POLICY;
    this.deletedLimit = options.deletedLimit ?? DIAGNOSE_DELETED_LIMIT;
  }

  async diagnose(workspace: Workspace, body: DiagnoseBody): Promise<Diagnosis> {
    const given = parseVerificationRequest({ ...body, app_id: body.app_id ?? workspace.appId });
    const request: VerificationRequest = { ...given, appId: workspace.appId };
    const nowMs = this.clock.nowMs();
    const outcome = evaluate(await this.cache.get(workspace.appId), request, nowMs, this.jwtPolicy);
    const known = await this.knownSecrets(workspace, nowMs);
    const causes: DiagnosisCause[] = [];
    if (given.appId !== workspace.appId) causes.push(cause('wrong_app_id', { given: given.appId, expected: workspace.appId }));
    if (outcome.verified) {
      const secret = publicView(known.find((k) => k.record.id === outcome.secretId));
      return {
        verified: causes.length === 0,
        method: request.method,
        userId: outcome.userId,
        email: outcome.email,
        secret,
        causes,
      };
    }
    const found = request.method === 'user_hash' ? this.userHash(request, known) : this.jwt(request, known, nowMs);
    causes.push(...found.causes);
    if (causes.length === 0) causes.push(cause('not_yet_propagated', { secret: found.secret?.record ?? null }));
    return {
      verified: false,
      method: request.method,
      userId: found.userId,
      email: found.email,
      secret: publicView(found.secret),
      causes,
    };
  }

  private async knownSecrets(workspace: Workspace, nowMs: number): Promise<KnownSecret[]> {
    const live = await this.store.loadLiveSecretMaterial(workspace.id);
    const deleted = await this.store.loadDeletedSecretMaterial(workspace.id, this.deletedLimit);
    const state = (row: SecretWithCiphertext): SecretState => {
      if (row.deletedAt !== null) return row.deletedReason === 'expired' ? 'expired' : 'deleted';
      return row.expiresAt !== null && row.expiresAt * 1000 <= nowMs ? 'expired' : 'live';
    };
    // A secret whose ciphertext no longer opens explains nothing; it is left out as verification leaves it out.
    const all = [...live, ...deleted].flatMap((row) => {
      const { ciphertext: _ciphertext, ...record } = row;
      const text = tryOpenSecret(this.keyring, row);
      return text === undefined ? [] : [{ record, state: state(row), text }];
    });
    // Live secrets first, so a tie between a live and a retired secret is explained by the live one.
    return [...all.filter((s) => s.state === 'live'), ...all.filter((s) => s.state !== 'live')];
  }

  private userHash(request: Extract<VerificationRequest, { method: 'user_hash' }>, known: KnownSecret[]): Found {
    const message = userHashMessage(request);
    const { readings, best } = searchUserHash(request, message, known);
    // Only the field the hash was computed over is identity; the other was not signed.
    const identity = request.userId !== null ? { userId: request.userId, email: null } : { userId: null, email: request.email };
    if (best) return { ...identity, secret: best.secret, causes: this.explain(best, request, known) };
    if (readings === 0)
      return { ...identity, secret: null, causes: [cause('user_hash_malformed', { length: request.userHash.length })] };
    return { ...identity, secret: null, causes: [this.noMatch(request, known, `user_hash over "${message}"`)] };
  }

  private jwt(request: Extract<VerificationRequest, { method: 'jwt' }>, known: KnownSecret[], nowMs: number): Found {
    const decoded = decodeJwt(request.jwt);
    if ('problem' in decoded) {
      const looksLikeHash = /^[0-9a-fA-F]{64}$/.test(request.jwt.trim());
      return {
        userId: null,
        email: null,
        secret: null,
        causes: [cause('jwt_malformed', { problem: decoded.problem, looksLikeHash })],
      };
    }
    const payload = isJsonObject(decoded.payload) ? decoded.payload : {};
    const signedUserId = typeof payload.user_id === 'string' && payload.user_id !== '' ? payload.user_id : null;
    const signedEmail = typeof payload.email === 'string' ? payload.email : null;

    const header = checkHeader(decoded.header);
    const algDeviation: Deviation[] =
      header?.code === 'alg_not_hs256' ? [{ code: 'jwt_wrong_alg', signedWith: header.alg ?? 'no alg' }] : [];
    const best = searchJwt(decoded, request.platform, known, algDeviation);

    const causes: DiagnosisCause[] = [];
    if (best) causes.push(...this.explain(best, request, known));
    else if (algDeviation.length > 0) causes.push(...this.explain({ secret: null, deviations: algDeviation }, request, known));
    if (header && header.code !== 'alg_not_hs256') causes.push(cause('jwt_unsupported_header', { header }));
    for (const problem of allClaimProblems(decoded.payload, nowMs / 1000, this.jwtPolicy))
      causes.push(claimCause(problem, nowMs / 1000));
    if (request.userId !== null && typeof payload.user_id === 'string' && request.userId !== payload.user_id) {
      causes.push(cause('jwt_identity_mismatch', { field: 'user_id', sent: request.userId, signed: payload.user_id }));
    }
    if (request.email !== null && request.email !== signedEmail) {
      causes.push(cause('jwt_identity_mismatch', { field: 'email', sent: request.email, signed: signedEmail }));
    }
    if (!best && algDeviation.length === 0) causes.unshift(this.noMatch(request, known, 'the JWT signature'));
    // The identity is the token's claims only: a field sent beside it is never presented as signed.
    return { userId: signedUserId, email: signedEmail, secret: best?.secret ?? null, causes };
  }

  private noMatch(request: VerificationRequest, known: KnownSecret[], what: string): DiagnosisCause {
    const live = known.filter((k) => k.state === 'live');
    if (!live.some((k) => secretDeviations(k, request.platform).length === 0)) {
      return cause('no_secret_for_platform', { platform: request.platform, live: live.map((k) => k.record), what });
    }
    const retired = known.length - live.length;
    return cause('unknown_secret', { live: live.length, retired, truncated: retired >= this.deletedLimit, what });
  }

  private explain(match: Match, request: VerificationRequest, known: KnownSecret[]): DiagnosisCause[] {
    const liveFor = known.filter((k) => k.state === 'live' && secretDeviations(k, request.platform).length === 0);
    const useInstead =
      liveFor.length > 0
        ? `sign with ${liveFor.map((k) => describeSecret(k.record)).join(' or ')}`
        : `create a secret enabled for ${request.platform}`;
    const platform = request.platform;
    return match.deviations.map((d): DiagnosisCause => {
      switch (d.code) {
        case 'deleted_secret':
        case 'expired_secret':
          return cause(d.code, { secret: match.secret!.record, useInstead });
        case 'platform_not_enabled':
          return cause(d.code, { secret: match.secret!.record, platform, useInstead });
        case 'uppercase_hex_on_mobile':
          return cause(d.code, { platform });
        case 'email_hashed_instead_of_user_id':
        case 'key_base64url_decoded':
        case 'digest_not_hex':
          return cause(d.code, {});
        case 'whitespace':
        case 'wrong_hash_algorithm':
        case 'not_hmac':
        case 'jwt_wrong_alg':
          return cause(d.code, d as Extract<Deviation, { code: typeof d.code }>);
      }
    });
  }
}
