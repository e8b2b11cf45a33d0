import cluster, { type Worker } from 'node:cluster';
import type { Config } from './config.js';
import type { ChangeFeed, ChangeSink } from './domain/change-feed.js';
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
 */

const CHANGE_MESSAGE = 'secure-mode:secret-change';

interface ChangeMessage {
  type: typeof CHANGE_MESSAGE;
  change: SecretChange;
}

function isChangeMessage(message: unknown): message is ChangeMessage {
  return typeof message === 'object' && message !== null && (message as { type?: unknown }).type === CHANGE_MESSAGE;
}

/**
 * A worker's side of the IPC relay. The channel to the primary is reliable and ordered while it is connected, so the
 * worker is in sync up to message latency; a worker whose primary is gone exits (node:cluster does that).
 */
export class IpcChangeFeed implements ChangeFeed {
  private sink: ChangeSink | undefined;
  private readonly onMessage = (message: unknown) => {
    if (isChangeMessage(message)) this.sink?.apply(message.change);
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

  const fork = (): Worker => {
    const worker = cluster.fork();
    worker.on('message', (message: unknown) => {
      if (!isChangeMessage(message)) return;
      for (const other of Object.values(cluster.workers ?? {})) {
        if (other && other !== worker && other.isConnected()) other.send(message);
      }
    });
    worker.on('listening', (address) => {
      listening.add(worker.id);
      if (!announced && listening.size === config.workers) {
        announced = true;
        notice(`listening on http://${config.host}:${address.port} (${config.database.kind}, ${config.workers} workers)`);
      }
    });
    worker.on('exit', (code, signal) => {
      listening.delete(worker.id);
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
