import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import type { Config } from './config.js';
import { loadOrCreateMasterKeyFile } from './crypto/master-key-file.js';
import { Keyring, envelopeKeyId, parseMasterKey } from './crypto/keyring.js';
import { SecretCensus } from './domain/census.js';
import { type Clock, systemClock } from './domain/clock.js';
import { Readiness } from './domain/readiness.js';
import { Diagnoser } from './domain/diagnose.js';
import { MemoryRateLimiter, type RateLimiter } from './domain/rate-limiter.js';
import { SecretCache, DEFAULT_CACHE_OPTIONS, openSecret } from './domain/secret-cache.js';
import { SecretsService } from './domain/secrets.js';
import { UsageRecorder } from './domain/usage.js';
import { Verifier } from './domain/verifier.js';
import { WorkspaceService } from './domain/workspaces.js';
import { ConfigError } from './errors.js';
import { buildApp } from './http/app.js';
import { openStore } from './storage/open.js';
import type { Store } from './storage/store.js';

export interface Services {
  store: Store;
  keyring: Keyring;
  clock: Clock;
  workspaces: WorkspaceService;
  secrets: SecretsService;
  cache: SecretCache;
  usage: UsageRecorder;
  verifier: Verifier;
  diagnoser: Diagnoser;
  rateLimiter: RateLimiter;
  verifyLimiter: MemoryRateLimiter;
  verifyRateLimit: number;
  census: SecretCensus;
  readiness: Readiness;
}

export interface Runtime extends Services {
  app: FastifyInstance;
  close(): Promise<void>;
}

export interface RuntimeOptions {
  logger: Logger | false;
  clock?: Clock;
  /** Told what start-up did that an operator must know (a generated key file, a bootstrap token). */
  notice?: (message: string) => void;
}

export function loadKeyring(config: Config, notice: (m: string) => void): Keyring {
  let currentText = config.masterKey;
  let source = 'SECURE_MODE_MASTER_KEY';
  if (currentText === undefined) {
    if (config.database.kind !== 'sqlite') {
      throw new ConfigError('SECURE_MODE_MASTER_KEY is required with PostgreSQL (32 bytes as base64 or hex; generate one with: openssl rand -base64 32)');
    }
    if (config.database.filename === ':memory:') {
      currentText = Buffer.from(crypto.getRandomValues(new Uint8Array(32))).toString('base64');
      source = 'an ephemeral in-memory key';
    } else {
      const file = loadOrCreateMasterKeyFile(config.database.filename);
      currentText = file.text;
      source = file.path;
      if (file.created) notice(`created master key ${file.path} (mode 0600); back it up: without it no stored secret can be read`);
    }
  }
  const previous = config.previousMasterKeys.map((k, i) => parseMasterKey(k, `SECURE_MODE_PREVIOUS_MASTER_KEYS entry ${i + 1}`));
  return new Keyring(parseMasterKey(currentText, source), previous);
}

/** Refuses to start when stored secrets are under a key we do not have, or when the key opens nothing: never serve garbage. */
export async function checkKeyring(store: Store, keyring: Keyring): Promise<void> {
  const samples = await store.oneSecretPerKey();
  const missing = samples.map((s) => envelopeKeyId(s.ciphertext)).filter((id) => !keyring.has(id));
  if (missing.length > 0) {
    throw new ConfigError(
      `stored secrets are encrypted under master key id(s) ${missing.join(', ')}, but the configured keys are ${keyring.keyIds.join(', ')}: set SECURE_MODE_MASTER_KEY (or SECURE_MODE_PREVIOUS_MASTER_KEYS) to the right key`,
    );
  }
  for (const sample of samples) {
    try {
      openSecret(keyring, sample);
    } catch {
      throw new ConfigError(`master key ${envelopeKeyId(sample.ciphertext)} does not open the stored secrets (corrupt key or database)`);
    }
  }
}

export async function createServices(config: Config, options: RuntimeOptions): Promise<Services> {
  const notice = options.notice ?? (() => undefined);
  const clock = options.clock ?? systemClock;
  const keyring = loadKeyring(config, notice);
  const store = await openStore(config.database);
  try {
    await store.migrate();
    await checkKeyring(store, keyring);
  } catch (err) {
    await store.close();
    throw err;
  }
  const usage = new UsageRecorder(store, clock);
  const cache = new SecretCache(store, keyring, clock, DEFAULT_CACHE_OPTIONS);
  const workspaces = new WorkspaceService(store, clock, config.defaultRateLimit);
  const secrets = new SecretsService(store, keyring, cache, usage, clock, config.maxLiveSecrets);
  const census = new SecretCensus(store, usage);
  const readiness = new Readiness(store, cache, DEFAULT_CACHE_OPTIONS.maxWorkspaces);
  const verifier = new Verifier(cache, usage, clock);
  const diagnoser = new Diagnoser(store, keyring, cache, clock);
  return {
    store, keyring, clock, workspaces, secrets, cache, usage, verifier, diagnoser,
    rateLimiter: new MemoryRateLimiter(), census, readiness,
    verifyLimiter: new MemoryRateLimiter(), verifyRateLimit: config.verifyRateLimit,
  };
}

export async function createRuntime(config: Config, options: RuntimeOptions): Promise<Runtime> {
  const services = await createServices(config, options);
  const notice = options.notice ?? (() => undefined);
  const boot = await services.workspaces.bootstrap(config.bootstrapToken);
  if (boot) {
    notice(`created workspace "${boot.workspace.name}" with app_id ${boot.workspace.appId}`);
    if (boot.generated) notice(`created an all-scopes access token (shown only now): ${boot.token}`);
    else notice('created an all-scopes access token from SECURE_MODE_BOOTSTRAP_TOKEN');
  }
  const app = await buildApp(services, {
    logger: options.logger,
    bodyLimit: config.bodyLimit,
    limits: config.limits,
    metricsToken: config.metricsToken,
    consoleDir: config.consoleDir,
  });
  services.usage.start(config.usageFlushMs);
  // In the background: /readyz answers 503 until it is done, and retries it when it failed.
  void services.readiness.warm().catch(() => undefined);
  let closed = false;
  return {
    ...services,
    app,
    async close() {
      if (closed) return;
      closed = true;
      await app.close();
      await services.usage.stop().catch(() => undefined);
      await services.rateLimiter.close();
      await services.verifyLimiter.close();
      await services.store.close();
    },
  };
}
