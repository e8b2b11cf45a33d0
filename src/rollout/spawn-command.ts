import { spawn } from 'node:child_process';
import type { RolloutCommand, RolloutPayload, RolloutResult } from '../domain/rollout.js';

/**
 * The rollout command as a child process: `/bin/sh -c COMMAND`, the operator's own text, with the payload only on
 * standard input (never in its arguments or environment), so no data is interpolated by a shell. Its output is
 * discarded, never read or logged. It runs in its own process group, so the timeout ends whatever it started.
 * Its environment is the server's without the SECURE_MODE_ variables: the master key never reaches it.
 */
export class SpawnRolloutCommand implements RolloutCommand {
  constructor(private readonly command: string) {}

  run(payload: RolloutPayload, timeoutMs: number, signal: AbortSignal): Promise<RolloutResult> {
    const started = performance.now();
    const env = Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith('SECURE_MODE_')));
    return new Promise((resolve) => {
      let timedOut = false;
      let aborted = false;
      let settled = false;
      const child = spawn('/bin/sh', ['-c', this.command], { stdio: ['pipe', 'ignore', 'ignore'], detached: true, env });
      const killGroup = () => {
        try {
          if (child.pid !== undefined) process.kill(-child.pid, 'SIGKILL');
        } catch {
          // The group is already gone.
        }
      };
      const timer = setTimeout(() => {
        timedOut = true;
        killGroup();
      }, timeoutMs);
      const onAbort = () => {
        aborted = true;
        killGroup();
      };
      signal.addEventListener('abort', onAbort, { once: true });
      const done = (exitCode: number | null, signalName: string | null) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        signal.removeEventListener('abort', onAbort);
        resolve({ exitCode, signal: signalName, timedOut, aborted, durationMs: Math.round(performance.now() - started) });
      };
      child.on('error', () => done(null, null));
      child.on('exit', (code, signalName) => done(code, signalName));
      // A command that exits without reading its input closes the pipe: that is its outcome, not an error here.
      child.stdin.on('error', () => undefined);
      child.stdin.end(JSON.stringify(payload));
      if (signal.aborted) onAbort();
    });
  }
}
