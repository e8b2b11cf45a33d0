import { type FileHandle, open, unlink } from 'node:fs/promises';
import { CliError, EXIT } from './output.js';

/**
 * A file reserved for a new secret before the secret exists: created exclusively with mode 0600, so an existing
 * file is never overwritten and a path that cannot be written is found out before anything is created.
 */
export class SecretFile {
  private constructor(
    readonly path: string,
    private readonly handle: FileHandle,
  ) {}

  static async reserve(path: string): Promise<SecretFile> {
    try {
      return new SecretFile(path, await open(path, 'wx', 0o600));
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      const why = code === 'EEXIST' ? 'it already exists (never overwritten)' : `${code ?? (err as Error).message}`;
      throw new CliError(`cannot write the secret to ${path}: ${why}`, EXIT.usage);
    }
  }

  async write(secret: string): Promise<void> {
    await this.handle.writeFile(`${secret}\n`, 'utf8');
    await this.handle.sync();
    await this.handle.close();
  }

  /** Nothing was created: remove the empty file again. */
  async abandon(): Promise<void> {
    await this.handle.close().catch(() => undefined);
    await unlink(this.path).catch(() => undefined);
  }
}
