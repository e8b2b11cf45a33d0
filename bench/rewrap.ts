/**
 * keys rewrap throughput: N secrets under an old key, re-encrypted under a new one through the Store port, next to a
 * baseline of the same number of bare single-row UPDATE commits on the same file (the fsync cost that dominates).
 * Usage: node --import tsx bench/rewrap.ts [N]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { Keyring, newMasterKeyText, parseMasterKey, secretAad } from '../src/crypto/keyring.js';
import { generateSecret } from '../src/crypto/random.js';
import { rewrapSecrets } from '../src/domain/rewrap.js';
import { SqliteStore } from '../src/storage/sqlite/sqlite-store.js';

const n = Number(process.argv[2] ?? 2000);
const dir = mkdtempSync(join(tmpdir(), 'secure-mode-bench-rewrap-'));
try {
  const file = join(dir, 'bench.db');
  const store = new SqliteStore({ filename: file });
  await store.migrate();
  const oldKey = parseMasterKey(newMasterKeyText(), 'old');
  const old = new Keyring(oldKey);
  const db = new Database(file);
  db.pragma('journal_mode = WAL');
  db.prepare(
    "INSERT INTO workspaces (id, app_id, name, default_version, rate_limit, created_at) VALUES (1, 'bench', 'bench', 'Preview', 1000, 0)",
  ).run();
  const insert = db.prepare(
    "INSERT INTO secrets (id, workspace_id, name, supports_web, supports_ios, supports_android, ciphertext, key_id, created_at) VALUES (?, 1, 's', 1, 0, 0, ?, ?, 0)",
  );
  db.transaction(() => {
    for (let id = 1; id <= n; id++) insert.run(id, old.encrypt(Buffer.from(generateSecret()), secretAad(1, id)), old.current.id);
  })();

  db.pragma('synchronous = FULL');
  const touch = db.prepare('UPDATE secrets SET name = ? WHERE id = ?');
  let start = process.hrtime.bigint();
  for (let id = 1; id <= n; id++) touch.run('t', id);
  const baselineMs = Number(process.hrtime.bigint() - start) / 1e6;
  db.close();

  start = process.hrtime.bigint();
  const result = await rewrapSecrets(store, new Keyring(parseMasterKey(newMasterKeyText(), 'new'), [oldKey]));
  const rewrapMs = Number(process.hrtime.bigint() - start) / 1e6;
  await store.close();
  console.log(`secrets: ${n} (rewrapped ${result.rewrapped}, verified ${result.verified})`);
  console.log(
    `baseline, ${n} single-row UPDATE commits: ${baselineMs.toFixed(0)} ms (${((baselineMs / n) * 1000).toFixed(0)} µs each)`,
  );
  console.log(`keys rewrap incl. verification:        ${rewrapMs.toFixed(0)} ms (${((rewrapMs / n) * 1000).toFixed(0)} µs each)`);
  console.log(`ratio rewrap / baseline: ${(rewrapMs / baselineMs).toFixed(2)}`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
