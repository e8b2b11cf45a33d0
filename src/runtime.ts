import type { FastifyInstance } from 'fastify';
import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import { type Config, sqliteFile } from './config.js';
import { loadOrCreateMasterKeyFile, loadPreviousMasterKeyFile } from './crypto/master-key-file.js';
import { KeyMaterialError, Keyring, type MasterKey, envelopeKeyId, parseMasterKey, webhookSecretAad } from './crypto/keyring.js';
import { AuditService } from './domain/audit.js';
import { SecretCensus } from './domain/census.js';
import { type ChangeFeed, InProcessChangeFeed } from './domain/change-feed.js';
import { type Clock, systemClock } from './domain/clock.js';
import { ExpirySweeper } from './domain/expiry-sweeper.js';
import { Readiness } from './domain/readiness.js';
import { Diagnoser } from './domain/diagnose.js';
import { MemoryRateLimiter, type RateLimiter } from './domain/rate-limiter.js';
import { SecretCache, DEFAULT_CACHE_OPTIONS, openSecret } from './domain/secret-cache.js';
import { RotationsService } from './domain/rotations.js';
import { RolloutDeliverer } from './domain/rollout.js';
import { RotationPolicyService } from './domain/rotation-policy.js';
import { SpawnRolloutCommand } from './rollout/spawn-command.js';
import { SecretsService } from './domain/secrets.js';
import { UsageRecorder } from './domain/usage.js';
import { Verifier } from './domain/verifier.js';
import { JWT_CLOCK_SKEW_SECONDS } from './crypto/jwt.js';
import { ClientAddresses } from './http/client-address.js';
import type { VerifyLimiters } from './http/verify-rate-limit.js';
import { WorkspaceService } from './domain/workspaces.js';
import { WebhookAddressPolicy } from './domain/webhook-address.js';
import { WebhookDispatcher } from './domain/webhook-delivery.js';
import { WebhooksService } from './domain/webhooks.js';
import { HttpWebhookSender, dnsResolver } from './webhooks/http-sender.js';
import { ConfigError } from './errors.js';
import { buildApp } from './http/app.js';
import { openChangeFeed, openRateLimiter, openStore, type StorageContext } from './storage/open.js';
import { databaseHoldsSecrets, prepareDataDirectory, restrictDatabaseFiles } from './storage/sqlite/files.js';
import { type ServerLock, acquireServerLock } from './storage/sqlite/lock.js';
import type { Store } from './domain/ports.js';

export interface Services {
  store: Store;
  keyring: Keyring;
  clock: Clock;
  workspaces: WorkspaceService;
  secrets: SecretsService;
  rotations: RotationsService;
  rotationPolicy: RotationPolicyService;
  rollout: RolloutDeliverer;
  audit: AuditService;
  webhooks: WebhooksService;
  /** Delivers queued events; started by createRuntime only (the CLI and a cluster's primary deliver nothing). */
  dispatcher: WebhookDispatcher;
  sweeper: ExpirySweeper;
  cache: SecretCache;
  usage: UsageRecorder;
  verifier: Verifier;
  diagnoser: Diagnoser;
  rateLimiter: RateLimiter;
  verifyLimiter: VerifyLimiters;
  verifyRateLimit: number;
  verifyClientRateLimit: number;
  clientAddresses: ClientAddresses;
  diagnoseRateLimit: number;
  census: SecretCensus;
  readiness: Readiness;
  /** How this node hears of other nodes' changes (started by createRuntime; the CLI does not need it). */
  changes: ChangeFeed;
  /** Held while this process serves its SQLite file (see storage/sqlite/lock.ts); released with the store. */
  lock: ServerLock | undefined;
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
  /**
   * How changes reach this process when the database has no change feed of its own (SQLite): cluster workers relay
   * them through the primary. Without it, the process is taken to be the only one serving its database.
   */
  localChangeFeed?: ChangeFeed;
  /**
   * Take the one-server lock of the SQLite file: a server does, unless it is a cluster worker (its primary holds it);
   * admin commands do not, so they work beside a running server.
   */
  serverLock?: boolean;
}

