import type { DeliveryAttemptRecord, WebhookEndpointRecord } from '../../../domain/model.js';
import { webhookEventId } from '../../../domain/webhooks.js';
import { webhookEventTypeOf } from '../../../domain/audit-actions.js';
import type { WebhookDeliveryBody, WebhookEndpointBody } from '../../schemas/webhooks.js';

export function presentWebhookEndpoint(endpoint: WebhookEndpointRecord): WebhookEndpointBody {
  return {
    type: 'webhook_endpoint',
    id: String(endpoint.id),
    url: endpoint.url,
    events: [...endpoint.events],
    description: endpoint.description,
    created_at: endpoint.createdAt,
  };
}

export function presentDeliveryAttempt(attempt: DeliveryAttemptRecord): WebhookDeliveryBody {
  return {
    type: 'webhook_delivery_attempt',
    id: String(attempt.id),
    event_id: webhookEventId(attempt.auditId),
    event_type: webhookEventTypeOf(attempt.action) ?? attempt.action,
    attempted_at: Math.floor(attempt.attemptedAtMs / 1000),
    status: attempt.status,
    error: attempt.error,
    duration_ms: Math.round(attempt.durationMs),
    state: attempt.state,
  };
}
