import { type Keyring, webhookSecretAad } from '../crypto/keyring.js';
import { generateWebhookKey, webhookSecretText } from '../crypto/webhook-signature.js';
import { WEBHOOK_EVENT_TYPES } from './audit-actions.js';
import { type Clock, nowSeconds } from './clock.js';
import { errors } from './errors.js';
import type { DeliveryAttemptRecord, WebhookEndpointRecord, WebhookEventType, Workspace } from './model.js';
import type { WebhookStore } from './ports.js';
import type { WebhookAddressPolicy } from './webhook-address.js';

export const MAX_WEBHOOK_DESCRIPTION_LENGTH = 255;
/** GET …/deliveries lists this many attempts, newest first. */
export const DELIVERY_ATTEMPTS_SHOWN = 100;

export interface CreateWebhookEndpointInput {
  url: unknown;
  events: unknown;
  description?: unknown;
}

/** The id every delivery of an event carries as webhook-id, on every retry: the audit record's. */
export function webhookEventId(auditId: number): string {
  return `evt_${auditId}`;
}

function parseEvents(value: unknown): (WebhookEventType | '*')[] {
  if (value === undefined || value === null) throw errors.parameterMissing('events');
  if (!Array.isArray(value) || value.length === 0 || value.some((e) => typeof e !== 'string')) {
    throw errors.parameterInvalid('events must be a non-empty array of event types, or ["*"]', 'events');
  }
  const events = [...new Set(value as string[])];
  if (events.includes('*')) {
    if (events.length > 1) throw errors.parameterInvalid('events is either ["*"] or a list of event types', 'events');
    return ['*'];
  }
  const unknown = events.filter((e) => !(WEBHOOK_EVENT_TYPES as readonly string[]).includes(e));
  if (unknown.length > 0) {
    throw errors.parameterInvalid(`unknown event type ${unknown.join(', ')}; known: ${WEBHOOK_EVENT_TYPES.join(', ')}`, 'events');
  }
  return events as WebhookEventType[];
}

function parseDescription(value: unknown): string | null {
  if (value === undefined || value === null) return null;
  if (typeof value !== 'string') throw errors.parameterInvalid('description must be a string', 'description');
  const text = value.trim();
  if ([...text].length > MAX_WEBHOOK_DESCRIPTION_LENGTH || /[\p{Cc}]/u.test(text) || !text.isWellFormed()) {
    throw errors.parameterInvalid(
      `description must be at most ${MAX_WEBHOOK_DESCRIPTION_LENGTH} characters without control characters`,
      'description',
    );
  }
  return text === '' ? null : text;
}

/** Webhook endpoints of a workspace: where its events go (see webhook-delivery.ts for how they get there). */
export class WebhooksService {
  private readonly store: WebhookStore;
  private readonly keyring: Keyring;
  private readonly clock: Clock;
  private readonly addresses: WebhookAddressPolicy;

  constructor(options: { store: WebhookStore; keyring: Keyring; clock: Clock; addresses: WebhookAddressPolicy }) {
    this.store = options.store;
    this.keyring = options.keyring;
    this.clock = options.clock;
    this.addresses = options.addresses;
  }

  /** The endpoint and its signing secret (whsec_…), which is shown only now and stored only encrypted. */
  async create(
    workspace: Workspace,
    input: CreateWebhookEndpointInput,
  ): Promise<{ endpoint: WebhookEndpointRecord; secret: string }> {
    if (input.url === undefined || input.url === null) throw errors.parameterMissing('url');
    if (typeof input.url !== 'string') throw errors.parameterInvalid('url must be a string', 'url');
    const events = parseEvents(input.events);
    const description = parseDescription(input.description);
    const url = await this.addresses.check(input.url.trim());
    const key = generateWebhookKey();
    try {
      const endpoint = await this.store.createWebhookEndpoint(
        { workspaceId: workspace.id, url: url.href, events, description, createdAt: nowSeconds(this.clock) },
        (endpointId) => this.keyring.encrypt(key, webhookSecretAad(workspace.id, endpointId)),
      );
      return { endpoint, secret: webhookSecretText(key) };
    } finally {
      key.fill(0);
    }
  }

  list(workspace: Workspace): Promise<WebhookEndpointRecord[]> {
    return this.store.listWebhookEndpoints(workspace.id);
  }

  async get(workspace: Workspace, id: string): Promise<WebhookEndpointRecord> {
    const endpoint = await this.store.getWebhookEndpoint(workspace.id, parseId(id));
    if (!endpoint) throw errors.webhookEndpointNotFound();
    return endpoint;
  }

  /** Its pending deliveries are dropped with it. */
  async delete(workspace: Workspace, id: string): Promise<void> {
    const deleted = await this.store.deleteWebhookEndpoint(workspace.id, parseId(id), nowSeconds(this.clock));
    if (!deleted) throw errors.webhookEndpointNotFound();
  }

  async deliveries(workspace: Workspace, id: string): Promise<DeliveryAttemptRecord[]> {
    const endpoint = await this.get(workspace, id);
    return this.store.listDeliveryAttempts(workspace.id, endpoint.id, DELIVERY_ATTEMPTS_SHOWN);
  }
}

/** Ids are decimal strings; anything else names no endpoint. */
function parseId(id: string): number {
  const n = /^[1-9][0-9]{0,15}$/.test(id) ? Number(id) : NaN;
  if (!Number.isSafeInteger(n)) throw errors.webhookEndpointNotFound();
  return n;
}
