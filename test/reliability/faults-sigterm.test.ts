import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { userHash, userJwt } from '../../packages/sign/src/index.js';
import { api } from '../helpers/app.js';
import { recordArtifact, recordRequestCredentials, recordSensitive } from '../helpers/leaks.js';
import { parseResponse, type RawResponse } from '../helpers/raw.js';
import { spawnServer, type ServerProcess } from '../helpers/process.js';

const TOKEN = 'sigterm-test-token-0123456789abcdef';

interface Outcome {
  kind: 'create' | 'delete' | 'list';
  status: number | 'refused';
  id?: string;
}

/**
 * One request on its own connection (no keep-alive), so that a refused connection is never mistaken for a lost answer.
 * `token: null` sends no Authorization header, as a Messenger calling the public verify route does.
 */
function send(
  url: string,
  method: string,
  path: string,
  body?: unknown,
  token: string | null = TOKEN,
): Promise<{ status: number; text: string } | 'refused'> {
  return new Promise((resolve, reject) => {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    recordRequestCredentials(body);
    const req = httpRequest(`${url}${path}`, {
      method,
      agent: false,
      headers: {
        ...(token === null ? {} : { authorization: `Bearer ${token}` }),
        ...(payload ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) } : {}),
      },
    });
    req.on('response', (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (text += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
      res.on('error', reject);
    });
    // Connection refused or reset before any byte of an answer: the server never took the request (it had closed).
    req.on('error', (err: NodeJS.ErrnoException) =>
      ['ECONNREFUSED', 'ECONNRESET'].includes(err.code ?? '') ? resolve('refused') : reject(err),
    );
    req.end(payload);
  });
}

async function client(url: string, outcomes: Outcome[]): Promise<void> {
  for (;;) {
    const created = await send(url, 'POST', '/secure_mode_secrets', { name: 'under load', supports_web: true });
    if (created === 'refused') return void outcomes.push({ kind: 'create', status: 'refused' });
    const id = created.status === 201 ? (JSON.parse(created.text) as { id: string; secret: string }) : undefined;
    recordSensitive('secret', id?.secret);
    outcomes.push({ kind: 'create', status: created.status, ...(id ? { id: id.id } : {}) });
    const listed = await send(url, 'GET', '/secure_mode_secrets');
    outcomes.push({ kind: 'list', status: listed === 'refused' ? 'refused' : listed.status });
    if (listed === 'refused') return;
    if (!id) continue;
    const deleted = await send(url, 'DELETE', `/secure_mode_secrets/${id.id}`);
    outcomes.push({ kind: 'delete', status: deleted === 'refused' ? 'refused' : deleted.status, id: id.id });
    if (deleted === 'refused') return;
  }
}

type Platform = 'web' | 'ios';

interface Verification {
  platform: Platform;
  /** Whether the credential was valid: only those may be answered 200 and counted. */
  valid: boolean;
  status: number | 'refused';
}

/** A Messenger verifying users with one live secret: valid user_hash values and JWTs, and every fourth one wrong. */
async function verifier(url: string, appId: string, secret: string, n: number, verifications: Verification[]): Promise<void> {
  for (let i = 0; ; i++) {
    const platform: Platform = (n + i) % 2 === 0 ? 'web' : 'ios';
    const userId = `sigterm-user-${n}-${i}`;
    const valid = i % 4 !== 3;
    const body =
      i % 2 === 0
        ? {
            app_id: appId,
            platform,
            user_id: userId,
            user_hash: userHash(secret, { user_id: valid ? userId : `${userId}-other` }),
          }
        : {
            app_id: appId,
            platform,
            intercom_user_jwt: userJwt(valid ? secret : `${secret}-wrong`, { user_id: userId }, { expiresIn: '1h' }),
          };
    const res = await send(url, 'POST', '/identity_verification/verify', body, null);
    verifications.push({ platform, valid, status: res === 'refused' ? 'refused' : res.status });
    if (res === 'refused') return;
  }
}

