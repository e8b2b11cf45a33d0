import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { deliveryRow } from '../../src/cli/webhooks.js';
import { api } from '../helpers/app.js';
import { recordArtifact, recordSensitive } from '../helpers/leaks.js';
import { runCli, spawnServer, type ServerProcess } from '../helpers/process.js';
import { WebhookReceiver, verifyOurselves, verifyWithLibrary } from '../helpers/webhook-receiver.js';

/** secure-mode webhooks list|get|create|delete|deliveries: the CLI as a subprocess against a server subprocess. */

const TOKEN = 'smt_webhooks_cli_test_token_0123456789';
const WHSEC = /whsec_[A-Za-z0-9+/]{43}=/g;
const SHOW_ONCE = /^secret \(shown once, store it now\): (whsec_[A-Za-z0-9+/]{43}=)$/m;

/**
 * What the CLI printed goes to the leak scan, but for the one place a signing secret may appear (the show-once line,
 * or create --json's "secret"), which is taken out; every secret seen is recorded, so the scan finds it anywhere else.
 */
function scanned(name: string, out: { stdout: string; stderr: string }, showsSecret = false): void {
  for (const secret of `${out.stdout}${out.stderr}`.match(WHSEC) ?? []) recordSensitive('secret', secret);
  recordArtifact(`${name}-stdout.txt`, showsSecret ? out.stdout.replace(SHOW_ONCE, '').replace(WHSEC, '') : out.stdout);
  recordArtifact(`${name}-stderr.txt`, out.stderr);
}

describe('how the CLI shows a delivery attempt', () => {
  const attempt = {
    type: 'webhook_delivery_attempt' as const,
    id: '1',
    event_id: 'evt_1',
    event_type: 'rotation.started',
    attempted_at: 1_800_000_000,
    duration_ms: 10_000,
    state: 'pending',
  };
  it('the status when the receiver answered, else the error', () => {
    assert.deepEqual(deliveryRow({ ...attempt, status: 500, error: null }), {
      event_id: 'evt_1',
      type: 'rotation.started',
      attempted: '2027-01-15T08:00:00Z',
      result: 'HTTP 500',
      duration: '10000ms',
      state: 'pending',
    });
    assert.equal(deliveryRow({ ...attempt, status: null, error: 'timed out' }).result, 'timed out');
  });
});

