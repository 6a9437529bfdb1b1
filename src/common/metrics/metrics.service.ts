import { Injectable } from '@nestjs/common';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { LabelCap } from './label-cap';

export type Surface = 'openai-chat' | 'models' | 'management' | 'other';

/** Collapses an HTTP status into the bounded label `2xx`…`5xx`. */
export function statusClass(status: number): string {
  return `${Math.floor(status / 100)}xx`;
}

/** Distinct `model` label values before new ones are counted as `other`. */
export const MAX_MODEL_LABELS = 1000;
/** Distinct `key` (API key name) label values before new ones are counted as `other`. */
export const MAX_KEY_LABELS = 500;

export type TokenDirection = 'input' | 'output' | 'cache_read' | 'cache_creation' | 'reasoning';

/** One answered request's usage, as {@link MetricsService.recordUsage} takes it. */
export interface UsageMetric {
  /** Provider id of the connection that served it. */
  provider: string;
  /** The model as routed (e.g. `openai/gpt-4o`); null when unknown. */
  model: string | null;
  /** Name of the API key that made the request; null without a key. */
  key: string | null;
  /** Fresh input tokens (cache reads and writes not included). */
  input?: number;
  output?: number;
  cacheRead?: number;
  cacheCreation?: number;
  /** The part of `output` spent on reasoning (counted again under `reasoning`). */
  reasoning?: number;
  /** Cost in USD; omit when unknown (0 is counted: the series then exists). */
  costUsd?: number;
}

interface UsageChildren {
  tokens: Record<TokenDirection, (n: number) => void>;
  cost: (usd: number) => void;
}

const TOKEN_FIELDS: readonly [keyof UsageMetric, TokenDirection][] = [
  ['input', 'input'],
  ['output', 'output'],
  ['cacheRead', 'cache_read'],
  ['cacheCreation', 'cache_creation'],
  ['reasoning', 'reasoning'],
];

/**
 * The gateway's one prom-client registry. Labels are bounded: surfaces and route templates,
 * provider ids, status classes, models and API key names capped by {@link LabelCap} — never raw
 * paths, key secrets or prompts.
 */
@Injectable()
export class MetricsService {
  readonly registry = new Registry();

  /** Caps shared by every metric with a `model` / `key` label. */
  readonly modelLabels = new LabelCap(MAX_MODEL_LABELS);
  readonly keyLabels = new LabelCap(MAX_KEY_LABELS);

  readonly requests = new Counter({
    name: 'gateway_requests_total',
    help: 'Requests answered by the gateway',
    labelNames: ['surface', 'provider', 'model', 'status_class'] as const,
    registers: [this.registry],
  });

  readonly duration = new Histogram({
    name: 'gateway_request_duration_seconds',
    help: 'Time from request to the end of the response (streams: to the last byte)',
    labelNames: ['surface', 'provider', 'model', 'status_class'] as const,
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
    help: 'Tokens reported by upstreams (direction: input = fresh input, output, cache_read, cache_creation, reasoning = part of output)',
    labelNames: ['provider', 'model', 'key', 'direction'] as const,
    registers: [this.registry],
  });

  readonly cost = new Counter({
    name: 'gateway_cost_usd_total',
    help: 'Cost of answered requests in USD (pricing table), by provider, model and API key name',
    labelNames: ['provider', 'model', 'key'] as const,
    registers: [this.registry],
  });

  readonly usageBuffered = new Gauge({
    name: 'gateway_usage_buffer_depth',
    help: 'Usage records waiting to be written to Postgres',
    registers: [this.registry],
  });

  readonly callLogBuffered = new Gauge({
    name: 'gateway_call_log_buffer_depth',
    help: 'Call-log rows (one per request) waiting to be written to Postgres',
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

  readonly policyRejections = new Counter({
    name: 'gateway_policy_rejections_total',
    help: 'Requests refused by a per-key policy (access schedule, RPM, RPD, TPM, budget)',
    labelNames: ['reason'] as const,
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
    help: 'Response cache lookups by result (hit, semantic_hit = a similar conversation in semantic mode, miss, bypass = not cacheable or X-OmniRoute-No-Cache, semantic_error = the embedding call failed)',
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

  /**
   * Counts one answered request and its duration (label children cached: no hashing per call).
   * `model` is the routed model (capped at {@link MAX_MODEL_LABELS}); `none` when not given.
   */
  recordRequest(
    surface: string,
    provider: string,
    status: number,
    seconds: number,
    model?: string | null,
  ): void {
    const cls = statusClass(status);
    const m = this.modelLabels.value(model);
    const key = `${surface}|${provider}|${m}|${cls}`;
    let c = this.requestChildren.get(key);
    if (!c) {
      const counter = this.requests.labels(surface, provider, m, cls);
      const hist = this.duration.labels(surface, provider, m, cls);
      c = { count: () => counter.inc(), time: (v: number) => hist.observe(v) };
      this.requestChildren.set(key, c);
    }
    c.count();
    c.time(seconds);
  }

  private readonly usageChildren = new Map<string, UsageChildren>();

  /**
   * Counts one request's tokens (`gateway_tokens_total`, one series per non-zero direction) and
   * cost (`gateway_cost_usd_total`). `model` and `key` are capped (1000 models, 500 key names;
   * later new values count as `other`); missing ones count as `none`. Negative, NaN and zero token
   * figures are skipped.
   */
  recordUsage(u: UsageMetric): void {
    const model = this.modelLabels.value(u.model);
    const key = this.keyLabels.value(u.key);
    // Keyed by the capped values: the cache is bounded like the series are.
    const id = `${u.provider}\u0000${model}\u0000${key}`;
    let c = this.usageChildren.get(id);
    if (!c) {
      c = this.usageChildrenFor(u.provider, model, key);
      this.usageChildren.set(id, c);
    }
    for (const [field, direction] of TOKEN_FIELDS) {
      const n = u[field];
      if (typeof n === 'number' && n > 0 && Number.isFinite(n)) {
        c.tokens[direction](n);
      }
    }
    if (typeof u.costUsd === 'number' && u.costUsd >= 0 && Number.isFinite(u.costUsd)) {
      c.cost(u.costUsd);
    }
  }

  private usageChildrenFor(provider: string, model: string, key: string): UsageChildren {
    // prom-client creates a series on its first inc, not here: unused directions stay absent.
    const tokens = {} as Record<TokenDirection, (n: number) => void>;
    for (const [, direction] of TOKEN_FIELDS) {
      const child = this.tokens.labels(provider, model, key, direction);
      tokens[direction] = (n: number) => child.inc(n);
    }
    const cost = this.cost.labels(provider, model, key);
    return { tokens, cost: (usd: number) => cost.inc(usd) };
  }
}
