import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { WRITE } from '../../../domain/scopes.js';
import { actorOf, guard, workspaceOf } from '../../guard.js';
import { IntercomVersionHeader, errorResponses } from '../../schemas/common.js';
import { IdentityVerificationSecret, SecretIdParams, UpdateSecretRequest } from '../../schemas/secrets.js';
import type { RouteDeps } from '../deps.js';
import { presentSecret } from './present.js';

export const updateSecretRoute: FastifyPluginAsyncTypebox<RouteDeps> = async (app, deps) => {
  app.put(
    '/secure_mode_secrets/:id',
    {
      onRequest: guard(deps, { scope: WRITE, previewOnly: true }),
      schema: {
        operationId: 'updateIdentityVerificationSecret',
        'x-secure-mode-extension': true,
        summary: 'Extension: rename, change platforms, or schedule (expires_at) or cancel (null) retirement',
        tags: ['Identity Verification Secrets'],
        headers: IntercomVersionHeader,
        params: SecretIdParams,
        body: UpdateSecretRequest,
        response: {
          200: IdentityVerificationSecret,
          ...errorResponses({ guarded: true, readsBody: true, validated: true }, 404),
        },
      },
    },
    async (request) => {
      const view = await deps.secrets.update(workspaceOf(request), request.params.id, request.body, actorOf(request));
      return presentSecret(view);
    },
  );
};
