#!/usr/bin/env node
// A rollout command (SECURE_MODE_ROLLOUT_COMMAND="node scripts/rollout-file.mjs /path/to/secret"): reads the JSON
// object secure-mode writes on standard input and replaces the file with the new secret, atomically and mode 0600.
// The secret is written to a new file in the same directory, flushed, then renamed over the target: a reader sees
// the old secret or the new one, never a partial file, and never a moment with no file.
import { closeSync, fsyncSync, openSync, renameSync, rmSync, writeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';

const target = process.argv[2];
if (!target) {
  process.stderr.write('usage: rollout-file.mjs TARGET_FILE < payload.json\n');
  process.exit(2);
}
const chunks = [];
for await (const chunk of process.stdin) chunks.push(chunk);
let secret;
try {
  secret = JSON.parse(Buffer.concat(chunks).toString('utf8')).secret;
} catch {
  secret = undefined;
}
if (typeof secret !== 'string' || secret === '') {
  process.stderr.write('rollout-file.mjs: standard input is not a secure-mode rollout payload\n');
  process.exit(1);
}
const temp = join(dirname(target), `.${basename(target)}.${process.pid}.tmp`);
try {
  // wx: never follow or reuse a file someone else put there; 0600 from the first byte.
  const fd = openSync(temp, 'wx', 0o600);
  try {
    writeSync(fd, secret);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(temp, target);
  const dir = openSync(dirname(target), 'r');
  try {
    fsyncSync(dir);
  } finally {
    closeSync(dir);
  }
} catch (err) {
  rmSync(temp, { force: true });
  process.stderr.write(`rollout-file.mjs: ${err.code ?? err.message}\n`);
  process.exit(1);
}
