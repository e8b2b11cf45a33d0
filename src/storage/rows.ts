import type {
  AccessToken,
  AuditEvent,
  AuditInput,
  IdempotencyRecord,
  RotationPolicy,
  RotationRecord,
  SecretRecord,
  SecretWithCiphertext,
  WebhookEndpointRecord,
  Workspace,
} from '../domain/model.js';

/** Row → record mapping shared by the SQLite and PostgreSQL adapters: both use the same column names. */
export type Row = Record<string, unknown>;

export const SECRET_COLUMNS =
  'id, workspace_id, name, supports_web, supports_ios, supports_android, created_at, expires_at, deleted_at, deleted_reason, last_verified_at';

export function toWorkspace(r: Row): Workspace {
  return {
    id: r.id as number,
    appId: r.app_id as string,
    name: r.name as string,
    defaultVersion: r.default_version as string,
    rateLimit: r.rate_limit as number,
    createdAt: r.created_at as number,
  };
}

export function toToken(r: Row): AccessToken {
  return {
    id: r.id as number,
    workspaceId: r.workspace_id as number,
    name: r.name as string,
    scopes: (r.scopes as string).split(' ').filter(Boolean),
    createdAt: r.created_at as number,
    revokedAt: (r.revoked_at as number | null) ?? null,
  };
}

export function toSecret(r: Row): SecretRecord {
  return {
    id: r.id as number,
    workspaceId: r.workspace_id as number,
    name: r.name as string,
    supportsWeb: Boolean(r.supports_web),
    supportsIos: Boolean(r.supports_ios),
    supportsAndroid: Boolean(r.supports_android),
    createdAt: r.created_at as number,
    expiresAt: (r.expires_at as number | null) ?? null,
    deletedAt: (r.deleted_at as number | null) ?? null,
    deletedReason: (r.deleted_reason as 'deleted' | 'expired' | null) ?? null,
    lastVerifiedAt: (r.last_verified_at as number | null) ?? null,
  };
}

export function toSecretWithCiphertext(r: Row): SecretWithCiphertext {
  return { ...toSecret(r), ciphertext: r.ciphertext as Buffer };
}

export function toAudit(r: Row): AuditEvent {
  const event: AuditEvent = {
    id: r.id as number,
    workspaceId: r.workspace_id as number,
    actorTokenId: (r.actor_token_id as number | null) ?? null,
    ip: (r.ip as string | null) ?? null,
    requestId: (r.request_id as string | null) ?? null,
    action: r.action as AuditEvent['action'],
    targetType: r.target_type as AuditEvent['targetType'],
    targetId: r.target_id as string,
    at: r.at as number,
  };
  // SQLite keeps details as JSON text, PostgreSQL as jsonb (already parsed by the driver).
  if (r.details) event.details = (typeof r.details === 'string' ? JSON.parse(r.details) : r.details) as AuditEvent['details'];
  return event;
}

export function toIdempotency(r: Row): IdempotencyRecord {
  return {
    workspaceId: r.workspace_id as number,
    key: r.key as string,
    tokenId: (r.token_id as number | null) ?? null,
    requestHash: r.request_hash as Buffer,
    response: r.response as Buffer,
    expiresAt: r.expires_at as number,
  };
}

/** The audit event both adapters write in the same transaction as a new workspace. */
export function workspaceCreatedEvent(id: number, workspace: Omit<Workspace, 'id'>): AuditInput {
  return {
    workspaceId: id,
    actorTokenId: null,
    ip: null,
    requestId: null,
    action: 'workspace.created',
    targetType: 'workspace',
    targetId: workspace.appId,
    at: workspace.createdAt,
  };
}

export const AUDIT_INSERT_COLUMNS = 'workspace_id, actor_token_id, ip, request_id, action, target_type, target_id, at, details';

/** An audit event's values in AUDIT_INSERT_COLUMNS order; details as JSON text, which both databases accept. */
export function auditInsertValues(event: AuditInput): unknown[] {
  return [
    event.workspaceId,
    event.actorTokenId,
    event.ip,
    event.requestId,
    event.action,
    event.targetType,
    event.targetId,
    event.at,
    event.details ? JSON.stringify(event.details) : null,
  ];
}

export function toRotation(r: Row): RotationRecord {
  return {
    id: r.id as number,
    workspaceId: r.workspace_id as number,
    fromSecretId: r.from_secret_id as number,
    toSecretId: r.to_secret_id as number,
    idleFor: r.idle_for as number,
    deadline: (r.deadline as number | null) ?? null,
    state: r.state as RotationRecord['state'],
    overdue: Boolean(r.overdue),
    createdAt: r.created_at as number,
    updatedAt: r.updated_at as number,
    completedAt: (r.completed_at as number | null) ?? null,
    deliver: Boolean(r.deliver),
    deliveredAt: (r.delivered_at as number | null) ?? null,
    deliveryAttempts: Number(r.delivery_attempts ?? 0),
    deliveryNextAtMs:
      r.delivery_next_at_ms === null || r.delivery_next_at_ms === undefined ? null : Number(r.delivery_next_at_ms),
  };
}

export function toRotationPolicy(r: Row): RotationPolicy {
  return {
    workspaceId: r.workspace_id as number,
    maxAgeDays: (r.max_age_days as number | null) ?? null,
    idleFor: r.idle_for as number,
    autoRotate: Boolean(r.auto_rotate),
    updatedAt: (r.updated_at as number | null) ?? null,
  };
}

export const WEBHOOK_ENDPOINT_COLUMNS = 'id, workspace_id, url, events, description, created_at, deleted_at';

export function toWebhookEndpoint(r: Row): WebhookEndpointRecord {
  return {
    id: r.id as number,
    workspaceId: r.workspace_id as number,
    url: r.url as string,
    events: (r.events as string).split(' ').filter(Boolean) as WebhookEndpointRecord['events'],
    description: (r.description as string | null) ?? null,
    createdAt: r.created_at as number,
    deletedAt: (r.deleted_at as number | null) ?? null,
  };
}
