import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { WRITE } from '../../../domain/scopes.js';
import { actorOf, guard, workspaceOf } from '../../guard.js';
import { parseIdempotencyKey } from '../../idempotency-key.js';
import { errorResponses } from '../../schemas/common.js';
import { RotationWithMaterial, StartRotationHeaders, StartRotationRequest } from '../../schemas/rotations.js';
import type { RouteDeps } from '../deps.js';
import { presentRotation } from './present.js';

export const startRotationRoute: FastifyPluginAsyncTypebox<RouteDeps> = async (app, deps) => {
  app.post(
    '/secure_mode_rotations',
    {
      onRequest: guard(deps, { scope: WRITE, previewOnly: true }),
      schema: {
        operationId: 'startIdentityVerificationSecretRotation',
        'x-secure-mode-extension': true,
        summary: "Extension: rotate a secret: creates its successor with the old one's platforms, shown once",
        tags: ['Rotations'],
        headers: StartRotationHeaders,
        body: StartRotationRequest,
        response: { 201: RotationWithMaterial, ...errorResponses({ guarded: true, readsBody: true, validated: true }, 404, 409) },
      },
    },
    async (request, reply) => {
      const key = parseIdempotencyKey(request.headers['idempotency-key']);
      const { view, secret, replayed } = await deps.rotations.start(workspaceOf(request), request.body, actorOf(request), key);
      if (replayed) reply.header('idempotent-replayed', 'true');
      return reply.code(201).send({ ...presentRotation(view), ...(secret === undefined ? {} : { secret }) });
    },
  );
};
