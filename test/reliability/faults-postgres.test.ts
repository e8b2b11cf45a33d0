import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { api } from '../helpers/app.js';
import { createSecret, eventually, startNodes, verifyStatus, type Nodes } from '../helpers/nodes.js';
import { createTestDatabase, skipWithoutPostgres, type TestDatabase } from '../helpers/postgres.js';
import { ROOT } from '../helpers/process.js';
import { TcpProxy } from '../helpers/tcp-proxy.js';

/** SECURE_MODE_PG_QUERY_TIMEOUT_MS (and the connect timeout): the longest any admin call may wait in all. */
const TIMEOUT_MS = 2000;
const GRACE_MS = 1000;
/** "At once": a node that knows the database is down does not wait for any timeout. */
const AT_ONCE_MS = TIMEOUT_MS / 2;

async function timed<T>(work: () => Promise<T>): Promise<{ value: T; ms: number }> {
  const start = performance.now();
  const value = await work();
  return { value, ms: Math.round(performance.now() - start) };
}

/**
 * One server process whose every connection to PostgreSQL goes through a fault-injecting proxy, which then drops
 * every packet (a partition: nothing refused, nothing answered).
 */
describe('PostgreSQL unreachable, packets dropped', { skip: await skipWithoutPostgres() }, () => {
  let db: TestDatabase;
  let proxy: TcpProxy;
  let nodes: Nodes;
  let url: string;

  before(async () => {
    db = await createTestDatabase();
    const target = new URL(db.url);
    proxy = await TcpProxy.start(target.hostname, Number(target.port || 5432));
    const viaProxy = new URL(db.url);
    viaProxy.port = String(proxy.port);
    nodes = await startNodes({
      databaseUrl: db.url,
      count: 1,
      env: {
        SECURE_MODE_DATABASE_URL: viaProxy.toString(),
        SECURE_MODE_OFFLINE_GRACE_MS: String(GRACE_MS),
        SECURE_MODE_PG_CONNECT_TIMEOUT_MS: String(TIMEOUT_MS),
        SECURE_MODE_PG_QUERY_TIMEOUT_MS: String(TIMEOUT_MS),
      },
    });
    url = nodes.urls[0]!;
  });

  after(async () => {
    await nodes?.stop();
    await proxy?.close();
    await db?.drop();
  });

  it('answers 503 within the query timeout, then at once while it knows, and recovers by itself', async (t) => {
    const { secret } = await createSecret(url, nodes.token);
    assert.equal(await verifyStatus(url, nodes.appId, secret), 200);

    proxy.cut('blackhole');
    const cutAt = Date.now();
    const first = await timed(() => api({ url, token: nodes.token }, 'GET', '/secure_mode_secrets'));
    assert.equal(first.value.status, 503);
    assert.equal(first.value.body.errors[0].code, 'service_unavailable');
    assert.ok(first.ms < 2 * TIMEOUT_MS, `the first admin call took ${first.ms} ms (timeout ${TIMEOUT_MS} ms)`);

    const known: number[] = [];
    for (const [method, path] of [
      ['GET', '/secure_mode_secrets'],
      ['POST', '/secure_mode_secrets'],
      ['GET', '/secure_mode_secrets/1'],
      ['DELETE', '/secure_mode_secrets/1'],
    ] as const) {
      const body = method === 'POST' ? { body: { name: 'during the cut', supports_web: true } } : {};
      const call = await timed(() => api({ url, token: nodes.token }, method, path, body));
      assert.equal(call.value.status, 503, `${method} ${path}`);
      known.push(call.ms);
    }
    assert.ok(Math.max(...known) < AT_ONCE_MS, `admin calls once the node knows: ${known.join(', ')} ms`);

    await sleep(Math.max(0, cutAt + GRACE_MS + 200 - Date.now()));
    const verifies: number[] = [];
    for (let i = 0; i < 5; i++) {
      const call = await timed(() => verifyStatus(url, nodes.appId, secret));
      assert.equal(call.value, 503, 'verification past the grace');
      verifies.push(call.ms);
    }
    assert.ok(Math.max(...verifies) < AT_ONCE_MS, `verifications past the grace: ${verifies.join(', ')} ms`);
    const ready = await timed(() => fetch(`${url}/readyz`).then((r) => r.status));
    assert.equal(ready.value, 503);
    assert.ok(ready.ms < AT_ONCE_MS, `/readyz took ${ready.ms} ms`);
    t.diagnostic(
      `blackhole, timeout ${TIMEOUT_MS} ms: first admin call 503 in ${first.ms} ms; then admin ${known.join('/')} ms, ` +
        `verify past the grace ${verifies.join('/')} ms, /readyz ${ready.ms} ms`,
    );

    proxy.restore();
    const restoredAt = Date.now();
    await eventually(
      async () => (await api({ url, token: nodes.token }, 'GET', '/secure_mode_secrets')).status === 200,
      'admin calls again',
      10_000,
      50,
    );
    await eventually(async () => (await verifyStatus(url, nodes.appId, secret)) === 200, 'verifying again', 10_000, 50);
    t.diagnostic(`restored: serving again after ${Date.now() - restoredAt} ms`);
  });
});

describe('a LISTEN URL that never hears the NOTIFY', { skip: await skipWithoutPostgres() }, () => {
  let db: TestDatabase;
  let elsewhere: TestDatabase;
  before(async () => {
    db = await createTestDatabase();
    elsewhere = await createTestDatabase();
  });
  after(async () => {
    await db?.drop();
    await elsewhere?.drop();
  });

  it('refuses to start with one line (another database: LISTEN works, the NOTIFY goes elsewhere)', async () => {
    const proc = spawn(process.execPath, ['dist/server.js'], {
      cwd: ROOT,
      env: {
        ...process.env,
        HOST: '127.0.0.1',
        PORT: '0',
        SECURE_MODE_LOG_LEVEL: 'warn',
        SECURE_MODE_DATABASE_URL: db.url,
        SECURE_MODE_DATABASE_LISTEN_URL: elsewhere.url,
        SECURE_MODE_MASTER_KEY: randomBytes(32).toString('base64'),
        SECURE_MODE_BOOTSTRAP_TOKEN: `tok_${randomBytes(16).toString('hex')}`,
        SECURE_MODE_PG_QUERY_TIMEOUT_MS: '1000',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    proc.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
      if (/listening on/.test(stderr)) proc.kill('SIGKILL');
    });
    const startedAt = Date.now();
    const [code] = (await once(proc, 'exit')) as [number | null];
    const lines = stderr.split('\n').filter((l) => l !== '');
    assert.equal(code, 1, stderr);
    assert.equal(lines.length, 1, `one line, got:\n${stderr}`);
    assert.match(
      lines[0]!,
      /^secure-mode: could not start: the change feed does not work: a NOTIFY sent through SECURE_MODE_DATABASE_URL did not arrive/,
    );
    assert.doesNotMatch(stderr, /listening on|^\s+at /m);
    assert.ok(Date.now() - startedAt < 20_000, 'bounded');
  });
});
