import { appendFileSync, copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * The suite's leak scan (see test/run.ts and docs/guarantees.md). Helpers record every credential a test creates or
 * sends, and everything the service emits — logs, error bodies, metrics, database files — under the directory in
 * SECURE_MODE_LEAK_DIR. After the last test file, the runner searches every artifact for every recorded value.
 * Without SECURE_MODE_LEAK_DIR (a single file run by hand) recording is off.
 */
export type SensitiveKind = 'secret' | 'token' | 'user_hash' | 'jwt';

export interface SensitiveValue {
  kind: SensitiveKind;
  value: string;
}

/** Shorter values could match by chance; every real credential here is longer. */
export const MIN_RECORDED_LENGTH = 16;

const leakDir = process.env.SECURE_MODE_LEAK_DIR || undefined;
let artifactCount = 0;

function artifactsDir(dir: string): string {
  const path = join(dir, 'artifacts');
  mkdirSync(path, { recursive: true });
  return path;
}

export function recordSensitive(kind: SensitiveKind, value: string | undefined | null): void {
  if (!leakDir || typeof value !== 'string' || value.length < MIN_RECORDED_LENGTH) return;
  mkdirSync(leakDir, { recursive: true });
  appendFileSync(join(leakDir, `values-${process.pid}.jsonl`), `${JSON.stringify({ kind, value })}\n`);
}

/** Something the service emitted (a log, a response body, metrics text), to be searched. */
export function recordArtifact(name: string, content: string | Buffer): void {
  if (!leakDir || content.length === 0) return;
  const safe = name.replace(/[^A-Za-z0-9._-]/g, '_');
  writeFileSync(join(artifactsDir(leakDir), `${process.pid}-${++artifactCount}-${safe}`), content);
}

/** Copies a test database's files (main, WAL, shared memory) before its directory is deleted. */
export function recordDatabaseFiles(databaseFile: string): void {
  if (!leakDir) return;
  for (const suffix of ['', '-wal', '-shm', '-journal']) {
    const file = `${databaseFile}${suffix}`;
    if (existsSync(file) && statSync(file).isFile()) {
      copyFileSync(file, join(artifactsDir(leakDir), `${process.pid}-${++artifactCount}-db${suffix || '-main'}`));
    }
  }
}

/** A request body's credentials, as a Messenger would send them to the verification API. */
export function recordRequestCredentials(body: unknown): void {
  if (!body || typeof body !== 'object') return;
  const fields = body as Record<string, unknown>;
  if (typeof fields.user_hash === 'string') recordSensitive('user_hash', fields.user_hash);
  if (typeof fields.intercom_user_jwt === 'string') recordSensitive('jwt', fields.intercom_user_jwt);
  if (typeof fields.secret === 'string') recordSensitive('secret', fields.secret);
}

export interface LeakHit {
  kind: SensitiveKind;
  /** Only a prefix: the report must not print the credential it found. */
  valuePrefix: string;
  artifact: string;
  as: 'text' | 'decoded bytes';
}

export function readRecordedValues(dir: string): SensitiveValue[] {
  const values = new Map<string, SensitiveValue>();
  for (const name of existsSync(dir) ? readdirSync(dir) : []) {
    if (!name.startsWith('values-')) continue;
    for (const line of readFileSync(join(dir, name), 'utf8').split('\n')) {
      if (!line) continue;
      const v = JSON.parse(line) as SensitiveValue;
      values.set(`${v.kind}\0${v.value}`, v);
    }
  }
  return [...values.values()];
}

interface Needle {
  v: SensitiveValue;
  bytes: Buffer;
  as: LeakHit['as'];
}

/** Every form a value could take in an artifact: its text, and for secrets the 32 bytes it encodes. */
function needles(v: SensitiveValue): Needle[] {
  const forms: Needle[] = [{ v, bytes: Buffer.from(v.value, 'utf8'), as: 'text' }];
  if (v.kind === 'secret' && /^[A-Za-z0-9_-]{43}$/.test(v.value))
    forms.push({ v, bytes: Buffer.from(v.value, 'base64url'), as: 'decoded bytes' });
  // A webhook signing secret (whsec_ and base64): its key bytes are what an HMAC would leak.
  if (v.kind === 'secret' && /^whsec_[A-Za-z0-9+/]{43}=$/.test(v.value))
    forms.push({ v, bytes: Buffer.from(v.value.slice('whsec_'.length), 'base64'), as: 'decoded bytes' });
  return forms;
}

/**
 * Searches every artifact under dir for every recorded value, in one pass per artifact: needles are indexed by their
 * last four bytes (random in every credential, unlike the fixed prefixes of tokens and JWTs), so the cost is one
 * map lookup per artifact byte however many values the suite recorded.
 */
export function scanForLeaks(dir: string): { values: number; artifacts: number; bytes: number; hits: LeakHit[] } {
  const values = readRecordedValues(dir);
  const index = new Map<number, Needle[]>();
  for (const needle of values.flatMap(needles)) {
    const key = needle.bytes.readUInt32LE(needle.bytes.length - 4);
    const list = index.get(key);
    if (list) list.push(needle);
    else index.set(key, [needle]);
  }
  const path = join(dir, 'artifacts');
  const names = existsSync(path) ? readdirSync(path).sort() : [];
  const hits: LeakHit[] = [];
  let bytes = 0;
  for (const name of names) {
    const content = readFileSync(join(path, name));
    bytes += content.length;
    for (let end = 4; end <= content.length; end++) {
      const candidates = index.get(content.readUInt32LE(end - 4));
      if (!candidates) continue;
      for (const n of candidates) {
        const start = end - n.bytes.length;
        if (start >= 0 && content.compare(n.bytes, 0, n.bytes.length, start, end) === 0) {
          hits.push({ kind: n.v.kind, valuePrefix: `${n.v.value.slice(0, 6)}…`, artifact: name, as: n.as });
        }
      }
    }
  }
  return { values: values.length, artifacts: names.length, bytes, hits };
}
