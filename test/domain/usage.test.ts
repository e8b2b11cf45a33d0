import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ManualClock } from '../../src/domain/clock.js';
import { UsageRecorder } from '../../src/domain/usage.js';
import type { UsageIncrement } from '../../src/domain/model.js';
import type { Store } from '../../src/domain/ports.js';

/** A store that records what recordUsage was given and can be told to fail. */
function fakeStore() {
  const writes: { increments: UsageIncrement[]; last: Map<number, number> }[] = [];
  let failNext = false;
  const store = {
    async recordUsage(increments: UsageIncrement[], last: Map<number, number>) {
      if (failNext) {
        failNext = false;
        throw new Error('database is locked');
      }
      writes.push({ increments: increments.map((i) => ({ ...i })), last: new Map(last) });
    },
  } as unknown as Store;
  return { store, writes, failOnce: () => (failNext = true) };
}

const simplify = (incs: UsageIncrement[]) => incs.map((i) => `${i.secretId}/${i.platform}/${i.minute}=${i.count}`).sort();

describe('usage batching', () => {
  it('aggregates per secret, platform and minute and writes once per flush', async () => {
    const clock = new ManualClock(Date.UTC(2026, 0, 1, 10, 0, 0));
    const { store, writes } = fakeStore();
    const usage = new UsageRecorder(store, clock);
    const m = Math.floor(clock.nowMs() / 60_000);
    for (let i = 0; i < 1000; i++) usage.recordSuccess(1, 'web', 'user_hash');
    usage.recordSuccess(1, 'ios', 'jwt');
    usage.recordSuccess(2, 'web', 'jwt');
    clock.advance(60_000);
    usage.recordSuccess(1, 'web', 'user_hash');
    assert.deepEqual(simplify(usage.pendingIncrements()), [
      `1/ios/${m}=1`,
      `1/web/${m}=1000`,
      `1/web/${m + 1}=1`,
      `2/web/${m}=1`,
    ]);
    assert.deepEqual([...usage.successCounts()].sort(), [
      ['jwt:ios', 1],
      ['jwt:web', 1],
      ['user_hash:web', 1001],
    ]);
    await usage.flush();
    assert.equal(writes.length, 1);
    assert.deepEqual(simplify(writes[0]!.increments), [`1/ios/${m}=1`, `1/web/${m}=1000`, `1/web/${m + 1}=1`, `2/web/${m}=1`]);
    assert.deepEqual(
      [...writes[0]!.last],
      [
        [1, m * 60 + 60],
        [2, m * 60],
      ],
    );
    await usage.flush();
    assert.equal(writes.length, 1, 'nothing new, nothing written');
  });

  it('keeps counts that failed to flush and adds them to what came since', async () => {
    const clock = new ManualClock(Date.UTC(2026, 0, 1, 10, 0, 0));
    const { store, writes, failOnce } = fakeStore();
    const usage = new UsageRecorder(store, clock);
    const m = Math.floor(clock.nowMs() / 60_000);
    usage.recordSuccess(5, 'android', 'user_hash');
    usage.recordSuccess(5, 'android', 'user_hash');
    failOnce();
    await assert.rejects(usage.flush(), /locked/);
    usage.recordSuccess(5, 'android', 'user_hash');
    assert.deepEqual(simplify(usage.pendingIncrements()), [`5/android/${m}=3`]);
    assert.equal(usage.pendingLastVerified(5), m * 60);
    await usage.flush();
    assert.deepEqual(simplify(writes[0]!.increments), [`5/android/${m}=3`]);
  });
});
