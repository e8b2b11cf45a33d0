import { createHmac, timingSafeEqual } from 'node:crypto';
import { loadConfig } from '../src/config.js';
import { SYSTEM_ACTOR } from '../src/domain/actor.js';
import { type VerificationBody, parseVerificationRequest } from '../src/domain/verifier.js';
import { createServices } from '../src/runtime.js';
import { userHash, userJwt } from '../packages/sign/src/index.js';
import { median, medianRatio } from './stats.js';

export interface MicroFigure {
  label: string;
  oursNs: number;
  rawNs: number;
  /** Median of the per-run ratios ours / raw: each run's pair ran back to back, so the ratio cancels the run's drift. */
  ratio: number;
  /** Raw HMACs over every live secret in turn, the cost without the most-recent-match hint. */
  naiveNs?: number;
}

/**
 * A timing loop of its own for one contender. One loop shared by all sees several functions at its call site, and
 * V8 then inlines some into it and not others: with two contenders the ratio came out near 1.35, with a third
 * beside them near 1.15, for the same code. Each compiled apart, every contender is called from a site that only
 * ever sees it, and is optimised as well as V8 can.
 */
function timedLoop(): (fn: () => boolean, iterations: number) => boolean {
  return new Function('fn', 'n', 'let ok = true; for (let i = 0; i < n; i++) ok = fn() && ok; return ok;') as (
    fn: () => boolean,
    iterations: number,
  ) => boolean;
}

/** Median ns/op over `rounds` timed runs of `iterations` calls, the contenders interleaved round by round. */
function measure(
  fns: Record<string, () => boolean>,
  iterations: number,
  rounds: number,
): Record<string, number> & { ratio: number } {
  const samples: Record<string, number[]> = Object.fromEntries(Object.keys(fns).map((k) => [k, []]));
  const loops = Object.fromEntries(Object.keys(fns).map((name) => [name, timedLoop()]));
  for (const [name, fn] of Object.entries(fns)) if (!loops[name]!(fn, iterations / 10)) throw new Error(`${name} did not verify`);
  for (let r = 0; r < rounds; r++) {
    for (const [name, fn] of Object.entries(fns)) {
      const start = process.hrtime.bigint();
      const ok = loops[name]!(fn, iterations);
      const ns = Number(process.hrtime.bigint() - start) / iterations;
      if (!ok) throw new Error(`${name} failed to verify`);
      samples[name]!.push(ns);
    }
  }
  const medians = Object.fromEntries(Object.entries(samples).map(([k, v]) => [k, median(v)]));
  return { ...medians, ratio: medianRatio(samples.ours!, samples.raw!) };
}

/**
 * The verifier as the route calls it (request parsing, cache peek, HMAC, constant-time compare, usage counting)
 * against the least any verifier must do: one createHmac and one timingSafeEqual.
 */
export async function benchInProcess(iterations: number, rounds: number): Promise<MicroFigure[]> {
  const figures: MicroFigure[] = [];
  for (const liveSecrets of [1, 3]) {
    const services = await createServices(loadConfig({ SECURE_MODE_DATABASE_URL: 'sqlite::memory:' }), { logger: false });
    try {
      const workspace = await services.workspaces.createWorkspace({ name: 'bench' });
      const secrets: string[] = [];
      for (let i = 0; i < liveSecrets; i++) {
        secrets.push((await services.secrets.create(workspace, { name: `s${i}`, supports_web: true }, SYSTEM_ACTOR)).secret);
      }
      // Mid-rotation: traffic is signed with the newest secret, the last one the verifier would reach in order.
      const newest = secrets.at(-1)!;
      const keys = secrets.map((s) => Buffer.from(s, 'utf8'));
      const userId = 'bench-user-1234';
      const body: VerificationBody = {
        app_id: workspace.appId,
        platform: 'web',
        user_id: userId,
        user_hash: userHash(newest, { user_id: userId }),
      };
      const key = Buffer.from(newest, 'utf8');
      await services.cache.load(workspace.appId);
      const result = measure(
        {
          ours: () => {
            const out = services.verifier.verify(parseVerificationRequest(body));
            return !(out instanceof Promise) && out.verified;
          },
          raw: () => timingSafeEqual(createHmac('sha256', key).update(userId).digest(), Buffer.from(body.user_hash!, 'hex')),
          ...(liveSecrets > 1
            ? {
                naive: () => {
                  const claimed = Buffer.from(body.user_hash!, 'hex');
                  for (const k of keys)
                    if (timingSafeEqual(createHmac('sha256', k).update(userId).digest(), claimed)) return true;
                  return false;
                },
              }
            : {}),
        },
        iterations,
        rounds,
      );
      figures.push({
        label: `user_hash, ${liveSecrets} live secret${liveSecrets > 1 ? 's' : ''}`,
        oursNs: result.ours!,
        rawNs: result.raw!,
        ratio: result.ratio,
        ...(result.naive !== undefined ? { naiveNs: result.naive } : {}),
      });

      if (liveSecrets === 1) {
        const token = userJwt(newest, { user_id: userId }, { expiresIn: '1h' });
        const jwtBody: VerificationBody = { app_id: workspace.appId, platform: 'web', intercom_user_jwt: token };
        const dot = token.lastIndexOf('.');
        const signingInput = token.slice(0, dot);
        const signature = token.slice(dot + 1);
        const jwtResult = measure(
          {
            ours: () => {
              const out = services.verifier.verify(parseVerificationRequest(jwtBody));
              return !(out instanceof Promise) && out.verified;
            },
            // The floor for a JWT: one HMAC over the signing input, compare, and read the claims.
            raw: () =>
              timingSafeEqual(createHmac('sha256', key).update(signingInput).digest(), Buffer.from(signature, 'base64url')) &&
              typeof JSON.parse(Buffer.from(signingInput.slice(signingInput.indexOf('.') + 1), 'base64url').toString())
                .user_id === 'string',
          },
          iterations,
          rounds,
        );
        figures.push({ label: 'jwt, 1 live secret', oursNs: jwtResult.ours!, rawNs: jwtResult.raw!, ratio: jwtResult.ratio });
      }
    } finally {
      await services.store.close();
    }
  }
  return figures;
}
