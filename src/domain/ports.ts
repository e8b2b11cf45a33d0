/**
 * The storage port, owned by the domain and split by aggregate. Each adapter (storage/sqlite, storage/postgres)
 * implements every facet in one class; a service asks only for the facets it uses. Every method that changes state
 * takes the audit event to write in the same transaction.
 */
import type {
  AccessToken,
  AuditEvent,
  AuditInput,
  AuditQuery,
  ClaimedDelivery,
  CreateSecretResult,
  DeliveryAttempt,
  DeliveryAttemptRecord,
  DeliveryClaim,
  DeliveryOutcome,
  DueSecret,
  IdempotencyRecord,
  IdempotentCreate,
  LastUsage,
  NewSecret,
  NewToken,
  SecretChange,
  SecretPatch,
  SecretRecord,
  SecretWithCiphertext,
  RotationPolicy,
  RotationRecord,
  RotationTransition,
  StartRotation,
  StartRotationResult,
  TokenAudit,
  UsageIncrement,
  UsageTotals,
  WebhookEndpointRecord,
  WebhookSecretCiphertext,
  NewWebhookEndpoint,
  Workspace,
} from './model.js';

export interface WorkspaceStore {
  createWorkspace(input: Omit<Workspace, 'id'>): Promise<Workspace>;
  listWorkspaces(): Promise<Workspace[]>;
  findWorkspaceByAppId(appId: string): Promise<Workspace | undefined>;
  /**
   * First start: creates the workspace and its token only if no workspace exists yet, atomically, so nodes
   * starting together on an empty database bootstrap exactly once. undefined when a workspace already existed.
   */
  bootstrapWorkspace(workspace: Omit<Workspace, 'id'>, token: NewToken & { audit: TokenAudit }): Promise<Workspace | undefined>;
}

export interface TokenStore {
  createToken(input: NewToken & { workspaceId: number }, audit: TokenAudit): Promise<AccessToken>;
  /** The live (not revoked) token with this hash, with its workspace. */
  findTokenByHash(tokenHash: Buffer): Promise<{ token: AccessToken; workspace: Workspace } | undefined>;
  listTokens(workspaceId?: number): Promise<AccessToken[]>;
  revokeToken(id: number, at: number, audit: TokenAudit): Promise<AccessToken | undefined>;
}

/**
 * Secrets. Each mutation that a verification cache must hear of emits its SecretChange to the onChange listeners
 * after its transaction commits (and never when it rolls back); an adapter with a cross-node feed also sends it
 * there as part of the transaction.
 */
export interface SecretStore {
  /**
   * Inserts a secret unless the workspace already has maxLive live secrets. `seal` is called inside the
   * transaction with the new row's id, so the ciphertext can bind that id as associated data.
   * With `idempotency`, a live record for (workspace, key) is looked up first (before the limit) and returned
   * instead of creating anything; otherwise the record is inserted in the same transaction as the secret.
   * Concurrent calls with one key must create at most one secret.
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
  updateSecret(
    workspaceId: number,
    id: number,
    patch: SecretPatch,
    audit: Omit<AuditInput, 'targetId'>,
  ): Promise<SecretRecord | undefined>;
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
  /** Live secrets whose expires_at is at or before `at` and not yet warned of (for that expires_at), across workspaces. */
  listSecretsToWarn(at: number, limit: number): Promise<SecretRecord[]>;
  /**
   * Marks the secret warned of for its current expires_at and writes the audit event (secret.expiring), in one
   * transaction, only if it is still live with that expires_at and not yet warned of: so across nodes the warning is
   * raised once. false when nothing was written.
   */
  markExpiryWarned(secret: SecretRecord, audit: AuditInput): Promise<boolean>;
  /** Registers a listener for committed changes; returns the function that removes it. */
  onChange(listener: (change: SecretChange) => void): () => void;
}

export interface UsageStore {
  /** Adds counts and moves last_verified_at forward (never back), in one transaction. */
  recordUsage(increments: UsageIncrement[], lastVerified: Map<number, number>): Promise<void>;
  usageTotals(secretIds: number[], sinceMinute: number): Promise<UsageTotals[]>;
  usageSeries(secretIds: number[], sinceMinute: number): Promise<UsageIncrement[]>;
  /** The latest minute each (secret, platform) verified anything, for those that ever did. */
  lastUsage(secretIds: number[]): Promise<LastUsage[]>;
}

