import type { DatabaseLocation } from '../config.js';
import { ConfigError } from '../errors.js';
import { SqliteStore } from './sqlite/sqlite-store.js';
import type { Store } from './store.js';

export async function openStore(location: DatabaseLocation): Promise<Store> {
  if (location.kind === 'sqlite') return new SqliteStore({ filename: location.filename });
  throw new ConfigError('PostgreSQL is not supported by this build yet');
}
