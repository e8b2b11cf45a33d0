import swagger from '@fastify/swagger';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import Fastify, { LogController, type FastifyInstance, type FastifyServerOptions } from 'fastify';
import { randomUUID } from 'node:crypto';
import { createServer } from 'node:http';
import type { Logger } from 'pino';
import type { HttpLimits } from '../config.js';
import { errors } from '../domain/errors.js';
import { commonResponseHeaders } from './response-headers.js';
import { repeatedHeaderError, repeatedSingletonHeader } from './repeated-headers.js';
import { AccessLog } from '../logger.js';
import { clientErrorHandler, connectHandler, frameworkErrorHandler, registerErrorHandling } from './error-envelope.js';
import { Metrics, type MetricsDeps } from './metrics.js';
import type { RouteDeps } from './routes/deps.js';
import { createSecretRoute } from './routes/secrets/create.js';
import { deleteSecretRoute } from './routes/secrets/delete.js';
import { getSecretRoute } from './routes/secrets/get.js';
import { listSecretsRoute } from './routes/secrets/list.js';
import { updateSecretRoute } from './routes/secrets/update.js';
import { secretUsageRoute } from './routes/secrets/usage.js';
import { meRoute } from './routes/admins/me.js';
import { listAuditEventsRoute } from './routes/audit/list.js';
import { cancelRotationRoute } from './routes/rotations/cancel.js';
import { completeRotationRoute } from './routes/rotations/complete.js';
import { getRotationRoute } from './routes/rotations/get.js';
import { listRotationsRoute } from './routes/rotations/list.js';
import { startRotationRoute } from './routes/rotations/start.js';
import { createWebhookEndpointRoute } from './routes/webhooks/create.js';
import { deleteWebhookEndpointRoute } from './routes/webhooks/delete.js';
import { listWebhookDeliveriesRoute } from './routes/webhooks/deliveries.js';
import { getWebhookEndpointRoute } from './routes/webhooks/get.js';
import { listWebhookEndpointsRoute } from './routes/webhooks/list.js';
import { getRotationPolicyRoute } from './routes/rotation-policy/get.js';
import { updateRotationPolicyRoute } from './routes/rotation-policy/update.js';
import { consoleRoutes, defaultConsoleDir } from './routes/console.js';
import { healthRoutes, type HealthDeps } from './routes/ops/health.js';
import { metricsRoute } from './routes/ops/metrics.js';
import { diagnoseRoute } from './routes/verification/diagnose.js';
import { VERIFY_PATH, verifyRoute } from './routes/verification/verify.js';
import { compileValidator, verifyBodyValidator } from './validation.js';
import { type RequestRecorder, verifyFastPath } from './verify-fast-path.js';

/** How often the access log writes its count of successful verifications (see AccessLog). */
const VERIFIED_SUMMARY_INTERVAL_MS = 60_000;

export interface AppDeps extends RouteDeps, HealthDeps, MetricsDeps {}

export interface AppOptions {
  logger: Logger | false;
  bodyLimit: number;
  limits: HttpLimits;
  metricsToken: string | undefined;
  /** The built web console (index.html, console.js, console.css, icon.svg); defaults to dist/console/. */
  consoleDir?: string | undefined;
}

