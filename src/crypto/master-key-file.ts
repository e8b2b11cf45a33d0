import {
  existsSync,
  fsyncSync,
  linkSync,
  mkdirSync,
  openSync,
  closeSync,
  readFileSync,
  statSync,
  unlinkSync,
  writeSync,
} from 'node:fs';
import { dirname, join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { KeyMaterialError, newMasterKeyText } from './keyring.js';

function readKeyFile(path: string): string {
  const mode = statSync(path).mode & 0o777;
  if ((mode & 0o077) !== 0) throw new KeyMaterialError(`${path} must not be readable by group or others (chmod 600 ${path})`);
  return readFileSync(path, 'utf8');
}

/**
 * The embedded default keeps its master key next to the database (mode 0600). Returns the key text and whether
 * this call created the file, so start-up can say so.
 */
export function loadOrCreateMasterKeyFile(databaseFile: string): { text: string; path: string; created: boolean } {
  const path = join(dirname(databaseFile), 'master.key');
  if (existsSync(path)) return { text: readKeyFile(path), path, created: false };
  mkdirSync(dirname(path), { recursive: true });
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
