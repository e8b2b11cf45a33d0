import { randomUUID } from 'node:crypto';
import type { Keyring } from '../crypto/keyring.js';
import { SYSTEM_ACTOR } from './actor.js';
import { type Clock, nowSeconds } from './clock.js';
import type { AuditInput, DeliveryClaim, Platform, RotationRecord } from './model.js';
import type { RotationStore, SecretStore, WorkspaceStore } from './ports.js';
import { openSecret } from './secret-cache.js';
import { DEFAULT_RETRY_BASE_MS, RETRY_WINDOW_MS, backoffMs } from './retry.js';
import { platformsOf } from './secret-input.js';
import { actorFields } from './workspaces.js';

/** What the rollout command reads on standard input, as one JSON object. */
export interface RolloutPayload {
  app_id: string;
  rotation_id: string;
  secret_id: string;
  name: string;
  platforms: Platform[];
  secret: string;
}

/** How a run ended. Only this is ever recorded: never what the command printed. */
export interface RolloutResult {
  /** null when it did not exit by itself (a signal, the timeout, or it could not start). */
  exitCode: number | null;
  signal: string | null;
  timedOut: boolean;
  /** Stopped because this node is shutting down: not the command's failure. */
  aborted: boolean;
  durationMs: number;
}

/**
 * The port to the operator's rollout command (SECURE_MODE_ROLLOUT_COMMAND). An adapter runs it with the payload on
 * standard input, ends it at timeoutMs or when `signal` aborts, and never keeps or passes on its output.
 */
export interface RolloutCommand {
  run(payload: RolloutPayload, timeoutMs: number, signal: AbortSignal): Promise<RolloutResult>;
}

/** What a node reports of each run, for its log line: ids, exit status and duration. */
export interface RolloutRunReport {
  workspaceId: number;
  rotationId: number;
  attempt: number;
  outcome: 'delivered' | 'failed' | 'gave_up' | 'interrupted';
  exitCode: number | null;
  signal: string | null;
  timedOut: boolean;
  durationMs: number;
}

export const DEFAULT_ROLLOUT_TIMEOUT_MS = 60_000;
/** A claim outlives the run's timeout by this much, so a run still ending is never claimed by another node. */
const CLAIM_SLACK_MS = 30_000;
const BATCH = 20;

export interface RolloutDelivererOptions {
  store: RotationStore & SecretStore & WorkspaceStore;
  keyring: Keyring;
  clock: Clock;
  /** Unset: no command configured; delivering rotations are refused. */
  command: RolloutCommand | undefined;
  timeoutMs?: number;
  retryBaseMs?: number;
  onRun?: (report: RolloutRunReport) => void;
}

/**
 * Rolls a delivering rotation's successor out: runs the rollout command with the secret, decrypted only for the run,
 * and records the outcome with its audit event (rotation.delivered, or rotation.delivery_failed and the next run with
 * exponential backoff). Every node may run deliveries; each run is claimed in the database first, so one node runs
 * it, and the pending state is stored, so a restart (or another node, once a dead node's claim lapses) resumes it.
 */
export class RolloutDeliverer {
  private readonly store: RotationStore & SecretStore & WorkspaceStore;
  private readonly keyring: Keyring;
  private readonly clock: Clock;
  private readonly command: RolloutCommand | undefined;
  private readonly timeoutMs: number;
  private readonly retryBaseMs: number;
  private readonly onRun: (report: RolloutRunReport) => void;
  private readonly abort = new AbortController();
  private readonly running = new Set<Promise<void>>();
  private pass: Promise<void> | undefined;
  private again = false;

  constructor(options: RolloutDelivererOptions) {
    this.store = options.store;
    this.keyring = options.keyring;
    this.clock = options.clock;
    this.command = options.command;
    this.timeoutMs = options.timeoutMs ?? DEFAULT_ROLLOUT_TIMEOUT_MS;
    this.retryBaseMs = options.retryBaseMs ?? DEFAULT_RETRY_BASE_MS;
    this.onRun = options.onRun ?? (() => undefined);
  }

  get enabled(): boolean {
    return this.command !== undefined;
  }

  /** Starts the runs that are due, in the background: never on a request's path. */
  kick(): void {
    if (!this.command || this.abort.signal.aborted) return;
    if (this.pass) {
      this.again = true;
      return;
    }
    this.pass = (async () => {
      do {
        this.again = false;
        await this.startDue().catch(() => undefined);
      } while (this.again && !this.abort.signal.aborted);
    })().finally(() => {
      this.pass = undefined;
    });
  }

  /** Settles once no pass and no run of this node is in progress (tests, shutdown). */
  async drain(): Promise<void> {
    while (this.pass || this.running.size > 0) {
      await Promise.all([this.pass, ...this.running]);
    }
  }

