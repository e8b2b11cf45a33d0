import type { Store } from './ports.js';
import type { SecretCache } from './secret-cache.js';

export interface ReadinessReport {
  database: boolean;
  cache: boolean;
}

/**
 * Ready = the database answers and the verification cache holds every workspace's live secrets (up to its bound),
 * so the first verifications after a start or a deploy do not all queue on the database at once.
 */
export class Readiness {
  private warmed = false;
  private warming: Promise<void> | undefined;

  constructor(
    private readonly store: Store,
    private readonly cache: SecretCache,
    private readonly maxWorkspaces: number,
  ) {}

  /** Loads the cache in the background; a failure leaves the node unready and the next check tries again. */
  warm(): Promise<void> {
    if (this.warmed) return Promise.resolve();
    this.warming ??= this.load().finally(() => {
      this.warming = undefined;
    });
    return this.warming;
  }

  private async load(): Promise<void> {
    const workspaces = await this.store.listWorkspaces();
    for (const workspace of workspaces.slice(-this.maxWorkspaces)) await this.cache.load(workspace.appId);
    this.warmed = true;
  }

  async check(): Promise<ReadinessReport> {
    const database = await this.store.ping().then(
      () => true,
      () => false,
    );
    const cache =
      database &&
      (await this.warm().then(
        () => true,
        () => false,
      ));
    return { database, cache };
  }
}
