import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createSecret, deleteSecret, eventually, verifyStatus } from '../helpers/nodes.js';
import { createTestDatabase, skipWithoutPostgres, type TestDatabase } from '../helpers/postgres.js';
import { spawnServer, type ServerProcess } from '../helpers/process.js';

const WORKERS = 2;
/** Each check makes this many verifications on fresh connections: the primary deals them out round-robin to all workers. */
const SPREAD = 4 * WORKERS;

async function allAnswer(url: string, appId: string, secret: string, expected: number): Promise<boolean> {
  for (let i = 0; i < SPREAD; i++) if ((await verifyStatus(url, appId, secret)) !== expected) return false;
  return true;
}

/**
 * SECURE_MODE_WORKERS=2 on each backend. The maximum staleness is set far beyond the test's patience, so a deletion
 * can only reach the other worker in time through the change relay (IPC on SQLite, LISTEN/NOTIFY on PostgreSQL).
 */
for (const backend of ['sqlite', 'postgres'] as const) {
  describe(
    `node:cluster with ${WORKERS} workers on ${backend}`,
    { skip: backend === 'postgres' ? await skipWithoutPostgres() : false },
    () => {
      let server: ServerProcess;
      let dir: string;
      let db: TestDatabase | undefined;
      let appId: string;
      const token = `tok_${randomBytes(16).toString('hex')}`;

      before(async () => {
        dir = mkdtempSync(join(tmpdir(), 'secure-mode-cluster-'));
        db = backend === 'postgres' ? await createTestDatabase() : undefined;
        server = await spawnServer(
          {
            SECURE_MODE_WORKERS: String(WORKERS),
            SECURE_MODE_BOOTSTRAP_TOKEN: token,
            SECURE_MODE_CACHE_MAX_STALENESS_MS: '600000',
            ...(db
              ? { SECURE_MODE_DATABASE_URL: db.url, SECURE_MODE_MASTER_KEY: randomBytes(32).toString('base64') }
              : { SECURE_MODE_DATABASE_URL: `sqlite:${join(dir, 'db.sqlite')}` }),
          },
          60_000,
        );
        appId = /with app_id ([a-z0-9]+)/.exec(server.output())![1]!;
      });

      after(async () => {
        await server?.stop();
        await db?.drop();
        rmSync(dir, { recursive: true, force: true });
      });

      it('announces one port for all workers, bootstrapped once', () => {
        assert.match(
          server.output(),
          new RegExp(`listening on http://127\\.0\\.0\\.1:[0-9]+ \\(${backend}, ${WORKERS} workers\\)`),
        );
        assert.equal(server.output().match(/created workspace/g)?.length, 1);
      });

      it('a secret created on one worker verifies on all, and once deleted is rejected by all', async () => {
        for (let round = 0; round < 3; round++) {
          const { id, secret } = await createSecret(server.url, token);
          await eventually(() => allAnswer(server.url, appId, secret, 200), 'every worker verifying the new secret');
          await deleteSecret(server.url, token, id);
          await eventually(() => allAnswer(server.url, appId, secret, 401), 'every worker rejecting the deleted secret');
        }
      });

      it('stops every worker on SIGTERM', async () => {
        assert.equal(await server.stop(), 0);
      });
    },
  );
}
