import { type ApiClient, ApiRequestError, ApiUnreachableError, type CreatedSecretBody } from './api-client.js';
import { toCliError } from './http-options.js';
import { CliError, EXIT } from './output.js';
import type { SecretFile } from './secret-file.js';

/** The answer may have been lost after the server acted: a network failure, a 429 or a 5xx. */
export const isTransient = (err: unknown): boolean =>
  err instanceof ApiUnreachableError || (err instanceof ApiRequestError && (err.status === 429 || err.status >= 500));

/** A word as a POSIX shell reads it back unchanged. */
export function shellWord(word: string): string {
  return /^[A-Za-z0-9_/.,:=@%+-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`;
}

function replayHint(what: string, key: string, replay: string[]): string {
  return (
    `the server may have ${what}, and nobody has seen its secret; its Idempotency-Key is ${key}; ` +
    `within the idempotency window (10 minutes by default) replay it with: ${replay.map(shellWord).join(' ')}`
  );
}

export interface ReplayableHow<T> {
  key: string;
  file: SecretFile | undefined;
  replay: string[];
  /** Puts the secret where it goes (the file first); runs before any signal may end the process. */
  deliver: (created: T) => Promise<void>;
}

/**
 * One create whose secret nobody may lose: it carries an Idempotency-Key, and the secret goes to its file before
 * anything else happens. When the create is interrupted (SIGINT, SIGTERM) or its answer never comes, the server may
 * have committed it: the empty file is removed again and the key is printed with `replay`, the command that fetches
 * that same secret (same key, same file) instead of taking another of the workspace's slots.
 */
export function createReplayable(
  client: ApiClient,
  params: Parameters<ApiClient['createSecret']>[0],
  how: ReplayableHow<CreatedSecretBody>,
): Promise<CreatedSecretBody> {
  return replayable('created the secret', (key) => client.createSecret(params, key), how);
}

/**
 * The same for any request whose 201 carries a secret (a secret's create, a rotation's start), sent by `send` with
 * the key.
 */
export async function replayable<T>(what: string, send: (key: string) => Promise<T>, how: ReplayableHow<T>): Promise<T> {
  const { key, file, replay } = how;
  let answered = false;
  const onSignal = () => {
    // Once the answer is here the file is being written, which takes a moment: let it finish.
    if (answered) return;
    void (file?.abandon() ?? Promise.resolve()).finally(() => {
      process.stderr.write(`secure-mode: interrupted: ${replayHint(what, key, replay)}\n`);
      process.exit(EXIT.interrupted);
    });
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    let created: T;
    try {
      created = await send(key);
    } catch (err) {
      await file?.abandon();
      if (isTransient(err))
        throw new CliError(`${(toCliError(err) as Error).message}; ${replayHint(what, key, replay)}`, EXIT.unavailable);
      throw err;
    }
    answered = true;
    await how.deliver(created);
    return created;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}
