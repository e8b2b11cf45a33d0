import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { READ } from '../../../domain/scopes.js';
import { guard, workspaceOf } from '../../guard.js';
import { IntercomVersionHeader, errorResponses } from '../../schemas/common.js';
import { WebhookEndpoint, WebhookEndpointIdParams } from '../../schemas/webhooks.js';
import type { RouteDeps } from '../deps.js';
import { presentWebhookEndpoint } from './present.js';

export const getWebhookEndpointRoute: FastifyPluginAsyncTypebox<RouteDeps> = async (app, deps) => {
  app.get(
    '/webhook_endpoints/:id',
    {
      onRequest: guard(deps, { scope: READ, previewOnly: true }),
      schema: {
        operationId: 'getWebhookEndpoint',
        'x-secure-mode-extension': true,
        summary: 'Extension: one webhook endpoint (never its secret)',
        tags: ['Webhooks'],
        headers: IntercomVersionHeader,
        params: WebhookEndpointIdParams,
        response: { 200: WebhookEndpoint, ...errorResponses({ guarded: true, readsBody: false, validated: false }, 404) },
      },
    },
    async (request) => presentWebhookEndpoint(await deps.webhooks.get(workspaceOf(request), request.params.id)),
  );
};
