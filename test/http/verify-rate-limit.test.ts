import assert from 'node:assert/strict';
import { Agent, request } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { ManualClock } from '../../src/domain/clock.js';
import { userHash } from '../../packages/sign/src/index.js';
import { api, startTestApp, type TestApp } from '../helpers/app.js';
import { recordSensitive } from '../helpers/leaks.js';

/**
 * The public verify route's limits, over real sockets from several loopback source addresses (all of 127.0.0.0/8 is
 * local). Every request is sent both ways in: plain requests take the node:http fast path, a query string sends them
 * to the Fastify route; both must keep one budget per client.
 */

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: { errors?: { code: string; message: string }[] };
}

/** One keep-alive agent per source address, as a real client would hold. */
const agents = new Map<string, Agent>();
function agentFor(localAddress: string): Agent {
  let agent = agents.get(localAddress);
  if (!agent) agents.set(localAddress, (agent = new Agent({ keepAlive: true, localAddress })));
  return agent;
}

function send(
  app: TestApp,
  from: string,
  body: unknown,
  options: { viaFastify?: boolean; forwardedFor?: string } = {},
): Promise<Answer> {
  const payload = JSON.stringify(body);
  const url = `${app.url}/identity_verification/verify${options.viaFastify ? '?via=fastify' : ''}`;
  const headers: Record<string, string> = {
    'content-type': 'application/json',
    'content-length': String(Buffer.byteLength(payload)),
  };
  if (options.forwardedFor !== undefined) headers['x-forwarded-for'] = options.forwardedFor;
  return new Promise((resolve, reject) => {
    const req = request(url, { method: 'POST', agent: agentFor(from), headers }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (text += d));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: JSON.parse(text) }));
    });
    req.on('error', reject);
    req.end(payload);
  });
}

async function signedBody(app: TestApp): Promise<{ valid: Record<string, string>; wrong: Record<string, string> }> {
  const created = await api(app, 'POST', '/secure_mode_secrets', { body: { name: 'web', supports_web: true } });
  assert.equal(created.status, 201);
  const hash = userHash(created.body.secret, { user_id: 'u1' });
  recordSensitive('user_hash', hash);
  const base = { app_id: app.workspace.appId, platform: 'web', user_id: 'u1' };
  return { valid: { ...base, user_hash: hash }, wrong: { ...base, user_hash: 'f'.repeat(64) } };
}

after(() => {
  for (const agent of agents.values()) agent.destroy();
});

describe('POST /identity_verification/verify: a client flooding failures does not lock out other clients', () => {
  let app: TestApp;
  before(async () => {
    app = await startTestApp({ env: { SECURE_MODE_VERIFY_CLIENT_RATE_LIMIT: '300' } });
  });
  after(async () => {
    await app.close();
  });

  it('leaves at least 99 % of another client’s valid requests answered 200', async () => {
    const { valid, wrong } = await signedBody(app);
    let flooding = true;
    const flood = { sent: 0, refused: 0 };
    const flooder = async (viaFastify: boolean) => {
      while (flooding) {
        const res = await send(app, '127.0.0.2', wrong, { viaFastify });
        flood.sent++;
        if (res.status === 429) flood.refused++;
        else assert.equal(res.status, 401);
      }
    };
    const floods = [flooder(false), flooder(true), flooder(false), flooder(true)];
    const statuses: number[] = [];
    try {
      for (let i = 0; i < 200; i++) statuses.push((await send(app, '127.0.0.3', valid, { viaFastify: i % 2 === 1 })).status);
    } finally {
      flooding = false;
      await Promise.all(floods);
    }
    const ok = statuses.filter((s) => s === 200).length;
    assert.ok(flood.refused > 0, `the flooder reached its limit (${flood.sent} sent)`);
    assert.ok(
      ok >= 198,
      `${ok} of 200 valid requests answered 200 while ${flood.sent} failures (${flood.refused} refused) flooded in`,
    );
  });
});

