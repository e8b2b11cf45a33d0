import { type Keyring, secretAad } from '../crypto/keyring.js';
import { generateSecret } from '../crypto/random.js';
import { type Actor, SYSTEM_ACTOR } from './actor.js';
import { type Clock, nowSeconds } from './clock.js';
import { errors } from './errors.js';
import { DEFAULT_IDEMPOTENCY_WINDOW_SECONDS, openKept, requestHash, sameRequest, sealKept } from './idempotency.js';
import {
  OPEN_ROTATION_STATES,
  type AuditInput,
  type Platform,
  type RotationRecord,
  type RotationState,
  type SecretRecord,
  type StartRotation,
  type Workspace,
} from './model.js';
import type { RotationPolicyStore, RotationStore, SecretStore, UsageStore } from './ports.js';
import type { RolloutDeliverer } from './rollout.js';
import type { SecretCache } from './secret-cache.js';
import { MAX_NAME_LENGTH, normaliseSecretName, platformsOf } from './secret-input.js';
import { DEFAULT_MAX_LIVE_SECRETS, type SecretsService, parseSecretId } from './secrets.js';
import type { UsageRecorder } from './usage.js';
import { actorFields } from './workspaces.js';

export const DEFAULT_IDLE_FOR_SECONDS = 3600;
export const MIN_IDLE_FOR_SECONDS = 60;
export const MAX_IDLE_FOR_SECONDS = 2_592_000;

export interface StartRotationInput {
  secret_id: string;
  name?: unknown;
  idle_for?: number | undefined;
  deadline?: number | null | undefined;
  /** The server rolls the successor out with the rollout command instead of showing it. */
  deliver?: boolean | undefined;
}

export interface PlatformProgress {
  oldLastVerifiedAt: number | null;
  newLastVerifiedAt: number | null;
}

export interface RotationView {
  record: RotationRecord;
  /** One entry per platform the old secret supports. */
  platforms: Partial<Record<Platform, PlatformProgress>>;
}

export interface StartedRotation {
  view: RotationView;
  /** The successor's value; undefined for a delivering rotation, whose secret only the rollout command sees. */
  secret: string | undefined;
  replayed: boolean;
}

/** What a start keeps for its Idempotency-Key replay: the original answer, secret included. */
interface KeptRotation {
  view: RotationView;
  secret?: string;
}

export interface RotationsServiceOptions {
  store: RotationStore & RotationPolicyStore & SecretStore & UsageStore;
  secrets: SecretsService;
  /** Runs the rollout command of delivering rotations; without one configured, deliver is refused. */
  rollout?: RolloutDeliverer;
  keyring: Keyring;
  cache: SecretCache;
  usage: UsageRecorder;
  clock: Clock;
  maxLiveSecrets?: number;
  idempotencyWindowSeconds?: number;
}

/** idle_for as a rotation and the rotation policy take it; 422 with the field otherwise. */
export function checkIdleFor(idleFor: number): number {
  if (!Number.isInteger(idleFor) || idleFor < MIN_IDLE_FOR_SECONDS || idleFor > MAX_IDLE_FOR_SECONDS) {
    throw errors.parameterInvalid(
      `idle_for must be a whole number of seconds from ${MIN_IDLE_FOR_SECONDS} to ${MAX_IDLE_FOR_SECONDS}`,
      'idle_for',
    );
  }
  return idleFor;
}

export function isOpen(state: RotationState): boolean {
  return OPEN_ROTATION_STATES.includes(state);
}

/** The default successor name: the old name plus the date, cut so that it stays a valid name. */
export function successorName(oldName: string, at: number): string {
  const suffix = ` (rotated ${new Date(at * 1000).toISOString().slice(0, 10)})`;
  const room = MAX_NAME_LENGTH - [...suffix].length;
  return [...oldName].slice(0, room).join('') + suffix;
}

/**
 * Rotations: the server creates the successor, watches both secrets' traffic, and retires the old secret itself
 * once the successor has verified on every platform the old one supports and the old one has been idle for
 * idle_for. Every step is a compare-and-set with its audit event in one transaction, so nodes or requests racing
 * make each step once.
 */
