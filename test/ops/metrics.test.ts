import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { userHash, userJwt } from '../../packages/sign/src/index.js';
import { api, startTestApp, type TestApp } from '../helpers/app.js';
import { recordArtifact } from '../helpers/leaks.js';

/** The value of one sample line, e.g. sample(text, 'secure_mode_secrets{state="live"}'). */
function sample(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

async function scrape(app: TestApp, token?: string): Promise<string> {
  const res = await api(app, 'GET', '/metrics', { token: token ?? null });
  assert.equal(res.status, 200, res.text);
  assert.match(res.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
  recordArtifact('metrics.txt', res.text);
  return res.text;
}

describe('GET /metrics', () => {
  let app: TestApp;
  before(async () => {
    app = await startTestApp();
  });
  after(async () => {
    await app.close();
  });

  it('counts requests and their latency by route pattern and status, never by URL', async () => {
    await api(app, 'GET', '/secure_mode_secrets');
    await api(app, 'GET', '/secure_mode_secrets/987654321');
    await api(app, 'GET', '/no-such-path-4242?token=abcdef');
    const text = await scrape(app);
    assert.equal(
      sample(text, 'secure_mode_http_request_duration_seconds_count{method="GET",route="/secure_mode_secrets",status="200"}'),
      1,
    );
    assert.equal(
      sample(text, 'secure_mode_http_request_duration_seconds_count{method="GET",route="/secure_mode_secrets/:id",status="404"}'),
      1,
    );
    assert.equal(sample(text, 'secure_mode_http_request_duration_seconds_count{method="GET",route="unmatched",status="404"}'), 1);
    assert.ok(
      text.includes(
        'secure_mode_http_request_duration_seconds_bucket{le="0.005",method="GET",route="/secure_mode_secrets",status="200"}',
      ),
    );
    assert.ok(!text.includes('987654321'));
    assert.ok(!text.includes('no-such-path'));
    assert.ok(!text.includes('abcdef'));
    assert.ok(!text.includes(app.workspace.appId));
  });

  it('counts live secrets, secrets never verified and rotations in progress', async () => {
    const first = await api(app, 'POST', '/secure_mode_secrets', { body: { name: 'web one', supports_web: true } });
    const ios = await api(app, 'POST', '/secure_mode_secrets', { body: { name: 'ios', supports_ios: true } });
    let text = await scrape(app);
    assert.equal(sample(text, 'secure_mode_secrets{state="live"}'), 2);
    assert.equal(sample(text, 'secure_mode_secrets{state="never_verified"}'), 2);
    assert.equal(sample(text, 'secure_mode_rotations_in_progress'), 0);
    assert.equal(sample(text, 'secure_mode_census_up'), 1);

    const second = await api(app, 'POST', '/secure_mode_secrets', { body: { name: 'web two', supports_web: true } });
    app.runtime.usage.recordSuccess(Number(first.body.id), 'web', 'user_hash');
    text = await scrape(app);
    assert.equal(sample(text, 'secure_mode_secrets{state="live"}'), 3);
    assert.equal(sample(text, 'secure_mode_secrets{state="never_verified"}'), 2, 'a verification not flushed yet still counts');
    assert.equal(sample(text, 'secure_mode_rotations_in_progress'), 1);
    await app.runtime.usage.flush();
    text = await scrape(app);
    assert.equal(sample(text, 'secure_mode_secrets{state="never_verified"}'), 2);

    assert.equal((await api(app, 'DELETE', `/secure_mode_secrets/${first.body.id}`)).status, 204);
    text = await scrape(app);
    assert.equal(sample(text, 'secure_mode_secrets{state="live"}'), 2);
    assert.equal(sample(text, 'secure_mode_rotations_in_progress'), 0);
    for (const secret of [ios.body.secret, second.body.secret]) assert.ok(!text.includes(secret));
    await api(app, 'DELETE', `/secure_mode_secrets/${ios.body.id}`);
    await api(app, 'DELETE', `/secure_mode_secrets/${second.body.id}`);
  });

  it('reports verification outcomes by method, platform and reason, with made-up platforms folded into "other"', async () => {
    const usage = app.runtime.usage;
    usage.recordSuccess(1, 'ios', 'jwt');
    usage.recordSuccess(1, 'ios', 'jwt');
    usage.recordFailure(app.workspace.id, 'user_hash', 'web', 'mismatch');
    usage.recordFailure(null, 'user_hash', 'x:<script>', 'unknown_app');
    usage.recordFailure(7, 'user_hash', 'web', 'mismatch');
    const text = await scrape(app);
    assert.equal(sample(text, 'secure_mode_verifications_total{outcome="success",method="jwt",platform="ios",reason=""}'), 2);
    assert.equal(
      sample(text, 'secure_mode_verifications_total{outcome="failure",method="user_hash",platform="web",reason="mismatch"}'),
      2,
    );
    assert.equal(
      sample(text, 'secure_mode_verifications_total{outcome="failure",method="user_hash",platform="other",reason="unknown_app"}'),
      1,
    );
    assert.ok(!text.includes('<script>'));
  });

  it('reports the verification cache size and hit rate', async () => {
    await app.runtime.cache.get(app.workspace.appId);
    await app.runtime.cache.get(app.workspace.appId);
    const { hits, misses } = app.runtime.cache.stats();
    const text = await scrape(app);
    assert.equal(sample(text, 'secure_mode_cache_workspaces'), 1);
    assert.equal(sample(text, 'secure_mode_cache_lookups_total{result="hit"}'), hits);
    assert.equal(sample(text, 'secure_mode_cache_lookups_total{result="miss"}'), misses);
    assert.equal(sample(text, 'secure_mode_cache_hit_ratio'), hits / (hits + misses));
    assert.ok(hits >= 1);
  });

  it('exposes event-loop delay and memory, the gauges a soak watches', async () => {
    const text = await scrape(app);
    for (const series of [
      'nodejs_eventloop_lag_p99_seconds',
      'nodejs_eventloop_lag_max_seconds',
      'process_resident_memory_bytes',
      'nodejs_heap_size_used_bytes',
    ]) {
      assert.ok(Number.isFinite(sample(text, series)), series);
    }
  });

  it('never carries a token, a secret or the authorization header', async () => {
    const created = await api(app, 'POST', '/secure_mode_secrets', { body: { name: 'scan', supports_android: true } });
    const text = await scrape(app);
    assert.ok(!text.includes(app.token));
    assert.ok(!text.includes(created.body.secret));
    assert.ok(!/authorization|bearer/i.test(text));
    await api(app, 'DELETE', `/secure_mode_secrets/${created.body.id}`);
  });
});

/** Every verification outcome series in a scrape, keyed `outcome|method|platform|reason`. */
function verificationSeries(text: string): Map<string, number> {
  const series = new Map<string, number>();
  for (const line of text.split('\n')) {
    const m =
      /^secure_mode_verifications_total\{outcome="([^"]*)",method="([^"]*)",platform="([^"]*)",reason="([^"]*)"\} (\S+)$/.exec(
        line,
      );
    if (m) series.set(`${m[1]}|${m[2]}|${m[3]}|${m[4]}`, Number(m[5]));
  }
  return series;
}

describe('GET /metrics after real verify requests', () => {
  let app: TestApp;
  before(async () => {
    app = await startTestApp();
  });
  after(async () => {
    await app.close();
  });

  it('moves the verification outcome counters by exactly what was sent, and no label carries the app_id, a hash or a JWT', async () => {
    const appId = app.workspace.appId;
    const verify = async (body: Record<string, unknown>, status: number) => {
      const res = await api(app, 'POST', '/identity_verification/verify', { body, token: null });
      assert.equal(res.status, status, `${JSON.stringify(body)}: ${res.text}`);
    };
    const sentCredentials: string[] = [];
    const hash = (secret: string, identity: { user_id?: string; email?: string }) => {
      const value = userHash(secret, identity);
      sentCredentials.push(value);
      return value;
    };
    const jwt = (...args: Parameters<typeof userJwt>) => {
      const value = userJwt(...args);
      sentCredentials.push(value);
      return value;
    };
    const requestsBefore = await scrape(app);
    const before = verificationSeries(requestsBefore);

    const web = await api(app, 'POST', '/secure_mode_secrets', { body: { name: 'metrics web', supports_web: true } });
    assert.equal(web.status, 201);
    // Before any mobile secret exists, an ios request has no secret to be checked against.
    await verify(
      { app_id: appId, platform: 'ios', user_id: 'metrics-u0', user_hash: hash(web.body.secret, { user_id: 'metrics-u0' }) },
      401,
    );
    const mobile = await api(app, 'POST', '/secure_mode_secrets', {
      body: { name: 'metrics mobile', supports_ios: true, supports_android: true },
    });
    assert.equal(mobile.status, 201);

    for (const u of ['metrics-u1', 'metrics-u2', 'metrics-u3'])
      await verify({ app_id: appId, platform: 'web', user_id: u, user_hash: hash(web.body.secret, { user_id: u }) }, 200);
    for (const email of ['m1@example.com', 'm2@example.com'])
      await verify({ app_id: appId, platform: 'ios', email, user_hash: hash(mobile.body.secret, { email }) }, 200);
    for (const u of ['metrics-j1', 'metrics-j2'])
      await verify(
        { app_id: appId, platform: 'android', intercom_user_jwt: jwt(mobile.body.secret, { user_id: u }, { expiresIn: '1h' }) },
        200,
      );
    await verify({ app_id: appId, platform: 'web', intercom_user_jwt: jwt(web.body.secret, { user_id: 'metrics-j3' }) }, 200);

    // Failures, one reason at a time.
    for (const u of ['metrics-w1', 'metrics-w2'])
      await verify(
        { app_id: appId, platform: 'web', user_id: u, user_hash: hash(web.body.secret, { user_id: `${u}-other` }) },
        401,
      );
    const unknownApp = 'metrics_unknown_app_4711';
    await verify(
      {
        app_id: unknownApp,
        platform: 'ios',
        user_id: 'metrics-u4',
        user_hash: hash(mobile.body.secret, { user_id: 'metrics-u4' }),
      },
      401,
    );
    await verify({ app_id: appId, platform: 'android', user_id: 'metrics-u5', user_hash: 'zz-not-hex' }, 401);
    await verify(
      {
        app_id: appId,
        platform: 'ios',
        user_id: 'metrics-u6',
        user_hash: hash(mobile.body.secret, { user_id: 'metrics-u6' }).toUpperCase(),
      },
      401,
    );
    await verify(
      { app_id: appId, platform: 'web', intercom_user_jwt: jwt(`${web.body.secret}-forged`, { user_id: 'metrics-j4' }) },
      401,
    );
    const now = Math.floor(Date.now() / 1000);
    await verify(
      {
        app_id: appId,
        platform: 'ios',
        intercom_user_jwt: jwt(mobile.body.secret, { user_id: 'metrics-j5' }, { now: now - 7200, expiresIn: 60 }),
      },
      401,
    );
    await verify(
      {
        app_id: appId,
        platform: 'android',
        user_id: 'metrics-someone-else',
        intercom_user_jwt: jwt(mobile.body.secret, { user_id: 'metrics-j6' }),
      },
      401,
    );
    const unsigned = `${Buffer.from(JSON.stringify({ alg: 'none', typ: 'JWT' })).toString('base64url')}.${Buffer.from(JSON.stringify({ user_id: 'metrics-j7' })).toString('base64url')}.`;
    sentCredentials.push(unsigned);
    await verify({ app_id: appId, platform: 'web', intercom_user_jwt: unsigned }, 401);
    // Rejected before any check: these are not verification outcomes.
    await verify({ app_id: appId, platform: 'desktop', user_id: 'metrics-u7', user_hash: 'abcdef0123456789' }, 422);
    await verify({ app_id: appId, platform: 'web', user_id: 'metrics-u8' }, 422);

    const text = await scrape(app);
    const after = verificationSeries(text);
    const expected = new Map([
      ['success|user_hash|web|', 3],
      ['success|user_hash|ios|', 2],
      ['success|jwt|android|', 2],
      ['success|jwt|web|', 1],
      ['failure|user_hash|ios|no_secret_for_platform', 1],
      ['failure|user_hash|web|mismatch', 2],
      ['failure|user_hash|ios|unknown_app', 1],
      ['failure|user_hash|android|malformed', 1],
      ['failure|user_hash|ios|malformed', 1],
      ['failure|jwt|web|mismatch', 1],
      ['failure|jwt|ios|jwt_expired', 1],
      ['failure|jwt|android|jwt_invalid', 1],
      ['failure|jwt|web|malformed', 1],
    ]);
    const moved = new Map<string, number>();
    for (const key of new Set([...before.keys(), ...after.keys()])) {
      const delta = (after.get(key) ?? 0) - (before.get(key) ?? 0);
      if (delta !== 0) moved.set(key, delta);
    }
    assert.deepEqual(Object.fromEntries(moved), Object.fromEntries(expected));

    const route = (status: number) =>
      `secure_mode_http_request_duration_seconds_count{method="POST",route="/identity_verification/verify",status="${status}"}`;
    for (const [status, n] of [
      [200, 8],
      [401, 10],
      [422, 2],
    ] as const) {
      assert.equal(
        (sample(text, route(status)) ?? 0) - (sample(requestsBefore, route(status)) ?? 0),
        n,
        `verify requests answered ${status}`,
      );
    }

    for (const value of [appId, unknownApp, web.body.secret, mobile.body.secret, ...sentCredentials])
      assert.ok(!text.includes(value), `${value.slice(0, 6)}… in /metrics`);
    assert.ok(!/metrics-[ujw]\d|@example\.com/.test(text), 'no user_id or email in /metrics');
  });
});

describe('GET /metrics with SECURE_MODE_METRICS_TOKEN', () => {
  const metricsToken = 'metrics-token-0123456789abcdef';
  let app: TestApp;
  before(async () => {
    app = await startTestApp({ env: { SECURE_MODE_METRICS_TOKEN: metricsToken } });
  });
  after(async () => {
    await app.close();
  });

  it('answers 401 in the error format without the token, and the metrics with it', async () => {
    for (const token of [null, app.token, `${metricsToken}x`]) {
      const res = await api(app, 'GET', '/metrics', { token });
      assert.equal(res.status, 401);
      assert.equal(res.body.errors[0].code, 'unauthorized');
      assert.equal(res.body.request_id, res.headers.get('x-request-id'));
    }
    assert.match(await scrape(app, metricsToken), /secure_mode_http_request_duration_seconds/);
  });
});

describe('GET /readyz and /healthz', () => {
  let app: TestApp;
  before(async () => {
    app = await startTestApp();
  });
  after(async () => {
    await app.close();
  });

  it('is ready once the database answers and the cache holds the workspaces', async () => {
    const ready = await api(app, 'GET', '/readyz', { token: null });
    assert.equal(ready.status, 200);
    assert.deepEqual(ready.body, { status: 'ready' });
    assert.ok(app.runtime.cache.peek(app.workspace.appId));
    assert.equal((await api(app, 'GET', '/healthz', { token: null })).status, 200);
  });

  it('answers 503 service_unavailable when the database is gone, while /healthz stays live', async () => {
    await app.runtime.store.close();
    const res = await api(app, 'GET', '/readyz', { token: null });
    assert.equal(res.status, 503);
    assert.equal(res.body.errors[0].code, 'service_unavailable');
    assert.equal(res.body.request_id, res.headers.get('x-request-id'));
    assert.equal((await api(app, 'GET', '/healthz', { token: null })).status, 200);
    const text = (await api(app, 'GET', '/metrics', { token: null })).text;
    assert.equal(sample(text, 'secure_mode_census_up'), 0);
  });
});

describe('GET /metrics: the webhook backlog', () => {
  let app: TestApp;
  before(async () => {
    // A receiver that refuses every connection (loopback, nothing listens on port 9), and retries an hour apart:
    // a delivery stays pending once it has failed.
    app = await startTestApp({
      env: { SECURE_MODE_WEBHOOK_ALLOW_PRIVATE: 'true', SECURE_MODE_WEBHOOK_RETRY_BASE_MS: '3600000' },
    });
  });
  after(async () => {
    await app.close();
  });

  it('counts the deliveries not yet delivered nor given up, and forgets those of a deleted endpoint', async () => {
    assert.equal(sample(await scrape(app), 'secure_mode_webhook_deliveries_pending'), 0);
    const endpoint = await api(app, 'POST', '/webhook_endpoints', {
      body: { url: 'http://127.0.0.1:9/hook', events: ['secret.created'] },
    });
    assert.equal(endpoint.status, 201, endpoint.text);
    for (const name of ['one', 'two']) {
      assert.equal((await api(app, 'POST', '/secure_mode_secrets', { body: { name, supports_web: true } })).status, 201);
    }
    assert.equal(sample(await scrape(app), 'secure_mode_webhook_deliveries_pending'), 2);
    assert.equal((await api(app, 'DELETE', `/webhook_endpoints/${endpoint.body.id}`)).status, 204);
    assert.equal(sample(await scrape(app), 'secure_mode_webhook_deliveries_pending'), 0);
  });
});
