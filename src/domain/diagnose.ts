import { createHash, createHmac } from 'node:crypto';
import type { Keyring } from '../crypto/keyring.js';
import { digestEquals, parseHexDigest } from '../crypto/hmac.js';
import {
  type DecodedJwt,
  type JwtClaimsProblem,
  type JwtHmacHash,
  JWT_CLOCK_SKEW_SECONDS,
  allClaimProblems,
  checkHeader,
  decodeJwt,
  isJsonObject,
  jwtSignatureMatches,
} from '../crypto/jwt.js';
import type { Platform, SecretRecord, SecretWithCiphertext, Workspace } from './model.js';
import type { Store } from './ports.js';
import type { Clock } from './clock.js';
import { type SecretCache, openSecret, supportsPlatform } from './secret-cache.js';
import {
  type VerificationBody,
  type VerificationMethod,
  type VerificationRequest,
  evaluate,
  parseVerificationRequest,
  userHashMessage,
} from './verifier.js';

export type DiagnosisCode =
  | 'wrong_app_id'
  | 'deleted_secret'
  | 'expired_secret'
  | 'platform_not_enabled'
  | 'email_hashed_instead_of_user_id'
  | 'uppercase_hex_on_mobile'
  | 'key_base64url_decoded'
  | 'whitespace'
  | 'digest_not_hex'
  | 'wrong_hash_algorithm'
  | 'not_hmac'
  | 'user_hash_malformed'
  | 'jwt_malformed'
  | 'jwt_wrong_alg'
  | 'jwt_unsupported_header'
  | 'jwt_expired'
  | 'jwt_not_yet_valid'
  | 'jwt_missing_user_id'
  | 'jwt_invalid_claim'
  | 'jwt_identity_mismatch'
  | 'no_secret_for_platform'
  | 'unknown_secret'
  | 'not_yet_propagated';

export interface DiagnosisCause {
  code: DiagnosisCode;
  message: string;
}

export type SecretState = 'live' | 'deleted' | 'expired';

export interface DiagnosedSecret {
  record: SecretRecord;
  state: SecretState;
}

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

/** How many deleted secrets are tried when explaining a failure: rotations keep only the last few relevant. */
export const DIAGNOSE_DELETED_LIMIT = 50;

interface KnownSecret extends DiagnosedSecret {
  text: string;
}

/** One way the signer may have departed from the rules; a match is explained by the set it needed. */
type Deviation =
  | { code: 'deleted_secret' | 'expired_secret' | 'platform_not_enabled' }
  | { code: 'email_hashed_instead_of_user_id' | 'uppercase_hex_on_mobile' | 'key_base64url_decoded' | 'digest_not_hex' }
  | { code: 'whitespace'; where: 'user_hash' | 'message_trimmed' | 'message_newline' | 'key_newline' }
  | { code: 'wrong_hash_algorithm'; algorithm: string }
  | { code: 'not_hmac'; shape: 'plain' | 'key_first' | 'key_last' }
  | { code: 'jwt_wrong_alg'; signedWith: string };

interface Match {
  secret: KnownSecret | null;
  deviations: Deviation[];
}

interface KeyVariant {
  key: Buffer;
  deviations: Deviation[];
}

const PLATFORM_NAME: Record<Platform, string> = { web: 'the web Messenger', ios: 'iOS', android: 'Android' };

function keyVariants(text: string): KeyVariant[] {
  const variants: KeyVariant[] = [
    { key: Buffer.from(text, 'utf8'), deviations: [] },
    { key: Buffer.from(`${text}\n`, 'utf8'), deviations: [{ code: 'whitespace', where: 'key_newline' }] },
  ];
  const decoded = Buffer.from(text, 'base64url');
  if (decoded.length > 0) variants.push({ key: decoded, deviations: [{ code: 'key_base64url_decoded' }] });
  return variants;
}

