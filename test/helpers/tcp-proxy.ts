import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { once } from 'node:events';

/**
 * A fault-injecting TCP proxy on 127.0.0.1 for tests: forwards to a target until cut.
 * - cut('reset'): every open connection is destroyed and new ones are refused (closed at once), as a server crash.
 * - cut('blackhole'): connections stay open but nothing passes either way and new ones hang, as a network partition.
 * restore() lets new connections through again (cut connections stay dead, as in real life).
 */
export class TcpProxy {
  private server: Server | undefined;
  private readonly pairs = new Set<[Socket, Socket | undefined]>();
  private mode: 'open' | 'reset' | 'blackhole' = 'open';
  port = 0;

  constructor(
    private readonly targetHost: string,
    private readonly targetPort: number,
  ) {}

  static async start(targetHost: string, targetPort: number): Promise<TcpProxy> {
    const proxy = new TcpProxy(targetHost, targetPort);
    await proxy.listen();
    return proxy;
  }

  private async listen(): Promise<void> {
    this.server = createServer((client) => this.accept(client));
    this.server.listen(0, '127.0.0.1');
    await once(this.server, 'listening');
    const address = this.server.address();
    if (!address || typeof address === 'string') throw new Error('proxy has no port');
    this.port = address.port;
  }

  private accept(client: Socket): void {
    client.on('error', () => undefined);
    if (this.mode === 'reset') {
      client.destroy();
      return;
    }
    const pair: [Socket, Socket | undefined] = [client, undefined];
    this.pairs.add(pair);
    client.on('close', () => {
      this.pairs.delete(pair);
      pair[1]?.destroy();
    });
    if (this.mode === 'blackhole') return;
    const upstream = createConnection({ host: this.targetHost, port: this.targetPort });
    pair[1] = upstream;
    upstream.on('error', () => client.destroy());
    upstream.on('close', () => client.destroy());
    client.pipe(upstream);
    upstream.pipe(client);
  }

  /** Every connection ever accepted that is still open. */
  get connections(): number {
    return this.pairs.size;
  }

  /** The local ports of the open upstream connections: what the target sees as their client ports. */
  get upstreamPorts(): number[] {
    return [...this.pairs].flatMap(([, upstream]) => (upstream?.localPort === undefined ? [] : [upstream.localPort]));
  }

  cut(mode: 'reset' | 'blackhole'): void {
    this.mode = mode;
    for (const pair of this.pairs) {
      const [client, upstream] = pair;
      if (mode === 'reset') {
        client.destroy();
        upstream?.destroy();
        continue;
      }
      // Stop the flow both ways and swallow anything still arriving: bytes go nowhere, no FIN, no RST.
      client.unpipe();
      upstream?.unpipe();
      client.removeAllListeners('data');
      upstream?.removeAllListeners('data');
      client.on('data', () => undefined);
      upstream?.on('data', () => undefined);
    }
  }

  restore(): void {
    this.mode = 'open';
  }

  async close(): Promise<void> {
    for (const [client, upstream] of this.pairs) {
      client.destroy();
      upstream?.destroy();
    }
    this.pairs.clear();
    if (this.server) {
      this.server.close();
      await once(this.server, 'close').catch(() => undefined);
    }
  }
}
