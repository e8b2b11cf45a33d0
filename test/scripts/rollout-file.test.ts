import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

const SCRIPT = fileURLToPath(new URL('../../scripts/rollout-file.mjs', import.meta.url));

/** The file recipe of docs/rotation.md: the new secret replaces the file atomically, mode 0600. */
describe('scripts/rollout-file.mjs', () => {
  const dir = mkdtempSync(join(tmpdir(), 'secure-mode-rollout-file-'));
  after(() => rmSync(dir, { recursive: true, force: true }));
  const payload = (secret: unknown) =>
    JSON.stringify({ app_id: 'a', rotation_id: '1', secret_id: '2', name: 'n', platforms: ['web'], secret });

  it('writes the secret alone to a new file with mode 0600', () => {
    const target = join(dir, 'new-secret');
    execFileSync(process.execPath, [SCRIPT, target], { input: payload('s3cr3t-value') });
    assert.equal(readFileSync(target, 'utf8'), 's3cr3t-value');
    assert.equal(statSync(target).mode & 0o777, 0o600);
  });

  it('replaces an existing file by rename (a new inode), leaving no temporary file', () => {
    const target = join(dir, 'replaced');
    writeFileSync(target, 'old', { mode: 0o644 });
    const before = statSync(target).ino;
    execFileSync(process.execPath, [SCRIPT, target], { input: payload('the-new-one') });
    assert.equal(readFileSync(target, 'utf8'), 'the-new-one');
    assert.notEqual(statSync(target).ino, before);
    assert.equal(statSync(target).mode & 0o777, 0o600);
    assert.deepEqual(
      readdirSync(dir).filter((n) => n.endsWith('.tmp')),
      [],
    );
  });

  it('refuses input that is not a payload, and a missing target, leaving the file as it was', () => {
    const target = join(dir, 'kept');
    writeFileSync(target, 'kept');
    for (const input of ['not json', payload(''), payload(42), '{}']) {
      const run = spawnSync(process.execPath, [SCRIPT, target], { input });
      assert.equal(run.status, 1, input);
      assert.equal(readFileSync(target, 'utf8'), 'kept');
    }
    assert.equal(spawnSync(process.execPath, [SCRIPT], { input: payload('x') }).status, 2);
  });

  it('fails (non-zero) when the directory cannot be written, so secure-mode retries', () => {
    const run = spawnSync(process.execPath, [SCRIPT, join(dir, 'missing-dir', 'secret')], { input: payload('x') });
    assert.equal(run.status, 1);
  });
});
