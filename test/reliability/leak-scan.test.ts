import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { scanForLeaks } from '../helpers/leaks.js';

/** The scanner the suite ends with must find what it is looking for, in every form, and nothing else. */
describe('leak scanner', () => {
  let dir: string;
  const secret = randomBytes(32).toString('base64url');
  const token = `smt_${randomBytes(32).toString('base64url')}`;
  const userHash = randomBytes(32).toString('hex');
  const jwt = `eyJhbGciOiJIUzI1NiJ9.eyJ1c2VyX2lkIjoiMSJ9.${randomBytes(32).toString('base64url')}`;

  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'secure-mode-scan-'));
    mkdirSync(join(dir, 'artifacts'));
    const values = [
      { kind: 'secret', value: secret },
      { kind: 'token', value: token },
      { kind: 'user_hash', value: userHash },
      { kind: 'jwt', value: jwt },
    ];
    writeFileSync(join(dir, 'values-1.jsonl'), values.map((v) => JSON.stringify(v)).join('\n'));
  });
  after(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it('passes clean artifacts, including ones holding look-alikes', () => {
    writeFileSync(
      join(dir, 'artifacts', 'clean.log'),
      `{"msg":"request","route":"/secure_mode_secrets"} ${secret.slice(0, 40)} ${token.slice(1)}`,
    );
    assert.deepEqual(scanForLeaks(dir).hits, []);
  });

  it('finds each value as text, a secret as the raw bytes it encodes, and in binary files', () => {
    writeFileSync(join(dir, 'artifacts', 'log'), `{"authorization":"Bearer ${token}"}`);
    writeFileSync(join(dir, 'artifacts', 'body'), `{"errors":[{"message":"bad ${userHash}"}]}`);
    writeFileSync(join(dir, 'artifacts', 'metrics'), `x{jwt="${jwt}"} 1`);
    writeFileSync(
      join(dir, 'artifacts', 'db-main'),
      Buffer.concat([randomBytes(100), Buffer.from(secret, 'base64url'), randomBytes(100)]),
    );
    const result = scanForLeaks(dir);
    const found = result.hits.map((h) => `${h.kind}:${h.as}:${h.artifact}`).sort();
    assert.deepEqual(found, ['jwt:text:metrics', 'secret:decoded bytes:db-main', 'token:text:log', 'user_hash:text:body']);
    assert.equal(result.values, 4);
    assert.ok(
      result.hits.every((h) => h.valuePrefix.length <= 7),
      'the report never prints a whole credential',
    );
  });

  it('finds a webhook signing secret as text and as the key bytes after whsec_', () => {
    const scanDir = mkdtempSync(join(tmpdir(), 'secure-mode-scan-whsec-'));
    try {
      mkdirSync(join(scanDir, 'artifacts'));
      const key = randomBytes(32);
      const whsec = `whsec_${key.toString('base64')}`;
      writeFileSync(join(scanDir, 'values-1.jsonl'), JSON.stringify({ kind: 'secret', value: whsec }));
      writeFileSync(join(scanDir, 'artifacts', 'request'), `{"secret":"${whsec}"}`);
      writeFileSync(join(scanDir, 'artifacts', 'db-main'), Buffer.concat([randomBytes(50), key, randomBytes(50)]));
      const found = scanForLeaks(scanDir)
        .hits.map((h) => `${h.as}:${h.artifact}`)
        .sort();
      assert.deepEqual(found, ['decoded bytes:db-main', 'text:request']);
    } finally {
      rmSync(scanDir, { recursive: true, force: true });
    }
  });
});
