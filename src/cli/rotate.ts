import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Command } from 'commander';
import { MAX_NAME_LENGTH } from '../domain/secret-input.js';
import {
  type ApiClient,
  ApiRequestError,
  type CreatedSecretBody,
  type SecretBody,
  type SecretDetailBody,
  type UsageBody,
} from './api-client.js';
import type { Platform } from '../domain/model.js';
import { isTransient } from './create-replay.js';
import { durationSeconds, formatSeconds, parseDuration, parseWhen } from './duration.js';
import { type HttpOptions, clientFrom } from './http-options.js';
import { CliError, EXIT, printTable } from './output.js';
import { NO_ROTATIONS_API } from './rotation-view.js';
import { registerRotationCommands } from './rotations.js';
import { SecretFile } from './secret-file.js';
import { detachOnSignal, startServerRotation, watchCommand, watchRotation } from './server-rotation.js';
import { SECRET_COLUMNS, deliverSecret, parsePlatforms, platformsOf, secretRow } from './secret-view.js';

export interface RotateOptions extends HttpOptions {
  from: string;
  to?: string;
  name?: string;
  platforms?: string;
  idleFor: string;
  timeout: string;
  /** commander's --no-wait. */
  wait: boolean;
  outputSecret?: string;
  pollInterval: string;
}

export interface Progress {
  oldCount: number;
  newCount: number;
  /** Share of the window's verifications made with the new secret, 0–1; null with no traffic at all. */
  newShare: number | null;
  oldLastVerifiedAt: number | null;
  /** Seconds since the old secret last verified; null if it never did. */
  oldIdleSeconds: number | null;
}

/** --json output: one event per line, so a script can act on each as it comes. */
function emit(event: Record<string, unknown>): void {
  process.stdout.write(`${JSON.stringify(event)}\n`);
}

const sum = (usage: UsageBody) => usage.buckets.reduce((n, b) => n + b.web + b.ios + b.android, 0);

export function measure(oldUsage: UsageBody, newUsage: UsageBody, nowSeconds: number): Progress {
  const oldCount = sum(oldUsage);
  const newCount = sum(newUsage);
  const last = oldUsage.last_verified_at;
  return {
    oldCount,
    newCount,
    newShare: oldCount + newCount === 0 ? null : newCount / (oldCount + newCount),
    oldLastVerifiedAt: last,
    oldIdleSeconds: last === null ? null : Math.max(0, nowSeconds - last),
  };
}

/** Minute buckets over the idle window (coarser past 1000 minutes, the API's bucket limit). */
/**
 * The platforms of the old secret on which the successor has verified nothing in the last week (the longest window
 * the API reports, longer than any rotation's timeout): while one is left, traffic stopping on the old secret is not
 * a cut-over, so the old secret must stay.
 */
export function platformsNotCutOver(old: SecretBody, successor: Pick<SecretDetailBody, 'usage'>): Platform[] {
  return platformsOf(old).filter((p) => successor.usage.last_week[p] === 0);
}

export function usageWindow(idleSeconds: number): { window: number; bucket: number } {
  const bucket = 60 * Math.max(1, Math.ceil(idleSeconds / 60 / 1000));
  return { window: Math.max(bucket, Math.ceil(idleSeconds / bucket) * bucket), bucket };
}

export function defaultNewName(oldName: string, nowMs: number): string {
  const suffix = ` (rotated ${new Date(nowMs).toISOString().slice(0, 10)})`;
  return `${[...oldName].slice(0, MAX_NAME_LENGTH - suffix.length).join('')}${suffix}`;
}

