import cluster, { type Worker } from 'node:cluster';
import { randomUUID } from 'node:crypto';
import { type Config, startupWarnings } from './config.js';
import { AnswerRound, type ChangeFeed, type ChangeSink, type PeerAnswers, type PeerQuestion } from './domain/change-feed.js';
import type { Clock } from './domain/clock.js';
import type { SecretChange } from './domain/model.js';
import { createServices } from './runtime.js';

/**
 * SECURE_MODE_WORKERS=N: the primary process prepares the database once, then forks N workers that share one
 * listening port (the primary hands connections out round-robin) and serve everything themselves.
 *
 * Coherence between workers: on PostgreSQL each worker is a node with its own LISTEN connection, exactly as separate
 * machines. On SQLite (no change feed in the database), a worker that changes a secret sends the change to the
 * primary over the cluster's IPC channel before answering, and the primary relays it to every other worker.
 *
 * A guarded delete's question to the other workers ("when did you last verify with this secret, counting what you
 * have not flushed?") takes the same path on SQLite: the asking worker sends it to the primary, which asks every
 * other listening worker and sends back what they answered within the bound. (On PostgreSQL it goes through the
 * database's feed, as between machines.)
 */

const CHANGE_MESSAGE = 'secure-mode:secret-change';
/** worker → primary: a guarded delete's question. */
const QUESTION_MESSAGE = 'secure-mode:usage-question';
/** primary → worker: answer this from memory. */
const ASK_MESSAGE = 'secure-mode:usage-ask';
/** worker → primary: the answer. */
const ANSWER_MESSAGE = 'secure-mode:usage-answer';
/** primary → asking worker: what the round gathered. */
const RESULT_MESSAGE = 'secure-mode:usage-result';

/** What the asking worker allows the primary on top of the round's own bound, for the IPC hops. */
const IPC_MARGIN_MS = 100;

interface ChangeMessage {
  type: typeof CHANGE_MESSAGE;
  change: SecretChange;
}
interface QuestionMessage extends PeerQuestion {
  type: typeof QUESTION_MESSAGE;
  round: string;
}
interface AskMessage {
  type: typeof ASK_MESSAGE;
  round: string;
  secretId: number;
}
interface AnswerMessage {
  type: typeof ANSWER_MESSAGE;
  round: string;
  lastVerifiedAt: number | null;
}
interface ResultMessage {
  type: typeof RESULT_MESSAGE;
  round: string;
  answers: PeerAnswers;
}
type ClusterMessage = ChangeMessage | QuestionMessage | AskMessage | AnswerMessage | ResultMessage;

function messageOf(message: unknown): ClusterMessage | undefined {
  const type = typeof message === 'object' && message !== null ? (message as { type?: unknown }).type : undefined;
  return typeof type === 'string' && type.startsWith('secure-mode:') ? (message as ClusterMessage) : undefined;
}

function send(target: Worker, message: ClusterMessage): void {
  target.send(message);
}

function sendToPrimary(message: ClusterMessage): void {
  process.send?.(message);
}

/**
 * A worker's side of the IPC relay. The channel to the primary is reliable and ordered while it is connected, so the
 * worker is in sync up to message latency; a worker whose primary is gone exits (node:cluster does that).
 */
export class IpcChangeFeed implements ChangeFeed {
  private sink: ChangeSink | undefined;
  private readonly results = new Map<string, (answers: PeerAnswers) => void>();
  private readonly onMessage = (raw: unknown) => {
    const message = messageOf(raw);
    if (message?.type === CHANGE_MESSAGE) this.sink?.apply(message.change);
    else if (message?.type === ASK_MESSAGE && this.sink) {
      const lastVerifiedAt = this.sink.unflushedLastVerified(message.secretId) ?? null;
      sendToPrimary({ type: ANSWER_MESSAGE, round: message.round, lastVerifiedAt });
    } else if (message?.type === RESULT_MESSAGE) this.results.get(message.round)?.(message.answers);
  };

  constructor(private readonly clock: Clock) {}

  async start(sink: ChangeSink): Promise<void> {
    this.sink = sink;
    process.on('message', this.onMessage);
  }

  /** Resolves once the message is handed to the channel, so it is on its way before the change is acknowledged. */
  publish(change: SecretChange): Promise<void> {
    const message: ChangeMessage = { type: CHANGE_MESSAGE, change };
    return new Promise((resolve, reject) => {
      if (!process.send || !process.connected) return reject(new Error('no IPC channel to the primary'));
      process.send(message, undefined, {}, (err) => (err ? reject(err) : resolve()));
    });
  }

