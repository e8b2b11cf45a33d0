import type { Command } from 'commander';
import { SCOPES } from '../domain/scopes.js';
import type { AccessToken } from '../domain/model.js';
import { withLocalServices } from './local.js';
import { CliError, EXIT, printResult } from './output.js';

const COLUMNS = ['id', 'name', 'scopes', 'created_at', 'revoked_at'];
const LIST_COLUMNS = ['id', 'app_id', 'name', 'scopes', 'created_at', 'revoked_at'];

function presentToken(t: AccessToken, appId?: string): Record<string, unknown> {
  return {
    id: t.id,
    ...(appId ? { app_id: appId } : {}),
    name: t.name,
    scopes: t.scopes,
    created_at: t.createdAt,
    revoked_at: t.revokedAt,
  };
}

export function registerTokenCommands(program: Command): void {
  const tokens = program.command('tokens').description('manage API access tokens in the local database');
  tokens
    .command('create')
    .description('create an access token; its value is printed once and never stored')
    .requiredOption('--workspace <app_id>', 'app_id of the workspace the token is bound to')
    .requiredOption('--scopes <list>', `comma-separated scopes: ${SCOPES.join(', ')}`)
    .option('--name <name>', 'a label for the token', 'cli')
    .option('--json', 'print JSON')
    .action(async (opts: { workspace: string; scopes: string; name: string; json?: boolean }) => {
      const scopes = opts.scopes
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean);
      const { token, value } = await withLocalServices(async (s) => {
        const workspace = await s.workspaces.requireWorkspace(opts.workspace);
        return s.workspaces.createToken(workspace, scopes, opts.name);
      });
      printResult(opts.json === true, { token: value, ...presentToken(token, opts.workspace) }, ['id', 'token', 'scopes']);
    });
  tokens
    .command('list')
    .description('list access tokens (never their values)')
    .option('--workspace <app_id>', 'only this workspace')
    .option('--json', 'print JSON')
    .action(async (opts: { workspace?: string; json?: boolean }) => {
      const { list, appIds } = await withLocalServices(async (s) => {
        const workspace = opts.workspace ? await s.workspaces.requireWorkspace(opts.workspace) : undefined;
        const appIds = new Map((await s.workspaces.listWorkspaces()).map((w) => [w.id, w.appId]));
        return { list: await s.workspaces.listTokens(workspace?.id), appIds };
      });
      printResult(
        opts.json === true,
        list.map((t) => presentToken(t, appIds.get(t.workspaceId))),
        LIST_COLUMNS,
      );
    });
  tokens
    .command('revoke')
    .description('revoke an access token by id; it stops working at once')
    .argument('<id>', 'token id (from tokens list)')
    .option('--json', 'print JSON')
    .action(async (id: string, opts: { json?: boolean }) => {
      if (!/^[0-9]+$/.test(id)) throw new CliError(`token id must be a number, got "${id}"`, EXIT.usage);
      const token = await withLocalServices((s) => s.workspaces.revokeToken(Number(id)));
      if (!token) throw new CliError(`no token with id ${id}`, EXIT.refused);
      printResult(opts.json === true, presentToken(token), COLUMNS);
    });
}
