import pino, { type Logger } from 'pino';

/**
 * JSON logs that can never carry credentials: authorization headers, secrets, hashes and JWTs are censored
 * wherever they appear in a logged object. Request bodies are never logged at all.
 */
export const REDACT_PATHS = [
  'req.headers.authorization',
  'headers.authorization',
  'authorization',
  '*.authorization',
  'secret',
  '*.secret',
  'token',
  '*.token',
  'user_hash',
  '*.user_hash',
  'intercom_user_jwt',
  '*.intercom_user_jwt',
  'body',
  '*.body',
];

export function createLogger(level: string, destination?: pino.DestinationStream): Logger {
  return pino({ level, redact: { paths: REDACT_PATHS, censor: '[redacted]' }, base: { service: 'secure-mode' } }, destination);
}

/** The one access line per request: fixed fields, none of them a credential. */
export type AccessLog = (requestId: string, method: string, route: string, status: number, ms: number) => void;

/**
 * Writes access lines through a child of `logger` without the redaction pass, which would otherwise walk every field
 * of every line looking for credentials (a large share of the line's cost on the verify route). Safe only because
 * this signature admits nothing but the request id, method, route pattern, status and duration; the line is the
 * same JSON Fastify's request logger would write (reqId first, then the fields).
 */
export function accessLog(logger: Logger): AccessLog {
  const unredacted = logger.child({}, { redact: [] });
  return (requestId, method, route, status, ms) => unredacted.info({ reqId: requestId, method, route, status, ms }, 'request');
}
