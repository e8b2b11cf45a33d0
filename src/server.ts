import { IpcChangeFeed, isClusterWorker, runPrimary } from './cluster.js';
import { loadConfig, startupWarnings } from './config.js';
import { systemClock } from './domain/clock.js';
import { ConfigError } from './errors.js';
import { createLogger } from './logger.js';
import { createRuntime } from './runtime.js';

/** Starts the service and only listens; everything else is built in runtime.ts and http/app.ts. */
async function main(): Promise<void> {
  const config = loadConfig();
  // Notices go to stderr as plain lines, not the JSON log: the bootstrap token is shown once to a person, never logged.
  const notice = (m: string) => process.stderr.write(`secure-mode: ${m}\n`);
  const worker = isClusterWorker();
  if (config.workers > 1 && !worker) return runPrimary(config, notice);
  const logger = createLogger(config.logLevel);
  const runtime = await createRuntime(config, {
    logger,
    notice,
    ...(worker ? { localChangeFeed: new IpcChangeFeed(systemClock) } : {}),
  });
  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'shutting down');
    await runtime.close();
    process.exit(0);
  };
  process.on('SIGTERM', () => void stop('SIGTERM'));
  process.on('SIGINT', () => void stop('SIGINT'));
  await runtime.app.listen({ host: config.host, port: config.port });
  // In a cluster the primary announces the port once every worker listens.
  if (worker) return;
  const address = runtime.app.server.address();
  const port = typeof address === 'object' && address ? address.port : config.port;
  process.stderr.write(
    `secure-mode: listening on http://${config.host}:${port} (${config.database.kind}${startupWarnings(config)})\n`,
  );
}

main().catch((err: unknown) => {
  const message = err instanceof ConfigError ? err.message : `could not start: ${(err as Error)?.message ?? String(err)}`;
  process.stderr.write(`secure-mode: ${message}\n`);
  process.exit(1);
});
