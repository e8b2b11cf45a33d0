import { Type, type Static } from 'typebox';

/** `nullable` as OpenAPI 3.0 spells it, understood by Ajv and fast-json-stringify alike. */
export function Nullable<T extends 'integer' | 'string'>(type: T, options: Record<string, unknown> = {}) {
  return Type.Unsafe<T extends 'integer' ? number | null : string | null>({ type, nullable: true, ...options });
}

export const ErrorItem = Type.Object({
  code: Type.String(),
  message: Type.String(),
  field: Type.Optional(Type.String()),
});

export const ErrorList = Type.Object(
  {
    type: Type.Literal('error.list'),
    request_id: Type.String({ format: 'uuid' }),
    errors: Type.Array(ErrorItem),
  },
  { description: 'The API answers a failed request with an Error List of one or more errors.' },
);
export type ErrorListBody = Static<typeof ErrorList>;

export const IntercomVersionHeader = Type.Object({
  'intercom-version': Type.Optional(
    Type.String({ description: "Intercom API version. Without it, the workspace's default (Preview unless set)." }),
  ),
});

/** What shapes the error statuses an operation can answer, besides what its own service refuses. */
export interface RouteErrorTraits {
  /** Behind guard(): 401 without a valid token, 429 over the workspace's limit, 403 without the scope. */
  guarded: boolean;
  /** Fastify reads a body on this method (POST, PUT, DELETE): 400 when it is not JSON, 413 over the limit. */
  readsBody: boolean;
  /** A body, query string or header the schema can refuse: 422 parameter_invalid. */
  validated: boolean;
}

/**
 * The error responses of an operation, computed from how it is served so that /openapi.json lists exactly what it
 * can answer (test/http/openapi-statuses.test.ts reaches every listed status and no other). Every operation can
 * answer 400 (a repeated Authorization, Idempotency-Key, Intercom-Version or Content-Type), 414 (a URL over the limit)
 * and 503 (storage unavailable), and a Preview-only path 400 for its Intercom-Version; `answers` are the statuses of the operation's own refusals.
 */
export function errorResponses(traits: RouteErrorTraits, ...answers: number[]): Record<number, typeof ErrorList> {
  const statuses = new Set([400, 414, 503, ...answers]);
  if (traits.guarded) for (const s of [401, 403, 429]) statuses.add(s);
  if (traits.readsBody) statuses.add(413);
  if (traits.validated) statuses.add(422);
  return Object.fromEntries([...statuses].sort((a, b) => a - b).map((s) => [s, ErrorList]));
}
