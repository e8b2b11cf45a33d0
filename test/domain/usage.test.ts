import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ManualClock } from '../../src/domain/clock.js';
import { UsageRecorder } from '../../src/domain/usage.js';
import type { PeerQuestion } from '../../src/domain/change-feed.js';
import type { SecretRecord, UsageIncrement } from '../../src/domain/model.js';
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

  it('counts a flush that has not committed yet as unflushed', async () => {
    const clock = new ManualClock(Date.UTC(2026, 0, 1, 10, 0, 0));
    let commit!: () => void;
    const store = {
      recordUsage: () => new Promise<void>((resolve) => (commit = resolve)),
    } as unknown as Store;
    const usage = new UsageRecorder(store, clock);
    usage.recordSuccess(3, 'web', 'user_hash');
    const flushed = usage.flush();
    assert.equal(usage.pendingLastVerified(3), Math.floor(clock.nowMs() / 1000), 'in flight, not yet in the store');
    commit();
    await flushed;
    assert.equal(usage.pendingLastVerified(3), undefined);
  });
});

describe('last verified across the cluster', () => {
  const record = { id: 9, workspaceId: 1, lastVerifiedAt: null } as SecretRecord;

  /** A store that keeps last_verified_at as recordUsage writes it. */
  function keepingStore() {
    const stored = new Map<number, number>();
    const store = {
      async recordUsage(_: UsageIncrement[], last: Map<number, number>) {
        for (const [id, at] of last) stored.set(id, at);
      },
      async getSecret(_workspaceId: number, id: number) {
        return { ...record, id, lastVerifiedAt: stored.get(id) ?? null };
      },
    } as unknown as Store;
    return { store, stored };
  }

  it('takes the latest of the other nodes, this node and the store, and asks with the window plus the offline grace', async () => {
    const clock = new ManualClock(Date.UTC(2026, 0, 1, 10, 0, 0));
    const { store, stored } = keepingStore();
    const questions: PeerQuestion[] = [];
    const usage = new UsageRecorder(store, clock, {
      peers: {
        askPeers: async (q) => {
          questions.push(q);
          return { lastVerifiedAt: 1_767_261_000, complete: true, detail: '2 of 2 other nodes answered in time' };
        },
      },
      idleCheckTimeoutMs: 750,
      offlineGraceMs: 5000,
    });
    stored.set(9, 1_767_260_000);
    assert.deepEqual(await usage.lastVerifiedInCluster(record, 60), {
      lastVerifiedAt: 1_767_261_000,
      complete: true,
      detail: '2 of 2 other nodes answered in time',
    });
    assert.deepEqual(questions, [{ secretId: 9, lookbackMs: 65_000, timeoutMs: 750 }]);
    usage.recordSuccess(9, 'ios', 'jwt');
    assert.equal((await usage.lastVerifiedInCluster(record, 60)).lastVerifiedAt, Math.floor(clock.nowMs() / 1000));
  });

  it('reads its own memory and the store only after the others answered, so a flush meanwhile is not missed', async () => {
    const clock = new ManualClock(Date.UTC(2026, 0, 1, 10, 0, 0));
    const { store } = keepingStore();
    const usage: UsageRecorder = new UsageRecorder(store, clock, {
      peers: {
        askPeers: async () => {
          await usage.flush();
          return { lastVerifiedAt: undefined, complete: true, detail: 'no other node' };
        },
      },
    });
    usage.recordSuccess(9, 'web', 'user_hash');
    assert.equal((await usage.lastVerifiedInCluster(record, 60)).lastVerifiedAt, Math.floor(clock.nowMs() / 1000));
  });

  it('passes on an incomplete round: what is known, and that idleness is not proven', async () => {
    const clock = new ManualClock(Date.UTC(2026, 0, 1, 10, 0, 0));
    const { store } = keepingStore();
    const usage = new UsageRecorder(store, clock, {
      peers: {
        askPeers: async () => ({ lastVerifiedAt: undefined, complete: false, detail: '1 of 2 other nodes answered in time' }),
      },
    });
    assert.deepEqual(await usage.lastVerifiedInCluster(record, 60), {
      lastVerifiedAt: null,
      complete: false,
      detail: '1 of 2 other nodes answered in time',
    });
  });

  it('alone (no peers), it is complete', async () => {
    const { store } = keepingStore();
    const usage = new UsageRecorder(store, new ManualClock(0));
    assert.equal((await usage.lastVerifiedInCluster(record, 60)).complete, true);
  });
});
