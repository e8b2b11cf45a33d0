import type { Clock } from '../../domain/clock.js';
import { RATE_WINDOW_SECONDS, type MemoryRateLimiter } from '../../domain/rate-limiter.js';
import { errors } from '../../domain/errors.js';

export interface VerifyRateLimitDeps {
  /** Always this node's own counters: a shared (Redis) round trip per verification would cost the hot path its speed. */
  verifyLimiter: MemoryRateLimiter;
  clock: Clock;
  /** Requests per app_id per window (SECURE_MODE_VERIFY_RATE_LIMIT). */
  verifyRateLimit: number;
}

/** Response headers being gathered for a request, as a plain map: the fast path sends it, Fastify copies it. */
export type HeaderMap = Record<string, string>;

/**
 * The public verification API's own limit, keyed by the app_id in the body, apart from the admin API's per-workspace
 * limit: a flood of verifications can neither exhaust an admin's budget nor be hidden inside it. It runs once the
 * body is validated, because only then is the app_id known; synchronous, so a verification still never waits on
 * anything. The headers go into `headers` whatever the answer; over the limit it throws 429.
 */
export function limitVerification(deps: VerifyRateLimitDeps, appId: string, headers: HeaderMap): void {
  const limit = deps.verifyLimiter.hitNow(`verify:${appId}`, deps.verifyRateLimit, deps.clock.nowMs());
  headers['x-ratelimit-limit'] = String(limit.limit);
  headers['x-ratelimit-remaining'] = String(limit.remaining);
  headers['x-ratelimit-reset'] = String(limit.reset);
  if (!limit.allowed) throw errors.rateLimited(limit.limit, RATE_WINDOW_SECONDS);
}
