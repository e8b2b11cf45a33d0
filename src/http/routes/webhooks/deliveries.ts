import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { READ } from '../../../domain/scopes.js';
import { guard, workspaceOf } from '../../guard.js';
import { IntercomVersionHeader, errorResponses } from '../../schemas/common.js';
import { WebhookDeliveryList, WebhookEndpointIdParams } from '../../schemas/webhooks.js';
import type { RouteDeps } from '../deps.js';
import { presentDeliveryAttempt } from './present.js';

export const listWebhookDeliveriesRoute: FastifyPluginAsyncTypebox<RouteDeps> = async (app, deps) => {
  app.get(
    '/webhook_endpoints/:id/deliveries',
    {
      onRequest: guard(deps, { scope: READ, previewOnly: true }),
      schema: {
        operationId: 'listWebhookDeliveries',
        'x-secure-mode-extension': true,
        summary: "Extension: an endpoint's delivery attempts, newest first (event id and type, status or error, duration)",
        tags: ['Webhooks'],
        headers: IntercomVersionHeader,
        params: WebhookEndpointIdParams,
        response: { 200: WebhookDeliveryList, ...errorResponses({ guarded: true, readsBody: false, validated: false }, 404) },
      },
    },
    async (request) => {
      const attempts = await deps.webhooks.deliveries(workspaceOf(request), request.params.id);
      return { type: 'list' as const, data: attempts.map(presentDeliveryAttempt) };
    },
  );
};
