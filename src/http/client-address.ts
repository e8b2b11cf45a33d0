import { BlockList, isIPv6 } from 'node:net';

const MAPPED_V4 = '::ffff:';
const DECISION_MEMO_LIMIT = 10_000;

type Hop = 'trusted' | 'untrusted' | 'invalid';

/** An IPv4 client on a dual-stack socket arrives as ::ffff:a.b.c.d; it is the same client as a.b.c.d. */
function plain(address: string): string {
  return address.startsWith(MAPPED_V4) && address.includes('.') ? address.slice(MAPPED_V4.length) : address;
}

function familyOf(address: string): 'ipv4' | 'ipv6' {
  return isIPv6(address) ? 'ipv6' : 'ipv4';
}

/**
 * Who a request comes from, for per-client limits: the socket's peer, unless that peer is one of the configured
 * proxies (SECURE_MODE_TRUSTED_PROXIES), in which case X-Forwarded-For is read from the right, skipping trusted
 * hops: entries left of the first untrusted one were written by the client itself and are never believed.
 */
export class ClientAddresses {
  private readonly trusted: BlockList | undefined;
  private readonly decisions = new Map<string, Hop>();

  constructor(proxies: readonly string[]) {
    if (proxies.length === 0) return;
    const list = new BlockList();
    for (const entry of proxies) {
      const [address = '', prefix] = entry.split('/');
      const family = familyOf(address);
      if (prefix === undefined) list.addAddress(address, family);
      else list.addSubnet(address, Number(prefix), family);
    }
    this.trusted = list;
  }

  of(remoteAddress: string | undefined, forwardedFor: string | string[] | undefined): string {
    const peer = plain(remoteAddress ?? '');
    if (this.trusted === undefined || forwardedFor === undefined || this.hop(peer) !== 'trusted') return peer;
    const hops = (Array.isArray(forwardedFor) ? forwardedFor.join(',') : forwardedFor).split(',');
    let client = peer;
    for (let i = hops.length - 1; i >= 0; i--) {
      const hop = plain(hops[i]!.trim());
      const kind = this.hop(hop);
      // A hop that is no address was written by a trusted proxy gone wrong: the last good hop stands for the client.
      if (kind === 'invalid') return client;
      if (kind === 'untrusted') return hop;
      client = hop;
    }
    return client;
  }

  /** BlockList.check costs microseconds (it crosses into C++ with a new SocketAddress): decisions are remembered. */
  private hop(address: string): Hop {
    let kind = this.decisions.get(address);
    if (kind === undefined) {
      kind = !isAddress(address) ? 'invalid' : this.trusted!.check(address, familyOf(address)) ? 'trusted' : 'untrusted';
      if (this.decisions.size >= DECISION_MEMO_LIMIT) this.decisions.clear();
      this.decisions.set(address, kind);
    }
    return kind;
  }
}

const V4 = /^(?:(?:25[0-5]|2[0-4]\d|1?\d?\d)\.){3}(?:25[0-5]|2[0-4]\d|1?\d?\d)$/;

function isAddress(value: string): boolean {
  return V4.test(value) || isIPv6(value);
}
