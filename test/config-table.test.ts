import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { CONFIG_VARIABLES, loadConfig } from '../src/config.js';
import { ConfigError } from '../src/errors.js';

const README = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
const SOURCE = readFileSync(new URL('../src/config.ts', import.meta.url), 'utf8');

describe('configuration table', () => {
  it("the README's configuration table is the table loadConfig reads, row for row", () => {
    const start = README.indexOf('| variable | default | meaning |');
    assert.ok(start >= 0);
    const rows = README.slice(start).split('\n').slice(2);
    const table = rows.slice(
      0,
      rows.findIndex((line) => !line.startsWith('|')),
    );
    assert.deepEqual(
      table,
      CONFIG_VARIABLES.map((v) => `| \`${v.name}\` | ${v.shown} | ${v.meaning} |`),
    );
  });

  it('every variable loadConfig reads is in the table, and every table variable is read', () => {
    const read = new Set([...SOURCE.matchAll(/env(?:\.|, ')([A-Z_]+)/g)].map((m) => m[1]!));
    assert.deepEqual([...read].sort(), CONFIG_VARIABLES.map((v) => v.name).sort());
  });

  it('each integer takes its default when unset and refuses values outside its range, naming it', () => {
    for (const v of CONFIG_VARIABLES) {
      if (!v.integer) continue;
      assert.equal(v.shown.split(' ')[0], String(v.integer.default), v.name);
      if (v.integer.max < 10_000_000) {
        assert.throws(
          () => loadConfig({ [v.name]: String(v.integer!.max + 1) }),
          (err: unknown) => err instanceof ConfigError && err.message.startsWith(v.name),
        );
      }
      if (v.integer.min > 0) {
        assert.throws(
          () => loadConfig({ [v.name]: String(v.integer!.min - 1) }),
          (err: unknown) => err instanceof ConfigError && err.message.startsWith(v.name),
        );
      }
    }
    assert.equal(
      loadConfig({}).verifyRateLimit,
      CONFIG_VARIABLES.find((v) => v.name === 'SECURE_MODE_VERIFY_RATE_LIMIT')?.integer?.default,
    );
  });
});
