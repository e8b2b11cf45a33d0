import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { WRITE } from '../../../domain/scopes.js';
import { guard, workspaceOf } from '../../guard.js';
import { IntercomVersionHeader, errorResponses } from '../../schemas/common.js';
import { CreateWebhookEndpointRequest, WebhookEndpointWithSecret } from '../../schemas/webhooks.js';
import type { RouteDeps } from '../deps.js';
import { presentWebhookEndpoint } from './present.js';

export const createWebhookEndpointRoute: FastifyPluginAsyncTypebox<RouteDeps> = async (app, deps) => {
  app.post(
    '/webhook_endpoints',
    {
      onRequest: guard(deps, { scope: WRITE, previewOnly: true }),
      schema: {
        operationId: 'createWebhookEndpoint',
        'x-secure-mode-extension': true,
        summary: 'Extension: subscribe an https endpoint to events; its signing secret is shown only in this answer',
        tags: ['Webhooks'],
        headers: IntercomVersionHeader,
        body: CreateWebhookEndpointRequest,
        response: {
          201: WebhookEndpointWithSecret,
          ...errorResponses({ guarded: true, readsBody: true, validated: true }),
        },
      },
    },
    async (request, reply) => {
      const { endpoint, secret } = await deps.webhooks.create(workspaceOf(request), request.body);
      return reply.code(201).send({ ...presentWebhookEndpoint(endpoint), secret });
    },
  );
};
