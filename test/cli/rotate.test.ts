import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, it } from 'node:test';
import { api } from '../helpers/app.js';
import { killRunningClis, startCli } from '../helpers/cli.js';
import { runCli, spawnServer, type ServerProcess } from '../helpers/process.js';

const TOKEN = 'smt_rotate_test_token_0123456789';

const trafficLoops = new Set<() => Promise<void>>();

describe('secure-mode secrets rotate --client-side (CLI against a real server)', () => {
  let server: ServerProcess;
  let dir: string;
  let appId: string;
  let cliEnv: Record<string, string>;
  const app = () => ({ url: server.url, token: TOKEN });

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'secure-mode-rotate-'));
    server = await spawnServer({
      SECURE_MODE_DATABASE_URL: `sqlite:${join(dir, 'secure-mode.db')}`,
      SECURE_MODE_BOOTSTRAP_TOKEN: TOKEN,
    });
    appId = /app_id ([a-z0-9]+)/.exec(server.output())![1]!;
    cliEnv = { SECURE_MODE_URL: server.url, SECURE_MODE_TOKEN: TOKEN };
  });
  after(async () => {
    // A failed test may leave its traffic and its CLI running: stop them first.
    for (const stop of trafficLoops) await stop();
    killRunningClis();
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  const createSecret = async (name: string) => {
    const res = await api(app(), 'POST', '/secure_mode_secrets', { body: { name, supports_web: true } });
    assert.equal(res.status, 201);
    return res.body as { id: string; secret: string };
  };
  const liveIds = async () =>
    (await api(app(), 'GET', '/secure_mode_secrets')).body.data.map((s: { id: string }) => s.id) as string[];
  const verify = async (secret: string, userId = 'user-42') => {
    const userHash = createHmac('sha256', Buffer.from(secret, 'utf8')).update(userId).digest('hex');
    const res = await api(app(), 'POST', '/identity_verification/verify', {
      token: null,
      body: { app_id: appId, platform: 'web', user_id: userId, user_hash: userHash },
    });
    return res.status;
  };

  /** A Messenger's traffic: a verification every 100 ms, signed with whichever secret it currently has. */
  function traffic(initial: string) {
    const state = { secret: initial, running: true, failures: 0, ok: 0 };
    const loop = (async () => {
      while (state.running) {
        if ((await verify(state.secret)) === 200) state.ok++;
        else state.failures++;
        await sleep(100);
      }
    })();
    const stop = async () => {
      state.running = false;
      await loop;
      trafficLoops.delete(stop);
    };
    trafficLoops.add(stop);
    return { state, stop };
  }

  it('full rotation: waits while traffic uses the old secret, deletes it only after the idle window, new one verifies', async () => {
    const old = await createSecret('Production web');
    const t = traffic(old.secret);
    while (t.state.ok === 0) await sleep(50);
    const file = join(dir, 'new-secret.txt');
    const cli = startCli(
      [
        'secrets',
        'rotate',
        '--client-side',
        '--from',
        old.id,
        '--idle-for',
        '3s',
        '--poll-interval',
        '200ms',
        '--timeout',
        '5m',
        '--output-secret',
        file,
        '--json',
      ],
      cliEnv,
    );
    await cli.until(() => cli.events().some((e) => e.event === 'created'), 'creating the new secret');
    const created = cli.events().find((e) => e.event === 'created')!;
    const newId = created.new.id as string;
    assert.equal(created.new.secret, undefined, 'the secret goes to the file, not stdout');
    const newSecret = readFileSync(file, 'utf8').trim();
    assert.match(newSecret, /^[A-Za-z0-9_-]{43}$/);
    assert.equal(statSync(file).mode & 0o777, 0o600);
    assert.ok(!cli.out.stderr.includes(newSecret) && !cli.out.stdout.includes(newSecret));

    // While the Messenger still signs with the old secret, the rotation waits and the old secret keeps working.
    await cli.until(() => cli.events().filter((e) => e.event === 'progress').length >= 5, 'five progress reports');
    assert.ok(cli.events().every((e) => e.event !== 'deleted'));
    assert.equal(await verify(old.secret), 200);
    assert.equal(t.state.failures, 0);

    // The new secret is rolled out; the old one goes quiet and is deleted once idle for the window.
    t.state.secret = newSecret;
    const code = await cli.exited;
    await t.stop();
    assert.equal(code, 0, cli.out.stderr);
    assert.equal(t.state.failures, 0, 'no verification failed during the rotation');

    const events = cli.events();
    assert.equal(events.at(-1)!.event, 'deleted');
    const progress = events.filter((e) => e.event === 'progress');
    const last = progress.at(-1)!;
    assert.ok(last.old_idle_seconds >= 3);
    assert.ok(last.new_count > 0 && last.new_share > 0);
    assert.ok(
      progress.some((e) => e.old_idle_seconds !== null && e.old_idle_seconds < 3),
      'it waited while the old secret was in use',
    );

    assert.deepEqual(await liveIds(), [newId]);
    assert.equal(await verify(old.secret), 401);
    assert.equal(await verify(newSecret), 200);
    const deleted = (await api(app(), 'GET', '/audit_events?action=secret.deleted')).body.data.find(
      (e: { target: { id: string } }) => e.target.id === old.id,
    );
    assert.equal(deleted.details.if_idle_for, 3);
    assert.ok(deleted.created_at - last.old_last_verified_at >= 3, 'deleted only after 3 s without verifications');
  });

  it('SIGINT leaves both secrets valid and prints how to resume; the resume command finishes the job', async () => {
    const [current] = await liveIds();
    const currentSecret = readFileSync(join(dir, 'new-secret.txt'), 'utf8').trim();
    const t = traffic(currentSecret);
    const file = join(dir, 'interrupted-secret.txt');
    const cli = startCli(
      [
        'secrets',
        'rotate',
        '--client-side',
        '--from',
        current!,
        '--idle-for',
        '1h',
        '--poll-interval',
        '200ms',
        '--output-secret',
        file,
      ],
      cliEnv,
    );
    await cli.until(() => /last verified/.test(cli.out.stderr), 'the first progress line');
    cli.proc.kill('SIGINT');
    const code = await cli.exited;
    await t.stop();
    assert.equal(code, 130);
    const newSecret = readFileSync(file, 'utf8').trim();
    const resume = /Resume with: (secure-mode secrets rotate .*)$/m.exec(cli.out.stderr)?.[1];
    assert.ok(resume, cli.out.stderr);
    assert.match(cli.out.stderr, new RegExp(`nothing was deleted; ${current} and [0-9]+ both stay valid`));
    const ids = await liveIds();
    assert.equal(ids.length, 2);
    assert.equal(await verify(currentSecret), 200);
    assert.equal(await verify(newSecret), 200);

    // Resume exactly as printed, with a shorter window: traffic has stopped, so the old secret goes.
    const args = resume.split(' ').slice(1);
    args[args.indexOf('--idle-for') + 1] = '1s';
    const resumed = await runCli([...args, '--poll-interval', '200ms'], cliEnv);
    assert.equal(resumed.code, 0, resumed.stderr);
    assert.deepEqual(
      await liveIds(),
      ids.filter((id) => id !== current),
    );
    assert.equal(await verify(currentSecret), 401);
    assert.equal(await verify(newSecret), 200);
  });

  it('never overwrites an existing file, and creates nothing then', async () => {
    const current = (await liveIds())[0] ?? (await createSecret('Only')).id;
    const file = join(dir, 'existing.txt');
    writeFileSync(file, 'keep me');
    const res = await runCli(['secrets', 'rotate', '--from', current, '--output-secret', file], cliEnv);
    assert.equal(res.code, 2);
    assert.match(res.stderr, /already exists/);
    assert.equal(readFileSync(file, 'utf8'), 'keep me');
    assert.deepEqual(await liveIds(), [current]);
  });

  it('--no-wait creates the new secret, prints it once and says how to finish; exit codes for refusals', async () => {
    const current = (await liveIds())[0]!;
    const res = await runCli(['secrets', 'rotate', '--client-side', '--from', current, '--no-wait', '--name', 'Next'], cliEnv);
    assert.equal(res.code, 0, res.stderr);
    assert.match(res.stdout, /secret \(shown once, store it now\): [A-Za-z0-9_-]{43}/);
    assert.match(res.stderr, new RegExp(`--from ${current} --to [0-9]+`));
    assert.equal((await liveIds()).length, 2);
    assert.equal((await runCli(['secrets', 'rotate', '--from', '999999'], cliEnv)).code, 3);
    assert.equal((await runCli(['secrets', 'list'], { ...cliEnv, SECURE_MODE_TOKEN: 'smt_wrong_token_000000000000' })).code, 3);
    assert.equal(
      (await runCli(['secrets', 'list'], { SECURE_MODE_URL: 'http://127.0.0.1:9', SECURE_MODE_TOKEN: TOKEN })).code,
      4,
    );
    assert.equal((await runCli(['secrets', 'rotate', '--from', current, '--idle-for', 'soon'], cliEnv)).code, 2);
  });
});