describe('secure-mode webhooks', () => {
  let server: ServerProcess;
  let dir: string;
  let env: Record<string, string>;
  const receiver = new WebhookReceiver();
  /** Only the deliveries test's endpoint posts here, so what arrives is its own. */
  const ownReceiver = new WebhookReceiver();
  let hookUrl: string;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'secure-mode-webhooks-cli-'));
    hookUrl = await receiver.start();
    server = await spawnServer({
      SECURE_MODE_DATABASE_URL: `sqlite:${join(dir, 'secure-mode.db')}`,
      SECURE_MODE_BOOTSTRAP_TOKEN: TOKEN,
      SECURE_MODE_WEBHOOK_ALLOW_PRIVATE: 'true',
      SECURE_MODE_WEBHOOK_RETRY_BASE_MS: '50',
    });
    env = { SECURE_MODE_URL: server.url, SECURE_MODE_TOKEN: TOKEN };
  });
  after(async () => {
    await server.stop();
    await receiver.stop();
    await ownReceiver.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  const cli = async (name: string, args: string[], showsSecret = false) => {
    const res = await runCli(args, env);
    scanned(name, res, showsSecret);
    return res;
  };

  it('create shows the signing secret once (or writes a new 0600 file); list and get never show it', async () => {
    const file = join(dir, 'whsec.txt');
    const created = await cli('create-file', [
      'webhooks',
      'create',
      hookUrl,
      '--events',
      'secret.created,secret.deleted',
      '--description',
      'ops pager',
      '--output-secret',
      file,
    ]);
    assert.equal(created.code, 0, created.stderr);
    const secret = readFileSync(file, 'utf8').trim();
    recordSensitive('secret', secret);
    assert.match(secret, /^whsec_[A-Za-z0-9+/]{43}=$/);
    assert.equal(statSync(file).mode & 0o777, 0o600);
    assert.match(created.stderr, /the secret of webhook endpoint [0-9]+ is in .*whsec\.txt \(mode 0600\); it is not shown again/);
    assert.match(created.stdout, /^id\s+url\s+events\s+description\s+created$/m);
    const id = new RegExp(`^([0-9]+)\\s+${hookUrl}\\s+secret\\.created,secret\\.deleted\\s+ops pager\\s+20`, 'm').exec(
      created.stdout,
    )?.[1];
    assert.ok(id, created.stdout);
    assert.ok(!created.stdout.includes(secret) && !created.stderr.includes(secret));

    const printed = await cli('create-stdout', ['webhooks', 'create', `${hookUrl}?all`], true);
    assert.equal(printed.code, 0, printed.stderr);
    const shown = SHOW_ONCE.exec(printed.stdout)?.[1];
    assert.ok(shown, printed.stdout);
    assert.equal(printed.stdout.split(shown).length, 2, 'shown exactly once');
    assert.match(printed.stdout, /^[0-9]+\s+\S+\?all\s+\*\s+-\s+20/m, 'every event by default, no description');

    const json = await cli('create-json', ['webhooks', 'create', `${hookUrl}?json`, '--events', '*', '--json'], true);
    assert.equal(json.code, 0, json.stderr);
    const body = JSON.parse(json.stdout);
    assert.match(body.secret, /^whsec_/);
    assert.deepEqual(body.events, ['*']);
    const jsonFile = join(dir, 'whsec-json.txt');
    const jsonToFile = await cli('create-json-file', [
      'webhooks',
      'create',
      `${hookUrl}?f`,
      '--output-secret',
      jsonFile,
      '--json',
    ]);
    assert.equal(jsonToFile.code, 0, jsonToFile.stderr);
    recordSensitive('secret', readFileSync(jsonFile, 'utf8').trim());
    assert.equal('secret' in JSON.parse(jsonToFile.stdout), false, 'the secret went to the file');

    const listed = await cli('list', ['webhooks', 'list', '--json']);
    assert.equal(listed.code, 0, listed.stderr);
    const list = JSON.parse(listed.stdout) as Record<string, unknown>[];
    const printedId = /^([0-9]+)\s/m.exec(printed.stdout.split('\n').slice(2).join('\n'))?.[1];
    assert.deepEqual(
      list.map((w) => w.id),
      [id, printedId, body.id, JSON.parse(jsonToFile.stdout).id],
      'oldest first',
    );
    assert.ok(list.every((w) => !('secret' in w)));
    const table = await cli('list-table', ['webhooks', 'list']);
    const got = await cli('get', ['webhooks', 'get', id]);
    const gotJson = await cli('get-json', ['webhooks', 'get', id, '--json']);
    assert.equal(got.code, 0, got.stderr);
    assert.match(got.stdout, new RegExp(`^${id}\\s+${hookUrl}\\s+secret\\.created,secret\\.deleted\\s+ops pager\\s+20`, 'm'));
    assert.equal(JSON.parse(gotJson.stdout).description, 'ops pager');
    for (const out of [listed, table, got, gotJson]) assert.doesNotMatch(`${out.stdout}${out.stderr}`, /whsec_/);
  });

  it('deliveries lists the attempts once an event reached the receiver: event id, type, time, status, duration', async () => {
    const ownUrl = await ownReceiver.start();
    const created = await cli('create-deliveries', ['webhooks', 'create', ownUrl, '--events', 'secret.created', '--json'], true);
    assert.equal(created.code, 0, created.stderr);
    const endpoint = JSON.parse(created.stdout) as { id: string; secret: string };
    const secret = await api({ url: server.url, token: TOKEN }, 'POST', '/secure_mode_secrets', {
      body: { name: 'Announced', supports_web: true },
    });
    assert.equal(secret.status, 201);
    recordSensitive('secret', secret.body.secret);
    await ownReceiver.until(() => ownReceiver.received.length >= 1);
    const hook = ownReceiver.received[0]!;
    assert.match(hook.body, /"type":"secret\.created"/);
    verifyWithLibrary(endpoint.secret, hook);
    assert.ok(verifyOurselves(endpoint.secret, hook));

    // The attempt is recorded once the receiver has answered: ask until it is there.
    let rows: Record<string, unknown>[] = [];
    for (let i = 0; i < 100 && !rows.some((r) => r.event_id === hook.id && r.state === 'succeeded'); i++) {
      const res = await cli('deliveries-json', ['webhooks', 'deliveries', endpoint.id, '--json']);
      assert.equal(res.code, 0, res.stderr);
      rows = JSON.parse(res.stdout) as Record<string, unknown>[];
    }
    const attempt = rows.find((r) => r.event_id === hook.id)!;
    assert.equal(attempt.event_type, 'secret.created');
    assert.equal(attempt.status, 204);
    assert.equal(attempt.error, null);
    assert.equal(attempt.state, 'succeeded');
    const table = await cli('deliveries', ['webhooks', 'deliveries', endpoint.id]);
    assert.equal(table.code, 0, table.stderr);
    assert.match(table.stdout, /^event_id\s+type\s+attempted\s+result\s+duration\s+state$/m);
    assert.match(
      table.stdout,
      new RegExp(`^${hook.id}\\s+secret\\.created\\s+20[0-9-]+T[0-9:]+Z\\s+HTTP 204\\s+[0-9]+ms\\s+succeeded$`, 'm'),
    );
    assert.doesNotMatch(table.stdout, /whsec_|Announced/, 'never a body');
  });

  it('delete removes the endpoint; unknown ids and refused URLs print the error and exit 3; a file is never overwritten', async () => {
    const created = await cli('create-delete', ['webhooks', 'create', `${hookUrl}?delete`, '--json'], true);
    const id = (JSON.parse(created.stdout) as { id: string }).id;
    const deleted = await cli('delete', ['webhooks', 'delete', id]);
    assert.equal(deleted.code, 0, deleted.stderr);
    assert.equal(deleted.stdout, `deleted ${id}\n`);
    const list = await cli('list-after-delete', ['webhooks', 'list', '--json']);
    assert.ok((JSON.parse(list.stdout) as { id: string }[]).every((w) => w.id !== id));

    for (const args of [
      ['get', id],
      ['get', '999999'],
      ['deliveries', '999999'],
      ['delete', id, '--json'],
    ]) {
      const res = await cli(`missing-${args[0]}`, ['webhooks', ...args]);
      assert.equal(res.code, 3, `${args.join(' ')}: ${res.stderr}`);
      assert.match(
        res.stderr,
        /^secure-mode: Webhook endpoint not found \(webhook_endpoint_not_found, HTTP 404, request [0-9a-f-]{36}\)$/m,
      );
    }

    const before = (await api({ url: server.url, token: TOKEN }, 'GET', '/webhook_endpoints')).body.data.length as number;
    const bad = await cli('bad-url', ['webhooks', 'create', 'ftp://example.com/hook']);
    assert.equal(bad.code, 3, bad.stderr);
    assert.match(bad.stderr, /\(parameter_invalid, HTTP 422, request [0-9a-f-]{36}\)/);
    const badEvent = await cli('bad-event', ['webhooks', 'create', hookUrl, '--events', 'secret.exploded']);
    assert.equal(badEvent.code, 3, badEvent.stderr);
    assert.match(badEvent.stderr, /parameter_invalid, HTTP 422/);
    const empty = await cli('empty-events', ['webhooks', 'create', hookUrl, '--events', ',']);
    assert.equal(empty.code, 2);
    assert.match(empty.stderr, /--events must list event types/);

    const existing = join(dir, 'existing.txt');
    writeFileSync(existing, 'keep me\n');
    const kept = await cli('existing-file', ['webhooks', 'create', hookUrl, '--output-secret', existing]);
    assert.equal(kept.code, 2);
    assert.match(kept.stderr, /it already exists \(never overwritten\)/);
    assert.equal(readFileSync(existing, 'utf8'), 'keep me\n');
    const refusedFile = join(dir, 'refused.txt');
    const refused = await cli('refused-file', ['webhooks', 'create', 'ftp://example.com/x', '--output-secret', refusedFile]);
    assert.equal(refused.code, 3);
    assert.throws(() => statSync(refusedFile), /ENOENT/, 'the reserved file is removed again');
    assert.equal((await api({ url: server.url, token: TOKEN }, 'GET', '/webhook_endpoints')).body.data.length, before);

    // No answer: the endpoint may exist with a secret nobody saw, and the route has no Idempotency-Key to fetch it.
    const lostFile = join(dir, 'lost.txt');
    const lost = await runCli(['webhooks', 'create', hookUrl, '--url', 'http://127.0.0.1:1', '--output-secret', lostFile], env);
    scanned('unreachable', lost);
    assert.equal(lost.code, 4, lost.stderr);
    assert.match(
      lost.stderr,
      /cannot reach http:\/\/127\.0\.0\.1:1 .*the server may have created the endpoint.*secure-mode webhooks list/,
    );
    assert.throws(() => statSync(lostFile), /ENOENT/);
  });
});
