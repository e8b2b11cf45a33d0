import pg from 'pg';
import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { AnswerRound, type ChangeFeed, type ChangeSink, type PeerAnswers, type PeerQuestion } from '../../domain/change-feed.js';
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

/** Where nodes ask each other for unflushed last-verified times, and answer. Ids and Unix seconds only. */
export const USAGE_CHANNEL = 'secure_mode_usage';

/** A question: round id, secret id, asking node. */
interface UsageQuestion {
  q: string;
  s: number;
  o: string;
}

/** An answer: round id, answering node, its unflushed last verification (Unix seconds) or null. */
interface UsageAnswer {
  a: string;
  o: string;
  v: number | null;
}

export function decodeUsageMessage(payload: string): UsageQuestion | UsageAnswer | undefined {
  try {
    const p = JSON.parse(payload) as Partial<UsageQuestion & UsageAnswer>;
    if (typeof p.o !== 'string') return undefined;
    if (typeof p.q === 'string' && Number.isSafeInteger(p.s)) return { q: p.q, s: p.s!, o: p.o };
    if (typeof p.a === 'string' && (p.v === null || Number.isSafeInteger(p.v))) return { a: p.a, o: p.o, v: p.v! };
    return undefined;
  } catch {
    return undefined;
  }
}

/** PostgreSQL's clock in milliseconds: membership is stamped and judged by one clock, whatever the nodes' own say. */
const DB_NOW_MS = '(extract(epoch FROM clock_timestamp()) * 1000)::bigint';
const SEEN_SQL = `INSERT INTO secure_mode_nodes (node_id, seen_at) VALUES ($1, ${DB_NOW_MS})
  ON CONFLICT (node_id) DO UPDATE SET seen_at = excluded.seen_at`;
const PEERS_SQL = `SELECT node_id FROM secure_mode_nodes WHERE node_id <> $1 AND seen_at >= ${DB_NOW_MS} - $2::bigint`;
const LEAVE_SQL = 'DELETE FROM secure_mode_nodes WHERE node_id = $1';
/** A node silent this long is forgotten: guarded deletes with longer windows no longer wait for it. */
const FORGET_AFTER_MS = 24 * 60 * 60 * 1000;
const FORGET_SQL = `DELETE FROM secure_mode_nodes WHERE seen_at < ${DB_NOW_MS} - $1::bigint`;

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
 *
 * Membership and the ask round: the heartbeat also stamps this node's row in secure_mode_nodes with PostgreSQL's
 * clock, and a clean close removes it. askPeers reads the nodes seen within the lookback, NOTIFYs the question on
 * USAGE_CHANNEL, and waits for each of them to NOTIFY its answer, which the sink gives from memory at once. Both
 * travel on the listening connection, so asking and answering never take a connection from the pool.
 */
export class PostgresChangeFeed implements ChangeFeed {
  private sink: ChangeSink | undefined;
  private client: pg.Client | undefined;
  private synced = 0;
  private closed = false;
  private loop: Promise<void> | undefined;
  private wake: (() => void) | undefined;
  /** The current connection LISTENs and has registered this node: questions can be asked and answered. */
  private listening = false;
  private readonly rounds = new Map<string, AnswerRound>();

  constructor(private readonly options: PostgresChangeFeedOptions) {}

