import type { Store } from '../storage/store.js';
import { type Clock, nowSeconds } from './clock.js';
import type { SecretsService } from './secrets.js';

export interface SweepResult {
  secretsExpired: number;
  idempotencyPurged: number;
}

/**
 * Makes time-limited things end: secrets past expires_at are retired (audited as expired), and Idempotency-Key
 * records past their window are deleted, so the encrypted copy of a created secret does not outlive the window.
 * Verification does not wait for this: it refuses an expired secret from that second on.
 */
export class ExpirySweeper {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<SweepResult> | undefined;

  constructor(
    private readonly secrets: SecretsService,
    private readonly store: Store,
    private readonly clock: Clock,
  ) {}

  /** One pass; concurrent callers share the pass in progress. */
  sweep(): Promise<SweepResult> {
    if (!this.running) {
      this.running = this.sweepOnce().finally(() => {
        this.running = undefined;
      });
    }
    return this.running;
  }

  private async sweepOnce(): Promise<SweepResult> {
    const secretsExpired = await this.secrets.expireDue();
    const idempotencyPurged = await this.store.deleteExpiredIdempotency(nowSeconds(this.clock));
    return { secretsExpired, idempotencyPurged };
  }

  start(intervalMs: number, onError: (err: unknown) => void): void {
    this.timer = setInterval(() => void this.sweep().catch(onError), intervalMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await this.running?.catch(() => undefined);
  }
}
