import type { Clock } from '../domain/clock.js';
import { RATE_WINDOW_SECONDS, type MemoryRateLimiter, type RateLimitResult } from '../domain/rate-limiter.js';
import { errors } from '../domain/errors.js';
import type { ClientAddresses } from './client-address.js';

export interface VerifyRateLimitDeps {
  /** Always this node's own counters: a shared (Redis) round trip per verification would cost the hot path its speed. */
  verifyLimiter: MemoryRateLimiter;
  clock: Clock;
  /** Requests per app_id per window (SECURE_MODE_VERIFY_RATE_LIMIT): a high backstop. */
  verifyRateLimit: number;
  /** Requests per client address per window (SECURE_MODE_VERIFY_CLIENT_RATE_LIMIT); a failure counts twice. */
  verifyClientRateLimit: number;
  clientAddresses: ClientAddresses;
}

/** Response headers being gathered for a request, as a plain map: the fast path sends it, Fastify copies it. */
export type HeaderMap = Record<string, string>;

function setHeaders(headers: HeaderMap, limit: RateLimitResult): void {
  headers['x-ratelimit-limit'] = String(limit.limit);
  headers['x-ratelimit-remaining'] = String(limit.remaining);
  headers['x-ratelimit-reset'] = String(limit.reset);
}

function refuse(headers: HeaderMap, limit: RateLimitResult, nowMs: number): never {
  setHeaders(headers, limit);
  headers['retry-after'] = String(Math.max(1, limit.reset - Math.floor(nowMs / 1000)));
  throw errors.rateLimited(limit.limit, RATE_WINDOW_SECONDS);
}

const clientKey = (client: string): string => `verify-client:${client}`;

/**
 * The public verification API's limits, apart from the admin API's per-workspace limit. The app_id is public, so a
 * limit keyed by it alone lets anyone switch verification off for a workspace; the limit that binds is per client
 * address, and the per-app_id one is a backstop far above it. Both run before any HMAC, so a refused request is the
 * cheapest answer there is. Synchronous: a verification never waits on anything. The headers (the client's budget)
 * go into `headers` whatever the answer; over either limit it throws 429 with Retry-After.
 */
export function limitVerification(deps: VerifyRateLimitDeps, client: string, appId: string, headers: HeaderMap): void {
  const nowMs = deps.clock.nowMs();
  const own = deps.verifyLimiter.hitNow(clientKey(client), deps.verifyClientRateLimit, nowMs);
  if (!own.allowed) refuse(headers, own, nowMs);
  const app = deps.verifyLimiter.hitNow(`verify:${appId}`, deps.verifyRateLimit, nowMs);
  if (!app.allowed) refuse(headers, app, nowMs);
  setHeaders(headers, own);
}

/** A failed verification costs its client a second request: guessing is twice as expensive as verifying. */
export function chargeFailure(deps: VerifyRateLimitDeps, client: string, headers: HeaderMap): void {
  setHeaders(headers, deps.verifyLimiter.hitNow(clientKey(client), deps.verifyClientRateLimit, deps.clock.nowMs()));
}
