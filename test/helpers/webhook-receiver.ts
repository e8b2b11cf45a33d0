import { createHmac, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import { Webhook } from 'standardwebhooks';
import { recordArtifact } from './leaks.js';

export interface ReceivedWebhook {
  id: string;
  timestamp: string;
  signature: string;
  body: string;
  headers: IncomingHttpHeaders;
  /** 1 for the first request with this webhook-id, 2 for its first retry, … */
  attempt: number;
}

/** What the receiver answers a request: a status, 'hang' (never answers) or 'drop' (closes the connection). */
export type Answer = number | 'hang' | 'drop';

/**
 * A local webhook receiver: records every request (its headers and body are artifacts for the leak scan) and answers
 * as `answer` says, given the request and how many times its webhook-id arrived before.
 */
export class WebhookReceiver {
  readonly received: ReceivedWebhook[] = [];
  answer: (request: ReceivedWebhook) => Answer = () => 204;
  private readonly counts = new Map<string, number>();
  private readonly waiters: (() => void)[] = [];
  private server: Server | undefined;
  private readonly hanging = new Set<() => void>();

  async start(port = 0): Promise<string> {
    this.server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const body = Buffer.concat(chunks).toString('utf8');
        const id = String(req.headers['webhook-id'] ?? '');
        const attempt = (this.counts.get(id) ?? 0) + 1;
        this.counts.set(id, attempt);
        const got: ReceivedWebhook = {
          id,
          timestamp: String(req.headers['webhook-timestamp'] ?? ''),
          signature: String(req.headers['webhook-signature'] ?? ''),
          body,
          headers: req.headers,
          attempt,
        };
        this.received.push(got);
        recordArtifact('webhook-request.json', JSON.stringify({ headers: req.headers, body }));
        const answer = this.answer(got);
        if (answer === 'hang') {
          this.hanging.add(() => res.destroy());
        } else if (answer === 'drop') {
          req.socket.destroy();
        } else {
          res.writeHead(answer).end();
        }
        for (const w of this.waiters.splice(0)) w();
      });
    });
    await new Promise<void>((resolve) => this.server!.listen(port, '127.0.0.1', resolve));
    const address = this.server.address();
    if (!address || typeof address === 'string') throw new Error('no address');
    return `http://127.0.0.1:${address.port}/hook`;
  }

  get port(): number {
    const address = this.server?.address();
    return address && typeof address === 'object' ? address.port : 0;
  }

  /** Resolves once `done()` holds, checked after each request; rejects after timeoutMs. */
  async until(done: () => boolean, timeoutMs = 20_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!done()) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`receiver: condition not met within ${timeoutMs} ms (${this.received.length} requests)`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, Math.min(left, 200));
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  /** Requests whose answer ended their delivery (first 2xx per webhook-id). */
  ids(): Set<string> {
    return new Set(this.received.map((r) => r.id));
  }

  async stop(): Promise<void> {
    for (const cut of this.hanging) cut();
    this.hanging.clear();
    if (!this.server) return;
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server!.close(() => resolve()));
    this.server = undefined;
  }
}

/** The receiver's check, with a library nobody here wrote. Throws when the signature does not verify. */
export function verifyWithLibrary(secret: string, got: ReceivedWebhook): unknown {
  return new Webhook(secret).verify(got.body, {
    'webhook-id': got.id,
    'webhook-timestamp': got.timestamp,
    'webhook-signature': got.signature,
  });
}

/** The same check written from the specification: HMAC-SHA256 over "{id}.{timestamp}.{body}" with the decoded key. */
export function verifyOurselves(secret: string, got: ReceivedWebhook): boolean {
  const key = Buffer.from(secret.replace(/^whsec_/, ''), 'base64');
  const expected = createHmac('sha256', key).update(`${got.id}.${got.timestamp}.${got.body}`).digest();
  return got.signature.split(' ').some((entry) => {
    const [version, value] = entry.split(',');
    const actual = Buffer.from(value ?? '', 'base64');
    return version === 'v1' && actual.length === expected.length && timingSafeEqual(actual, expected);
  });
}
