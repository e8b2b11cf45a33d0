import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { READ } from '../../../domain/scopes.js';
import { guard, workspaceOf } from '../../guard.js';
import { IntercomVersionHeader, errorResponses } from '../../schemas/common.js';
import { WebhookEndpointList } from '../../schemas/webhooks.js';
import type { RouteDeps } from '../deps.js';
import { presentWebhookEndpoint } from './present.js';

export const listWebhookEndpointsRoute: FastifyPluginAsyncTypebox<RouteDeps> = async (app, deps) => {
  app.get(
    '/webhook_endpoints',
    {
      onRequest: guard(deps, { scope: READ, previewOnly: true }),
      schema: {
        operationId: 'listWebhookEndpoints',
        'x-secure-mode-extension': true,
        summary: 'Extension: list webhook endpoints (never their secrets)',
        tags: ['Webhooks'],
        headers: IntercomVersionHeader,
        response: { 200: WebhookEndpointList, ...errorResponses({ guarded: true, readsBody: false, validated: false }) },
      },
    },
    async (request) => {
      const endpoints = await deps.webhooks.list(workspaceOf(request));
      return { type: 'list' as const, data: endpoints.map(presentWebhookEndpoint) };
    },
  );
};
