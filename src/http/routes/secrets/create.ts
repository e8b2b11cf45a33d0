import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { WRITE } from '../../../domain/scopes.js';
import { actorOf, guard, workspaceOf } from '../../guard.js';
import { errorResponses } from '../../schemas/common.js';
import { parseIdempotencyKey } from '../../idempotency-key.js';
import { CreateSecretHeaders, CreateSecretRequest, IdentityVerificationSecretWithMaterial } from '../../schemas/secrets.js';
import type { RouteDeps } from '../deps.js';
import { presentSecret } from './present.js';

export const createSecretRoute: FastifyPluginAsyncTypebox<RouteDeps> = async (app, deps) => {
  app.post(
    '/secure_mode_secrets',
    {
      onRequest: guard(deps, { scope: WRITE, previewOnly: true }),
      schema: {
        operationId: 'createIdentityVerificationSecret',
        summary: 'Create an identity verification secret',
        tags: ['Identity Verification Secrets'],
        headers: CreateSecretHeaders,
        body: CreateSecretRequest,
        response: {
          201: IdentityVerificationSecretWithMaterial,
          ...errorResponses({ guarded: true, readsBody: true, validated: true }, 404, 409),
        },
      },
    },
    async (request, reply) => {
      const key = parseIdempotencyKey(request.headers['idempotency-key']);
      const { view, secret, replayed } = await deps.secrets.create(workspaceOf(request), request.body, actorOf(request), key);
      if (replayed) reply.header('idempotent-replayed', 'true');
      return reply.code(201).send({ ...presentSecret(view), secret });
    },
  );
};
