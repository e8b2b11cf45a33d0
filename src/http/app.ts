import swagger from '@fastify/swagger';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import Fastify, { LogController, type FastifyInstance, type FastifyServerOptions } from 'fastify';
import { randomUUID } from 'node:crypto';
import { errors } from '../errors.js';
import { registerErrorHandling, sendError } from './plugins/error-envelope.js';
import type { RouteDeps } from './routes/deps.js';
import { createSecretRoute } from './routes/secrets/create.js';
import { deleteSecretRoute } from './routes/secrets/delete.js';
import { getSecretRoute } from './routes/secrets/get.js';
import { listSecretsRoute } from './routes/secrets/list.js';
import { consoleRoutes, defaultConsoleDir } from './routes/console.js';
import { opsRoutes, type OpsDeps } from './routes/ops.js';

export interface AppDeps extends RouteDeps, OpsDeps {}

export interface AppOptions {
  logger: FastifyServerOptions['loggerInstance'] | false;
  bodyLimit: number;
  /** The built web console (index.html, console.js, console.css, icon.svg); defaults to dist/console/. */
  consoleDir?: string | undefined;
}

/** The whole HTTP API as one Fastify instance; server.ts only listens. */
export async function buildApp(deps: AppDeps, options: AppOptions): Promise<FastifyInstance> {
  const app = Fastify({
    ...(options.logger ? { loggerInstance: options.logger } : { logger: false }),
    bodyLimit: options.bodyLimit,
    // Every request gets a fresh UUID; a client-supplied X-Request-Id is not trusted.
    genReqId: () => randomUUID(),
    requestIdHeader: false,
    // One access line per request is written by the onResponse hook below, instead of Fastify's two.
    logController: new LogController({ disableRequestLogging: true }),
    return503OnClosing: true,
    ajv: { customOptions: { coerceTypes: false, allErrors: false, keywords: ['x-secure-mode-extension'] } },
    routerOptions: { maxParamLength: 200 },
    // A malformed or over-long URL is refused by the router before any hook runs: answer it as an unknown path.
    frameworkErrors: (err, request, reply) => {
      reply.header('x-request-id', request.id);
      return sendError(request, reply, err.code === 'FST_ERR_ASYNC_CONSTRAINT' ? errors.internal() : errors.notFound());
    },
  }).withTypeProvider<TypeBoxTypeProvider>();

  app.decorateRequest('auth', null);
  app.addHook('onRequest', async (request, reply) => {
    reply.header('x-request-id', request.id);
  });
  app.addHook('onResponse', async (request, reply) => {
    request.log.info(
      { method: request.method, route: request.routeOptions.url ?? 'unmatched', status: reply.statusCode, ms: Math.round(reply.elapsedTime) },
      'request',
    );
  });

  // curl and many scripts send JSON without a JSON content type: parse every body as JSON, refusing prototype tricks.
  app.removeAllContentTypeParsers();
  // An empty body is no body (as without a content type): clients often send `Content-Type: application/json` on DELETE.
  const parseJson = app.getDefaultJsonParser('error', 'error');
  app.addContentTypeParser('*', { parseAs: 'string' }, (request, body, done) =>
    body.length === 0 ? done(null, undefined) : parseJson(request, body as string, done),
  );

  registerErrorHandling(app, options.bodyLimit);

  await app.register(swagger, {
    openapi: {
      openapi: '3.0.3',
      info: {
        title: 'secure-mode',
        version: 'Preview',
        description:
          "Intercom-compatible identity verification secrets (Intercom's Preview /secure_mode_secrets) and verification. Fields and operations marked x-secure-mode-extension are secure-mode's own.",
      },
      components: { securitySchemes: { bearerAuth: { type: 'http', scheme: 'bearer' } } },
      security: [{ bearerAuth: [] }],
    },
  });

  await app.register(listSecretsRoute, deps);
  await app.register(createSecretRoute, deps);
  await app.register(getSecretRoute, deps);
  await app.register(deleteSecretRoute, deps);
  await app.register(opsRoutes, deps);
  await app.register(consoleRoutes, { dir: options.consoleDir ?? defaultConsoleDir });

  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());
  return app;
}
