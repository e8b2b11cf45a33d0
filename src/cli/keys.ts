import type { Command } from 'commander';
import { loadConfig, sqliteFile } from '../config.js';
import { installMasterKeyFile } from '../crypto/master-key-file.js';
import { type RewrapProgress, RewrapVerificationError, rewrapSecrets } from '../domain/rewrap.js';
import { withLocalServices } from './local.js';
import { CliError, EXIT, printResult } from './output.js';

/** A bar that redraws in place on a terminal, and prints a line per percent in a log. */
export function progressBar(stream: NodeJS.WriteStream): (p: RewrapProgress) => void {
  let lastPercent = -1;
  return ({ done, total }) => {
    const percent = total === 0 ? 100 : Math.floor((done / total) * 100);
    if (stream.isTTY) {
      const width = 30;
      const filled = Math.round((percent / 100) * width);
      stream.write(`\r[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${done}/${total} ${percent}%`);
      if (done === total) stream.write('\n');
    } else if (percent !== lastPercent) {
      stream.write(`rewrapped ${done}/${total} (${percent}%)\n`);
    }
    lastPercent = percent;
  };
}

export function registerKeyCommands(program: Command): void {
  const keys = program.command('keys').description('master key rotation for the local database');
  keys
    .command('rewrap')
    .description(
      're-encrypt every stored secret under SECURE_MODE_MASTER_KEY, with the old keys in SECURE_MODE_PREVIOUS_MASTER_KEYS; resumable, then proves every secret opens under the new key alone',
    )
    .option('--batch-size <n>', 'secrets read per page', '200')
    .option('--json', 'print JSON')
    .action(async (opts: { batchSize: string; json?: boolean }) => {
      if (!/^[1-9][0-9]{0,4}$/.test(opts.batchSize))
        throw new CliError('--batch-size must be a number from 1 to 99999', EXIT.usage);
      const { result, install } = await withLocalServices(async (s) => {
        process.stderr.write(`secure-mode: re-encrypting under master key ${s.keyring.current.id}\n`);
        try {
          const result = await rewrapSecrets(s.store, s.keyring, {
            batchSize: Number(opts.batchSize),
            onProgress: progressBar(process.stderr),
          });
          // Only now that every secret opens under the new key alone may the embedded default's key file change.
          const file = sqliteFile(loadConfig());
          return { result, install: file === undefined ? undefined : installMasterKeyFile(file, s.keyring.current) };
        } catch (err) {
          if (err instanceof RewrapVerificationError) throw new CliError(err.message, EXIT.failure);
          throw err;
        }
      });
      if (install?.outcome === 'previous-exists') {
        throw new CliError(
          `all ${result.verified} stored secrets open under ${result.currentKeyId} alone, but ${install.path} still holds the old key because ${install.previousPath} is left from an earlier rewrap; next step: rm ${install.previousPath} && secure-mode keys rewrap (same environment)`,
          EXIT.failure,
        );
      }
      if (install?.outcome === 'installed') {
        process.stderr.write(
          `secure-mode: ${install.path} now holds master key ${result.currentKeyId}; the old key is kept in ${install.previousPath} (0600). Next: back up ${install.path}, unset SECURE_MODE_MASTER_KEY and SECURE_MODE_PREVIOUS_MASTER_KEYS, restart servers, then delete ${install.previousPath}\n`,
        );
      } else if (!opts.json) {
        process.stderr.write(
          `secure-mode: all ${result.verified} stored secrets open under ${result.currentKeyId} alone; SECURE_MODE_PREVIOUS_MASTER_KEYS can be removed (after the idempotency window) and servers restarted\n`,
        );
      }
      printResult(
        opts.json === true,
        { rewrapped: result.rewrapped, verified: result.verified, master_key_id: result.currentKeyId },
        ['rewrapped', 'verified', 'master_key_id'],
      );
    });
}
