import Database from 'better-sqlite3';
import { ConfigError } from '../../errors.js';
import { LOCK_SUFFIX } from './files.js';

export interface ServerLock {
  release(): void;
}

/**
 * One server per SQLite database: a second one would serve from its own cache, where a secret deleted through the
 * other keeps verifying. The lock is SQLite's own (an fcntl lock on a small file beside the database, held by an
 * open connection in exclusive locking mode), so the kernel drops it when the holder dies, SIGKILL included: a
 * crashed server never blocks its restart, and no pid is trusted. Admin commands open the database itself, never
 * this file, so they keep working beside a running server.
 */
export function acquireServerLock(databaseFile: string): ServerLock {
  const path = `${databaseFile}${LOCK_SUFFIX}`;
  const db = new Database(path, { timeout: 0 });
  try {
    // The file holds no data: no journal beside it, so nothing but the lock file is ever left on disk.
    db.pragma('journal_mode = MEMORY');
    db.pragma('locking_mode = EXCLUSIVE');
    // In exclusive locking mode the lock this takes is kept until the connection closes.
    db.exec('BEGIN EXCLUSIVE; COMMIT');
  } catch (err) {
    db.close();
    if ((err as { code?: unknown }).code === 'SQLITE_BUSY') {
      throw new ConfigError(
        `another secure-mode server is serving ${databaseFile} (it holds ${path}): stop it first, or use SECURE_MODE_WORKERS=N to serve one database with more cores`,
      );
    }
    throw err;
  }
  return {
    release() {
      if (db.open) db.close();
    },
  };
}
