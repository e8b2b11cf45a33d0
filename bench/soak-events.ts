/**
 * npm run soak:events — 10,000 events through a receiver that fails, times out and is down across a server restart:
 * every event arrives, each under one webhook-id (repeats only as retries of that id), none lost.
 *
 * One server (SQLite, a child process), one endpoint subscribed to secret.updated, SOAK_WRITERS clients renaming their
 * own secret over and over (each rename is one event). The receiver answers 500 to the first attempt of every third
 * event and never answers one in every SOAK_HANG_EVERY (the 10 s delivery timeout ends those). Halfway, the receiver
 * goes down, more events are raised, the server is stopped (SIGTERM) and started again on the same database, then
 * the receiver comes back on the same port.
 *
 * SOAK_EVENTS (default 10000), SOAK_WRITERS (default 4), SOAK_HANG_EVERY (default 500), SOAK_TIMEOUT_S (default 600).
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { api } from '../test/helpers/app.js';
import { spawnServer, type ServerProcess } from '../test/helpers/process.js';
import { WebhookReceiver, verifyOurselves } from '../test/helpers/webhook-receiver.js';

const total = Number(process.env.SOAK_EVENTS ?? 10_000);
const writers = Number(process.env.SOAK_WRITERS ?? 4);
const hangEvery = Number(process.env.SOAK_HANG_EVERY ?? 500);
const timeoutS = Number(process.env.SOAK_TIMEOUT_S ?? 600);
const log = (line = '') => process.stdout.write(`${line}\n`);

const dir = mkdtempSync(join(tmpdir(), 'secure-mode-soak-events-'));
const token = `tok_${randomBytes(16).toString('hex')}`;
const env = {
  SECURE_MODE_DATABASE_URL: `sqlite:${join(dir, 'db.sqlite')}`,
  SECURE_MODE_BOOTSTRAP_TOKEN: token,
  SECURE_MODE_WEBHOOK_ALLOW_PRIVATE: 'true',
  SECURE_MODE_WEBHOOK_RETRY_BASE_MS: '100',
  SECURE_MODE_MAX_LIVE_SECRETS: '100',
};

/** Per webhook-id: the event it carried (type and name) and whether a 2xx answered it. */
const seen = new Map<string, { event: string; acked: boolean; requests: number }>();
let serial = 0;
let secret = '';
let badSignatures = 0;
let conflicting = 0;

function answer(id: string, attempt: number): number | 'hang' {
  const n = Number(id.slice('evt_'.length));
  if (n % hangEvery === 0 && attempt === 1) return 'hang';
  if (n % 3 === 0 && attempt === 1) return 500;
  return 204;
}

function receiverOn(port: number): Promise<WebhookReceiver> {
  const receiver = new WebhookReceiver();
  receiver.answer = (r) => {
    serial++;
    if (!verifyOurselves(secret, r)) badSignatures++;
    const { type, data } = JSON.parse(r.body) as { type: string; data: { name: string } };
    const event = `${type}:${data.name}`;
    const entry = seen.get(r.id) ?? { event, acked: false, requests: 0 };
    if (entry.event !== event) conflicting++;
    entry.requests++;
    const reply = answer(r.id, r.attempt);
    if (typeof reply === 'number' && reply < 300) entry.acked = true;
    seen.set(r.id, entry);
    return reply;
  };
  return receiver.start(port).then(() => receiver);
}

let server: ServerProcess = await spawnServer(env);
let receiver = await receiverOn(0);
const port = receiver.port;
const hook = `http://127.0.0.1:${port}/hook`;
const raised = new Set<string>();
const started = performance.now();

async function write(count: number): Promise<void> {
  const per = Math.ceil(count / writers);
  await Promise.all(
    ids.map(async (id, w) => {
      for (let i = 0; i < per && raised.size < target; i++) {
        const name = `w${w}-${raised.size}-${i}-${Math.random().toString(36).slice(2, 8)}`;
        const res = await api({ url: server.url, token }, 'PUT', `/secure_mode_secrets/${id}`, { body: { name } });
        if (res.status !== 200) throw new Error(`PUT answered ${res.status}: ${res.text}`);
        raised.add(`secret.updated:${name}`);
      }
    }),
  );
}

let target = 0;
const ids: string[] = [];
try {
  log(
    `secure-mode soak:events — node ${process.version}, ${cpus().length} CPU(s), load average ${loadavg()
      .map((l) => l.toFixed(2))
      .join(' ')}`,
  );
  const made = await api({ url: server.url, token }, 'POST', '/webhook_endpoints', {
    body: { url: hook, events: ['secret.updated'] },
  });
  if (made.status !== 201) throw new Error(`endpoint create answered ${made.status}`);
  secret = made.body.secret as string;
  for (let w = 0; w < writers; w++) {
    const res = await api({ url: server.url, token }, 'POST', '/secure_mode_secrets', {
      body: { name: `soak ${w}`, supports_web: true },
    });
    ids.push(res.body.id as string);
  }
  target = Math.floor(total / 2);
  await write(target);
  log(`  ${raised.size} events raised; receiver down`);
  await receiver.stop();
  target = Math.floor(total * 0.6);
  await write(target - raised.size);
  log(`  ${raised.size} events raised; server restarting (SIGTERM)`);
  await server.stop();
  server = await spawnServer(env);
  target = total;
  await write(target - raised.size);
  log(`  ${raised.size} events raised; receiver back`);
  receiver = await receiverOn(port);
  const deadline = performance.now() + timeoutS * 1000;
  const arrived = () => new Set([...seen.values()].filter((e) => e.acked).map((e) => e.event));
  while (arrived().size < raised.size && performance.now() < deadline) await new Promise((r) => setTimeout(r, 500));
  const got = arrived();
  const lost = [...raised].filter((e) => !got.has(e));
  const retries = [...seen.values()].reduce((n, e) => n + e.requests - 1, 0);
  log();
  log(`  events raised:                     ${raised.size}`);
  log(`  events acknowledged by the receiver: ${got.size}`);
  log(`  webhook-ids seen:                  ${seen.size} (one per event: ${seen.size === raised.size ? 'yes' : 'NO'})`);
  log(`  requests: ${serial}, of which retries of an id already seen: ${retries}`);
  log(`  ids carrying two different events: ${conflicting}; bad signatures: ${badSignatures}`);
  log(`  lost: ${lost.length}${lost.length ? ` (e.g. ${lost.slice(0, 3).join(', ')})` : ''}`);
  log(`  took ${((performance.now() - started) / 1000).toFixed(0)} s`);
  const ok = lost.length === 0 && conflicting === 0 && badSignatures === 0 && seen.size === raised.size;
  log(`  every event arrived, each under one webhook-id: ${ok ? 'yes' : 'NO'}`);
  process.exitCode = ok ? 0 : 1;
} finally {
  await server.stop();
  await receiver.stop();
  rmSync(dir, { recursive: true, force: true });
}
