import { Type, type Static } from 'typebox';
import { WEBHOOK_EVENT_TYPES } from '../../domain/audit-actions.js';
import { Nullable } from './common.js';

const EXT = { 'x-secure-mode-extension': true };
const EVENT_TYPES = `Event types: ${WEBHOOK_EVENT_TYPES.join(', ')}; or ["*"] for all (see docs/events.md)`;

export const WebhookEndpoint = Type.Object(
  {
    type: Type.Literal('webhook_endpoint'),
    id: Type.String({ examples: ['3'] }),
    url: Type.String(),
    events: Type.Array(Type.String(), { description: EVENT_TYPES }),
    description: Nullable('string'),
    created_at: Type.Integer(),
  },
  { ...EXT, description: "Where the workspace's events are delivered, as Standard Webhooks. Never carries its secret." },
);
export type WebhookEndpointBody = Static<typeof WebhookEndpoint>;

export const WebhookEndpointWithSecret = Type.Object(
  {
    ...WebhookEndpoint.properties,
    secret: Type.String({
      description: 'The signing secret, whsec_ and the base64 of 32 random bytes; returned only in this 201',
    }),
  },
  { ...EXT, description: 'The created endpoint with its signing secret, shown once.' },
);
export type WebhookEndpointWithSecretBody = Static<typeof WebhookEndpointWithSecret>;

export const WebhookEndpointList = Type.Object(
  { type: Type.Literal('list'), data: Type.Array(WebhookEndpoint) },
  { ...EXT, description: 'Live webhook endpoints, oldest first' },
);

/** Fields are checked by the service, so that each refusal names its field as every other 422 does. */
export const CreateWebhookEndpointRequest = Type.Object(
  {
    url: Type.Unknown({ description: 'https URL of a public address' }),
    events: Type.Unknown({ description: EVENT_TYPES }),
    description: Type.Optional(Type.Unknown({ description: 'At most 255 characters' })),
  },
  { ...EXT },
);

export const WebhookEndpointIdParams = Type.Object({ id: Type.String({ description: 'The webhook endpoint id' }) });

export const WebhookDelivery = Type.Object(
  {
    type: Type.Literal('webhook_delivery_attempt'),
    id: Type.String(),
    event_id: Type.String({ description: 'The webhook-id header: the same on every retry of an event' }),
    event_type: Type.String(),
    attempted_at: Type.Integer({ description: 'Unix seconds' }),
    status: Nullable('integer', { description: "The receiver's HTTP status; null when it gave none (see error)" }),
    error: Nullable('string', { description: 'Why there was no status: timed out, connection refused, address not allowed, …' }),
    duration_ms: Type.Integer(),
    state: Type.String({
      enum: ['pending', 'succeeded', 'failed'],
      description: 'The delivery after this attempt: pending (will retry), succeeded, or failed (retries are over)',
    }),
  },
  { ...EXT, description: 'One delivery attempt; never a request or response body.' },
);
export type WebhookDeliveryBody = Static<typeof WebhookDelivery>;

export const WebhookDeliveryList = Type.Object(
  { type: Type.Literal('list'), data: Type.Array(WebhookDelivery) },
  { ...EXT, description: "The endpoint's latest 100 attempts, newest first" },
);
