import { isIP } from 'node:net';
import { ConfigError } from './errors.js';
import { DEFAULT_IDEMPOTENCY_WINDOW_SECONDS } from './domain/idempotency.js';
import { DEFAULT_MAX_LIVE_SECRETS } from './domain/secrets.js';
import { DEFAULT_RATE_LIMIT } from './domain/workspaces.js';
import { DEFAULT_CACHE_OPTIONS } from './domain/secret-cache.js';
import { DEFAULT_IDLE_CHECK_TIMEOUT_MS } from './domain/usage.js';
import { DEFAULT_ROLLOUT_TIMEOUT_MS } from './domain/rollout.js';
import { DEFAULT_RETRY_BASE_MS } from './domain/retry.js';

export type DatabaseLocation = { kind: 'sqlite'; filename: string } | { kind: 'postgres'; url: string };

export interface Config {
  host: string;
  port: number;
  database: DatabaseLocation;
  /** PostgreSQL: a direct connection for LISTEN, when `database` goes through a pooler. */
  databaseListenUrl: string | undefined;
  masterKey: string | undefined;
  previousMasterKeys: string[];
  bootstrapToken: string | undefined;
  logLevel: string;
  maxLiveSecrets: number;
  defaultRateLimit: number;
  bodyLimit: number;
  usageFlushMs: number;
  /** How long a guarded delete waits for the other nodes' unflushed last-verified times. */
  idleCheckTimeoutMs: number;
  /** How long an Idempotency-Key replays its create (and the encrypted secret is kept for that). */
  idempotencyWindowSeconds: number;
  /** How often expired secrets are retired and expired idempotency records purged. */
  sweepIntervalMs: number;
  redisUrl: string | undefined;
  /** Per app_id, per 10-second window, on the public verification API: the backstop behind the per-client limit. */
  verifyRateLimit: number;
  /** Per client address, per 10-second window, on the public verification API; a failure counts twice. */
  verifyClientRateLimit: number;
  /** Addresses and CIDRs of proxies whose X-Forwarded-For names the client; empty: the socket's address is the client. */
  trustedProxies: string[];
  /** Diagnose calls per workspace per 10-second window. */
  diagnoseRateLimit: number;
  /** When set, a JWT must carry exp and live at most this many seconds (exp - iat). */
  jwtMaxAgeSeconds: number | undefined;
  /** When set, GET /metrics requires this bearer token. */
  metricsToken: string | undefined;
  limits: HttpLimits;
  /** Prefix of the rate-limit keys in Redis, so several deployments can share one Redis. */
  redisPrefix: string;
  /** Processes serving on one port (node:cluster); 1 runs the server in this process. */
  workers: number;
  /** A cached workspace older than this is reloaded before use, whatever the change feed says. */
  cacheMaxStalenessMs: number;
  /**
   * How long a node may serve verifications from its cache without proof that it has seen every change (its change
   * feed silent, PostgreSQL unreachable). Past it, verification answers 503: the bound on revocation in every case.
   */
  offlineGraceMs: number;
  pgPoolSize: number;
  pgConnectTimeoutMs: number;
  /** A statement running longer is cancelled (503): a request never hangs on a dead connection. */
  pgQueryTimeoutMs: number;
  /** On SIGTERM: how long in-flight requests may take before every connection still open is cut. */
  shutdownTimeoutMs: number;
  /** Where the built web console is served from; the build writes dist/console/ by default. */
  consoleDir: string | undefined;
  /** Development and tests only: webhook endpoints may use http and private or loopback addresses. */
  webhookAllowPrivate: boolean;
  /** The first webhook retry waits this long, each next one twice as long. */
  webhookRetryBaseMs: number;
  /** secret.expiring is raised this many seconds before a secret's expires_at. */
  expiryWarningSeconds: number;
  /** The operator's command that rolls a delivering rotation's new secret out; unset: deliver is refused. */
  rolloutCommand: string | undefined;
  rolloutTimeoutMs: number;
}

