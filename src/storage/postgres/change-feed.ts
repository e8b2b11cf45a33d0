import pg from 'pg';
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { ChangeFeed, ChangeSink } from '../../domain/change-feed.js';
import type { Clock } from '../../domain/clock.js';
import type { SecretChange } from '../../domain/model.js';
import { CHANGE_CHANNEL, type ChangePayload, destroy } from './postgres-store.js';

export interface PostgresChangeFeedOptions {
  /** Where to LISTEN: a direct connection (a transaction-mode pooler never delivers notifications). */
  url: string;
  /** Where changes are NOTIFYed from (the store's URL): start() proves that a NOTIFY sent there arrives. */
  notifyUrl: string;
  /** How long start() waits for its own NOTIFY before refusing to start. */
  proofTimeoutMs: number;
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

/** An error's message on one line, for the start-up refusal. */
function oneLine(err: unknown): string {
  const message = (err as Error)?.message || String((err as { code?: unknown })?.code ?? err);
  return message.replace(/\s+/g, ' ').trim();
}

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

  /**
   * Resolves once the first LISTEN is in place and a NOTIFY sent through notifyUrl has arrived on it; rejects, with
   * one line, when either fails: a node whose feed cannot hear other nodes' changes must not start.
   */
  async start(sink: ChangeSink): Promise<void> {
    this.sink = sink;
    let first!: (err?: unknown) => void;
    const started = new Promise<unknown>((resolve) => (first = resolve));
    this.loop = this.run(first);
    const err = await started;
    if (err !== undefined) {
      await this.close();
      throw err;
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    this.wake?.();
    this.drop();
    await this.loop;
  }

  private async run(started: (err?: unknown) => void): Promise<void> {
    let backoff = 100;
    let proven = false;
    while (!this.closed) {
      try {
        await this.listen(async (client, orFailure) => {
          if (!proven) await orFailure(this.prove(client));
          proven = true;
          backoff = 100;
          started();
        });
      } catch (err) {
        if (!proven) {
          started(new Error(`the change feed does not work: ${oneLine(err)}`));
          return;
        }
        this.options.onStatus?.('disconnected', err);
      } finally {
        this.drop();
      }
      if (this.closed) break;
      await this.pause(backoff);
      backoff = Math.min(backoff * 2, MAX_BACKOFF_MS);
    }
  }

  /**
   * A NOTIFY sent as the store sends changes (through notifyUrl) must reach this LISTEN: that fails when the listen
   * URL goes through a transaction-mode pooler or reaches another database.
   */
  private async prove(listener: pg.Client): Promise<void> {
    const probe = JSON.stringify({ probe: randomUUID() });
    let timer: NodeJS.Timeout | undefined;
    const arrived = new Promise<void>((resolve, reject) => {
      listener.on('notification', (msg) => {
        if (msg.channel === CHANGE_CHANNEL && msg.payload === probe) resolve();
      });
      timer = setTimeout(
        () =>
          reject(
            new Error(
              `a NOTIFY sent through SECURE_MODE_DATABASE_URL did not arrive on the LISTEN connection (SECURE_MODE_DATABASE_LISTEN_URL, default SECURE_MODE_DATABASE_URL) within ${this.options.proofTimeoutMs} ms; LISTEN needs a direct connection to the same database, not a transaction-mode pooler (see docs/postgres.md)`,
            ),
          ),
        this.options.proofTimeoutMs,
      );
    });
    // Rejected while the NOTIFY is still being sent: handled below, never an unhandled rejection.
    arrived.catch(() => undefined);
    try {
      await this.notifyOnce(probe);
      await arrived;
    } finally {
      clearTimeout(timer);
    }
  }

  private async notifyOnce(payload: string): Promise<void> {
    const client = new pg.Client({
      connectionString: this.options.notifyUrl,
      connectionTimeoutMillis: this.options.connectTimeoutMs,
      query_timeout: this.options.proofTimeoutMs,
      application_name: 'secure-mode-notify-proof',
    });
    client.on('error', () => undefined);
    try {
      await client.connect();
      await client.query('SELECT pg_notify($1, $2)', [CHANGE_CHANNEL, payload]);
    } catch (err) {
      throw new Error(`could not send a NOTIFY through SECURE_MODE_DATABASE_URL: ${oneLine(err)}`);
    } finally {
      destroy(client);
    }
  }

  /** One connection's life: connect, LISTEN, resync, then heartbeats until something fails. */
  private async listen(
    listening: (client: pg.Client, orFailure: <T>(work: Promise<T>) => Promise<T>) => Promise<void>,
  ): Promise<void> {
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
    await listening(client, orFailure);
    this.options.onStatus?.('connected');
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
