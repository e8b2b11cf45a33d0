import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, describe, it } from 'node:test';
import type { RolloutPayload } from '../../src/domain/rollout.js';
import { SpawnRolloutCommand } from '../../src/rollout/spawn-command.js';

const payload: RolloutPayload = {
  app_id: 'app1',
  rotation_id: '7',
  secret_id: '13',
  name: 'it\'s "quoted" $(touch pwned) `x`',
  platforms: ['web', 'ios'],
  secret: 'A'.repeat(43),
};

/** The rollout command adapter: the payload on standard input only, the outcome, the timeout and the abort. */
describe('SpawnRolloutCommand', () => {
  const dir = mkdtempSync(join(tmpdir(), 'secure-mode-spawn-'));
  after(() => rmSync(dir, { recursive: true, force: true }));
  const never = new AbortController().signal;

  it('gives the command the payload as JSON on standard input, never to a shell as text', async () => {
    const out = join(dir, 'stdin.json');
    const result = await new SpawnRolloutCommand(`cd '${dir}' && cat > '${out}'`).run(payload, 10_000, never);
    assert.deepEqual({ ...result, durationMs: 0 }, { exitCode: 0, signal: null, timedOut: false, aborted: false, durationMs: 0 });
    assert.deepEqual(JSON.parse(readFileSync(out, 'utf8')), payload);
    assert.equal(existsSync(join(dir, 'pwned')), false);
    assert.ok(result.durationMs >= 0);
  });

  it('reports a non-zero exit and a signal', async () => {
    assert.equal((await new SpawnRolloutCommand('exit 3').run(payload, 10_000, never)).exitCode, 3);
    const killed = await new SpawnRolloutCommand('kill -TERM $$').run(payload, 10_000, never);
    assert.equal(killed.exitCode, null);
    assert.equal(killed.signal, 'SIGTERM');
  });

  it("passes on the server's environment without the SECURE_MODE_ variables (the master key above all)", async () => {
    process.env.SECURE_MODE_MASTER_KEY_PROBE = 'must-not-reach';
    process.env.ROLLOUT_PROBE = 'reaches';
    try {
      const out = join(dir, 'env.txt');
      await new SpawnRolloutCommand(`env > '${out}'`).run(payload, 10_000, never);
      const env = readFileSync(out, 'utf8');
      assert.match(env, /^ROLLOUT_PROBE=reaches$/m);
      assert.doesNotMatch(env, /SECURE_MODE_/);
    } finally {
      delete process.env.SECURE_MODE_MASTER_KEY_PROBE;
      delete process.env.ROLLOUT_PROBE;
    }
  });

  it('kills the whole process group at the timeout, children included', async () => {
    const late = join(dir, 'late');
    const result = await new SpawnRolloutCommand(`(sleep 1; touch '${late}') & sleep 30`).run(payload, 200, never);
    assert.equal(result.timedOut, true);
    assert.equal(result.exitCode, null);
    assert.equal(result.signal, 'SIGKILL');
    await sleep(1500);
    assert.equal(existsSync(late), false, 'the background child was killed with the group');
  });

  it('stops at an abort, saying so', async () => {
    const abort = new AbortController();
    const running = new SpawnRolloutCommand('sleep 30').run(payload, 60_000, abort.signal);
    abort.abort();
    const result = await running;
    assert.equal(result.aborted, true);
    assert.equal(result.timedOut, false);
  });

  it('a command that does not read its input still ends with its own status', async () => {
    const big = { ...payload, name: 'x'.repeat(1_000_000) };
    assert.equal((await new SpawnRolloutCommand('exit 0').run(big, 10_000, never)).exitCode, 0);
  });
});
