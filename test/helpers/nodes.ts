import pg from 'pg';
import { createHmac, randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { api } from './app.js';
import { spawnServer, type ServerProcess } from './process.js';

/** Several secure-mode server processes on one database, as separate machines would run them. */
export interface Nodes {
  /** What every node was started with: database, master key, token. */
  env: Record<string, string>;
  token: string;
  appId: string;
  urls: string[];
  servers: ServerProcess[];
  stop(): Promise<void>;
}

export interface NodesOptions {
  databaseUrl: string;
  count: number;
  /** Environment for every node. */
  env?: Record<string, string>;
  /** Environment for node i (0-based), e.g. a database URL through a fault-injecting proxy. */
  envFor?: (i: number) => Record<string, string>;
}

/** Starts all nodes at once (they race to migrate and bootstrap, as a fleet does) on a database they share. */
export async function startNodes(options: NodesOptions): Promise<Nodes> {
  const token = `tok_${randomBytes(16).toString('hex')}`;
  const env: Record<string, string> = {
    SECURE_MODE_DATABASE_URL: options.databaseUrl,
    SECURE_MODE_MASTER_KEY: randomBytes(32).toString('base64'),
    SECURE_MODE_BOOTSTRAP_TOKEN: token,
    ...options.env,
  };
  const started = await Promise.allSettled(
    Array.from({ length: options.count }, (_, i) => spawnServer({ ...env, ...options.envFor?.(i) }, 60_000)),
  );
  const servers = started.flatMap((s) => (s.status === 'fulfilled' ? [s.value] : []));
  const stop = async () => {
    await Promise.all(servers.map((s) => s.stop()));
  };
  const failed = started.find((s): s is PromiseRejectedResult => s.status === 'rejected');
  if (failed) {
    await stop();
    throw failed.reason;
  }
  const appId = await withDatabase(
    options.databaseUrl,
    async (c) => (await c.query('SELECT app_id FROM workspaces ORDER BY id LIMIT 1')).rows[0].app_id as string,
  );
  return { env, token, appId, urls: servers.map((s) => s.url), servers, stop };
}

export async function withDatabase<T>(url: string, work: (c: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

/** Intercom's user_hash: hex HMAC-SHA256 of user_id, keyed with the secret string's UTF-8 bytes. */
export function userHash(secret: string, userId: string): string {
  return createHmac('sha256', Buffer.from(secret, 'utf8')).update(userId).digest('hex');
}

/** The status of one verification on a node; a fresh connection each time, so a cluster spreads them over workers. */
export async function verifyStatus(url: string, appId: string, secret: string, userId = 'user-1'): Promise<number> {
  const res = await fetch(`${url}/identity_verification/verify`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', connection: 'close' },
    body: JSON.stringify({ app_id: appId, platform: 'web', user_id: userId, user_hash: userHash(secret, userId) }),
  });
  await res.arrayBuffer();
  return res.status;
}

export async function createSecret(url: string, token: string, name = 'multinode'): Promise<{ id: string; secret: string }> {
  const res = await api({ url, token }, 'POST', '/secure_mode_secrets', { body: { name, supports_web: true } });
  if (res.status !== 201) throw new Error(`create answered ${res.status}: ${res.text}`);
  return { id: res.body.id, secret: res.body.secret };
}

export async function deleteSecret(url: string, token: string, id: string): Promise<void> {
  const res = await api({ url, token }, 'DELETE', `/secure_mode_secrets/${id}`);
  if (res.status !== 204) throw new Error(`delete answered ${res.status}: ${res.text}`);
}

/** Polls until `check` holds, or fails saying what it waited for. */
export async function eventually(check: () => Promise<boolean>, what: string, timeoutMs = 20_000, everyMs = 5): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(everyMs);
  }
}