describe('POST /identity_verification/verify: the per-client limit', () => {
  const clock = new ManualClock(Date.UTC(2026, 5, 1, 12, 0, 3));
  let app: TestApp;
  let valid: Record<string, string>;
  let wrong: Record<string, string>;
  before(async () => {
    app = await startTestApp({
      clock,
      env: {
        SECURE_MODE_VERIFY_CLIENT_RATE_LIMIT: '10',
        SECURE_MODE_VERIFY_RATE_LIMIT: '40',
        SECURE_MODE_TRUSTED_PROXIES: '127.0.0.6, 127.0.1.0/24',
      },
    });
    ({ valid, wrong } = await signedBody(app));
  });
  after(async () => {
    await app.close();
  });

  it('counts a failure twice, answers 429 with X-RateLimit-* and Retry-After, on both paths, and resets with the window', async () => {
    const answers = [];
    for (let i = 0; i < 5; i++) answers.push(await send(app, '127.0.0.4', wrong, { viaFastify: i % 2 === 0 }));
    assert.deepEqual(
      answers.map((a) => a.status),
      [401, 401, 401, 401, 401],
    );
    assert.deepEqual(
      answers.map((a) => a.headers['x-ratelimit-remaining']),
      ['8', '6', '4', '2', '0'],
    );
    for (const viaFastify of [false, true]) {
      const limited = await send(app, '127.0.0.4', valid, { viaFastify });
      assert.equal(limited.status, 429);
      assert.equal(limited.body.errors![0]!.code, 'rate_limit_exceeded');
      assert.equal(limited.body.errors![0]!.message, 'Exceeded rate limit of 10 in 10_seconds');
      assert.equal(limited.headers['x-ratelimit-limit'], '10');
      assert.equal(limited.headers['x-ratelimit-remaining'], '0');
      assert.equal(limited.headers['x-ratelimit-reset'], String(Date.UTC(2026, 5, 1, 12, 0, 10) / 1000));
      assert.equal(limited.headers['retry-after'], '7');
    }
    assert.equal((await send(app, '127.0.0.5', valid)).status, 200, 'another client of the same app_id keeps verifying');
    const successes = [];
    for (let i = 0; i < 10; i++) successes.push((await send(app, '127.0.0.8', valid, { viaFastify: i % 2 === 0 })).status);
    assert.deepEqual(successes, Array(10).fill(200), 'a success counts once');
    clock.advance(10_000);
    assert.equal((await send(app, '127.0.0.4', valid)).status, 200, 'a new window, a new budget');
  });

  it('keeps the per-app_id limit as a backstop over all clients', async () => {
    clock.advance(10_000);
    const statuses = [];
    for (let i = 0; i < 45; i++) statuses.push((await send(app, `127.0.2.${i + 1}`, valid)).status);
    assert.deepEqual(statuses.slice(0, 40), Array(40).fill(200));
    assert.deepEqual(statuses.slice(40), Array(5).fill(429));
  });

  it('believes X-Forwarded-For only from a trusted proxy, read from the right', async () => {
    clock.advance(10_000);
    for (let i = 0; i < 5; i++) assert.equal((await send(app, '127.0.0.6', wrong, { forwardedFor: '203.0.113.1' })).status, 401);
    assert.equal(
      (await send(app, '127.0.0.6', valid, { forwardedFor: '203.0.113.1' })).status,
      429,
      'the forwarded client spent its budget',
    );
    assert.equal(
      (await send(app, '127.0.1.7', valid, { forwardedFor: '203.0.113.1', viaFastify: true })).status,
      429,
      'the same client through a proxy of the trusted CIDR',
    );
    assert.equal(
      (await send(app, '127.0.0.6', valid, { forwardedFor: '198.51.100.7, 203.0.113.1' })).status,
      429,
      'an address the client wrote on the left is ignored',
    );
    assert.equal(
      (await send(app, '127.0.0.6', valid, { forwardedFor: '203.0.113.2' })).status,
      200,
      'another client behind the same proxy',
    );
    assert.equal(
      (await send(app, '127.0.0.6', valid, { forwardedFor: '203.0.113.3, 127.0.1.9' })).status,
      200,
      'trusted hops are skipped',
    );

    for (let i = 0; i < 5; i++)
      assert.equal((await send(app, '127.0.0.7', wrong, { forwardedFor: `203.0.113.${50 + i}` })).status, 401);
    assert.equal(
      (await send(app, '127.0.0.7', valid, { forwardedFor: '203.0.113.99' })).status,
      429,
      'an untrusted peer cannot pick a fresh address',
    );
  });
});
