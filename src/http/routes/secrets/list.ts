import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { READ } from '../../../domain/scopes.js';
import { guard, workspaceOf } from '../../guard.js';
import { IntercomVersionHeader, errorResponses } from '../../schemas/common.js';
import { IdentityVerificationSecretList } from '../../schemas/secrets.js';
import type { RouteDeps } from '../deps.js';
import { presentSecret } from './present.js';

export const listSecretsRoute: FastifyPluginAsyncTypebox<RouteDeps> = async (app, deps) => {
  app.get(
    '/secure_mode_secrets',
    {
      onRequest: guard(deps, { scope: READ, previewOnly: true }),
      schema: {
        operationId: 'listIdentityVerificationSecrets',
        summary: 'List all identity verification secrets',
        tags: ['Identity Verification Secrets'],
        headers: IntercomVersionHeader,
        response: {
          200: IdentityVerificationSecretList,
          ...errorResponses({ guarded: true, readsBody: false, validated: false }),
        },
      },
    },
    async (request) => {
      const views = await deps.secrets.list(workspaceOf(request));
      return { type: 'list' as const, data: views.map(presentSecret) };
    },
  );
};
