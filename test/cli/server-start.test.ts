import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { api } from '../helpers/app.js';
import { ROOT, spawnServer } from '../helpers/process.js';

/** Start-up as a person meets it: `npm start` on nothing, and every kind of bad configuration. */

const SERVER = join(ROOT, 'dist/server.js');
/** A valid key, so that cases about the database do not also print the notice of a created key file. */
const KEY = Buffer.alloc(32, 9).toString('base64');

interface Exited {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs the compiled server where it must not start: resolves when it exits; kills it and fails if it starts listening. */
async function serverMustFail(env: Record<string, string>, cwd = ROOT): Promise<Exited> {
  const proc = spawn(process.execPath, [SERVER], {
    cwd,
    env: { ...process.env, HOST: '127.0.0.1', PORT: '0', SECURE_MODE_LOG_LEVEL: 'warn', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  proc.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  proc.stderr.on('data', (d: Buffer) => {
    stderr += d.toString();
    if (/listening on/.test(stderr)) proc.kill('SIGKILL');
  });
  const [code] = (await once(proc, 'exit')) as [number | null];
  assert.doesNotMatch(stderr, /listening on/, `started although it should not have:\n${stderr}`);
  return { code, stdout, stderr };
}

function assertOneClearLine(result: Exited, message: RegExp): void {
  assert.equal(result.code, 1, result.stderr);
  assert.equal(result.stdout, '');
  const lines = result.stderr.split('\n').filter((l) => l !== '');
  assert.equal(lines.length, 1, `one line, got:\n${result.stderr}`);
  assert.match(lines[0]!, /^secure-mode: /);
  assert.match(lines[0]!, message);
  assert.doesNotMatch(result.stderr, /^\s+at /m, 'no stack trace');
}

describe('npm start from a fresh state', () => {
  let dir: string;
  let npm: ChildProcess | undefined;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'secure-mode-start-'));
  });
  after(async () => {
    if (npm && npm.exitCode === null && npm.signalCode === null) {
      // npm runs the server in a child of its own: end the whole process group this test started.
      process.kill(-npm.pid!, 'SIGKILL');
      await once(npm, 'exit');
    }
    rmSync(dir, { recursive: true, force: true });
  });

  it('creates the key and a workspace, prints a working token once, and stops cleanly on SIGTERM', async () => {
    const data = join(dir, 'data');
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      HOST: '127.0.0.1',
      PORT: '0',
      SECURE_MODE_DATABASE_URL: `sqlite:${join(data, 'secure-mode.db')}`,
    };
    delete env.SECURE_MODE_BOOTSTRAP_TOKEN;
    delete env.SECURE_MODE_MASTER_KEY;
    npm = spawn('npm', ['start', '--silent'], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    let out = '';
    npm.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    npm.stderr!.on('data', (d: Buffer) => (out += d.toString()));
    const url = await new Promise<string>((resolve, reject) => {
      const check = () => {
        const m = /listening on (http:\/\/127\.0\.0\.1:[0-9]+)/.exec(out);
        if (m) resolve(m[1]!);
      };
      npm!.stdout!.on('data', check);
      npm!.stderr!.on('data', check);
      npm!.once('exit', (code) => reject(new Error(`npm start exited with ${code}:\n${out}`)));
    });

    const token = /access token \(shown only now\): (smt_[A-Za-z0-9_-]{43})\n/.exec(out)?.[1];
    assert.ok(token, `a token is printed:\n${out}`);
    assert.equal(out.split(token).length, 2, 'printed exactly once');
    assert.match(out, /created workspace "Default workspace" with app_id [a-z0-9]{10}/);
    assert.match(out, /created master key .*master\.key \(mode 0600\)/);

    const key = join(data, 'master.key');
    assert.ok(existsSync(key));
    assert.equal(statSync(key).mode & 0o777, 0o600);
    assert.equal(Buffer.from(readFileSync(key, 'utf8').trim(), 'base64').length, 32);

    const client = { url, token };
    const created = await api(client, 'POST', '/secure_mode_secrets', { body: { name: 'first', supports_web: true } });
    assert.equal(created.status, 201, created.text);
    assert.equal((await api(client, 'GET', '/secure_mode_secrets')).body.data.length, 1);
    assert.ok(!out.includes(created.body.secret), 'the secret is not in the output');

    // Exactly the PID a person has: npm's own (test/ops/signals.test.ts checks that nothing is left behind).
    process.kill(npm.pid!, 'SIGTERM');
    const [code] = (await once(npm, 'exit')) as [number | null];
    assert.equal(code, 0, out);
    npm = undefined;

    // A second start on the same state: no new workspace, no token printed, the old token still works.
    const again = await spawnServer({ SECURE_MODE_DATABASE_URL: `sqlite:${join(data, 'secure-mode.db')}` });
    try {
      assert.doesNotMatch(again.output(), /created/);
      assert.equal((await api({ url: again.url, token }, 'GET', '/secure_mode_secrets')).body.data.length, 1);
    } finally {
      assert.equal(await again.stop(), 0);
    }
  });

  it('without SECURE_MODE_DATABASE_URL it keeps its state in ./data', async () => {
    const cwd = join(dir, 'elsewhere');
    mkdirSync(cwd);
    const env: Record<string, string> = { SECURE_MODE_BOOTSTRAP_TOKEN: `smt_default_location_${'d'.repeat(24)}` };
    // The same entry point as npm start, run in another directory to see where the default state goes.
    const proc = spawn(process.execPath, [SERVER], {
      cwd,
      env: { ...process.env, HOST: '127.0.0.1', PORT: '0', SECURE_MODE_DATABASE_URL: '', ...env },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let err = '';
    await new Promise<void>((resolve, reject) => {
      proc.stderr.on('data', (d: Buffer) => {
        err += d.toString();
        if (/listening on/.test(err)) resolve();
      });
      proc.once('exit', (code) => reject(new Error(`exited with ${code}: ${err}`)));
    });
    proc.kill('SIGTERM');
    await once(proc, 'exit');
    assert.ok(existsSync(join(cwd, 'data', 'secure-mode.db')));
    assert.equal(statSync(join(cwd, 'data', 'master.key')).mode & 0o777, 0o600);
    assert.match(err, /created an all-scopes access token from SECURE_MODE_BOOTSTRAP_TOKEN/);
    assert.ok(!err.includes(env.SECURE_MODE_BOOTSTRAP_TOKEN!), 'a given token is not echoed');
  });
});

describe('bad configuration stops start-up with one clear line', () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'secure-mode-badconfig-'));
  });
  after(() => {
    rmSync(dir, { recursive: true, force: true });
  });
  const db = () => ({ SECURE_MODE_DATABASE_URL: `sqlite:${join(dir, 'ok', 'secure-mode.db')}` });

  const cases: [string, () => Record<string, string>, RegExp][] = [
    ['PORT=abc', () => ({ ...db(), PORT: 'abc' }), /PORT must be a whole number from 0 to 65535 \(got "abc"\)/],
    ['PORT=70000', () => ({ ...db(), PORT: '70000' }), /PORT must be a whole number/],
    [
      'a mysql URL',
      () => ({ SECURE_MODE_DATABASE_URL: 'mysql://x' }),
      /SECURE_MODE_DATABASE_URL must start with sqlite: or postgres:\/\//,
    ],
    ['an empty sqlite: URL', () => ({ SECURE_MODE_DATABASE_URL: 'sqlite:' }), /sqlite: needs a file path/],
    ['a short master key', () => ({ ...db(), SECURE_MODE_MASTER_KEY: 'c2hvcnQ=' }), /SECURE_MODE_MASTER_KEY must be 32 bytes/],
    [
      'a short bootstrap token',
      () => ({ ...db(), SECURE_MODE_BOOTSTRAP_TOKEN: 'short' }),
      /SECURE_MODE_BOOTSTRAP_TOKEN must be at least 20 characters/,
    ],
    [
      'a zero live-secret cap',
      () => ({ ...db(), SECURE_MODE_MAX_LIVE_SECRETS: '0' }),
      /SECURE_MODE_MAX_LIVE_SECRETS must be a whole number from 1 to 100/,
    ],
    [
      'a database path that is a directory',
      () => {
        mkdirSync(join(dir, 'isdir', 'secure-mode.db'), { recursive: true });
        return { SECURE_MODE_DATABASE_URL: `sqlite:${join(dir, 'isdir', 'secure-mode.db')}`, SECURE_MODE_MASTER_KEY: KEY };
      },
      /cannot open database .*isdir\/secure-mode\.db/,
    ],
    [
      'a file that is not a database',
      () => {
        mkdirSync(join(dir, 'garbage'));
        writeFileSync(join(dir, 'garbage', 'secure-mode.db'), 'this is not an SQLite database, not at all, '.repeat(100));
        return { SECURE_MODE_DATABASE_URL: `sqlite:${join(dir, 'garbage', 'secure-mode.db')}`, SECURE_MODE_MASTER_KEY: KEY };
      },
      /cannot open database .*garbage\/secure-mode\.db/,
    ],
    [
      'a master.key others can read',
      () => {
        mkdirSync(join(dir, 'open'));
        writeFileSync(join(dir, 'open', 'master.key'), `${Buffer.alloc(32, 7).toString('base64')}\n`);
        chmodSync(join(dir, 'open', 'master.key'), 0o644);
        return { SECURE_MODE_DATABASE_URL: `sqlite:${join(dir, 'open', 'secure-mode.db')}` };
      },
      /master\.key must not be readable by group or others \(chmod 600/,
    ],
  ];

  for (const [what, env, message] of cases) {
    it(what, async () => {
      const vars = env();
      const result = await serverMustFail(vars);
      assertOneClearLine(result, message);
      if (vars.SECURE_MODE_MASTER_KEY) assert.ok(!result.stderr.includes(vars.SECURE_MODE_MASTER_KEY), 'the key is not echoed');
    });
  }

  it('a port already in use', async () => {
    const blocker = createServer();
    blocker.listen(0, '127.0.0.1');
    await once(blocker, 'listening');
    const port = (blocker.address() as { port: number }).port;
    try {
      const result = await serverMustFail({
        ...db(),
        PORT: String(port),
        SECURE_MODE_BOOTSTRAP_TOKEN: `smt_port_in_use_${'p'.repeat(24)}`,
      });
      assert.equal(result.code, 1);
      const lines = result.stderr.split('\n').filter((l) => l !== '');
      assert.match(lines.at(-1)!, /^secure-mode: could not start: .*EADDRINUSE/);
      assert.doesNotMatch(result.stderr, /^\s+at /m);
    } finally {
      blocker.close();
    }
  });

  it('secure-mode serve refuses the same way', async () => {
    const proc = spawn(process.execPath, ['bin/secure-mode.js', 'serve'], {
      cwd: ROOT,
      env: { ...process.env, ...db(), PORT: 'abc' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    proc.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const [code] = (await once(proc, 'exit')) as [number];
    assertOneClearLine({ code, stdout: '', stderr }, /PORT must be a whole number/);
  });
});
