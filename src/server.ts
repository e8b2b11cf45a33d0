import { loadConfig } from './config.js';
import { ConfigError } from './errors.js';
import { createLogger } from './logger.js';
import { createRuntime } from './runtime.js';

/** Starts the service and only listens; everything else is built in runtime.ts and http/app.ts. */
async function main(): Promise<void> {
  const config = loadConfig();
  const logger = createLogger(config.logLevel);
  // Notices go to stderr as plain lines, not the JSON log: the bootstrap token is shown once to a person, never logged.
  const runtime = await createRuntime(config, { logger, notice: (m) => process.stderr.write(`secure-mode: ${m}\n`) });
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
  const address = runtime.app.server.address();
  const port = typeof address === 'object' && address ? address.port : config.port;
  process.stderr.write(`secure-mode: listening on http://${config.host}:${port} (${config.database.kind})\n`);
}

main().catch((err: unknown) => {
  const message = err instanceof ConfigError ? err.message : `could not start: ${(err as Error)?.message ?? String(err)}`;
  process.stderr.write(`secure-mode: ${message}\n`);
  process.exit(1);
});
