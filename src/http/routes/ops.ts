import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { Store } from '../../storage/store.js';
import { errors } from '../../errors.js';

export interface OpsDeps {
  store: Store;
}

/** Liveness and readiness, outside the Intercom API. */
export const opsRoutes: FastifyPluginAsyncTypebox<OpsDeps> = async (app, deps) => {
  app.get('/healthz', { schema: { hide: true } }, async () => ({ status: 'ok' }));
  app.get('/readyz', { schema: { hide: true } }, async () => {
    try {
      await deps.store.ping();
    } catch {
      throw errors.serviceUnavailable();
    }
    return { status: 'ready' };
  });
};
