/** The audit log's actions: one list for the store's type, the API's filter and the web console. No imports, so the console bundle can use it. */
export const AUDIT_ACTIONS = [
  'secret.created',
  'secret.updated',
  'secret.deleted',
  'secret.expired',
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
  'secret.due_for_rotation',
  'rotation_policy.updated',
] as const;

export type AuditAction = (typeof AUDIT_ACTIONS)[number];
