import { Counter, Gauge, type Metric, Registry, collectDefaultMetrics } from 'prom-client';
import type { SecretCensus, SecretCensusCounts } from '../domain/census.js';
import type { SecretCache } from '../domain/secret-cache.js';
import type { UsageRecorder } from '../domain/usage.js';

export interface MetricsDeps {
  cache: SecretCache;
  usage: UsageRecorder;
  census: SecretCensus;
}

/** Verification answers in well under a millisecond; admin writes wait for a durable commit. */
const LATENCY_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];

interface Sample {
  metricName: string;
  labels: Record<string, string | number>;
  value: number;
}

interface DurationSeries {
  labels: { method: string; route: string; status: string };
  /** Per bucket (the last one is +Inf), not yet cumulative. */
  counts: Float64Array;
  sum: number;
}

/**
 * A Prometheus histogram of request durations that costs a request one map lookup and a few additions. prom-client's
 * Histogram validates and hashes the label set on every observation, which measured several microseconds per request
 * on the verify route; here the work of turning counts into samples happens at scrape time instead.
 */
export class RequestDurationHistogram {
  readonly type = 'histogram';
  private readonly series = new Map<string, DurationSeries>();

  constructor(
    readonly name: string,
    readonly help: string,
    private readonly buckets: readonly number[],
  ) {}

  /** The series of the previous observation: a busy route's requests mostly repeat it, and then build no key. */
  private last: DurationSeries | undefined;
  private lastMethod = '';
  private lastRoute = '';
  private lastStatus = 0;

  observe(method: string, route: string, status: number, seconds: number): void {
    let s = this.last;
    if (s === undefined || status !== this.lastStatus || route !== this.lastRoute || method !== this.lastMethod) {
      const key = `${method} ${status} ${route}`;
      s = this.series.get(key);
      if (s === undefined) {
        s = { labels: { method, route, status: String(status) }, counts: new Float64Array(this.buckets.length + 1), sum: 0 };
        this.series.set(key, s);
      }
      this.last = s;
      this.lastMethod = method;
      this.lastRoute = route;
      this.lastStatus = status;
    }
    let i = 0;
    while (i < this.buckets.length && seconds > this.buckets[i]!) i++;
    s.counts[i]!++;
    s.sum += seconds;
  }

  /** The samples in prom-client's shape, so the registry renders them like its own histograms. */
  async get(): Promise<{ name: string; help: string; type: string; values: Sample[] }> {
    const values: Sample[] = [];
    for (const s of this.series.values()) {
      let cumulative = 0;
      s.counts.forEach((n, i) => {
        cumulative += n;
        values.push({
          metricName: `${this.name}_bucket`,
          labels: { le: this.buckets[i] ?? '+Inf', ...s.labels },
          value: cumulative,
        });
      });
      values.push({ metricName: `${this.name}_sum`, labels: s.labels, value: s.sum });
      values.push({ metricName: `${this.name}_count`, labels: s.labels, value: cumulative });
    }
    return { name: this.name, help: this.help, type: this.type, values };
  }
}

/**
 * Prometheus metrics of one app instance (its own registry, so tests can run many apps in one process).
 * Label values are only route patterns, methods, statuses and fixed vocabularies: never a URL, an app_id, an id
 * from a path, or anything a client sent as a credential.
 */
export class Metrics {
  readonly registry = new Registry();
  private readonly duration = new RequestDurationHistogram(
    'secure_mode_http_request_duration_seconds',
    'Time to answer an HTTP request, by route pattern and status; _count is the number of requests.',
    LATENCY_BUCKETS,
  );

