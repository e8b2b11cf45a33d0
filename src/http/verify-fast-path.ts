import { randomUUID } from 'node:crypto';
import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import sjson from 'secure-json-parse';
import { statusOf } from './error-status.js';
import { repeatedSingletonHeader } from './repeated-headers.js';
import { JSON_CONTENT_TYPE, commonResponseHeaders } from './response-headers.js';
import { errorList, logServerError, toDomainError, validationError, type AjvIssue } from './error-envelope.js';
import { VERIFY_PATH, type VerifyRouteDeps, answerVerification } from './routes/verification/verify.js';
import type { VerifyRequestBody, VerifyResultBody } from './schemas/verification.js';

/** What every answered request leaves behind: its metrics sample and its access line. */
export type RequestRecorder = (requestId: string, method: string, route: string, status: number, ms: number) => void;

/** The verify body's schema, compiled by the same Ajv compiler Fastify uses for the route. */
export interface BodyValidator {
  (body: unknown): boolean;
  errors?: AjvIssue[] | null;
}

export interface VerifyFastPathOptions {
  deps: VerifyRouteDeps;
  bodyLimit: number;
  validate: BodyValidator;
  record: RequestRecorder;
  logger: Logger | false;
  /** True once the app has begun to close: Fastify then answers with Connection: close, so the fast path steps aside. */
  closing: () => boolean;
}

/** Content types taken as they are: anything else goes to Fastify, which also rejects malformed media types. */
const PLAIN_JSON = /^application\/json(?:;\s*charset=utf-8)?$/i;
const PARSE_OPTIONS = { protoAction: 'error', constructorAction: 'error' } as const;

/**
 * Whether secure-json-parse must look at this text: it strips a byte-order mark and scans for a "__proto__" or
 * "constructor" key, spelt out or with \u escapes. A text with no BOM, no backslash and neither word holds none of
 * them, and JSON.parse alone reads it as the library would: two substring searches instead of its two regular
 * expressions, on every request.
 */
function mayPoison(text: string): boolean {
  return text.charCodeAt(0) === 0xfeff || text.includes('\\') || text.includes('__proto__') || text.includes('constructor');
}

/**
 * POST /identity_verification/verify served straight from node:http, in front of Fastify. The route is public and
 * the busiest by far: Fastify's per-request pipeline (request and reply objects, hook runners, a child logger, an
 * onResponse listener) cost more CPU than the verification itself, and kept the route far from the throughput of
 * a bare server. Everything that decides the answer is shared with the Fastify route, not copied: the compiled body
 * schema, `answerVerification` (limit, shape check, verification), the error catalogue and envelope, the request
 * recorder (metrics and access line). test/http/verify-fast-path.test.ts holds the two paths to the same
 * answers, byte for byte, over generated requests.
 *
 * Only a plain request is taken: exactly this path with no query string, a Content-Length within the body limit, no
 * Transfer-Encoding, a JSON content type or none, and no repeated singleton header (see repeated-headers.ts). Any
 * other request (chunked, oversized, odd media type, a server shutting down) is handed to Fastify before a byte of its
 * body is read.
 */
export function verifyFastPath(options: VerifyFastPathOptions): (fallback: RequestListener) => RequestListener {
  const { bodyLimit, closing } = options;
  const takes = (req: IncomingMessage): boolean => {
    if (req.url !== VERIFY_PATH || req.method !== 'POST' || closing()) return false;
    const { 'content-length': length, 'content-type': type, 'transfer-encoding': encoding } = req.headers;
    if (length === undefined || encoding !== undefined || (type !== undefined && !PLAIN_JSON.test(type))) return false;
    const bytes = Number(length);
    return bytes > 0 && bytes <= bodyLimit && repeatedSingletonHeader(req.rawHeaders) === undefined;
  };
  return (fallback) => (req, res) => {
    if (!takes(req)) return fallback(req, res);
    const exchange = new Exchange(
      options,
      res,
      options.deps.clientAddresses.of(req.socket.remoteAddress, req.headers['x-forwarded-for']),
    );
    (req as ExchangeCarrier)[EXCHANGE] = exchange;
    req.on('data', onData);
    req.on('end', onEnd);
  };
}

const EXCHANGE = Symbol('secure-mode.verify-exchange');
type ExchangeCarrier = IncomingMessage & { [EXCHANGE]?: Exchange };

// Module-level listeners and a class rather than closures: this runs for every verification, and a closure per
// request is an allocation (and, under tsx, a name-defining call) per request.
function onData(this: ExchangeCarrier, chunk: Buffer): void {
  this[EXCHANGE]!.chunks.push(chunk);
}

function onEnd(this: ExchangeCarrier): void {
  this[EXCHANGE]!.answer();
}

/** One request on the fast path, from its first byte to its recorded answer. */
class Exchange {
  readonly started = performance.now();
  readonly id = randomUUID();
  readonly chunks: Buffer[] = [];
  private readonly headers: Record<string, string> = commonResponseHeaders(this.id);

  constructor(
    private readonly options: VerifyFastPathOptions,
    private readonly res: ServerResponse,
    private readonly client: string,
  ) {}

  answer(): void {
    let result: VerifyResultBody | Promise<VerifyResultBody>;
    try {
      result = answerVerification(this.options.deps, this.client, this.parse(), this.headers);
    } catch (err) {
      return this.fail(err);
    }
    if (result instanceof Promise) {
      result.then(
        (body) => this.succeed(body),
        (err: unknown) => this.fail(err),
      );
    } else {
      this.succeed(result);
    }
  }

  private parse(): VerifyRequestBody {
    const chunks = this.chunks;
    const text = (chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks)).toString('utf8');
    // Throws SyntaxError on bad JSON or a prototype-poisoning key, which the envelope answers as Fastify's parser would.
    const body: unknown = mayPoison(text) ? sjson.parse(text, undefined, PARSE_OPTIONS) : JSON.parse(text);
    const validate = this.options.validate;
    if (!validate(body)) throw validationError(validate.errors ?? [], 'body');
    return body as VerifyRequestBody;
  }

  private succeed(result: VerifyResultBody): void {
    this.send(200, JSON.stringify(result));
  }

  private fail(err: unknown): void {
    const { bodyLimit, logger } = this.options;
    const error = toDomainError(err, bodyLimit);
    if (logger) logServerError(logger.child({ reqId: this.id }), err, error);
    this.send(statusOf(error), JSON.stringify(errorList(this.id, error)));
  }

  private send(status: number, payload: string): void {
    const headers = this.headers;
    headers['content-type'] = JSON_CONTENT_TYPE;
    headers['content-length'] = String(Buffer.byteLength(payload));
    this.res.writeHead(status, headers);
    this.res.end(payload);
    this.options.record(this.id, 'POST', VERIFY_PATH, status, performance.now() - this.started);
  }
}
