import pg from 'pg';
import { setTimeout as sleep } from 'node:timers/promises';
import type { ChangeFeed, ChangeSink } from '../../domain/change-feed.js';
import type { Clock } from '../../domain/clock.js';
import type { SecretChange } from '../../domain/model.js';
import { CHANGE_CHANNEL, type ChangePayload, destroy } from './postgres-store.js';

export interface PostgresChangeFeedOptions {
  url: string;
  nodeId: string;
  clock: Clock;
  /** How often the listening connection proves it is alive; also how long an answer may take. */
  heartbeatMs: number;
  connectTimeoutMs: number;
  /** Told when the feed goes down or comes back, for the log. */
  onStatus?: (status: 'connected' | 'disconnected', err?: unknown) => void;
}

const KINDS = new Set<SecretChange['kind']>(['created', 'updated', 'deleted', 'expired']);
const MAX_BACKOFF_MS = 5_000;

export function decodeChange(payload: string): (SecretChange & { origin: string }) | undefined {
  try {
    const p = JSON.parse(payload) as Partial<ChangePayload>;
    if (!Number.isSafeInteger(p.w) || !Number.isSafeInteger(p.s) || !KINDS.has(p.k!) || typeof p.o !== 'string') return undefined;
    return { workspaceId: p.w!, secretId: p.s!, kind: p.k!, origin: p.o };
  } catch {
    return undefined;
  }
}

/**
 * LISTEN on one dedicated connection. Changes are NOTIFYed by PostgresStore inside the transaction that makes them,
 * so PostgreSQL sends each exactly when (and only if) it commits; publish() therefore has nothing left to do.
 *
 * syncedAtMs: a heartbeat query runs every heartbeatMs on the listening connection. PostgreSQL delivers pending
 * notifications before it answers a query, so once the answer to a heartbeat sent at T arrives, every change that
 * committed before T has reached the sink. When heartbeats stop being answered the connection is dropped and
 * re-established with backoff; once listening again, the sink is told to resync (drop what it caches), because
 * notifications sent while nobody listened are lost.
 */
export class PostgresChangeFeed implements ChangeFeed {
  private sink: ChangeSink | undefined;
  private client: pg.Client | undefined;
  private synced = 0;
  private closed = false;
  private loop: Promise<void> | undefined;
  private wake: (() => void) | undefined;

  constructor(private readonly options: PostgresChangeFeedOptions) {}

  async publish(): Promise<void> {}

  syncedAtMs(): number {
    return this.synced;
  }

  /** Resolves once the first LISTEN is in place (or failed: the loop keeps retrying and the cache's grace applies). */
  async start(sink: ChangeSink): Promise<void> {
    this.sink = sink;
    let first!: () => void;
    const started = new Promise<void>((resolve) => (first = resolve));
    this.loop = this.run(first);
    await started;
  }

  async close(): Promise<void> {
    this.closed = true;
    this.wake?.();
    this.drop();
    await this.loop;
  }

  private async run(started: () => void): Promise<void> {
    let backoff = 100;
    while (!this.closed) {
      try {
        await this.listen(() => {
          backoff = 100;
          started();
        });
      } catch (err) {
        this.options.onStatus?.('disconnected', err);
      } finally {
        this.drop();
      }
      started();
      if (this.closed) break;
      await this.pause(backoff);
      backoff = Math.min(backoff * 2, MAX_BACKOFF_MS);
    }
  }

  /** One connection's life: connect, LISTEN, resync, then heartbeats until something fails. */
  private async listen(listening: () => void): Promise<void> {
    const client = new pg.Client({
      connectionString: this.options.url,
      connectionTimeoutMillis: this.options.connectTimeoutMs,
      keepAlive: true,
      application_name: 'secure-mode-listen',
      query_timeout: this.options.heartbeatMs,
    });
    this.client = client;
    let failure: ((err: unknown) => void) | undefined;
    const failed = new Promise<never>((_, reject) => (failure = reject));
    failed.catch(() => undefined);
    // Whichever loses the race must not surface later as an unhandled rejection.
    const orFailure = <T>(work: Promise<T>): Promise<T> => {
      work.catch(() => undefined);
      return Promise.race([work, failed]);
    };
    client.on('error', (err) => failure!(err));
    client.on('end', () => failure!(new Error('listen connection ended')));
    client.on('notification', (msg) => {
      if (msg.channel !== CHANGE_CHANNEL || msg.payload === undefined) return;
      const change = decodeChange(msg.payload);
      if (change && change.origin !== this.options.nodeId) {
        this.sink!.apply({ workspaceId: change.workspaceId, secretId: change.secretId, kind: change.kind });
      }
    });
    await orFailure(client.connect());
    const listenSentAt = this.options.clock.nowMs();
    await orFailure(client.query(`LISTEN ${CHANGE_CHANNEL}`));
    // Anything committed while no connection listened was not delivered: forget it all, reload on demand.
    this.sink!.resync();
    this.synced = listenSentAt;
    this.options.onStatus?.('connected');
    listening();
    while (!this.closed) {
      await orFailure(this.pause(this.options.heartbeatMs));
      if (this.closed) return;
      const sentAt = this.options.clock.nowMs();
      await orFailure(client.query('SELECT 1'));
      this.synced = sentAt;
    }
  }

  private pause(ms: number): Promise<void> {
    const timer = new AbortController();
    this.wake = () => timer.abort();
    return sleep(ms, undefined, { signal: timer.signal }).catch(() => undefined);
  }

  private drop(): void {
    const client = this.client;
    this.client = undefined;
    if (!client) return;
    client.removeAllListeners('notification');
    client.on('error', () => undefined);
    destroy(client);
  }
}
