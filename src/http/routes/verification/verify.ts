import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { type Verifier, type VerifyOutcome, parseVerificationRequest } from '../../../domain/verifier.js';
import { errors } from '../../../errors.js';
import { type VerifyRateLimitDeps, verifyRateLimit } from '../../plugins/verify-rate-limit.js';
import { errorResponses } from '../../schemas/common.js';
import { VerifyRequest, VerifyResult } from '../../schemas/verification.js';

export interface VerifyRouteDeps extends VerifyRateLimitDeps {
  verifier: Verifier;
}

/** Every failure looks the same from outside: which secret, and why, is for the authenticated diagnose route. */
function present(outcome: VerifyOutcome) {
  if (!outcome.verified) throw outcome.method === 'jwt' ? errors.jwtInvalid() : errors.hmacMismatch();
  return {
    type: 'identity_verification.result' as const,
    verified: true as const,
    method: outcome.method,
    user_id: outcome.userId,
    email: outcome.email,
  };
}

export const verifyRoute: FastifyPluginAsyncTypebox<VerifyRouteDeps> = async (app, deps) => {
  app.post(
    '/identity_verification/verify',
    {
      preHandler: verifyRateLimit(deps),
      schema: {
        operationId: 'verifyIdentity',
        'x-secure-mode-extension': true,
        summary: 'Extension: verify a user_hash or an HS256 user JWT against the live secrets of a workspace (public, keyed by app_id)',
        tags: ['Identity Verification'],
        security: [],
        body: VerifyRequest,
        response: { 200: VerifyResult, ...errorResponses(400, 401, 413, 422, 429, 503) },
      },
    },
    // Deliberately not async: on a cache hit the answer is computed and returned in this call, without a microtask hop.
    (request) => {
      const outcome = deps.verifier.verify(parseVerificationRequest(request.body));
      return outcome instanceof Promise ? outcome.then(present) : present(outcome);
    },
  );
};
