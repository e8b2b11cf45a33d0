import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';

/** Key material that cannot work (wrong length, unsafe file mode); start-up reports it as a configuration error. */
export class KeyMaterialError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'KeyMaterialError';
  }
}

/**
 * Envelope encryption of secret material at rest: AES-256-GCM under a master key. Each ciphertext names the key
 * it was made with (a fingerprint, never the key), so the master key can rotate while old ciphertexts still open.
 *
 * Layout: version(1) | keyId(8) | iv(12) | tag(16) | ciphertext
 */
const VERSION = 1;
const KEY_ID_LENGTH = 8;
const IV_LENGTH = 12;
const TAG_LENGTH = 16;
const HEADER_LENGTH = 1 + KEY_ID_LENGTH + IV_LENGTH + TAG_LENGTH;

export class DecryptionError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DecryptionError';
  }
}

export interface MasterKey {
  readonly id: string;
  readonly key: Buffer;
}

export function parseMasterKey(text: string, source: string): MasterKey {
  const trimmed = text.trim();
  const key = /^[0-9a-fA-F]{64}$/.test(trimmed) ? Buffer.from(trimmed, 'hex') : Buffer.from(trimmed, 'base64');
  // Node's base64 decoder skips what it cannot read: a damaged key ("…=AAAA", stray characters) must not pass as valid.
  const canonical =
    /^[0-9a-fA-F]{64}$/.test(trimmed) ||
    key.toString('base64').replace(/=+$/, '') === trimmed.replace(/=+$/, '').replace(/-/g, '+').replace(/_/g, '/');
  if (key.length !== 32 || !canonical) {
    throw new KeyMaterialError(
      `${source} must be 32 bytes, given as 64 hex characters or base64 (got ${canonical ? `${key.length} bytes` : 'text that is not valid hex or base64'})`,
    );
  }
  return { id: keyIdOf(key), key };
}

export function keyIdOf(key: Buffer): string {
  return createHash('sha256')
    .update('secure-mode master key id\0')
    .update(key)
    .digest()
    .subarray(0, KEY_ID_LENGTH)
    .toString('hex');
}

export function newMasterKeyText(): string {
  return randomBytes(32).toString('base64');
}

export class Keyring {
  readonly current: MasterKey;
  private readonly byId: Map<string, MasterKey>;

  constructor(current: MasterKey, previous: MasterKey[] = []) {
    this.current = current;
    this.byId = new Map([current, ...previous].map((k) => [k.id, k]));
  }

  has(keyId: string): boolean {
    return this.byId.has(keyId);
  }

  get keyIds(): string[] {
    return [...this.byId.keys()];
  }

  encrypt(plaintext: Buffer, aad: string): Buffer {
    const iv = randomBytes(IV_LENGTH);
    const cipher = createCipheriv('aes-256-gcm', this.current.key, iv);
    cipher.setAAD(Buffer.from(aad, 'utf8'));
    const body = Buffer.concat([cipher.update(plaintext), cipher.final()]);
    return Buffer.concat([Buffer.from([VERSION]), Buffer.from(this.current.id, 'hex'), iv, cipher.getAuthTag(), body]);
  }

  decrypt(envelope: Buffer, aad: string): Buffer {
    if (envelope.length < HEADER_LENGTH || envelope[0] !== VERSION) throw new DecryptionError('unknown ciphertext format');
    const keyId = envelopeKeyId(envelope);
    const key = this.byId.get(keyId);
    if (!key) throw new DecryptionError(`ciphertext was made with master key ${keyId}, which is not configured`);
    const iv = envelope.subarray(1 + KEY_ID_LENGTH, 1 + KEY_ID_LENGTH + IV_LENGTH);
    const tag = envelope.subarray(1 + KEY_ID_LENGTH + IV_LENGTH, HEADER_LENGTH);
    const decipher = createDecipheriv('aes-256-gcm', key.key, iv);
    decipher.setAAD(Buffer.from(aad, 'utf8'));
    decipher.setAuthTag(tag);
    try {
      return Buffer.concat([decipher.update(envelope.subarray(HEADER_LENGTH)), decipher.final()]);
    } catch {
      throw new DecryptionError(`ciphertext failed authentication under master key ${keyId}`);
    }
  }
}

export function envelopeKeyId(envelope: Buffer): string {
  return envelope.subarray(1, 1 + KEY_ID_LENGTH).toString('hex');
}

/** Associated data binds a ciphertext to its row: a ciphertext copied to another secret or workspace fails to open. */
export function secretAad(workspaceId: number, secretId: number): string {
  return `secure-mode/secret/v1/${workspaceId}/${secretId}`;
}

/** Associated data of a kept create response: it opens only for the workspace and Idempotency-Key it was made for. */
export function idempotencyAad(workspaceId: number, key: string): string {
  return `secure-mode/idempotency/v1/${workspaceId}/${key}`;
}

/** Associated data of a webhook endpoint's signing secret: it opens only for that endpoint of that workspace. */
export function webhookSecretAad(workspaceId: number, endpointId: number): string {
  return `secure-mode/webhook/v1/${workspaceId}/${endpointId}`;
}
