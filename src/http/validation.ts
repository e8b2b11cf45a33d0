import { AjvCompiler } from '@fastify/ajv-compiler';
import type { BodyValidator } from './verify-fast-path.js';
import { VERIFY_PATH } from './routes/verification/verify.js';
import { VerifyRequest } from './schemas/verification.js';

/**
 * The one schema compiler of the HTTP layer: Fastify's own (@fastify/ajv-compiler, its default Ajv options), with
 * types never coerced. The app hands it to Fastify for every route, and the verify fast path compiles its body schema
 * with it, so both paths accept and reject exactly the same bodies.
 */
export const compileValidator = AjvCompiler()(
  {},
  { customOptions: { coerceTypes: false, allErrors: false, keywords: ['x-secure-mode-extension'] } },
);

export function verifyBodyValidator(): BodyValidator {
  return compileValidator({ schema: VerifyRequest, method: 'POST', url: VERIFY_PATH, httpPart: 'body' }) as BodyValidator;
}