  async askPeers(question: PeerQuestion): Promise<PeerAnswers> {
    const client = this.client;
    if (!client || !this.listening) {
      return { lastVerifiedAt: undefined, complete: false, detail: 'this node is not connected to the change feed' };
    }
    const deadline = performance.now() + question.timeoutMs;
    const id = randomUUID();
    const round = new AnswerRound();
    this.rounds.set(id, round);
    try {
      // Membership first: a node that registers after this read started serving after it, concurrently with the delete.
      const { rows } = await within(client.query(PEERS_SQL, [this.options.nodeId, question.lookbackMs]), question.timeoutMs);
      const ask: UsageQuestion = { q: id, s: question.secretId, o: this.options.nodeId };
      await within(client.query('SELECT pg_notify($1, $2)', [USAGE_CHANNEL, JSON.stringify(ask)]), question.timeoutMs);
      const expected = new Set(rows.map((row: { node_id: string }) => row.node_id));
      return await round.wait(expected, deadline - performance.now());
    } catch {
      return { lastVerifiedAt: undefined, complete: false, detail: 'the change feed connection failed while asking' };
    } finally {
      this.rounds.delete(id);
    }
  }

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
    // Leaving on purpose, after the last flush: guarded deletes need not wait for this node any more.
    const client = this.client;
    if (client && this.listening) {
      await within(client.query(LEAVE_SQL, [this.options.nodeId]), this.options.heartbeatMs).catch(() => undefined);
    }
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
      if (msg.channel === USAGE_CHANNEL && msg.payload !== undefined) return this.onUsageMessage(client, msg.payload);
      if (msg.channel !== CHANGE_CHANNEL || msg.payload === undefined) return;
      const change = decodeChange(msg.payload);
      if (change && change.origin !== this.options.nodeId) {
        this.sink!.apply({ workspaceId: change.workspaceId, secretId: change.secretId, kind: change.kind });
      }
    });
    await orFailure(client.connect());
    const listenSentAt = this.options.clock.nowMs();
    await orFailure(client.query(`LISTEN ${CHANGE_CHANNEL}`));
    await orFailure(client.query(`LISTEN ${USAGE_CHANNEL}`));
    // Anything committed while no connection listened was not delivered: forget it all, reload on demand.
    this.sink!.resync();
    await orFailure(answered(client.query(SEEN_SQL, [this.options.nodeId])));
    await orFailure(answered(client.query(FORGET_SQL, [FORGET_AFTER_MS])));
    this.listening = true;
    this.synced = listenSentAt;
    await listening(client, orFailure);
    this.options.onStatus?.('connected');
    while (!this.closed) {
      await orFailure(this.pause(this.options.heartbeatMs));
      if (this.closed) return;
      const sentAt = this.options.clock.nowMs();
      await orFailure(answered(client.query(SEEN_SQL, [this.options.nodeId])));
      this.synced = sentAt;
    }
  }

  /** Answers a question from memory at once; collects answers for the rounds this node is waiting on. */
  private onUsageMessage(client: pg.Client, payload: string): void {
    const message = decodeUsageMessage(payload);
    if (!message || message.o === this.options.nodeId) return;
    if ('q' in message) {
      const answer: UsageAnswer = {
        a: message.q,
        o: this.options.nodeId,
        v: this.sink!.unflushedLastVerified(message.s) ?? null,
      };
      // An answer lost with a failing connection leaves the asker short of one: it refuses, which is the safe side.
      void client.query('SELECT pg_notify($1, $2)', [USAGE_CHANNEL, JSON.stringify(answer)]).catch(() => undefined);
    } else {
      this.rounds.get(message.a)?.answer(message.o, message.v ?? undefined);
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
    this.listening = false;
    if (!client) return;
    client.removeAllListeners('notification');
    client.on('error', () => undefined);
    destroy(client);
  }
}

/**
 * The heartbeat is also the membership stamp. Any answer from the server, even a refusal to write (a read-only
 * fail-over), proves the connection delivers notifications; such a refusal only leaves this node's row stale, which
 * no guarded delete can exploit while the database takes no writes.
 */
function answered(work: Promise<unknown>): Promise<void> {
  return work.then(
    () => undefined,
    (err: unknown) => {
      if (!(err instanceof pg.DatabaseError)) throw err;
    },
  );
}

/** Gives up on a query on the listening connection after ms; the connection's own failure handling does the rest. */
function within<T>(work: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
  });
  work.catch(() => undefined);
  return Promise.race([work, timeout]).finally(() => clearTimeout(timer));
}
