import { createHash, timingSafeEqual } from 'node:crypto';
import { type Keyring, idempotencyAad } from '../crypto/keyring.js';
import type { SecretRecord } from './model.js';

/** Ten minutes: long enough to retry a lost response, short enough that the kept secret does not linger. */
export const DEFAULT_IDEMPOTENCY_WINDOW_SECONDS = 600;

/**
 * What makes two creates "the same request": the fields the operation reads, as sent. Key order, whitespace and
 * fields the operation ignores do not matter.
 */
export function createRequestHash(body: {
  name: unknown;
  supports_web?: unknown;
  supports_ios?: unknown;
  supports_android?: unknown;
}): Buffer {
  return requestHash('create-secret', [body.name, body.supports_web, body.supports_ios, body.supports_android]);
}

/**
 * The hash of an operation's fields, in a fixed order (absent = null). The operation is part of it, so one key used
 * for two operations never replays the other's result.
 */
export function requestHash(operation: 'create-secret' | 'start-rotation', fields: unknown[]): Buffer {
  const canonical = JSON.stringify(fields.map((field) => field ?? null));
  return createHash('sha256').update(`secure-mode/${operation}/v1\0`).update(canonical).digest();
}

export function sameRequest(a: Buffer, b: Buffer): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}

/** The original create's result, kept encrypted so a replay answers with exactly the same body. */
export interface KeptCreate {
  record: SecretRecord;
  secret: string;
}

export function sealKeptCreate(keyring: Keyring, workspaceId: number, key: string, kept: KeptCreate): Buffer {
  return sealKept(keyring, workspaceId, key, kept);
}

export function openKeptCreate(keyring: Keyring, workspaceId: number, key: string, sealed: Buffer): KeptCreate {
  return openKept<KeptCreate>(keyring, workspaceId, key, sealed);
}

/** Any kept result, encrypted with the workspace and the key as associated data (it opens for nothing else). */
export function sealKept(keyring: Keyring, workspaceId: number, key: string, kept: unknown): Buffer {
  return keyring.encrypt(Buffer.from(JSON.stringify(kept), 'utf8'), idempotencyAad(workspaceId, key));
}

export function openKept<T>(keyring: Keyring, workspaceId: number, key: string, sealed: Buffer): T {
  return JSON.parse(keyring.decrypt(sealed, idempotencyAad(workspaceId, key)).toString('utf8')) as T;
}
