import { Type, type Static } from 'typebox';
import { AUDIT_ACTIONS } from '../../domain/audit-actions.js';

export type { AuditAction } from '../../domain/audit-actions.js';
import { Nullable } from './common.js';

const UNIX = '^[0-9]{1,12}$';

export const AuditListQuery = Type.Object({
  since: Type.Optional(Type.String({ pattern: UNIX, description: 'Only events at or after this Unix time' })),
  until: Type.Optional(Type.String({ pattern: UNIX, description: 'Only events at or before this Unix time' })),
  action: Type.Optional(Type.String({ description: `Comma-separated actions: ${AUDIT_ACTIONS.join(', ')}` })),
  limit: Type.Optional(Type.String({ pattern: '^[0-9]{1,4}$', description: 'Page size, 1 to 200, default 50' })),
  starting_after: Type.Optional(Type.String({ description: 'Cursor from pages.next of the previous page' })),
});

const DetailValue = Type.Union([Type.String(), Type.Number(), Type.Boolean(), Type.Null()]);

export const AuditEvent = Type.Object({
  type: Type.Literal('audit_event'),
  id: Type.String(),
  action: Type.String({ enum: [...AUDIT_ACTIONS] }),
  created_at: Type.Integer(),
  actor: Type.Object({
    token_id: Nullable('string', { description: 'Access token that made the change; null for the system (expiry, CLI)' }),
    ip: Nullable('string'),
  }),
  request_id: Nullable('string'),
  target: Type.Object({ type: Type.String({ enum: ['secret', 'token', 'workspace', 'rotation'] }), id: Type.String() }),
  details: Type.Record(Type.String(), DetailValue, { description: 'What changed; never secret material, tokens or hashes' }),
});

export const AuditEventList = Type.Object(
  {
    type: Type.Literal('list'),
    data: Type.Array(AuditEvent),
    pages: Type.Object({
      type: Type.Literal('pages'),
      next: Type.Union([Type.Object({ starting_after: Type.String() }), Type.Null()]),
    }),
  },
  { 'x-secure-mode-extension': true, description: 'Audit events, newest first' },
);

export type AuditEventBody = Static<typeof AuditEvent>;
export type AuditEventListBody = Static<typeof AuditEventList>;
