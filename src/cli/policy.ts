import type { Command } from 'commander';
import type { RotationPolicyBody, UpdateRotationPolicyParams } from './api-client.js';
import { durationSeconds, formatSeconds } from './duration.js';
import { type HttpOptions, addHttpOptions, clientFrom } from './http-options.js';
import { CliError, EXIT, printResult } from './output.js';
import { isoTime } from './secret-view.js';

type Opts = HttpOptions & Record<string, unknown>;

export const POLICY_COLUMNS = ['max_age_days', 'idle_for', 'auto_rotate', 'updated'];

export function policyRow(p: RotationPolicyBody): Record<string, unknown> {
  return {
    max_age_days: p.max_age_days ?? 'none',
    idle_for: formatSeconds(p.idle_for),
    auto_rotate: p.auto_rotate ? 'yes' : 'no',
    updated: isoTime(p.updated_at),
  };
}

/** "90" → 90, "none" → null (no maximum age); the server checks the range. */
export function parseMaxAgeDays(text: string): number | null {
  if (text.trim() === 'none') return null;
  if (!/^[0-9]+$/.test(text.trim()))
    throw new CliError(`--max-age-days must be a whole number of days or "none" (got "${text}")`, EXIT.usage);
  return Number(text.trim());
}

/** `policy get|set`: the workspace's rotation policy (secure-mode only, see docs/rotation.md). */
export function registerPolicyCommands(program: Command): void {
  const policy = addHttpOptions(
    program
      .command('policy')
      .description("the workspace's rotation policy: when a secret is due, and whether the server rotates it by itself"),
  );

  policy
    .command('get')
    .description('show the rotation policy')
    .option('--json', 'print JSON')
    .action(async (_o: Opts, cmd: Command) => {
      const opts = cmd.optsWithGlobals<Opts>();
      const p = await clientFrom(opts).getRotationPolicy();
      printResult(opts.json === true, opts.json ? p : policyRow(p), POLICY_COLUMNS);
    });

  policy
    .command('set')
    .description('change the rotation policy; what is not given keeps its value')
    .option('--max-age-days <days>', 'a live secret older than this is due for rotation (secret.due_for_rotation); "none": never')
    .option('--idle-for <duration>', "idle_for of the rotations the server starts, and of secrets rotate's default, e.g. 1h")
    .option('--auto-rotate', 'the server starts a delivering rotation of each due secret (needs its SECURE_MODE_ROLLOUT_COMMAND)')
    .option('--no-auto-rotate', 'due secrets are only reported (events, metrics)')
    .option('--json', 'print JSON')
    .action(async (_o: Opts, cmd: Command) => {
      const opts = cmd.optsWithGlobals<Opts & { maxAgeDays?: string; idleFor?: string; autoRotate?: boolean }>();
      const client = clientFrom(opts);
      const params: UpdateRotationPolicyParams = {
        ...(opts.maxAgeDays !== undefined ? { max_age_days: parseMaxAgeDays(opts.maxAgeDays) } : {}),
        ...(opts.idleFor !== undefined ? { idle_for: durationSeconds(opts.idleFor, '--idle-for') } : {}),
        ...(opts.autoRotate !== undefined ? { auto_rotate: opts.autoRotate } : {}),
      };
      if (Object.keys(params).length === 0)
        throw new CliError('give --max-age-days, --idle-for, --auto-rotate or --no-auto-rotate', EXIT.usage);
      const p = await client.updateRotationPolicy(params);
      printResult(opts.json === true, opts.json ? p : policyRow(p), POLICY_COLUMNS);
    });
}
