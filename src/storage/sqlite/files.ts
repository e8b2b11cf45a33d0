import Database from 'better-sqlite3';
import { chmodSync, existsSync, mkdirSync, readFileSync, statSync } from 'node:fs';
import { dirname } from 'node:path';

/** The server lock beside a database (see lock.ts). */
export const LOCK_SUFFIX = '.lock';

/**
 * The files kept for one database: the file itself, in WAL mode its log and shared-memory index, and the server
 * lock.
 */
const DATABASE_FILE_SUFFIXES = ['', '-wal', '-shm', LOCK_SUFFIX] as const;

/**
 * Everything the embedded default writes (database, -wal, -shm, master.key, lock file) holds or guards secret
 * material, so nothing in its directory may be readable by others: the process creates files 0600 from here on
 * (SQLite gives -wal and -shm the database file's mode), and a directory it creates is 0700.
 */
export function prepareDataDirectory(databaseFile: string): void {
  process.umask(0o077);
  mkdirSync(dirname(databaseFile), { recursive: true, mode: 0o700 });
}

/** Tightens files an earlier version created 0644; never loosens one the operator made stricter. */
export function restrictDatabaseFiles(databaseFile: string): void {
  for (const suffix of DATABASE_FILE_SUFFIXES) {
    const path = `${databaseFile}${suffix}`;
    if (!existsSync(path)) continue;
    const mode = statSync(path).mode & 0o777;
    if ((mode & 0o077) !== 0) chmodSync(path, mode & 0o700);
  }
}

/**
 * Whether the database file already holds encrypted secrets, decided without creating or changing any file: the
 * file is read into memory and opened there. A write-ahead log left beside it (a crash, or a running server) may hold
 * secrets the file does not show yet, so it counts as holding them.
 */
export function databaseHoldsSecrets(databaseFile: string): boolean {
  if (!existsSync(databaseFile) || statSync(databaseFile).size === 0) return false;
  const wal = `${databaseFile}-wal`;
  if (existsSync(wal) && statSync(wal).size > 0) return true;
  const image = readFileSync(databaseFile);
  // Header bytes 18 and 19 say "WAL"; an in-memory copy cannot have a log, so it is read as a rollback database.
  if (image.length >= 100 && image[18] === 2 && image[19] === 2) image[18] = image[19] = 1;
  let db: Database.Database | undefined;
  try {
    db = new Database(image);
    const table = db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'secrets'").get();
    return table !== undefined && db.prepare('SELECT 1 FROM secrets LIMIT 1').get() !== undefined;
  } catch {
    // Not a database: opening it for real will say so, in its own words.
    return false;
  } finally {
    db?.close();
  }
}
