import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import {
  DecryptionError,
  KeyMaterialError,
  Keyring,
  envelopeKeyId,
  keyIdOf,
  parseMasterKey,
  secretAad,
} from '../../src/crypto/keyring.js';
import { generateSecret } from '../../src/crypto/random.js';

const masterKey = () => parseMasterKey(randomBytes(32).toString('base64'), 'test key');

describe('Keyring (AES-256-GCM envelopes)', () => {
  const keyring = new Keyring(masterKey());
  const secret = Buffer.from(generateSecret(), 'utf8');

  it('opens what it sealed, under the same associated data', () => {
    const envelope = keyring.encrypt(secret, secretAad(1, 7));
    assert.deepEqual(keyring.decrypt(envelope, secretAad(1, 7)), secret);
    assert.equal(envelopeKeyId(envelope), keyring.current.id);
    assert.equal(envelope.indexOf(secret), -1, 'the plaintext is not in the envelope');
  });

  it('seals the same plaintext differently every time (fresh IV)', () => {
    const a = keyring.encrypt(secret, secretAad(1, 7));
    const b = keyring.encrypt(secret, secretAad(1, 7));
    assert.notDeepEqual(a, b);
  });

  it('binds a ciphertext to its row: copied to another secret or workspace, it does not open', () => {
    const envelope = keyring.encrypt(secret, secretAad(1, 7));
    for (const [workspace, id] of [
      [1, 8],
      [2, 7],
      [7, 1],
      [17, 7],
      [1, 77],
    ] as const) {
      assert.throws(() => keyring.decrypt(envelope, secretAad(workspace, id)), DecryptionError, `${workspace}/${id}`);
    }
  });

  it('distinct rows have distinct associated data, even where digits could run together', () => {
    const seen = new Set<string>();
    for (let w = 1; w <= 30; w++) for (let s = 1; s <= 30; s++) seen.add(secretAad(w, s));
    assert.equal(seen.size, 900);
  });

  it('refuses any change to the envelope', () => {
    const envelope = keyring.encrypt(secret, secretAad(3, 4));
    for (let i = 0; i < envelope.length; i++) {
      const tampered = Buffer.from(envelope);
      tampered[i]! ^= 0x01;
      assert.throws(() => keyring.decrypt(tampered, secretAad(3, 4)), DecryptionError, `byte ${i}`);
    }
    assert.throws(() => keyring.decrypt(envelope.subarray(0, envelope.length - 1), secretAad(3, 4)), DecryptionError);
    assert.throws(() => keyring.decrypt(Buffer.alloc(0), secretAad(3, 4)), DecryptionError);
  });

  it('refuses an envelope from another master key, naming the key id but never the key', () => {
    const other = new Keyring(masterKey());
    const envelope = other.encrypt(secret, secretAad(1, 1));
    assert.throws(
      () => keyring.decrypt(envelope, secretAad(1, 1)),
      (err: Error) =>
        err instanceof DecryptionError &&
        err.message.includes(other.current.id) &&
        !err.message.includes(other.current.key.toString('base64')),
    );
  });

  it('still opens envelopes of a previous key after rotation, and seals under the new one', () => {
    const old = masterKey();
    const envelope = new Keyring(old).encrypt(secret, secretAad(1, 2));
    const rotated = new Keyring(masterKey(), [old]);
    assert.deepEqual(rotated.decrypt(envelope, secretAad(1, 2)), secret);
    assert.notEqual(envelopeKeyId(rotated.encrypt(secret, secretAad(1, 2))), old.id);
  });
});

describe('parseMasterKey', () => {
  it('takes 32 bytes as base64 or as hex, giving the same key id', () => {
    const raw = randomBytes(32);
    const fromBase64 = parseMasterKey(`${raw.toString('base64')}\n`, 'k');
    const fromHex = parseMasterKey(raw.toString('hex'), 'k');
    assert.deepEqual(fromBase64.key, raw);
    assert.deepEqual(fromHex.key, raw);
    assert.equal(fromBase64.id, keyIdOf(raw));
    assert.equal(fromHex.id, fromBase64.id);
  });

  it('refuses any other length with a one-line KeyMaterialError that does not echo the key', () => {
    for (const text of [
      randomBytes(16).toString('base64'),
      randomBytes(31).toString('hex'),
      randomBytes(33).toString('base64'),
      '',
    ]) {
      assert.throws(
        () => parseMasterKey(text, 'SECURE_MODE_MASTER_KEY'),
        (err: Error) =>
          err instanceof KeyMaterialError &&
          err.message.startsWith('SECURE_MODE_MASTER_KEY must be 32 bytes') &&
          !err.message.includes('\n') &&
          (text === '' || !err.message.includes(text)),
      );
    }
  });
});
