import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { READ } from '../../../domain/scopes.js';
import { guard, workspaceOf } from '../../guard.js';
import { IntercomVersionHeader, errorResponses } from '../../schemas/common.js';
import { Rotation, RotationIdParams } from '../../schemas/rotations.js';
import type { RouteDeps } from '../deps.js';
import { presentRotation } from './present.js';

export const getRotationRoute: FastifyPluginAsyncTypebox<RouteDeps> = async (app, deps) => {
  app.get(
    '/secure_mode_rotations/:id',
    {
      onRequest: guard(deps, { scope: READ, previewOnly: true }),
      schema: {
        operationId: 'getIdentityVerificationSecretRotation',
        'x-secure-mode-extension': true,
        summary: 'Extension: one rotation with its per-platform progress',
        tags: ['Rotations'],
        headers: IntercomVersionHeader,
        params: RotationIdParams,
        response: { 200: Rotation, ...errorResponses({ guarded: true, readsBody: false, validated: false }, 404) },
      },
    },
    async (request) => presentRotation(await deps.rotations.get(workspaceOf(request), request.params.id)),
  );
};