export class RotationsService {
  private readonly store: RotationStore & RotationPolicyStore & SecretStore & UsageStore;
  private readonly rollout: RolloutDeliverer | undefined;
  private readonly secrets: SecretsService;
  private readonly keyring: Keyring;
  private readonly cache: SecretCache;
  private readonly usage: UsageRecorder;
  private readonly clock: Clock;
  private readonly maxLiveSecrets: number;
  private readonly idempotencyWindowSeconds: number;

  constructor(options: RotationsServiceOptions) {
    this.store = options.store;
    this.rollout = options.rollout;
    this.secrets = options.secrets;
    this.keyring = options.keyring;
    this.cache = options.cache;
    this.usage = options.usage;
    this.clock = options.clock;
    this.maxLiveSecrets = options.maxLiveSecrets ?? DEFAULT_MAX_LIVE_SECRETS;
    this.idempotencyWindowSeconds = options.idempotencyWindowSeconds ?? DEFAULT_IDEMPOTENCY_WINDOW_SECONDS;
  }

  /**
   * idle_for defaults to the workspace policy's. `byPolicy`: the rotation policy starting it for a due secret, at most
   * once per secret.
   */
  async start(
    workspace: Workspace,
    input: StartRotationInput,
    actor: Actor,
    idempotencyKey?: string,
    options: { byPolicy?: boolean } = {},
  ): Promise<StartedRotation> {
    const atMs = this.clock.nowMs();
    const at = Math.floor(atMs / 1000);
    const deliver = input.deliver === true;
    if (deliver && !this.rollout?.enabled) {
      throw errors.parameterInvalid(
        'deliver needs a rollout command: set SECURE_MODE_ROLLOUT_COMMAND on the server (see docs/rotation.md)',
        'deliver',
      );
    }
    const idleFor = checkIdleFor(
      input.idle_for ?? (await this.store.getRotationPolicy(workspace.id))?.idleFor ?? DEFAULT_IDLE_FOR_SECONDS,
    );
    const deadline = input.deadline ?? null;
    if (deadline !== null && deadline <= at) {
      throw errors.parameterInvalid('deadline must be a Unix timestamp in the future', 'deadline');
    }
    const name = input.name === undefined ? undefined : normaliseSecretName(input.name);
    const fromId = parseSecretId(input.secret_id);
    const before = fromId === undefined ? undefined : await this.store.getSecret(workspace.id, fromId);
    if (fromId === undefined || !before || before.deletedAt !== null) throw errors.secretNotFound();
    // The old secret's traffic so far, read before the transaction: the 201 (and its replay) show it.
    const oldProgress = await this.lastVerifiedByPlatform(before);
    const secret = generateSecret();
    // deliver joins the hashed request only when set, so records kept before it existed still replay.
    const hash = requestHash('start-rotation', [
      input.secret_id,
      input.name,
      input.idle_for,
      input.deadline,
      ...(deliver ? [true] : []),
    ]);
    const keptView = (rotation: RotationRecord, old: SecretRecord): RotationView => ({
      record: rotation,
      platforms: Object.fromEntries(
        platformsOf(old).map((p) => [p, { oldLastVerifiedAt: oldProgress[p] ?? null, newLastVerifiedAt: null }]),
      ),
    });
    const start: StartRotation = {
      rotation: { workspaceId: workspace.id, fromSecretId: fromId, idleFor, deadline, createdAt: at, deliver, createdAtMs: atMs },
      ...(options.byPolicy ? { byPolicy: true } : {}),
      successor: (old) => ({
        workspaceId: workspace.id,
        name: name ?? successorName(old.name, at),
        supportsWeb: old.supportsWeb,
        supportsIos: old.supportsIos,
        supportsAndroid: old.supportsAndroid,
        createdAt: at,
        expiresAt: null,
      }),
      maxLive: this.maxLiveSecrets,
      seal: (secretId) => this.keyring.encrypt(Buffer.from(secret, 'utf8'), secretAad(workspace.id, secretId)),
      audit: (old, successor, rotation) => [
        {
          ...actorFields(actor),
          workspaceId: workspace.id,
          action: 'secret.created',
          targetType: 'secret',
          targetId: String(successor.id),
          at,
          details: {
            name: successor.name,
            supports_web: successor.supportsWeb,
            supports_ios: successor.supportsIos,
            supports_android: successor.supportsAndroid,
            idempotent: idempotencyKey !== undefined,
            rotation_id: String(rotation.id),
          },
        },
        this.event(rotation, 'rotation.started', actor, at, {
          from_secret_name: old.name,
          to_secret_name: successor.name,
          platforms: platformsOf(old).join(','),
          idle_for: idleFor,
          deadline,
          deliver,
          by_policy: options.byPolicy === true,
        }),
      ],
      ...(idempotencyKey === undefined
        ? {}
        : {
            idempotency: {
              key: idempotencyKey,
              tokenId: actor.tokenId,
              requestHash: hash,
              now: at,
              expiresAt: at + this.idempotencyWindowSeconds,
              seal: (rotation, _successor, old) =>
                // A delivering rotation's secret is kept nowhere but the successor's own ciphertext.
                sealKept(this.keyring, workspace.id, idempotencyKey, {
                  view: keptView(rotation, old),
                  ...(deliver ? {} : { secret }),
                } satisfies KeptRotation),
            },
          }),
    };
    const result = await this.store.startRotation(start);
    if (!result.ok) {
      switch (result.reason) {
        case 'secret_not_found':
          throw errors.secretNotFound();
        case 'limit_reached':
          throw errors.secretLimitReached(this.maxLiveSecrets);
        case 'in_progress': {
          const [open] = await this.store.openRotationsOf(workspace.id, fromId);
          throw errors.rotationInProgress(fromId, open?.id ?? 0);
        }
        case 'idempotent_replay': {
          // As a create's replay: bound to the token that started it, and never the material of a deleted successor.
          if (result.record.tokenId !== actor.tokenId || !sameRequest(result.record.requestHash, hash)) {
            throw errors.idempotencyConflict();
          }
          const kept = openKept<KeptRotation>(this.keyring, workspace.id, result.record.key, result.record.response);
          // Only a kept rotation has a view; the same key on a secret create is another request.
          if (!kept.view) throw errors.idempotencyConflict();
          const successor = await this.store.getSecret(workspace.id, kept.view.record.toSecretId);
          if (!successor || successor.deletedAt !== null) throw errors.secretNotFound();
          return { view: kept.view, secret: kept.secret, replayed: true };
        }
      }
    }
    this.cache.secretCreated(workspace, result.successor, secret);
    if (deliver) this.rollout?.kick();
    return { view: keptView(result.rotation, result.old), secret: deliver ? undefined : secret, replayed: false };
  }

