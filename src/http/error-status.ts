import { DomainError, type ErrorCode } from '../domain/errors.js';

/** code → HTTP status: every code of the catalogue has exactly one (the compiler checks that none is missing). */
export const ERROR_STATUS: Record<ErrorCode, number> = {
  unauthorized: 401,
  forbidden: 403,
  identity_verification_secret_not_found: 404,
  not_found: 404,
  parameter_invalid: 422,
  payload_too_large: 413,
  uri_too_long: 414,
  request_header_fields_too_large: 431,
  request_timeout: 408,
  bad_request: 400,
  intercom_version_invalid: 400,
  rate_limit_exceeded: 429,
  secret_limit_reached: 422,
  identity_verification_secret_in_use: 409,
  idempotency_key_reused: 409,
  rotation_not_found: 404,
  rotation_in_progress: 409,
  rotation_closed: 409,
  rotation_not_ready: 409,
  webhook_endpoint_not_found: 404,
  hmac_mismatch: 401,
  jwt_invalid: 401,
  service_unavailable: 503,
  server_error: 500,
  console_unavailable: 503,
};

/**
 * A catalogue error whose status the transport decides rather than its code: a body that is not JSON is Intercom's
 * `parameter_invalid` with 400, and a framework 4xx keeps Fastify's status.
 */
export class TransportError extends DomainError {
  constructor(
    readonly status: number,
    code: ErrorCode,
    message: string,
    field?: string,
  ) {
    super(code, message, field);
  }
}

export const bodyNotJson = (message = 'Request body is not valid JSON') => new TransportError(400, 'parameter_invalid', message);

export function statusOf(error: DomainError): number {
  return error instanceof TransportError ? error.status : ERROR_STATUS[error.code];
}