function progressLine(oldId: string, newId: string, p: Progress, idleSeconds: number, windowSeconds: number): string {
  const share =
    p.newShare === null
      ? `no verifications in the last ${formatSeconds(windowSeconds)}`
      : `old ${oldId} ${Math.round((1 - p.newShare) * 100)}% · new ${newId} ${Math.round(p.newShare * 100)}% of ${p.oldCount + p.newCount} verifications in the last ${formatSeconds(windowSeconds)}`;
  const idle =
    p.oldIdleSeconds === null
      ? `old ${oldId} never verified`
      : `old ${oldId} last verified ${formatSeconds(p.oldIdleSeconds)} ago (needs ${formatSeconds(idleSeconds)})`;
  return `${share}; ${idle}`;
}

/**
 * Creates the new secret (or takes --to), then waits until the old one has verified nothing for the idle window and
 * deletes it with the server-side guard. An interruption (SIGINT/SIGTERM) or timeout deletes nothing: both secrets
 * stay valid and the resume command is printed.
 */
export async function rotate(client: ApiClient, opts: RotateOptions): Promise<void> {
  const json = opts.json === true;
  const idleSeconds = durationSeconds(opts.idleFor, '--idle-for');
  const timeoutMs = parseDuration(opts.timeout, '--timeout');
  const pollMs = Math.max(100, parseDuration(opts.pollInterval, '--poll-interval'));
  const flags = opts.platforms === undefined ? undefined : parsePlatforms(opts.platforms);
  if (opts.to !== undefined && (opts.name !== undefined || flags !== undefined || opts.outputSecret !== undefined)) {
    throw new CliError('--to resumes with an existing secret: --name, --platforms and --output-secret do not apply', EXIT.usage);
  }
  const note = (message: string) => process.stderr.write(`secure-mode: ${message}\n`);

  const stop = new AbortController();
  const onSignal = () => stop.abort();
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    const live = await client.listSecrets();
    const old = live.find((s) => s.id === opts.from);
    if (!old) throw new CliError(`no live secret with id ${opts.from}`, EXIT.refused);
    let fresh: SecretBody;
    if (opts.to !== undefined) {
      const existing = live.find((s) => s.id === opts.to);
      if (!existing) throw new CliError(`no live secret with id ${opts.to}`, EXIT.refused);
      if (existing.id === old.id) throw new CliError('--from and --to name the same secret', EXIT.usage);
      fresh = existing;
      note(`resuming rotation from ${old.id} "${old.name}" to ${fresh.id} "${fresh.name}"`);
      if (json) emit({ event: 'resumed', old, new: fresh });
    } else {
      const file = opts.outputSecret === undefined ? undefined : await SecretFile.reserve(opts.outputSecret);
      let created: CreatedSecretBody;
      try {
        created = await createOnce(client, {
          name: opts.name ?? defaultNewName(old.name, Date.now()),
          ...(flags ?? {
            supports_web: old.supports_web,
            supports_ios: old.supports_ios,
            supports_android: old.supports_android,
          }),
        });
      } catch (err) {
        await file?.abandon();
        throw err;
      }
      await deliverSecret(created, file, json);
      const { secret: _secret, ...metadata } = created;
      if (json) emit({ event: 'created', old, new: file ? metadata : created });
      else note(`created ${created.id} "${created.name}" (${platformsOf(created).join(',')}) to replace ${old.id} "${old.name}"`);
      fresh = metadata;
    }

    const resume = [
      'secure-mode secrets rotate',
      ...(opts.url ? [`--url ${opts.url}`] : []),
      `--from ${old.id} --to ${fresh.id} --idle-for ${opts.idleFor} --timeout ${opts.timeout}`,
    ].join(' ');
    if (!opts.wait) {
      note(`not waiting: both secrets stay valid. Once traffic has moved to ${fresh.id}, finish with: ${resume}`);
      if (json) emit({ event: 'created_only', old_id: old.id, new_id: fresh.id, resume });
      return;
    }
    if (stop.signal.aborted) return interrupted(old.id, fresh.id, resume, json);

    note(
      `deploy the new secret; waiting until ${old.id} has verified nothing for ${formatSeconds(idleSeconds)} (timeout ${formatSeconds(timeoutMs / 1000)}; Ctrl-C stops and keeps both secrets valid)`,
    );
    const { window, bucket } = usageWindow(idleSeconds);
    const deadline = Date.now() + timeoutMs;
    const tty = process.stderr.isTTY === true;
    let lastLine = '';
    let lastLineAt = 0;
    let lastMissing = '';
    for (;;) {
      try {
        const [oldUsage, newUsage] = await Promise.all([
          client.usage(old.id, window, bucket),
          client.usage(fresh.id, window, bucket),
        ]);
        const p = measure(oldUsage, newUsage, Math.floor(Date.now() / 1000));
        if (json) {
          emit({
            event: 'progress',
            old_id: old.id,
            new_id: fresh.id,
            window_seconds: window,
            old_count: p.oldCount,
            new_count: p.newCount,
            new_share: p.newShare,
            old_last_verified_at: p.oldLastVerifiedAt,
            old_idle_seconds: p.oldIdleSeconds,
          });
        } else {
          const line = progressLine(old.id, fresh.id, p, idleSeconds, window);
          // On a terminal the line updates in place; in a log, a line when it changes or once a minute.
          if (tty) process.stderr.write(`\r\x1b[2K${line}`);
          else if (line !== lastLine || Date.now() - lastLineAt >= 60_000) {
            process.stderr.write(`${line}\n`);
            lastLineAt = Date.now();
          }
          lastLine = line;
        }
        const idle = p.oldIdleSeconds === null || p.oldIdleSeconds >= idleSeconds;
        const missing = idle ? platformsNotCutOver(old, await client.getSecret(fresh.id)) : [];
        if (idle && missing.length > 0 && !json && missing.join() !== lastMissing) {
          note(`${old.id} is idle, but ${fresh.id} has not verified on ${missing.join(', ')} yet: ${old.id} stays`);
        }
        lastMissing = missing.join();
        if (idle && missing.length === 0) {
          try {
            await client.deleteSecret(old.id, idleSeconds);
            if (tty && !json) process.stderr.write('\n');
            if (json) emit({ event: 'deleted', old_id: old.id, new_id: fresh.id });
            else {
              note(`${old.id} verified nothing for ${formatSeconds(idleSeconds)}: deleted. Rotation complete.`);
              printTable([secretRow(fresh)], SECRET_COLUMNS);
            }
            return;
          } catch (err) {
            // 409: it verified again between our look and the delete; keep waiting.
            if (!(err instanceof ApiRequestError && err.status === 409)) throw err;
          }
        }
      } catch (err) {
        if (err instanceof ApiRequestError && err.code === 'not_found') {
          throw new CliError(
            `this server has no usage API (Intercom?): both secrets stay valid; delete ${old.id} yourself once traffic has moved (secure-mode secrets delete ${old.id})`,
            EXIT.refused,
          );
        }
        if (err instanceof ApiRequestError && err.code === 'identity_verification_secret_not_found') {
          throw new CliError(
            `secret ${old.id} or ${fresh.id} was deleted by someone else; check with: secure-mode secrets list`,
            EXIT.refused,
          );
        }
        if (!isTransient(err)) throw err;
        note(`${(err as Error).message}; retrying`);
      }
      if (stop.signal.aborted) return interrupted(old.id, fresh.id, resume, json);
      if (Date.now() + pollMs > deadline) {
        if (json) emit({ event: 'timed_out', old_id: old.id, new_id: fresh.id, resume });
        throw new CliError(
          `${old.id} was still in use after ${formatSeconds(timeoutMs / 1000)}: nothing deleted, both secrets stay valid. Resume with: ${resume}`,
          EXIT.timedOut,
        );
      }
      await sleep(pollMs, undefined, { signal: stop.signal }).catch(() => undefined);
      if (stop.signal.aborted) return interrupted(old.id, fresh.id, resume, json);
    }
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

function interrupted(oldId: string, newId: string, resume: string, json: boolean): never {
  if (json) emit({ event: 'interrupted', old_id: oldId, new_id: newId, resume });
  throw new CliError(
    `\ninterrupted: nothing was deleted; ${oldId} and ${newId} both stay valid. Resume with: ${resume}`,
    EXIT.interrupted,
  );
}

/** One create, retried once with the same Idempotency-Key if the answer was lost: never two new secrets. */
async function createOnce(client: ApiClient, params: Parameters<ApiClient['createSecret']>[0]): Promise<CreatedSecretBody> {
  const key = `rotate-${randomUUID()}`;
  try {
    return await client.createSecret(params, key);
  } catch (err) {
    if (!isTransient(err)) throw err;
    return client.createSecret(params, key);
  }
}

interface RotateCommandOptions extends Omit<RotateOptions, 'from' | 'idleFor'> {
  from?: string;
  idleFor?: string;
  watch?: string;
  clientSide?: boolean;
  deadline?: string;
  idempotencyKey?: string;
  deliver?: boolean;
}

/**
 * Which rotation runs: --watch attaches to a server-side one; --client-side, --to and --platforms run the loop
 * in this process (the server's rotation keeps the old platforms); otherwise a server-side rotation is started, and
 * a server without the rotations API (Intercom) falls back to the loop.
 */
async function rotateCommand(secretId: string | undefined, opts: RotateCommandOptions): Promise<void> {
  const client = clientFrom(opts);
  const pollMs = Math.max(100, parseDuration(opts.pollInterval, '--poll-interval'));
  const timeoutMs = parseDuration(opts.timeout, '--timeout');
  if (secretId !== undefined && opts.from !== undefined && secretId !== opts.from)
    throw new CliError(`give the secret to rotate once (got ${secretId} and --from ${opts.from})`, EXIT.usage);
  const from = secretId ?? opts.from;
  if (opts.watch !== undefined) {
    const conflicting = [
      [from !== undefined, 'a secret id'],
      [opts.to !== undefined, '--to'],
      [opts.name !== undefined, '--name'],
      [opts.platforms !== undefined, '--platforms'],
      [opts.idleFor !== undefined, '--idle-for'],
      [opts.deadline !== undefined, '--deadline'],
      [opts.outputSecret !== undefined, '--output-secret'],
      [opts.idempotencyKey !== undefined, '--idempotency-key'],
      [opts.clientSide === true, '--client-side'],
      [opts.deliver === true, '--deliver'],
      [!opts.wait, '--no-wait'],
    ].flatMap(([given, what]) => (given ? [what as string] : []));
    if (conflicting.length > 0)
      throw new CliError(`--watch attaches to a started rotation: ${conflicting.join(', ')} do not apply`, EXIT.usage);
    const detach = detachOnSignal();
    try {
      return await watchRotation(client, opts.watch, { ...opts, pollMs, timeoutMs }, detach.signal);
    } finally {
      detach.release();
    }
  }
  if (from === undefined)
    throw new CliError('give the secret to rotate (secure-mode secrets rotate ID) or --watch ROTATION_ID', EXIT.usage);
  const clientSideOpts: RotateOptions = { ...opts, from, idleFor: opts.idleFor ?? CLIENT_SIDE_IDLE_FOR };
  const clientSide = opts.clientSide === true || opts.to !== undefined || opts.platforms !== undefined;
  if (opts.deliver && (clientSide || opts.outputSecret !== undefined))
    throw new CliError(
      '--deliver: the server rolls the new secret out, so --client-side, --to, --platforms and --output-secret do not apply',
      EXIT.usage,
    );
  if (clientSide) {
    if (opts.deadline !== undefined || opts.idempotencyKey !== undefined)
      throw new CliError('--deadline and --idempotency-key are for server-side rotations', EXIT.usage);
    return rotate(client, clientSideOpts);
  }
  const deadline = opts.deadline === undefined ? undefined : parseWhen(opts.deadline, '--deadline');
  // Registered before the start: while the start is unanswered its own handler ends the process with the replay
  // command; a signal once the answer is here (the secret being written) detaches at the first poll instead.
  const detach = detachOnSignal();
  try {
    const { deadline: _text, ...rest } = opts;
    const started = await startServerRotation(client, from, {
      ...rest,
      ...(deadline !== undefined ? { deadline } : {}),
      pollMs,
      timeoutMs,
    });
    if (started === undefined) {
      if (opts.deliver) throw new CliError(`${NO_ROTATIONS_API}: --deliver needs its server-side rotations`, EXIT.refused);
      process.stderr.write(
        `secure-mode: ${NO_ROTATIONS_API}: rotating client-side, from this process, which must keep running\n`,
      );
      if (opts.json) process.stdout.write(`${JSON.stringify({ event: 'client_side', reason: 'no_rotations_api' })}\n`);
      if (deadline !== undefined) process.stderr.write('secure-mode: --deadline does not apply client-side: ignored\n');
      detach.release();
      return await rotate(client, clientSideOpts);
    }
    if (!opts.wait) {
      process.stderr.write(
        `secure-mode: not waiting: the server finishes rotation ${started.id} by itself. Watch it with: ${watchCommand(started.id, opts)}\n`,
      );
      return;
    }
    await watchRotation(client, started, { ...opts, pollMs, timeoutMs }, detach.signal);
  } finally {
    detach.release();
  }
}

/** The client-side loop's idle window when --idle-for is not given; server-side, the server's default applies. */
const CLIENT_SIDE_IDLE_FOR = '15m';

export function registerRotateCommand(secrets: Command): void {
  secrets
    .command('rotate')
    .description(
      'rotate a secret: start a server-side rotation and show its progress (Ctrl-C detaches; the server finishes it), or, ' +
        'against a server without the rotations API (Intercom), create the new secret, wait until the old one is idle and delete it from here',
    )
    .argument('[secret_id]', 'the secret being replaced (or --from)')
    .option('--from <id>', 'the secret being replaced')
    .option('--watch <rotation_id>', 'attach to a started server-side rotation and show its progress until it ends')
    .option('--name <name>', 'name of the new secret (default: the old name + " (rotated DATE)")')
    .option(
      '--idle-for <duration>',
      `how long the old secret must verify nothing before it is deleted (default: the server's, 1h; client-side ${CLIENT_SIDE_IDLE_FOR}; server-side at least 60s)`,
    )
    .option(
      '--deadline <when>',
      'server-side: when the rotation should be done (Unix seconds, ISO date or +duration); past it, it shows as overdue',
    )
    .option('--output-secret <file>', 'write the new secret to this new file (mode 0600) instead of printing it')
    .option(
      '--deliver',
      'server-side: the server rolls the new secret out with its rollout command (SECURE_MODE_ROLLOUT_COMMAND); it is not shown here',
    )
    .option(
      '--idempotency-key <key>',
      'server-side: retrying with the same key within the window returns the same rotation and secret',
    )
    .option('--no-wait', 'start (or create the new secret) and stop')
    .option(
      '--timeout <duration>',
      'stop waiting after this long (server-side the rotation goes on; client-side nothing is deleted)',
      '24h',
    )
    .option('--poll-interval <duration>', 'how often to look at progress', '5s')
    .option('--client-side', 'rotate from this process even if the server has the rotations API')
    .option('--to <id>', 'client-side resume: the replacement already exists (as printed by an interrupted client-side rotate)')
    .option('--platforms <list>', "client-side: platforms of the new secret (default: the old secret's)")
    .option(
      '--json',
      'print JSON lines (server-side events: started, progress, completed, cancelled, detached, timed_out; client-side: created, progress, deleted, interrupted, timed_out)',
    )
    .action(async (secretId: string | undefined, _o: unknown, cmd: Command) => {
      await rotateCommand(secretId, cmd.optsWithGlobals<RotateCommandOptions>());
    });
  registerRotationCommands(secrets);
}
