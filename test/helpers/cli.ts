import { type ChildProcessByStdio, spawn } from 'node:child_process';
import { once } from 'node:events';
import type { Readable } from 'node:stream';
import { ROOT } from './process.js';

export interface RunningCli {
  proc: ChildProcessByStdio<null, Readable, Readable>;
  out: { stdout: string; stderr: string };
  exited: Promise<number | null>;
  /** Resolves once the output satisfies `test`; fails if the process exits first. */
  until(test: () => boolean, what: string): Promise<void>;
  /** The JSON lines printed on stdout so far (--json of rotate). */
  events(): Record<string, any>[];
}

const running = new Set<RunningCli['proc']>();

/** The CLI as a child process whose stdout/stderr the test watches while it runs. */
export function startCli(args: string[], env: Record<string, string>): RunningCli {
  const proc = spawn(process.execPath, ['bin/secure-mode.js', ...args], {
    cwd: ROOT,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  running.add(proc);
  proc.once('exit', () => running.delete(proc));
  const out = { stdout: '', stderr: '' };
  const waiters: (() => void)[] = [];
  const wake = () => waiters.splice(0).forEach((w) => w());
  proc.stdout.on('data', (d: Buffer) => ((out.stdout += d.toString()), wake()));
  proc.stderr.on('data', (d: Buffer) => ((out.stderr += d.toString()), wake()));
  const exited = once(proc, 'exit').then(([code]) => code as number | null);
  return {
    proc,
    out,
    exited,
    async until(test, what) {
      while (!test()) {
        const done = await Promise.race([new Promise<false>((r) => waiters.push(() => r(false))), exited.then(() => true)]);
        if (done && !test()) throw new Error(`CLI exited before ${what}:\n${out.stdout}\n${out.stderr}`);
      }
    },
    events() {
      return out.stdout
        .split('\n')
        .filter((l) => l.startsWith('{'))
        .map((l) => JSON.parse(l) as Record<string, any>);
    },
  };
}

/** For a test's after(): a failed test may leave its CLI running. */
export function killRunningClis(): void {
  for (const proc of running) proc.kill('SIGKILL');
}
