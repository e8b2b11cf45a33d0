import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { api } from '../helpers/app.js';
import { freePort, installEnv, localPrebuilds, pack, run, tarballFiles } from '../helpers/packaging.js';
import { ROOT } from '../helpers/process.js';

/**
 * Both packages as a user gets them: packed, installed with `npm install <tarball>` into an empty folder, and used —
 * `npx secure-mode --version`, `npx secure-mode serve`, and values signed by secure-mode-sign verifying against it.
 */

const TOKEN = `smt_packages_test_${'p'.repeat(24)}`;
const VERSION = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;

describe('the packed packages, installed into empty folders', { timeout: 900_000 }, () => {
  let dir: string;
  let serverTarball: string;
  let signTarball: string;
  let server: ChildProcess | undefined;
  let prebuilds: string;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'secure-mode-packages-'));
    prebuilds = await localPrebuilds(dir);
    serverTarball = await pack(dir);
    signTarball = await pack(dir, 'secure-mode-sign');
  });
  after(async () => {
    if (server && server.exitCode === null && server.signalCode === null) {
      process.kill(-server.pid!, 'SIGKILL');
      await once(server, 'exit');
    }
    rmSync(dir, { recursive: true, force: true });
  });

  it('each tarball holds what its users need and nothing else', async () => {
    const files = await tarballFiles(serverTarball);
    for (const needed of [
      'package.json',
      'README.md',
      'bin/secure-mode.js',
      'dist/server.js',
      'dist/cli/index.js',
      'dist/sign.js',
      'dist/sign.d.ts',
      'dist/console/index.html',
      'dist/console/console.js',
      'node_modules/secure-mode-sign/dist/index.js',
    ]) {
      assert.ok(files.includes(needed), `${needed} is in the server package`);
    }
    const unwanted = files.filter(
      (f) => /^(src|test|bench|scripts|docs|packages|\.ci)\//.test(f) || /\.(ts|map)$/.test(f.replace(/\.d\.ts$/, '')),
    );
    assert.deepEqual(unwanted, []);

    assert.deepEqual((await tarballFiles(signTarball)).sort(), ['README.md', 'dist/index.d.ts', 'dist/index.js', 'package.json']);
  });

  it('secure-mode: npx secure-mode --version, and npx secure-mode serve answers /healthz', async () => {
    const app = join(dir, 'server-app');
    mkdirSync(app);
    const installed = await run('npm', ['install', serverTarball], { cwd: app, env: installEnv(prebuilds) });
    assert.equal(installed.code, 0, installed.output);

    const version = await run('npx', ['secure-mode', '--version'], { cwd: app });
    assert.equal(version.code, 0, version.output);
    assert.equal(version.stdout, `${VERSION}\n`);

    // `secure-mode/sign` from the installed server package (this failed with ERR_MODULE_NOT_FOUND before).
    writeFileSync(
      join(app, 'sign.mjs'),
      "import { userHash } from 'secure-mode/sign';\nprocess.stdout.write(userHash('secret', { user_id: 'Message' }));\n",
    );
    const reexport = await run(process.execPath, ['sign.mjs'], { cwd: app });
    assert.equal(reexport.stdout, 'aa747c502a898200f9e4fa21bac68136f886a0e27aec70ba06daf2e2a5cb5597');

    const port = await freePort();
    server = spawn('npx', ['secure-mode', 'serve'], {
      cwd: app,
      env: {
        ...process.env,
        HOST: '127.0.0.1',
        PORT: String(port),
        SECURE_MODE_BOOTSTRAP_TOKEN: TOKEN,
        SECURE_MODE_DATABASE_URL: '',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    let out = '';
    server.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    server.stderr!.on('data', (d: Buffer) => (out += d.toString()));
    await new Promise<void>((resolve, reject) => {
      server!.stderr!.on('data', () => /listening on/.test(out) && resolve());
      server!.once('exit', (code) => reject(new Error(`exited with ${code}:\n${out}`)));
    });
    const health = await fetch(`http://127.0.0.1:${port}/healthz`);
    assert.equal(health.status, 200);
    assert.deepEqual(
      readdirSync(join(app, 'data'))
        .filter((f) => !/-(wal|shm|journal)$/.test(f))
        .sort(),
      // The lock file is what keeps a second server off this database while this one runs.
      ['master.key', 'secure-mode.db', 'secure-mode.db.lock'],
    );

    // secure-mode-sign, alone in another empty folder: no dependencies come with it.
    const customer = join(dir, 'customer');
    mkdirSync(customer);
    const signInstalled = await run('npm', ['install', signTarball], { cwd: customer, env: installEnv(prebuilds) });
    assert.equal(signInstalled.code, 0, signInstalled.output);
    assert.deepEqual(
      readdirSync(join(customer, 'node_modules')).filter((f) => !f.startsWith('.')),
      ['secure-mode-sign'],
    );

    const url = `http://127.0.0.1:${port}`;
    const created = await api({ url, token: TOKEN }, 'POST', '/secure_mode_secrets', {
      body: { name: 'packed', supports_web: true },
    });
    assert.equal(created.status, 201, created.text);
    const appId = /app_id ([a-z0-9]{10})/.exec(out)?.[1];
    assert.ok(appId, out);
    writeFileSync(
      join(customer, 'sign.mjs'),
      [
        "import { userHash, userJwt } from 'secure-mode-sign';",
        'const [secret] = process.argv.slice(2);',
        "process.stdout.write(JSON.stringify({ hash: userHash(secret, { user_id: 'u-7' }), jwt: userJwt(secret, { user_id: 'u-7' }, { expiresIn: '5m' }) }));",
      ].join('\n'),
    );
    const signed = await run(process.execPath, ['sign.mjs', created.body.secret], { cwd: customer });
    assert.equal(signed.code, 0, signed.output);
    const { hash, jwt } = JSON.parse(signed.stdout) as { hash: string; jwt: string };
    const byHash = await api({ url }, 'POST', '/identity_verification/verify', {
      body: { app_id: appId, platform: 'web', user_id: 'u-7', user_hash: hash },
    });
    assert.equal(byHash.status, 200, byHash.text);
    assert.equal(byHash.body.verified, true);
    const byJwt = await api({ url }, 'POST', '/identity_verification/verify', {
      body: { app_id: appId, platform: 'web', intercom_user_jwt: jwt },
    });
    assert.equal(byJwt.status, 200, byJwt.text);
    assert.equal(byJwt.body.user_id, 'u-7');

    // Ctrl-C in a terminal: SIGINT to the foreground process group (npx, its shell and the server).
    process.kill(-server.pid!, 'SIGINT');
    await once(server, 'exit');
    let stopped = false;
    for (let i = 0; i < 100 && !stopped; i++) {
      stopped = await fetch(`http://127.0.0.1:${port}/healthz`).then(
        () => false,
        () => true,
      );
      if (!stopped) await new Promise((resolve) => setTimeout(resolve, 100));
    }
    assert.ok(stopped, 'the server stopped with npx');
    assert.match(out, /"signal":"SIGINT","msg":"shutting down"/);
  });
});