function storageContext(options: RuntimeOptions, clock: Clock): StorageContext {
  const logger = options.logger;
  return {
    nodeId: randomUUID(),
    clock,
    log: (level, message, err) => {
      if (!logger) return;
      // Only what failed, by type and message: never a connection string.
      const detail =
        err === undefined
          ? {}
          : { err: { type: (err as Error)?.name, message: (err as Error)?.message, code: (err as { code?: unknown })?.code } };
      logger[level](detail, message);
    },
  };
}

export function loadKeyring(config: Config, notice: (m: string) => void): Keyring {
  try {
    return openKeyring(config, notice);
  } catch (err) {
    throw err instanceof KeyMaterialError ? new ConfigError(err.message) : err;
  }
}

function openKeyring(config: Config, notice: (m: string) => void): Keyring {
  let currentText = config.masterKey;
  let source = 'SECURE_MODE_MASTER_KEY';
  // The key a rewrap of the default key file replaced: secrets a server still running on it wrote meanwhile open.
  let replaced: MasterKey | undefined;
  if (currentText === undefined) {
    if (config.database.kind !== 'sqlite') {
      throw new ConfigError(
        'SECURE_MODE_MASTER_KEY is required with PostgreSQL (32 bytes as base64 or hex; generate one with: openssl rand -base64 32)',
      );
    }
    if (config.database.filename === ':memory:') {
      currentText = Buffer.from(crypto.getRandomValues(new Uint8Array(32))).toString('base64');
      source = 'an ephemeral in-memory key';
    } else {
      const filename = config.database.filename;
      const file = loadOrCreateMasterKeyFile(filename, () => databaseHoldsSecrets(filename));
      currentText = file.text;
      source = file.path;
      replaced = loadPreviousMasterKeyFile(filename);
      if (file.created)
        notice(`created master key ${file.path} (mode 0600); back it up: without it no stored secret can be read`);
    }
  }
  const previous = config.previousMasterKeys.map((k, i) => parseMasterKey(k, `SECURE_MODE_PREVIOUS_MASTER_KEYS entry ${i + 1}`));
  return new Keyring(parseMasterKey(currentText, source), replaced ? [...previous, replaced] : previous);
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
      throw new ConfigError(
        `master key ${envelopeKeyId(sample.ciphertext)} does not open the stored secrets (corrupt key or database)`,
      );
    }
  }
  // Webhook signing secrets too: deliveries signed with nothing would fail one by one, long after start-up.
  for (const hook of await store.oneWebhookSecretPerKey()) {
    const keyId = envelopeKeyId(hook.ciphertext);
    try {
      keyring.decrypt(hook.ciphertext, webhookSecretAad(hook.workspaceId, hook.id)).fill(0);
    } catch {
      throw new ConfigError(
        keyring.has(keyId)
          ? `master key ${keyId} does not open the stored webhook signing secrets (corrupt key or database)`
          : `stored webhook signing secrets are encrypted under master key id ${keyId}, but the configured keys are ${keyring.keyIds.join(', ')}: set SECURE_MODE_MASTER_KEY (or SECURE_MODE_PREVIOUS_MASTER_KEYS) to the right key`,
      );
    }
  }
}

/**
 * The composition root: every service built once. `shared` is what only a serving node opens (the server passes it;
 * the CLI's local commands do not): the storage context with this node's one id, and the shared rate limiter.
 */