  constructor(deps: MetricsDeps) {
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry });
    // The registry renders any object with a name, help, type and get(); prom-client's types only name its own classes.
    this.registry.registerMetric(this.duration as unknown as Metric);
    new Counter({
      name: 'secure_mode_verifications_total',
      help: 'Verification outcomes since start, by method (user_hash, jwt), platform and failure reason.',
      labelNames: ['outcome', 'method', 'platform', 'reason'],
      registers,
      collect() {
        this.reset();
        for (const o of deps.usage.outcomes()) {
          this.inc({ outcome: o.outcome, method: o.method, platform: o.platform, reason: o.reason }, o.count);
        }
      },
    });
    const cacheStats = () => deps.cache.stats();
    new Gauge({
      name: 'secure_mode_cache_workspaces',
      help: 'Workspaces whose live secrets are held decrypted in the verification cache.',
      registers,
      collect() {
        this.set(cacheStats().workspaces);
      },
    });
    new Gauge({
      name: 'secure_mode_cache_secrets',
      help: 'Live secrets held in the verification cache.',
      registers,
      collect() {
        this.set(cacheStats().secrets);
      },
    });
    new Gauge({
      name: 'secure_mode_secrets_unreadable',
      help: 'Live secrets whose stored ciphertext does not open under the configured master keys (left out of verification).',
      registers,
      collect() {
        this.set(cacheStats().unreadable);
      },
    });
    new Counter({
      name: 'secure_mode_cache_lookups_total',
      help: 'Verification cache lookups by result (hit, miss).',
      labelNames: ['result'],
      registers,
      collect() {
        const { hits, misses } = cacheStats();
        this.reset();
        this.inc({ result: 'hit' }, hits);
        this.inc({ result: 'miss' }, misses);
      },
    });
    new Gauge({
      name: 'secure_mode_cache_hit_ratio',
      help: 'Share of verification cache lookups answered from memory since start (0 before the first lookup).',
      registers,
      collect() {
        const { hits, misses } = cacheStats();
        this.set(hits + misses === 0 ? 0 : hits / (hits + misses));
      },
    });
    // One database read per scrape, shared by the gauges below (a scrape collects them concurrently).
    let reading: Promise<SecretCensusCounts | undefined> | undefined;
    const readCensus = () =>
      (reading ??= deps.census
        .count()
        // The database is down: say so (census_up 0) and keep the last counts rather than claim zero secrets.
        .catch(() => undefined)
        .finally(() => {
          reading = undefined;
        }));
    new Gauge({
      name: 'secure_mode_secrets',
      help: 'Live secrets over all workspaces (state=live) and those never verified since creation (state=never_verified).',
      labelNames: ['state'],
      registers,
      async collect() {
        const counts = await readCensus();
        if (!counts) return;
        this.set({ state: 'live' }, counts.live);
        this.set({ state: 'never_verified' }, counts.neverVerified);
      },
    });
    const censusGauges: [name: string, help: string, count: keyof Omit<SecretCensusCounts, 'live' | 'neverVerified'>][] = [
      [
        'secure_mode_rotations_in_progress',
        'Workspaces with two or more live secrets that accept the same platform.',
        'rotationsInProgress',
      ],
      [
        'secure_mode_rotations_overdue',
        'Open rotations (rolling_out, cutting_over) whose deadline has passed.',
        'overdueRotations',
      ],
      [
        'secure_mode_secrets_due_for_rotation',
        "Live secrets older than their workspace rotation policy's max_age_days.",
        'dueForRotation',
      ],
      [
        'secure_mode_webhook_deliveries_pending',
        'Webhook deliveries not yet delivered nor given up (due, waiting to retry, or in flight), over every endpoint.',
        'pendingDeliveries',
      ],
    ];
    for (const [name, help, count] of censusGauges) {
      new Gauge({
        name,
        help,
        registers,
        async collect() {
          const counts = await readCensus();
          if (counts) this.set(counts[count]);
        },
      });
    }
    new Gauge({
      name: 'secure_mode_census_up',
      help: '1 when the counts above were read from the database at this scrape, 0 when the read failed.',
      registers,
      async collect() {
        this.set((await readCensus()) ? 1 : 0);
      },
    });
  }

  observe(method: string, route: string, status: number, seconds: number): void {
    this.duration.observe(method, route, status, seconds);
  }

  render(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }
}
