#!/usr/bin/env node
/**
 * The one build: the signing package, the server (tsc → dist/) and the console (esbuild → dist/console/).
 * `--if-stale` (npm's prestart) builds only when a source is newer than the last build, so `npm start` from a fresh
 * clone or after an edit runs current code, and a second start costs a directory walk instead of a compile.
 * An installed package has dist/ and no src/: nothing to build.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../', import.meta.url));
const stamp = join(root, 'dist', '.built');
const SOURCES = [
  'src',
  'packages/sign/src',
  'package.json',
  'tsconfig.json',
  'tsconfig.build.json',
  'packages/sign/tsconfig.json',
];

function newest(path) {
  const info = statSync(path, { throwIfNoEntry: false });
  if (!info) return 0;
  if (!info.isDirectory()) return info.mtimeMs;
  return readdirSync(path).reduce((max, name) => Math.max(max, newest(join(path, name))), info.mtimeMs);
}

function run(what, args) {
  const result = spawnSync(process.execPath, args, { cwd: root, stdio: 'inherit' });
  if (result.status !== 0) {
    process.stderr.write(`build: ${what} failed\n`);
    process.exit(result.status ?? 1);
  }
}

if (!existsSync(join(root, 'src'))) process.exit(0);
if (process.argv.includes('--if-stale')) {
  const built = statSync(stamp, { throwIfNoEntry: false })?.mtimeMs ?? 0;
  if (Math.max(...SOURCES.map((s) => newest(join(root, s)))) <= built) process.exit(0);
  process.stderr.write('build: sources changed since the last build; building\n');
}

const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc');
// A clean dist/, so a moved or deleted module never lingers in what runs or what is packed.
rmSync(join(root, 'dist'), { recursive: true, force: true });
rmSync(join(root, 'packages', 'sign', 'dist'), { recursive: true, force: true });
run('the signing package', [tsc, '-p', 'packages/sign/tsconfig.json']);
run('the server', [tsc, '-p', 'tsconfig.build.json']);
run('the console', ['--import', 'tsx', 'src/console/build.ts']);
writeFileSync(stamp, `${new Date().toISOString()}\n`);
