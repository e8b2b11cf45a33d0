import { randomUUID } from 'node:crypto';
import type { Command } from 'commander';
import { PLATFORMS, type Platform } from '../domain/model.js';
import type { CreatedSecretBody, SecretBody, UsageBody } from './api-client.js';
import { durationSeconds, parseWhen } from './duration.js';
import { type HttpOptions, addHttpOptions, clientFrom } from './http-options.js';
import { CliError, EXIT, printJson, printResult, printTable } from './output.js';
import { registerRotateCommand } from './rotate.js';
import { SecretFile } from './secret-file.js';
import { createReplayable } from './create-replay.js';
import { PREVIEW } from '../domain/api-version.js';

export const SECRET_COLUMNS = ['id', 'name', 'platforms', 'created', 'last_verified', 'expires'];

export function isoTime(unix: number | null | undefined): string | null {
  return unix === null || unix === undefined ? null : new Date(unix * 1000).toISOString().replace('.000Z', 'Z');
}

export function platformsOf(s: { supports_web: boolean; supports_ios: boolean; supports_android: boolean }): Platform[] {
  return PLATFORMS.filter((p) => s[`supports_${p}`]);
}

export function secretRow(s: SecretBody): Record<string, unknown> {
  return {
    id: s.id,
    name: s.name,
    platforms: platformsOf(s).join(','),
    created: isoTime(s.created_at),
    last_verified: isoTime(s.last_verified_at),
    expires: isoTime(s.expires_at),
  };
}

/** "web,ios" → the three supports_* flags; refuses unknown names and an empty list. */
export function parsePlatforms(text: string): { supports_web: boolean; supports_ios: boolean; supports_android: boolean } {
  const names = text
    .split(',')
    .map((p) => p.trim().toLowerCase())
    .filter(Boolean);
  const unknown = names.filter((p) => !(PLATFORMS as readonly string[]).includes(p));
  if (names.length === 0 || unknown.length > 0) {
    throw new CliError(`--platforms must list some of ${PLATFORMS.join(', ')} (got "${text}")`, EXIT.usage);
  }
  return {
    supports_web: names.includes('web'),
    supports_ios: names.includes('ios'),
    supports_android: names.includes('android'),
  };
}

/** Shows a new secret once: into the reserved file, or on stdout. */
export async function deliverSecret(created: CreatedSecretBody, file: SecretFile | undefined, json: boolean): Promise<void> {
  if (file) {
    await file.write(created.secret);
    process.stderr.write(`secure-mode: the secret of ${created.id} is in ${file.path} (mode 0600); it is not shown again\n`);
    return;
  }
  if (json) return;
  process.stdout.write(`secret (shown once, store it now): ${created.secret}\n`);
}

export function usageRows(usage: UsageBody): Record<string, unknown>[] {
  return usage.buckets.map((b) => ({
    start: isoTime(b.start),
    web: b.web,
    ios: b.ios,
    android: b.android,
    total: b.web + b.ios + b.android,
  }));
}

type Opts = HttpOptions & Record<string, unknown>;

