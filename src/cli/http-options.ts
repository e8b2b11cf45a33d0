import type { Command } from 'commander';
import { PREVIEW } from '../domain/api-version.js';
import { ApiClient, ApiRequestError, ApiUnreachableError } from './api-client.js';
import { CliError, EXIT } from './output.js';

export const DEFAULT_URL = 'http://127.0.0.1:4000';

export interface HttpOptions {
  url?: string;
  token?: string;
  intercomVersion: string;
  json?: boolean;
}

/** The options every command that talks to the HTTP API takes; environment variables fill in what is not given. */
export function addHttpOptions(command: Command): Command {
  return command
    .option('--url <url>', `base URL of the API (env SECURE_MODE_URL; default ${DEFAULT_URL}; https://api.intercom.io works too)`)
    .option('--token <token>', 'access token (env SECURE_MODE_TOKEN)')
    .option('--intercom-version <version>', 'Intercom-Version header', PREVIEW);
}

export function clientFrom(opts: HttpOptions, env: NodeJS.ProcessEnv = process.env): ApiClient {
  const url = opts.url ?? env.SECURE_MODE_URL ?? DEFAULT_URL;
  const token = opts.token ?? env.SECURE_MODE_TOKEN;
  if (!token) throw new CliError('give an access token with --token or SECURE_MODE_TOKEN', EXIT.usage);
  if (!/^https?:\/\//.test(url)) throw new CliError(`--url must start with http:// or https:// (got "${url}")`, EXIT.usage);
  return new ApiClient({ url, token, intercomVersion: opts.intercomVersion });
}

/** API failures as CLI errors: a refusal (4xx) and an outage (429, 5xx, no connection) exit differently. */
export function toCliError(err: unknown): unknown {
  if (err instanceof ApiUnreachableError) return new CliError(err.message, EXIT.unavailable);
  if (err instanceof ApiRequestError) {
    const where = err.requestId ? `, request ${err.requestId}` : '';
    const exit = err.status === 429 || err.status >= 500 ? EXIT.unavailable : EXIT.refused;
    return new CliError(`${err.message} (${err.code}, HTTP ${err.status}${where})`, exit);
  }
  return err;
}
