import { type Clock, nowSeconds, systemClock } from './clock.js';
import { PLATFORMS, type SecretRecord } from './model.js';
import { type Store } from './ports.js';
import { supportsPlatform } from './secret-cache.js';
import type { UsageRecorder } from './usage.js';

export interface SecretCensusCounts {
  live: number;
  /** Live secrets that have never verified anything, counting verifications not flushed yet. */
  neverVerified: number;
  /**
   * Workspaces in the middle of a rotation: two or more live secrets accept the same platform, so traffic signed
   * with either verifies. Outside a rotation each platform has one live secret.
   */
  rotationsInProgress: number;
  /** Open rotation objects past their deadline. */
  overdueRotations: number;
  /** Live secrets older than their workspace policy's max_age_days. */
  dueForRotation: number;
  /** Webhook deliveries not yet delivered nor given up, over every endpoint. */
  pendingDeliveries: number;
}

/** Counts over every workspace's live secrets and deliveries, for /metrics; nothing here is on a request's path. */
export class SecretCensus {
  constructor(
    private readonly store: Store,
    private readonly usage: UsageRecorder,
    private readonly clock: Clock = systemClock,
  ) {}

  async count(): Promise<SecretCensusCounts> {
    const secrets = await this.store.listAllLiveSecrets();
    const byWorkspace = new Map<number, SecretRecord[]>();
    let neverVerified = 0;
    for (const secret of secrets) {
      if (secret.lastVerifiedAt === null && this.usage.pendingLastVerified(secret.id) === undefined) neverVerified++;
      const list = byWorkspace.get(secret.workspaceId);
      if (list) list.push(secret);
      else byWorkspace.set(secret.workspaceId, [secret]);
    }
    let rotationsInProgress = 0;
    for (const list of byWorkspace.values()) {
      const overlapping = PLATFORMS.some(
        (p) =>
          list.filter((s) => supportsPlatform({ web: s.supportsWeb, ios: s.supportsIos, android: s.supportsAndroid }, p))
            .length >= 2,
      );
      if (overlapping) rotationsInProgress++;
    }
    const overdueRotations = await this.store.countOverdueRotations();
    const dueForRotation = await this.store.countDueSecrets(nowSeconds(this.clock));
    const pendingDeliveries = await this.store.countPendingDeliveries();
    return { live: secrets.length, neverVerified, rotationsInProgress, overdueRotations, dueForRotation, pendingDeliveries };
  }
}
