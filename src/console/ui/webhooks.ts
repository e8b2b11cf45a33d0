/** Pure rules of the Webhooks page; no DOM, so unit tests run them under Node. */
import type { WebhookDeliveryBody, WebhookEndpointBody, WebhookEndpointWithSecretBody } from '../../http/schemas/webhooks.js';

export type WebhookEndpoint = WebhookEndpointBody;
export type CreatedWebhookEndpoint = WebhookEndpointWithSecretBody;
export type WebhookDelivery = WebhookDeliveryBody;

export interface CreateWebhookInput {
  url: string;
  events: string[];
  description?: string;
}

/**
 * The event types an endpoint can subscribe to, in the server's order. The schema module only describes them, and
 * the console imports nothing but types from the server; a unit test holds this list equal to the domain's.
 */
export const WEBHOOK_EVENT_TYPES = [
  'secret.created',
  'secret.updated',
  'secret.deleted',
  'secret.expiring',
  'secret.due_for_rotation',
  'rotation.started',
  'rotation.cut_over',
  'rotation.completed',
  'rotation.cancelled',
  'rotation.overdue',
  'rotation.delivery_failed',
] as const;

export const ALL_EVENTS = '*';

/** The create form's events: "all" wins over any ticked types; nothing chosen is the form's error, not the server's. */
export function chosenEvents(all: boolean, ticked: readonly string[]): string[] | null {
  if (all) return [ALL_EVENTS];
  const known = WEBHOOK_EVENT_TYPES.filter((t) => ticked.includes(t));
  return known.length > 0 ? known : null;
}

export function createInput(url: string, events: string[], description: string): CreateWebhookInput {
  const text = description.trim();
  return { url: url.trim(), events, ...(text ? { description: text } : {}) };
}

export function eventsText(events: readonly string[]): string {
  return events.includes(ALL_EVENTS) ? 'All events' : events.join(', ');
}

/** What one attempt came to: the receiver's status, or why there was none. */
export function deliveryOutcome(d: Pick<WebhookDelivery, 'status' | 'error' | 'state'>): { text: string; ok: boolean } {
  const ok = typeof d.status === 'number' && d.status >= 200 && d.status < 300;
  const what = typeof d.status === 'number' ? `HTTP ${d.status}` : (d.error ?? 'No answer');
  const after = d.state === 'pending' ? ' · will retry' : d.state === 'failed' && !ok ? ' · retries over' : '';
  return { text: `${what}${after}`, ok };
}

export function endpointPath(id: string, tail = ''): string {
  return `/webhook_endpoints/${encodeURIComponent(id)}${tail}`;
}
