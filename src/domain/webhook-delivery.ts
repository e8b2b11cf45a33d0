import { type Keyring, webhookSecretAad } from '../crypto/keyring.js';
import { signWebhook } from '../crypto/webhook-signature.js';
import { webhookEventTypeOf } from './audit-actions.js';
import type { Clock } from './clock.js';
import type { AuditEvent, ClaimedDelivery, DeliveryAttempt, WebhookEventType } from './model.js';
import type { WebhookStore } from './ports.js';
import { webhookEventId } from './webhooks.js';
import { RETRY_WINDOW_MS, backoffMs } from './retry.js';

/** What one attempt got: the receiver's status, or why there was none (a short reason, never a body). */
export type SendResult = { status: number } | { error: string };

export interface WebhookRequest {
  url: string;
  headers: Record<string, string>;
  body: string;
  timeoutMs: number;
  /** Aborted when the server shuts down. */
  signal: AbortSignal;
}

/** The outbound HTTP port: the adapter (src/webhooks/) connects only to addresses the SSRF rule allows. */
export interface WebhookSender {
  send(request: WebhookRequest): Promise<SendResult>;
  close(): void;
}

export interface WebhookPayload {
  type: WebhookEventType;
  /** When the change happened, RFC 3339. */
  timestamp: string;
  data: Record<string, string | number | boolean | null | string[]>;
}

/** Detail strings that may reach a receiver: names, ids, reasons and states. Every other string stays in the audit log. */
const STRING_DETAILS = /^(name|reason|state|[a-z_]+_id)$/;
const PLATFORM_FLAGS = { supports_web: 'web', supports_ios: 'ios', supports_android: 'android' } as const;

/**
 * An event's body, built from its audit record alone: ids, names, platforms, times and counts, never material,
 * hashes or tokens (numbers and booleans pass; strings only under the names STRING_DETAILS allows).
 */
export function webhookPayload(event: AuditEvent): WebhookPayload {
  const type = webhookEventTypeOf(event.action);
  if (type === undefined) throw new Error(`audit action ${event.action} raises no webhook event`);
  const data: WebhookPayload['data'] = { [`${event.targetType}_id`]: event.targetId };
  const details = event.details ?? {};
  // PostgreSQL keeps details as jsonb, which orders keys its own way: the body's order is fixed here instead.
  for (const key of Object.keys(details).sort()) {
    const value = details[key]!;
    if (!(key in PLATFORM_FLAGS) && (typeof value !== 'string' || STRING_DETAILS.test(key))) data[key] = value;
  }
  const platforms = Object.entries(PLATFORM_FLAGS).filter(([flag]) => details[flag] === true);
  if (platforms.length > 0) data.platforms = platforms.map(([, platform]) => platform);
  if (type === 'secret.deleted') data.reason = event.action === 'secret.expired' ? 'expired' : 'deleted';
  return { type, timestamp: new Date(event.at * 1000).toISOString(), data };
}

export interface WebhookDispatcherOptions {
  store: WebhookStore;
  keyring: Keyring;
  clock: Clock;
  sender: WebhookSender;
  /** The first retry waits this long; each next one twice as long as the one before (at most an hour). */
  retryBaseMs: number;
  /** Attempts in flight at once, on this node. */
  concurrency?: number;
  /** How often the node looks for due deliveries besides being told of new ones (other nodes', retries). */
  pollMs?: number;
  timeoutMs?: number;
  /** How long after its event a delivery is retried; then it is failed. */
  retryWindowMs?: number;
  onError?: (err: unknown) => void;
}

export const DELIVERY_TIMEOUT_MS = 10_000;
/** A claim outlives the longest attempt (the timeout) by far, so no other node retries one still in flight. */
const LEASE_MARGIN_MS = 50_000;

/**
 * Delivers queued events as Standard Webhooks, off the request path: a loop claims due deliveries (each claim is a
 * lease in the database, so across nodes and processes each attempt is made once), sends at most `concurrency` at a
 * time, and records each outcome. A 2xx ends a delivery; anything else is retried with exponential backoff until
 * 24 hours after its event, then it is failed. Pending deliveries survive a restart: they are rows, claimed again.
 */
export class WebhookDispatcher {
  private readonly store: WebhookStore;
  private readonly keyring: Keyring;
  private readonly clock: Clock;
  private readonly sender: WebhookSender;
  private readonly retryBaseMs: number;
  private readonly concurrency: number;
  private readonly pollMs: number;
  private readonly timeoutMs: number;
  private readonly retryWindowMs: number;
  private readonly onError: (err: unknown) => void;
  private readonly inFlight = new Set<Promise<void>>();
  private readonly abort = new AbortController();
  private running = false;
  private pumping: Promise<void> | undefined;
  private again = false;
  private timer: NodeJS.Timeout | undefined;
  private unsubscribe: (() => void) | undefined;

