import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { WRITE } from '../../../domain/scopes.js';
import { actorOf, guard, workspaceOf } from '../../guard.js';
import { IntercomVersionHeader, errorResponses } from '../../schemas/common.js';
import { CompleteRotationQuery, Rotation, RotationIdParams } from '../../schemas/rotations.js';
import type { RouteDeps } from '../deps.js';
import { presentRotation } from './present.js';

export const completeRotationRoute: FastifyPluginAsyncTypebox<RouteDeps> = async (app, deps) => {
  app.post(
    '/secure_mode_rotations/:id/complete',
    {
      onRequest: guard(deps, { scope: WRITE, previewOnly: true }),
      schema: {
        operationId: 'completeIdentityVerificationSecretRotation',
        'x-secure-mode-extension': true,
        summary: 'Extension: delete the old secret now, if the new one verified everywhere and the old is idle (or force)',
        tags: ['Rotations'],
        headers: IntercomVersionHeader,
        params: RotationIdParams,
        querystring: CompleteRotationQuery,
        response: { 200: Rotation, ...errorResponses({ guarded: true, readsBody: true, validated: true }, 404, 409) },
      },
    },
    async (request) => {
      const force = request.query.force === 'true';
      return presentRotation(await deps.rotations.complete(workspaceOf(request), request.params.id, actorOf(request), force));
    },
  );
};
