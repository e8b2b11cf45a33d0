import type { Command } from 'commander';
import type { Workspace } from '../domain/model.js';
import { withLocalServices } from './local.js';
import { printResult } from './output.js';

const COLUMNS = ['app_id', 'name', 'default_version', 'rate_limit', 'created_at'];

export function presentWorkspace(w: Workspace): Record<string, unknown> {
  return { app_id: w.appId, name: w.name, default_version: w.defaultVersion, rate_limit: w.rateLimit, created_at: w.createdAt };
}

export function registerWorkspaceCommands(program: Command): void {
  const workspaces = program.command('workspaces').description('manage workspaces in the local database');
  workspaces
    .command('create')
    .description('create a workspace; prints its public app_id')
    .requiredOption('--name <name>', 'workspace name')
    .option('--default-version <version>', 'API version used when a request has no Intercom-Version header', 'Preview')
    .option('--rate-limit <n>', 'requests per 10 seconds for this workspace', (v) => Number(v))
    .option('--create', 'create the local database and its master key if there is none yet')
    .option('--json', 'print JSON')
    .action(async (opts: { name: string; defaultVersion: string; rateLimit?: number; create?: boolean; json?: boolean }) => {
      const workspace = await withLocalServices(
        (s) =>
          s.workspaces.createWorkspace({
            name: opts.name,
            defaultVersion: opts.defaultVersion,
            ...(opts.rateLimit !== undefined ? { rateLimit: opts.rateLimit } : {}),
          }),
        { create: opts.create === true },
      );
      printResult(opts.json === true, presentWorkspace(workspace), COLUMNS);
    });
  workspaces
    .command('list')
    .description('list workspaces')
    .option('--json', 'print JSON')
    .action(async (opts: { json?: boolean }) => {
      const list = await withLocalServices((s) => s.workspaces.listWorkspaces());
      printResult(opts.json === true, list.map(presentWorkspace), COLUMNS);
    });
}
