import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { READ } from '../../../domain/scopes.js';
import { guard, workspaceOf } from '../../guard.js';
import { IntercomVersionHeader, errorResponses } from '../../schemas/common.js';
import { RotationPolicy } from '../../schemas/rotations.js';
import type { RouteDeps } from '../deps.js';
import { presentRotationPolicy } from './present.js';

export const getRotationPolicyRoute: FastifyPluginAsyncTypebox<RouteDeps> = async (app, deps) => {
  app.get(
    '/secure_mode_rotation_policy',
    {
      onRequest: guard(deps, { scope: READ, previewOnly: true }),
      schema: {
        operationId: 'getSecureModeRotationPolicy',
        'x-secure-mode-extension': true,
        summary: "Extension: the workspace's rotation policy (max age, idle_for of server-started rotations, auto_rotate)",
        tags: ['Rotations'],
        headers: IntercomVersionHeader,
        response: { 200: RotationPolicy, ...errorResponses({ guarded: true, readsBody: false, validated: false }) },
      },
    },
    async (request) => presentRotationPolicy(await deps.rotationPolicy.get(workspaceOf(request))),
  );
};