function secretDeviations(secret: KnownSecret, platform: Platform): Deviation[] {
  if (secret.state === 'deleted') return [{ code: 'deleted_secret' }];
  if (secret.state === 'expired') return [{ code: 'expired_secret' }];
  return supportsPlatform(
    { web: secret.record.supportsWeb, ios: secret.record.supportsIos, android: secret.record.supportsAndroid },
    platform,
  )
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

/** The secret as a diagnosis may show it: its record and state, never its material. */
function publicView(secret: KnownSecret | null | undefined): DiagnosedSecret | null {
  return secret ? { record: secret.record, state: secret.state } : null;
}

function iso(seconds: number): string {
  return new Date(seconds * 1000).toISOString();
}

function platformsOf(r: SecretRecord): string {
  const list = [r.supportsWeb && 'web', r.supportsIos && 'ios', r.supportsAndroid && 'android'].filter(Boolean);
  return list.join(', ');
}

function describe(secret: KnownSecret): string {
  return `secret ${secret.record.id} ("${secret.record.name}")`;
}

/**
 * Explains why a user_hash or JWT fails, for an administrator holding a read token: it tries the workspace's live
 * and recently deleted secrets under the mistakes people actually make, and names the one that signed the value.
 * Never on the hot path; it records no usage.
 */
export class Diagnoser {
  constructor(
    private readonly store: Store,
    private readonly keyring: Keyring,
    private readonly cache: SecretCache,
    private readonly clock: Clock,
    private readonly deletedLimit: number = DIAGNOSE_DELETED_LIMIT,
  ) {}

  async diagnose(workspace: Workspace, body: DiagnoseBody): Promise<Diagnosis> {
    const given = parseVerificationRequest({ ...body, app_id: body.app_id ?? workspace.appId });
    const request: VerificationRequest = { ...given, appId: workspace.appId };
    const nowMs = this.clock.nowMs();
    const outcome = evaluate(await this.cache.get(workspace.appId), request, nowMs);
    const known = await this.knownSecrets(workspace, nowMs);
    const causes: DiagnosisCause[] = [];
    if (given.appId !== workspace.appId) {
      causes.push({
        code: 'wrong_app_id',
        message: `app_id "${given.appId}" is not this workspace's app_id ("${workspace.appId}"): the Messenger must be booted with the app_id of the workspace whose secret signed the value.`,
      });
    }
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
    const result = request.method === 'user_hash' ? this.userHash(request, known) : this.jwt(request, known, nowMs);
    causes.push(...result.causes);
    if (causes.length === 0) {
      causes.push({
        code: 'not_yet_propagated',
        message: `${result.secret ? describe(result.secret) : 'The secret'} signs this correctly, but this node has not loaded it yet; it verifies once the cache refreshes (within seconds).`,
      });
    }
    return {
      verified: false,
      method: request.method,
      userId: result.userId,
      email: result.email,
      secret: publicView(result.secret),
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
    const all = [...live, ...deleted].map((row) => {
      const { ciphertext: _ciphertext, ...record } = row;
      return { record, state: state(row), text: openSecret(this.keyring, row) };
    });
    // Live secrets first, so a tie between a live and a retired secret is explained by the live one.
    return [...all.filter((s) => s.state === 'live'), ...all.filter((s) => s.state !== 'live')];
  }

  private userHash(
    request: Extract<VerificationRequest, { method: 'user_hash' }>,
    known: KnownSecret[],
  ): { secret: KnownSecret | null; causes: DiagnosisCause[]; userId: string | null; email: string | null } {
    const message = userHashMessage(request);
    const messages: { message: string; deviations: Deviation[] }[] = [{ message, deviations: [] }];
    if (request.userId !== null && request.email !== null) {
      messages.push({ message: request.email, deviations: [{ code: 'email_hashed_instead_of_user_id' }] });
    }
    if (message.trim() !== message)
      messages.push({ message: message.trim(), deviations: [{ code: 'whitespace', where: 'message_trimmed' }] });
    for (const suffix of ['\n', '\r\n']) {
      messages.push({ message: message + suffix, deviations: [{ code: 'whitespace', where: 'message_newline' }] });
    }

    const readings = readUserHash(request.userHash, request.platform);
    const best = new BestMatch();
    for (const reading of readings) {
      if (reading.shape === 'plain') {
        for (const m of messages) {
          if (digestEquals(createHash('sha256').update(m.message).digest(), reading.bytes)) {
            best.offer(null, [...reading.deviations, ...m.deviations]);
          }
        }
        continue;
      }
      for (const secret of known) {
        const fromSecret = secretDeviations(secret, request.platform);
        const keys =
          reading.shape === 'hmac' ? keyVariants(secret.text) : [{ key: Buffer.from(secret.text, 'utf8'), deviations: [] }];
        for (const k of keys) {
          for (const m of messages) {
            const digest =
              reading.shape === 'hmac'
                ? createHmac(reading.algorithm, k.key).update(m.message).digest()
                : createHash('sha256')
                    .update(
                      reading.shape === 'key_first'
                        ? Buffer.concat([k.key, Buffer.from(m.message)])
                        : Buffer.concat([Buffer.from(m.message), k.key]),
                    )
                    .digest();
            if (digestEquals(digest, reading.bytes))
              best.offer(secret, [...fromSecret, ...reading.deviations, ...k.deviations, ...m.deviations]);
          }
        }
      }
    }

    const identity = { userId: request.userId, email: request.email };
    if (best.best) return { ...identity, secret: best.best.secret, causes: this.explain(best.best, request, known) };
    if (readings.length === 0) {
      return {
        ...identity,
        secret: null,
        causes: [
          {
            code: 'user_hash_malformed',
            message: `user_hash must be the 64 hex characters of an HMAC-SHA256 digest; this one has ${request.userHash.length} characters and is not hex, nor base64 of a digest.`,
          },
        ],
      };
    }
    return { ...identity, secret: null, causes: [this.noMatch(request, known, `user_hash over "${message}"`)] };
  }

  private jwt(
    request: Extract<VerificationRequest, { method: 'jwt' }>,
    known: KnownSecret[],
    nowMs: number,
  ): { secret: KnownSecret | null; causes: DiagnosisCause[]; userId: string | null; email: string | null } {
    const decoded = decodeJwt(request.jwt);
    if ('problem' in decoded) {
      const looksLikeHash = /^[0-9a-fA-F]{64}$/.test(request.jwt.trim());
      const detail = {
        not_three_segments: 'it must be three base64url parts separated by dots (header.payload.signature)',
        not_base64url: 'a part is not canonical base64url (no padding, no + or /)',
        header_not_json_object: 'its header is not a JSON object',
        payload_not_json: 'its payload is not JSON',
      }[decoded.problem];
      return {
        userId: request.userId,
        email: request.email,
        secret: null,
        causes: [
          {
            code: 'jwt_malformed',
            message: `intercom_user_jwt is not a valid JWT: ${detail}.${looksLikeHash ? ' It looks like a user_hash: send it as user_hash with user_id or email.' : ''}`,
          },
        ],
      };
    }
    const payload = isJsonObject(decoded.payload) ? decoded.payload : {};
    const userId = typeof payload.user_id === 'string' && payload.user_id !== '' ? payload.user_id : request.userId;
    const email = typeof payload.email === 'string' ? payload.email : request.email;

    const best = new BestMatch();
    const header = checkHeader(decoded.header);
    const algDeviation: Deviation[] =
      header?.code === 'alg_not_hs256' ? [{ code: 'jwt_wrong_alg', signedWith: header.alg ?? 'no alg' }] : [];
    for (const hash of hashesToTry(decoded)) {
      const signedWith: Deviation[] =
        hash === 'sha256' ? algDeviation : [{ code: 'jwt_wrong_alg', signedWith: `HS${hash.slice(3)}` }];
      for (const secret of known) {
        const fromSecret = secretDeviations(secret, request.platform);
        for (const k of keyVariants(secret.text)) {
          if (jwtSignatureMatches(decoded, k.key, hash)) best.offer(secret, [...signedWith, ...fromSecret, ...k.deviations]);
        }
      }
    }

    const causes: DiagnosisCause[] = [];
    if (best.best) causes.push(...this.explain(best.best, request, known));
    else if (algDeviation.length > 0) causes.push(...this.explain({ secret: null, deviations: algDeviation }, request, known));
    if (header && header.code !== 'alg_not_hs256') {
      causes.push({
        code: 'jwt_unsupported_header',
        message:
          header.code === 'crit'
            ? 'The JWT header has a "crit" parameter; no JWS extension is supported, so such tokens are refused.'
            : header.code === 'unencoded_payload'
              ? 'The JWT header has a "b64" parameter (unencoded payload); it is not supported.'
              : `The JWT header has typ "${header.typ}"; leave typ out or set it to "JWT".`,
      });
    }
    for (const problem of allClaimProblems(decoded.payload, nowMs / 1000)) causes.push(claimCause(problem, nowMs));
    if (request.userId !== null && typeof payload.user_id === 'string' && request.userId !== payload.user_id) {
      causes.push({
        code: 'jwt_identity_mismatch',
        message: `user_id "${request.userId}" was sent beside the JWT, but the JWT's user_id claim is "${payload.user_id}": send the same value or leave it out.`,
      });
    }
    if (request.email !== null && request.email !== (typeof payload.email === 'string' ? payload.email : null)) {
      causes.push({
        code: 'jwt_identity_mismatch',
        message: `email "${request.email}" was sent beside the JWT, but the JWT ${typeof payload.email === 'string' ? `says "${payload.email}"` : 'has no email claim'}: put the email in the JWT or leave it out.`,
      });
    }
    if (!best.best && algDeviation.length === 0) causes.unshift(this.noMatch(request, known, 'the JWT signature'));
    return { userId, email, secret: best.best?.secret ?? null, causes };
  }

  private noMatch(request: VerificationRequest, known: KnownSecret[], what: string): DiagnosisCause {
    const live = known.filter((k) => k.state === 'live');
    const forPlatform = live.filter((k) => secretDeviations(k, request.platform).length === 0);
    if (forPlatform.length === 0) {
      return {
        code: 'no_secret_for_platform',
        message:
          live.length === 0
            ? `This workspace has no live secret: create one (POST /secure_mode_secrets) and sign with it.`
            : `No live secret is enabled for ${request.platform} (live secrets: ${live.map((k) => `${describe(k)}: ${platformsOf(k.record)}`).join('; ')}), and none of them signed ${what} either.`,
      };
    }
    const retired = known.length - live.length;
    return {
      code: 'unknown_secret',
      message: `None of this workspace's secrets (${live.length} live, ${retired} deleted or expired${retired >= this.deletedLimit ? ', the most recent' : ''}) produces ${what}, even allowing for the usual mistakes. It was signed with another key (another workspace's, or Intercom's own secret) or over different data.`,
    };
  }

  private explain(match: Match, request: VerificationRequest, known: KnownSecret[]): DiagnosisCause[] {
    const secret = match.secret;
    const liveFor = known.filter((k) => k.state === 'live' && secretDeviations(k, request.platform).length === 0);
    const useInstead =
      liveFor.length > 0 ? `sign with ${liveFor.map(describe).join(' or ')}` : `create a secret enabled for ${request.platform}`;
    return match.deviations.map((d): DiagnosisCause => {
      switch (d.code) {
        case 'deleted_secret':
          return {
            code: d.code,
            message: `Signed with ${describe(secret!)}, deleted at ${iso(secret!.record.deletedAt!)}: deleted secrets never verify; ${useInstead}.`,
          };
        case 'expired_secret': {
          const at = secret!.record.expiresAt ?? secret!.record.deletedAt!;
          return { code: d.code, message: `Signed with ${describe(secret!)}, which expired at ${iso(at)}; ${useInstead}.` };
        }
        case 'platform_not_enabled':
          return {
            code: d.code,
            message: `Signed with ${describe(secret!)}, which is not enabled for ${request.platform} (enabled for: ${platformsOf(secret!.record)}); enable it for ${request.platform} or ${useInstead}.`,
          };
        case 'email_hashed_instead_of_user_id':
          return {
            code: d.code,
            message:
              'user_hash is the HMAC of the email, but a user_id was sent too: when user_id is present the hash must be computed over user_id.',
          };
        case 'uppercase_hex_on_mobile':
          return {
            code: d.code,
            message: `user_hash is uppercase hex; ${PLATFORM_NAME[request.platform]} needs lowercase hex (only the web Messenger accepts uppercase).`,
          };
        case 'key_base64url_decoded':
          return {
            code: d.code,
            message:
              "The HMAC key was the base64url-decoded bytes of the secret; use the secret string itself as the key (its UTF-8 bytes), as Intercom's samples do.",
          };
        case 'whitespace':
          return {
            code: d.code,
            message: {
              user_hash: 'user_hash has surrounding whitespace (a newline?); send exactly the 64 hex characters.',
              message_trimmed:
                'The user_id/email sent has surrounding whitespace, but the hash was computed over the trimmed value: send exactly the value that was hashed.',
              message_newline:
                'The hash was computed over the value plus a trailing newline (as `echo` without -n adds); hash exactly the value.',
              key_newline:
                'The HMAC key had a trailing newline (as when read from a file or env file); strip it from the secret.',
            }[d.where],
          };
        case 'digest_not_hex':
          return { code: d.code, message: 'user_hash is the digest in base64; send it as lowercase hex (64 characters).' };
        case 'wrong_hash_algorithm':
          return { code: d.code, message: `user_hash is an HMAC-${d.algorithm} digest; it must be HMAC-SHA256.` };
        case 'not_hmac':
          return {
            code: d.code,
            message:
              d.shape === 'plain'
                ? 'user_hash is a plain SHA-256 of the value, with no key at all: it must be HMAC-SHA256 keyed with the secret.'
                : `user_hash is SHA-256 over the ${d.shape === 'key_first' ? 'secret followed by the value' : 'value followed by the secret'}; it must be HMAC-SHA256 keyed with the secret.`,
          };
        case 'jwt_wrong_alg':
          return {
            code: d.code,
            message:
              d.signedWith === 'none' || d.signedWith === 'no alg'
                ? `The JWT is unsigned (alg "${d.signedWith}"); only HS256 tokens signed with a secret are accepted.`
                : `The JWT uses ${d.signedWith}; only HS256 is accepted.`,
          };
      }
    });
  }
}

interface UserHashReading {
  bytes: Buffer;
  shape: 'hmac' | 'plain' | 'key_first' | 'key_last';
  algorithm: 'sha1' | 'sha256' | 'sha384' | 'sha512';
  deviations: Deviation[];
}

/** The digests a user_hash string could be, each with the mistakes that reading implies. */
function readUserHash(value: string, platform: Platform): UserHashReading[] {
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

/** HS256 always; HS384/HS512 too when the header or the signature length says so, to name what the signer did. */
function hashesToTry(jwt: DecodedJwt): JwtHmacHash[] {
  const hashes: JwtHmacHash[] = ['sha256'];
  if (jwt.header.alg === 'HS384' || jwt.signature.length === 48) hashes.push('sha384');
  if (jwt.header.alg === 'HS512' || jwt.signature.length === 64) hashes.push('sha512');
  return hashes;
}

function claimCause(problem: JwtClaimsProblem, nowMs: number): DiagnosisCause {
  const nowS = nowMs / 1000;
  switch (problem.code) {
    case 'expired':
      return {
        code: 'jwt_expired',
        message: `The JWT expired at ${iso(problem.exp)} (exp), ${Math.round(nowS - problem.exp)} seconds ago; up to ${JWT_CLOCK_SKEW_SECONDS} seconds of clock skew is allowed. Issue a fresh token per page load.`,
      };
    case 'not_yet_valid':
      return {
        code: 'jwt_not_yet_valid',
        message: `The JWT is not valid before ${iso(problem.nbf)} (nbf), ${Math.round(problem.nbf - nowS)} seconds from now; check the signing server's clock.`,
      };
    case 'payload_not_object':
      return { code: 'jwt_missing_user_id', message: 'The JWT payload is not a JSON object, so it has no user_id claim.' };
    case 'user_id_missing':
      return {
        code: 'jwt_missing_user_id',
        message: 'The JWT has no user_id claim; Intercom user JWTs must carry the user_id as a string.',
      };
    case 'user_id_not_string':
      return {
        code: 'jwt_missing_user_id',
        message: `The JWT's user_id claim is a ${problem.type}; it must be a string (e.g. "42", not 42).`,
      };
    case 'email_not_string':
      return { code: 'jwt_invalid_claim', message: `The JWT's email claim is a ${problem.type}; it must be a string.` };
    case 'exp_not_number':
      return { code: 'jwt_invalid_claim', message: "The JWT's exp claim is not a number of seconds since the epoch." };
    case 'nbf_not_number':
      return { code: 'jwt_invalid_claim', message: "The JWT's nbf claim is not a number of seconds since the epoch." };
  }
}
