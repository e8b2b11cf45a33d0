import type { Command } from 'commander';
import type { AuditListBody } from './api-client.js';
import { parseWhen } from './duration.js';
import { type HttpOptions, addHttpOptions, clientFrom } from './http-options.js';
import { CliError, EXIT, printJson, printTable } from './output.js';
import { isoTime } from './secret-view.js';

type Event = AuditListBody['data'][number];

function eventRow(e: Event): Record<string, unknown> {
  const details = Object.entries(e.details)
    .map(([k, v]) => `${k}=${v === null ? 'null' : String(v)}`)
    .join(' ');
  return {
    id: e.id,
    time: isoTime(e.created_at),
    action: e.action,
    target: `${e.target.type}:${e.target.id}`,
    actor: e.actor.token_id === null ? 'system' : `token:${e.actor.token_id}`,
    ip: e.actor.ip,
    details,
  };
}

export function registerAuditCommands(program: Command): void {
  const audit = addHttpOptions(program.command('audit').description('the audit log over the HTTP API (secure-mode only)'));
  audit
    .command('list')
    .description('who created, changed, deleted or expired secrets and tokens, newest first')
    .option('--since <when>', 'Unix seconds, ISO date, or -duration (e.g. -24h)')
    .option('--until <when>', 'Unix seconds, ISO date, or -duration')
    .option('--action <list>', 'comma-separated actions, e.g. secret.deleted,secret.expired')
    .option('--limit <n>', 'events per page (1–200)', '50')
    .option('--all', 'follow pages to the end')
    .option('--json', 'print JSON')
    .action(async (_o: unknown, cmd: Command) => {
      const opts = cmd.optsWithGlobals<
        HttpOptions & { since?: string; until?: string; action?: string; limit: string; all?: boolean }
      >();
      if (!/^[0-9]{1,3}$/.test(opts.limit)) throw new CliError('--limit must be a number from 1 to 200', EXIT.usage);
      const client = clientFrom(opts);
      const events: Event[] = [];
      let cursor: string | undefined;
      do {
        const page = await client.listAudit({
          ...(opts.since !== undefined ? { since: parseWhen(opts.since, '--since') } : {}),
          ...(opts.until !== undefined ? { until: parseWhen(opts.until, '--until') } : {}),
          ...(opts.action !== undefined ? { actions: opts.action.split(',').map((a) => a.trim()) } : {}),
          limit: Number(opts.limit),
          ...(cursor !== undefined ? { startingAfter: cursor } : {}),
        });
        events.push(...page.data);
        cursor = page.pages.next?.starting_after;
      } while (opts.all && cursor !== undefined);
      if (opts.json) printJson(events);
      else printTable(events.map(eventRow), ['id', 'time', 'action', 'target', 'actor', 'ip', 'details']);
      if (!opts.all && cursor !== undefined)
        process.stderr.write('secure-mode: more events: add --all, or narrow with --since/--until\n');
    });
}
