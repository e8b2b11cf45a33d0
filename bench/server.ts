import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { openSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('../', import.meta.url));

export interface BenchServer {
  url: string;
  proc: ChildProcess;
  stderr(): string;
  stop(): Promise<number | null>;
}

/** The real server as a subprocess; its JSON log (stdout) goes to a file, as it would in production. */
export async function startServer(env: Record<string, string>, logFile: string): Promise<BenchServer> {
  const proc = spawn(process.execPath, ['--import', 'tsx', 'src/server.ts'], {
    cwd: ROOT,
    env: { ...process.env, HOST: '127.0.0.1', PORT: '0', ...env },
    stdio: ['ignore', openSync(logFile, 'a'), 'pipe'],
  });
  let err = '';
  proc.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  const url = await new Promise<string>((resolve, reject) => {
    proc.stderr!.on('data', () => {
      const m = /listening on (http:\/\/[0-9.]+:[0-9]+)/.exec(err);
      if (m) resolve(m[1]!);
    });
    proc.once('exit', (code) => reject(new Error(`server exited with ${code}:\n${err}`)));
  });
  const exited = once(proc, 'exit');
  return {
    url,
    proc,
    stderr: () => err,
    async stop() {
      proc.kill('SIGTERM');
      const [code] = (await exited) as [number | null];
      return code;
    },
  };
}
