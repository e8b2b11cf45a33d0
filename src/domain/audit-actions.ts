/** The audit log's actions: one list for the store's type, the API's filter and the web console. No imports, so the console bundle can use it. */
export const AUDIT_ACTIONS = [
  'secret.created',
  'secret.updated',
  'secret.deleted',
  'secret.expired',
  'secret.expiring',
  'secret.due_for_rotation',
  'token.created',
  'token.revoked',
  'workspace.created',
  'rotation.started',
  'rotation.cut_over',
  'rotation.completed',
  'rotation.cancelled',
  'rotation.overdue',
  'rotation.delivered',
  'rotation.delivery_failed',
  'rotation_policy.updated',
] as const;

export type AuditAction = (typeof AUDIT_ACTIONS)[number];

/**
 * The webhook event types (docs/events.md). The audit log is the outbox: an audit record whose action maps to one of
 * these is an event, and writing it queues its deliveries in the same transaction.
 */
export const WEBHOOK_EVENT_TYPES = [
  'secret.created',
  'secret.updated',
  'secret.deleted',
  'secret.expiring',
  'secret.due_for_rotation',
  'rotation.started',
  'rotation.cut_over',
  'rotation.completed',
  'rotation.cancelled',
  'rotation.overdue',
  'rotation.delivery_failed',
] as const;

export type WebhookEventType = (typeof WEBHOOK_EVENT_TYPES)[number];

/**
 * The event an audit action raises, if any. A secret retired at its expires_at is audited as secret.expired, but to
 * a subscriber it is gone like any other delete: it is delivered as secret.deleted (with reason "expired").
 */
export function webhookEventTypeOf(action: AuditAction): WebhookEventType | undefined {
  if (action === 'secret.expired') return 'secret.deleted';
  return (WEBHOOK_EVENT_TYPES as readonly string[]).includes(action) ? (action as WebhookEventType) : undefined;
}
