import type { Clock } from './clock.js';
import type { SecretChange } from './model.js';

export interface ChangePublisher {
  publish(change: SecretChange): Promise<void>;
}

/** What a node does with changes made elsewhere: its secret cache, in practice. */
export interface ChangeSink {
  apply(change: SecretChange): void;
  /** Changes may have been missed (the feed reconnected): forget everything that could be stale. */
  resync(): void;
}

/**
 * How a node learns of secret changes made by other nodes or processes, and how it tells them of its own.
 * `syncedAtMs` is the promise the cache relies on to bound revocation: every change committed before that instant
 * has already been given to the sink. A feed that cannot promise anything lets it fall behind, and the cache then
 * stops trusting what it holds once the offline grace has passed.
 */
export interface ChangeFeed extends ChangePublisher {
  start(sink: ChangeSink): Promise<void>;
  syncedAtMs(): number;
  close(): Promise<void>;
}

/**
 * One process is the only writer of its secrets (the embedded single-process default): its own cache is updated
 * as part of every change, so it is always in sync and nothing needs to travel.
 */
export class InProcessChangeFeed implements ChangeFeed {
  constructor(private readonly clock: Clock) {}
  async start(): Promise<void> {}
  async publish(): Promise<void> {}
  syncedAtMs(): number {
    return this.clock.nowMs();
  }
  async close(): Promise<void> {}
}
