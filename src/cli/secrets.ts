import { randomUUID } from 'node:crypto';
import type { Command } from 'commander';
import { PLATFORMS } from '../domain/model.js';
import { durationSeconds, parseWhen } from './duration.js';
import { type HttpOptions, addHttpOptions, clientFrom } from './http-options.js';
import { CliError, EXIT, printJson, printResult, printTable } from './output.js';
import { registerRotateCommand } from './rotate.js';
import { SecretFile } from './secret-file.js';
import { createReplayable } from './create-replay.js';
import { confirmOnTerminal } from './confirm.js';
import { PREVIEW } from '../domain/api-version.js';
import { SECRET_COLUMNS, deliverSecret, isoTime, parsePlatforms, secretRow, usageRows } from './secret-view.js';

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
    .option('-y, --yes', 'do not ask for confirmation (asked only on a terminal)')
    .option('--json', 'print JSON')
    .action(async (id: string, _o: Opts, cmd: Command) => {
      const opts = cmd.optsWithGlobals<Opts & { ifIdleFor?: string; yes?: boolean }>();
      const client = clientFrom(opts);
      const idle = opts.ifIdleFor === undefined ? undefined : durationSeconds(opts.ifIdleFor, '--if-idle-for');
      await confirmOnTerminal(`delete secret ${id}? Traffic signed with it fails from then on. [y/N] `, opts.yes);
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
