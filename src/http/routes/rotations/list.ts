import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { READ } from '../../../domain/scopes.js';
import { guard, workspaceOf } from '../../guard.js';
import { IntercomVersionHeader, errorResponses } from '../../schemas/common.js';
import { RotationList } from '../../schemas/rotations.js';
import type { RouteDeps } from '../deps.js';
import { presentRotation } from './present.js';

export const listRotationsRoute: FastifyPluginAsyncTypebox<RouteDeps> = async (app, deps) => {
  app.get(
    '/secure_mode_rotations',
    {
      onRequest: guard(deps, { scope: READ, previewOnly: true }),
      schema: {
        operationId: 'listIdentityVerificationSecretRotations',
        'x-secure-mode-extension': true,
        summary: 'Extension: list rotations, newest first',
        tags: ['Rotations'],
        headers: IntercomVersionHeader,
        response: { 200: RotationList, ...errorResponses({ guarded: true, readsBody: false, validated: false }) },
      },
    },
    async (request) => {
      const views = await deps.rotations.list(workspaceOf(request));
      return { type: 'list' as const, data: views.map(presentRotation) };
    },
  );
};