/** The whole HTTP API as one Fastify instance; server.ts only listens. */
export async function buildApp(deps: AppDeps, options: AppOptions): Promise<FastifyInstance> {
  const metrics = new Metrics(deps);
  const access = options.logger
    ? new AccessLog(options.logger, { summarisedRoute: VERIFY_PATH, summaryIntervalMs: VERIFIED_SUMMARY_INTERVAL_MS })
    : undefined;
  const record: RequestRecorder = (requestId, method, route, status, ms) => {
    metrics.observe(method, route, status, ms / 1000);
    access?.write(requestId, method, route, status, Math.round(ms));
  };
  let closing = false;
  const fastPath = verifyFastPath({
    deps,
    bodyLimit: options.bodyLimit,
    validate: verifyBodyValidator(),
    record,
    logger: options.logger,
    closing: () => closing,
  });

  const app = Fastify({
    ...(options.logger ? { loggerInstance: options.logger as FastifyServerOptions['loggerInstance'] } : { logger: false }),
    bodyLimit: options.bodyLimit,
    // Every request gets a fresh UUID; a client-supplied X-Request-Id is not trusted.
    genReqId: () => randomUUID(),
    requestIdHeader: false,
    // One access line per request is written by the onResponse hook below, instead of Fastify's two.
    logController: new LogController({ disableRequestLogging: true }),
    // While draining, requests already on a kept-alive connection are served (with Connection: close) and answered
    // in the error.list format, instead of Fastify's own 503 body.
    return503OnClosing: false,
    serverFactory: (handler) => {
      const server = createServer(
        {
          maxHeaderSize: options.limits.maxHeaderBytes,
          // Node checks header and request timeouts on this interval (30 s by default), so a slow client is cut off
          // within it after its deadline.
          connectionsCheckingInterval: Math.min(1000, options.limits.headersTimeoutMs),
        },
        fastPath(handler),
      );
      server.requestTimeout = options.limits.requestTimeoutMs;
      server.headersTimeout = options.limits.headersTimeoutMs;
      server.keepAliveTimeout = options.limits.keepAliveTimeoutMs;
      server.on(
        'connect',
        connectHandler((requestId) => record(requestId, 'CONNECT', 'unmatched', 404, 0)),
      );
      return server;
    },
    clientErrorHandler,
    frameworkErrors: frameworkErrorHandler(options.limits.maxUrlLength),
    routerOptions: { maxParamLength: 200 },
  }).withTypeProvider<TypeBoxTypeProvider>();
  app.setValidatorCompiler(compileValidator);
  app.addHook('preClose', (done) => {
    closing = true;
    done();
  });
  app.addHook('onClose', (_app, done) => {
    access?.close();
    done();
  });

  app.decorateRequest('auth', null);
  // Callback-style hooks: an async hook costs every request a promise and a microtask hop.
  app.addHook('onRequest', (request, reply, done) => {
    reply.headers(commonResponseHeaders(request.id));
    if (request.url.length > options.limits.maxUrlLength) return done(errors.uriTooLong(options.limits.maxUrlLength));
    const repeated = repeatedSingletonHeader(request.raw.rawHeaders);
    done(repeated === undefined ? undefined : repeatedHeaderError(repeated));
  });
  app.addHook('onResponse', (request, reply, done) => {
    // The route pattern, never the URL: paths carry ids and a query string may carry anything a client typed.
    record(request.id, request.method, request.routeOptions.url ?? 'unmatched', reply.statusCode, reply.elapsedTime);
    done();
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
          "Intercom-compatible identity verification secrets (Intercom's Preview /secure_mode_secrets) and verification. Fields and operations marked x-secure-mode-extension are secure-mode's own. " +
          'A method or path not listed here (CONNECT and OPTIONS included) answers 404 not_found as an error.list, never 405; a method HTTP does not define is a malformed request (400 bad_request). ' +
          'Every answer carries Cache-Control: no-store and X-Content-Type-Options: nosniff.',
      },
      components: { securitySchemes: { bearerAuth: { type: 'http', scheme: 'bearer' } } },
      security: [{ bearerAuth: [] }],
    },
  });

  await app.register(listSecretsRoute, deps);
  await app.register(createSecretRoute, deps);
  await app.register(getSecretRoute, deps);
  await app.register(deleteSecretRoute, deps);
  await app.register(updateSecretRoute, deps);
  await app.register(secretUsageRoute, deps);
  await app.register(startRotationRoute, deps);
  await app.register(listRotationsRoute, deps);
  await app.register(getRotationRoute, deps);
  await app.register(cancelRotationRoute, deps);
  await app.register(completeRotationRoute, deps);
  await app.register(createWebhookEndpointRoute, deps);
  await app.register(listWebhookEndpointsRoute, deps);
  await app.register(getWebhookEndpointRoute, deps);
  await app.register(deleteWebhookEndpointRoute, deps);
  await app.register(listWebhookDeliveriesRoute, deps);
  await app.register(getRotationPolicyRoute, deps);
  await app.register(updateRotationPolicyRoute, deps);
  await app.register(meRoute, deps);
  await app.register(listAuditEventsRoute, deps);
  await app.register(healthRoutes, deps);
  await app.register(metricsRoute, { metrics, metricsToken: options.metricsToken });
  await app.register(verifyRoute, deps);
  await app.register(diagnoseRoute, deps);
  await app.register(consoleRoutes, { dir: options.consoleDir ?? defaultConsoleDir });

  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());
  return app;
}
