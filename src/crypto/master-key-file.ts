import { existsSync, fsyncSync, linkSync, mkdirSync, openSync, closeSync, readFileSync, statSync, unlinkSync, writeSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { ConfigError } from '../errors.js';
import { newMasterKeyText } from './keyring.js';

function readKeyFile(path: string): string {
  const mode = statSync(path).mode & 0o777;
  if ((mode & 0o077) !== 0) throw new ConfigError(`${path} must not be readable by group or others (chmod 600 ${path})`);
  return readFileSync(path, 'utf8');
}

export function masterKeyFilePath(databaseFile: string): string {
  return join(dirname(databaseFile), 'master.key');
}

/**
 * The embedded default keeps its master key next to the database (mode 0600). Returns the key text and whether
 * this call created the file, so start-up can say so. `holdsSecrets` says whether the database already holds
 * encrypted secrets: a new key could open none of them, so then a missing file refuses before anything is created.
 */
export function loadOrCreateMasterKeyFile(
  databaseFile: string,
  holdsSecrets: () => boolean,
): { text: string; path: string; created: boolean } {
  const path = masterKeyFilePath(databaseFile);
  if (existsSync(path)) return { text: readKeyFile(path), path, created: false };
  if (holdsSecrets()) {
    throw new ConfigError(
      `${path} is missing, but ${databaseFile} holds secrets encrypted under it: restore master.key from your backup (or set SECURE_MODE_MASTER_KEY); nothing was created`,
    );
  }
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  const text = newMasterKeyText();
  // Written and synced under a temporary name, then linked into place: link() fails if another process got there
  // first, so processes starting together all end up with the one complete key file, never a half-written one.
  const temporary = `${path}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  const fd = openSync(temporary, 'wx', 0o600);
  try {
    writeSync(fd, `${text}\n`);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  try {
    linkSync(temporary, path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    return { text: readKeyFile(path), path, created: false };
  } finally {
    unlinkSync(temporary);
  }
  return { text, path, created: true };
}
