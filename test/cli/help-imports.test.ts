import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { describe, it } from 'node:test';
import { ROOT } from '../helpers/process.js';

/** The modules a file imports at load time (static imports and re-exports; `import type` costs nothing at run time). */
function staticImports(file: string): string[] {
  const source = readFileSync(file, 'utf8');
  const specifiers = [...source.matchAll(/^(?:import|export)\s+(?!type\s)[^'"]*?from\s+'(\.{1,2}\/[^']+)'/gm)].map((m) => m[1]!);
  return specifiers.map((s) => join(dirname(file), s.replace(/\.js$/, '.ts')));
}

describe('secure-mode --help', () => {
  it('loads no server module: the CLI reaches the runtime, the HTTP app and the storage adapters only by dynamic import', () => {
    const seen = new Set<string>();
    const pending = [join(ROOT, 'src/cli/index.ts')];
    while (pending.length > 0) {
      const file = pending.pop()!;
      if (seen.has(file)) continue;
      seen.add(file);
      pending.push(...staticImports(file));
    }
    const loaded = [...seen].map((f) => relative(ROOT, f));
    for (const server of ['src/runtime.ts', 'src/http/app.ts', 'src/storage/open.ts']) {
      assert.ok(!loaded.includes(server), `${server} is loaded by the CLI at start: ${loaded.join(', ')}`);
    }
  });
});
