import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { type IncomingMessage, type Server, type ServerResponse, createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { ManualClock } from '../../src/domain/clock.js';
import { userHash } from '../../packages/sign/src/index.js';
import { api, startTestApp, type TestApp } from '../helpers/app.js';
import { type RunningCli, killRunningClis, startCli } from '../helpers/cli.js';
import { recordArtifact, recordSensitive } from '../helpers/leaks.js';
import { runCli, spawnServer, type ServerProcess } from '../helpers/process.js';

/**
 * secrets rotate against the server-side rotations API, and secrets rotations list|get|cancel|complete: the CLI as
 * a subprocess against a server subprocess (its sweeper at its default 1 s advances the rotations).
 */

const TOKEN = 'smt_rotations_cli_test_token_0123456789';
const SHOW_ONCE = /^secret \(shown once, store it now\): ([A-Za-z0-9_-]{43})$/m;

/**
 * What the CLI printed goes to the leak scan: everything but the show-once line, the one place a secret may appear.
 * The secret itself is recorded, so the scan finds it anywhere else.
 */
function scanned(name: string, out: { stdout: string; stderr: string }): void {
  const secret = SHOW_ONCE.exec(out.stdout)?.[1];
  recordSensitive('secret', secret);
  recordArtifact(`${name}-stdout.txt`, out.stdout.replace(SHOW_ONCE, ''));
  recordArtifact(`${name}-stderr.txt`, out.stderr);
}

/**
 * Between the CLI and the server. `no-rotations`: a server like Intercom, with no /secure_mode_rotations (404
 * not_found, as Intercom answers an unknown path). `drop-first-start`: the first start reaches the server, which
 * commits it, and its answer is lost (the connection closes). `hold-starts`: every start is committed and its answer
 * kept back. Everything else is forwarded.
 */
class Proxy {
  private server!: Server;
  url = '';
  rotationRequests = 0;
  /** The answers to starts the CLI never got. */
  readonly lost: { status: number; body: string }[] = [];

  constructor(
    private readonly target: string,
    public mode: 'no-rotations' | 'drop-first-start' | 'hold-starts' | 'forward',
  ) {}

  async start(): Promise<void> {
    this.server = createServer((req, res) => void this.answer(req, res));
    this.server.listen(0, '127.0.0.1');
    await once(this.server, 'listening');
    const address = this.server.address();
    if (!address || typeof address === 'string') throw new Error('no port');
    this.url = `http://127.0.0.1:${address.port}`;
  }

  private async answer(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const rotations = req.url!.startsWith('/secure_mode_rotations');
    if (rotations) this.rotationRequests++;
    if (rotations && this.mode === 'no-rotations') {
      res.writeHead(404, { 'content-type': 'application/json' });
      res.end(
        JSON.stringify({
          type: 'error.list',
          request_id: '00000000-0000-4000-8000-000000000000',
          errors: [{ code: 'not_found', message: 'Resource Not Found' }],
        }),
      );
      return;
    }
    const headers = Object.fromEntries(
      Object.entries(req.headers).filter(([k]) => !['host', 'connection', 'content-length'].includes(k)),
    ) as Record<string, string>;
    const upstream = await fetch(`${this.target}${req.url}`, {
      method: req.method!,
      headers,
      ...(chunks.length > 0 ? { body: Buffer.concat(chunks) } : {}),
    });
    const body = await upstream.text();
    const start = req.method === 'POST' && req.url === '/secure_mode_rotations';
    if (start && (this.mode === 'hold-starts' || this.mode === 'drop-first-start')) {
      this.lost.push({ status: upstream.status, body });
      if (this.mode === 'drop-first-start') {
        this.mode = 'forward';
        req.socket.destroy();
      }
      return;
    }
    res.writeHead(upstream.status, { 'content-type': upstream.headers.get('content-type') ?? 'application/json' });
    res.end(body);
  }

  close(): void {
    this.server.closeAllConnections();
    this.server.close();
  }
}

describe('secure-mode secrets rotate and secrets rotations (server-side rotations)', () => {
  let server: ServerProcess;
  let dir: string;
  let appId: string;
  let env: Record<string, string>;
  const app = () => ({ url: server.url, token: TOKEN });

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'secure-mode-rotations-cli-'));
    server = await spawnServer({
      SECURE_MODE_DATABASE_URL: `sqlite:${join(dir, 'secure-mode.db')}`,
      SECURE_MODE_BOOTSTRAP_TOKEN: TOKEN,
      SECURE_MODE_MAX_LIVE_SECRETS: '20',
    });
    appId = /app_id ([a-z0-9]+)/.exec(server.output())![1]!;
    env = { SECURE_MODE_URL: server.url, SECURE_MODE_TOKEN: TOKEN };
  });
  after(async () => {
    killRunningClis();
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  const createSecret = async (name: string) => {
    const res = await api(app(), 'POST', '/secure_mode_secrets', { body: { name, supports_web: true } });
    assert.equal(res.status, 201);
    return res.body as { id: string; secret: string };
  };
  const live = async () =>
    (await api(app(), 'GET', '/secure_mode_secrets')).body.data.map((s: { id: string }) => s.id) as string[];
  const rotation = async (id: string) => (await api(app(), 'GET', `/secure_mode_rotations/${id}`)).body;
  const verify = async (secret: string, userId = 'user-42') => {
    const userHash = createHmac('sha256', Buffer.from(secret, 'utf8')).update(userId).digest('hex');
    return (
      await api(app(), 'POST', '/identity_verification/verify', {
        token: null,
        body: { app_id: appId, platform: 'web', user_id: userId, user_hash: userHash },
      })
    ).status;
  };
  const cli = async (name: string, args: string[], cliEnv = env) => {
    const res = await runCli(args, cliEnv);
    scanned(name, res);
    return res;
  };
  const finished = async (name: string, running: RunningCli) => {
    const code = await running.exited;
    scanned(name, running.out);
    return code;
  };

  it('starts on the server, writes the successor once to a 0600 file, shows progress until the server completes it', async () => {
    const old = await createSecret('Never used web');
    const file = join(dir, 'successor.txt');
    const running = startCli(
      ['secrets', 'rotate', old.id, '--idle-for', '60', '--poll-interval', '200ms', '--output-secret', file, '--json'],
      env,
    );
    await running.until(() => running.events().some((e) => e.event === 'progress'), 'the first progress event');
    const started = running.events().find((e) => e.event === 'started')!.rotation;
    assert.equal(started.secret, undefined, 'the secret goes to the file, not stdout');
    assert.equal(started.from_secret_id, old.id);
    assert.equal(started.idle_for, 60);
    assert.equal(started.state, 'rolling_out');
    const successor = readFileSync(file, 'utf8').trim();
    recordSensitive('secret', successor);
    assert.match(successor, /^[A-Za-z0-9_-]{43}$/);
    assert.equal(statSync(file).mode & 0o777, 0o600);
    assert.deepEqual(running.events()[1]!.rotation.platforms, {
      web: { old_last_verified_at: null, new_last_verified_at: null },
    });

    // The old secret never verified: once the successor is seen on web, the server deletes it by itself.
    assert.equal(await verify(successor), 200);
    const code = await finished('start-complete', running);
    assert.equal(code, 0, running.out.stderr);
    const events = running.events();
    assert.equal(events.at(-1)!.event, 'completed');
    assert.equal(events.at(-1)!.rotation.state, 'completed');
    assert.ok(events.every((e) => e.event !== 'progress' || e.rotation.state !== 'completed'));
    assert.ok(!running.out.stdout.includes(successor) && !running.out.stderr.includes(successor));
    assert.deepEqual(await live(), [started.to_secret_id]);
    assert.equal(await verify(old.secret), 401);
    assert.equal(await verify(successor), 200);
  });

  it('watches cutting_over; complete and cancel refusals print the error and exit 3; complete --force ends it', async () => {
    const old = await createSecret('Busy web');
    assert.equal(await verify(old.secret), 200);
    const running = startCli(['secrets', 'rotate', old.id, '--idle-for', '1h', '--poll-interval', '200ms'], env);
    await running.until(() => SHOW_ONCE.test(running.out.stdout), 'the show-once secret');
    const successor = SHOW_ONCE.exec(running.out.stdout)![1]!;
    recordSensitive('secret', successor);
    await running.until(() => /rolling_out: waiting for [0-9]+ to verify on web/.test(running.out.stderr), 'rolling_out');
    const id = /started rotation ([0-9]+) on the server/.exec(running.out.stderr)![1]!;

    assert.equal(await verify(successor), 200);
    await running.until(
      () => new RegExp(`rotation ${id} cutting_over: ${old.id} idle for [0-9]+s of 1h`).test(running.out.stderr),
      'cutting_over',
    );

    const again = await cli('start-in-progress', ['secrets', 'rotate', old.id]);
    assert.equal(again.code, 3);
    assert.match(again.stderr, /\(rotation_in_progress, HTTP 409, request [0-9a-f-]{36}\)/);
    assert.match(again.stderr, new RegExp(`watch it with: secure-mode secrets rotate --watch ${id}$`, 'm'));

    const early = await cli('complete-refused', ['secrets', 'rotations', 'complete', id]);
    assert.equal(early.code, 3);
    assert.match(early.stderr, /\(identity_verification_secret_in_use, HTTP 409, request [0-9a-f-]{36}\)/);
    assert.match(early.stderr, new RegExp(`secure-mode secrets rotations complete ${id} --force`));
    const cancel = await cli('cancel-refused', ['secrets', 'rotations', 'cancel', id]);
    assert.equal(cancel.code, 3);
    assert.match(cancel.stderr, /identity_verification_secret_in_use, HTTP 409/);
    assert.match(cancel.stderr, new RegExp(`secure-mode secrets rotations cancel ${id} --keep-new`));
    assert.equal((await rotation(id)).state, 'cutting_over');

    const got = await cli('get', ['secrets', 'rotations', 'get', id]);
    assert.equal(got.code, 0, got.stderr);
    assert.match(got.stdout, /^id\s+state\s+from\s+to\s+idle_for\s+deadline\s+overdue\s+created\s+ended\s+delivered$/m);
    assert.match(got.stdout, new RegExp(`^${id}\\s+cutting_over\\s+${old.id}\\s+[0-9]+\\s+1h\\s+-\\s+no\\s`, 'm'));
    assert.match(got.stdout, /^web\s+20[0-9-]+T[0-9:]+Z\s+20[0-9-]+T[0-9:]+Z$/m);

    const forced = await cli('complete-forced', ['secrets', 'rotations', 'complete', id, '--force', '--json']);
    assert.equal(forced.code, 0, forced.stderr);
    assert.equal(JSON.parse(forced.stdout).state, 'completed');
    assert.equal(await finished('watch-forced', running), 0, running.out.stderr);
    assert.match(running.out.stderr, new RegExp(`rotation ${id} completed: ${old.id} is deleted`));
    assert.equal(await verify(old.secret), 401);

    const closed = await cli('closed', ['secrets', 'rotations', 'cancel', id]);
    assert.equal(closed.code, 3);
    assert.match(closed.stderr, /rotation_closed, HTTP 409/);
    const missing = await cli('missing', ['secrets', 'rotations', 'get', '999999']);
    assert.equal(missing.code, 3);
    assert.match(missing.stderr, /rotation_not_found, HTTP 404/);
  });

  it('Ctrl-C detaches: exit 130, the rotation goes on on the server; --watch attaches again; cancel --keep-new ends it', async () => {
    const old = await createSecret('Detached web');
    const file = join(dir, 'detached.txt');
    const running = startCli(['secrets', 'rotate', old.id, '--poll-interval', '200ms', '--output-secret', file], env);
    await running.until(() => /rolling_out: waiting for/.test(running.out.stderr), 'the first progress line');
    running.proc.kill('SIGINT');
    assert.equal(await finished('detached', running), 130);
    const id = /detached: rotation ([0-9]+) goes on on the server/.exec(running.out.stderr)?.[1];
    assert.ok(id, running.out.stderr);
    assert.match(running.out.stderr, new RegExp(`Watch it again with: secure-mode secrets rotate --watch ${id}$`, 'm'));
    const open = await rotation(id);
    assert.equal(open.state, 'rolling_out');
    assert.equal(open.idle_for, 3600, "without --idle-for, the server's default");
    const successor = readFileSync(file, 'utf8').trim();
    recordSensitive('secret', successor);
    assert.equal(await verify(old.secret), 200);
    assert.equal(await verify(successor), 200);

    const watching = startCli(['secrets', 'rotate', '--watch', id, '--poll-interval', '200ms', '--json'], env);
    await watching.until(() => watching.events().some((e) => e.event === 'progress'), 'the first progress event');
    const listed = await cli('list', ['secrets', 'rotations', 'list', '--json']);
    assert.equal(listed.code, 0, listed.stderr);
    const list = JSON.parse(listed.stdout) as { id: string; state: string }[];
    assert.equal(list[0]!.id, id, 'newest first');
    assert.ok(list.every((r) => !('secret' in r)));
    const table = await cli('list-table', ['secrets', 'rotations', 'list']);
    assert.match(table.stdout, new RegExp(`^${id}\\s+(rolling_out|cutting_over)\\s+${old.id}\\s`, 'm'));

    const refused = await cli('cancel-in-use', ['secrets', 'rotations', 'cancel', id]);
    assert.equal(refused.code, 3);
    assert.match(refused.stderr, /identity_verification_secret_in_use/);
    const kept = await cli('cancel-keep-new', ['secrets', 'rotations', 'cancel', id, '--keep-new']);
    assert.equal(kept.code, 0, kept.stderr);
    assert.match(kept.stdout, new RegExp(`^${id}\\s+cancelled\\s`, 'm'));

    assert.equal(await finished('watch-cancelled', watching), 1);
    assert.equal(watching.events().at(-1)!.event, 'cancelled');
    assert.match(watching.out.stderr, new RegExp(`rotation ${id} was cancelled: ${old.id} stays live`));
    assert.equal(await verify(old.secret), 200);
    assert.equal(await verify(successor), 200, 'kept');
  });

  it('a retried start with the same Idempotency-Key gets the same rotation and secret, never a second rotation', async () => {
    const old = await createSecret('Retried web');
    const before = (await api(app(), 'GET', '/secure_mode_rotations')).body.data.length as number;
    const args = ['secrets', 'rotate', old.id, '--idle-for', '2m', '--no-wait', '--idempotency-key', `retry-${old.id}`, '--json'];
    const first = await cli('idempotent-1', [...args, '--output-secret', join(dir, 'first.txt')]);
    const second = await cli('idempotent-2', [...args, '--output-secret', join(dir, 'second.txt')]);
    assert.equal(first.code, 0, first.stderr);
    assert.equal(second.code, 0, second.stderr);
    assert.match(first.stderr, /Watch it with: secure-mode secrets rotate --watch [0-9]+/);
    const [a, b] = [first, second].map((r) => JSON.parse(r.stdout.trim()).rotation as { id: string; to_secret_id: string });
    assert.equal(a!.id, b!.id);
    assert.equal(a!.to_secret_id, b!.to_secret_id);
    const secret = readFileSync(join(dir, 'first.txt'), 'utf8');
    recordSensitive('secret', secret.trim());
    assert.equal(readFileSync(join(dir, 'second.txt'), 'utf8'), secret);
    assert.equal((await api(app(), 'GET', '/secure_mode_rotations')).body.data.length, before + 1);
    assert.equal((await cli('cancel-idempotent', ['secrets', 'rotations', 'cancel', a!.id])).code, 0);
  });

  it('a start whose answer is lost is retried with the same Idempotency-Key: one rotation, and its secret', async () => {
    const proxy = new Proxy(server.url, 'drop-first-start');
    await proxy.start();
    try {
      const old = await createSecret('Lost answer web');
      const before = (await api(app(), 'GET', '/secure_mode_rotations')).body.data.length as number;
      const file = join(dir, 'retried.txt');
      const res = await cli('retried', ['secrets', 'rotate', old.id, '--no-wait', '--output-secret', file, '--json'], {
        ...env,
        SECURE_MODE_URL: proxy.url,
      });
      assert.equal(res.code, 0, res.stderr);
      assert.equal(proxy.lost.length, 1);
      const lost = JSON.parse(proxy.lost[0]!.body) as { id: string; secret: string };
      recordSensitive('secret', lost.secret);
      assert.equal(JSON.parse(res.stdout.trim()).rotation.id, lost.id);
      assert.equal(readFileSync(file, 'utf8'), `${lost.secret}\n`, 'the replay carried the secret the lost answer had');
      assert.equal((await api(app(), 'GET', '/secure_mode_rotations')).body.data.length, before + 1);
      assert.equal((await cli('cancel-retried', ['secrets', 'rotations', 'cancel', lost.id])).code, 0);
    } finally {
      proxy.close();
    }
  });

  it('interrupted before the start was answered: the key and the replay command, which gets that same rotation', async () => {
    const proxy = new Proxy(server.url, 'hold-starts');
    await proxy.start();
    try {
      const old = await createSecret('Interrupted start web');
      const file = join(dir, 'interrupted start.txt');
      const running = startCli(['secrets', 'rotate', old.id, '--idle-for', '10m', '--output-secret', file], {
        ...env,
        SECURE_MODE_URL: proxy.url,
      });
      while (proxy.lost.length === 0 && running.proc.exitCode === null) await sleep(20);
      const committed = JSON.parse(proxy.lost[0]!.body) as { id: string; secret: string };
      recordSensitive('secret', committed.secret);
      running.proc.kill('SIGINT');
      assert.equal(await finished('interrupted-start', running), 130);
      const replay = /replay it with: (secure-mode secrets rotate .*)$/m.exec(running.out.stderr)?.[1];
      assert.ok(replay, running.out.stderr);
      assert.match(
        replay,
        new RegExp(
          `^secure-mode secrets rotate ${old.id} --idempotency-key rotate-[0-9a-f-]{36} --idle-for 10m --output-secret '[^']*interrupted start\\.txt'$`,
        ),
      );

      // The replay, word for word as a shell reads it, against the server itself: the same rotation, the same secret.
      const words = [...replay.matchAll(/'([^']*)'|(\S+)/g)].map((m) => m[1] ?? m[2]!).slice(1);
      const replayed = await cli('replayed-start', [...words, '--no-wait']);
      assert.equal(replayed.code, 0, replayed.stderr);
      assert.match(replayed.stderr, new RegExp(`started rotation ${committed.id} on the server`));
      assert.equal(readFileSync(file, 'utf8'), `${committed.secret}\n`);
      const open = (await api(app(), 'GET', '/secure_mode_rotations')).body.data.filter(
        (r: { from_secret_id: string }) => r.from_secret_id === old.id,
      );
      assert.equal(open.length, 1, 'one rotation, not two');
      assert.equal((await cli('cancel-replayed', ['secrets', 'rotations', 'cancel', committed.id])).code, 0);
    } finally {
      proxy.close();
    }
  });

  it('without the rotations API (Intercom) it says so and rotates client-side, still waiting for the successor', async () => {
    const fake = new Proxy(server.url, 'no-rotations');
    await fake.start();
    try {
      const old = await createSecret('Intercom web');
      const file = join(dir, 'client-side.txt');
      const running = startCli(
        ['secrets', 'rotate', old.id, '--idle-for', '1s', '--poll-interval', '200ms', '--output-secret', file, '--json'],
        { ...env, SECURE_MODE_URL: fake.url },
      );
      await running.until(() => running.events().filter((e) => e.event === 'progress').length >= 3, 'client-side progress');
      assert.equal(fake.rotationRequests, 1);
      assert.match(running.out.stderr, /this server has no rotations API \(Intercom\?\): rotating client-side/);
      assert.deepEqual(
        running
          .events()
          .map((e) => e.event)
          .slice(0, 2),
        ['client_side', 'created'],
      );
      // Idle, but the successor has not verified on web: the old secret stays.
      assert.ok((await live()).includes(old.id));
      const successor = readFileSync(file, 'utf8').trim();
      recordSensitive('secret', successor);
      assert.equal(statSync(file).mode & 0o777, 0o600);
      assert.equal(await verify(successor), 200);
      assert.equal(await finished('client-side', running), 0, running.out.stderr);
      assert.equal(running.events().at(-1)!.event, 'deleted');
      assert.ok(!(await live()).includes(old.id));
      assert.equal(fake.rotationRequests, 1, 'the loop never asked for rotations again');

      // --deliver needs the server to roll the secret out: no fallback to the loop, and no secret created.
      const before = (await live()).length;
      const deliver = await cli('no-api-deliver', ['secrets', 'rotate', old.id, '--deliver'], {
        ...env,
        SECURE_MODE_URL: fake.url,
      });
      assert.equal(deliver.code, 3, deliver.stderr);
      assert.match(
        deliver.stderr,
        /this server has no rotations API \(Intercom\?\): --deliver needs its server-side rotations$/m,
      );
      assert.equal((await live()).length, before);

      for (const args of [
        ['secrets', 'rotate', '--watch', '1'],
        ['secrets', 'rotations', 'list'],
      ]) {
        const res = await cli('no-api', args, { ...env, SECURE_MODE_URL: fake.url });
        assert.equal(res.code, 3, `${args.join(' ')}: ${res.stderr}`);
        assert.match(
          res.stderr,
          /Resource Not Found \(not_found, HTTP 404, .*\); this server has no rotations API \(Intercom\?\)$/m,
        );
      }
    } finally {
      fake.close();
    }
  });

  it('usage errors exit 2 before anything is sent', async () => {
    for (const args of [
      ['secrets', 'rotate'],
      ['secrets', 'rotate', '1', '--watch', '2'],
      ['secrets', 'rotate', '1', '--from', '2'],
      ['secrets', 'rotate', '1', '--to', '2', '--deadline', '+1d'],
      ['secrets', 'rotate', '1', '--deadline', 'someday'],
      ['secrets', 'rotate', '1', '--deliver', '--client-side'],
      ['secrets', 'rotate', '--watch', '1', '--deliver'],
    ]) {
      const res = await cli('usage', args);
      assert.equal(res.code, 2, `${args.join(' ')}: ${res.stderr}`);
    }
  });
});

