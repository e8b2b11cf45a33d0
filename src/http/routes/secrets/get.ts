import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { READ } from '../../../domain/scopes.js';
import { guard, workspaceOf } from '../../guard.js';
import { IntercomVersionHeader, errorResponses } from '../../schemas/common.js';
import { IdentityVerificationSecretDetail, SecretIdParams } from '../../schemas/secrets.js';
import type { RouteDeps } from '../deps.js';
import { presentSecret } from './present.js';

export const getSecretRoute: FastifyPluginAsyncTypebox<RouteDeps> = async (app, deps) => {
  app.get(
    '/secure_mode_secrets/:id',
    {
      onRequest: guard(deps, { scope: READ, previewOnly: true }),
      schema: {
        operationId: 'getIdentityVerificationSecret',
        'x-secure-mode-extension': true,
        summary: 'Extension: retrieve one identity verification secret (metadata and usage, never the secret)',
        tags: ['Identity Verification Secrets'],
        headers: IntercomVersionHeader,
        params: SecretIdParams,
        response: { 200: IdentityVerificationSecretDetail, ...errorResponses(400, 401, 403, 404, 429, 503) },
      },
    },
    async (request) => {
      const workspace = workspaceOf(request);
      const view = await deps.secrets.get(workspace, request.params.id);
      const usage = await deps.secrets.usageOf(workspace, request.params.id);
      const readable = await deps.secrets.readable(workspace, request.params.id);
      return { ...presentSecret(view), usage, readable };
    },
  );
};