  /** Ends this node's runs (their claims are released for another node or the next start) and starts no more. */
  async stop(): Promise<void> {
    this.abort.abort();
    await this.drain();
  }

  private async startDue(): Promise<void> {
    const nowMs = this.clock.nowMs();
    for (const rotation of await this.store.listDueDeliveries(nowMs, BATCH)) {
      if (this.abort.signal.aborted) return;
      const claim: DeliveryClaim = { workspaceId: rotation.workspaceId, rotationId: rotation.id, claim: randomUUID() };
      const claimed = await this.store.claimDelivery(claim, nowMs, nowMs + this.timeoutMs + CLAIM_SLACK_MS);
      if (!claimed) continue;
      const run = this.deliver(claimed, claim).catch(() => undefined);
      this.running.add(run);
      void run.finally(() => this.running.delete(run));
    }
  }

  private async deliver(rotation: RotationRecord, claim: DeliveryClaim): Promise<void> {
    const attempt = rotation.deliveryAttempts + 1;
    const workspace = (await this.store.listWorkspaces()).find((w) => w.id === rotation.workspaceId);
    const material = (await this.store.loadLiveSecretMaterial(rotation.workspaceId)).find((s) => s.id === rotation.toSecretId);
    const noRun: RolloutResult = { exitCode: null, signal: null, timedOut: false, aborted: false, durationMs: 0 };
    if (!workspace || !material) {
      // The successor is gone: the sweeper cancels the rotation; nothing is left to roll out.
      await this.finish(rotation, claim, attempt, noRun, 'gave_up', { reason: 'successor_gone' });
      return;
    }
    let secret: string;
    try {
      secret = openSecret(this.keyring, material);
    } catch {
      // Under a master key this node does not have: another node (or this one, reconfigured) retries.
      const delay = backoffMs(this.retryBaseMs, attempt);
      await this.finish(rotation, claim, attempt, noRun, 'failed', { reason: 'secret_unreadable', next_attempt_in_ms: delay });
      return;
    }
    const result = await this.command!.run(
      {
        app_id: workspace.appId,
        rotation_id: String(rotation.id),
        secret_id: String(material.id),
        name: material.name,
        platforms: platformsOf(material),
        secret,
      },
      this.timeoutMs,
      this.abort.signal,
    );
    if (result.aborted) {
      await this.store.releaseDelivery(claim);
      this.report(rotation, attempt, 'interrupted', result);
      return;
    }
    if (result.exitCode === 0 && result.signal === null && !result.timedOut) {
      await this.finish(rotation, claim, attempt, result, 'delivered', {});
      return;
    }
    const sinceStartMs = this.clock.nowMs() - rotation.createdAt * 1000;
    const delay = backoffMs(this.retryBaseMs, attempt);
    await this.finish(rotation, claim, attempt, result, sinceStartMs + delay > RETRY_WINDOW_MS ? 'gave_up' : 'failed', {
      reason: result.timedOut ? 'timeout' : result.signal !== null ? 'signal' : 'exit_status',
      next_attempt_in_ms: delay,
    });
  }

  private async finish(
    rotation: RotationRecord,
    claim: DeliveryClaim,
    attempt: number,
    result: RolloutResult,
    outcome: 'delivered' | 'failed' | 'gave_up',
    extra: Record<string, string | number>,
  ): Promise<void> {
    const at = nowSeconds(this.clock);
    const details: AuditInput['details'] = {
      from_secret_id: String(rotation.fromSecretId),
      to_secret_id: String(rotation.toSecretId),
      attempt,
      exit_code: result.exitCode,
      signal: result.signal,
      timed_out: result.timedOut,
      duration_ms: result.durationMs,
      ...extra,
    };
    if (outcome === 'gave_up') {
      delete details.next_attempt_in_ms;
      details.final = true;
    }
    const audit: AuditInput = {
      ...actorFields(SYSTEM_ACTOR),
      workspaceId: rotation.workspaceId,
      action: outcome === 'delivered' ? 'rotation.delivered' : 'rotation.delivery_failed',
      targetType: 'rotation',
      targetId: String(rotation.id),
      at,
      details,
    };
    const recorded = await this.store.finishDelivery(
      claim,
      outcome === 'delivered'
        ? { delivered: true, at, audit }
        : {
            delivered: false,
            nextAtMs: outcome === 'gave_up' ? null : this.clock.nowMs() + Number(extra.next_attempt_in_ms),
            audit,
          },
    );
    if (recorded) this.report(rotation, attempt, outcome, result);
  }

  private report(rotation: RotationRecord, attempt: number, outcome: RolloutRunReport['outcome'], result: RolloutResult): void {
    this.onRun({
      workspaceId: rotation.workspaceId,
      rotationId: rotation.id,
      attempt,
      outcome,
      exitCode: result.exitCode,
      signal: result.signal,
      timedOut: result.timedOut,
      durationMs: result.durationMs,
    });
  }
}