export async function createServices(
  config: Config,
  options: RuntimeOptions,
  shared: { context?: StorageContext; rateLimiter?: RateLimiter } = {},
): Promise<Services> {
  const notice = options.notice ?? (() => undefined);
  const clock = options.clock ?? systemClock;
  const file = sqliteFile(config);
  if (file !== undefined) prepareDataDirectory(file);
  const keyring = loadKeyring(config, notice);
  // After the key file is settled (a refusal there creates nothing), before anything opens the database.
  const lock = options.serverLock && file !== undefined ? acquireServerLock(file) : undefined;
  const context = shared.context ?? storageContext(options, clock);
  let store: Store;
  try {
    store = await openStore(config, context);
  } catch (err) {
    lock?.release();
    throw err;
  }
  try {
    if (file !== undefined) restrictDatabaseFiles(file);
    await store.migrate();
    await checkKeyring(store, keyring);
  } catch (err) {
    await store.close();
    lock?.release();
    throw err;
  }
  const changes = (await openChangeFeed(config, context)) ?? options.localChangeFeed ?? new InProcessChangeFeed();
  const usage = new UsageRecorder(store, clock, {
    peers: changes,
    idleCheckTimeoutMs: config.idleCheckTimeoutMs,
    offlineGraceMs: config.offlineGraceMs,
  });
  const cache = new SecretCache({
    store,
    keyring,
    clock,
    options: { ...DEFAULT_CACHE_OPTIONS, maxStalenessMs: config.cacheMaxStalenessMs, offlineGraceMs: config.offlineGraceMs },
    syncedAtMs: () => changes.syncedAtMs(),
    onUnreadable: ({ workspaceId, secretId }) => {
      if (options.logger) {
        options.logger.error(
          { workspace_id: workspaceId, secret_id: secretId },
          'stored secret does not open under the configured master keys; it is left out of verification',
        );
      }
    },
  });
  const workspaces = new WorkspaceService({ store, clock, defaultRateLimit: config.defaultRateLimit });
  // The store emits each secret change once it has committed; the feed carries it to the other processes.
  store.onChange((change) => void changes.publish(change).catch(() => undefined));
  const secrets = new SecretsService({
    store,
    keyring,
    cache,
    usage,
    clock,
    maxLiveSecrets: config.maxLiveSecrets,
    idempotencyWindowSeconds: config.idempotencyWindowSeconds,
  });
  const audit = new AuditService(store);
  const rollout = new RolloutDeliverer({
    store,
    keyring,
    clock,
    command: config.rolloutCommand === undefined ? undefined : new SpawnRolloutCommand(config.rolloutCommand),
    timeoutMs: config.rolloutTimeoutMs,
    retryBaseMs: config.webhookRetryBaseMs,
    onRun: (run) => {
      // Ids, exit status and duration only: the command's output is never read.
      if (!options.logger) return;
      options.logger[run.outcome === 'delivered' ? 'info' : 'warn'](
        {
          workspace_id: run.workspaceId,
          rotation_id: run.rotationId,
          attempt: run.attempt,
          outcome: run.outcome,
          exit_code: run.exitCode,
          signal: run.signal,
          timed_out: run.timedOut,
          duration_ms: run.durationMs,
        },
        'rollout command run',
      );
    },
  });
  const rotations = new RotationsService({
    store,
    rollout,
    secrets,
    keyring,
    cache,
    usage,
    clock,
    maxLiveSecrets: config.maxLiveSecrets,
    idempotencyWindowSeconds: config.idempotencyWindowSeconds,
  });
  const rotationPolicy = new RotationPolicyService({ store, rotations, rollout, clock });
  const sweeper = new ExpirySweeper({
    secrets,
    store,
    clock,
    rotations,
    policy: rotationPolicy,
    rollout,
    expiryWarningSeconds: config.expiryWarningSeconds,
  });
  const addresses = new WebhookAddressPolicy(config.webhookAllowPrivate, dnsResolver);
  const webhooks = new WebhooksService({ store, keyring, clock, addresses });
  const dispatcher = new WebhookDispatcher({
    store,
    keyring,
    clock,
    sender: new HttpWebhookSender((address) => addresses.allows(address)),
    retryBaseMs: config.webhookRetryBaseMs,
    onError: (err) => {
      if (options.logger) {
        options.logger.error(
          { err: { type: (err as Error)?.name, message: (err as Error)?.message } },
          'webhook delivery failed',
        );
      }
    },
  });
  const census = new SecretCensus(store, usage, clock);
  const readiness = new Readiness(store, cache, DEFAULT_CACHE_OPTIONS.maxWorkspaces);
  const jwtPolicy = { skewSeconds: JWT_CLOCK_SKEW_SECONDS, maxAgeSeconds: config.jwtMaxAgeSeconds };
  const verifier = new Verifier({ cache, usage, clock, jwtPolicy });
  const diagnoser = new Diagnoser({ store, keyring, cache, clock, jwtPolicy });
  return {
    store,
    keyring,
    clock,
    workspaces,
    secrets,
    rotations,
    rotationPolicy,
    rollout,
    audit,
    webhooks,
    dispatcher,
    sweeper,
    cache,
    usage,
    verifier,
    diagnoser,
    changes,
    census,
    readiness,
    lock,
    rateLimiter: shared.rateLimiter ?? new MemoryRateLimiter(),
    verifyLimiter: { clients: new MemoryRateLimiter(), apps: new MemoryRateLimiter() },
    verifyRateLimit: config.verifyRateLimit,
    verifyClientRateLimit: config.verifyClientRateLimit,
    clientAddresses: new ClientAddresses(config.trustedProxies),
    diagnoseRateLimit: config.diagnoseRateLimit,
  };
}

