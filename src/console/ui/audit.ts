/** GET /audit_events: types, labels and query building; no DOM. */
import { formatDateTime } from './format.js';

import type { AuditAction, AuditEventBody, AuditEventListBody } from '../../http/schemas/audit.js';

export type { AuditAction };

export const AUDIT_ACTION_LABELS: Readonly<Record<AuditAction, string>> = {
  'secret.created': 'Secret created',
  'secret.updated': 'Secret updated',
  'secret.deleted': 'Secret deleted',
  'secret.expired': 'Secret expired',
  'secret.expiring': 'Secret expiring soon',
  'secret.due_for_rotation': 'Secret due for rotation',
  'token.created': 'Token created',
  'token.revoked': 'Token revoked',
  'workspace.created': 'Workspace created',
  'rotation.started': 'Rotation started',
  'rotation.cut_over': 'Rotation cut over',
  'rotation.completed': 'Rotation completed',
  'rotation.cancelled': 'Rotation cancelled',
  'rotation.overdue': 'Rotation overdue',
  'rotation.delivered': 'Rotation delivered',
  'rotation.delivery_failed': 'Rotation delivery failed',
  'rotation_policy.updated': 'Rotation policy updated',
};

/** Every action, in the order of the labels (the Record type makes the list complete). */
export const AUDIT_ACTIONS = Object.keys(AUDIT_ACTION_LABELS) as AuditAction[];

export function actionLabel(action: string): string {
  return (AUDIT_ACTION_LABELS as Record<string, string>)[action] ?? action;
}

export type AuditEvent = AuditEventBody;
export type AuditPage = AuditEventListBody;

export interface AuditFilter {
  actions: readonly string[];
  since: number | null;
  until: number | null;
}

export const AUDIT_PAGE_SIZE = 50;

export function auditPath(filter: AuditFilter, startingAfter: string | null = null, limit: number = AUDIT_PAGE_SIZE): string {
  const q = new URLSearchParams();
  if (filter.since !== null) q.set('since', String(filter.since));
  if (filter.until !== null) q.set('until', String(filter.until));
  if (filter.actions.length > 0) q.set('action', filter.actions.join(','));
  q.set('limit', String(limit));
  if (startingAfter !== null) q.set('starting_after', startingAfter);
  return `/audit_events?${q.toString()}`;
}

function flatten(key: string, value: unknown, out: Array<[string, string]>): void {
  if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
    for (const [k, v] of Object.entries(value)) flatten(key === '' ? k : `${key} ${k}`, v, out);
    return;
  }
  // Times in details are Unix seconds like everywhere in the API (expires_at, last_verified_at): show them as dates.
  const isTime = /(^|[ _])at$/.test(key) && typeof value === 'number';
  const text =
    value === null || value === undefined
      ? 'none'
      : isTime
        ? formatDateTime(value)
        : Array.isArray(value)
          ? value.map(String).join(', ')
          : String(value);
  out.push([key.replace(/_/g, ' '), text]);
}

/** Event details as "key: value" pairs of plain text (nested objects flattened), in the order the server sent them. */
export function detailPairs(details: Record<string, unknown> | null): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  if (details) flatten('', details, out);
  return out;
}
