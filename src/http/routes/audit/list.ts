import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { READ } from '../../../domain/scopes.js';
import type { AuditEvent } from '../../../domain/model.js';
import { guard, workspaceOf } from '../../guard.js';
import { AuditEventList, AuditListQuery } from '../../schemas/audit.js';
import { errorResponses } from '../../schemas/common.js';
import type { RouteDeps } from '../deps.js';

function presentEvent(e: AuditEvent) {
  return {
    type: 'audit_event' as const,
    id: String(e.id),
    action: e.action,
    created_at: e.at,
    actor: { token_id: e.actorTokenId === null ? null : String(e.actorTokenId), ip: e.ip },
    request_id: e.requestId,
    target: { type: e.targetType, id: e.targetId },
    details: e.details ?? {},
  };
}

const optionalNumber = (v: string | undefined) => (v === undefined ? undefined : Number(v));

export const listAuditEventsRoute: FastifyPluginAsyncTypebox<RouteDeps> = async (app, deps) => {
  app.get(
    '/audit_events',
    {
      // Not an Intercom path: no Intercom-Version check.
      onRequest: guard(deps, { scope: READ, previewOnly: false }),
      schema: {
        operationId: 'listAuditEvents',
        'x-secure-mode-extension': true,
        summary: 'Extension: who created, changed, deleted or expired secrets and tokens, newest first',
        tags: ['Audit'],
        querystring: AuditListQuery,
        response: { 200: AuditEventList, ...errorResponses({ guarded: true, readsBody: false, validated: true }) },
      },
    },
    async (request) => {
      const q = request.query;
      const page = await deps.audit.list(workspaceOf(request), {
        since: optionalNumber(q.since),
        until: optionalNumber(q.until),
        action: q.action,
        limit: optionalNumber(q.limit),
        startingAfter: q.starting_after,
      });
      return {
        type: 'list' as const,
        data: page.events.map(presentEvent),
        pages: { type: 'pages' as const, next: page.next === null ? null : { starting_after: page.next } },
      };
    },
  );
};
