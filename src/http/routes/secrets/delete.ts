import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { WRITE } from '../../../domain/scopes.js';
import { actorOf, guard, workspaceOf } from '../../guard.js';
import { IntercomVersionHeader, errorResponses } from '../../schemas/common.js';
import { DeleteSecretQuery, SecretIdParams } from '../../schemas/secrets.js';
import type { RouteDeps } from '../deps.js';

export const deleteSecretRoute: FastifyPluginAsyncTypebox<RouteDeps> = async (app, deps) => {
  app.delete(
    '/secure_mode_secrets/:id',
    {
      onRequest: guard(deps, { scope: WRITE, previewOnly: true }),
      schema: {
        operationId: 'deleteIdentityVerificationSecret',
        summary: 'Delete an identity verification secret',
        tags: ['Identity Verification Secrets'],
        headers: IntercomVersionHeader,
        params: SecretIdParams,
        querystring: DeleteSecretQuery,
        response: { 204: { type: 'null', description: 'Secret deleted' }, ...errorResponses(400, 401, 403, 404, 409, 429, 503) },
      },
    },
    async (request, reply) => {
      const idle = request.query.if_idle_for;
      await deps.secrets.delete(
        workspaceOf(request),
        request.params.id,
        actorOf(request),
        idle === undefined ? undefined : Number(idle),
      );
      return reply.code(204).send(null);
    },
  );
};
