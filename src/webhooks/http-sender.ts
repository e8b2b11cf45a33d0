import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import http from 'node:http';
import https from 'node:https';
import { isIP, type LookupFunction } from 'node:net';
import type { HostResolver } from '../domain/webhook-address.js';
import type { SendResult, WebhookRequest, WebhookSender } from '../domain/webhook-delivery.js';

const NOT_ALLOWED = 'EWEBHOOKADDRESS';

/** Short reasons for the deliveries list: what failed, never the receiver's words or the URL. */
const REASONS: Record<string, string> = {
  [NOT_ALLOWED]: 'address not allowed: the host resolved to a private or reserved address',
  ECONNREFUSED: 'connection refused',
  ECONNRESET: 'connection reset',
  ENOTFOUND: 'host not found',
  EAI_AGAIN: 'host lookup failed',
  ETIMEDOUT: 'timed out',
  EHOSTUNREACH: 'host unreachable',
  ENETUNREACH: 'network unreachable',
  UND_ERR_SOCKET: 'connection closed',
  ABORT_ERR: 'shutdown',
};

function reasonOf(err: unknown): string {
  const code = (err as { code?: unknown })?.code;
  if (typeof code === 'string') return REASONS[code] ?? code.toLowerCase().replace(/^err_/, '').replace(/_/g, ' ');
  return 'request failed';
}

/**
 * The outbound HTTP adapter of the delivery worker. Every connection goes to an address `allows` accepts, checked on
 * the address the lookup returned, which is the one connected to (no second lookup a rebinding name could change);
 * a literal IP in the URL is checked before connecting. Redirects are not followed.
 */
export class HttpWebhookSender implements WebhookSender {
  private readonly agents: { http: http.Agent; https: https.Agent };

  constructor(private readonly allows: (address: string) => boolean) {
    const lookup = this.lookup.bind(this) as LookupFunction;
    this.agents = {
      http: new http.Agent({ keepAlive: true, maxSockets: 32, lookup } as http.AgentOptions),
      https: new https.Agent({ keepAlive: true, maxSockets: 32, lookup } as https.AgentOptions),
    };
  }

  private lookup(
    hostname: string,
    options: { all?: boolean; family?: number },
    callback: (err: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => void,
  ): void {
    dnsLookup(hostname, { all: true, family: options.family ?? 0 }, (err, addresses) => {
      if (err) return callback(err, '');
      const allowed = addresses.filter((a) => this.allows(a.address));
      if (allowed.length === 0 || allowed.length !== addresses.length) {
        return callback(Object.assign(new Error('address not allowed'), { code: NOT_ALLOWED }), '');
      }
      if (options.all) return callback(null, allowed);
      callback(null, allowed[0]!.address, allowed[0]!.family);
    });
  }

  send(request: WebhookRequest): Promise<SendResult> {
    return new Promise((resolve) => {
      let url: URL;
      try {
        url = new URL(request.url);
      } catch {
        return resolve({ error: 'invalid url' });
      }
      const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
      if (isIP(host) !== 0 && !this.allows(host)) return resolve({ error: REASONS[NOT_ALLOWED]! });
      if (request.signal.aborted) return resolve({ error: 'shutdown' });
      const secure = url.protocol === 'https:';
      const body = Buffer.from(request.body, 'utf8');
      let settled = false;
      const finish = (result: SendResult) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        request.signal.removeEventListener('abort', onAbort);
        resolve(result);
      };
      const req = (secure ? https : http).request(url, {
        method: 'POST',
        agent: secure ? this.agents.https : this.agents.http,
        headers: { ...request.headers, 'content-length': String(body.length) },
      });
      const timer = setTimeout(() => {
        finish({ error: `timed out after ${request.timeoutMs} ms` });
        req.destroy();
      }, request.timeoutMs);
      const onAbort = () => {
        finish({ error: 'shutdown' });
        req.destroy();
      };
      request.signal.addEventListener('abort', onAbort);
      req.on('response', (res) => {
        // The receiver's body is never read into anything: only its status counts.
        res.resume();
        finish({ status: res.statusCode ?? 0 });
      });
      req.on('error', (err) => finish({ error: reasonOf(err) }));
      req.end(body);
    });
  }

  close(): void {
    this.agents.http.destroy();
    this.agents.https.destroy();
  }
}

/** Host names to every address, as the sender's own lookup sees them. */
export const dnsResolver: HostResolver = {
  resolve: (hostname) =>
    new Promise((resolve, reject) =>
      dnsLookup(hostname, { all: true }, (err, addresses) => (err ? reject(err) : resolve(addresses.map((a) => a.address)))),
    ),
};