export async function createRuntime(config: Config, options: RuntimeOptions): Promise<Runtime> {
  const context = storageContext(options, options.clock ?? systemClock);
  const rateLimiter = await openRateLimiter(config, context);
  let services: Services;
  try {
    services = await createServices(
      config,
      { ...options, serverLock: options.localChangeFeed === undefined },
      { context, ...(rateLimiter ? { rateLimiter } : {}) },
    );
  } catch (err) {
    await rateLimiter?.close().catch(() => undefined);
    throw err;
  }
  try {
    // First: a node whose change feed does not work refuses before it creates (and prints) anything.
    const { cache, usage } = services;
    await services.changes.start({
      apply: (change) => cache.applyChange(change),
      resync: () => cache.invalidateAll(),
      unflushedLastVerified: (secretId) => usage.pendingLastVerified(secretId),
    });
    const notice = options.notice ?? (() => undefined);
    const boot = await services.workspaces.bootstrap(config.bootstrapToken);
    if (boot) {
      notice(`created workspace "${boot.workspace.name}" with app_id ${boot.workspace.appId}`);
      if (boot.generated) notice(`created an all-scopes access token (shown only now): ${boot.token}`);
      else notice('created an all-scopes access token from SECURE_MODE_BOOTSTRAP_TOKEN');
    }
  } catch (err) {
    await releaseServices(services);
    throw err;
  }
  const app = await buildApp(services, {
    logger: options.logger,
    bodyLimit: config.bodyLimit,
    limits: config.limits,
    metricsToken: config.metricsToken,
    consoleDir: config.consoleDir,
  });
  services.usage.start(config.usageFlushMs);
  services.sweeper.start(config.sweepIntervalMs, (err) =>
    app.log.error({ err: { type: (err as Error)?.name, message: (err as Error)?.message } }, 'sweep failed'),
  );
  // Off the request path: a slow or failing receiver never holds up the API or verification.
  services.dispatcher.start();
  // In the background: /readyz answers 503 until it is done, and retries it when it failed.
  void services.readiness.warm().catch(() => undefined);
  let closed = false;
  return {
    ...services,
    app,
    async close() {
      if (closed) return;
      closed = true;
      // Closing stops accepting and closes idle keep-alive connections at once, then waits for requests in flight; a
      // client still sending its body would hold it until its own timeouts, so whatever is open at the deadline is cut.
      const deadline = setTimeout(() => app.server.closeAllConnections(), config.shutdownTimeoutMs);
      try {
        await app.close();
      } finally {
        clearTimeout(deadline);
      }
      await services.sweeper.stop();
      await services.dispatcher.stop();
      await services.rollout.stop();
      await services.usage.stop().catch(() => undefined);
      await releaseServices(services);
    },
  };
}

async function releaseServices(services: Services): Promise<void> {
  await services.rateLimiter.close().catch(() => undefined);
  await services.verifyLimiter.clients.close();
  await services.verifyLimiter.apps.close();
  await services.changes.close().catch(() => undefined);
  await services.store.close();
  services.lock?.release();
}
