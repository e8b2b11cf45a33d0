import { type Actor, SYSTEM_ACTOR } from './actor.js';
import { type Clock, nowSeconds } from './clock.js';
import { DomainError, errors } from './errors.js';
import type { DueSecret, RotationPolicy, Workspace } from './model.js';
import type { RotationPolicyStore, WorkspaceStore } from './ports.js';
import type { RolloutDeliverer } from './rollout.js';
import { DEFAULT_IDLE_FOR_SECONDS, type RotationsService, checkIdleFor } from './rotations.js';
import { platformsOf } from './secret-input.js';
import { actorFields } from './workspaces.js';

export const MIN_MAX_AGE_DAYS = 1;
export const MAX_MAX_AGE_DAYS = 3650;
const BATCH = 200;

export interface RotationPolicyInput {
  max_age_days?: number | null | undefined;
  idle_for?: number | undefined;
  auto_rotate?: boolean | undefined;
}

export interface PolicySweepResult {
  /** secret.due_for_rotation events raised in this pass. */
  raised: number;
  /** Rotations the policy started in this pass. */
  started: number;
}

export function defaultPolicy(workspaceId: number): RotationPolicy {
  return { workspaceId, maxAgeDays: null, idleFor: DEFAULT_IDLE_FOR_SECONDS, autoRotate: false, updatedAt: null };
}

/**
 * A workspace's rotation policy: secrets older than max_age_days are due (secret.due_for_rotation, raised once per
 * secret), and with auto_rotate the server starts a delivering rotation of each by itself, once per secret. The
 * sweep runs on the node holding the rotations lease; the store's due mark makes each step once even so.
 */
export class RotationPolicyService {
  private readonly store: RotationPolicyStore & WorkspaceStore;
  private readonly rotations: RotationsService;
  private readonly rollout: RolloutDeliverer;
  private readonly clock: Clock;

  constructor(options: {
    store: RotationPolicyStore & WorkspaceStore;
    rotations: RotationsService;
    rollout: RolloutDeliverer;
    clock: Clock;
  }) {
    this.store = options.store;
    this.rotations = options.rotations;
    this.rollout = options.rollout;
    this.clock = options.clock;
  }

  async get(workspace: Workspace): Promise<RotationPolicy> {
    return (await this.store.getRotationPolicy(workspace.id)) ?? defaultPolicy(workspace.id);
  }

  /** Fields left out keep their current value. */
  async put(workspace: Workspace, input: RotationPolicyInput, actor: Actor): Promise<RotationPolicy> {
    const current = await this.get(workspace);
    const maxAgeDays = input.max_age_days === undefined ? current.maxAgeDays : input.max_age_days;
    if (
      maxAgeDays !== null &&
      (!Number.isInteger(maxAgeDays) || maxAgeDays < MIN_MAX_AGE_DAYS || maxAgeDays > MAX_MAX_AGE_DAYS)
    ) {
      throw errors.parameterInvalid(
        `max_age_days must be null or a whole number of days from ${MIN_MAX_AGE_DAYS} to ${MAX_MAX_AGE_DAYS}`,
        'max_age_days',
      );
    }
    const idleFor = checkIdleFor(input.idle_for ?? current.idleFor);
    const autoRotate = input.auto_rotate ?? current.autoRotate;
    if (autoRotate && !this.rollout.enabled) {
      throw errors.parameterInvalid(
        'auto_rotate needs a rollout command: set SECURE_MODE_ROLLOUT_COMMAND on the server (see docs/rotation.md)',
        'auto_rotate',
      );
    }
    const at = nowSeconds(this.clock);
    return this.store.putRotationPolicy(
      { workspaceId: workspace.id, maxAgeDays, idleFor, autoRotate, updatedAt: at },
      {
        ...actorFields(actor),
        workspaceId: workspace.id,
        action: 'rotation_policy.updated',
        targetType: 'workspace',
        targetId: String(workspace.id),
        at,
        details: { max_age_days: maxAgeDays, idle_for: idleFor, auto_rotate: autoRotate },
      },
    );
  }

  /** One pass over every secret past its workspace's max age. */
  async sweep(): Promise<PolicySweepResult> {
    const at = nowSeconds(this.clock);
    const result: PolicySweepResult = { raised: 0, started: 0 };
    let workspaces: Map<number, Workspace> | undefined;
    for (let afterId = 0; ;) {
      const due = await this.store.listDueSecrets(at, afterId, BATCH);
      for (const item of due) {
        if (item.raisedAt === null && (await this.raise(item, at))) result.raised++;
        if (!item.policy.autoRotate || item.rotationId !== null || !this.rollout.enabled) continue;
        workspaces ??= new Map((await this.store.listWorkspaces()).map((w) => [w.id, w]));
        const workspace = workspaces.get(item.secret.workspaceId);
        if (workspace && (await this.autoRotate(workspace, item))) result.started++;
      }
      if (due.length < BATCH) return result;
      afterId = due[due.length - 1]!.secret.id;
    }
  }

  private raise(item: DueSecret, at: number): Promise<boolean> {
    const { secret, policy } = item;
    return this.store.markDueForRotation(secret, at, {
      ...actorFields(SYSTEM_ACTOR),
      workspaceId: secret.workspaceId,
      action: 'secret.due_for_rotation',
      targetType: 'secret',
      targetId: String(secret.id),
      at,
      details: {
        name: secret.name,
        platforms: platformsOf(secret).join(','),
        created_at: secret.createdAt,
        max_age_days: policy.maxAgeDays,
      },
    });
  }

  /** false when the secret is already in an open rotation, the policy already rotated it, or there is no room. */
  private async autoRotate(workspace: Workspace, item: DueSecret): Promise<boolean> {
    try {
      await this.rotations.start(
        workspace,
        { secret_id: String(item.secret.id), idle_for: item.policy.idleFor, deliver: true },
        SYSTEM_ACTOR,
        undefined,
        { byPolicy: true },
      );
      return true;
    } catch (err) {
      if (
        err instanceof DomainError &&
        ['rotation_in_progress', 'secret_limit_reached', 'identity_verification_secret_not_found'].includes(err.code)
      )
        return false;
      throw err;
    }
  }
}
