import { mkdtempSync, rmSync } from 'node:fs';
import type { Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { loadConfig } from '../src/config.js';
import { SYSTEM_ACTOR } from '../src/domain/actor.js';
import { createLogger } from '../src/logger.js';
import { createRuntime } from '../src/runtime.js';
import { bareServer, requestBody } from './http.js';

/**
 * One contender of the HTTP bench in a process of its own, so that its CPU time is its own: `bare` (node:http doing
 * the same HMAC check; `bare same-headers` also sends secure-mode's answer headers) or `secure-mode LEVEL`, the real
 * service logging at that level. It tells its parent over IPC where it listens and what to
 * send, answers `cpu` with its process.cpuUsage(), and exits on `stop`.
 */
const [kind = 'bare', option = 'info'] = process.argv.slice(2);
const send = (message: unknown) => process.send!(message);

function urlOf(server: Server): string {
  const address = server.address();
  return `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}/identity_verification/verify`;
}

let stop: () => Promise<void>;
if (kind === 'bare') {
  const secret = 'bare-baseline-secret';
  const server = bareServer('bare', Buffer.from(secret, 'utf8'), option === 'same-headers');
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  stop = () => new Promise((resolve) => server.close(() => resolve()));
  send({ url: urlOf(server), body: requestBody('bare', secret) });
} else {
  const logLevel = option;
  const dir = mkdtempSync(join(tmpdir(), 'secure-mode-bench-'));
  const config = loadConfig({
    SECURE_MODE_DATABASE_URL: `sqlite:${join(dir, 'bench.db')}`,
    SECURE_MODE_LOG_LEVEL: logLevel,
    // One client and one app_id send every request: the limits still run on each, but must not answer 429, or the
    // bench would measure refusals.
    SECURE_MODE_VERIFY_RATE_LIMIT: '10000000',
    SECURE_MODE_VERIFY_CLIENT_RATE_LIMIT: '10000000',
  });
  // The access log goes to /dev/null, written as in production.
  const runtime = await createRuntime(config, {
    logger: createLogger(logLevel, pino.destination({ dest: '/dev/null', sync: true })),
  });
  const [workspace] = await runtime.workspaces.listWorkspaces();
  const { secret } = await runtime.secrets.create(workspace!, { name: 'bench', supports_web: true }, SYSTEM_ACTOR);
  await runtime.app.listen({ host: '127.0.0.1', port: 0 });
  stop = async () => {
    await runtime.close();
    rmSync(dir, { recursive: true, force: true });
  };
  send({ url: urlOf(runtime.app.server), body: requestBody(workspace!.appId, secret) });
}

process.on('message', (message) => {
  if (message === 'cpu') send({ cpu: process.cpuUsage() });
  else if (message === 'stop') void stop().then(() => process.exit(0));
});