  async list(workspace: Workspace): Promise<RotationView[]> {
    const rotations = await this.store.listRotations(workspace.id);
    return Promise.all(rotations.map((r) => this.view(r)));
  }

  async get(workspace: Workspace, id: string): Promise<RotationView> {
    return this.view(await this.find(workspace, id));
  }

  /**
   * The old secret stays live. The successor is deleted if it never verified anything; if it did, refused unless
   * keepNew (then it stays live too).
   */
  async cancel(workspace: Workspace, id: string, actor: Actor, keepNew: boolean): Promise<RotationView> {
    const rotation = await this.findOpen(workspace, id);
    const successor = await this.store.getSecret(workspace.id, rotation.toSecretId);
    const live = successor !== undefined && successor.deletedAt === null;
    const lastVerified = live ? this.secrets.lastVerifiedAt(successor) : null;
    if (lastVerified !== null && !keepNew) throw errors.successorInUse(lastVerified);
    const at = nowSeconds(this.clock);
    const retire = live && !keepNew && successor ? this.retirement(successor, rotation, actor, at) : undefined;
    const done = await this.close(rotation, 'cancelled', actor, at, { reason: 'cancelled', kept_new: keepNew }, retire);
    return done ? this.view(done) : this.lostRace(rotation, () => this.cancel(workspace, id, actor, keepNew));
  }

  /**
   * Deletes the old secret now, if the successor verified on every platform and the old one is idle (409
   * otherwise), or regardless with force (a leaked secret).
   */
  async complete(workspace: Workspace, id: string, actor: Actor, force: boolean): Promise<RotationView> {
    const rotation = await this.findOpen(workspace, id);
    const at = nowSeconds(this.clock);
    const { old, progress } = await this.progress(rotation);
    if (!force) {
      const missing = Object.entries(progress)
        .filter(([, p]) => p.newLastVerifiedAt === null)
        .map(([platform]) => platform);
      if (missing.length > 0) throw errors.rotationNotReady(missing);
      const last = old && old.deletedAt === null ? this.secrets.lastVerifiedAt(old) : null;
      if (last !== null && at - last < rotation.idleFor) throw errors.secretInUse(last, rotation.idleFor);
    }
    const retire = old && old.deletedAt === null ? this.retirement(old, rotation, actor, at) : undefined;
    const done = await this.close(rotation, 'completed', actor, at, { reason: 'completed', forced: force }, retire);
    return done ? this.view(done) : this.lostRace(rotation, () => this.complete(workspace, id, actor, force));
  }

