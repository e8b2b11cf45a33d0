import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { ApiError, StorageUnavailableError, errors } from '../../errors.js';
import type { ErrorListBody } from '../schemas/common.js';

export function errorList(requestId: string, error: ApiError): ErrorListBody {
  return { type: 'error.list', request_id: requestId, errors: [error.toBody()] };
}

export function sendError(request: FastifyRequest, reply: FastifyReply, error: ApiError): FastifyReply {
  for (const [name, value] of Object.entries(error.headers)) reply.header(name, value);
  return reply.code(error.statusCode).type('application/json; charset=utf-8').send(errorList(request.id, error));
}

interface AjvIssue {
  keyword: string;
  instancePath: string;
  params: Record<string, unknown>;
  message?: string;
}

/** Turns the first schema violation into Intercom's parameter_invalid, naming the field. */
export function validationError(issues: AjvIssue[], part: string | undefined): ApiError {
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
export function toApiError(err: unknown, bodyLimit: number): ApiError {
  if (err instanceof ApiError) return err;
  if (err instanceof StorageUnavailableError) return errors.serviceUnavailable();
  const fe = err as Partial<FastifyError> & { validation?: AjvIssue[]; validationContext?: string };
  if (fe.validation) return validationError(fe.validation, fe.validationContext);
  switch (fe.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return errors.payloadTooLarge(bodyLimit);
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return errors.bodyNotJson();
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return errors.bodyNotJson('Content-Length does not match the body');
  }
  // JSON.parse errors quote the input, which may hold secret material: answer with a fixed message instead.
  if (err instanceof SyntaxError || (fe.statusCode === 400 && fe.code?.startsWith('FST_'))) return errors.bodyNotJson();
  if (typeof fe.statusCode === 'number' && fe.statusCode >= 400 && fe.statusCode < 500) {
    return new ApiError(fe.statusCode, 'parameter_invalid', 'Request is invalid');
  }
  return errors.internal();
}

export function registerErrorHandling(app: FastifyInstance, bodyLimit: number): void {
  app.setErrorHandler((err, request, reply) => {
    const apiError = toApiError(err, bodyLimit);
    if (apiError.statusCode >= 500) {
      // The error object is logged by type and message only: never request bodies or headers.
      request.log.error({ err: { type: (err as Error)?.name, message: (err as Error)?.message, code: (err as FastifyError)?.code } }, 'request failed');
    }
    return sendError(request, reply, apiError);
  });
  app.setNotFoundHandler((request, reply) => sendError(request, reply, errors.notFound()));
}