/** What one client may hold of the server: bounds on request size and on how long a slow client keeps a socket. */
export interface HttpLimits {
  maxHeaderBytes: number;
  maxUrlLength: number;
  headersTimeoutMs: number;
  requestTimeoutMs: number;
  keepAliveTimeoutMs: number;
}

/**
 * Generous: a Messenger verifies once per page load, so 20,000 per app_id per 10 seconds (2,000/s on each node) is far above a real site and
 * still stops one app_id from taking the whole node.
 */
export const DEFAULT_VERIFY_RATE_LIMIT = 20_000;

/** A client verifying once per page load stays far below 200/s; a single address above it is a script. */
export const DEFAULT_VERIFY_CLIENT_RATE_LIMIT = 2000;

/** A diagnosis costs tens of HMACs: 2 per second per workspace is plenty for an admin and bounds its CPU. */
export const DEFAULT_DIAGNOSE_RATE_LIMIT = 20;

type Env = Record<string, string | undefined>;

export interface ConfigVariable {
  name: string;
  /** The default, as the README shows it; integers also carry the number and their range. */
  shown: string;
  meaning: string;
  integer?: { default: number; min: number; max: number };
  /** An integer with no default: unset means off. */
  optionalInteger?: { min: number; max: number };
}

const int = (name: string, value: number, min: number, max: number, meaning: string, shown = String(value)): ConfigVariable => ({
  name,
  shown,
  meaning,
  integer: { default: value, min, max },
});

