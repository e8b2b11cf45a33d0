import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { WRITE } from '../../../domain/scopes.js';
import { actorOf, guard, workspaceOf } from '../../guard.js';
import { IntercomVersionHeader, errorResponses } from '../../schemas/common.js';
import { CancelRotationQuery, Rotation, RotationIdParams } from '../../schemas/rotations.js';
import type { RouteDeps } from '../deps.js';
import { presentRotation } from './present.js';

export const cancelRotationRoute: FastifyPluginAsyncTypebox<RouteDeps> = async (app, deps) => {
  app.post(
    '/secure_mode_rotations/:id/cancel',
    {
      onRequest: guard(deps, { scope: WRITE, previewOnly: true }),
      schema: {
        operationId: 'cancelIdentityVerificationSecretRotation',
        'x-secure-mode-extension': true,
        summary: 'Extension: cancel a rotation; the old secret stays, the new one is deleted unless it verified (keep_new)',
        tags: ['Rotations'],
        headers: IntercomVersionHeader,
        params: RotationIdParams,
        querystring: CancelRotationQuery,
        response: { 200: Rotation, ...errorResponses({ guarded: true, readsBody: true, validated: true }, 404, 409) },
      },
    },
    async (request) => {
      const keepNew = request.query.keep_new === 'true';
      return presentRotation(await deps.rotations.cancel(workspaceOf(request), request.params.id, actorOf(request), keepNew));
    },
  );
};