export function registerSecretCommands(program: Command): void {
  const secrets = addHttpOptions(
    program
      .command('secrets')
      .description('manage identity verification secrets over the HTTP API (secure-mode, or Intercom for list/create/delete)'),
  );

  secrets
    .command('list')
    .description('list live secrets (never their values)')
    .option('--json', 'print JSON')
    .action(async (_o: Opts, cmd: Command) => {
      const opts = cmd.optsWithGlobals<Opts>();
      const list = await clientFrom(opts).listSecrets();
      if (opts.json) printJson(list);
      else printTable(list.map(secretRow), SECRET_COLUMNS);
    });

  secrets
    .command('get')
    .description('one secret with its verification counts (secure-mode only)')
    .argument('<id>', 'secret id')
    .option('--json', 'print JSON')
    .action(async (id: string, _o: Opts, cmd: Command) => {
      const opts = cmd.optsWithGlobals<Opts>();
      const s = await clientFrom(opts).getSecret(id);
      if (opts.json) return printJson(s);
      printTable([secretRow(s)], SECRET_COLUMNS);
      process.stdout.write('\n');
      printTable(
        (['last_hour', 'last_day', 'last_week'] as const).map((w) => ({ window: w, ...s.usage[w] })),
        ['window', 'web', 'ios', 'android'],
      );
    });

  secrets
    .command('create')
    .description('create a secret; its value is shown once (or written to a new 0600 file)')
    .requiredOption('--name <name>', 'name of the secret')
    .requiredOption('--platforms <list>', `comma-separated: ${PLATFORMS.join(', ')}`)
    .option('--output-secret <file>', 'write the secret to this new file (mode 0600) instead of printing it')
    .option(
      '--idempotency-key <key>',
      'retrying with the same key within the window returns the same secret (default: a random key)',
    )
    .option('--json', 'print JSON')
    .action(async (_o: Opts, cmd: Command) => {
      const opts = cmd.optsWithGlobals<
        Opts & { name: string; platforms: string; outputSecret?: string; idempotencyKey?: string }
      >();
      const client = clientFrom(opts);
      const flags = parsePlatforms(opts.platforms);
      const file = opts.outputSecret === undefined ? undefined : await SecretFile.reserve(opts.outputSecret);
      const key = opts.idempotencyKey ?? randomUUID();
      const created = await createReplayable(
        client,
        { name: opts.name, ...flags },
        {
          key,
          file,
          replay: [
            ...['secure-mode', 'secrets', 'create', ...(opts.url === undefined ? [] : ['--url', opts.url])],
            ...(opts.intercomVersion === PREVIEW ? [] : ['--intercom-version', opts.intercomVersion]),
            ...['--name', opts.name, '--platforms', opts.platforms, '--idempotency-key', key],
            ...(opts.outputSecret === undefined ? [] : ['--output-secret', opts.outputSecret]),
            ...(opts.json ? ['--json'] : []),
          ],
          deliver: (c) => deliverSecret(c, file, opts.json === true),
        },
      );
      if (opts.json) printJson(file ? { ...created, secret: undefined } : created);
      else printTable([secretRow(created)], SECRET_COLUMNS);
    });

  secrets
    .command('update')
    .description(
      'rename, change platforms, or schedule (--expires-at) or cancel (--expires-at none) retirement (secure-mode only)',
    )
    .argument('<id>', 'secret id')
    .option('--name <name>', 'new name')
    .option('--platforms <list>', `comma-separated: ${PLATFORMS.join(', ')} (the others are disabled)`)
    .option('--expires-at <when>', 'Unix seconds, ISO date, +duration (e.g. +24h), or "none" to cancel')
    .option('--json', 'print JSON')
    .action(async (id: string, _o: Opts, cmd: Command) => {
      const opts = cmd.optsWithGlobals<Opts & { name?: string; platforms?: string; expiresAt?: string }>();
      const client = clientFrom(opts);
      const params = {
        ...(opts.name !== undefined ? { name: opts.name } : {}),
        ...(opts.platforms !== undefined ? parsePlatforms(opts.platforms) : {}),
        ...(opts.expiresAt !== undefined
          ? { expires_at: opts.expiresAt === 'none' ? null : parseWhen(opts.expiresAt, '--expires-at') }
          : {}),
      };
      if (Object.keys(params).length === 0) throw new CliError('give --name, --platforms or --expires-at', EXIT.usage);
      const s = await client.updateSecret(id, params);
      printResult(opts.json === true, opts.json ? s : secretRow(s), SECRET_COLUMNS);
    });

  secrets
    .command('delete')
    .description('delete a secret: traffic signed with it fails from now on')
    .argument('<id>', 'secret id')
    .option(
      '--if-idle-for <duration>',
      'refuse (exit 3) while the secret verified anything within this window, e.g. 15m (secure-mode only)',
    )
    .option('--json', 'print JSON')
    .action(async (id: string, _o: Opts, cmd: Command) => {
      const opts = cmd.optsWithGlobals<Opts & { ifIdleFor?: string }>();
      const client = clientFrom(opts);
      const idle = opts.ifIdleFor === undefined ? undefined : durationSeconds(opts.ifIdleFor, '--if-idle-for');
      await client.deleteSecret(id, idle);
      if (opts.json) printJson({ id, deleted: true });
      else process.stdout.write(`deleted ${id}\n`);
    });

  secrets
    .command('usage')
    .description('verifications per platform over time (secure-mode only)')
    .argument('<id>', 'secret id')
    .option('--window <duration>', 'how far back', '24h')
    .option('--bucket <duration>', 'bucket width, whole minutes', '1h')
    .option('--json', 'print JSON')
    .action(async (id: string, _o: Opts, cmd: Command) => {
      const opts = cmd.optsWithGlobals<Opts & { window: string; bucket: string }>();
      const usage = await clientFrom(opts).usage(
        id,
        durationSeconds(opts.window, '--window'),
        durationSeconds(opts.bucket, '--bucket'),
      );
      if (opts.json) return printJson(usage);
      process.stdout.write(`secret ${usage.id}: last verified ${isoTime(usage.last_verified_at) ?? 'never'}\n`);
      printTable(usageRows(usage), ['start', 'web', 'ios', 'android', 'total']);
    });

  registerRotateCommand(secrets);
}
