/** The media type of every JSON answer, success or error, on both the Fastify routes and the verify fast path. */
export const JSON_CONTENT_TYPE = 'application/json; charset=utf-8';

/**
 * The headers every answer carries whichever path serves it (the fast-path differential test holds both to them).
 * A create answer carries a secret and every other answer is per-token data: no cache (browser, proxy or CDN) may
 * keep any of it, and no browser may sniff a JSON answer into something it renders. The console's static files
 * override Cache-Control with their own revalidation policy.
 */
export function commonResponseHeaders(requestId: string): Record<string, string> {
  return { 'x-request-id': requestId, 'cache-control': 'no-store', 'x-content-type-options': 'nosniff' };
}

/** The same headers as raw HTTP/1.1 header lines, for answers written straight to a socket. */
export function commonResponseHeaderLines(requestId: string): string {
  return Object.entries(commonResponseHeaders(requestId))
    .map(([name, value]) => `${name}: ${value}\r\n`)
    .join('');
}
