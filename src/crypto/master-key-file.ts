import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { mkdirSync } from 'node:fs';
import { ConfigError } from '../errors.js';
import { newMasterKeyText } from './keyring.js';

/**
 * The embedded default keeps its master key next to the database (mode 0600). Returns the key text and whether
 * this call created the file, so start-up can say so.
 */
export function loadOrCreateMasterKeyFile(databaseFile: string): { text: string; path: string; created: boolean } {
  const path = join(dirname(databaseFile), 'master.key');
  if (existsSync(path)) {
    const mode = statSync(path).mode & 0o777;
    if ((mode & 0o077) !== 0) throw new ConfigError(`${path} must not be readable by group or others (chmod 600 ${path})`);
    return { text: readFileSync(path, 'utf8'), path, created: false };
  }
  mkdirSync(dirname(path), { recursive: true });
  const text = newMasterKeyText();
  // 'wx': never overwrite a key another process created meanwhile.
  writeFileSync(path, `${text}\n`, { mode: 0o600, flag: 'wx' });
  return { text, path, created: true };
}
