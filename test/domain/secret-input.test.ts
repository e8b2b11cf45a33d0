import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DomainError } from '../../src/domain/errors.js';
import { normaliseSecretName } from '../../src/domain/secret-input.js';

describe('secret names', () => {
  it('refuse Unicode format characters (Cf) and controls with parameter_invalid on name', () => {
    const invisible = [
      '\u202e', // RIGHT-TO-LEFT OVERRIDE: displays the rest reversed
      '\u202d',
      '\u2066', // LEFT-TO-RIGHT ISOLATE
      '\u2069',
      '\u200e', // LEFT-TO-RIGHT MARK
      '\u061c', // ARABIC LETTER MARK
      '\u200b', // ZERO WIDTH SPACE
      '\u200c',
      '\u200d',
      '\u2060', // WORD JOINER
      '\u00ad', // SOFT HYPHEN
      '\ufeff', // BOM, inside the name (trim takes it off the ends)
      '\u{e0041}', // TAG LATIN CAPITAL LETTER A
      '\u0000',
      '\u001b',
      '\u007f',
      '\u0085',
    ];
    for (const c of invisible) {
      assert.throws(
        () => normaliseSecretName(`Prod${c}Web`),
        (e: unknown) => e instanceof DomainError && e.code === 'parameter_invalid' && e.field === 'name',
        `U+${c.codePointAt(0)!.toString(16)}`,
      );
    }
  });

  it('accept every other script, symbols and emoji', () => {
    for (const name of ['Android 本番 🔐', 'עברית', 'العربية', 'Ünïcödé – “quoted”', 'a\u0301 combining']) {
      assert.equal(normaliseSecretName(` ${name} `), name);
    }
  });
});
