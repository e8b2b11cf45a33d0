import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { api } from '../helpers/app.js';
import { killRunningClis, startCli } from '../helpers/cli.js';
import { recordArtifact, recordSensitive } from '../helpers/leaks.js';
import { runCli, spawnServer, type ServerProcess } from '../helpers/process.js';
import { TestRolloutCommand } from '../helpers/rollout.js';

/**
 * secure-mode policy get|set, and secrets rotate --deliver: against a server without a rollout command (which refuses
 * auto_rotate and deliver) and one with it (which delivers the successor, so the CLI never shows it).
 */

const TOKEN = 'smt_policy_cli_test_token_0123456789ab';

function scanned(name: string, out: { stdout: string; stderr: string }): void {
  recordArtifact(`${name}-stdout.txt`, out.stdout);
  recordArtifact(`${name}-stderr.txt`, out.stderr);
}

async function startServer(dir: string, extra: Record<string, string> = {}): Promise<ServerProcess> {
  return spawnServer({
    SECURE_MODE_DATABASE_URL: `sqlite:${join(dir, 'secure-mode.db')}`,
    SECURE_MODE_BOOTSTRAP_TOKEN: TOKEN,
    ...extra,
  });
}

describe('secure-mode policy, without a rollout command', () => {
  let server: ServerProcess;
  let dir: string;
  let env: Record<string, string>;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'secure-mode-policy-cli-'));
    server = await startServer(dir);
    env = { SECURE_MODE_URL: server.url, SECURE_MODE_TOKEN: TOKEN };
  });
  after(async () => {
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  });
  const cli = async (name: string, args: string[]) => {
    const res = await runCli(args, env);
    scanned(name, res);
    return res;
  };

  it('get shows the defaults; set changes what it is given and keeps the rest; get reads it back', async () => {
    const defaults = await cli('get-defaults', ['policy', 'get']);
    assert.equal(defaults.code, 0, defaults.stderr);
    assert.equal(defaults.stdout, 'max_age_days  idle_for  auto_rotate  updated\nnone          1h        no           -\n');

    const set = await cli('set', ['policy', 'set', '--max-age-days', '90', '--idle-for', '2h']);
    assert.equal(set.code, 0, set.stderr);
    assert.match(set.stdout, /^90\s+2h\s+no\s+20[0-9-]+T[0-9:]+Z$/m);
    const json = await cli('get-json', ['policy', 'get', '--json']);
    const policy = JSON.parse(json.stdout);
    assert.deepEqual(
      { ...policy, updated_at: typeof policy.updated_at },
      {
        type: 'secure_mode_rotation_policy',
        max_age_days: 90,
        idle_for: 7200,
        auto_rotate: false,
        updated_at: 'number',
      },
    );

    const none = await cli('set-none', ['policy', 'set', '--max-age-days', 'none', '--json']);
    assert.equal(none.code, 0, none.stderr);
    assert.deepEqual([JSON.parse(none.stdout).max_age_days, JSON.parse(none.stdout).idle_for], [null, 7200], 'idle_for kept');
    const off = await cli('set-no-auto', ['policy', 'set', '--no-auto-rotate', '--json']);
    assert.equal(off.code, 0, off.stderr);
    assert.equal(JSON.parse(off.stdout).auto_rotate, false);
  });

  it('refusals: auto_rotate without a rollout command is 422 (exit 3); bad or missing options exit 2', async () => {
    const refused = await cli('set-auto', ['policy', 'set', '--auto-rotate']);
    assert.equal(refused.code, 3, refused.stderr);
    assert.match(refused.stderr, /^secure-mode: .+ \(parameter_invalid, HTTP 422, request [0-9a-f-]{36}\)$/m);
    assert.equal((await api({ url: server.url, token: TOKEN }, 'GET', '/secure_mode_rotation_policy')).body.auto_rotate, false);
    const range = await cli('set-range', ['policy', 'set', '--max-age-days', '0']);
    assert.equal(range.code, 3);
    assert.match(range.stderr, /parameter_invalid, HTTP 422/);

    for (const [args, message] of [
      [[], /give --max-age-days, --idle-for, --auto-rotate or --no-auto-rotate/],
      [['--max-age-days', 'soon'], /--max-age-days must be a whole number of days or "none"/],
      [['--idle-for', 'forever'], /--idle-for must be a duration/],
    ] as const) {
      const res = await cli('set-usage', ['policy', 'set', ...args]);
      assert.equal(res.code, 2, `${args.join(' ')}: ${res.stderr}`);
      assert.match(res.stderr, message);
    }
  });

  it('secrets rotate --deliver without a rollout command is refused (exit 3) and starts nothing', async () => {
    const old = await api({ url: server.url, token: TOKEN }, 'POST', '/secure_mode_secrets', {
      body: { name: 'No rollout', supports_web: true },
    });
    recordSensitive('secret', old.body.secret);
    const res = await cli('deliver-refused', ['secrets', 'rotate', old.body.id, '--deliver']);
    assert.equal(res.code, 3, res.stderr);
    assert.match(res.stderr, /HTTP 422/);
    assert.equal((await api({ url: server.url, token: TOKEN }, 'GET', '/secure_mode_rotations')).body.data.length, 0);
    const usage = await cli('deliver-usage', ['secrets', 'rotate', old.body.id, '--deliver', '--output-secret', join(dir, 'x')]);
    assert.equal(usage.code, 2);
    assert.match(usage.stderr, /--deliver: the server rolls the new secret out/);
  });
});

