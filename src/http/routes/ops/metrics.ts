import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { createHash, timingSafeEqual } from 'node:crypto';
import { errors } from '../../../domain/errors.js';
import type { Metrics } from '../../metrics.js';

export interface MetricsRouteDeps {
  metrics: Metrics;
  /** SECURE_MODE_METRICS_TOKEN: without it /metrics is open, as Prometheus targets usually are on a private network. */
  metricsToken: string | undefined;
}

function digest(value: string): Buffer {
  return createHash('sha256').update(value).digest();
}

export const metricsRoute: FastifyPluginAsyncTypebox<MetricsRouteDeps> = async (app, deps) => {
  const expected = deps.metricsToken === undefined ? undefined : digest(`Bearer ${deps.metricsToken}`);
  app.get('/metrics', { schema: { hide: true } }, async (request, reply) => {
    if (expected) {
      const given = request.headers.authorization;
      if (typeof given !== 'string' || !timingSafeEqual(digest(given), expected)) throw errors.unauthorized();
    }
    return reply.type(deps.metrics.contentType).send(await deps.metrics.render());
  });
};
