import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { loadConfig, type Config } from '../../src/config.js';
import type { Clock } from '../../src/domain/clock.js';
import { SCOPES } from '../../src/domain/scopes.js';
import { createLogger } from '../../src/logger.js';
import { createRuntime, type Runtime } from '../../src/runtime.js';
import type { Workspace } from '../../src/domain/model.js';
import { recordArtifact, recordDatabaseFiles, recordRequestCredentials, recordSensitive } from './leaks.js';
import { createTestDatabase, testBackend, testDatabaseUrl } from './postgres.js';

/** Everything the service logged during a test, as text, for leak checks. */
export class LogCapture extends Writable {
  readonly chunks: string[] = [];
  override _write(chunk: Buffer, _enc: string, done: () => void): void {
    this.chunks.push(chunk.toString('utf8'));
    done();
  }
  get text(): string {
    return this.chunks.join('');
  }
}

export interface TestApp {
  url: string;
  runtime: Runtime;
  dir: string;
  workspace: Workspace;
  /** An all-scopes token of `workspace`. */
  token: string;
  logs: LogCapture;
  /** A token of the same workspace with exactly these scopes. */
  tokenWith(scopes: string[]): Promise<string>;
  /** A second workspace and an all-scopes token for it. */
  otherWorkspace(): Promise<{ workspace: Workspace; token: string }>;
  close(): Promise<void>;
}

export interface TestAppOptions {
  env?: Record<string, string>;
  clock?: Clock;
  /** Reuse a directory (e.g. to restart on the same database); it is then not deleted on close. */
  dir?: string;
}

/**
 * The database a test app in `dir` uses. SQLite: a file in the directory. PostgreSQL: a fresh database whose name
 * (and master key) are kept in the directory, so an app restarted on the same directory finds the same data.
 * `drop` is set when this call created a database that the app's close() must remove.
 */
async function databaseFor(dir: string, ownDir: boolean): Promise<{ env: Record<string, string>; drop?: () => Promise<void> }> {
  if (testBackend() === 'sqlite') return { env: { SECURE_MODE_DATABASE_URL: `sqlite:${join(dir, 'secure-mode.db')}` } };
  const nameFile = join(dir, 'postgres-database');
  const keyFile = join(dir, 'master-key');
  if (existsSync(nameFile)) {
    return {
      env: {
        SECURE_MODE_DATABASE_URL: testDatabaseUrl(readFileSync(nameFile, 'utf8')),
        SECURE_MODE_MASTER_KEY: readFileSync(keyFile, 'utf8'),
      },
    };
  }
  const database = await createTestDatabase();
  const key = randomBytes(32).toString('base64');
  writeFileSync(nameFile, database.name);
  writeFileSync(keyFile, key, { mode: 0o600 });
  // A directory the test owns goes away on close, and its database with it; a given directory may be restarted on,
  // so its database stays until the test process ends (abandoned test databases are swept by the next run).
  return {
    env: { SECURE_MODE_DATABASE_URL: database.url, SECURE_MODE_MASTER_KEY: key },
    ...(ownDir ? { drop: database.drop } : {}),
  };
}

/**
 * A real listening server on 127.0.0.1 with its own temporary database, in this process: SQLite, or PostgreSQL
 * when SECURE_MODE_TEST_BACKEND=postgres (a database created for this app and dropped on close).
 */
export async function startTestApp(options: TestAppOptions = {}): Promise<TestApp> {
  const ownDir = options.dir === undefined;
  const dir = options.dir ?? mkdtempSync(join(tmpdir(), 'secure-mode-test-'));
  const logs = new LogCapture();
  const database = options.env?.SECURE_MODE_DATABASE_URL === undefined ? await databaseFor(dir, ownDir) : { env: {} };
  const config: Config = loadConfig({
    ...database.env,
    SECURE_MODE_LOG_LEVEL: 'info',
    ...options.env,
  });
  const runtime = await createRuntime(config, {
    logger: createLogger(config.logLevel, logs),
    ...(options.clock ? { clock: options.clock } : {}),
  });
  await runtime.app.listen({ host: '127.0.0.1', port: 0 });
  const address = runtime.app.server.address();
  if (!address || typeof address === 'string') throw new Error('no address');
  const workspaces = await runtime.workspaces.listWorkspaces();
  const workspace = workspaces[0]!;
  const { value: token } = await runtime.workspaces.createToken(workspace, [...SCOPES], 'test');
  recordSensitive('token', token);
  const url = `http://127.0.0.1:${address.port}`;
  return {
    url,
    runtime,
    dir,
    workspace,
    token,
    logs,
    async tokenWith(scopes) {
      const { value } = await runtime.workspaces.createToken(workspace, scopes, 'scoped');
      recordSensitive('token', value);
      return value;
    },
    async otherWorkspace() {
      const other = await runtime.workspaces.createWorkspace({ name: 'Other' });
      const { value } = await runtime.workspaces.createToken(other, [...SCOPES], 'other');
      recordSensitive('token', value);
      return { workspace: other, token: value };
    },
    async close() {
      // The leak scan reads what this app exposed and kept: its metrics, its logs and its database files.
      const metrics = await fetch(`${url}/metrics`).then(
        (r) => r.text(),
        () => '',
      );
      recordArtifact('metrics.txt', metrics);
      await runtime.close();
      recordArtifact('log.jsonl', logs.text);
      if (config.database.kind === 'sqlite') recordDatabaseFiles(config.database.filename);
      await database.drop?.();
      if (ownDir) rmSync(dir, { recursive: true, force: true });
    },
  };
}

export interface ApiResponse<T = any> {
  status: number;
  headers: Headers;
  body: T;
  text: string;
}

/** fetch with a bearer token and JSON in and out. */
export async function api<T = any>(
  app: { url: string; token?: string },
  method: string,
  path: string,
  options: { body?: unknown; rawBody?: string | Buffer; token?: string | null; headers?: Record<string, string> } = {},
): Promise<ApiResponse<T>> {
  const headers: Record<string, string> = { ...options.headers };
  const token = options.token === undefined ? app.token : options.token;
  if (token) headers.authorization = `Bearer ${token}`;
  let body: string | Buffer | undefined;
  recordRequestCredentials(options.body);
  if (options.rawBody !== undefined) body = options.rawBody;
  else if (options.body !== undefined) {
    body = JSON.stringify(options.body);
    headers['content-type'] ??= 'application/json';
  }
  const res = await fetch(`${app.url}${path}`, { method, headers, ...(body !== undefined ? { body } : {}) });
  const text = await res.text();
  let parsed: unknown = undefined;
  try {
    parsed = text ? JSON.parse(text) : undefined;
  } catch {
    parsed = undefined;
  }
  // A created secret (or its idempotent replay) is the one response allowed to carry material; all others are scanned.
  const material = (parsed as { secret?: unknown } | undefined)?.secret;
  if (typeof material === 'string') recordSensitive('secret', material);
  else recordArtifact(`response-${res.status}.json`, text);
  return { status: res.status, headers: res.headers, body: parsed as T, text };
}
