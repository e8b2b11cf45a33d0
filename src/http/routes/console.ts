import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { errors } from '../../domain/errors.js';

/** The build output, the same folder whether this file runs from src/ (tsx) or dist/ (compiled). */
export const defaultConsoleDir = fileURLToPath(new URL('../../../dist/console/', import.meta.url));

/** Everything the console loads comes from this origin; nothing inline, no eval, no framing. */
export const CONSOLE_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

export const CONSOLE_HEADERS: Readonly<Record<string, string>> = {
  'content-security-policy': CONSOLE_CSP,
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'x-frame-options': 'DENY',
  'cross-origin-opener-policy': 'same-origin',
  'cross-origin-resource-policy': 'same-origin',
  // File names carry no content hash, so browsers revalidate every load (a 304 while unchanged).
  'cache-control': 'no-cache',
};

/** An allow-list, so no request path ever reaches the file system. */
const FILES: Readonly<Record<string, string>> = {
  'index.html': 'text/html; charset=utf-8',
  'console.js': 'text/javascript; charset=utf-8',
  'console.css': 'text/css; charset=utf-8',
  'icon.svg': 'image/svg+xml',
};

export interface ConsoleOptions {
  dir: string;
}

/** Serves the static web console at /console; it talks to the same API as every other client. */
export const consoleRoutes: FastifyPluginAsync<ConsoleOptions> = async (app, options) => {
  async function send(request: FastifyRequest, reply: FastifyReply, file: string) {
    const type = Object.hasOwn(FILES, file) ? FILES[file] : undefined;
    if (type === undefined) throw errors.notFound();
    let body: Buffer;
    try {
      body = await readFile(join(options.dir, file));
    } catch {
      throw errors.consoleNotBuilt();
    }
    const etag = `"${createHash('sha256').update(body).digest('base64url').slice(0, 27)}"`;
    reply.headers(CONSOLE_HEADERS).header('etag', etag);
    if (request.headers['if-none-match'] === etag) return reply.code(304).send();
    return reply.type(type).send(body);
  }

  app.get('/console', { schema: { hide: true } }, (request, reply) => send(request, reply, 'index.html'));
  app.get('/console/', { schema: { hide: true } }, (request, reply) => send(request, reply, 'index.html'));
  app.get<{ Params: { file: string } }>('/console/:file', { schema: { hide: true } }, (request, reply) =>
    send(request, reply, request.params.file),
  );
};
