import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { SECRET_ENV_VAR, signingSnippets } from '../../../src/console/ui/snippets.js';

// HMAC-SHA256 hex of "Message" keyed with "secret", computed independently of the snippets.
const VECTOR = { secret: 'secret', userId: 'Message', hash: 'aa747c502a898200f9e4fa21bac68136f886a0e27aec70ba06daf2e2a5cb5597' };

describe('console: signing snippets', () => {
  const dir = mkdtempSync(join(tmpdir(), 'secure-mode-snippets-'));
  after(() => rmSync(dir, { recursive: true, force: true }));
  const snippets = signingSnippets({ userId: VECTOR.userId });
  const code = (id: string) => snippets.find((s) => s.id === id)!.code;
  const run = (command: string, file: string, source: string) => {
    const path = join(dir, file);
    writeFileSync(path, source);
    return execFileSync(command, [path], {
      env: { ...process.env, [SECRET_ENV_VAR]: VECTOR.secret },
      encoding: 'utf8',
    }).trim();
  };

  it('covers Node, Python, Ruby, PHP and Go, reading the secret from the environment, never a value', () => {
    assert.deepEqual(
      snippets.map((s) => s.id),
      ['node', 'python', 'ruby', 'php', 'go'],
    );
    for (const s of snippets) {
      assert.ok(s.code.includes(SECRET_ENV_VAR), `${s.id} reads ${SECRET_ENV_VAR}`);
      assert.ok(s.code.includes(VECTOR.userId), `${s.id} signs the example user_id`);
      assert.doesNotMatch(s.code, /[A-Za-z0-9_-]{43}/, `${s.id} holds nothing shaped like a secret`);
    }
  });

  it('the Node snippet computes the known vector', () => {
    assert.equal(run(process.execPath, 'sign.cjs', code('node')), VECTOR.hash);
  });

  it('the Python snippet computes the known vector', () => {
    assert.equal(run('python3', 'sign.py', code('python')), VECTOR.hash);
  });

  it('refuses an example user_id it could not quote safely in every language', () => {
    assert.throws(() => signingSnippets({ userId: "a'b" }), /unsupported characters/);
    assert.throws(() => signingSnippets({ envVar: 'lower' }), /unsupported characters/);
  });
});
