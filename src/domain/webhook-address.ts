import { BlockList, isIP } from 'node:net';
import { errors } from './errors.js';

/** Resolves a host name to every address it has (the port; DNS is an adapter's business). */
export interface HostResolver {
  resolve(hostname: string): Promise<string[]>;
}

/**
 * Addresses a webhook must never reach: private, loopback, link-local (cloud metadata), carrier-grade NAT,
 * documentation, benchmarking, multicast and reserved ranges, in both families (RFC 6890 and its IPv6 counterpart).
 */
const NOT_PUBLIC = new BlockList();
for (const [net, prefix] of [
  ['0.0.0.0', 8],
  ['10.0.0.0', 8],
  ['100.64.0.0', 10],
  ['127.0.0.0', 8],
  ['169.254.0.0', 16],
  ['172.16.0.0', 12],
  ['192.0.0.0', 24],
  ['192.0.2.0', 24],
  ['192.88.99.0', 24],
  ['192.168.0.0', 16],
  ['198.18.0.0', 15],
  ['198.51.100.0', 24],
  ['203.0.113.0', 24],
  ['224.0.0.0', 4],
  ['240.0.0.0', 4],
] as const) {
  NOT_PUBLIC.addSubnet(net, prefix, 'ipv4');
}
for (const [net, prefix] of [
  ['::', 128],
  ['::1', 128],
  ['64:ff9b::', 96],
  ['64:ff9b:1::', 48],
  ['100::', 64],
  ['2001::', 23],
  ['2001:db8::', 32],
  ['2002::', 16],
  ['fc00::', 7],
  ['fe80::', 10],
  ['fec0::', 10],
  ['ff00::', 8],
] as const) {
  NOT_PUBLIC.addSubnet(net, prefix, 'ipv6');
}

/** Whether an IP address is on the public internet. An IPv4-mapped IPv6 address is judged as its IPv4 address. */
export function isPublicAddress(address: string): boolean {
  const family = isIP(address);
  if (family === 0) return false;
  if (family === 6) {
    const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
    if (mapped) return isPublicAddress(mapped[1]!);
    if (/^::ffff:/i.test(address)) return false;
    return !NOT_PUBLIC.check(address, 'ipv6');
  }
  return !NOT_PUBLIC.check(address, 'ipv4');
}

export const MAX_WEBHOOK_URL_LENGTH = 2048;

/**
 * The SSRF rule: an endpoint URL is https to a public address, checked when it is created and again on every
 * delivery's resolved address (so a name that later resolves inside the network is refused then). With allowPrivate
 * (SECURE_MODE_WEBHOOK_ALLOW_PRIVATE, development and tests only) http and any address are allowed.
 */
export class WebhookAddressPolicy {
  constructor(
    readonly allowPrivate: boolean,
    private readonly resolver: HostResolver,
  ) {}

  /** Whether a delivery may connect to this resolved address. */
  allows(address: string): boolean {
    return this.allowPrivate || isPublicAddress(address);
  }

  /** The URL, or 422 parameter_invalid (field url) saying what is wrong with it. */
  async check(value: string): Promise<URL> {
    const invalid = (why: string) => errors.parameterInvalid(`url ${why}`, 'url');
    if (value.length > MAX_WEBHOOK_URL_LENGTH) throw invalid(`must be at most ${MAX_WEBHOOK_URL_LENGTH} characters`);
    let url: URL;
    try {
      url = new URL(value);
    } catch {
      throw invalid('must be an absolute https URL');
    }
    if (url.protocol !== 'https:' && !(this.allowPrivate && url.protocol === 'http:')) throw invalid('must use https');
    if (url.username !== '' || url.password !== '') throw invalid('must not carry credentials');
    if (url.hash !== '') throw invalid('must not have a fragment');
    if (this.allowPrivate) return url;
    const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
    let addresses: string[];
    if (isIP(host) !== 0) addresses = [host];
    else {
      try {
        addresses = await this.resolver.resolve(host);
      } catch {
        throw invalid(`host ${host} does not resolve`);
      }
    }
    if (addresses.length === 0) throw invalid(`host ${host} does not resolve`);
    if (!addresses.every((a) => isPublicAddress(a))) throw invalid('must point to a public address');
    return url;
  }
}
