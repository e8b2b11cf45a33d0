/**
 * The one retry schedule of what the server sends out and must not lose (webhook deliveries, rollout runs): after
 * the n-th failure the next try waits base · 2^(n−1) (SECURE_MODE_WEBHOOK_RETRY_BASE_MS), at most an hour, and
 * retries stop once a day has passed.
 */
export const RETRY_WINDOW_MS = 24 * 60 * 60 * 1000;
export const MAX_BACKOFF_MS = 60 * 60 * 1000;
export const DEFAULT_RETRY_BASE_MS = 5000;

/** The wait before the next try after `failedAttempts` failures. */
export function backoffMs(retryBaseMs: number, failedAttempts: number): number {
  return Math.min(retryBaseMs * 2 ** Math.min(failedAttempts - 1, 30), MAX_BACKOFF_MS);
}
