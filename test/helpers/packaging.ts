import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createServer } from 'node:net';
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from './process.js';

/** Helpers for tests that pack, install and run the packages as a user or an image build would. */

export interface Run {
  code: number | null;
  /** Standard output alone: what a test compares (npm writes its warnings, e.g. about npm_config_*, to stderr). */
  stdout: string;
  /** Both streams, interleaved: what a failure message shows. */
  output: string;
}

/** Runs a command to completion, stdout and stderr together; installs take a while on a shared 2-core machine. */
export async function run(
  command: string,
  args: string[],
  options: { cwd: string; env?: NodeJS.ProcessEnv },
  timeoutMs = 600_000,
): Promise<Run> {
  const proc = spawn(command, args, { cwd: options.cwd, env: options.env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  let stdout = '';
  proc.stdout.on('data', (d: Buffer) => {
    stdout += d.toString();
    output += d.toString();
  });
  proc.stderr.on('data', (d: Buffer) => (output += d.toString()));
  const timer = setTimeout(() => proc.kill('SIGKILL'), timeoutMs);
  const [code] = (await once(proc, 'exit')) as [number | null];
  clearTimeout(timer);
  return { code, stdout, output };
}

/**
 * `npm pack` of the server or of a workspace, from the build `npm test` made (so no second compile); returns the
 * tarball's path.
 */
export async function pack(destination: string, workspace?: string): Promise<string> {
  const args = ['pack', '--ignore-scripts', '--json', '--pack-destination', destination, ...(workspace ? ['-w', workspace] : [])];
  const result = await run('npm', args, { cwd: ROOT });
  if (result.code !== 0) throw new Error(`npm pack failed:\n${result.output}`);
  const [info] = JSON.parse(result.stdout.slice(result.stdout.indexOf('['))) as { filename: string }[];
  return join(destination, info!.filename);
}

/** Files in a tarball, without the leading package/. */
export async function tarballFiles(tarball: string): Promise<string[]> {
  const listed = await run('tar', ['-tzf', tarball], { cwd: ROOT });
  return listed.stdout
    .split('\n')
    .filter(Boolean)
    .map((f) => f.replace(/^package\//, ''));
}

/**
 * A prebuilt better-sqlite3 for prebuild-install, in its layout and name, made from the copy that `npm ci` compiled
 * here for this very Node.js. An install in a test then unpacks it instead of compiling SQLite again (minutes each,
 * twice per test run and Node.js version); nothing is downloaded either way. Returns the folder to point
 * npm_config_better_sqlite3_local_prebuilds at.
 */
export async function localPrebuilds(destination: string): Promise<string> {
  const moduleDir = join(ROOT, 'node_modules', 'better-sqlite3');
  const { version } = JSON.parse(readFileSync(join(moduleDir, 'package.json'), 'utf8')) as { version: string };
  const dir = join(destination, 'prebuilds');
  mkdirSync(dir, { recursive: true });
  const name = `better-sqlite3-v${version}-node-v${process.versions.modules}-${process.platform}-${process.arch}.tar.gz`;
  const packed = await run('tar', ['-czf', join(dir, name), '-C', moduleDir, 'build/Release/better_sqlite3.node'], {
    cwd: ROOT,
  });
  if (packed.code !== 0) throw new Error(`packing the local prebuild failed:\n${packed.output}`);
  return dir;
}

/**
 * Environment for installs in a test: only the registry, and better-sqlite3 from `localPrebuilds`. Should the package
 * resolve to another better-sqlite3 than the one compiled here, prebuild-install's download goes to a closed loopback
 * port and fails at once, and the module builds from source as before: nothing is ever fetched from elsewhere.
 */
export function installEnv(prebuilds: string): NodeJS.ProcessEnv {
  return {
    ...process.env,
    npm_config_build_from_source: 'false',
    npm_config_better_sqlite3_local_prebuilds: prebuilds,
    npm_config_better_sqlite3_binary_host: 'http://127.0.0.1:9',
    npm_config_update_notifier: 'false',
    npm_config_fund: 'false',
    npm_config_audit: 'false',
  };
}

export async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as { port: number }).port;
  server.close();
  await once(server, 'close');
  return port;
}
