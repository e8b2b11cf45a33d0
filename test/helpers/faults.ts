import { execFileSync } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * A small tmpfs of our own, so a test can fill it (ENOSPC) or remount it read-only (EROFS) for real. Needs
 * CAP_SYS_ADMIN (root in a container); undefined where mounting is not allowed, and the caller falls back.
 */
export interface SmallFilesystem {
  dir: string;
  /** Writes a filler file until the filesystem is full. */
  fill(): void;
  /** Deletes the filler: the disk has room again. */
  unfill(): void;
  /** Remounts read-only or read-write; the kernel refuses read-only while a process holds a file open for writing. */
  remount(mode: 'ro' | 'rw'): void;
  unmount(): void;
}

export function mountSmallFilesystem(sizeBytes: number): SmallFilesystem | undefined {
  const dir = mkdtempSync(join(tmpdir(), 'secure-mode-fs-'));
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${sizeBytes}`, 'tmpfs', dir], { stdio: 'ignore' });
  } catch {
    rmSync(dir, { recursive: true, force: true });
    return undefined;
  }
  const filler = join(dir, 'filler');
  return {
    dir,
    fill() {
      const fd = openSync(filler, 'a');
      const chunk = Buffer.alloc(4096, 1);
      try {
        for (;;) writeSync(fd, chunk);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOSPC') throw err;
      } finally {
        closeSync(fd);
      }
    },
    unfill() {
      rmSync(filler, { force: true });
    },
    remount(mode) {
      execFileSync('mount', ['-o', `remount,${mode}`, dir], { stdio: 'ignore' });
    },
    unmount() {
      execFileSync('umount', [dir], { stdio: 'ignore' });
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
