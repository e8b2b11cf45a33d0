import type { Command } from 'commander';
import { ApiRequestError, type RotationBody } from './api-client.js';
import { type HttpOptions, clientFrom, toCliError } from './http-options.js';
import { CliError, EXIT, printJson, printTable } from './output.js';
import { NO_ROTATIONS_API, PLATFORM_COLUMNS, ROTATION_COLUMNS, platformRows, rotationRow } from './rotation-view.js';

type Opts = HttpOptions & Record<string, unknown>;

function printRotation(r: RotationBody, json: boolean): void {
  if (json) return printJson(r);
  printTable([rotationRow(r)], ROTATION_COLUMNS);
  process.stdout.write('\n');
  printTable(platformRows(r), PLATFORM_COLUMNS);
}

/**
 * The server's refusal, with what the CLI can add: which option overrides it (the server's message names the API's
 * query parameter), or that the server has no rotations at all.
 */
async function hinted<T>(call: Promise<T>, hints: Record<string, string> = {}): Promise<T> {
  try {
    return await call;
  } catch (err) {
    const table: Record<string, string> = { not_found: NO_ROTATIONS_API, ...hints };
    const hint = err instanceof ApiRequestError && Object.hasOwn(table, err.code) ? table[err.code] : undefined;
    if (hint !== undefined) throw new CliError(`${(toCliError(err) as Error).message}; ${hint}`, EXIT.refused);
    throw err;
  }
}

/** `secrets rotations …`: the server-side rotation objects (secure-mode only; Intercom has none). */
export function registerRotationCommands(secrets: Command): void {
  const rotations = secrets
    .command('rotations')
    .description('server-side rotations, as started by secrets rotate (secure-mode only)');

  rotations
    .command('list')
    .description('rotations, newest first (never a secret)')
    .option('--json', 'print JSON')
    .action(async (_o: Opts, cmd: Command) => {
      const opts = cmd.optsWithGlobals<Opts>();
      const list = await hinted(clientFrom(opts).listRotations());
      if (opts.json) printJson(list);
      else printTable(list.map(rotationRow), ROTATION_COLUMNS);
    });

  rotations
    .command('get')
    .description("one rotation with each platform's old and new last verification")
    .argument('<id>', 'rotation id')
    .option('--json', 'print JSON')
    .action(async (id: string, _o: Opts, cmd: Command) => {
      const opts = cmd.optsWithGlobals<Opts>();
      printRotation(await hinted(clientFrom(opts).getRotation(id)), opts.json === true);
    });

  rotations
    .command('cancel')
    .description('cancel: the old secret stays live; the new one is deleted if it never verified (else refused, see --keep-new)')
    .argument('<id>', 'rotation id')
    .option('--keep-new', 'cancel even though the new secret verified, and keep it live too')
    .option('--json', 'print JSON')
    .action(async (id: string, _o: Opts, cmd: Command) => {
      const opts = cmd.optsWithGlobals<Opts & { keepNew?: boolean }>();
      const cancelled = await hinted(clientFrom(opts).cancelRotation(id, opts.keepNew === true), {
        identity_verification_secret_in_use: `to cancel and keep the new secret live too: secure-mode secrets rotations cancel ${id} --keep-new`,
      });
      printRotation(cancelled, opts.json === true);
    });

  rotations
    .command('complete')
    .description(
      'delete the old secret now, if the new one verified on every platform and the old one is idle (else refused, see --force)',
    )
    .argument('<id>', 'rotation id')
    .option('--force', 'delete the old secret whatever its traffic (a leaked secret): traffic signed with it fails from now on')
    .option('--json', 'print JSON')
    .action(async (id: string, _o: Opts, cmd: Command) => {
      const opts = cmd.optsWithGlobals<Opts & { force?: boolean }>();
      const force = `the server completes it by itself once ready; to delete the old secret now anyway (a leaked secret): secure-mode secrets rotations complete ${id} --force`;
      const completed = await hinted(clientFrom(opts).completeRotation(id, opts.force === true), {
        rotation_not_ready: force,
        identity_verification_secret_in_use: force,
      });
      printRotation(completed, opts.json === true);
    });
}
