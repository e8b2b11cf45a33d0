import { existsSync } from 'node:fs';
import type { Services } from '../runtime.js';
import { CliError, EXIT } from './output.js';

export interface LocalOptions {
  /** Create the database (and its master key) when there is none; only `workspaces create --create` means that. */
  create?: boolean;
}

/** Commands that work on the local database (workspaces, tokens, keys) open it with the server's own config. */
export async function withLocalServices<T>(work: (services: Services) => Promise<T>, options: LocalOptions = {}): Promise<T> {
  // Loaded on use: the server's modules (Fastify, SQLite, pg) cost more than the rest of the CLI, and --help and the
  // HTTP commands never need them.
  const [{ loadConfig }, { createServices }] = await Promise.all([import('../config.js'), import('../runtime.js')]);
  const config = loadConfig();
  const db = config.database;
  // Run from the wrong folder, a new empty database with a new master key would look like lost data.
  if (db.kind === 'sqlite' && db.filename !== ':memory:' && !options.create && !existsSync(db.filename)) {
    throw new CliError(
      `no database at ${db.filename}: run from the server's folder or set SECURE_MODE_DATABASE_URL (workspaces create --create makes a new one)`,
      EXIT.usage,
    );
  }
  const services = await createServices(config, { logger: false, notice: (m) => process.stderr.write(`secure-mode: ${m}\n`) });
  try {
    return await work(services);
  } finally {
    await services.store.close();
  }
}