/** Every environment variable the server reads, once: loadConfig reads it, a test holds the README's table to it. */
export const CONFIG_VARIABLES: readonly ConfigVariable[] = [
  { name: 'HOST', shown: '`127.0.0.1`', meaning: 'address to listen on' },
  int('PORT', 4000, 0, 65535, 'port to listen on'),
  { name: 'SECURE_MODE_DATABASE_URL', shown: '`sqlite:./data/secure-mode.db`', meaning: '`sqlite:PATH` or `postgres://…`' },
  {
    name: 'SECURE_MODE_DATABASE_LISTEN_URL',
    shown: '`SECURE_MODE_DATABASE_URL`',
    meaning:
      'PostgreSQL: a direct connection for LISTEN when the main URL goes through a transaction-mode pooler (see docs/postgres.md)',
  },
  {
    name: 'SECURE_MODE_MASTER_KEY',
    shown: '`master.key` next to the SQLite file',
    meaning: '32 bytes, base64 or hex (`openssl rand -base64 32`); required with PostgreSQL',
  },
  { name: 'SECURE_MODE_PREVIOUS_MASTER_KEYS', shown: '—', meaning: 'comma-separated older keys, while re-wrapping' },
  {
    name: 'SECURE_MODE_BOOTSTRAP_TOKEN',
    shown: 'generated',
    meaning: "the first start's all-scopes token (at least 20 characters)",
  },
  int('SECURE_MODE_MAX_LIVE_SECRETS', DEFAULT_MAX_LIVE_SECRETS, 1, 100, 'live secrets per workspace'),
  int('SECURE_MODE_RATE_LIMIT', DEFAULT_RATE_LIMIT, 1, 10_000_000, 'admin requests per workspace per 10 s (new workspaces)'),
  int(
    'SECURE_MODE_VERIFY_RATE_LIMIT',
    DEFAULT_VERIFY_RATE_LIMIT,
    1,
    10_000_000,
    'verifications per `app_id` per 10 s, per node: the backstop over all clients',
  ),
  int(
    'SECURE_MODE_VERIFY_CLIENT_RATE_LIMIT',
    DEFAULT_VERIFY_CLIENT_RATE_LIMIT,
    2,
    10_000_000,
    'verifications per client address per 10 s, per node; a failure counts twice',
  ),
  {
    name: 'SECURE_MODE_TRUSTED_PROXIES',
    shown: '—',
    meaning: 'comma-separated addresses or CIDRs whose `X-Forwarded-For` names the client',
  },
  int('SECURE_MODE_DIAGNOSE_RATE_LIMIT', DEFAULT_DIAGNOSE_RATE_LIMIT, 1, 1_000_000, 'diagnoses per workspace per 10 s'),
  {
    name: 'SECURE_MODE_JWT_MAX_AGE',
    shown: '—',
    meaning: 'seconds; when set, a JWT needs `exp` and at most this `exp − iat`',
    optionalInteger: { min: 1, max: 31_536_000 },
  },
  int('SECURE_MODE_IDEMPOTENCY_WINDOW', DEFAULT_IDEMPOTENCY_WINDOW_SECONDS, 1, 86_400, 'seconds a create can be replayed'),
  { name: 'SECURE_MODE_REDIS_URL', shown: '—', meaning: 'share admin rate limits across nodes' },
  { name: 'SECURE_MODE_REDIS_PREFIX', shown: '`secure-mode:rl:`', meaning: 'prefix of the rate-limit keys in Redis' },
  int('SECURE_MODE_WORKERS', 1, 1, 64, 'worker processes'),
  int(
    'SECURE_MODE_OFFLINE_GRACE_MS',
    DEFAULT_CACHE_OPTIONS.offlineGraceMs,
    250,
    3_600_000,
    'how long a node verifies without proof it has seen every change (see docs/postgres.md)',
  ),
  int(
    'SECURE_MODE_CACHE_MAX_STALENESS_MS',
    DEFAULT_CACHE_OPTIONS.maxStalenessMs,
    100,
    3_600_000,
    'a cached workspace older than this is reloaded',
  ),
  {
    name: 'SECURE_MODE_LOG_LEVEL',
    shown: '`info`',
    meaning:
      'pino level; JSON logs with credentials redacted; a line per request, except successful verifications, summarised every minute (each one at `debug`)',
  },
  { name: 'SECURE_MODE_METRICS_TOKEN', shown: '—', meaning: 'require this bearer token on `/metrics` (at least 20 characters)' },
  // Secret create bodies are tiny; 64 KiB leaves room for long names in any script while refusing floods.
  int('SECURE_MODE_BODY_LIMIT', 64 * 1024, 1024, 10 * 1024 * 1024, 'request body limit, bytes', '65536 (64 KiB)'),
  // Bearer tokens and Intercom headers are short; 16 KiB is Node's own default and curl's limit.
  int('SECURE_MODE_MAX_HEADER_BYTES', 16 * 1024, 1024, 1024 * 1024, 'request header limit, bytes', '16384 (16 KiB)'),
  int('SECURE_MODE_MAX_URL_LENGTH', 2048, 256, 64 * 1024, 'request URL limit, characters'),
  // A client that has not sent its headers in 10 s is not a browser or an SDK.
  int('SECURE_MODE_HEADERS_TIMEOUT_MS', 10_000, 100, 600_000, 'slow-client limit: headers must arrive within it'),
  int('SECURE_MODE_REQUEST_TIMEOUT_MS', 30_000, 100, 600_000, 'slow-client limit: the whole request must arrive within it'),
  int('SECURE_MODE_KEEP_ALIVE_TIMEOUT_MS', 72_000, 100, 600_000, 'idle keep-alive connections close after it'),
  int('SECURE_MODE_USAGE_FLUSH_MS', 2000, 10, 60_000, 'usage counters are written in batches this often'),
  int(
    'SECURE_MODE_IDLE_CHECK_TIMEOUT_MS',
    DEFAULT_IDLE_CHECK_TIMEOUT_MS,
    50,
    60_000,
    'how long `DELETE …?if_idle_for=` waits for every other node to report its unflushed use (503 after; see docs/rotation.md)',
  ),
  int(
    'SECURE_MODE_SWEEP_INTERVAL_MS',
    1000,
    10,
    60_000,
    'expired secrets and Idempotency-Key records are swept, and rotations advanced, this often',
  ),
  int('SECURE_MODE_PG_POOL_SIZE', 10, 1, 1000, 'PostgreSQL connections per node'),
  int('SECURE_MODE_PG_CONNECT_TIMEOUT_MS', 2000, 100, 60_000, 'PostgreSQL connect timeout'),
  int(
    'SECURE_MODE_PG_QUERY_TIMEOUT_MS',
    5000,
    100,
    600_000,
    'every PostgreSQL call (connecting, its statements, a retry) answers within it, else 503',
  ),
  int(
    'SECURE_MODE_SHUTDOWN_TIMEOUT_MS',
    10_000,
    100,
    600_000,
    'on SIGTERM, requests still running (or still arriving) after it are cut; then usage is flushed and the process exits',
  ),
  { name: 'SECURE_MODE_CONSOLE_DIR', shown: '`dist/console/`', meaning: 'where the built web console is served from' },
  {
    name: 'SECURE_MODE_WEBHOOK_ALLOW_PRIVATE',
    shown: '`false`',
    meaning:
      '`true` lets webhook endpoints use `http` and private or loopback addresses: development and tests only (see docs/events.md)',
  },
  int(
    'SECURE_MODE_WEBHOOK_RETRY_BASE_MS',
    DEFAULT_RETRY_BASE_MS,
    10,
    3_600_000,
    'the first retry of a webhook delivery or a rollout run waits this long, each next one twice as long (at most an hour), for 24 hours',
  ),
  int(
    'SECURE_MODE_EXPIRY_WARNING',
    7 * 24 * 3600,
    1,
    31_536_000,
    "seconds before a secret's `expires_at` that `secret.expiring` is raised, once",
    '604800 (7 days)',
  ),
  {
    name: 'SECURE_MODE_ROLLOUT_COMMAND',
    shown: '—',
    meaning:
      "run by `/bin/sh -c` with a delivering rotation's new secret as JSON on standard input, to roll it out (see docs/rotation.md); never settable through the API",
  },
  int(
    'SECURE_MODE_ROLLOUT_TIMEOUT_MS',
    DEFAULT_ROLLOUT_TIMEOUT_MS,
    100,
    3_600_000,
    'a run of the rollout command still going after it is killed and retried',
  ),
];