  /**
   * One pass of the sweeper over every open rotation: each moves as far as its secrets' traffic allows. Returns the
   * number of steps taken.
   */
  async advanceAll(batch = 100): Promise<number> {
    let steps = 0;
    for (let afterId = 0; ;) {
      const open = await this.store.listOpenRotations(afterId, batch);
      for (const rotation of open) steps += await this.advance(rotation);
      if (open.length < batch) return steps;
      afterId = open[open.length - 1]!.id;
    }
  }

  private async advance(start: RotationRecord): Promise<number> {
    const at = nowSeconds(this.clock);
    const { old, successor, progress } = await this.progress(start);
    if (!successor || successor.deletedAt !== null) {
      const reason = successor?.deletedReason === 'expired' ? 'new_secret_expired' : 'new_secret_deleted';
      await this.close(start, 'cancelled', SYSTEM_ACTOR, at, { reason });
      return 1;
    }
    if (!old || old.deletedAt !== null) {
      const reason = old?.deletedReason === 'expired' ? 'old_secret_expired' : 'old_secret_deleted';
      await this.close(start, 'completed', SYSTEM_ACTOR, at, { reason });
      return 1;
    }
    let steps = 0;
    let rotation: RotationRecord | undefined = start;
    if (!rotation.overdue && rotation.deadline !== null && at >= rotation.deadline) {
      rotation = await this.step(rotation, { overdue: true }, 'rotation.overdue', at, { deadline: rotation.deadline });
      steps++;
    }
    const everywhere = Object.values(progress).every((p) => p.newLastVerifiedAt !== null);
    if (rotation?.state === 'rolling_out' && everywhere) {
      rotation = await this.step(rotation, { state: 'cutting_over' }, 'rotation.cut_over', at, {
        platforms: Object.keys(progress).join(','),
      });
      steps++;
    }
    const last = this.secrets.lastVerifiedAt(old);
    if (rotation?.state === 'cutting_over' && (last === null || at - last >= rotation.idleFor)) {
      await this.close(
        rotation,
        'completed',
        SYSTEM_ACTOR,
        at,
        { reason: 'idle', old_last_verified_at: last },
        this.retirement(old, rotation, SYSTEM_ACTOR, at),
      );
      steps++;
    }
    return steps;
  }

  /** A sweeper step; undefined when another node or request moved the rotation first (nothing was written). */
  private async step(
    rotation: RotationRecord,
    change: Partial<Pick<RotationRecord, 'state' | 'overdue'>>,
    action: 'rotation.overdue' | 'rotation.cut_over',
    at: number,
    details: AuditInput['details'],
  ): Promise<RotationRecord | undefined> {
    return this.store.transitionRotation({
      workspaceId: rotation.workspaceId,
      id: rotation.id,
      expected: { state: rotation.state, overdue: rotation.overdue },
      next: {
        state: change.state ?? rotation.state,
        overdue: change.overdue ?? rotation.overdue,
        completedAt: null,
        updatedAt: at,
      },
      audit: this.event(rotation, action, SYSTEM_ACTOR, at, details),
    });
  }

  /**
   * Closes a rotation (completed or cancelled) with its event and the retirement of one of its secrets; undefined
   * when someone else moved it first (nothing was written).
   */
  private async close(
    rotation: RotationRecord,
    state: 'completed' | 'cancelled',
    actor: Actor,
    at: number,
    details: AuditInput['details'],
    retire?: { secretId: number; audit: AuditInput },
  ): Promise<RotationRecord | undefined> {
    const done = await this.store.transitionRotation({
      workspaceId: rotation.workspaceId,
      id: rotation.id,
      expected: { state: rotation.state, overdue: rotation.overdue },
      next: { state, overdue: rotation.overdue, completedAt: at, updatedAt: at },
      audit: this.event(rotation, state === 'completed' ? 'rotation.completed' : 'rotation.cancelled', actor, at, details),
      ...(retire ? { retire } : {}),
    });
    if (done && retire) this.cache.secretRemoved(rotation.workspaceId, retire.secretId);
    return done;
  }

