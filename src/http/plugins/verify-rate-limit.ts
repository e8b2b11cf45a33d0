import type { FastifyReply, FastifyRequest, preHandlerHookHandler } from 'fastify';
import type { Clock } from '../../domain/clock.js';
import { RATE_WINDOW_SECONDS, type RateLimiter } from '../../domain/rate-limiter.js';
import { errors } from '../../errors.js';

export interface VerifyRateLimitDeps {
  rateLimiter: RateLimiter;
  clock: Clock;
  /** Requests per app_id per window (SECURE_MODE_VERIFY_RATE_LIMIT). */
  verifyRateLimit: number;
}

/**
 * The public verification API's own limit, keyed by the app_id in the body, apart from the admin API's per-workspace
 * limit: a flood of verifications can neither exhaust an admin's budget nor be hidden inside it. Attached as a
 * preHandler because the app_id is only known once the body is parsed and validated.
 */
export function verifyRateLimit(deps: VerifyRateLimitDeps): preHandlerHookHandler {
  return async function limitByAppId(request: FastifyRequest, reply: FastifyReply) {
    const appId = (request.body as { app_id?: unknown } | undefined)?.app_id;
    if (typeof appId !== 'string') return;
    const limit = await deps.rateLimiter.hit(`verify:${appId}`, deps.verifyRateLimit, deps.clock.nowMs());
    reply.header('x-ratelimit-limit', String(limit.limit));
    reply.header('x-ratelimit-remaining', String(limit.remaining));
    reply.header('x-ratelimit-reset', String(limit.reset));
    if (!limit.allowed) throw errors.rateLimited(limit.limit, RATE_WINDOW_SECONDS);
  };
}
