import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MAX_BACKOFF_MS, backoffMs } from '../../src/domain/retry.js';

describe('the retry schedule of webhook deliveries and rollout runs', () => {
  it('waits base · 2^(n−1) after the n-th failure, at most an hour', () => {
    assert.deepEqual(
      [1, 2, 3, 4].map((n) => backoffMs(5000, n)),
      [5000, 10_000, 20_000, 40_000],
    );
    assert.equal(MAX_BACKOFF_MS, 3_600_000);
    assert.equal(backoffMs(5000, 20), MAX_BACKOFF_MS);
    assert.equal(backoffMs(5000, 10_000), MAX_BACKOFF_MS);
  });
});
