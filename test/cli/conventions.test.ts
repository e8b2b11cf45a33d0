import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { api } from '../helpers/app.js';
import { ROOT, runCli, spawnServer, type ServerProcess } from '../helpers/process.js';

/** The conventions gh, stripe and vault set: --version, inherited options in every help, required marked, confirm, pipes. */

const VERSION = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;

describe('secure-mode CLI conventions', () => {
  it('--version and -V print the package version', async () => {
    for (const flag of ['--version', '-V']) {
      const r = await runCli([flag]);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout, `${VERSION}\n`);
    }
  });

  it('every HTTP sub-command lists --url and --token in its help, and required options are marked', async () => {
    const http = ['list', 'get', 'create', 'update', 'delete', 'usage', 'rotate']
      .map((c) => ['secrets', c])
      .concat(['list', 'get', 'cancel', 'complete'].map((c) => ['secrets', 'rotations', c]))
      .concat([['audit', 'list']])
      .concat(['list', 'get', 'create', 'delete', 'deliveries'].map((c) => ['webhooks', c]))
      .concat(['get', 'set'].map((c) => ['policy', c]));
    for (const command of http) {
      const r = await runCli([...command, '--help']);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /^ {2}--url <url> /m, `${command.join(' ')} --help`);
      assert.match(r.stdout, /^ {2}--token <token> /m, `${command.join(' ')} --help`);
    }
    const create = await runCli(['secrets', 'create', '--help']);
    assert.match(create.stdout, /--name <name> +name of the secret \(required\)/);
    assert.match(create.stdout, /--platforms <list> +comma-separated: [^\n]*\n?[^\n]*\(required\)/);
    assert.doesNotMatch(create.stdout, /--output-secret <file>[^\n]*\(required\)/);
    const webhook = await runCli(['webhooks', 'create', '--help']);
    assert.match(webhook.stdout, /^Usage: secure-mode webhooks create \[options\] <endpoint_url>$/m);
    assert.match(webhook.stdout, /--events <list> +comma-separated event types, or "\*" for all:\s+secret\.created,/);
    const policy = await runCli(['policy', 'set', '--help']);
    assert.match(policy.stdout, /--auto-rotate /);
    assert.match(policy.stdout, /--no-auto-rotate /);
    const rotate = await runCli(['secrets', 'rotate', '--help']);
    assert.match(rotate.stdout, /--deliver +server-side: the server rolls the new\s+secret out/);
  });

  it('a closed pipe (… | head) ends the CLI quietly, without a stack trace', async () => {
    const proc = spawn(process.execPath, ['bin/secure-mode.js', 'secrets', 'rotate', '--help'], {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    proc.stdout.destroy();
    let stderr = '';
    proc.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const [code] = (await once(proc, 'exit')) as [number | null];
    assert.equal(stderr, '');
    assert.equal(code, 0);
  });
});

describe('secrets delete confirms on a terminal', () => {
  let dir: string;
  let server: ServerProcess;
  const token = `smt_conventions_test_${'c'.repeat(24)}`;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'secure-mode-confirm-'));
    server = await spawnServer({
      SECURE_MODE_DATABASE_URL: `sqlite:${join(dir, 'secure-mode.db')}`,
      SECURE_MODE_BOOTSTRAP_TOKEN: token,
    });
  });
  after(async () => {
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  /** Runs the CLI on a pseudo-terminal (util-linux script), typing `input`. */
  function onTerminal(args: string[], input: string): { status: number | null; output: string } {
    const command = [process.execPath, join(ROOT, 'bin/secure-mode.js'), ...args].map((a) => `'${a}'`).join(' ');
    const r = spawnSync('script', ['-qec', command, '/dev/null'], { cwd: ROOT, input, encoding: 'utf8' });
    return { status: r.status, output: r.stdout };
  }
  const live = async () =>
    (await api({ url: server.url, token }, 'GET', '/secure_mode_secrets')).body.data.map((s: { id: string }) => s.id);

  it('asks, and anything but yes deletes nothing; yes and --yes delete', async () => {
    const ids: string[] = [];
    for (const name of ['a', 'b', 'c']) {
      ids.push(
        (await api({ url: server.url, token }, 'POST', '/secure_mode_secrets', { body: { name, supports_web: true } })).body.id,
      );
    }
    const http = ['--url', server.url, '--token', token];
    const no = onTerminal(['secrets', 'delete', ids[0]!, ...http], 'n\n');
    assert.match(no.output, new RegExp(`delete secret ${ids[0]}\\? .*\\[y/N\\]`));
    assert.match(no.output, /secure-mode: not deleted/);
    assert.equal(no.status, 3);
    assert.deepEqual(await live(), ids);

    const yes = onTerminal(['secrets', 'delete', ids[0]!, ...http], 'y\n');
    assert.equal(yes.status, 0, yes.output);
    assert.match(yes.output, new RegExp(`deleted ${ids[0]}`));

    const flag = onTerminal(['secrets', 'delete', ids[1]!, '--yes', ...http], '');
    assert.equal(flag.status, 0, flag.output);
    assert.doesNotMatch(flag.output, /\[y\/N\]/);

    // Not on a terminal (a script), it does not ask.
    const piped = await runCli(['secrets', 'delete', ids[2]!, ...http]);
    assert.equal(piped.code, 0, piped.stderr);
    assert.deepEqual(await live(), []);
  });
});
