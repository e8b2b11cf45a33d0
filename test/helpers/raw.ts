import { connect } from 'node:net';
import { recordArtifact } from './leaks.js';

export interface RawResponse {
  status: number;
  headers: Record<string, string[]>;
  body: string;
  /** The whole response as received, for messages. */
  raw: string;
}

/**
 * Sends bytes exactly as given over a fresh TCP connection and reads one HTTP/1.1 response: for what fetch cannot
 * express (duplicated or oversized headers, invalid UTF-8, malformed request lines). Rejects after timeoutMs.
 */
export function rawRequest(
  baseUrl: string,
  data: string | Buffer,
  timeoutMs = 10_000,
  options: { head?: boolean } = {},
): Promise<RawResponse> {
  const { hostname, port } = new URL(baseUrl);
  return new Promise((resolve, reject) => {
    const socket = connect({ host: hostname, port: Number(port) });
    const chunks: Buffer[] = [];
    let settled = false;
    const finish = (err?: Error) => {
      if (settled) return;
      const buffer = Buffer.concat(chunks);
      const parsed = parseResponse(buffer, options.head === true);
      if (!err && parsed === undefined) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      if (parsed) {
        recordArtifact(`raw-response-${parsed.status}.txt`, parsed.raw);
        resolve(parsed);
      } else reject(err ?? new Error('no response'));
    };
    const timer = setTimeout(() => finish(new Error(`no complete response within ${timeoutMs} ms`)), timeoutMs);
    socket.on('data', (d: Buffer) => {
      chunks.push(d);
      finish();
    });
    socket.on('error', (e) => finish(e));
    socket.on('close', () =>
      finish(
        new Error(`connection closed without a complete response: ${JSON.stringify(Buffer.concat(chunks).toString('latin1'))}`),
      ),
    );
    socket.write(data);
  });
}

/** A complete response (headers and a Content-Length body; none for HEAD), or undefined while more bytes are needed. */
export function parseResponse(buffer: Buffer, head = false): RawResponse | undefined {
  const text = buffer.toString('latin1');
  const headerEnd = text.indexOf('\r\n\r\n');
  if (headerEnd < 0) return undefined;
  const [statusLine = '', ...lines] = text.slice(0, headerEnd).split('\r\n');
  const status = Number(/^HTTP\/1\.[01] ([0-9]{3})/.exec(statusLine)?.[1]);
  const headers: Record<string, string[]> = {};
  for (const line of lines) {
    const colon = line.indexOf(':');
    const name = line.slice(0, colon).trim().toLowerCase();
    (headers[name] ??= []).push(line.slice(colon + 1).trim());
  }
  const length = head ? 0 : Number(headers['content-length']?.[0] ?? 0);
  const bodyStart = headerEnd + 4;
  if (buffer.length < bodyStart + length) return undefined;
  return {
    status,
    headers,
    body: buffer.subarray(bodyStart, bodyStart + length).toString('utf8'),
    raw: text.slice(0, bodyStart + length),
  };
}
