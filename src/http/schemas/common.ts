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

export function errorResponses(...statuses: number[]): Record<number, typeof ErrorList> {
  return Object.fromEntries(statuses.map((s) => [s, ErrorList]));
}