/** Rotations. Every change writes its audit event in its own transaction, as secrets do. */
export interface RotationStore {
  /**
   * Inserts the successor (emitting its change) and the rotation, with their audit events, in one transaction, after
   * checking inside it that the old secret is live, that neither it nor any successor is the side of an open
   * rotation, and that the workspace has room. Serialised with the workspace's creates, as createSecret is; the
   * Idempotency-Key works as on createSecret (looked up first, kept in the same transaction).
   */
  startRotation(input: StartRotation): Promise<StartRotationResult>;
  /** Newest first. */
  listRotations(workspaceId: number): Promise<RotationRecord[]>;
  getRotation(workspaceId: number, id: number): Promise<RotationRecord | undefined>;
  /** Open rotations (rolling_out, cutting_over) in which the secret is the old or the new side. */
  openRotationsOf(workspaceId: number, secretId: number): Promise<RotationRecord[]>;
  /** Open rotations of every workspace with id above afterId, oldest first: what the sweeper advances. */
  listOpenRotations(afterId: number, limit: number): Promise<RotationRecord[]>;
  /** Open rotations past their deadline, across workspaces: the overdue gauge. */
  countOverdueRotations(): Promise<number>;
  /**
   * Applies a step if the rotation is still as expected, with its audit event and the optional retirement of a
   * secret (which emits its change), in one transaction; undefined (and nothing written) when it was not.
   */
  transitionRotation(step: RotationTransition): Promise<RotationRecord | undefined>;
  /**
   * Open delivering rotations whose next rollout run is due at nowMs and that no run holds (or whose run's claim
   * lapsed), across workspaces, oldest first.
   */
  listDueDeliveries(nowMs: number, limit: number): Promise<RotationRecord[]>;
  /**
   * Claims the next run for `claim.claim` until untilMs if it is still due and unclaimed (compare-and-set): of nodes
   * racing, one gets the rotation back, the others undefined.
   */
  claimDelivery(claim: DeliveryClaim, nowMs: number, untilMs: number): Promise<RotationRecord | undefined>;
  /**
   * Records a run's outcome with its audit event in one transaction, and releases the claim; false (nothing
   * written) when the run no longer holds the claim.
   */
  finishDelivery(claim: DeliveryClaim, outcome: DeliveryOutcome): Promise<boolean>;
  /** Gives a run's claim up without an outcome (its node is stopping), so the run is due again at once. */
  releaseDelivery(claim: DeliveryClaim): Promise<void>;
}

/** Rotation policies, one per workspace, and the marks of secrets found past their max age. */
export interface RotationPolicyStore {
  /** undefined when the workspace never set one (the defaults apply). */
  getRotationPolicy(workspaceId: number): Promise<RotationPolicy | undefined>;
  /** Inserts or replaces the workspace's policy, with its audit event, in one transaction. */
  putRotationPolicy(policy: RotationPolicy & { updatedAt: number }, audit: AuditInput): Promise<RotationPolicy>;
  /** Live secrets created at least max_age_days before `at`, across workspaces, with id above afterId, by id. */
  listDueSecrets(at: number, afterId: number, limit: number): Promise<DueSecret[]>;
  /** How many listDueSecrets would return without a limit: the gauge. */
  countDueSecrets(at: number): Promise<number>;
  /**
   * Marks the secret due with its audit event (secret.due_for_rotation) in one transaction, unless it already is:
   * true when this call marked it, so the event is written once however many nodes or passes try.
   */
  markDueForRotation(secret: SecretRecord, at: number, audit: AuditInput): Promise<boolean>;
}

/**
 * A lease held by at most one node at a time, so only one advances rotations. It lasts while the node's session
 * does: a node that dies releases it at once, and one that stops renewing it (a partition, a hang) loses it within
 * ttlMs; another acquires it on its next attempt.
 */
export interface LeaseStore {
  /** true while this node holds the lease, acquiring it if it is free; each call renews it for ttlMs. */
  holdLease(name: 'rotations', ttlMs: number): Promise<boolean>;
}

/**
 * The audit log is the events' outbox: every audit record whose action raises a webhook event (webhookEventTypeOf)
 * inserts, in the same transaction, one pending delivery for each live endpoint of its workspace subscribed to that
 * type (or to '*'). A change that rolls back has no event; one that commits always has its deliveries.
 */
export interface AuditStore {
  writeAudit(event: AuditInput): Promise<void>;
  listAudit(query: AuditQuery): Promise<AuditEvent[]>;
}

