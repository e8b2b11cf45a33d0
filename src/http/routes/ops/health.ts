import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { Readiness } from '../../../domain/readiness.js';
import { errors } from '../../../domain/errors.js';

export interface HealthDeps {
  readiness: Readiness;
}

/**
 * Liveness (the process answers) and readiness (database reachable, verification cache loaded), outside the
 * Intercom API. A disk that is full or read-only leaves the node ready: verification needs no write.
 */
export const healthRoutes: FastifyPluginAsyncTypebox<HealthDeps> = async (app, deps) => {
  app.get('/healthz', { schema: { hide: true } }, async () => ({ status: 'ok' }));
  app.get('/readyz', { schema: { hide: true } }, async () => {
    const report = await deps.readiness.check();
    if (!report.database || !report.cache) throw errors.serviceUnavailable();
    return { status: 'ready' };
  });
};