describe('secure-mode secrets rotate: the server completes once the old secret is idle for idle_for (injected clock)', () => {
  const clock = new ManualClock(Date.now());
  let app: TestApp;
  let dir: string;
  before(async () => {
    // The sweeper and the usage flush are slowed to their maximum: the test sweeps by hand as it moves the clock.
    app = await startTestApp({ clock, env: { SECURE_MODE_SWEEP_INTERVAL_MS: '60000', SECURE_MODE_USAGE_FLUSH_MS: '60000' } });
    dir = mkdtempSync(join(tmpdir(), 'secure-mode-rotations-idle-'));
  });
  after(async () => {
    killRunningClis();
    await app.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const verify = async (secret: string) =>
    (
      await api(app, 'POST', '/identity_verification/verify', {
        token: null,
        body: { app_id: app.workspace.appId, platform: 'web', user_id: 'u-1', user_hash: userHash(secret, { user_id: 'u-1' }) },
      })
    ).status;

  it('rolling_out → cutting_over → completed, shown live; not a second before idle_for', async () => {
    const old = (await api(app, 'POST', '/secure_mode_secrets', { body: { name: 'Web', supports_web: true } })).body as {
      id: string;
      secret: string;
    };
    assert.equal(await verify(old.secret), 200);
    const file = join(dir, 'successor.txt');
    const running = startCli(
      ['secrets', 'rotate', old.id, '--idle-for', '60', '--poll-interval', '200ms', '--output-secret', file, '--json'],
      { SECURE_MODE_URL: app.url, SECURE_MODE_TOKEN: app.token },
    );
    const seen = (state: string) => running.events().some((e) => e.event === 'progress' && e.rotation.state === state);
    await running.until(() => seen('rolling_out'), 'rolling_out');
    const id = running.events()[0]!.rotation.id as string;
    const successor = readFileSync(file, 'utf8').trim();
    recordSensitive('secret', successor);

    assert.equal(await verify(successor), 200);
    await app.runtime.sweeper.sweep();
    await running.until(() => seen('cutting_over'), 'cutting_over');
    const cutOver = running.events().findLast((e) => e.event === 'progress')!.rotation;
    assert.equal(cutOver.platforms.web.old_last_verified_at, cutOver.created_at);
    assert.notEqual(cutOver.platforms.web.new_last_verified_at, null);

    clock.advance(59_000);
    await app.runtime.sweeper.sweep();
    assert.equal((await api(app, 'GET', `/secure_mode_rotations/${id}`)).body.state, 'cutting_over');
    clock.advance(2_000);
    await app.runtime.sweeper.sweep();
    const code = await running.exited;
    scanned('idle-completed', running.out);
    assert.equal(code, 0, running.out.stderr);
    assert.equal(running.events().at(-1)!.event, 'completed');
    assert.equal(await verify(old.secret), 401);
    assert.equal(await verify(successor), 200);
  });
});
