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

export interface AccessLogOptions {
  /** The route whose successful requests are counted and summarised rather than logged one line each. */
  summarisedRoute: string;
  /** How often the count is written (it is also written at close). */
  summaryIntervalMs: number;
}

/**
 * The access log: one line per request, with fixed fields only (request id, method, route pattern, status,
 * duration), none of them a credential. Lines go through a child of `logger` without the redaction pass, which would
 * otherwise walk every field of every line looking for credentials; that is safe only because `write` admits nothing
 * else. The line is the JSON Fastify's request logger would write (reqId first, then the fields).
 *
 * One exception: successful requests on `summarisedRoute` (the public verify route) are counted, and a summary line
 * is written every `summaryIntervalMs`; each of them gets its own line only at debug level. That route carries
 * every page view of every Messenger: a line each would be most of the service's CPU and gigabytes of logs a day
 * saying "verified" again and again, which /metrics already counts. Its failures, and every request on every other
 * route, keep their lines at info.
 */
export class AccessLog {
  private readonly lines: Logger;
  private readonly eachSummarised: boolean;
  private summarised = 0;
  private since = Date.now();
  private readonly timer: NodeJS.Timeout;

  constructor(
    logger: Logger,
    private readonly options: AccessLogOptions,
  ) {
    this.lines = logger.child({}, { redact: [] });
    this.eachSummarised = logger.isLevelEnabled('debug');
    this.timer = setInterval(() => this.flush(), options.summaryIntervalMs).unref();
  }

  write(requestId: string, method: string, route: string, status: number, ms: number): void {
    if (status === 200 && route === this.options.summarisedRoute) {
      this.summarised++;
      if (this.eachSummarised) this.lines.debug({ reqId: requestId, method, route, status, ms }, 'request');
      return;
    }
    this.lines.info({ reqId: requestId, method, route, status, ms }, 'request');
  }

  /** Writes how many successful requests were counted since the last summary, if any were. */
  flush(): void {
    const now = Date.now();
    if (this.summarised > 0) {
      const seconds = Math.round((now - this.since) / 1000);
      this.lines.info(
        { route: this.options.summarisedRoute, status: 200, count: this.summarised, seconds },
        'requests summarised',
      );
    }
    this.summarised = 0;
    this.since = now;
  }

  close(): void {
    clearInterval(this.timer);
    this.flush();
  }
}
