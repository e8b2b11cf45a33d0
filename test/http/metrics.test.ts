import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Registry } from 'prom-client';
import { RequestDurationHistogram } from '../../src/http/metrics.js';

describe('RequestDurationHistogram', () => {
  it('renders cumulative buckets, sum and count per series, as a Prometheus histogram', async () => {
    const histogram = new RequestDurationHistogram('t_seconds', 'test', [0.001, 0.01]);
    histogram.observe('POST', '/v', 200, 0.0005);
    histogram.observe('POST', '/v', 200, 0.001); // on a bound: counted in that bucket (le is "less or equal")
    histogram.observe('POST', '/v', 200, 0.005);
    histogram.observe('POST', '/v', 200, 2);
    histogram.observe('POST', '/v', 401, 0.002);
    const registry = new Registry();
    registry.registerMetric(histogram as never);
    const lines = (await registry.metrics()).trim().split('\n');
    assert.deepEqual(lines, [
      '# HELP t_seconds test',
      '# TYPE t_seconds histogram',
      't_seconds_bucket{le="0.001",method="POST",route="/v",status="200"} 2',
      't_seconds_bucket{le="0.01",method="POST",route="/v",status="200"} 3',
      't_seconds_bucket{le="+Inf",method="POST",route="/v",status="200"} 4',
      't_seconds_sum{method="POST",route="/v",status="200"} 2.0065',
      't_seconds_count{method="POST",route="/v",status="200"} 4',
      't_seconds_bucket{le="0.001",method="POST",route="/v",status="401"} 0',
      't_seconds_bucket{le="0.01",method="POST",route="/v",status="401"} 1',
      't_seconds_bucket{le="+Inf",method="POST",route="/v",status="401"} 1',
      't_seconds_sum{method="POST",route="/v",status="401"} 0.002',
      't_seconds_count{method="POST",route="/v",status="401"} 1',
    ]);
  });

  it('counts each observation in its own series however methods, routes and statuses alternate', async () => {
    const histogram = new RequestDurationHistogram('t_seconds', 'test', [1]);
    const seen = [
      ['POST', '/v', 200],
      ['POST', '/v', 200],
      ['GET', '/v', 200],
      ['POST', '/w', 200],
      ['POST', '/v', 429],
      ['POST', '/v', 200],
      ['GET', '/v', 200],
    ] as const;
    for (const [method, route, status] of seen) histogram.observe(method, route, status, 0.5);
    const counts = (await histogram.get()).values
      .filter((v) => v.metricName === 't_seconds_count')
      .map((v) => `${v.labels.method} ${v.labels.route} ${v.labels.status} ${v.value}`)
      .sort();
    assert.deepEqual(counts, ['GET /v 200 2', 'POST /v 200 3', 'POST /v 429 1', 'POST /w 200 1']);
  });
});