  constructor(options: WebhookDispatcherOptions) {
    this.store = options.store;
    this.keyring = options.keyring;
    this.clock = options.clock;
    this.sender = options.sender;
    this.retryBaseMs = options.retryBaseMs;
    this.concurrency = options.concurrency ?? 16;
    this.pollMs = options.pollMs ?? 1000;
    this.timeoutMs = options.timeoutMs ?? DELIVERY_TIMEOUT_MS;
    this.retryWindowMs = options.retryWindowMs ?? RETRY_WINDOW_MS;
    this.onError = options.onError ?? (() => undefined);
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.unsubscribe = this.store.onDeliveriesQueued(() => this.kick());
    this.kick();
  }

  /** Stops claiming, aborts the attempts in flight (they are retried at once by the next start) and waits for them. */
  async stop(): Promise<void> {
    this.running = false;
    this.unsubscribe?.();
    if (this.timer) clearTimeout(this.timer);
    this.abort.abort();
    await this.pumping;
    await Promise.all([...this.inFlight]);
    this.sender.close();
  }

  /** Look for due deliveries now (after a commit that queued some, a freed slot, or the poll). */
  kick(): void {
    if (!this.running) return;
    if (this.pumping) {
      this.again = true;
      return;
    }
    this.pumping = this.pump().finally(() => {
      this.pumping = undefined;
      if (this.again) this.kick();
      else this.schedule();
    });
  }

  private async pump(): Promise<void> {
    do {
      this.again = false;
      const free = this.concurrency - this.inFlight.size;
      if (free <= 0 || !this.running) return;
      const now = this.clock.nowMs();
      let claimed: ClaimedDelivery[];
      try {
        claimed = await this.store.claimDueDeliveries(now, now + this.timeoutMs + LEASE_MARGIN_MS, free);
      } catch (err) {
        this.onError(err);
        return;
      }
      for (const delivery of claimed) {
        const attempt: Promise<void> = this.attempt(delivery)
          .catch((err: unknown) => this.onError(err))
          .finally(() => {
            this.inFlight.delete(attempt);
            this.kick();
          });
        this.inFlight.add(attempt);
      }
      // A full batch may mean more are due: claim again while there is room.
      if (claimed.length === free) this.again = true;
    } while (this.again && this.running && this.inFlight.size < this.concurrency);
  }

  private schedule(): void {
    if (!this.running) return;
    if (this.timer) clearTimeout(this.timer);
    const wait = async () => {
      const due = await this.store.nextDeliveryDueAt().catch(() => undefined);
      const delay = due === undefined ? this.pollMs : Math.min(this.pollMs, Math.max(0, due - this.clock.nowMs()));
      if (!this.running) return;
      this.timer = setTimeout(() => this.kick(), delay);
      this.timer.unref();
    };
    void wait();
  }

  private async attempt(delivery: ClaimedDelivery): Promise<void> {
    const id = webhookEventId(delivery.event.id);
    const body = JSON.stringify(webhookPayload(delivery.event));
    const attemptedAtMs = this.clock.nowMs();
    const timestamp = Math.floor(attemptedAtMs / 1000);
    const started = performance.now();
    let result: SendResult;
    let key: Buffer | undefined;
    try {
      key = this.keyring.decrypt(
        delivery.endpoint.secretCiphertext,
        webhookSecretAad(delivery.endpoint.workspaceId, delivery.endpoint.id),
      );
      const headers = {
        'content-type': 'application/json',
        'user-agent': 'secure-mode-webhooks',
        'webhook-id': id,
        'webhook-timestamp': String(timestamp),
        'webhook-signature': signWebhook(key, id, timestamp, body),
      };
      result = await this.sender.send({
        url: delivery.endpoint.url,
        headers,
        body,
        timeoutMs: this.timeoutMs,
        signal: this.abort.signal,
      });
    } catch {
      result = { error: 'signing secret does not open under the configured master keys' };
    } finally {
      key?.fill(0);
    }
    const durationMs = performance.now() - started;
    const interrupted = this.abort.signal.aborted && 'error' in result;
    await this.store.recordDeliveryAttempt(this.outcome(delivery, attemptedAtMs, durationMs, result, interrupted));
  }

  private outcome(
    delivery: ClaimedDelivery,
    attemptedAtMs: number,
    durationMs: number,
    result: SendResult,
    interrupted: boolean,
  ): DeliveryAttempt {
    const base = { deliveryId: delivery.id, claim: delivery.claim, attemptedAtMs, durationMs };
    const fields =
      'status' in result
        ? { status: result.status, error: null }
        : { status: null, error: interrupted ? 'shutdown' : result.error };
    if ('status' in result && result.status >= 200 && result.status < 300) {
      return { ...base, ...fields, state: 'succeeded', nextAttemptAtMs: attemptedAtMs };
    }
    // Cut short by shutdown: due again at once, for the next start (or another node) to retry.
    if (interrupted) return { ...base, ...fields, state: 'pending', nextAttemptAtMs: attemptedAtMs };
    const deadline = delivery.createdAtMs + this.retryWindowMs;
    if (attemptedAtMs >= deadline) return { ...base, ...fields, state: 'failed', nextAttemptAtMs: attemptedAtMs };
    const next = Math.min(attemptedAtMs + backoffMs(this.retryBaseMs, delivery.attempts + 1), deadline);
    return { ...base, ...fields, state: 'pending', nextAttemptAtMs: next };
  }
}