const VARIABLES = new Map(CONFIG_VARIABLES.map((v) => [v.name, v]));

function wholeNumber(name: string, raw: string, min: number, max: number): number {
  if (!/^[0-9]+$/.test(raw) || Number(raw) < min || Number(raw) > max) {
    throw new ConfigError(`${name} must be a whole number from ${min} to ${max} (got "${raw}")`);
  }
  return Number(raw);
}

function integer(env: Env, name: string): number {
  const range = VARIABLES.get(name)?.integer;
  if (!range) throw new Error(`${name} is not an integer variable of CONFIG_VARIABLES`);
  const raw = env[name];
  return raw === undefined || raw === '' ? range.default : wholeNumber(name, raw, range.min, range.max);
}

export function parseDatabaseUrl(url: string): DatabaseLocation {
  if (url.startsWith('sqlite:')) {
    const filename = url.slice('sqlite:'.length).replace(/^\/\//, '');
    if (filename === '')
      throw new ConfigError('SECURE_MODE_DATABASE_URL: sqlite: needs a file path, e.g. sqlite:./data/secure-mode.db');
    return { kind: 'sqlite', filename };
  }
  if (url.startsWith('postgres://') || url.startsWith('postgresql://')) return { kind: 'postgres', url };
  throw new ConfigError('SECURE_MODE_DATABASE_URL must start with sqlite: or postgres:// (e.g. sqlite:./data/secure-mode.db)');
}

function trustedProxies(env: Env): string[] {
  const entries = (env.SECURE_MODE_TRUSTED_PROXIES ?? '')
    .split(',')
    .map((e) => e.trim())
    .filter(Boolean);
  for (const entry of entries) {
    const [address = '', prefix, extra] = entry.split('/');
    const family = isIP(address);
    const bits = family === 6 ? 128 : 32;
    const validPrefix = prefix === undefined || (/^[0-9]{1,3}$/.test(prefix) && Number(prefix) <= bits);
    if (family === 0 || !validPrefix || extra !== undefined) {
      throw new ConfigError(`SECURE_MODE_TRUSTED_PROXIES must list IP addresses or CIDRs, comma-separated (got "${entry}")`);
    }
  }
  return entries;
}

function optionalInteger(env: Env, name: string): number | undefined {
  const range = VARIABLES.get(name)?.optionalInteger;
  if (!range) throw new Error(`${name} is not an optional integer variable of CONFIG_VARIABLES`);
  const raw = env[name];
  return raw === undefined || raw === '' ? undefined : wholeNumber(name, raw, range.min, range.max);
}

function flag(env: Env, name: string): boolean {
  const raw = env[name];
  if (raw === undefined || raw === '' || raw === 'false') return false;
  if (raw === 'true') return true;
  throw new ConfigError(`${name} must be true or false (got "${raw}")`);
}

function metricsToken(env: Env): string | undefined {
  const token = env.SECURE_MODE_METRICS_TOKEN || undefined;
  if (token !== undefined && (token.length < 20 || /\s/.test(token))) {
    throw new ConfigError('SECURE_MODE_METRICS_TOKEN must be at least 20 characters without spaces');
  }
  return token;
}

/** Environment → typed config. Throws ConfigError with one readable line; never echoes key material. */
export function loadConfig(env: Env = process.env): Config {
  const bootstrapToken = env.SECURE_MODE_BOOTSTRAP_TOKEN || undefined;
  if (bootstrapToken !== undefined && (bootstrapToken.length < 20 || /\s/.test(bootstrapToken))) {
    throw new ConfigError('SECURE_MODE_BOOTSTRAP_TOKEN must be at least 20 characters without spaces');
  }
  const database = parseDatabaseUrl(env.SECURE_MODE_DATABASE_URL || 'sqlite:./data/secure-mode.db');
  const databaseListenUrl = env.SECURE_MODE_DATABASE_LISTEN_URL || undefined;
  if (
    databaseListenUrl !== undefined &&
    (database.kind !== 'postgres' || parseDatabaseUrl(databaseListenUrl).kind !== 'postgres')
  ) {
    throw new ConfigError(
      'SECURE_MODE_DATABASE_LISTEN_URL must be a postgres:// URL, and is used only with a PostgreSQL SECURE_MODE_DATABASE_URL',
    );
  }
  const workers = integer(env, 'SECURE_MODE_WORKERS');
  if (workers > 1 && database.kind === 'sqlite' && database.filename === ':memory:') {
    throw new ConfigError(
      'SECURE_MODE_WORKERS needs a database file or PostgreSQL: each worker would get its own in-memory database',
    );
  }
  const config: Config = {
    host: env.HOST || '127.0.0.1',
    port: integer(env, 'PORT'),
    database,
    databaseListenUrl,
    masterKey: env.SECURE_MODE_MASTER_KEY || undefined,
    previousMasterKeys: (env.SECURE_MODE_PREVIOUS_MASTER_KEYS ?? '')
      .split(',')
      .map((k) => k.trim())
      .filter(Boolean),
    bootstrapToken,
    logLevel: env.SECURE_MODE_LOG_LEVEL || 'info',
    maxLiveSecrets: integer(env, 'SECURE_MODE_MAX_LIVE_SECRETS'),
    defaultRateLimit: integer(env, 'SECURE_MODE_RATE_LIMIT'),
    bodyLimit: integer(env, 'SECURE_MODE_BODY_LIMIT'),
    usageFlushMs: integer(env, 'SECURE_MODE_USAGE_FLUSH_MS'),
    idleCheckTimeoutMs: integer(env, 'SECURE_MODE_IDLE_CHECK_TIMEOUT_MS'),
    idempotencyWindowSeconds: integer(env, 'SECURE_MODE_IDEMPOTENCY_WINDOW'),
    sweepIntervalMs: integer(env, 'SECURE_MODE_SWEEP_INTERVAL_MS'),
    redisUrl: env.SECURE_MODE_REDIS_URL || undefined,
    verifyRateLimit: integer(env, 'SECURE_MODE_VERIFY_RATE_LIMIT'),
    verifyClientRateLimit: integer(env, 'SECURE_MODE_VERIFY_CLIENT_RATE_LIMIT'),
    trustedProxies: trustedProxies(env),
    diagnoseRateLimit: integer(env, 'SECURE_MODE_DIAGNOSE_RATE_LIMIT'),
    jwtMaxAgeSeconds: optionalInteger(env, 'SECURE_MODE_JWT_MAX_AGE'),
    metricsToken: metricsToken(env),
    limits: {
      maxHeaderBytes: integer(env, 'SECURE_MODE_MAX_HEADER_BYTES'),
      maxUrlLength: integer(env, 'SECURE_MODE_MAX_URL_LENGTH'),
      headersTimeoutMs: integer(env, 'SECURE_MODE_HEADERS_TIMEOUT_MS'),
      requestTimeoutMs: integer(env, 'SECURE_MODE_REQUEST_TIMEOUT_MS'),
      keepAliveTimeoutMs: integer(env, 'SECURE_MODE_KEEP_ALIVE_TIMEOUT_MS'),
    },
    redisPrefix: env.SECURE_MODE_REDIS_PREFIX || 'secure-mode:rl:',
    workers,
    cacheMaxStalenessMs: integer(env, 'SECURE_MODE_CACHE_MAX_STALENESS_MS'),
    offlineGraceMs: integer(env, 'SECURE_MODE_OFFLINE_GRACE_MS'),
    pgPoolSize: integer(env, 'SECURE_MODE_PG_POOL_SIZE'),
    pgConnectTimeoutMs: integer(env, 'SECURE_MODE_PG_CONNECT_TIMEOUT_MS'),
    pgQueryTimeoutMs: integer(env, 'SECURE_MODE_PG_QUERY_TIMEOUT_MS'),
    shutdownTimeoutMs: integer(env, 'SECURE_MODE_SHUTDOWN_TIMEOUT_MS'),
    consoleDir: env.SECURE_MODE_CONSOLE_DIR || undefined,
    webhookAllowPrivate: flag(env, 'SECURE_MODE_WEBHOOK_ALLOW_PRIVATE'),
    webhookRetryBaseMs: integer(env, 'SECURE_MODE_WEBHOOK_RETRY_BASE_MS'),
    expiryWarningSeconds: integer(env, 'SECURE_MODE_EXPIRY_WARNING'),
    rolloutCommand: env.SECURE_MODE_ROLLOUT_COMMAND?.trim() || undefined,
    rolloutTimeoutMs: integer(env, 'SECURE_MODE_ROLLOUT_TIMEOUT_MS'),
  };
  // Node refuses a headers timeout longer than the whole-request timeout.
  if (config.limits.headersTimeoutMs > config.limits.requestTimeoutMs) {
    throw new ConfigError('SECURE_MODE_HEADERS_TIMEOUT_MS must not exceed SECURE_MODE_REQUEST_TIMEOUT_MS');
  }
  return config;
}

/** The embedded default's database file; undefined for PostgreSQL and for an in-memory database. */
export function sqliteFile(config: Config): string | undefined {
  return config.database.kind === 'sqlite' && config.database.filename !== ':memory:' ? config.database.filename : undefined;
}

/** What the start-up line adds about settings an operator must not miss (a development-only relaxation). */
export function startupWarnings(config: Config): string {
  return config.webhookAllowPrivate
    ? '; SECURE_MODE_WEBHOOK_ALLOW_PRIVATE is on: webhooks may use http and reach private and loopback addresses (development only)'
    : '';
}
