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
