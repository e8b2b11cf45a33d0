import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { PREVIEW } from '../domain/api-version.js';
import {
  type ApiClient,
  ApiRequestError,
  type RotationBody,
  type RotationWithMaterialBody,
  type StartRotationParams,
} from './api-client.js';
import { isTransient, replayable } from './create-replay.js';
import { durationSeconds, formatSeconds } from './duration.js';
import { type HttpOptions, toCliError } from './http-options.js';
import { CliError, EXIT, printTable } from './output.js';
import { NO_ROTATIONS_API, ROTATION_COLUMNS, isOpen, rotationProgressLine, rotationRow } from './rotation-view.js';
import { SecretFile } from './secret-file.js';
import { deliverSecret } from './secret-view.js';

export interface ServerRotationOptions extends HttpOptions {
  name?: string;
  idleFor?: string;
  /** Unix seconds, already parsed: a replay must send the very same body. */
  deadline?: number;
  idempotencyKey?: string;
  outputSecret?: string;
  /** The server runs its rollout command with the new secret: nothing is shown here. */
  deliver?: boolean;
  /** commander's --no-wait. */
  wait: boolean;
  pollMs: number;
  timeoutMs: number;
}

/** --json output: one event per line, as the client-side loop prints them. */
function emit(event: Record<string, unknown>): void {
  process.stdout.write(`${JSON.stringify(event)}\n`);
}

const note = (message: string) => process.stderr.write(`secure-mode: ${message}\n`);

/** The signals that end a watch: the rotation itself goes on, on the server. */
export function detachOnSignal(): { signal: AbortSignal; release: () => void } {
  const stop = new AbortController();
  const onSignal = () => stop.abort();
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  return {
    signal: stop.signal,
    release: () => {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    },
  };
}

/** The command that attaches to a rotation again, against the same server. */
export function watchCommand(id: string, opts: HttpOptions): string {
  return ['secure-mode secrets rotate', ...(opts.url ? [`--url ${opts.url}`] : []), `--watch ${id}`].join(' ');
}

/**
 * Starts a rotation on the server. The successor's secret is shown once (or written to the reserved file) before
 * anything else, unless the server delivers it (--deliver: its rollout command gets it, the 201 has none); the start carries an Idempotency-Key and is retried once with it when the answer was lost, so a
 * retry never starts a second rotation. Answers undefined when the server has no rotations API (404 not_found, as
 * Intercom answers an unknown path): the caller then rotates client-side.
 */
export async function startServerRotation(
  client: ApiClient,
  secretId: string,
  opts: ServerRotationOptions,
): Promise<RotationBody | undefined> {
  const json = opts.json === true;
  const params: StartRotationParams = {
    secret_id: secretId,
    ...(opts.name !== undefined ? { name: opts.name } : {}),
    ...(opts.idleFor !== undefined ? { idle_for: durationSeconds(opts.idleFor, '--idle-for') } : {}),
    ...(opts.deadline !== undefined ? { deadline: opts.deadline } : {}),
    ...(opts.deliver ? { deliver: true } : {}),
  };
  const file = opts.outputSecret === undefined ? undefined : await SecretFile.reserve(opts.outputSecret);
  const key = opts.idempotencyKey ?? `rotate-${randomUUID()}`;
  const replay = [
    ...['secure-mode', 'secrets', 'rotate', secretId, ...(opts.url === undefined ? [] : ['--url', opts.url])],
    ...(opts.intercomVersion === PREVIEW ? [] : ['--intercom-version', opts.intercomVersion]),
    ...['--idempotency-key', key],
    ...(opts.name === undefined ? [] : ['--name', opts.name]),
    ...(opts.idleFor === undefined ? [] : ['--idle-for', opts.idleFor]),
    ...(opts.deadline === undefined ? [] : ['--deadline', String(opts.deadline)]),
    ...(opts.outputSecret === undefined ? [] : ['--output-secret', opts.outputSecret]),
    ...(opts.deliver ? ['--deliver'] : []),
    ...(opts.json ? ['--json'] : []),
  ];
  let started: RotationWithMaterialBody;
  try {
    started = await replayable(
      'started the rotation',
      async (k) => {
        try {
          return await client.startRotation(params, k);
        } catch (err) {
          if (!isTransient(err)) throw err;
          return client.startRotation(params, k);
        }
      },
      {
        key,
        file,
        replay,
        deliver: async (r) => {
          if (opts.deliver) return;
          if (r.secret === undefined) throw new CliError('the server answered the start without the new secret', EXIT.failure);
          return deliverSecret({ id: r.to_secret_id, secret: r.secret }, file, json);
        },
      },
    );
  } catch (err) {
    if (err instanceof ApiRequestError && err.status === 404 && err.code === 'not_found') return undefined;
    if (err instanceof ApiRequestError && err.code === 'rotation_in_progress') {
      const open = (await client.listRotations().catch(() => [])).find(
        (r) => isOpen(r) && (r.from_secret_id === secretId || r.to_secret_id === secretId),
      );
      if (open)
        throw new CliError(`${(toCliError(err) as Error).message}; watch it with: ${watchCommand(open.id, opts)}`, EXIT.refused);
    }
    throw err;
  }
  const { secret: _secret, ...rotation } = started;
  if (json) emit({ event: 'started', rotation: file ? rotation : started });
  else {
    const platforms = Object.keys(rotation.platforms).join(',');
    const deploy = rotation.deliver ? `the server delivers it with its rollout command (it is not shown here)` : 'deploy it';
    note(
      `started rotation ${rotation.id} on the server: new secret ${rotation.to_secret_id} replaces ${rotation.from_secret_id} (${platforms}); ` +
        `${deploy}: the server deletes ${rotation.from_secret_id} by itself once ${rotation.to_secret_id} has verified on every platform and ${rotation.from_secret_id} has verified nothing for ${formatSeconds(rotation.idle_for)}`,
    );
  }
  return rotation;
}

