import { errors } from '../domain/errors.js';

export const IDEMPOTENCY_HEADER = 'Idempotency-Key';

/** 1–255 printable ASCII characters, as Stripe accepts; anything else is a 422 naming the header. */
export function parseIdempotencyKey(value: string | string[] | undefined): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'string' || !/^[\x20-\x7e]{1,255}$/.test(value)) {
    throw errors.parameterInvalid(`${IDEMPOTENCY_HEADER} must be 1 to 255 printable ASCII characters`, IDEMPOTENCY_HEADER);
  }
  return value;
}
