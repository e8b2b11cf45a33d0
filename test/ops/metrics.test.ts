import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
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
    assert.equal(sample(text, 'secure_mode_http_request_duration_seconds_count{method="GET",route="/secure_mode_secrets",status="200"}'), 1);
    assert.equal(sample(text, 'secure_mode_http_request_duration_seconds_count{method="GET",route="/secure_mode_secrets/:id",status="404"}'), 1);
    assert.equal(sample(text, 'secure_mode_http_request_duration_seconds_count{method="GET",route="unmatched",status="404"}'), 1);
    assert.ok(text.includes('secure_mode_http_request_duration_seconds_bucket{le="0.005",method="GET",route="/secure_mode_secrets",status="200"}'));
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
    assert.equal(sample(text, 'secure_mode_verifications_total{outcome="failure",method="user_hash",platform="web",reason="mismatch"}'), 2);
    assert.equal(sample(text, 'secure_mode_verifications_total{outcome="failure",method="user_hash",platform="other",reason="unknown_app"}'), 1);
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
    for (const series of ['nodejs_eventloop_lag_p99_seconds', 'nodejs_eventloop_lag_max_seconds', 'process_resident_memory_bytes', 'nodejs_heap_size_used_bytes']) {
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
