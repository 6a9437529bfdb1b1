import { Injectable } from '@nestjs/common';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export type Surface = 'openai-chat' | 'models' | 'management' | 'other';

/** Collapses an HTTP status into the bounded label `2xx`…`5xx`. */
export function statusClass(status: number): string {
  return `${Math.floor(status / 100)}xx`;
}

/**
 * The gateway's one prom-client registry. Labels are bounded: surfaces and route templates,
 * provider ids, status classes — never raw paths, keys or prompts.
 */
@Injectable()
export class MetricsService {
  readonly registry = new Registry();

  readonly requests = new Counter({
    name: 'gateway_requests_total',
    help: 'Requests answered by the gateway',
    labelNames: ['surface', 'provider', 'status_class'] as const,
    registers: [this.registry],
  });

  readonly duration = new Histogram({
    name: 'gateway_request_duration_seconds',
    help: 'Time from request to the end of the response (streams: to the last byte)',
    labelNames: ['surface', 'provider', 'status_class'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120],
    registers: [this.registry],
  });

  readonly upstreamTtfb = new Histogram({
    name: 'gateway_upstream_ttfb_seconds',
    help: 'Time until the upstream sent its response headers',
    labelNames: ['provider'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [this.registry],
  });

  readonly overhead = new Histogram({
    name: 'gateway_overhead_seconds',
    help: 'Time spent in the gateway before the upstream call started',
    labelNames: ['surface'] as const,
    buckets: [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05],
    registers: [this.registry],
  });

  readonly tokens = new Counter({
    name: 'gateway_tokens_total',
    help: 'Tokens reported by upstreams',
    labelNames: ['provider', 'direction'] as const,
    registers: [this.registry],
  });

  readonly usageBuffered = new Gauge({
    name: 'gateway_usage_buffer_depth',
    help: 'Usage records waiting to be written to Postgres',
    registers: [this.registry],
  });

  readonly usageDropped = new Counter({
    name: 'gateway_usage_dropped_total',
    help: 'Usage records dropped because the buffer was full during a database outage',
    registers: [this.registry],
  });

  readonly usageWritten = new Counter({
    name: 'gateway_usage_written_total',
    help: 'Usage records written to Postgres',
    registers: [this.registry],
  });

  readonly fallbacks = new Counter({
    name: 'gateway_fallbacks_total',
    help: 'Requests moved to another account or combo target after a failure or a skip',
    labelNames: ['surface', 'reason'] as const,
    registers: [this.registry],
  });

  readonly breakerState = new Gauge({
    name: 'gateway_breaker_state',
    help: 'Provider circuit breaker state (0 closed, 1 half-open, 2 open)',
    labelNames: ['provider'] as const,
    registers: [this.registry],
  });

  readonly rateLimitRejections = new Counter({
    name: 'gateway_rate_limit_rejections_total',
    help: 'Attempts refused by a per-connection RPM/TPM limit (the request moves on or fails fast)',
    labelNames: ['provider'] as const,
    registers: [this.registry],
  });

  readonly retries = new Counter({
    name: 'gateway_upstream_retries_total',
    help: 'Same-account retries of transient upstream failures (before the first byte)',
    labelNames: ['provider'] as const,
    registers: [this.registry],
  });

  readonly cacheRequests = new Counter({
    name: 'gateway_cache_requests_total',
    help: 'Response cache lookups by result (hit, miss, bypass = not cacheable or X-OmniRoute-No-Cache)',
    labelNames: ['result'] as const,
    registers: [this.registry],
  });

  readonly idempotentReplays = new Counter({
    name: 'gateway_idempotent_replays_total',
    help: 'Duplicate requests answered from the first one (Idempotency-Key / X-Request-Id)',
    registers: [this.registry],
  });

  readonly kvDegraded = new Counter({
    name: 'gateway_kv_degraded_total',
    help: 'Requests that went on without a shared-state feature because the key-value store failed',
    labelNames: ['feature'] as const,
    registers: [this.registry],
  });

  private readonly requestChildren = new Map<
    string,
    { count: () => void; time: (s: number) => void }
  >();

  constructor() {
    collectDefaultMetrics({ register: this.registry });
  }

  private readonly singleChildren = new Map<string, (v: number) => void>();

  /** Observes a one-label histogram through a cached child (no label hashing per call). */
  private observeOne(h: Histogram<string>, name: string, value: string, v: number): void {
    const key = `${name}|${value}`;
    let f = this.singleChildren.get(key);
    if (!f) {
      const child = h.labels(value);
      f = (x: number) => child.observe(x);
      this.singleChildren.set(key, f);
    }
    f(v);
  }

  observeTtfb(provider: string, seconds: number): void {
    this.observeOne(this.upstreamTtfb, 'ttfb', provider, seconds);
  }

  observeOverhead(surface: string, seconds: number): void {
    this.observeOne(this.overhead, 'overhead', surface, seconds);
  }

  /** Counts one answered request and its duration (label children cached: no hashing per call). */
  recordRequest(surface: string, provider: string, status: number, seconds: number): void {
    const cls = statusClass(status);
    const key = `${surface}|${provider}|${cls}`;
    let c = this.requestChildren.get(key);
    if (!c) {
      const counter = this.requests.labels(surface, provider, cls);
      const hist = this.duration.labels(surface, provider, cls);
      c = { count: () => counter.inc(), time: (v: number) => hist.observe(v) };
      this.requestChildren.set(key, c);
    }
    c.count();
    c.time(seconds);
  }
}
