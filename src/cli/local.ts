import { loadConfig } from '../config.js';
import { createServices, type Services } from '../runtime.js';

/** Commands that work on the local database (workspaces, tokens, keys) open it with the server's own config. */
export async function withLocalServices<T>(work: (services: Services) => Promise<T>): Promise<T> {
  const services = await createServices(loadConfig(), {
    logger: false,
    notice: (m) => process.stderr.write(`secure-mode: ${m}\n`),
  });
  try {
    return await work(services);
  } finally {
    await services.store.close();
  }
}
