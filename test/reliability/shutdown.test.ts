import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { api } from '../helpers/app.js';
import { verifyStatus } from '../helpers/nodes.js';
import { spawnServer, type ServerProcess } from '../helpers/process.js';

const SHUTDOWN_TIMEOUT_MS = 1500;
/** Start-up of the node process, the usage flush and exiting: generous, far below the 30 s a trickled body could hold. */
const MARGIN_MS = 3000;
const VERIFICATIONS = 7;

/** A raw connection to the server's port, closed() resolving with the time it was closed by the server. */
async function socketTo(url: string): Promise<{ socket: Socket; closed: Promise<number>; received: () => string }> {
  const { hostname, port } = new URL(url);
  const socket = connect({ host: hostname, port: Number(port) });
  let text = '';
  socket.setEncoding('utf8');
  socket.on('data', (d: string) => (text += d));
  socket.on('error', () => undefined);
  const closed = once(socket, 'close').then(() => Date.now());
  await once(socket, 'connect');
  return { socket, closed, received: () => text };
}

describe('SIGTERM with a body still arriving, an idle keep-alive connection and usage in memory', () => {
  let dir: string;
  let env: Record<string, string>;
  let server: ServerProcess | undefined;

  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'secure-mode-shutdown-'));
    env = {
      SECURE_MODE_DATABASE_URL: `sqlite:${join(dir, 'secure-mode.db')}`,
      SECURE_MODE_MASTER_KEY: randomBytes(32).toString('base64'),
      SECURE_MODE_BOOTSTRAP_TOKEN: `tok_${randomBytes(16).toString('hex')}`,
      SECURE_MODE_SHUTDOWN_TIMEOUT_MS: String(SHUTDOWN_TIMEOUT_MS),
      // Only the flush on shutdown can store the usage.
      SECURE_MODE_USAGE_FLUSH_MS: '60000',
    };
  });
  after(async () => {
    await server?.kill();
    rmSync(dir, { recursive: true, force: true });
  });

  it('closes the idle connection at once, cuts the upload at the deadline, flushes usage and exits 0', async (t) => {
    server = await spawnServer(env);
    const appId = /with app_id (\S+)/.exec(server.output())?.[1];
    assert.ok(appId, server.output());
    const admin = { url: server.url, token: env.SECURE_MODE_BOOTSTRAP_TOKEN! };
    const created = await api(admin, 'POST', '/secure_mode_secrets', { body: { name: 'shutdown', supports_web: true } });
    assert.equal(created.status, 201);
    for (let i = 0; i < VERIFICATIONS; i++) assert.equal(await verifyStatus(server.url, appId, created.body.secret), 200);

    const idle = await socketTo(server.url);
    idle.socket.write(`GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n`);
    while (!/\r\n\r\n/.test(idle.received())) await sleep(10);
    assert.match(idle.received(), /^HTTP\/1\.1 200/);

    const body = JSON.stringify({ name: 'never finished', supports_web: true });
    const slow = await socketTo(server.url);
    slow.socket.write(
      `POST /secure_mode_secrets HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${admin.token}\r\n` +
        `Content-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n`,
    );
    let sent = 0;
    const trickle = setInterval(() => {
      if (sent < body.length - 1 && !slow.socket.destroyed) slow.socket.write(body[sent++]!);
    }, 200);

    await sleep(300);
    const termAt = Date.now();
    const exited = server.stop();
    try {
      const code = await Promise.race([exited, sleep(SHUTDOWN_TIMEOUT_MS + 2 * MARGIN_MS).then(() => 'still running')]);
      const exitedAt = Date.now();
      const idleClosedAt = await Promise.race([idle.closed, Promise.resolve(Number.POSITIVE_INFINITY)]);
      const slowClosedAt = await Promise.race([slow.closed, Promise.resolve(Number.POSITIVE_INFINITY)]);
      t.diagnostic(
        `SIGTERM → idle keep-alive closed ${idleClosedAt - termAt} ms, slow upload cut ${slowClosedAt - termAt} ms, ` +
          `exit ${code} ${exitedAt - termAt} ms (timeout ${SHUTDOWN_TIMEOUT_MS} ms)`,
      );
      assert.equal(code, 0, server.output());
      assert.ok(
        idleClosedAt - termAt < SHUTDOWN_TIMEOUT_MS,
        `the idle connection closed ${idleClosedAt - termAt} ms after SIGTERM`,
      );
      assert.ok(exitedAt - termAt < SHUTDOWN_TIMEOUT_MS + MARGIN_MS, `exited ${exitedAt - termAt} ms after SIGTERM`);
      assert.ok(sent < body.length, 'the body was still arriving when it was cut');
    } finally {
      clearInterval(trickle);
    }

    server = await spawnServer(env);
    const usage = await api({ url: server.url, token: admin.token }, 'GET', `/secure_mode_secrets/${created.body.id}`);
    assert.equal(usage.body.usage.last_hour.web, VERIFICATIONS, 'every verification counted before SIGTERM was flushed');
    const listed = await api({ url: server.url, token: admin.token }, 'GET', '/secure_mode_secrets');
    assert.deepEqual(
      listed.body.data.map((s: { name: string }) => s.name),
      ['shutdown'],
      'the cut upload created nothing',
    );
  });
});
