import { StorageUnavailableError } from '../../domain/ports.js';

/** Socket-level failures: the server is not there, or the connection died. */
const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
]);

/** SQLSTATEs that mean "cannot serve right now": connection exceptions, shutdown, too many connections, read-only. */
function unavailableSqlState(code: string): boolean {
  return (
    code.startsWith('08') ||
    code === '57P01' ||
    code === '57P02' ||
    code === '57P03' ||
    code === '53300' ||
    code === '53100' ||
    code === '53200' ||
    code === '25006' ||
    code === '57014'
  );
}

/** Messages the pg driver uses for a connection that failed, timed out or was closed under it (or a closed pool). */
const DRIVER_MESSAGES =
  /Connection terminated|Cannot use a pool after calling end|connection timeout|timeout exceeded when trying to connect|Query read timeout|not queryable|Connection ended|Client has encountered a connection error/i;

export function isUnavailable(err: unknown): boolean {
  if (err instanceof StorageUnavailableError) return true;
  const code = (err as { code?: unknown })?.code;
  if (typeof code === 'string' && (NETWORK_CODES.has(code) || unavailableSqlState(code))) return true;
  const message = (err as { message?: unknown })?.message;
  return typeof message === 'string' && DRIVER_MESSAGES.test(message);
}

/**
 * The database cannot be reached at all (not merely busy, read-only or slow to finish one statement): the failures
 * that open the circuit, so that the calls after it answer 503 at once.
 */
export function isUnreachable(err: unknown): boolean {
  if (err instanceof StorageUnavailableError) return err.cause !== undefined && isUnreachable(err.cause);
  const code = (err as { code?: unknown })?.code;
  if (typeof code === 'string') {
    if (NETWORK_CODES.has(code) || code.startsWith('08') || code === '57P01' || code === '57P02' || code === '57P03') return true;
    if (/^[0-9A-Z]{5}$/.test(code)) return false;
  }
  const message = (err as { message?: unknown })?.message;
  return typeof message === 'string' && DRIVER_MESSAGES.test(message);
}

/** A transaction the server rolled back on its own and that may simply run again. */
export function isTransientConflict(err: unknown): boolean {
  const code = (err as { code?: unknown })?.code;
  return code === '40001' || code === '40P01';
}

export function toStorageError(err: unknown): unknown {
  if (err instanceof StorageUnavailableError) return err;
  if (isUnavailable(err) || isTransientConflict(err)) {
    const code = (err as { code?: unknown })?.code;
    return new StorageUnavailableError(`postgres: ${typeof code === 'string' ? code : 'connection failed'}`, { cause: err });
  }
  return err;
}
