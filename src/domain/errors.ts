/**
 * The one catalogue of errors the service answers with: each code, what it means, and the factory that builds it.
 * Codes and messages are stable and Intercom-compatible; statuses belong to the HTTP layer (src/http/error-status.ts).
 * Messages never carry secret material or tokens.
 */
export const ERROR_CATALOGUE = {
  unauthorized: 'missing, unknown or revoked bearer token',
  forbidden: 'the token lacks the scope the operation needs (named in the message)',
  identity_verification_secret_not_found: "unknown, deleted or another workspace's secret id",
  not_found: 'unknown path or method',
  parameter_invalid: 'a field is missing or invalid (`field` names it), or the body is not JSON',
  payload_too_large: 'the body exceeds SECURE_MODE_BODY_LIMIT',
  uri_too_long: 'the URL exceeds SECURE_MODE_MAX_URL_LENGTH',
  request_header_fields_too_large: 'the headers exceed SECURE_MODE_MAX_HEADER_BYTES',
  request_timeout: 'the request did not arrive within the slow-client limits',
  bad_request: 'a malformed HTTP request',
  intercom_version_invalid: 'unknown Intercom-Version, or a stable version on these Preview-only paths',
  rate_limit_exceeded: 'over the rate limit of the window',
  secret_limit_reached: 'the workspace already has SECURE_MODE_MAX_LIVE_SECRETS live secrets',
  identity_verification_secret_in_use: 'DELETE with if_idle_for while the secret still verifies traffic',
  idempotency_key_reused: 'an Idempotency-Key reused with a different request body',
  rotation_not_found: "unknown or another workspace's rotation id",
  rotation_in_progress:
    'the secret is already the old or new side of an open rotation, or a PUT would leave the successor without a platform the old secret supports',
  rotation_closed: 'cancel or complete on a rotation that is already completed or cancelled',
  rotation_not_ready: 'complete (without force) before the successor has verified on every platform the old secret supports',
  webhook_endpoint_not_found: "unknown, deleted or another workspace's webhook endpoint id",
  hmac_mismatch: 'the user_hash matches no live secret',
  jwt_invalid: 'the user JWT is malformed, expired or matches no live secret',
  service_unavailable: 'storage unavailable, not ready yet, or a guarded delete could not hear from every node',
  server_error: 'an unexpected failure (logged by type, never a stack trace in the answer)',
  console_unavailable: 'the web console is not built on this server',
} as const;

export type ErrorCode = keyof typeof ERROR_CATALOGUE;

export interface ErrorBody {
  code: string;
  message: string;
  field?: string;
}

export class DomainError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly field?: string,
  ) {
    super(message);
    this.name = 'DomainError';
  }

  toBody(): ErrorBody {
    return this.field === undefined
      ? { code: this.code, message: this.message }
      : { code: this.code, message: this.message, field: this.field };
  }
}

export const errors = {
  unauthorized: () => new DomainError('unauthorized', 'Access Token Invalid'),
  forbidden: (scope: string) =>
    new DomainError('forbidden', `You do not have the required scope (${scope}) to access this resource`),
  secretNotFound: () => new DomainError('identity_verification_secret_not_found', 'Identity verification secret not found'),
  notFound: () => new DomainError('not_found', 'Resource not found'),
  parameterInvalid: (message: string, field?: string) => new DomainError('parameter_invalid', message, field),
  parameterMissing: (field: string) => new DomainError('parameter_invalid', `${field} is required`, field),
  payloadTooLarge: (limit: number) => new DomainError('payload_too_large', `Request body exceeds ${limit} bytes`),
  uriTooLong: (limit: number) => new DomainError('uri_too_long', `Request URL exceeds ${limit} characters`),
  headersTooLarge: () => new DomainError('request_header_fields_too_large', 'Request headers are too large'),
  requestTimeout: () => new DomainError('request_timeout', 'The request was not received in time'),
  malformedRequest: () => new DomainError('bad_request', 'Malformed HTTP request'),
  versionNotFound: () => new DomainError('intercom_version_invalid', 'The requested version could not be found'),
  versionUnsupported: () =>
    new DomainError('intercom_version_invalid', 'Requested resource is not available in current API version.'),
  rateLimited: (limit: number, windowSeconds: number) =>
    new DomainError('rate_limit_exceeded', `Exceeded rate limit of ${limit} in ${windowSeconds}_seconds`),
  secretLimitReached: (max: number) =>
    new DomainError(
      'secret_limit_reached',
      `A workspace can have at most ${max} live identity verification secrets; delete one before creating another`,
    ),
  secretInUse: (lastVerifiedAt: number, idleFor: number) =>
    new DomainError(
      'identity_verification_secret_in_use',
      `Identity verification secret verified traffic at ${lastVerifiedAt} (${new Date(lastVerifiedAt * 1000).toISOString()}), within the last ${idleFor} seconds`,
    ),
  rotationNotFound: () => new DomainError('rotation_not_found', 'Rotation not found'),
  rotationInProgress: (secretId: number, rotationId: number) =>
    new DomainError('rotation_in_progress', `Secret ${secretId} is part of open rotation ${rotationId}`),
  rotationPlatformsLocked: (rotationId: number, platforms: string[]) =>
    new DomainError(
      'rotation_in_progress',
      `Open rotation ${rotationId} needs its new secret to support ${platforms.join(', ')}, as the old one does`,
    ),
  rotationClosed: (rotationId: number, state: string) =>
    new DomainError('rotation_closed', `Rotation ${rotationId} is already ${state}`),
  rotationNotReady: (platforms: string[]) =>
    new DomainError(
      'rotation_not_ready',
      `The new secret has not verified on ${platforms.join(', ')} yet; use force=true to delete the old secret anyway`,
    ),
  successorInUse: (lastVerifiedAt: number) =>
    new DomainError(
      'identity_verification_secret_in_use',
      `The new secret verified traffic at ${lastVerifiedAt} (${new Date(lastVerifiedAt * 1000).toISOString()}); use keep_new=true to cancel and keep it`,
    ),
  idempotencyConflict: () =>
    new DomainError('idempotency_key_reused', 'Idempotency-Key was already used with a different request body'),
  webhookEndpointNotFound: () => new DomainError('webhook_endpoint_not_found', 'Webhook endpoint not found'),
  hmacMismatch: () => new DomainError('hmac_mismatch', 'Failed Identity Verification check'),
  jwtInvalid: () => new DomainError('jwt_invalid', 'Failed Identity Verification check'),
  serviceUnavailable: () =>
    new DomainError('service_unavailable', 'The service is temporarily unavailable, please retry shortly'),
  idleUnproven: (detail: string) =>
    new DomainError(
      'service_unavailable',
      `Could not confirm with every node that the secret is idle (${detail}); nothing was deleted, please retry shortly`,
    ),
  internal: () => new DomainError('server_error', 'An unexpected error occurred'),
  consoleNotBuilt: () =>
    new DomainError('console_unavailable', 'The web console is not built on this server; run npm run build:console'),
} as const;
