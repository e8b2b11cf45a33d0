/**
 * The one catalogue of API errors. Every error the service answers with is built here, so codes, statuses
 * and messages stay stable and Intercom-compatible. Messages never carry secret material or tokens.
 */
export interface ErrorBody {
  code: string;
  message: string;
  field?: string;
}

export class ApiError extends Error {
  readonly statusCode: number;
  readonly code: string;
  readonly field: string | undefined;
  readonly headers: Record<string, string>;

  constructor(statusCode: number, code: string, message: string, field?: string, headers: Record<string, string> = {}) {
    super(message);
    this.name = 'ApiError';
    this.statusCode = statusCode;
    this.code = code;
    this.field = field;
    this.headers = headers;
  }

  toBody(): ErrorBody {
    return this.field === undefined
      ? { code: this.code, message: this.message }
      : { code: this.code, message: this.message, field: this.field };
  }
}

export const errors = {
  unauthorized: () => new ApiError(401, 'unauthorized', 'Access Token Invalid'),
  forbidden: (scope: string) =>
    new ApiError(403, 'forbidden', `You do not have the required scope (${scope}) to access this resource`),
  secretNotFound: () => new ApiError(404, 'identity_verification_secret_not_found', 'Identity verification secret not found'),
  notFound: () => new ApiError(404, 'not_found', 'Resource not found'),
  parameterInvalid: (message: string, field?: string) => new ApiError(422, 'parameter_invalid', message, field),
  parameterMissing: (field: string) => new ApiError(422, 'parameter_invalid', `${field} is required`, field),
  bodyNotJson: (message = 'Request body is not valid JSON') => new ApiError(400, 'parameter_invalid', message),
  payloadTooLarge: (limit: number) => new ApiError(413, 'payload_too_large', `Request body exceeds ${limit} bytes`),
  uriTooLong: (limit: number) => new ApiError(414, 'uri_too_long', `Request URL exceeds ${limit} characters`),
  headersTooLarge: () => new ApiError(431, 'request_header_fields_too_large', 'Request headers are too large'),
  requestTimeout: () => new ApiError(408, 'request_timeout', 'The request was not received in time'),
  malformedRequest: () => new ApiError(400, 'bad_request', 'Malformed HTTP request'),
  versionNotFound: () => new ApiError(400, 'intercom_version_invalid', 'The requested version could not be found'),
  versionUnsupported: () =>
    new ApiError(400, 'intercom_version_invalid', 'Requested resource is not available in current API version.'),
  rateLimited: (limit: number, windowSeconds: number) =>
    new ApiError(429, 'rate_limit_exceeded', `Exceeded rate limit of ${limit} in ${windowSeconds}_seconds`),
  secretLimitReached: (max: number) =>
    new ApiError(
      422,
      'secret_limit_reached',
      `A workspace can have at most ${max} live identity verification secrets; delete one before creating another`,
    ),
  secretInUse: (lastVerifiedAt: number, idleFor: number) =>
    new ApiError(
      409,
      'identity_verification_secret_in_use',
      `Identity verification secret verified traffic at ${lastVerifiedAt} (${new Date(lastVerifiedAt * 1000).toISOString()}), within the last ${idleFor} seconds`,
    ),
  idempotencyConflict: () =>
    new ApiError(409, 'idempotency_key_reused', 'Idempotency-Key was already used with a different request body'),
  hmacMismatch: () => new ApiError(401, 'hmac_mismatch', 'Failed Identity Verification check'),
  jwtInvalid: () => new ApiError(401, 'jwt_invalid', 'Failed Identity Verification check'),
  serviceUnavailable: () =>
    new ApiError(503, 'service_unavailable', 'The service is temporarily unavailable, please retry shortly'),
  internal: () => new ApiError(500, 'server_error', 'An unexpected error occurred'),
  consoleNotBuilt: () =>
    new ApiError(503, 'console_unavailable', 'The web console is not built on this server; run npm run build:console'),
} as const;

/** Raised by the storage layer when the database cannot be reached or written; mapped to 503. */
export class StorageUnavailableError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'StorageUnavailableError';
  }
}

/** Configuration that cannot work: start-up stops with this one line. */
export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}
