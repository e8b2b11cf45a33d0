import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { RolloutPayload } from '../../src/domain/rollout.js';
import { recordSensitive } from './leaks.js';

export type RolloutMode = 'ok' | 'fail' | 'hang' | 'signal' | 'noisy';

/**
 * A rollout command for tests: a shell script whose behaviour a test switches by writing its mode file. Each run
 * appends a line to `runs`; in ok and noisy modes it keeps the payload it was given, which the test reads back (and
 * records the secret in it as a credential, so the leak scan looks for it in every log and response).
 */
export class TestRolloutCommand {
  readonly dir = mkdtempSync(join(tmpdir(), 'secure-mode-rollout-'));
  /** The value for SECURE_MODE_ROLLOUT_COMMAND. */
  readonly command = `exec sh '${join(this.dir, 'rollout.sh')}'`;

  constructor(mode: RolloutMode = 'ok') {
    writeFileSync(
      join(this.dir, 'rollout.sh'),
      [
        'dir=$(dirname "$0")',
        'echo run >> "$dir/runs"',
        'case "$(cat "$dir/mode")" in',
        '  ok) cat > "$dir/payload.tmp" && mv "$dir/payload.tmp" "$dir/payload.json" ;;',
        // Everything it was given, to both its outputs: none of it may reach the server's log.
        '  noisy) tee /dev/stderr > "$dir/payload.json"; echo "$(cat "$dir/payload.json")" ;;',
        '  fail) exit 3 ;;',
        '  hang) sleep 30 ;;',
        '  signal) kill -TERM $$ ;;',
        'esac',
        '',
      ].join('\n'),
    );
    chmodSync(join(this.dir, 'rollout.sh'), 0o700);
    this.mode(mode);
  }

  mode(mode: RolloutMode): void {
    writeFileSync(join(this.dir, 'mode'), mode);
  }

  /** How many times the command ran. */
  runs(): number {
    const file = join(this.dir, 'runs');
    return existsSync(file) ? readFileSync(file, 'utf8').split('\n').filter(Boolean).length : 0;
  }

  /** The payload of the last successful run, its secret recorded as a credential. */
  payload(): RolloutPayload | undefined {
    const file = join(this.dir, 'payload.json');
    if (!existsSync(file)) return undefined;
    const payload = JSON.parse(readFileSync(file, 'utf8')) as RolloutPayload;
    recordSensitive('secret', payload.secret);
    return payload;
  }

  close(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}
