import assert from 'node:assert/strict';
import type { ApiResponse } from './app.js';

export const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
export const RATE_LIMIT_HEADERS = ['x-ratelimit-limit', 'x-ratelimit-remaining', 'x-ratelimit-reset'];

export interface ExpectedError {
  message?: string | RegExp;
  /** The `field` the error must name; null: the error must have no `field`. */
  field?: string | null;
}

/**
 * The one error shape: `{type:"error.list", request_id: UUID, errors:[{code, message, field?}]}`, JSON, with
 * request_id equal to the X-Request-Id header, and nothing else in the body.
 */
export function assertErrorList(res: ApiResponse, status: number, code: string, expected: ExpectedError = {}): void {
  assert.equal(res.status, status, `expected ${status} ${code}, got ${res.status}: ${res.text}`);
  assert.match(res.headers.get('content-type') ?? '', /^application\/json/);
  const body = res.body as Record<string, unknown>;
  assert.ok(body && typeof body === 'object', `not a JSON object: ${res.text}`);
  assert.deepEqual(Object.keys(body).sort(), ['errors', 'request_id', 'type']);
  assert.equal(body.type, 'error.list');
  assert.match(String(body.request_id), UUID);
  assert.equal(res.headers.get('x-request-id'), body.request_id);
  const errors = body.errors as Record<string, unknown>[];
  assert.ok(Array.isArray(errors) && errors.length >= 1, 'errors must hold at least one error');
  for (const e of errors) {
    for (const key of Object.keys(e))
      assert.ok(['code', 'message', 'field'].includes(key), `unexpected key ${key} in ${res.text}`);
    assert.equal(typeof e.code, 'string');
    assert.equal(typeof e.message, 'string');
    if ('field' in e) assert.equal(typeof e.field, 'string');
  }
  const first = errors[0]!;
  assert.equal(first.code, code, res.text);
  if (typeof expected.message === 'string') assert.equal(first.message, expected.message);
  else if (expected.message) assert.match(String(first.message), expected.message);
  if (expected.field === null) assert.equal(first.field, undefined, `no field expected: ${res.text}`);
  else if (expected.field !== undefined) assert.equal(first.field, expected.field, res.text);
}

export function assertNoRateLimitHeaders(res: ApiResponse): void {
  for (const h of RATE_LIMIT_HEADERS) assert.equal(res.headers.get(h), null, `${h} must not be sent on ${res.status}`);
}

export function assertRateLimitHeaders(res: ApiResponse): { limit: number; remaining: number; reset: number } {
  const [limit, remaining, reset] = RATE_LIMIT_HEADERS.map((h) => {
    const v = res.headers.get(h);
    assert.match(v ?? '', /^[0-9]+$/, `${h} on ${res.status}`);
    return Number(v);
  }) as [number, number, number];
  assert.ok(remaining <= limit);
  assert.equal(reset % 10, 0, 'X-RateLimit-Reset is the end of a 10-second window, in Unix seconds');
  return { limit, remaining, reset };
}