  /** The primary gathers the other workers' answers; no answer from it in time is no proof. */
  askPeers(question: PeerQuestion): Promise<PeerAnswers> {
    const round = randomUUID();
    return new Promise((resolve) => {
      const timer = setTimeout(
        () => finish({ lastVerifiedAt: undefined, complete: false, detail: 'the primary did not answer in time' }),
        question.timeoutMs + IPC_MARGIN_MS,
      );
      const finish = (answers: PeerAnswers) => {
        clearTimeout(timer);
        this.results.delete(round);
        resolve(answers);
      };
      this.results.set(round, finish);
      if (!process.send || !process.connected) {
        return finish({ lastVerifiedAt: undefined, complete: false, detail: 'no IPC channel to the primary' });
      }
      sendToPrimary({ type: QUESTION_MESSAGE, round, ...question });
    });
  }

  syncedAtMs(): number {
    return process.connected ? this.clock.nowMs() : 0;
  }

  async close(): Promise<void> {
    process.off('message', this.onMessage);
  }
}

export function isClusterWorker(): boolean {
  return cluster.isWorker;
}

/** Restarting a crashing worker at once would spin; this is long enough to read the log and short enough to heal. */
const RESTART_DELAY_MS = 1000;

/**
 * The primary: the database lock, migrations, the master key file and the first workspace happen here once, before
 * any worker starts, so workers never race to create them. Then it forks, relays changes, restarts crashed workers,
 * and on SIGTERM or SIGINT stops the workers (each flushes its usage counters) before exiting.
 */
export async function runPrimary(config: Config, notice: (message: string) => void): Promise<void> {
  const prepared = await createServices(config, { logger: false, notice, serverLock: true });
  // The primary holds the database lock for its whole life, for its workers too; the reference keeps the connection
  // (and so the lock) from being collected, and the kernel drops the lock however the process ends.
  process.once('exit', () => prepared.lock?.release());
  try {
    const boot = await prepared.workspaces.bootstrap(config.bootstrapToken);
    if (boot) {
      notice(`created workspace "${boot.workspace.name}" with app_id ${boot.workspace.appId}`);
      if (boot.generated) notice(`created an all-scopes access token (shown only now): ${boot.token}`);
      else notice('created an all-scopes access token from SECURE_MODE_BOOTSTRAP_TOKEN');
    }
  } finally {
    await prepared.store.close();
  }

  let stopping = false;
  let announced = false;
  const listening = new Set<number>();
  /** When a worker last died without its final flush: its unflushed counts are gone, so no round before is proof. */
  let lostCountsAtMs = 0;
  const rounds = new Map<string, AnswerRound>();

  const askOthers = async (asker: Worker, question: QuestionMessage): Promise<void> => {
    const others = Object.values(cluster.workers ?? {}).filter(
      (w): w is Worker => w !== undefined && w !== asker && listening.has(w.id) && w.isConnected(),
    );
    const round = new AnswerRound();
    rounds.set(question.round, round);
    for (const other of others) send(other, { type: ASK_MESSAGE, round: question.round, secretId: question.secretId });
    const answers = await round.wait(new Set(others.map((w) => String(w.id))), question.timeoutMs);
    rounds.delete(question.round);
    const lost = lostCountsAtMs > 0 && Date.now() - lostCountsAtMs < question.lookbackMs;
    const result: PeerAnswers = lost
      ? { ...answers, complete: false, detail: `${answers.detail}; a worker died without flushing its counts within the window` }
      : answers;
    if (asker.isConnected()) send(asker, { type: RESULT_MESSAGE, round: question.round, answers: result });
  };

  const fork = (): Worker => {
    const worker = cluster.fork();
    worker.on('message', (raw: unknown) => {
      const message = messageOf(raw);
      if (message?.type === CHANGE_MESSAGE) {
        for (const other of Object.values(cluster.workers ?? {})) {
          if (other && other !== worker && other.isConnected()) send(other, message);
        }
      } else if (message?.type === QUESTION_MESSAGE) void askOthers(worker, message);
      else if (message?.type === ANSWER_MESSAGE)
        rounds.get(message.round)?.answer(String(worker.id), message.lastVerifiedAt ?? undefined);
    });
    worker.on('listening', (address) => {
      listening.add(worker.id);
      if (!announced && listening.size === config.workers) {
        announced = true;
        notice(
          `listening on http://${config.host}:${address.port} (${config.database.kind}, ${config.workers} workers${startupWarnings(config)})`,
        );
      }
    });
    worker.on('exit', (code, signal) => {
      listening.delete(worker.id);
      if (code !== 0 || signal !== null) lostCountsAtMs = Date.now();
      if (stopping) return;
      notice(`worker ${worker.process.pid} exited (${signal ?? code}); starting another`);
      setTimeout(() => {
        if (!stopping) fork();
      }, RESTART_DELAY_MS).unref();
    });
    return worker;
  };

  for (let i = 0; i < config.workers; i++) fork();

  const stop = () => {
    if (stopping) return;
    stopping = true;
    const workers = Object.values(cluster.workers ?? {}).filter((w): w is Worker => w !== undefined);
    if (workers.length === 0) process.exit(0);
    let left = workers.length;
    for (const worker of workers) {
      worker.once('exit', () => {
        if (--left === 0) process.exit(0);
      });
      worker.process.kill('SIGTERM');
    }
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}