  /**
   * A request's close that lost a race: refused when the rotation closed meanwhile; run again when it is still open
   * (the sweeper marked it overdue or cut over), which it can be only a bounded number of times.
   */
  private async lostRace(rotation: RotationRecord, again: () => Promise<RotationView>): Promise<RotationView> {
    const now = await this.store.getRotation(rotation.workspaceId, rotation.id);
    if (!now) throw errors.rotationNotFound();
    if (!isOpen(now.state)) throw errors.rotationClosed(now.id, now.state);
    return again();
  }

  /** The soft delete of a rotation's secret, audited as secret.deleted with the rotation named. */
  private retirement(secret: SecretRecord, rotation: RotationRecord, actor: Actor, at: number) {
    return {
      secretId: secret.id,
      audit: {
        ...actorFields(actor),
        workspaceId: secret.workspaceId,
        action: 'secret.deleted',
        targetType: 'secret',
        targetId: String(secret.id),
        at,
        details: { name: secret.name, rotation_id: String(rotation.id) },
      } satisfies AuditInput,
    };
  }

  private event(
    rotation: RotationRecord,
    action: AuditInput['action'],
    actor: Actor,
    at: number,
    details: AuditInput['details'],
  ): AuditInput {
    return {
      ...actorFields(actor),
      workspaceId: rotation.workspaceId,
      action,
      targetType: 'rotation',
      targetId: String(rotation.id),
      at,
      details: { from_secret_id: String(rotation.fromSecretId), to_secret_id: String(rotation.toSecretId), ...details },
    };
  }

  private async find(workspace: Workspace, id: string): Promise<RotationRecord> {
    const numeric = parseSecretId(id);
    const rotation = numeric === undefined ? undefined : await this.store.getRotation(workspace.id, numeric);
    if (!rotation) throw errors.rotationNotFound();
    return rotation;
  }

  private async findOpen(workspace: Workspace, id: string): Promise<RotationRecord> {
    const rotation = await this.find(workspace, id);
    if (!isOpen(rotation.state)) throw errors.rotationClosed(rotation.id, rotation.state);
    return rotation;
  }

  private async view(rotation: RotationRecord): Promise<RotationView> {
    return { record: rotation, platforms: (await this.progress(rotation)).progress };
  }

  /** Both secrets (deleted ones included) and, per platform the old one supports, when each last verified. */
  private async progress(rotation: RotationRecord): Promise<{
    old: SecretRecord | undefined;
    successor: SecretRecord | undefined;
    progress: Partial<Record<Platform, PlatformProgress>>;
  }> {
    const [old, successor] = await Promise.all([
      this.store.getSecret(rotation.workspaceId, rotation.fromSecretId),
      this.store.getSecret(rotation.workspaceId, rotation.toSecretId),
    ]);
    const oldLast = old ? await this.lastVerifiedByPlatform(old) : {};
    const newLast = successor ? await this.lastVerifiedByPlatform(successor) : {};
    const progress = Object.fromEntries(
      (old ? platformsOf(old) : []).map((p) => [
        p,
        { oldLastVerifiedAt: oldLast[p] ?? null, newLastVerifiedAt: newLast[p] ?? null },
      ]),
    );
    return { old, successor, progress };
  }

  /**
   * When a secret last verified on each platform, counting what this node has not flushed yet. Usage is kept per
   * minute: the platform that verified last gets the secret's exact last_verified_at, the others the end of their
   * last minute (never later than last_verified_at).
   */
  private async lastVerifiedByPlatform(secret: SecretRecord): Promise<Partial<Record<Platform, number>>> {
    const minutes = new Map<Platform, number>();
    const seen = (platform: Platform, minute: number) => minutes.set(platform, Math.max(minutes.get(platform) ?? minute, minute));
    for (const u of await this.store.lastUsage([secret.id])) seen(u.platform, u.minute);
    for (const u of this.usage.pendingIncrements()) if (u.secretId === secret.id) seen(u.platform, u.minute);
    const last = this.secrets.lastVerifiedAt(secret);
    const result: Partial<Record<Platform, number>> = {};
    for (const [platform, minute] of minutes) {
      const endOfMinute = minute * 60 + 59;
      result[platform] = last === null ? endOfMinute : Math.min(endOfMinute, last);
    }
    return result;
  }
}