describe('secure-mode secrets rotate --deliver and policy set --auto-rotate, with a rollout command', () => {
  let server: ServerProcess;
  let dir: string;
  let env: Record<string, string>;
  let appId: string;
  const rollout = new TestRolloutCommand();
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'secure-mode-deliver-cli-'));
    server = await startServer(dir, { SECURE_MODE_ROLLOUT_COMMAND: rollout.command, SECURE_MODE_WEBHOOK_RETRY_BASE_MS: '100' });
    appId = /app_id ([a-z0-9]+)/.exec(server.output())![1]!;
    env = { SECURE_MODE_URL: server.url, SECURE_MODE_TOKEN: TOKEN };
  });
  after(async () => {
    killRunningClis();
    await server.stop();
    rollout.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const app = () => ({ url: server.url, token: TOKEN });

  it('the server delivers the successor: the CLI shows no secret, says so, and shows delivered_at until completed', async () => {
    const old = await api(app(), 'POST', '/secure_mode_secrets', { body: { name: 'Delivered web', supports_web: true } });
    assert.equal(old.status, 201);
    recordSensitive('secret', old.body.secret);
    const running = startCli(
      ['secrets', 'rotate', old.body.id, '--deliver', '--idle-for', '60', '--poll-interval', '200ms'],
      env,
    );
    await running.until(() => / delivered by the server [0-9]+/.test(running.out.stderr), 'the delivery');
    const id = /started rotation ([0-9]+) on the server/.exec(running.out.stderr)![1]!;
    assert.match(running.out.stderr, /the server delivers it with its rollout command \(it is not shown here\)/);
    const payload = rollout.payload()!;
    assert.equal(payload.rotation_id, id);
    assert.doesNotMatch(running.out.stdout, /shown once/);

    const got = await runCli(['secrets', 'rotations', 'get', id], env);
    scanned('deliver-get', got);
    assert.match(
      got.stdout,
      new RegExp(
        `^${id}\\s+rolling_out\\s+${old.body.id}\\s+${payload.secret_id}\\s+1m\\s+-\\s+no\\s+\\S+\\s+-\\s+20[0-9-]+T[0-9:]+Z$`,
        'm',
      ),
    );

    // The client picks the delivered secret up and signs with it: the old one never verified, so the rotation completes.
    const userHash = createHmac('sha256', Buffer.from(payload.secret, 'utf8')).update('user-7').digest('hex');
    const verified = await api(app(), 'POST', '/identity_verification/verify', {
      token: null,
      body: { app_id: appId, platform: 'web', user_id: 'user-7', user_hash: userHash },
    });
    assert.equal(verified.status, 200);
    assert.equal(await running.exited, 0, running.out.stderr);
    scanned('deliver-watch', running.out);
    assert.match(running.out.stdout, new RegExp(`^${id}\\s+completed\\s.*\\s20[0-9-]+T[0-9:]+Z$`, 'm'));
    for (const out of [running.out.stdout, running.out.stderr, got.stdout]) assert.ok(!out.includes(payload.secret));

    const json = await runCli(['secrets', 'rotate', payload.secret_id, '--deliver', '--no-wait', '--json'], env);
    scanned('deliver-json', json);
    assert.equal(json.code, 0, json.stderr);
    const started = JSON.parse(json.stdout.trim()).rotation;
    assert.equal(started.deliver, true);
    assert.equal('secret' in started, false);
    const cancelled = await runCli(['secrets', 'rotations', 'cancel', started.id], env);
    scanned('deliver-cancel', cancelled);
    assert.equal(cancelled.code, 0, cancelled.stderr);
  });

  it('policy set --auto-rotate is accepted once the server has a rollout command', async () => {
    const res = await runCli(['policy', 'set', '--auto-rotate', '--max-age-days', '3650', '--json'], env);
    scanned('auto-rotate', res);
    assert.equal(res.code, 0, res.stderr);
    assert.deepEqual([JSON.parse(res.stdout).auto_rotate, JSON.parse(res.stdout).max_age_days], [true, 3650]);
    const table = await runCli(['policy', 'get'], env);
    assert.match(table.stdout, /^3650\s+1h\s+yes\s+20/m);
  });
});
