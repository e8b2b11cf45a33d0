import {
  existsSync,
  fsyncSync,
  linkSync,
  mkdirSync,
  openSync,
  closeSync,
  readFileSync,
  renameSync,
  statSync,
  unlinkSync,
  writeSync,
} from 'node:fs';
import { dirname, join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { KeyMaterialError, type MasterKey, newMasterKeyText, parseMasterKey } from './keyring.js';

function readKeyFile(path: string): string {
  const mode = statSync(path).mode & 0o777;
  if ((mode & 0o077) !== 0) throw new KeyMaterialError(`${path} must not be readable by group or others (chmod 600 ${path})`);
  return readFileSync(path, 'utf8');
}

export function masterKeyFilePath(databaseFile: string): string {
  return join(dirname(databaseFile), 'master.key');
}

/** Where a rewrap keeps the key it replaced, until the operator deletes it. */
export function previousMasterKeyFilePath(databaseFile: string): string {
  return `${masterKeyFilePath(databaseFile)}.previous`;
}

/** The key a rewrap replaced, while its file is still there: start-up keeps it as a previous key. */
export function loadPreviousMasterKeyFile(databaseFile: string): MasterKey | undefined {
  const path = previousMasterKeyFilePath(databaseFile);
  return existsSync(path) ? parseMasterKey(readKeyFile(path), path) : undefined;
}

/** Writes and syncs `text` under a temporary name beside `path` (0600), and returns that name. */
function writeTemporary(path: string, text: string): string {
  const temporary = `${path}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  const fd = openSync(temporary, 'wx', 0o600);
  try {
    writeSync(fd, `${text}\n`);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  return temporary;
}

function syncDirectory(path: string): void {
  const fd = openSync(dirname(path), 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

export type KeyFileInstall =
  | { outcome: 'no-key-file' }
  | { outcome: 'already-current'; path: string }
  | { outcome: 'installed'; path: string; previousPath: string }
  | { outcome: 'previous-exists'; path: string; previousPath: string };

/**
 * After a rewrap to `key`, makes the embedded default's master.key hold it, so a plain restart opens everything.
 * The old file becomes master.key.previous (a hard link: the same 0600 file, never a copy), then the new key
 * replaces master.key by rename, so at every instant master.key is one complete key. A run interrupted between the
 * two steps is finished by the next one. An older master.key.previous is never overwritten.
 */
export function installMasterKeyFile(databaseFile: string, key: MasterKey): KeyFileInstall {
  const path = masterKeyFilePath(databaseFile);
  const previousPath = previousMasterKeyFilePath(databaseFile);
  if (!existsSync(path)) return { outcome: 'no-key-file' };
  const installed = parseMasterKey(readKeyFile(path), path);
  if (installed.id === key.id) return { outcome: 'already-current', path };
  const previous = loadPreviousMasterKeyFile(databaseFile);
  if (previous === undefined) linkSync(path, previousPath);
  else if (previous.id !== installed.id) return { outcome: 'previous-exists', path, previousPath };
  const temporary = writeTemporary(path, key.key.toString('base64'));
  renameSync(temporary, path);
  syncDirectory(path);
  return { outcome: 'installed', path, previousPath };
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
    throw new KeyMaterialError(
      `${path} is missing, but ${databaseFile} holds secrets encrypted under it: restore master.key from your backup (or set SECURE_MODE_MASTER_KEY); nothing was created`,
    );
  }
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  const text = newMasterKeyText();
  // Written and synced under a temporary name, then linked into place: link() fails if another process got there
  // first, so processes starting together all end up with the one complete key file, never a half-written one.
  const temporary = writeTemporary(path, text);
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
