import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { type Verifier, type VerifyOutcome, parseVerificationRequest } from '../../../domain/verifier.js';
import { errors } from '../../../domain/errors.js';
import { type HeaderMap, type VerifyRateLimitDeps, chargeFailure, limitVerification } from '../../verify-rate-limit.js';
import { errorResponses } from '../../schemas/common.js';
import { VerifyRequest, type VerifyRequestBody, VerifyResult, type VerifyResultBody } from '../../schemas/verification.js';

export const VERIFY_PATH = '/identity_verification/verify';

export interface VerifyRouteDeps extends VerifyRateLimitDeps {
  verifier: Verifier;
}

/** Every failure looks the same from outside: which secret, and why, is for the authenticated diagnose route. */
function present(outcome: VerifyOutcome): VerifyResultBody {
  if (!outcome.verified) throw outcome.method === 'jwt' ? errors.jwtInvalid() : errors.hmacMismatch();
  return {
    type: 'identity_verification.result',
    verified: true,
    method: outcome.method,
    user_id: outcome.userId,
    email: outcome.email,
  };
}

/**
 * The verify route's work once the body has passed its schema: the limits, the shape check, verification, and a
 * failure's second charge. The one implementation behind both the Fastify route and the fast path
 * (verify-fast-path.ts). `client` is the requester's address as ClientAddresses resolves it. Throws DomainError;
 * returns a promise only on a cache miss.
 */
export function answerVerification(
  deps: VerifyRouteDeps,
  client: string,
  body: VerifyRequestBody,
  headers: HeaderMap,
): VerifyResultBody | Promise<VerifyResultBody> {
  // One reading of the clock serves the limits, the verdict and the usage count.
  const nowMs = deps.clock.nowMs();
  limitVerification(deps, client, body.app_id, headers, nowMs);
  const outcome = deps.verifier.verify(parseVerificationRequest(body), nowMs);
  if (outcome instanceof Promise) return outcome.then((settled) => settle(deps, client, headers, settled));
  return settle(deps, client, headers, outcome, nowMs);
}

function settle(
  deps: VerifyRouteDeps,
  client: string,
  headers: HeaderMap,
  outcome: VerifyOutcome,
  nowMs?: number,
): VerifyResultBody {
  if (!outcome.verified) chargeFailure(deps, client, headers, nowMs);
  return present(outcome);
}

/**
 * The route as Fastify serves it: requests the fast path declines (chunked or oversized bodies, a query string,
 * a server shutting down) and app.inject() come here, and it documents the operation in /openapi.json.
 */
export const verifyRoute: FastifyPluginAsyncTypebox<VerifyRouteDeps> = async (app, deps) => {
  app.post(
    VERIFY_PATH,
    {
      schema: {
        operationId: 'verifyIdentity',
        'x-secure-mode-extension': true,
        summary:
          'Extension: verify a user_hash or an HS256 user JWT against the live secrets of a workspace (public, keyed by app_id)',
        tags: ['Identity Verification'],
        security: [],
        body: VerifyRequest,
        response: { 200: VerifyResult, ...errorResponses({ guarded: false, readsBody: true, validated: true }, 401, 429) },
      },
    },
    // Deliberately not async: on a cache hit the answer is computed and returned in this call, without a microtask hop.
    (request, reply) => {
      const headers: HeaderMap = {};
      try {
        const client = deps.clientAddresses.of(request.socket.remoteAddress, request.headers['x-forwarded-for']);
        return answerVerification(deps, client, request.body, headers);
      } finally {
        // The rate-limit headers, on the answer and on any error it throws alike.
        reply.headers(headers);
      }
    },
  );
};
