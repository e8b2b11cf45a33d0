import { ConfigError } from './errors.js';
import { DEFAULT_MAX_LIVE_SECRETS } from './domain/secrets.js';
import { DEFAULT_RATE_LIMIT } from './domain/workspaces.js';

export type DatabaseLocation = { kind: 'sqlite'; filename: string } | { kind: 'postgres'; url: string };

export interface Config {
  host: string;
  port: number;
  database: DatabaseLocation;
  masterKey: string | undefined;
  previousMasterKeys: string[];
  bootstrapToken: string | undefined;
  logLevel: string;
  maxLiveSecrets: number;
  defaultRateLimit: number;
  bodyLimit: number;
  usageFlushMs: number;
  redisUrl: string | undefined;
  /** Where the built web console is served from; the build writes dist/console/ by default. */
  consoleDir: string | undefined;
}

/** Secret create bodies are tiny; 64 KiB leaves room for long names in any script while refusing floods. */
export const DEFAULT_BODY_LIMIT = 64 * 1024;

type Env = Record<string, string | undefined>;

function integer(env: Env, name: string, fallback: number, min: number, max: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  if (!/^[0-9]+$/.test(raw) || Number(raw) < min || Number(raw) > max) {
    throw new ConfigError(`${name} must be a whole number from ${min} to ${max} (got "${raw}")`);
  }
  return Number(raw);
}

export function parseDatabaseUrl(url: string): DatabaseLocation {
  if (url.startsWith('sqlite:')) {
    const filename = url.slice('sqlite:'.length).replace(/^\/\//, '');
    if (filename === '') throw new ConfigError('SECURE_MODE_DATABASE_URL: sqlite: needs a file path, e.g. sqlite:./data/secure-mode.db');
    return { kind: 'sqlite', filename };
  }
  if (url.startsWith('postgres://') || url.startsWith('postgresql://')) return { kind: 'postgres', url };
  throw new ConfigError('SECURE_MODE_DATABASE_URL must start with sqlite: or postgres:// (e.g. sqlite:./data/secure-mode.db)');
}

/** Environment → typed config. Throws ConfigError with one readable line; never echoes key material. */
export function loadConfig(env: Env = process.env): Config {
  const bootstrapToken = env.SECURE_MODE_BOOTSTRAP_TOKEN || undefined;
  if (bootstrapToken !== undefined && (bootstrapToken.length < 20 || /\s/.test(bootstrapToken))) {
    throw new ConfigError('SECURE_MODE_BOOTSTRAP_TOKEN must be at least 20 characters without spaces');
  }
  return {
    host: env.HOST || '127.0.0.1',
    port: integer(env, 'PORT', 4000, 0, 65535),
    database: parseDatabaseUrl(env.SECURE_MODE_DATABASE_URL || 'sqlite:./data/secure-mode.db'),
    masterKey: env.SECURE_MODE_MASTER_KEY || undefined,
    previousMasterKeys: (env.SECURE_MODE_PREVIOUS_MASTER_KEYS ?? '').split(',').map((k) => k.trim()).filter(Boolean),
    bootstrapToken,
    logLevel: env.SECURE_MODE_LOG_LEVEL || 'info',
    maxLiveSecrets: integer(env, 'SECURE_MODE_MAX_LIVE_SECRETS', DEFAULT_MAX_LIVE_SECRETS, 1, 100),
    defaultRateLimit: integer(env, 'SECURE_MODE_RATE_LIMIT', DEFAULT_RATE_LIMIT, 1, 10_000_000),
    bodyLimit: integer(env, 'SECURE_MODE_BODY_LIMIT', DEFAULT_BODY_LIMIT, 1024, 10 * 1024 * 1024),
    usageFlushMs: integer(env, 'SECURE_MODE_USAGE_FLUSH_MS', 2000, 10, 60_000),
    redisUrl: env.SECURE_MODE_REDIS_URL || undefined,
    consoleDir: env.SECURE_MODE_CONSOLE_DIR || undefined,
  };
}
