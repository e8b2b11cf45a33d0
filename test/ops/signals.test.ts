import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, afterEach, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { ROOT } from '../helpers/process.js';

/**
 * Stopping as an operator or a container runtime stops it: the signal goes to exactly the PID they have (npm's, or
 * node's as PID 1 of a container), and afterwards no process of ours is left and the port is closed.
 */

const TOKEN = `smt_signals_test_${'s'.repeat(24)}`;

function parentOf(pid: number): number | undefined {
  try {
    // "pid (comm) state ppid …": comm may hold spaces, so split after its closing parenthesis.
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
  } catch {
    return undefined;
  }
}

function descendants(root: number): number[] {
  const all = readdirSync('/proc')
    .filter((d) => /^[0-9]+$/.test(d))
    .map(Number);
  const found: number[] = [];
  let frontier = [root];
  while (frontier.length > 0) {
    const next = all.filter((pid) => frontier.includes(parentOf(pid) ?? -1));
    found.push(...next);
    frontier = next;
  }
  return found;
}

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

interface Started {
  proc: ChildProcess;
  url: string;
  output: () => string;
}

async function start(command: string, args: string[], env: Record<string, string>): Promise<Started> {
  const proc = spawn(command, args, {
    cwd: ROOT,
    env: {
      ...process.env,
      HOST: '127.0.0.1',
      PORT: '0',
      SECURE_MODE_LOG_LEVEL: 'info',
      SECURE_MODE_BOOTSTRAP_TOKEN: TOKEN,
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  proc.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  proc.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const url = await new Promise<string>((resolve, reject) => {
    const check = () => {
      const m = /listening on (http:\/\/[0-9.]+:[0-9]+)/.exec(out);
      if (m) resolve(m[1]!);
    };
    proc.stdout!.on('data', check);
    proc.stderr!.on('data', check);
    proc.once('exit', (code) => reject(new Error(`${command} exited with ${code} before listening:\n${out}`)));
  });
  return { proc, url, output: () => out };
}

async function refused(url: string): Promise<boolean> {
  try {
    await fetch(`${url}/healthz`);
    return false;
  } catch {
    return true;
  }
}

describe('signals stop the server and leave nothing behind', { timeout: 120_000 }, () => {
  let dir: string;
  let running: ChildProcess | undefined;
  let family: number[] = [];
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'secure-mode-signals-'));
  });
  afterEach(async () => {
    // Only when an assertion failed half-way: never leave a server running after the test.
    for (const pid of family.filter(alive)) process.kill(pid, 'SIGKILL');
    if (running && running.exitCode === null && running.signalCode === null) {
      running.kill('SIGKILL');
      await once(running, 'exit');
    }
    running = undefined;
    family = [];
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  async function stopsCleanly(started: Started, pid: number, signal: NodeJS.Signals): Promise<void> {
    running = started.proc;
    assert.equal((await fetch(`${started.url}/healthz`)).status, 200);
    family = descendants(started.proc.pid!);
    assert.ok(family.length > 0 || pid === started.proc.pid, 'the server runs');
    process.kill(pid, signal);
    const [code, killedBy] = (await once(started.proc, 'exit')) as [number | null, string | null];
    assert.equal(killedBy, null, started.output());
    assert.equal(code, 0, started.output());
    assert.match(started.output(), new RegExp(`"signal":"${signal}".*"msg":"shutting down"`));
    await sleep(100);
    assert.deepEqual(family.filter(alive), [], 'no orphan');
    assert.ok(await refused(started.url), 'the port is closed');
  }

  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    it(`${signal} to the PID of npm start`, async () => {
      const started = await start('npm', ['start', '--silent'], {
        SECURE_MODE_DATABASE_URL: `sqlite:${join(dir, `npm-${signal}.db`)}`,
      });
      await stopsCleanly(started, started.proc.pid!, signal);
    });

    it(`${signal} to node dist/server.js as PID 1 of its own PID namespace (as in a container)`, async () => {
      const started = await start('unshare', ['--pid', '--fork', '--kill-child', process.execPath, 'dist/server.js'], {
        SECURE_MODE_DATABASE_URL: `sqlite:${join(dir, `pid1-${signal}.db`)}`,
      });
      const [node] = descendants(started.proc.pid!);
      assert.ok(node !== undefined);
      assert.match(readFileSync(`/proc/${node}/status`, 'utf8'), /^NSpid:\s+[0-9]+\s+1$/m, 'node is PID 1 in its namespace');
      await stopsCleanly(started, node, signal);
    });
  }

  it('SIGTERM to the primary of a cluster (SECURE_MODE_WORKERS=2) stops every worker', async () => {
    const started = await start(process.execPath, ['dist/server.js'], {
      SECURE_MODE_DATABASE_URL: `sqlite:${join(dir, 'cluster.db')}`,
      SECURE_MODE_WORKERS: '2',
    });
    running = started.proc;
    assert.equal((await fetch(`${started.url}/healthz`)).status, 200);
    family = descendants(started.proc.pid!);
    assert.equal(family.length, 2, 'two workers');
    process.kill(started.proc.pid!, 'SIGTERM');
    const [code] = (await once(started.proc, 'exit')) as [number | null];
    assert.equal(code, 0, started.output());
    await sleep(100);
    assert.deepEqual(family.filter(alive), [], 'no orphan worker');
    assert.ok(await refused(started.url));
  });
});
