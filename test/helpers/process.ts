import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { recordArtifact, recordDatabaseFiles, recordSensitive } from './leaks.js';

export const ROOT = fileURLToPath(new URL('../../', import.meta.url));

/**
 * Test files run two at a time. Most of a file's time is spent waiting on the servers, nodes and databases it
 * starts (one at a time, node's default on 2 cores, left the machine 60 % idle), and each file has its own
 * databases, ports and folders, so two at once share nothing but the CPU.
 */
export const TEST_FILE_CONCURRENCY = 2;

export interface ServerProcess {
  url: string;
  proc: ChildProcess;
  /** Everything written to stdout and stderr so far. */
  output(): string;
  /** SIGTERM and wait for exit; returns the exit code. */
  stop(): Promise<number | null>;
  /** SIGKILL and wait for exit. */
  kill(): Promise<void>;
}

/** Starts the compiled server (`dist/server.js`, built by `npm test`) as a child process on a free port and waits until it listens. */
export async function spawnServer(env: Record<string, string>, timeoutMs = 20_000): Promise<ServerProcess> {
  const proc = spawn(process.execPath, ['dist/server.js'], {
    cwd: ROOT,
    env: { ...process.env, HOST: '127.0.0.1', PORT: '0', SECURE_MODE_LOG_LEVEL: 'warn', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  proc.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  proc.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`server did not start in ${timeoutMs} ms:\n${out}`)), timeoutMs);
    const check = () => {
      const m = /listening on (http:\/\/[0-9.]+:[0-9]+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]!);
      }
    };
    proc.stdout!.on('data', check);
    proc.stderr!.on('data', check);
    proc.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`server exited with ${code} before listening:\n${out}`));
    });
  });
  const exited = once(proc, 'exit');
  recordSensitive('token', env.SECURE_MODE_BOOTSTRAP_TOKEN);
  // The leak scan gets what the process printed and its database, once it has exited.
  void exited.then(() => {
    // A generated bootstrap token is printed once to the operator, by design: record it, and scan everything else.
    const lines = out.split('\n');
    for (const line of lines) recordSensitive('token', /shown only now\): (\S+)/.exec(line)?.[1]);
    recordArtifact('server-output.txt', lines.filter((l) => !l.includes('shown only now')).join('\n'));
    const db = env.SECURE_MODE_DATABASE_URL;
    if (db?.startsWith('sqlite:')) recordDatabaseFiles(db.slice('sqlite:'.length).replace(/^\/\//, ''));
  });
  return {
    url,
    proc,
    output: () => out,
    async stop() {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGTERM');
      const [code] = (await exited) as [number | null];
      return code;
    },
    async kill() {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
      await exited;
    },
  };
}

/** Runs the CLI (`bin/secure-mode.js`) to completion. */
export async function runCli(
  args: string[],
  env: Record<string, string> = {},
  timeoutMs = 30_000,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const proc = spawn(process.execPath, ['bin/secure-mode.js', ...args], {
    cwd: ROOT,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  proc.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  proc.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const timer = setTimeout(() => proc.kill('SIGKILL'), timeoutMs);
  const [code] = (await once(proc, 'exit')) as [number | null];
  clearTimeout(timer);
  return { code, stdout, stderr };
}
