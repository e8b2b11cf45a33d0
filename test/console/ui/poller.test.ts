import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type PollHost, Poller } from '../../../src/console/ui/poller.js';

/** Timers that fire only when the test says so, and a tab the test hides and shows. */
class FakeHost implements PollHost {
  hiddenTab = false;
  private nextId = 1;
  readonly pending = new Map<number, { run: () => void; ms: number }>();
  setTimeout(run: () => void, ms: number): number {
    const id = this.nextId++;
    this.pending.set(id, { run, ms });
    return id;
  }
  clearTimeout(id: number): void {
    this.pending.delete(id);
  }
  hidden(): boolean {
    return this.hiddenTab;
  }
  fire(): void {
    const entries = [...this.pending.entries()];
    this.pending.clear();
    for (const [, t] of entries) t.run();
  }
}

describe('console: rotation page polling', () => {
  const setup = () => {
    const host = new FakeHost();
    let refreshes = 0;
    const poller = new Poller(host, 5000, () => refreshes++);
    return { host, poller, refreshes: () => refreshes };
  };

  it('refreshes every interval while asked to, and stops when nothing is open', () => {
    const { host, poller, refreshes } = setup();
    poller.next(true);
    assert.deepEqual(
      [...host.pending.values()].map((t) => t.ms),
      [5000],
    );
    host.fire();
    assert.equal(refreshes(), 1);
    poller.next(true);
    host.fire();
    assert.equal(refreshes(), 2);
    poller.next(false);
    assert.equal(host.pending.size, 0);
  });

  it('asks nothing in a hidden tab and catches up once when it is shown', () => {
    const { host, poller, refreshes } = setup();
    poller.next(true);
    host.hiddenTab = true;
    host.fire();
    assert.equal(refreshes(), 0);
    assert.equal(host.pending.size, 0, 'no timer keeps running in a hidden tab');
    poller.visibilityChanged();
    assert.equal(refreshes(), 0, 'still hidden');
    host.hiddenTab = false;
    poller.visibilityChanged();
    assert.equal(refreshes(), 1);
    poller.visibilityChanged();
    assert.equal(refreshes(), 1, 'one catch-up, not one per event');
  });

  it('showing the tab refreshes nothing when no tick was missed', () => {
    const { poller, refreshes } = setup();
    poller.next(true);
    poller.visibilityChanged();
    assert.equal(refreshes(), 0);
  });

  it('a refresh started by hand replaces the pending tick', () => {
    const { host, poller, refreshes } = setup();
    poller.next(true);
    poller.stop();
    assert.equal(host.pending.size, 0);
    host.fire();
    assert.equal(refreshes(), 0);
  });
});
