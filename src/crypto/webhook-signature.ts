import { createHmac, randomBytes } from 'node:crypto';

/** Standard Webhooks: a signing secret is "whsec_" and the base64 of its key bytes. */
export const WEBHOOK_SECRET_PREFIX = 'whsec_';

/** A new signing key: 32 bytes from the CSPRNG. */
export function generateWebhookKey(): Buffer {
  return randomBytes(32);
}

/** The secret as an endpoint's owner is shown it once, and as Standard Webhooks libraries take it. */
export function webhookSecretText(key: Buffer): string {
  return `${WEBHOOK_SECRET_PREFIX}${key.toString('base64')}`;
}

/**
 * The webhook-signature header of one attempt: "v1," and the base64 HMAC-SHA256, keyed with the secret's bytes, of
 * "{id}.{timestamp}.{body}" (timestamp in Unix seconds, body exactly as sent).
 */
export function signWebhook(key: Buffer, id: string, timestamp: number, body: string): string {
  return `v1,${createHmac('sha256', key).update(`${id}.${timestamp}.${body}`).digest('base64')}`;
}
