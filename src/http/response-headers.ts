/** The media type of every JSON answer, success or error, on both the Fastify routes and the verify fast path. */
export const JSON_CONTENT_TYPE = 'application/json; charset=utf-8';

/** The headers every answer carries whichever path serves it (the fast-path differential test holds both to them). */
export function commonResponseHeaders(requestId: string): Record<string, string> {
  return { 'x-request-id': requestId };
}
