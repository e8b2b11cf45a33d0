/**
 * The one storage port. The domain talks only to this interface; each adapter (sqlite/, postgres/) implements it.
 * Every method that changes state takes the audit event to write in the same transaction.
 * Times are Unix seconds unless a name says otherwise.
 */

export type Platform = 'web' | 'ios' | 'android';
export const PLATFORMS: readonly Platform[] = ['web', 'ios', 'android'];

export interface Workspace {
  id: number;
  appId: string;
  name: string;
  defaultVersion: string;
  rateLimit: number;
  createdAt: number;
}

export interface AccessToken {
  id: number;
  workspaceId: number;
  name: string;
  scopes: string[];
  createdAt: number;
  revokedAt: number | null;
}

export interface SecretRecord {
  id: number;
  workspaceId: number;
  name: string;
  supportsWeb: boolean;
  supportsIos: boolean;
  supportsAndroid: boolean;
  createdAt: number;
  expiresAt: number | null;
  deletedAt: number | null;
  deletedReason: 'deleted' | 'expired' | null;
  lastVerifiedAt: number | null;
}

/** A secret row with its encrypted material, for the verifier's cache and for re-wrapping. */
export interface SecretWithCiphertext extends SecretRecord {
  ciphertext: Buffer;
}

export interface AuditInput {
  workspaceId: number;
  actorTokenId: number | null;
  ip: string | null;
  requestId: string | null;
  action: AuditAction;
  targetType: 'secret' | 'token' | 'workspace';
  targetId: string;
  at: number;
  details?: Record<string, string | number | boolean | null>;
}

export type { AuditAction } from '../domain/audit-actions.js';
import type { AuditAction } from '../domain/audit-actions.js';

export interface AuditEvent extends AuditInput {
  id: number;
}

export interface AuditQuery {
  workspaceId: number;
  since?: number;
  until?: number;
  actions?: AuditAction[];
  /** Return events with id below this (newest first). */
  beforeId?: number;
  limit: number;
}

export interface NewSecret {
  workspaceId: number;
  name: string;
  supportsWeb: boolean;
  supportsIos: boolean;
  supportsAndroid: boolean;
  createdAt: number;
  expiresAt: number | null;
}

export interface SecretPatch {
  name?: string;
  supportsWeb?: boolean;
  supportsIos?: boolean;
  supportsAndroid?: boolean;
  expiresAt?: number | null;
}

export interface UsageIncrement {
  secretId: number;
  platform: Platform;
  /** Unix minute: floor(seconds / 60). */
  minute: number;
  count: number;
}

export interface UsageTotals {
  secretId: number;
  platform: Platform;
  count: number;
}

export interface IdempotencyRecord {
  workspaceId: number;
  key: string;
  requestHash: Buffer;
  /** The encrypted original response, secret included. */
  response: Buffer;
  expiresAt: number;
}

/** Makes a create idempotent: the replay record is written in the same transaction as the secret. */
export interface IdempotentCreate {
  key: string;
  requestHash: Buffer;
  /** A record for this key that expired at or before `now` no longer counts (and is removed). */
  now: number;
  expiresAt: number;
  /** Called inside the transaction with the new secret; returns the encrypted response to keep for replays. */
  seal: (secret: SecretRecord) => Buffer;
}

export type TokenAudit = Omit<AuditInput, 'targetId' | 'workspaceId'>;

export interface NewToken {
  name: string;
  tokenHash: Buffer;
  scopes: string[];
  createdAt: number;
}

export type CreateSecretResult =
  | { ok: true; secret: SecretRecord }
  | { ok: false; reason: 'limit_reached' }
  /** A live record for the key exists: nothing was written; the caller compares the request hash and replays. */
  | { ok: false; reason: 'idempotent_replay'; record: IdempotencyRecord };

export interface Store {
  readonly kind: 'sqlite' | 'postgres';
  migrate(): Promise<void>;
  close(): Promise<void>;
  /** Cheap round trip used by /readyz. */
  ping(): Promise<void>;

  createWorkspace(input: Omit<Workspace, 'id'>): Promise<Workspace>;
  listWorkspaces(): Promise<Workspace[]>;
  findWorkspaceByAppId(appId: string): Promise<Workspace | undefined>;

  /**
   * First start: creates the workspace and its token only if no workspace exists yet, atomically, so nodes
   * starting together on an empty database bootstrap exactly once. undefined when a workspace already existed.
   */
  bootstrapWorkspace(workspace: Omit<Workspace, 'id'>, token: NewToken & { audit: TokenAudit }): Promise<Workspace | undefined>;