/**
 * Polls a rotation and shows its progress until it is completed (returns) or cancelled (exit 1). SIGINT/SIGTERM or
 * the timeout only detach (exit 130, 5): the rotation goes on on the server, and the command that watches it again
 * is printed.
 */
export async function watchRotation(
  client: ApiClient,
  first: RotationBody | string,
  opts: HttpOptions & { pollMs: number; timeoutMs: number },
  stop: AbortSignal,
): Promise<void> {
  const json = opts.json === true;
  const id = typeof first === 'string' ? first : first.id;
  const tty = process.stderr.isTTY === true;
  const deadline = Date.now() + opts.timeoutMs;
  let rotation: RotationBody | undefined = typeof first === 'string' ? undefined : first;
  let lastShown = '';
  let lastLineAt = 0;
  const detach = (why: string, exitCode: number): never => {
    if (tty && !json) process.stderr.write('\n');
    const watch = watchCommand(id, opts);
    if (json) emit({ event: exitCode === EXIT.interrupted ? 'detached' : 'timed_out', rotation_id: id, watch });
    const old = rotation ? ` (${rotation.from_secret_id} stays live until then)` : '';
    throw new CliError(
      `${why}: rotation ${id} goes on on the server, which finishes it by itself${old}. Watch it again with: ${watch}`,
      exitCode,
    );
  };
  for (;;) {
    if (stop.aborted) detach('detached', EXIT.interrupted);
    try {
      rotation = await client.getRotation(id);
    } catch (err) {
      if (err instanceof ApiRequestError && err.code === 'not_found')
        throw new CliError(`${(toCliError(err) as Error).message}; ${NO_ROTATIONS_API}`, EXIT.refused);
      if (!isTransient(err)) throw err;
      note(`${(err as Error).message}; retrying`);
    }
    if (rotation) {
      const shown = JSON.stringify(rotation);
      if (json) {
        if (shown !== lastShown) emit({ event: isOpen(rotation) ? 'progress' : rotation.state, rotation });
      } else {
        const line = rotationProgressLine(rotation, Math.floor(Date.now() / 1000));
        // On a terminal the line updates in place; in a log, a line when the rotation changes or once a minute.
        if (tty) process.stderr.write(`\r\x1b[2K${line}`);
        else if (shown !== lastShown || Date.now() - lastLineAt >= 60_000) {
          process.stderr.write(`${line}\n`);
          lastLineAt = Date.now();
        }
      }
      lastShown = shown;
      if (!isOpen(rotation)) {
        if (tty && !json) process.stderr.write('\n');
        if (!json) printTable([rotationRow(rotation)], ROTATION_COLUMNS);
        if (rotation.state === 'completed') {
          if (!json)
            note(`rotation ${id} completed: ${rotation.from_secret_id} is deleted, ${rotation.to_secret_id} is the secret now`);
          return;
        }
        throw new CliError(
          `rotation ${id} was cancelled: ${rotation.from_secret_id} stays live (see secure-mode audit list --action rotation.cancelled)`,
          EXIT.failure,
        );
      }
    }
    if (Date.now() + opts.pollMs > deadline)
      detach(`stopped watching after ${formatSeconds(opts.timeoutMs / 1000)}`, EXIT.timedOut);
    await sleep(opts.pollMs, undefined, { signal: stop }).catch(() => undefined);
  }
}
