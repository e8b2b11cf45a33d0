import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { WRITE } from '../../../domain/scopes.js';
import { actorOf, guard, workspaceOf } from '../../guard.js';
import { IntercomVersionHeader, errorResponses } from '../../schemas/common.js';
import { RotationPolicy, UpdateRotationPolicyRequest } from '../../schemas/rotations.js';
import type { RouteDeps } from '../deps.js';
import { presentRotationPolicy } from './present.js';

export const updateRotationPolicyRoute: FastifyPluginAsyncTypebox<RouteDeps> = async (app, deps) => {
  app.put(
    '/secure_mode_rotation_policy',
    {
      onRequest: guard(deps, { scope: WRITE, previewOnly: true }),
      schema: {
        operationId: 'updateSecureModeRotationPolicy',
        'x-secure-mode-extension': true,
        summary: "Extension: set the workspace's rotation policy; fields left out keep their value",
        tags: ['Rotations'],
        headers: IntercomVersionHeader,
        body: UpdateRotationPolicyRequest,
        response: { 200: RotationPolicy, ...errorResponses({ guarded: true, readsBody: true, validated: true }) },
      },
    },
    async (request) =>
      presentRotationPolicy(await deps.rotationPolicy.put(workspaceOf(request), request.body ?? {}, actorOf(request))),
  );
};
