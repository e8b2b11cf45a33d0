import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { api } from '../helpers/app.js';
import { assertErrorList } from '../helpers/assertions.js';
import { runCli, spawnServer, type ServerProcess } from '../helpers/process.js';

/** The `secure-mode` CLI as a user runs it (bin/secure-mode.js in a subprocess), on a temporary database. */

type CliResult = Awaited<ReturnType<typeof runCli>>;

/** Runs CLI invocations a few at a time: each is a Node.js start-up, and the machine is shared. */
async function runAll(runs: (() => Promise<CliResult>)[], width = 4): Promise<CliResult[]> {
  const results: CliResult[] = [];
  for (let i = 0; i < runs.length; i += width) results.push(...(await Promise.all(runs.slice(i, i + width).map((run) => run()))));
  return results;
}

function json(result: CliResult): any {
  assert.equal(result.code, 0, result.stderr);
  return JSON.parse(result.stdout);
}

describe('secure-mode CLI: workspaces and tokens', () => {
  let dir: string;
  let env: Record<string, string>;
  let server: ServerProcess | undefined;
  const cli = (...args: string[]) => runCli(args, env);

  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'secure-mode-cli-'));
    env = { SECURE_MODE_DATABASE_URL: `sqlite:${join(dir, 'secure-mode.db')}` };
  });
  after(async () => {
    await server?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  let acme: any;
  let beta: any;

  it('without a database, local commands refuse with one line and create nothing, unless --create', async () => {
    const commands = [
      ['workspaces', 'list'],
      ['workspaces', 'create', '--name', 'Acme'],
      ['tokens', 'list'],
      ['keys', 'rewrap'],
    ];
    for (const r of await runAll(commands.map((c) => () => cli(...c)))) {
      assert.equal(r.code, 2, r.stderr);
      assert.equal(r.stdout, '');
      assert.match(
        r.stderr,
        /^secure-mode: no database at .*secure-mode\.db: run from the server's folder or set SECURE_MODE_DATABASE_URL \(workspaces create --create makes a new one\)\n$/,
      );
    }
    assert.ok(!existsSync(join(dir, 'secure-mode.db')));
    assert.ok(!existsSync(join(dir, 'master.key')));
  });

  it('workspaces create --create --json prints the new workspace with its app_id', async () => {
    const first = await cli('workspaces', 'create', '--name', 'Acme', '--create', '--json');
    acme = json(first);
    assert.match(acme.app_id, /^[a-z0-9]{10}$/);
    assert.equal(acme.name, 'Acme');
    assert.equal(acme.default_version, 'Preview');
    assert.equal(acme.rate_limit, 1000);
    assert.equal(typeof acme.created_at, 'number');
    assert.match(first.stderr, /created master key .*master\.key/, 'says it created the key');
    assert.ok(existsSync(join(dir, 'master.key')));

    beta = json(await cli('workspaces', 'create', '--name', 'Beta', '--default-version', '2.16', '--rate-limit', '50', '--json'));
    assert.equal(beta.default_version, '2.16');
    assert.equal(beta.rate_limit, 50);
    assert.notEqual(beta.app_id, acme.app_id);
  });

  it('workspaces list shows them, as JSON and as a table', async () => {
    const [asJson, asTable] = await runAll([() => cli('workspaces', 'list', '--json'), () => cli('workspaces', 'list')]);
    assert.deepEqual(json(asJson!), [acme, beta]);
    assert.equal(asTable!.code, 0);
    const lines = asTable!.stdout.trim().split('\n');
    assert.match(lines[0]!, /^app_id\s+name\s+default_version\s+rate_limit\s+created_at$/);
    assert.equal(lines.length, 3);
    assert.match(lines[1]!, new RegExp(`^${acme.app_id}\\s+Acme\\s+Preview\\s+1000\\s`));
    assert.match(lines[2]!, new RegExp(`^${beta.app_id}\\s+Beta\\s+2\\.16\\s+50\\s`));
  });

  let writer: any;
  let reader: any;

  it('tokens create --json prints the token once; only its hash is stored', async () => {
    writer = json(
      await cli(
        'tokens',
        'create',
        '--workspace',
        acme.app_id,
        '--scopes',
        'read_secure_mode_secret,write_secure_mode_secret',
        '--name',
        'deploy',
        '--json',
      ),
    );
    assert.match(writer.token, /^smt_[A-Za-z0-9_-]{43}$/);
    assert.equal(writer.app_id, acme.app_id);
    assert.equal(writer.name, 'deploy');
    assert.deepEqual(writer.scopes, ['read_secure_mode_secret', 'write_secure_mode_secret']);
    assert.equal(writer.revoked_at, null);
    reader = json(await cli('tokens', 'create', '--workspace', acme.app_id, '--scopes', 'read_all', '--json'));
    assert.equal(reader.name, 'cli');
    assert.notEqual(reader.token, writer.token);

    for (const suffix of ['', '-wal', '-shm']) {
      const file = join(dir, `secure-mode.db${suffix}`);
      if (existsSync(file)) assert.equal(readFileSync(file).indexOf(writer.token), -1, `token value in ${file}`);
    }
  });

  it('tokens list shows every token and its workspace, never a value', async () => {
    const [asJson, asTable, onlyBeta] = await runAll([
      () => cli('tokens', 'list', '--json'),
      () => cli('tokens', 'list'),
      () => cli('tokens', 'list', '--workspace', beta.app_id, '--json'),
    ]);
    const listed = json(asJson!);
    assert.deepEqual(
      listed.map((t: any) => [t.id, t.app_id, t.name]),
      [
        [writer.id, acme.app_id, 'deploy'],
        [reader.id, acme.app_id, 'cli'],
      ],
    );
    for (const t of listed)
      assert.deepEqual(Object.keys(t).sort(), ['app_id', 'created_at', 'id', 'name', 'revoked_at', 'scopes']);
    for (const out of [asJson!.stdout, asTable!.stdout, asJson!.stderr, asTable!.stderr]) {
      assert.ok(!out.includes(writer.token) && !out.includes(reader.token), 'no token value');
      assert.doesNotMatch(out, /smt_/);
    }
    assert.deepEqual(json(onlyBeta!), []);
  });

  it('the tokens work against a server on that database, with their scopes', async () => {
    server = await spawnServer(env);
    assert.doesNotMatch(server.output(), /access token/, 'no bootstrap: the database has workspaces');
    const w = { url: server.url, token: writer.token as string };
    const r = { url: server.url, token: reader.token as string };
    const created = await api(w, 'POST', '/secure_mode_secrets', { body: { name: 'from the CLI token', supports_web: true } });
    assert.equal(created.status, 201, created.text);
    assert.deepEqual(
      (await api(r, 'GET', '/secure_mode_secrets')).body.data.map((s: any) => s.id),
      [created.body.id],
    );
    assertErrorList(await api(r, 'POST', '/secure_mode_secrets', { body: { name: 'x', supports_web: true } }), 403, 'forbidden');
  });

  it('tokens revoke makes the token answer 401 at once, while the server runs', async () => {
    const revoked = await cli('tokens', 'revoke', String(writer.id), '--json');
    const shown = json(revoked);
    assert.equal(shown.id, writer.id);
    assert.equal(typeof shown.revoked_at, 'number');
    assert.ok(!revoked.stdout.includes(writer.token));
    assertErrorList(await api({ url: server!.url, token: writer.token }, 'GET', '/secure_mode_secrets'), 401, 'unauthorized');
    assert.equal(
      (await api({ url: server!.url, token: reader.token }, 'GET', '/secure_mode_secrets')).status,
      200,
      'other tokens still work',
    );

    const [again, listed] = await runAll([
      () => cli('tokens', 'revoke', String(writer.id)),
      () => cli('tokens', 'list', '--json'),
    ]);
    assert.equal(again!.code, 0, 'revoking twice is harmless');
    assert.deepEqual(
      json(listed!).map((t: any) => t.revoked_at !== null),
      [true, false],
    );
  });

  it('--help works on every command', async () => {
    const commands = [
      [],
      ['serve'],
      ['workspaces'],
      ['workspaces', 'create'],
      ['workspaces', 'list'],
      ['tokens'],
      ['tokens', 'create'],
      ['tokens', 'list'],
      ['tokens', 'revoke'],
    ];
    const results = await runAll(commands.map((c) => () => cli(...c, '--help')));
    results.forEach((r, i) => {
      const name = ['secure-mode', ...commands[i]!].join(' ');
      assert.equal(r.code, 0, `${name} --help: ${r.stderr}`);
      assert.ok(r.stdout.startsWith(`Usage: ${name} `), `${name} --help:\n${r.stdout}`);
      assert.equal(r.stderr, '');
    });
    const help = await cli('help', 'tokens');
    assert.equal(help.code, 0);
    assert.ok(help.stdout.startsWith('Usage: secure-mode tokens '));
  });

  it('bad input exits 2 with one clear line on stderr and changes nothing', async () => {
    const cases: [string[], RegExp][] = [
      [['workspaces', 'create'], /required option '--name <name>'/],
      [['workspaces', 'create', '--name', '   '], /workspace name must be 1 to 255 characters/],
      [['workspaces', 'create', '--name', 'x', '--default-version', '9.9'], /unknown API version 9\.9/],
      [['workspaces', 'create', '--name', 'x', '--rate-limit', 'abc'], /rate limit must be a positive integer/],
      [['workspaces', 'create', '--name', 'x', '--rate-limit', '0'], /rate limit must be a positive integer/],
      [['workspaces', 'list', '--bogus'], /unknown option '--bogus'/],
      [['tokens', 'create', '--workspace', acme.app_id], /required option '--scopes <list>'/],
      [['tokens', 'create', '--workspace', 'nope', '--scopes', 'read_all'], /no workspace with app_id nope/],
      [['tokens', 'create', '--workspace', acme.app_id, '--scopes', 'read_all,bogus'], /unknown scope bogus/],
      [['tokens', 'create', '--workspace', acme.app_id, '--scopes', ','], /at least one scope/],
      [['tokens', 'revoke'], /missing required argument 'id'/],
      [['tokens', 'revoke', 'abc'], /token id must be a number/],
      [['tokns', 'list'], /unknown command 'tokns'/],
    ];
    const results = await runAll(
      cases.map(
        ([args]) =>
          () =>
            cli(...args),
      ),
    );
    results.forEach((r, i) => {
      const [args, message] = cases[i]!;
      const what = `secure-mode ${args.join(' ')}`;
      assert.equal(r.code, 2, `${what}: exit ${r.code}, ${r.stderr}`);
      assert.equal(r.stdout, '', what);
      const lines = r.stderr.split('\n').filter((l) => l !== '');
      assert.equal(lines.length, 1, `${what}: one line, got:\n${r.stderr}`);
      assert.match(lines[0]!, /^secure-mode: /);
      assert.match(lines[0]!, message, what);
    });

    const unknownToken = await cli('tokens', 'revoke', '999');
    assert.equal(unknownToken.code, 3, 'a refusal, not a usage error');
    assert.equal(unknownToken.stderr, 'secure-mode: no token with id 999\n');

    const badConfig = await runCli(['workspaces', 'list'], { SECURE_MODE_DATABASE_URL: 'mysql://x' });
    assert.equal(badConfig.code, 2);
    assert.match(badConfig.stderr, /^secure-mode: SECURE_MODE_DATABASE_URL must start with sqlite: or postgres:\/\/.*\n$/);

    assert.deepEqual(
      json(await cli('workspaces', 'list', '--json')).map((w: any) => w.name),
      ['Acme', 'Beta'],
    );
  });
});
