import type { Store } from './ports.js';
import { SYSTEM_ACTOR } from './actor.js';
import { type Clock, nowSeconds } from './clock.js';
import { actorFields } from './workspaces.js';
import type { RolloutDeliverer } from './rollout.js';
import type { PolicySweepResult, RotationPolicyService } from './rotation-policy.js';
import type { RotationsService } from './rotations.js';
import type { SecretsService } from './secrets.js';

/** secret.expiring this long before expires_at unless configured (SECURE_MODE_EXPIRY_WARNING). */
export const DEFAULT_EXPIRY_WARNING_SECONDS = 7 * 24 * 3600;
const WARN_BATCH = 100;

/** The lease's lifetime when this node sweeps only on demand (tests, tools). */
const DEFAULT_LEASE_TTL_MS = 10_000;

export interface SweepResult {
  secretsExpired: number;
  /** secret.expiring events raised by this pass. */
  secretsWarned: number;
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
  private readonly expiryWarningSeconds: number;
  private readonly policy: RotationPolicyService;
  private readonly rollout: RolloutDeliverer;

  constructor(deps: {
    secrets: SecretsService;
    store: Store;
    clock: Clock;
    rotations: RotationsService;
    expiryWarningSeconds?: number;
    policy: RotationPolicyService;
    rollout: RolloutDeliverer;
  }) {
    this.secrets = deps.secrets;
    this.store = deps.store;
    this.clock = deps.clock;
    this.rotations = deps.rotations;
    this.expiryWarningSeconds = deps.expiryWarningSeconds ?? DEFAULT_EXPIRY_WARNING_SECONDS;
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
    const secretsWarned = await this.warnExpiring();
    const idempotencyPurged = await this.store.deleteExpiredIdempotency(nowSeconds(this.clock));
    // After expiry, so a rotation whose secret expired in this pass closes in it too.
    const leader = await this.store.holdLease('rotations', this.leaseTtlMs);
    const rotationSteps = leader ? await this.rotations.advanceAll() : null;
    const policy = leader ? await this.policy.sweep() : null;
    this.rollout.kick();
    return { secretsExpired, secretsWarned, idempotencyPurged, rotationSteps, policy };
  }

  /**
   * secret.expiring, once per secret and expires_at: each warning is a compare-and-set with its audit event (the
   * outbox), so nodes sweeping at once raise it once. A new expires_at is warned of again when it comes near.
   */
  private async warnExpiring(): Promise<number> {
    const at = nowSeconds(this.clock);
    let warned = 0;
    for (;;) {
      const due = await this.store.listSecretsToWarn(at + this.expiryWarningSeconds, WARN_BATCH);
      for (const secret of due) {
        const audit = {
          ...actorFields(SYSTEM_ACTOR),
          workspaceId: secret.workspaceId,
          action: 'secret.expiring' as const,
          targetType: 'secret' as const,
          targetId: String(secret.id),
          at,
          details: {
            name: secret.name,
            expires_at: secret.expiresAt,
            supports_web: secret.supportsWeb,
            supports_ios: secret.supportsIos,
            supports_android: secret.supportsAndroid,
          },
        };
        if (await this.store.markExpiryWarned(secret, audit)) warned++;
      }
      if (due.length < WARN_BATCH) return warned;
    }
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
