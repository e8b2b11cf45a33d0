/**
 * The domain's model: the records every layer speaks in. Storage adapters map rows to these; the HTTP layer presents
 * them. Times are Unix seconds unless a name says otherwise.
 */
import type { AuditAction, WebhookEventType } from './audit-actions.js';

export type { AuditAction, WebhookEventType } from './audit-actions.js';
export { WEBHOOK_EVENT_TYPES, webhookEventTypeOf } from './audit-actions.js';

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
  targetType: 'secret' | 'token' | 'workspace' | 'rotation';
  targetId: string;
  at: number;
  details?: Record<string, string | number | boolean | null>;
}

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

/** What a create writes; the store fills in the id and the rest starts empty. */
export type NewSecret = Omit<SecretRecord, 'id' | 'deletedAt' | 'deletedReason' | 'lastVerifiedAt'>;

/** What an update may change. */
export type SecretPatch = Partial<Pick<SecretRecord, 'name' | 'supportsWeb' | 'supportsIos' | 'supportsAndroid' | 'expiresAt'>>;

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
  /** The access token that made the create (null: the system); only the same one may replay it. */
  tokenId: number | null;
  requestHash: Buffer;
  /** The encrypted original response, secret included. */
  response: Buffer;
  expiresAt: number;
}

/** Makes a create idempotent: the replay record is written in the same transaction as the secret. */
export interface IdempotentCreate {
  key: string;
  /** The access token making the create, kept with the record. */
  tokenId: number | null;
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

/** A change other nodes must apply to their caches. */
export interface SecretChange {
  workspaceId: number;
  secretId: number;
  kind: 'created' | 'updated' | 'deleted' | 'expired';
}

export type RotationState = 'rolling_out' | 'cutting_over' | 'completed' | 'cancelled';
export const OPEN_ROTATION_STATES: readonly RotationState[] = ['rolling_out', 'cutting_over'];

/** A rotation from one secret to its successor, owned and advanced by the server. */
export interface RotationRecord {
  id: number;
  workspaceId: number;
  fromSecretId: number;
  toSecretId: number;
  /** Seconds the old secret must have verified nothing before the server retires it. */
  idleFor: number;
  deadline: number | null;
  state: RotationState;
  overdue: boolean;
  createdAt: number;
  updatedAt: number;
  completedAt: number | null;
  /** The server rolls the successor out with the rollout command (the start did not show it). */
  deliver: boolean;
  /** When the rollout command first exited 0 for this rotation. */
  deliveredAt: number | null;
  /** Failed runs of the rollout command so far. */
  deliveryAttempts: number;
  /** When (ms) the next run is due; null when none is pending (delivered, given up, or not delivering). */
  deliveryNextAtMs: number | null;
}

export type NewRotation = Pick<RotationRecord, 'workspaceId' | 'fromSecretId' | 'idleFor' | 'deadline' | 'createdAt'> & {
  deliver: boolean;
  /** ms; the first run of the rollout command is due then. */
  createdAtMs: number;
};

/** Starts a rotation: the successor, the rotation and their audit events in one transaction. */
export interface StartRotation {
  rotation: NewRotation;
  /** The successor to insert, from the old secret as read inside the transaction. */
  successor: (old: SecretRecord) => NewSecret;
  maxLive: number;
  seal: (secretId: number) => Buffer;
  /** The audit events to write, given what was inserted (the successor's secret.created, rotation.started). */
  audit: (old: SecretRecord, successor: SecretRecord, rotation: RotationRecord) => AuditInput[];
  idempotency?: {
    key: string;
    /** Only the access token that started the rotation may replay it. */
    tokenId: number | null;
    requestHash: Buffer;
    now: number;
    expiresAt: number;
    seal: (rotation: RotationRecord, successor: SecretRecord, old: SecretRecord) => Buffer;
  };
  /**
   * Started by the rotation policy for a secret past its max age: refused (in_progress) when the policy already
   * started one for that secret, and recorded with the secret's due mark in the same transaction, so it happens once.
   */
  byPolicy?: boolean;
}

export type StartRotationResult =
  | { ok: true; rotation: RotationRecord; successor: SecretRecord; old: SecretRecord }
  | { ok: false; reason: 'limit_reached' | 'secret_not_found' | 'in_progress' }
  | { ok: false; reason: 'idempotent_replay'; record: IdempotencyRecord };

/**
 * One step of a rotation, applied only if the rotation is still in `expected` (compare-and-set), so two nodes or
 * requests racing make it once: the loser changes nothing and writes no event.
 */
export interface RotationTransition {
  workspaceId: number;
  id: number;
  expected: Pick<RotationRecord, 'state' | 'overdue'>;
  next: Pick<RotationRecord, 'state' | 'overdue' | 'completedAt' | 'updatedAt'>;
  audit: AuditInput;
  /** A secret to soft-delete in the same transaction, if it is still live, with its event. */
  retire?: { secretId: number; audit: AuditInput };
}

/** One run of the rollout command, claimed so that no other node runs it meanwhile. */
export interface DeliveryClaim {
  workspaceId: number;
  rotationId: number;
  /** Unique to this run: only the run holding it may record its outcome. */
  claim: string;
}

/** A run's outcome, with its audit event: delivered, or failed with the time of the next run (null: given up). */
export type DeliveryOutcome =
  { delivered: true; at: number; audit: AuditInput } | { delivered: false; nextAtMs: number | null; audit: AuditInput };

/** A workspace's rotation policy; defaults apply when it never set one. */
export interface RotationPolicy {
  workspaceId: number;
  /** A live secret older than this many days is due for rotation; null: never. */
  maxAgeDays: number | null;
  /** idle_for of the rotations the server starts, and the default of POST /secure_mode_rotations. */
  idleFor: number;
  /** The server starts a delivering rotation of each due secret by itself. */
  autoRotate: boolean;
  updatedAt: number | null;
}

/** A live secret past its workspace's max age, with what the policy did about it so far. */
export interface DueSecret {
  secret: SecretRecord;
  policy: RotationPolicy;
  /** When secret.due_for_rotation was raised; null if not yet. */
  raisedAt: number | null;
  /** The rotation the policy started for it; null if none. */
  rotationId: number | null;
}

export interface LastUsage {
  secretId: number;
  platform: Platform;
  /** Unix minute of the latest counted verification. */
  minute: number;
}

/** Where a workspace's events are sent; the signing secret is stored only encrypted and never read back out. */
export interface WebhookEndpointRecord {
  id: number;
  workspaceId: number;
  url: string;
  /** The event types it receives, or ['*'] for all. */
  events: (WebhookEventType | '*')[];
  description: string | null;
  createdAt: number;
  deletedAt: number | null;
}

export type NewWebhookEndpoint = Omit<WebhookEndpointRecord, 'id' | 'deletedAt'>;

/**
 * A delivery claimed for one attempt: the event (its audit record), where to send it and the endpoint's encrypted
 * secret. `claim` identifies this claim: the attempt's result is recorded only while it is still the latest.
 */
export interface ClaimedDelivery {
  id: number;
  claim: number;
  /** Attempts made before this one. */
  attempts: number;
  /** When the event was queued, ms: retries stop 24 hours after it. */
  createdAtMs: number;
  endpoint: Pick<WebhookEndpointRecord, 'id' | 'workspaceId' | 'url'> & { secretCiphertext: Buffer };
  event: AuditEvent;
}

/** The outcome of one attempt, recorded by compare-and-set on the claim. */
export interface DeliveryAttempt {
  deliveryId: number;
  claim: number;
  attemptedAtMs: number;
  durationMs: number;
  /** The receiver's HTTP status, or null when there was no answer (then `error` says why). */
  status: number | null;
  error: string | null;
  /** pending: try again at nextAttemptAtMs; succeeded: a 2xx; failed: retries are over. */
  state: 'pending' | 'succeeded' | 'failed';
  nextAttemptAtMs: number;
}

/** One attempt as GET /webhook_endpoints/{id}/deliveries lists it; never a body. */
export interface DeliveryAttemptRecord {
  id: number;
  deliveryId: number;
  auditId: number;
  action: AuditAction;
  attemptedAtMs: number;
  durationMs: number;
  status: number | null;
  error: string | null;
  /** The delivery's state after this attempt. */
  state: 'pending' | 'succeeded' | 'failed';
}

/** A webhook endpoint's secret with its ciphertext, for re-wrapping under a new master key. */
export interface WebhookSecretCiphertext {
  id: number;
  workspaceId: number;
  ciphertext: Buffer;
}
