import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { AnswerRound } from '../../src/domain/change-feed.js';

describe('an ask round', () => {
  it('ends as soon as every expected node has answered, with the latest time', async () => {
    const round = new AnswerRound();
    round.answer('a', 100);
    const waiting = round.wait(new Set(['a', 'b', 'c']), 60_000);
    round.answer('b', undefined);
    round.answer('c', 300);
    const startedAt = Date.now();
    assert.deepEqual(await waiting, { lastVerifiedAt: 300, complete: true, detail: '3 of 3 other nodes answered in time' });
    assert.ok(Date.now() - startedAt < 1000);
  });

  it('is incomplete at its timeout when a node is silent, and counts an unexpected answer toward the latest time', async () => {
    const round = new AnswerRound();
    const waiting = round.wait(new Set(['a', 'silent']), 50);
    round.answer('a', 100);
    round.answer('joined-meanwhile', 200);
    assert.deepEqual(await waiting, { lastVerifiedAt: 200, complete: false, detail: '1 of 2 other nodes answered in time' });
  });

  it('with nobody to ask, is complete at once', async () => {
    assert.deepEqual(await new AnswerRound().wait(new Set(), 60_000), {
      lastVerifiedAt: undefined,
      complete: true,
      detail: '0 of 0 other nodes answered in time',
    });
  });
});