  createToken(input: NewToken & { workspaceId: number }, audit: TokenAudit): Promise<AccessToken>;
  /** The live (not revoked) token with this hash, with its workspace. */
  findTokenByHash(tokenHash: Buffer): Promise<{ token: AccessToken; workspace: Workspace } | undefined>;
  listTokens(workspaceId?: number): Promise<AccessToken[]>;
  revokeToken(id: number, at: number, audit: Omit<AuditInput, 'targetId' | 'workspaceId'>): Promise<AccessToken | undefined>;

  /**
   * Inserts a secret unless the workspace already has maxLive live secrets. `seal` is called inside the
   * transaction with the new row's id, so the ciphertext can bind that id as associated data.
   * With `idempotency`, a live record for (workspace, key) is looked up first (before the limit) and returned
   * instead of creating anything; otherwise the record is inserted in the same transaction as the secret.
   * Concurrent calls with one key must create at most one secret: the (workspace_id, key) primary key makes the
   * second insert fail, and the adapter then answers with the record the first call committed.
   */
  createSecret(
    input: NewSecret,
    maxLive: number,
    seal: (secretId: number) => Buffer,
    audit: Omit<AuditInput, 'targetId'>,
    idempotency?: IdempotentCreate,
  ): Promise<CreateSecretResult>;
  /** Live secrets (not deleted) of a workspace, oldest first. */
  listSecrets(workspaceId: number): Promise<SecretRecord[]>;
  /** One secret of a workspace, deleted ones included. */
  getSecret(workspaceId: number, id: number): Promise<SecretRecord | undefined>;
  /** Live secrets of every workspace, without material: the census behind /metrics. */
  listAllLiveSecrets(): Promise<SecretRecord[]>;
  /** Live secrets with their ciphertext, for the verification cache. */
  loadLiveSecretMaterial(workspaceId: number): Promise<SecretWithCiphertext[]>;
  /** Deleted secrets with their ciphertext, for diagnosis ("signed with a deleted secret"). */
  loadDeletedSecretMaterial(workspaceId: number, limit: number): Promise<SecretWithCiphertext[]>;
  updateSecret(workspaceId: number, id: number, patch: SecretPatch, audit: Omit<AuditInput, 'targetId'>): Promise<SecretRecord | undefined>;
  /** Soft delete; undefined when there is no live secret with that id in the workspace. */
  deleteSecret(
    workspaceId: number,
    id: number,
    at: number,
    reason: 'deleted' | 'expired',
    audit: Omit<AuditInput, 'targetId'>,
  ): Promise<SecretRecord | undefined>;
  /** Live secrets whose expires_at is at or before `at`, across workspaces. */
  listExpiredSecrets(at: number, limit: number): Promise<SecretRecord[]>;
  /** One secret (deleted included) for each master key that stored ciphertexts use: start-up proves each still opens. */
  oneSecretPerKey(): Promise<SecretWithCiphertext[]>;
  /** Secrets (deleted included) whose ciphertext is not under keyId, for re-wrapping; ordered by id. */
  listSecretsNotUnderKey(keyId: string, afterId: number, limit: number): Promise<SecretWithCiphertext[]>;
  replaceCiphertext(id: number, expected: Buffer, ciphertext: Buffer): Promise<boolean>;

  /** Adds counts and moves last_verified_at forward (never back), in one transaction. */
  recordUsage(increments: UsageIncrement[], lastVerified: Map<number, number>): Promise<void>;
  usageTotals(secretIds: number[], sinceMinute: number): Promise<UsageTotals[]>;
  usageSeries(secretIds: number[], sinceMinute: number): Promise<UsageIncrement[]>;

  writeAudit(event: AuditInput): Promise<void>;
  listAudit(query: AuditQuery): Promise<AuditEvent[]>;

  deleteExpiredIdempotency(now: number): Promise<number>;
  /** Every kept Idempotency-Key record, expired or not, for re-wrapping under a new master key. */
  listIdempotencyRecords(): Promise<IdempotencyRecord[]>;
  /** Compare-and-swap of a record's encrypted response; false when it changed or is gone meanwhile. */
  replaceIdempotencyResponse(workspaceId: number, key: string, expected: Buffer, response: Buffer): Promise<boolean>;
}
