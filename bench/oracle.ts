import { loadConfig } from '../src/config.js';
import { SYSTEM_ACTOR } from '../src/domain/actor.js';
import { type VerificationBody, parseVerificationRequest } from '../src/domain/verifier.js';
import { createServices } from '../src/runtime.js';
import { userHash } from '../packages/sign/src/index.js';
import { median } from './stats.js';

export interface OracleFigures {
  samples: number;
  medianNs: Record<string, number>;
  /** Two-sample Kolmogorov–Smirnov statistic of each pair, and the critical value at α = 0.001. */
  pairs: { a: string; b: string; d: number; critical: number }[];
}

function ks(a: number[], b: number[]): number {
  const x = [...a].sort((p, q) => p - q);
  const y = [...b].sort((p, q) => p - q);
  let i = 0;
  let j = 0;
  let d = 0;
  while (i < x.length && j < y.length) {
    const v = Math.min(x[i]!, y[j]!);
    while (i < x.length && x[i]! <= v) i++;
    while (j < y.length && y[j]! <= v) j++;
    d = Math.max(d, Math.abs(i / x.length - j / y.length));
  }
  return d;
}

function shuffle<T>(items: T[]): void {
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [items[i], items[j]] = [items[j]!, items[i]!];
  }
}

/**
 * Whether the public route's verdict leaks which of three failures it was: an unknown app_id, a workspace without a
 * secret for the platform, a wrong signature (against one secret). The verifier is timed call by call, the three
 * interleaved, in process: the strictest view, without the network's noise an attacker would also face.
 */
export async function benchOracle(samples: number): Promise<OracleFigures> {
  const services = await createServices(loadConfig({ SECURE_MODE_DATABASE_URL: 'sqlite::memory:' }), { logger: false });
  try {
    const web = await services.workspaces.createWorkspace({ name: 'web' });
    await services.secrets.create(web, { name: 'w', supports_web: true }, SYSTEM_ACTOR);
    const ios = await services.workspaces.createWorkspace({ name: 'ios only' });
    await services.secrets.create(ios, { name: 'i', supports_ios: true }, SYSTEM_ACTOR);
    const wrong = userHash('not the secret', { user_id: 'bench-user' });
    const bodies: Record<string, VerificationBody> = {
      'unknown app_id': { app_id: 'no-such-app', platform: 'web', user_id: 'bench-user', user_hash: wrong },
      'no secret for platform': { app_id: ios.appId, platform: 'web', user_id: 'bench-user', user_hash: wrong },
      'wrong signature': { app_id: web.appId, platform: 'web', user_id: 'bench-user', user_hash: wrong },
    };
    const times: Record<string, number[]> = Object.fromEntries(Object.keys(bodies).map((k) => [k, []]));
    const entries = Object.entries(bodies);
    for (let round = -3000; round < samples; round++) {
      // A fresh order each round: a fixed one would give each failure its own place after the others, a bias of its own.
      shuffle(entries);
      for (const [name, body] of entries) {
        const start = process.hrtime.bigint();
        const out = services.verifier.verify(parseVerificationRequest(body));
        const ns = Number(process.hrtime.bigint() - start);
        if (out instanceof Promise) {
          // A cache (re)load, a database read: not the steady state this compares, so no sample.
          await out;
          continue;
        }
        if (out.verified) throw new Error(`${name} verified`);
        if (round >= 0) times[name]!.push(ns);
      }
    }
    const names = Object.keys(times);
    const pairs = [];
    for (let i = 0; i < names.length; i++) {
      for (let j = i + 1; j < names.length; j++) {
        const a = times[names[i]!]!;
        const b = times[names[j]!]!;
        pairs.push({
          a: names[i]!,
          b: names[j]!,
          d: ks(a, b),
          critical: 1.949 * Math.sqrt((a.length + b.length) / (a.length * b.length)),
        });
      }
    }
    return { samples, medianNs: Object.fromEntries(names.map((n) => [n, median(times[n]!)])), pairs };
  } finally {
    await services.store.close();
  }
}
