import { errors } from './errors.js';
import type { AuditAction, AuditEvent, Workspace } from './model.js';
import type { Store } from './ports.js';

import { AUDIT_ACTIONS } from './audit-actions.js';

export const DEFAULT_AUDIT_PAGE = 50;
export const MAX_AUDIT_PAGE = 200;

export interface AuditListInput {
  since?: number | undefined;
  until?: number | undefined;
  /** Comma-separated action names. */
  action?: string | undefined;
  limit?: number | undefined;
  startingAfter?: string | undefined;
}

export interface AuditPage {
  events: AuditEvent[];
  /** Cursor for the next (older) page, or null when this is the last one. */
  next: string | null;
}

const CURSOR_PREFIX = 'audit:';

/** Cursors are opaque to clients; inside, the id of the last event on the page (pages go newest to oldest). */
export function encodeAuditCursor(id: number): string {
  return Buffer.from(`${CURSOR_PREFIX}${id}`, 'utf8').toString('base64url');
}

export function decodeAuditCursor(cursor: string): number {
  const text = /^[A-Za-z0-9_-]{1,64}$/.test(cursor) ? Buffer.from(cursor, 'base64url').toString('utf8') : '';
  const match = /^audit:([1-9][0-9]{0,15})$/.exec(text);
  if (!match || !Number.isSafeInteger(Number(match[1]))) {
    throw errors.parameterInvalid('starting_after is not a cursor this API returned', 'starting_after');
  }
  return Number(match[1]);
}

export function parseAuditActions(value: string | undefined): AuditAction[] | undefined {
  if (value === undefined || value === '') return undefined;
  const actions = value.split(',').map((a) => a.trim());
  const unknown = actions.filter((a) => !(AUDIT_ACTIONS as readonly string[]).includes(a));
  if (unknown.length > 0) {
    throw errors.parameterInvalid(`unknown action ${unknown.join(', ')}; known: ${AUDIT_ACTIONS.join(', ')}`, 'action');
  }
  return actions as AuditAction[];
}

/** Who did what to which secret or token, newest first. Events are written by the store with each change. */
export class AuditService {
  constructor(private readonly store: Store) {}

  async list(workspace: Workspace, input: AuditListInput): Promise<AuditPage> {
    const limit = input.limit ?? DEFAULT_AUDIT_PAGE;
    if (!Number.isInteger(limit) || limit < 1 || limit > MAX_AUDIT_PAGE) {
      throw errors.parameterInvalid(`limit must be from 1 to ${MAX_AUDIT_PAGE}`, 'limit');
    }
    if (input.since !== undefined && input.until !== undefined && input.since > input.until) {
      throw errors.parameterInvalid('since must not be after until', 'since');
    }
    const actions = parseAuditActions(input.action);
    const beforeId = input.startingAfter === undefined ? undefined : decodeAuditCursor(input.startingAfter);
    // One extra row says whether another page exists without a second query.
    const rows = await this.store.listAudit({
      workspaceId: workspace.id,
      ...(input.since !== undefined ? { since: input.since } : {}),
      ...(input.until !== undefined ? { until: input.until } : {}),
      ...(actions ? { actions } : {}),
      ...(beforeId !== undefined ? { beforeId } : {}),
      limit: limit + 1,
    });
    const events = rows.slice(0, limit);
    const last = events[events.length - 1];
    return { events, next: rows.length > limit && last ? encodeAuditCursor(last.id) : null };
  }
}
