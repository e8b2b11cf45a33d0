import type { Store } from './ports.js';
import { type Clock, nowSeconds } from './clock.js';
import type { RolloutDeliverer } from './rollout.js';
import type { PolicySweepResult, RotationPolicyService } from './rotation-policy.js';
import type { RotationsService } from './rotations.js';
import type { SecretsService } from './secrets.js';

/** The lease's lifetime when this node sweeps only on demand (tests, tools). */
const DEFAULT_LEASE_TTL_MS = 10_000;

export interface SweepResult {
  secretsExpired: number;
  idempotencyPurged: number;
  /** Rotation steps taken; null when another node holds the rotations lease. */
  rotationSteps: number | null;
  /** What the rotation policy raised and started; null when another node holds the rotations lease. */
  policy: PolicySweepResult | null;
}

/**
 * Makes time-limited things end: secrets past expires_at are retired (audited as expired), and Idempotency-Key
 * records past their window are deleted, so the encrypted copy of a created secret does not outlive the window.
 * Verification does not wait for this: it refuses an expired secret from that second on. Rotations are advanced
 * here too, and the rotation policy applied, by the one node that holds the rotations lease; every node starts the
 * rollout runs that are due (each claimed in the database, so run by one node).
 */
export class ExpirySweeper {
  private timer: NodeJS.Timeout | undefined;
  /** Passes run one after another; this settles when the last one queued has. */
  private tail: Promise<unknown> = Promise.resolve();
  private queued = 0;
  /** How long the rotations lease outlives this node's last renewal: two sweep intervals once started. */
  private leaseTtlMs = DEFAULT_LEASE_TTL_MS;

  private readonly secrets: SecretsService;
  private readonly store: Store;
  private readonly clock: Clock;
  private readonly rotations: RotationsService;
  private readonly policy: RotationPolicyService;
  private readonly rollout: RolloutDeliverer;

  constructor(deps: {
    secrets: SecretsService;
    store: Store;
    clock: Clock;
    rotations: RotationsService;
    policy: RotationPolicyService;
    rollout: RolloutDeliverer;
  }) {
    this.secrets = deps.secrets;
    this.store = deps.store;
    this.clock = deps.clock;
    this.rotations = deps.rotations;
    this.policy = deps.policy;
    this.rollout = deps.rollout;
  }

  /** A pass that starts after this call (and after any pass in progress), so it sees the clock as it is now. */
  sweep(): Promise<SweepResult> {
    this.queued++;
    const pass = this.tail.then(() => this.sweepOnce()).finally(() => this.queued--);
    this.tail = pass.catch(() => undefined);
    return pass;
  }

  private async sweepOnce(): Promise<SweepResult> {
    const secretsExpired = await this.secrets.expireDue();
    const idempotencyPurged = await this.store.deleteExpiredIdempotency(nowSeconds(this.clock));
    // After expiry, so a rotation whose secret expired in this pass closes in it too.
    const leader = await this.store.holdLease('rotations', this.leaseTtlMs);
    const rotationSteps = leader ? await this.rotations.advanceAll() : null;
    const policy = leader ? await this.policy.sweep() : null;
    this.rollout.kick();
    return { secretsExpired, idempotencyPurged, rotationSteps, policy };
  }

  start(intervalMs: number, onError: (err: unknown) => void): void {
    this.leaseTtlMs = 2 * intervalMs;
    // A tick while a pass is still queued adds nothing: skip it rather than pile passes up.
    this.timer = setInterval(() => {
      if (this.queued === 0) this.sweep().catch(onError);
    }, intervalMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await this.tail;
  }
}
