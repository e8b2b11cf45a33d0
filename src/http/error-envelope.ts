import type { FastifyBaseLogger, FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { randomUUID } from 'node:crypto';
import { STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import { DomainError, errors } from '../domain/errors.js';
import { StorageUnavailableError } from '../domain/ports.js';
import { TransportError, bodyNotJson, statusOf } from './error-status.js';
import { JSON_CONTENT_TYPE, commonResponseHeaders } from './response-headers.js';
import type { ErrorListBody } from './schemas/common.js';

export function errorList(requestId: string, error: DomainError): ErrorListBody {
  return { type: 'error.list', request_id: requestId, errors: [error.toBody()] };
}

export function sendError(request: FastifyRequest, reply: FastifyReply, error: DomainError): FastifyReply {
  return reply.code(statusOf(error)).type(JSON_CONTENT_TYPE).send(errorList(request.id, error));
}

export interface AjvIssue {
  keyword: string;
  instancePath: string;
  params: Record<string, unknown>;
  message?: string;
}

/** Turns the first schema violation into Intercom's parameter_invalid, naming the field. */
export function validationError(issues: AjvIssue[], part: string | undefined): DomainError {
  const issue = issues[0];
  if (!issue) return errors.parameterInvalid('Request is invalid');
  const path = issue.instancePath.replace(/^\//, '').replace(/\//g, '.');
  if (issue.keyword === 'required') return errors.parameterMissing(String(issue.params.missingProperty));
  if (path === '') {
    return part === 'body'
      ? errors.parameterInvalid('Request body must be a JSON object')
      : errors.parameterInvalid(`${part ?? 'request'} is invalid`);
  }
  if (issue.keyword === 'type') return errors.parameterInvalid(`${path} must be a ${String(issue.params.type)}`, path);
  return errors.parameterInvalid(`${path} is invalid`, path);
}

/** Maps anything thrown while serving to the error catalogue. Never sends a stack trace or an input echo. */
export function toDomainError(err: unknown, bodyLimit: number): DomainError {
  if (err instanceof DomainError) return err;
  if (err instanceof StorageUnavailableError) return errors.serviceUnavailable();
  const fe = err as Partial<FastifyError> & { validation?: AjvIssue[]; validationContext?: string };
  if (fe.validation) return validationError(fe.validation, fe.validationContext);
  switch (fe.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return errors.payloadTooLarge(bodyLimit);
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return bodyNotJson();
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return bodyNotJson('Content-Length does not match the body');
  }
  // JSON.parse errors quote the input, which may hold secret material: answer with a fixed message instead.
  if (err instanceof SyntaxError || (fe.statusCode === 400 && fe.code?.startsWith('FST_'))) return bodyNotJson();
  if (typeof fe.statusCode === 'number' && fe.statusCode >= 400 && fe.statusCode < 500) {
    return new TransportError(fe.statusCode, 'parameter_invalid', 'Request is invalid');
  }
  return errors.internal();
}

/** A request that failed on our side is logged by the error's type and message only: never bodies or headers. */
export function logServerError(log: Pick<FastifyBaseLogger, 'error'>, err: unknown, error: DomainError): void {
  if (statusOf(error) < 500) return;
  // Not under `err`, whose serializer would replace the type with "Object".
  log.error(
    { error: { type: (err as Error)?.name, message: (err as Error)?.message, code: (err as FastifyError)?.code } },
    'request failed',
  );
}

export function registerErrorHandling(app: FastifyInstance, bodyLimit: number): void {
  app.setErrorHandler((err, request, reply) => {
    const error = toDomainError(err, bodyLimit);
    logServerError(request.log, err, error);
    return sendError(request, reply, error);
  });
  app.setNotFoundHandler((request, reply) => sendError(request, reply, errors.notFound()));
}

/**
 * Errors Fastify raises while routing, before any hook runs: a URL over the length limit is 414 as it would be
 * after routing; a path that does not percent-decode or a path parameter over maxParamLength names no resource (404);
 * anything else is a malformed request. Fastify's own answer would echo the path and not be an error.list.
 */
export function frameworkErrorHandler(maxUrlLength: number) {
  return (err: FastifyError, request: FastifyRequest, reply: FastifyReply): void => {
    reply.headers(commonResponseHeaders(request.id));
    const error =
      request.raw.url !== undefined && request.raw.url.length > maxUrlLength
        ? errors.uriTooLong(maxUrlLength)
        : err.code === 'FST_ERR_BAD_URL' || err.code === 'FST_ERR_MAX_PARAM_LENGTH'
          ? errors.notFound()
          : errors.malformedRequest();
    void sendError(request, reply, error);
  };
}

/**
 * Requests Node rejects before Fastify sees them (headers too large, too slow, malformed) still get an error.list
 * with a request id, then the connection is closed.
 */
export function clientErrorHandler(err: NodeJS.ErrnoException, socket: Socket): void {
  if (err.code === 'ECONNRESET' || socket.destroyed) return;
  const error =
    err.code === 'HPE_HEADER_OVERFLOW'
      ? errors.headersTooLarge()
      : err.code === 'ERR_HTTP_REQUEST_TIMEOUT'
        ? errors.requestTimeout()
        : errors.malformedRequest();
  const id = randomUUID();
  const status = statusOf(error);
  const body = JSON.stringify(errorList(id, error));
  if (!socket.writable) {
    socket.destroy();
    return;
  }
  socket.end(
    `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nContent-Type: ${JSON_CONTENT_TYPE}\r\n` +
      `Content-Length: ${Buffer.byteLength(body)}\r\nX-Request-Id: ${id}\r\nConnection: close\r\n\r\n${body}`,
    () => socket.destroy(),
  );
}
