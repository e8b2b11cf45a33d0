import type { FastifyReply, FastifyRequest, HookHandlerDoneFunction, preHandlerHookHandler } from 'fastify';
import type { Clock } from '../../domain/clock.js';
import { RATE_WINDOW_SECONDS, type MemoryRateLimiter } from '../../domain/rate-limiter.js';
import { errors } from '../../errors.js';

export interface VerifyRateLimitDeps {
  /** Always this node's own counters: a shared (Redis) round trip per verification would cost the hot path its speed. */
  verifyLimiter: MemoryRateLimiter;
  clock: Clock;
  /** Requests per app_id per window (SECURE_MODE_VERIFY_RATE_LIMIT). */
  verifyRateLimit: number;
}

/**
 * The public verification API's own limit, keyed by the app_id in the body, apart from the admin API's per-workspace
 * limit: a flood of verifications can neither exhaust an admin's budget nor be hidden inside it. Attached as a
 * preHandler because the app_id is only known once the body is parsed and validated; synchronous, so a verification
 * still never waits on anything.
 */
export function verifyRateLimit(deps: VerifyRateLimitDeps): preHandlerHookHandler {
  return function limitByAppId(request: FastifyRequest, reply: FastifyReply, done: HookHandlerDoneFunction) {
    const appId = (request.body as { app_id?: unknown } | undefined)?.app_id;
    if (typeof appId !== 'string') return done();
    const limit = deps.verifyLimiter.hitNow(`verify:${appId}`, deps.verifyRateLimit, deps.clock.nowMs());
    reply.header('x-ratelimit-limit', String(limit.limit));
    reply.header('x-ratelimit-remaining', String(limit.remaining));
    reply.header('x-ratelimit-reset', String(limit.reset));
    done(limit.allowed ? undefined : errors.rateLimited(limit.limit, RATE_WINDOW_SECONDS));
  };
}
