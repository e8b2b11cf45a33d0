import type { SecretChange } from './model.js';

export interface ChangePublisher {
  publish(change: SecretChange): Promise<void>;
}

/** What a node does with what other nodes send it: changes for its secret cache, questions for its usage counts. */
export interface ChangeSink {
  apply(change: SecretChange): void;
  /** Changes may have been missed (the feed reconnected): forget everything that could be stale. */
  resync(): void;
  /**
   * This node's latest verification with the secret (Unix seconds) that the store may not hold yet: counted but not
   * flushed, or in a flush that has not committed. Answered from memory, at once.
   */
  unflushedLastVerified(secretId: number): number | undefined;
}

export interface PeerQuestion {
  secretId: number;
  /**
   * A node that stopped answering longer ago than this cannot have verified within the window in question, and is
   * not waited for (the window plus the offline grace: how long a cut-off node keeps verifying from its cache).
   */
  lookbackMs: number;
  /** How long to wait for the answers. */
  timeoutMs: number;
}

export interface PeerAnswers {
  /** The latest unflushed verification any other node reported, Unix seconds. */
  lastVerifiedAt: number | undefined;
  /** True when every node that may have verified within the lookback answered. */
  complete: boolean;
  /** Who answered, or why the round could not be complete; counts and reasons only, for the error message. */
  detail: string;
}

/** Asks every other node serving the same database for what it has counted but maybe not flushed. */
export interface PeerUsage {
  askPeers(question: PeerQuestion): Promise<PeerAnswers>;
}

/**
 * How a node learns of secret changes made by other nodes or processes, and how it tells them of its own.
 * `syncedAtMs` is the promise the cache relies on to bound revocation: every change committed before that instant
 * has already been given to the sink. A feed that cannot promise anything lets it fall behind, and the cache then
 * stops trusting what it holds once the offline grace has passed.
 */
export interface ChangeFeed extends ChangePublisher, PeerUsage {
  start(sink: ChangeSink): Promise<void>;
  syncedAtMs(): number;
  close(): Promise<void>;
}

/**
 * One process is the only writer of its secrets (the embedded single-process default): its own cache is updated
 * as part of every change, so it is always in sync and nothing needs to travel.
 */
export class InProcessChangeFeed implements ChangeFeed {
  async start(): Promise<void> {}
  async publish(): Promise<void> {}
  /** Every change, now and later, is applied as it is made: in sync at every instant (and no clock read per verify). */
  syncedAtMs(): number {
    return Number.POSITIVE_INFINITY;
  }
  async askPeers(): Promise<PeerAnswers> {
    return { lastVerifiedAt: undefined, complete: true, detail: 'no other node' };
  }
  async close(): Promise<void> {}
}

/**
 * The answers of one round of asking the other nodes: it ends when every node expected has answered, or when the
 * time is up. An answer from a node nobody expected (one that joined meanwhile) still counts toward the latest time.
 */
export class AnswerRound {
  private readonly answers = new Map<string, number | undefined>();
  private expected: ReadonlySet<string> | undefined;
  private finish: (() => void) | undefined;

  answer(node: string, lastVerifiedAt: number | undefined): void {
    this.answers.set(node, lastVerifiedAt);
    if (this.allIn()) this.finish?.();
  }

  async wait(expected: ReadonlySet<string>, timeoutMs: number): Promise<PeerAnswers> {
    this.expected = expected;
    if (!this.allIn()) {
      let timer: NodeJS.Timeout | undefined;
      await new Promise<void>((resolve) => {
        this.finish = resolve;
        timer = setTimeout(resolve, Math.max(0, timeoutMs));
      });
      clearTimeout(timer);
    }
    let lastVerifiedAt: number | undefined;
    for (const at of this.answers.values())
      if (at !== undefined && (lastVerifiedAt === undefined || at > lastVerifiedAt)) lastVerifiedAt = at;
    const heard = [...expected].filter((node) => this.answers.has(node)).length;
    const complete = heard === expected.size;
    const detail = `${heard} of ${expected.size} other nodes answered in time`;
    return { lastVerifiedAt, complete, detail };
  }

  private allIn(): boolean {
    return this.expected !== undefined && [...this.expected].every((node) => this.answers.has(node));
  }
}