describe('SIGTERM under load', () => {
  let dir: string;
  let env: Record<string, string>;
  let server: ServerProcess;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'secure-mode-sigterm-'));
    env = {
      SECURE_MODE_DATABASE_URL: `sqlite:${join(dir, 'secure-mode.db')}`,
      SECURE_MODE_BOOTSTRAP_TOKEN: TOKEN,
      SECURE_MODE_RATE_LIMIT: '10000000',
      SECURE_MODE_VERIFY_RATE_LIMIT: '10000000',
      SECURE_MODE_MAX_LIVE_SECRETS: '100',
      SECURE_MODE_LOG_LEVEL: 'info',
      // No periodic flush within the test: every count must reach the database through the flush on shutdown.
      SECURE_MODE_USAGE_FLUSH_MS: '60000',
    };
    recordSensitive('token', TOKEN);
    server = await spawnServer(env);
  });
  after(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it('finishes in-flight requests, loses no acknowledged write or counted verification, and exits 0', async () => {
    const appId = /with app_id (\S+)/.exec(server.output())?.[1];
    assert.ok(appId, server.output());
    // The verify secret is created before the load and never deleted by it.
    const verifySecret = await api({ url: server.url, token: TOKEN }, 'POST', '/secure_mode_secrets', {
      body: { name: 'verified under load', supports_web: true, supports_ios: true },
    });
    assert.equal(verifySecret.status, 201, verifySecret.text);
    const outcomes: Outcome[] = [];
    const clients = Array.from({ length: 8 }, () => client(server.url, outcomes));
    const verifications: Verification[] = [];
    const verifiers = Array.from({ length: 4 }, (_, n) =>
      verifier(server.url, appId, verifySecret.body.secret, n, verifications),
    );

    // A request the server has begun to read when SIGTERM arrives: its body is completed only after shutdown began.
    const { hostname, port } = new URL(server.url);
    const slow = connect({ host: hostname, port: Number(port) });
    const body = JSON.stringify({ name: 'in flight at SIGTERM', supports_web: true });
    const received: Buffer[] = [];
    slow.on('data', (d: Buffer) => received.push(d));
    const slowClosed = new Promise<void>((resolve) => slow.on('close', () => resolve()));
    slow.write(
      `POST /secure_mode_secrets HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${TOKEN}\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body.slice(0, 10)}`,
    );

    while (outcomes.filter((o) => o.status === 201).length < 40 || verifications.filter((v) => v.status === 200).length < 40)
      await sleep(20);
    const verifiedBeforeSignal = verifications.filter((v) => v.status === 200).length;
    server.proc.kill('SIGTERM');
    while (!server.output().includes('"shutting down"')) await sleep(10);
    slow.end(body.slice(10));
    await slowClosed;
    const inFlight = parseResponse(Buffer.concat(received)) as RawResponse;
    assert.ok(inFlight, 'the request in flight at SIGTERM was answered');
    assert.equal(inFlight.status, 201, inFlight.raw);
    const inFlightSecret = JSON.parse(inFlight.body) as { id: string; secret: string };
    recordSensitive('secret', inFlightSecret.secret);
    recordArtifact('in-flight-headers.txt', inFlight.raw.slice(0, inFlight.raw.indexOf('\r\n\r\n')));

    await Promise.all([...clients, ...verifiers]);
    assert.equal(await server.stop(), 0);

    const verifyAnswers = verifications.filter((v) => v.status !== 'refused');
    assert.deepEqual(
      verifyAnswers.filter((v) => v.status !== (v.valid ? 200 : 401)),
      [],
      'every valid credential verified and every wrong one failed, before and during shutdown',
    );
    const verified = { web: 0, ios: 0 };
    for (const v of verifyAnswers) if (v.status === 200) verified[v.platform]++;
    assert.ok(verified.web + verified.ios >= verifiedBeforeSignal && verifiedBeforeSignal >= 40);

    const answered = outcomes.filter((o) => o.status !== 'refused');
    assert.ok(answered.length >= 40, `${answered.length} requests answered`);
    assert.deepEqual(
      [...new Set(answered.map((o) => o.status))].filter((s) => ![200, 201, 204].includes(s as number)),
      [],
      'every answer was a success',
    );

    // Restart on the same database: every acknowledged create is there, deleted exactly when its delete was acknowledged.
    server = await spawnServer(env);
    try {
      const live = new Set(
        ((await api({ url: server.url, token: TOKEN }, 'GET', '/secure_mode_secrets')).body.data as Array<{ id: string }>).map(
          (s) => s.id,
        ),
      );
      const deleted = new Set(outcomes.filter((o) => o.kind === 'delete' && o.status === 204).map((o) => o.id));
      const created = outcomes.filter((o) => o.kind === 'create' && o.status === 201).map((o) => o.id!);
      for (const id of created) {
        const one = await api({ url: server.url, token: TOKEN }, 'GET', `/secure_mode_secrets/${id}`);
        assert.equal(one.status, deleted.has(id) ? 404 : 200, `secret ${id}`);
        assert.equal(live.has(id), !deleted.has(id));
      }
      assert.ok(live.has(inFlightSecret.id), 'the in-flight create is durable');

      // A fresh process has nothing pending: what it reports is what the old one flushed as it shut down.
      const stored = await api({ url: server.url, token: TOKEN }, 'GET', `/secure_mode_secrets/${verifySecret.body.id}`);
      assert.equal(stored.status, 200, stored.text);
      assert.deepEqual(
        stored.body.usage.last_day,
        { ...verified, android: 0 },
        'every verification answered 200 is in the stored usage',
      );
    } finally {
      assert.equal(await server.stop(), 0);
    }
  });
});