export interface WebhookStore {
  /** `seal` is called inside the transaction with the new row's id, as createSecret's is. */
  createWebhookEndpoint(input: NewWebhookEndpoint, seal: (endpointId: number) => Buffer): Promise<WebhookEndpointRecord>;
  /** Live endpoints of a workspace, oldest first. */
  listWebhookEndpoints(workspaceId: number): Promise<WebhookEndpointRecord[]>;
  /** A live endpoint of the workspace. */
  getWebhookEndpoint(workspaceId: number, id: number): Promise<WebhookEndpointRecord | undefined>;
  /** Soft delete; its pending deliveries are dropped. undefined when there is no live endpoint with that id. */
  deleteWebhookEndpoint(workspaceId: number, id: number, at: number): Promise<WebhookEndpointRecord | undefined>;
  /**
   * Claims up to `limit` pending deliveries due at nowMs (to live endpoints), oldest due first, and pushes each one's
   * next attempt to leaseUntilMs: until then no other claim (on any node) gets it, so each attempt is made by one
   * node only. A node that dies holding a claim delays that delivery until the lease runs out.
   */
  claimDueDeliveries(nowMs: number, leaseUntilMs: number, limit: number): Promise<ClaimedDelivery[]>;
  /** Records an attempt if its claim is still the delivery's latest, once per claim; false (nothing written) otherwise. */
  recordDeliveryAttempt(attempt: DeliveryAttempt): Promise<boolean>;
  /** An endpoint's attempts, newest first. */
  listDeliveryAttempts(workspaceId: number, endpointId: number, limit: number): Promise<DeliveryAttemptRecord[]>;
  /** When the earliest pending delivery is due (ms), or undefined when none is pending: how long the worker may sleep. */
  nextDeliveryDueAt(): Promise<number | undefined>;
  /** Deliveries not yet delivered nor given up (due, waiting to retry, or claimed), over every endpoint: the backlog gauge. */
  countPendingDeliveries(): Promise<number>;
  /** Registers a listener told after a transaction that queued deliveries commits; returns its remover. */
  onDeliveriesQueued(listener: () => void): () => void;
}

export interface IdempotencyStore {
  deleteExpiredIdempotency(now: number): Promise<number>;
}

/** What re-wrapping under a new master key and the start-up key check need. */
export interface KeyStore {
  /** One secret (deleted included) for each master key that stored ciphertexts use: start-up proves each still opens. */
  oneSecretPerKey(): Promise<SecretWithCiphertext[]>;
  /** Secrets (deleted included) whose ciphertext is not under keyId, for re-wrapping; ordered by id. */
  listSecretsNotUnderKey(keyId: string, afterId: number, limit: number): Promise<SecretWithCiphertext[]>;
  replaceCiphertext(id: number, expected: Buffer, ciphertext: Buffer): Promise<boolean>;
  /** Every kept Idempotency-Key record, expired or not, for re-wrapping under a new master key. */
  listIdempotencyRecords(): Promise<IdempotencyRecord[]>;
  /** Compare-and-swap of a record's encrypted response; false when it changed or is gone meanwhile. */
  replaceIdempotencyResponse(workspaceId: number, key: string, expected: Buffer, response: Buffer): Promise<boolean>;
  /** One webhook signing secret (deleted endpoints included) per master key in use: start-up proves each still opens. */
  oneWebhookSecretPerKey(): Promise<WebhookSecretCiphertext[]>;
  /** Webhook endpoints (deleted included) whose secret is not under keyId, ordered by id. */
  listWebhookSecretsNotUnderKey(keyId: string, afterId: number, limit: number): Promise<WebhookSecretCiphertext[]>;
  replaceWebhookSecretCiphertext(id: number, expected: Buffer, ciphertext: Buffer): Promise<boolean>;
}

export interface StoreLifecycle {
  readonly kind: 'sqlite' | 'postgres';
  migrate(): Promise<void>;
  close(): Promise<void>;
  /** Cheap round trip used by /readyz. */
  ping(): Promise<void>;
}

/** Every facet: what an adapter implements and what the composition root holds. */
export interface Store
  extends
    StoreLifecycle,
    WorkspaceStore,
    TokenStore,
    SecretStore,
    UsageStore,
    AuditStore,
    IdempotencyStore,
    KeyStore,
    RotationStore,
    RotationPolicyStore,
    LeaseStore,
    WebhookStore {}

/** What an adapter raises when the database cannot be reached or written; the HTTP layer answers 503. */
export class StorageUnavailableError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'StorageUnavailableError';
  }
}
