import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { RolloutPayload } from '../../src/domain/rollout.js';
import { recordSensitive } from './leaks.js';

export type RolloutMode = 'ok' | 'fail' | 'hang' | 'signal' | 'noisy';

/**
 * A rollout command for tests: a shell script whose behaviour a test switches by writing its mode file. Each run
 * appends a line to `runs` and keeps the payload it was given; the secret in each is recorded as a credential (when
 * read back, and on close), so the leak scan looks for it in every log, response and database file.
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
        'payload=$(cat)',
        'echo run >> "$dir/runs"',
        // Who ran it (the server: the command is exec'd by its shell) and the run's process group.
        'echo "$PPID $$" >> "$dir/pids"',
        'printf \'%s\\n\' "$payload" >> "$dir/payloads"',
        'case "$(cat "$dir/mode")" in',
        '  ok) printf \'%s\' "$payload" > "$dir/payload.tmp" && mv "$dir/payload.tmp" "$dir/payload.json" ;;',
        // Everything it was given, to both its outputs: none of it may reach the server's log.
        '  noisy) printf \'%s\' "$payload" > "$dir/payload.json"; printf \'%s\\n\' "$payload"; printf \'%s\\n\' "$payload" >&2 ;;',
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

  /** For each run so far: the pid of the server that ran it and the run's process group. */
  runners(): { server: number; group: number }[] {
    const file = join(this.dir, 'pids');
    if (!existsSync(file)) return [];
    return readFileSync(file, 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((line) => {
        const [server, group] = line.split(' ').map(Number);
        return { server: server!, group: group! };
      });
  }

  /** The payload of the last successful run, its secret recorded as a credential. */
  payload(): RolloutPayload | undefined {
    const file = join(this.dir, 'payload.json');
    if (!existsSync(file)) return undefined;
    const payload = JSON.parse(readFileSync(file, 'utf8')) as RolloutPayload;
    recordSensitive('secret', payload.secret);
    return payload;
  }

  /** Records the secret of every payload the command was given as a credential, then removes its directory. */
  close(): void {
    const file = join(this.dir, 'payloads');
    if (existsSync(file)) {
      for (const line of readFileSync(file, 'utf8').split('\n').filter(Boolean)) {
        recordSensitive('secret', (JSON.parse(line) as RolloutPayload).secret);
      }
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}
