import { systemClock } from '../src/domain/clock.js';
import { MemoryRateLimiter, RATE_WINDOW_SECONDS } from '../src/domain/rate-limiter.js';
import { ClientAddresses } from '../src/http/client-address.js';
import { limitVerification } from '../src/http/verify-rate-limit.js';
import { median } from './stats.js';

export interface LimitFigures {
  /** ns per request: the per-app_id limit alone (what the route did before the per-client limit). */
  appOnlyNs: number;
  /** ns per request: client address resolution, per-client and per-app_id limits, headers. */
  perClientNs: number;
  /** The same, the request arriving through a trusted proxy with X-Forwarded-For. */
  viaProxyNs: number;
}

const CLIENTS = Array.from({ length: 1000 }, (_, i) => `10.${(i >> 8) & 255}.${i & 255}.7`);

/** Median ns/op over interleaved rounds, 1,000 distinct clients cycling as a busy node would see them. */
export function benchLimits(iterations: number, rounds: number): LimitFigures {
  const limiter = new MemoryRateLimiter();
  const deps = {
    verifyLimiter: { clients: new MemoryRateLimiter(), apps: limiter },
    clock: systemClock,
    verifyRateLimit: 1e9,
    verifyClientRateLimit: 1e9,
    clientAddresses: new ClientAddresses([]),
  };
  const proxied = { ...deps, clientAddresses: new ClientAddresses(['127.0.0.1', '10.200.0.0/16']) };
  const headers: Record<string, string> = {};
  const contenders: Record<keyof LimitFigures, (i: number) => void> = {
    appOnlyNs: () => {
      const r = limiter.hitNow('app-1', 1e9, systemClock.nowMs());
      headers['x-ratelimit-limit'] = String(r.limit);
      headers['x-ratelimit-remaining'] = String(r.remaining);
      headers['x-ratelimit-reset'] = String(r.reset);
      if (!r.allowed) throw new Error(`limited within ${RATE_WINDOW_SECONDS} s`);
    },
    perClientNs: (i) =>
      limitVerification(deps, deps.clientAddresses.of(CLIENTS[i % CLIENTS.length], undefined), 'app-1', headers),
    viaProxyNs: (i) =>
      limitVerification(
        proxied,
        proxied.clientAddresses.of('127.0.0.1', `${CLIENTS[i % CLIENTS.length]}, 10.200.1.1`),
        'app-1',
        headers,
      ),
  };
  const samples: Record<string, number[]> = { appOnlyNs: [], perClientNs: [], viaProxyNs: [] };
  for (const fn of Object.values(contenders)) for (let i = 0; i < iterations; i++) fn(i);
  for (let r = 0; r < rounds; r++) {
    for (const [name, fn] of Object.entries(contenders)) {
      const start = process.hrtime.bigint();
      for (let i = 0; i < iterations; i++) fn(i);
      samples[name]!.push(Number(process.hrtime.bigint() - start) / iterations);
    }
  }
  return {
    appOnlyNs: median(samples.appOnlyNs!),
    perClientNs: median(samples.perClientNs!),
    viaProxyNs: median(samples.viaProxyNs!),
  };
}
