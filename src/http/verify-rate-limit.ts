import type { Clock } from '../domain/clock.js';
import { RATE_WINDOW_SECONDS, type MemoryRateLimiter, windowStart } from '../domain/rate-limiter.js';
import { errors } from '../domain/errors.js';
import type { ClientAddresses } from './client-address.js';

/**
 * Always this node's own counters, one per client address and one per app_id (two maps rather than prefixed keys: no
 * string is built per request). A shared (Redis) round trip per verification would cost the hot path its speed.
 */
export interface VerifyLimiters {
  clients: MemoryRateLimiter;
  apps: MemoryRateLimiter;
}

export interface VerifyRateLimitDeps {
  verifyLimiter: VerifyLimiters;
  clock: Clock;
  /** Requests per app_id per window (SECURE_MODE_VERIFY_RATE_LIMIT): a high backstop. */
  verifyRateLimit: number;
  /** Requests per client address per window (SECURE_MODE_VERIFY_CLIENT_RATE_LIMIT); a failure counts twice. */
  verifyClientRateLimit: number;
  clientAddresses: ClientAddresses;
}

/** Response headers being gathered for a request, as a plain map: the fast path sends it, Fastify copies it. */
export type HeaderMap = Record<string, string>;

function setHeaders(headers: HeaderMap, limit: number, count: number, reset: number): void {
  headers['x-ratelimit-limit'] = String(limit);
  headers['x-ratelimit-remaining'] = String(Math.max(0, limit - count));
  headers['x-ratelimit-reset'] = String(reset);
}

function refuse(headers: HeaderMap, limit: number, count: number, reset: number, nowMs: number): never {
  setHeaders(headers, limit, count, reset);
  headers['retry-after'] = String(Math.max(1, reset - Math.floor(nowMs / 1000)));
  throw errors.rateLimited(limit, RATE_WINDOW_SECONDS);
}

/**
 * The public verification API's limits, apart from the admin API's per-workspace limit. The app_id is public, so a
 * limit keyed by it alone lets anyone switch verification off for a workspace; the limit that binds is per client
 * address, and the per-app_id one is a backstop far above it. Both run before any HMAC, so a refused request is the
 * cheapest answer there is. Synchronous: a verification never waits on anything. The headers (the client's budget)
 * go into `headers` whatever the answer; over either limit it throws 429 with Retry-After.
 */
export function limitVerification(
  deps: VerifyRateLimitDeps,
  client: string,
  appId: string,
  headers: HeaderMap,
  nowMs = deps.clock.nowMs(),
): void {
  const reset = windowStart(nowMs) + RATE_WINDOW_SECONDS;
  const own = deps.verifyLimiter.clients.countNow(client, nowMs);
  if (own > deps.verifyClientRateLimit) refuse(headers, deps.verifyClientRateLimit, own, reset, nowMs);
  const app = deps.verifyLimiter.apps.countNow(appId, nowMs);
  if (app > deps.verifyRateLimit) refuse(headers, deps.verifyRateLimit, app, reset, nowMs);
  setHeaders(headers, deps.verifyClientRateLimit, own, reset);
}

/** A failed verification costs its client a second request: guessing is twice as expensive as verifying. */
export function chargeFailure(deps: VerifyRateLimitDeps, client: string, headers: HeaderMap, nowMs = deps.clock.nowMs()): void {
  const own = deps.verifyLimiter.clients.countNow(client, nowMs);
  setHeaders(headers, deps.verifyClientRateLimit, own, windowStart(nowMs) + RATE_WINDOW_SECONDS);
}
