import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import YAML from 'yaml';
import { userHash } from '../../packages/sign/src/index.js';
import { api } from '../helpers/app.js';
import { freePort, installEnv, localPrebuilds, pack, run } from '../helpers/packaging.js';
import { ROOT } from '../helpers/process.js';

/**
 * The image's steps without a container daemon: scripts/container.sh installs the packed server production-only into a
 * clean folder, starts it, answers its health check, verifies, and stops with exit 0 on SIGTERM, as the Dockerfile
 * runs it. The Dockerfile and compose.yaml are checked to call exactly those steps.
 */

const SCRIPT = join(ROOT, 'scripts/container.sh');
const TOKEN = `smt_container_test_${'k'.repeat(24)}`;

describe('container steps (scripts/container.sh) in a clean folder', { timeout: 900_000 }, () => {
  let dir: string;
  let server: ChildProcess | undefined;
  let prebuilds: string;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'secure-mode-container-'));
    prebuilds = await localPrebuilds(dir);
  });
  after(async () => {
    if (server && server.exitCode === null && server.signalCode === null) {
      server.kill('SIGKILL');
      await once(server, 'exit');
    }
    rmSync(dir, { recursive: true, force: true });
  });

  it('the Dockerfile and compose.yaml run the script, as a non-root user, with /data and a health check', () => {
    const dockerfile = readFileSync(join(ROOT, 'Dockerfile'), 'utf8');
    assert.ok((dockerfile.match(/^FROM /gm) ?? []).length >= 2, 'multi-stage');
    assert.match(dockerfile, /^RUN secure-mode-container install \/tmp\/secure-mode\.tgz \/opt\/secure-mode$/m);
    assert.match(dockerfile, /^ENTRYPOINT \["secure-mode-container", "start", "\/opt\/secure-mode"\]$/m);
    assert.match(dockerfile, /^HEALTHCHECK .*CMD \["secure-mode-container", "health"\]$/m);
    assert.match(dockerfile, /^USER node$/m);
    assert.match(dockerfile, /^VOLUME \/data$/m);
    assert.match(dockerfile, /SECURE_MODE_DATABASE_URL=sqlite:\/data\/secure-mode\.db/);
    assert.match(dockerfile, /^COPY scripts\/container\.sh \/usr\/local\/bin\/secure-mode-container$/m);
    assert.match(readFileSync(SCRIPT, 'utf8'), /^\s+exec node dist\/server\.js$/m);

    const compose = YAML.parse(readFileSync(join(ROOT, 'compose.yaml'), 'utf8'), { merge: true });
    assert.deepEqual(Object.keys(compose.services).sort(), ['node1', 'node2', 'postgres', 'proxy', 'redis']);
    for (const node of ['node1', 'node2']) {
      assert.match(compose.services[node].environment.SECURE_MODE_DATABASE_URL, /^postgres:\/\/.*@postgres:5432\//);
      assert.equal(compose.services[node].environment.SECURE_MODE_REDIS_URL, 'redis://redis:6379');
      assert.equal(compose.services[node].build, '.');
      // The nodes limit verification per client: they must believe the proxy's X-Forwarded-For, and only the proxy's.
      assert.equal(
        compose.services[node].environment.SECURE_MODE_TRUSTED_PROXIES,
        compose.services.proxy.networks.backend.ipv4_address,
      );
    }
    assert.deepEqual(compose.services.proxy.ports, ['4000:4000']);
    assert.match(compose.configs.nginx.content as string, /proxy_set_header X-Forwarded-For \$\$proxy_add_x_forwarded_for;/);
    const upstream = compose.configs.nginx.content as string;
    assert.match(upstream, /server node1:4000/);
    assert.match(upstream, /server node2:4000/);
  });

  it('installs production-only from the tarball, starts, is healthy, verifies, and exits 0 on SIGTERM', async () => {
    const tarball = await pack(dir);
    const app = join(dir, 'opt', 'secure-mode');
    const installed = await run(SCRIPT, ['install', tarball, app], { cwd: dir, env: installEnv(prebuilds) });
    assert.equal(installed.code, 0, installed.output);
    const pkg = join(app, 'node_modules', 'secure-mode');
    assert.ok(existsSync(join(pkg, 'dist', 'server.js')));
    for (const dev of ['typescript', 'tsx', 'esbuild', 'fast-check'])
      assert.ok(!existsSync(join(app, 'node_modules', dev)), `${dev} is not installed`);

    const port = await freePort();
    const env = {
      ...process.env,
      HOST: '127.0.0.1',
      PORT: String(port),
      SECURE_MODE_DATABASE_URL: `sqlite:${join(dir, 'data', 'secure-mode.db')}`,
      SECURE_MODE_BOOTSTRAP_TOKEN: TOKEN,
    };
    assert.notEqual((await run(SCRIPT, ['health'], { cwd: dir, env })).code, 0, 'unhealthy before it starts');
    server = spawn(SCRIPT, ['start', app], { cwd: dir, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    server.stderr!.on('data', (d: Buffer) => (out += d.toString()));
    server.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    await new Promise<void>((resolve, reject) => {
      server!.stderr!.on('data', () => /listening on/.test(out) && resolve());
      server!.once('exit', (code) => reject(new Error(`exited with ${code}:\n${out}`)));
    });
    assert.equal((await run(SCRIPT, ['health'], { cwd: dir, env })).code, 0);

    const url = `http://127.0.0.1:${port}`;
    const created = await api({ url, token: TOKEN }, 'POST', '/secure_mode_secrets', {
      body: { name: 'image', supports_web: true },
    });
    assert.equal(created.status, 201, created.text);
    const appId = /app_id ([a-z0-9]{10})/.exec(out)?.[1];
    assert.ok(appId, out);
    const verified = await api({ url }, 'POST', '/identity_verification/verify', {
      body: { app_id: appId, platform: 'web', user_id: 'u-1', user_hash: userHash(created.body.secret, { user_id: 'u-1' }) },
    });
    assert.equal(verified.status, 200, verified.text);
    assert.equal(verified.body.verified, true);

    // The PID the runtime has is the script's, which exec'd node: the signal reaches the server itself.
    assert.match(readFileSync(`/proc/${server.pid}/cmdline`, 'utf8'), /^node\0dist\/server\.js\0$/);
    server.kill('SIGTERM');
    const [code, signal] = (await once(server, 'exit')) as [number | null, string | null];
    assert.equal(signal, null);
    assert.equal(code, 0, out);
    assert.notEqual((await run(SCRIPT, ['health'], { cwd: dir, env })).code, 0, 'unhealthy once stopped');
  });
});
