import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { WRITE } from '../../../domain/scopes.js';
import { guard, workspaceOf } from '../../guard.js';
import { IntercomVersionHeader, errorResponses } from '../../schemas/common.js';
import { WebhookEndpointIdParams } from '../../schemas/webhooks.js';
import type { RouteDeps } from '../deps.js';

export const deleteWebhookEndpointRoute: FastifyPluginAsyncTypebox<RouteDeps> = async (app, deps) => {
  app.delete(
    '/webhook_endpoints/:id',
    {
      onRequest: guard(deps, { scope: WRITE, previewOnly: true }),
      schema: {
        operationId: 'deleteWebhookEndpoint',
        'x-secure-mode-extension': true,
        summary: 'Extension: delete a webhook endpoint; its pending deliveries are dropped',
        tags: ['Webhooks'],
        headers: IntercomVersionHeader,
        params: WebhookEndpointIdParams,
        response: {
          204: { type: 'null', description: 'Endpoint deleted' },
          ...errorResponses({ guarded: true, readsBody: true, validated: false }, 404),
        },
      },
    },
    async (request, reply) => {
      await deps.webhooks.delete(workspaceOf(request), request.params.id);
      return reply.code(204).send(null);
    },
  );
};
