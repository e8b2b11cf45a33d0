import { loadConfig } from '../../src/config.js';
import { SYSTEM_ACTOR } from '../../src/domain/actor.js';
import type { Clock } from '../../src/domain/clock.js';
import { createServices, type Services } from '../../src/runtime.js';
import type { Workspace } from '../../src/domain/model.js';

export interface TestServices extends Services {
  workspace: Workspace;
  /** Creates a secret through the service (so the cache learns of it as in production) and returns its id and value. */
  addSecret(
    name: string,
    platforms: { web?: boolean; ios?: boolean; android?: boolean },
  ): Promise<{ id: number; secret: string }>;
  deleteSecret(id: number): Promise<void>;
  close(): Promise<void>;
}

/** The domain services on an in-memory SQLite database, without HTTP: for unit tests of the verifier and diagnosis. */
export async function openTestServices(clock?: Clock): Promise<TestServices> {
  const services = await createServices(loadConfig({ SECURE_MODE_DATABASE_URL: 'sqlite::memory:' }), {
    logger: false,
    ...(clock ? { clock } : {}),
  });
  const workspace = await services.workspaces.createWorkspace({ name: 'Test' });
  return {
    ...services,
    workspace,
    async addSecret(name, p) {
      const { view, secret } = await services.secrets.create(
        workspace,
        { name, supports_web: p.web === true, supports_ios: p.ios === true, supports_android: p.android === true },
        SYSTEM_ACTOR,
      );
      return { id: view.record.id, secret };
    },
    async deleteSecret(id) {
      await services.secrets.delete(workspace, String(id), SYSTEM_ACTOR);
    },
    async close() {
      await services.store.close();
    },
  };
}
