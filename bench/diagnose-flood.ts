import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../src/config.js';
import { SYSTEM_ACTOR } from '../src/domain/actor.js';
import { READ } from '../src/domain/scopes.js';
import { createRuntime } from '../src/runtime.js';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { load, requestBody } from './http.js';

const PROBE = fileURLToPath(new URL('./probe.ts', import.meta.url));

interface ProbeResult {
  p50: number;
  p99: number;
  count: number;
  non2xx: number;
}

function probe(url: string, body: string, seconds: number, loops: number): Promise<ProbeResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', PROBE, url, body, String(seconds), String(loops)], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d));
    child.on('error', reject);
    child.on('exit', (code) =>
      code === 0 ? resolve(JSON.parse(out) as ProbeResult) : reject(new Error(`probe exited ${code}`)),
    );
  });
}

export interface FloodFigures {
  quietP50: number[];
  floodedP50: number[];
  /** Diagnoses answered 200 and 429 by the flood, summed over its rounds. */
  diagnosed: number;
  refused: number;
  limit: number;
}

/**
 * One server, two workspaces. Workspace A's read token floods POST /identity_verification/diagnose from a second
 * process (autocannon, at `ratePerSecond` or as fast as it is answered; either way every window's
 * SECURE_MODE_DIAGNOSE_RATE_LIMIT diagnoses run and the rest are refused) with the costliest body there is: a wrong hash over a user_id with whitespace beside an
 * email, against the most live secrets a workspace may have and the most recently deleted ones a diagnosis reads.
 * Workspace B's verify p50 (a probe of `loops` sequential keep-alive clients) is measured with and without the flood,
 * in alternating rounds.
 */
export async function benchDiagnoseFlood(options: {
  rounds: number;
  seconds: number;
  loops: number;
  /** Diagnoses per second the flood sends; undefined: as fast as they are answered. */
  ratePerSecond: number | undefined;
}): Promise<FloodFigures> {
  const dir = mkdtempSync(join(tmpdir(), 'secure-mode-bench-'));
  const config = loadConfig({
    SECURE_MODE_DATABASE_URL: `sqlite:${join(dir, 'bench.db')}`,
    SECURE_MODE_LOG_LEVEL: 'warn',
    SECURE_MODE_VERIFY_RATE_LIMIT: '10000000',
    SECURE_MODE_VERIFY_CLIENT_RATE_LIMIT: '10000000',
  });
  const runtime = await createRuntime(config, { logger: false });
  try {
    const a = await runtime.workspaces.createWorkspace({ name: 'flooder' });
    for (let i = 0; i < 10; i++) {
      const { view } = await runtime.secrets.create(a, { name: `old ${i}`, supports_web: true }, SYSTEM_ACTOR);
      await runtime.secrets.delete(a, String(view.record.id), SYSTEM_ACTOR);
    }
    for (let i = 0; i < config.maxLiveSecrets; i++)
      await runtime.secrets.create(a, { name: `live ${i}`, supports_web: true }, SYSTEM_ACTOR);
    const { value: token } = await runtime.workspaces.createToken(a, [READ.named], 'bench');
    const b = await runtime.workspaces.createWorkspace({ name: 'victim' });
    const { secret } = await runtime.secrets.create(b, { name: 'b', supports_web: true }, SYSTEM_ACTOR);
    await runtime.app.listen({ host: '127.0.0.1', port: 0 });
    const address = runtime.app.server.address();
    const base = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
    const verifyBody = requestBody(b.appId, secret);
    const diagnoseBody = JSON.stringify({
      platform: 'web',
      user_id: ' bench-user ',
      email: 'e@example.com',
      user_hash: 'ab'.repeat(32),
    });

    const figures: FloodFigures = { quietP50: [], floodedP50: [], diagnosed: 0, refused: 0, limit: config.diagnoseRateLimit };
    await probe(`${base}/identity_verification/verify`, verifyBody, 1, options.loops);
    for (let round = 0; round < options.rounds; round++) {
      for (const flooded of round % 2 === 0 ? [false, true] : [true, false]) {
        const flood = flooded
          ? load(`${base}/identity_verification/diagnose`, diagnoseBody, 4, options.seconds + 1, {
              headers: [`authorization=Bearer ${token}`],
              ...(options.ratePerSecond === undefined ? {} : { ratePerSecond: options.ratePerSecond }),
            })
          : undefined;
        const verify = await probe(`${base}/identity_verification/verify`, verifyBody, options.seconds, options.loops);
        if (verify.non2xx > 0) throw new Error(`verify answered ${verify.non2xx} non-2xx`);
        (flooded ? figures.floodedP50 : figures.quietP50).push(verify.p50);
        if (flood) {
          const f = await flood;
          figures.refused += f.non2xx;
          figures.diagnosed += Math.round(f.rps * (options.seconds + 1)) - f.non2xx;
        }
      }
    }
    return figures;
  } finally {
    await runtime.close();
    rmSync(dir, { recursive: true, force: true });
  }
}
