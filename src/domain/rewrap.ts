import { DecryptionError, Keyring, envelopeKeyId, idempotencyAad, secretAad, webhookSecretAad } from '../crypto/keyring.js';
import type { SecretWithCiphertext } from './model.js';
import type { Store } from './ports.js';

export interface RewrapProgress {
  /** Secrets re-encrypted (or found already current) so far in this run. */
  done: number;
  /** Secrets that were not under the current key when this run started. */
  total: number;
}

export interface RewrapResult {
  rewrapped: number;
  /** Every stored secret, deleted ones included, opened with the current key alone. */
  verified: number;
  currentKeyId: string;
}

export class RewrapVerificationError extends Error {
  constructor(
    readonly failedIds: number[],
    currentKeyId: string,
  ) {
    super(
      `${failedIds.length} secret(s) do not open under the current master key ${currentKeyId} alone (ids ${failedIds.slice(0, 10).join(', ')}${failedIds.length > 10 ? ', …' : ''}): keep the previous keys configured`,
    );
    this.name = 'RewrapVerificationError';
  }
}

/** No ciphertext names the empty key id, so this pages through every stored secret. */
const EVERY_KEY = '';

async function* pages(store: Store, notUnderKeyId: string, batchSize: number): AsyncGenerator<SecretWithCiphertext[]> {
  let after = 0;
  for (;;) {
    const rows = await store.listSecretsNotUnderKey(notUnderKeyId, after, batchSize);
    if (rows.length === 0) return;
    yield rows;
    after = rows[rows.length - 1]!.id;
  }
}

/**
 * Re-encrypts every stored secret (deleted ones too) that is not under the keyring's current master key, one
 * compare-and-swap per secret: each replacement is durable on its own, so a run that is killed loses nothing and
 * the next run carries on with what is left. Running servers are unaffected (they hold plaintext in memory and open
 * either ciphertext). Afterwards every secret is opened with the current key alone, to prove old keys can go.
 */
export async function rewrapSecrets(
  store: Store,
  keyring: Keyring,
  options: { batchSize?: number; onProgress?: (p: RewrapProgress) => void } = {},
): Promise<RewrapResult> {
  const batchSize = options.batchSize ?? 200;
  const currentKeyId = keyring.current.id;
  let total = 0;
  for await (const rows of pages(store, currentKeyId, batchSize)) total += rows.length;

  let done = 0;
  let rewrapped = 0;
  options.onProgress?.({ done, total });
  for await (const rows of pages(store, currentKeyId, batchSize)) {
    for (const row of rows) {
      const aad = secretAad(row.workspaceId, row.id);
      const plaintext = keyring.decrypt(row.ciphertext, aad);
      const sealed = keyring.encrypt(plaintext, aad);
      plaintext.fill(0);
      // false: another run replaced it meanwhile; verification below covers it either way.
      if (await store.replaceCiphertext(row.id, row.ciphertext, sealed)) rewrapped++;
      done++;
    }
    options.onProgress?.({ done: Math.min(done, total), total: Math.max(total, done) });
  }

  const currentOnly = new Keyring(keyring.current);
  const failed: number[] = [];
  let verified = 0;
  for await (const rows of pages(store, EVERY_KEY, batchSize)) {
    for (const row of rows) {
      try {
        currentOnly.decrypt(row.ciphertext, secretAad(row.workspaceId, row.id)).fill(0);
        verified++;
      } catch (err) {
        if (!(err instanceof DecryptionError)) throw err;
        failed.push(row.id);
      }
    }
  }
  if (failed.length > 0) throw new RewrapVerificationError(failed, currentKeyId);
  await rewrapIdempotencyRecords(store, keyring, currentOnly);
  await rewrapWebhookSecrets(store, keyring, currentOnly, batchSize);
  return { rewrapped, verified, currentKeyId };
}

/**
 * Idempotency-Key records keep an encrypted copy of a create response for a few minutes; they move to the new key
 * too, so dropping the old key right after a rewrap cannot break a replay. A record that expires or is replayed
 * meanwhile is simply skipped by the compare-and-swap.
 */
async function rewrapIdempotencyRecords(store: Store, keyring: Keyring, currentOnly: Keyring): Promise<void> {
  for (const record of await store.listIdempotencyRecords()) {
    if (envelopeKeyId(record.response) === currentOnly.current.id) continue;
    const aad = idempotencyAad(record.workspaceId, record.key);
    const plaintext = keyring.decrypt(record.response, aad);
    const sealed = currentOnly.encrypt(plaintext, aad);
    plaintext.fill(0);
    await store.replaceIdempotencyResponse(record.workspaceId, record.key, record.response, sealed);
  }
}

/**
 * Webhook endpoints' signing secrets move to the new key as secrets do (one compare-and-swap each, deleted endpoints
 * too), and are then opened with the current key alone.
 */
async function rewrapWebhookSecrets(store: Store, keyring: Keyring, currentOnly: Keyring, batchSize: number): Promise<void> {
  const currentKeyId = currentOnly.current.id;
  for (let after = 0; ;) {
    const rows = await store.listWebhookSecretsNotUnderKey(currentKeyId, after, batchSize);
    if (rows.length === 0) break;
    for (const row of rows) {
      const aad = webhookSecretAad(row.workspaceId, row.id);
      const plaintext = keyring.decrypt(row.ciphertext, aad);
      const sealed = currentOnly.encrypt(plaintext, aad);
      plaintext.fill(0);
      await store.replaceWebhookSecretCiphertext(row.id, row.ciphertext, sealed);
    }
    after = rows[rows.length - 1]!.id;
  }
  const failed: number[] = [];
  for (let after = 0; ;) {
    const rows = await store.listWebhookSecretsNotUnderKey(EVERY_KEY, after, batchSize);
    if (rows.length === 0) break;
    for (const row of rows) {
      try {
        currentOnly.decrypt(row.ciphertext, webhookSecretAad(row.workspaceId, row.id)).fill(0);
      } catch (err) {
        if (!(err instanceof DecryptionError)) throw err;
        failed.push(row.id);
      }
    }
    after = rows[rows.length - 1]!.id;
  }
  if (failed.length > 0) {
    throw new Error(
      `${failed.length} webhook signing secret(s) do not open under the current master key ${currentKeyId} alone (endpoint ids ${failed.slice(0, 10).join(', ')}): keep the previous keys configured`,
    );
  }
}
