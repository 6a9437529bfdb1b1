import { Inject, Injectable, OnModuleDestroy, OnModuleInit } from '@nestjs/common';
import { createHash } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import { AppError } from '@/common/errors/app-error';
import type { RecordedResponse } from '@/common/http/response-recorder';
import { KV_STORE, type KvStore, type Unsubscribe } from '@/common/kv/kv-store';
import { MetricsService } from '@/common/metrics/metrics.service';
import { invalidSettings } from '@/resilience/resilience.settings';
import { SettingsService } from '@/settings/settings.service';
import { KvGuard } from './kv-guard';
import { stableStringify } from './stable-json';

export interface CacheConfig {
  /** The response cache on/off (idempotency is always on). */
  enabled: boolean;
  /** Lifetime of an entry (L1 and Redis). */
  ttlMs: number;
  /** In-memory (L1) entries per replica. */
  maxEntries: number;
  /** In-memory (L1) bytes per replica. */
  maxBytes: number;
  /** Larger answers are not cached. */
  maxBodyBytes: number;
  /** How long a finished request answers its duplicates (Idempotency-Key / X-Request-Id). */
  idempotencyWindowMs: number;
  /** Semantic mode: an exact miss may be answered by a similar earlier conversation. */
  semanticEnabled: boolean;
  /** The embedding model (any model or combo of the gateway's own /v1/embeddings). */
  semanticModel: string;
  /** Cosine similarity at or above which a conversation counts as the same. */
  semanticThreshold: number;
  /** Conversations remembered per API key, dialect, model and parameters. */
  semanticMaxEntries: number;
  /** How long the embedding call may take before the request just goes upstream. */
  semanticTimeoutMs: number;
}

export const CACHE_DEFAULTS: CacheConfig = {
  enabled: true,
  ttlMs: 3_600_000,
  maxEntries: 500,
  maxBytes: 16 * 1024 * 1024,
  maxBodyBytes: 256 * 1024,
  idempotencyWindowMs: 5_000,
  semanticEnabled: false,
  semanticModel: 'openai/text-embedding-3-small',
  semanticThreshold: 0.95,
  semanticMaxEntries: 200,
  semanticTimeoutMs: 3_000,
};

type Rule = [number, number] | 'bool' | 'model' | 'ratio';

const LIMITS: Record<keyof CacheConfig, Rule> = {
  enabled: 'bool',
  ttlMs: [1_000, 30 * 24 * 3600_000],
  maxEntries: [0, 1_000_000],
  maxBytes: [0, 4 * 1024 * 1024 * 1024],
  maxBodyBytes: [1_024, 64 * 1024 * 1024],
  idempotencyWindowMs: [100, 24 * 3600_000],
  semanticEnabled: 'bool',
  semanticModel: 'model',
  semanticThreshold: 'ratio',
  semanticMaxEntries: [1, 10_000],
  semanticTimeoutMs: [100, 60_000],
};

/** Why a value breaks its rule, or undefined. */
function ruleProblem(k: string, rule: Rule, v: unknown): string | undefined {
  if (rule === 'bool') {
    return typeof v === 'boolean' ? undefined : `${k} must be a boolean`;
  }
  if (rule === 'model') {
    return typeof v === 'string' && v.trim() && v.length <= 300
      ? undefined
      : `${k} must be a model name (provider/model, alias or combo)`;
  }
  if (rule === 'ratio') {
    return typeof v === 'number' && v >= 0.5 && v <= 1
      ? undefined
      : `${k} must be a number between 0.5 and 1`;
  }
  return typeof v === 'number' && Number.isInteger(v) && v >= rule[0] && v <= rule[1]
    ? undefined
    : `${k} must be an integer between ${rule[0]} and ${rule[1]}`;
}

const CONFIG_KEY = 'cacheConfig';
const SETTINGS_CHANNEL = 'settings:changed';
const CLEAR_CHANNEL = 'cache:clear';
const STATS_KEYS = {
  hits: 'cache:stats:hits',
  misses: 'cache:stats:misses',
  saved: 'cache:stats:saved',
};

/** What the cache needs to know about a chat request. */
export interface CacheableCall {
  surface: string;
  model: string;
  stream: boolean;
  body: Record<string, unknown>;
  /** Sampling temperature as the client sent it (any dialect), undefined when absent. */
  temperature: number | undefined;
}

interface L1Entry {
  rec: RecordedResponse;
  bytes: number;
  expiresAt: number;
}

/** Fields that do not change the answer: left out of the key. */
const NOT_IN_KEY: ReadonlySet<string> = new Set([
  'stream',
  'stream_options',
  'user',
  'metadata',
  'store',
  'service_tier',
]);

/** The body for the key: answer-neutral fields and the temperature (keyed separately) left out. */
export function withoutTemperature(
  surface: string,
  src: Record<string, unknown>,
): Record<string, unknown> {
  const body: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(src)) {
    if (!NOT_IN_KEY.has(k) && k !== 'temperature') {
      body[k] = v;
    }
  }
  // Gemini and Ollama nest it
  const nested = surface === 'gemini' ? 'generationConfig' : surface === 'ollama' ? 'options' : '';
  const inner = nested ? body[nested] : undefined;
  if (inner && typeof inner === 'object' && !Array.isArray(inner)) {
    const { temperature: _t, ...rest } = inner as Record<string, unknown>;
    void _t;
    body[nested] = rest;
  }
  return body;
}

function entryKey(model: string, hash: string): string {
  return `cache:e:${encodeURIComponent(model)}:${hash}`;
}

/**
 * Exact-match response cache (reference §7.1, API.md §2): a non-streaming request whose temperature
 * is 0 or absent is answered from an earlier identical one. The key is the SHA-256 of the API key
 * id, the client dialect, the requested model and the whole request body (keys sorted; `stream`,
 * `user`, `metadata` and the like left out), so two keys never share an entry and any change in the
 * conversation, tools or sampling parameters is a different entry. Entries live in Redis (shared by
 * every replica, TTL `ttlMs`) behind a small per-replica LRU (L1). When the key-value store fails the
 * request simply goes upstream (counted and logged).
 */
@Injectable()
export class CacheService implements OnModuleInit, OnModuleDestroy {
  private cfg: CacheConfig = CACHE_DEFAULTS;
  private readonly l1 = new Map<string, L1Entry>();
  private l1Bytes = 0;
  private pending = { hits: 0, misses: 0, saved: 0 };
  private local = { hits: 0, misses: 0 };
  private timer?: NodeJS.Timeout;
  private readonly unsubs: Unsubscribe[] = [];
  readonly guard: KvGuard;

  constructor(
    @Inject(KV_STORE) private readonly kv: KvStore,
    private readonly settings: SettingsService,
    private readonly metrics: MetricsService,
  ) {
    this.guard = new KvGuard(metrics);
  }

  async onModuleInit(): Promise<void> {
    await this.reload();
    const sub = async (channel: string, fn: (m: string) => void): Promise<void> => {
      const u = await this.kv.subscribe(channel, fn).catch(() => undefined);
      if (u) {
        this.unsubs.push(u);
      }
    };
    await sub(SETTINGS_CHANNEL, (key) => {
      if (key === CONFIG_KEY) {
        void this.reload();
      }
    });
    await sub(CLEAR_CHANNEL, (model) => this.clearL1(model || undefined));
    this.timer = setInterval(() => void this.flushStats(), 1_000);
    this.timer.unref();
  }

  async onModuleDestroy(): Promise<void> {
    clearInterval(this.timer);
    await this.flushStats();
    for (const u of this.unsubs) {
      await u();
    }
  }

  config(): CacheConfig {
    return this.cfg;
  }

  storeKind(): string {
    return this.kv.kind;
  }

  private async reload(): Promise<void> {
    try {
      const stored = await this.settings.get<Partial<CacheConfig> | undefined>(
        CONFIG_KEY,
        undefined,
      );
      this.cfg = { ...CACHE_DEFAULTS, ...(stored ?? {}) };
    } catch {
      /* keep the current config */
    }
    this.evict();
  }

  async updateConfig(patch: unknown): Promise<CacheConfig> {
    if (typeof patch !== 'object' || patch === null || Array.isArray(patch)) {
      throw AppError.invalid('The body must be a JSON object of cache settings');
    }
    const errors: string[] = [];
    const next: Record<string, unknown> = { ...this.cfg };
    for (const [k, v] of Object.entries(patch)) {
      const rule = Object.hasOwn(LIMITS, k) ? LIMITS[k as keyof CacheConfig] : undefined;
      const problem = rule ? ruleProblem(k, rule, v) : `${k} is not a known cache setting`;
      if (problem) {
        errors.push(problem);
      }
      next[k] = v;
    }
    if (errors.length) {
      throw invalidSettings('cache', errors);
    }
    this.cfg = next as unknown as CacheConfig;
    await this.settings.set(CONFIG_KEY, this.cfg);
    this.evict();
    return this.cfg;
  }

  /**
   * The cache key of a request, or undefined when it may not read the cache: cache off, a
   * stream, a temperature other than 0, or `X-OmniRoute-No-Cache: true`. As in OmniRoute
   * (reference §7.1), an absent temperature counts as 0 for the key and may read an entry, but only
   * a request that asked for temperature 0 explicitly writes one (`writable`): the cache never
   * turns a default-temperature (sampled) answer into everyone's answer.
   */
  keyFor(
    headers: IncomingHttpHeaders,
    apiKeyId: string | null,
    call: CacheableCall,
  ): { key: string; writable: boolean } | undefined {
    if (!this.cfg.enabled || call.stream || (call.temperature ?? 0) !== 0) {
      return undefined;
    }
    const noCache = headers['x-omniroute-no-cache'];
    if (typeof noCache === 'string' && noCache.toLowerCase() === 'true') {
      return undefined;
    }
    const body = withoutTemperature(call.surface, call.body);
    const hash = createHash('sha256')
      .update(
        stableStringify({
          k: apiKeyId ?? 'anonymous',
          s: call.surface,
          m: call.model,
          t: 0,
          b: body,
        }),
      )
      .digest('hex');
    return { key: entryKey(call.model, hash), writable: call.temperature === 0 };
  }

  /** A stored answer for this key (L1, then the shared store), or undefined. */
  async get(key: string, countMiss = true): Promise<RecordedResponse | undefined> {
    const rec = await this.peek(key);
    if (rec) {
      this.hit(rec);
    } else if (countMiss) {
      this.miss();
    }
    return rec;
  }

  /** A stored answer without counting a hit or a miss. */
  async peek(key: string): Promise<RecordedResponse | undefined> {
    const now = Date.now();
    const e = this.l1.get(key);
    if (e) {
      if (e.expiresAt > now) {
        this.l1.delete(key); // LRU: move to the end
        this.l1.set(key, e);
        return e.rec;
      }
      this.dropL1(key, e);
    }
    const raw = await this.guard.call('cache', this.kv.get(key), null);
    if (raw) {
      try {
        const stored = JSON.parse(raw) as { rec: RecordedResponse; expiresAt: number };
        if (stored.expiresAt > now) {
          this.putL1(key, stored.rec, stored.expiresAt);
          return stored.rec;
        }
      } catch {
        /* a damaged entry is a miss */
      }
    }
    return undefined;
  }

  miss(): void {
    this.local.misses++;
    this.pending.misses++;
    this.metrics.cacheRequests.inc({ result: 'miss' });
  }

  /** An answer served by a similar earlier conversation (semantic mode). */
  semanticHit(rec: RecordedResponse): void {
    this.hit(rec, 'semantic_hit');
  }

  bypass(): void {
    this.metrics.cacheRequests.inc({ result: 'bypass' });
  }

  private hit(rec: RecordedResponse, result: 'hit' | 'semantic_hit' = 'hit'): void {
    this.local.hits++;
    this.pending.hits++;
    this.pending.saved +=
      Number(rec.headers['x-omniroute-tokens-in'] ?? 0) +
      Number(rec.headers['x-omniroute-tokens-out'] ?? 0);
    this.metrics.cacheRequests.inc({ result });
  }

  /** Stores a served answer (off the request path). */
  set(key: string, rec: RecordedResponse): void {
    const bytes = Math.floor((rec.body.length * 3) / 4);
    if (bytes > this.cfg.maxBodyBytes) {
      return;
    }
    const expiresAt = Date.now() + this.cfg.ttlMs;
    this.putL1(key, rec, expiresAt);
    void this.guard.call(
      'cache',
      this.kv.set(key, JSON.stringify({ rec, expiresAt }), { ttlMs: this.cfg.ttlMs }),
      false,
    );
  }

  private putL1(key: string, rec: RecordedResponse, expiresAt: number): void {
    if (this.cfg.maxEntries <= 0) {
      return;
    }
    const old = this.l1.get(key);
    if (old) {
      this.dropL1(key, old);
    }
    const bytes = rec.body.length + 256;
    this.l1.set(key, { rec, bytes, expiresAt });
    this.l1Bytes += bytes;
    this.evict();
  }

  private dropL1(key: string, e: L1Entry): void {
    this.l1.delete(key);
    this.l1Bytes -= e.bytes;
  }

  private evict(): void {
    for (const [k, e] of this.l1) {
      if (this.l1.size <= this.cfg.maxEntries && this.l1Bytes <= this.cfg.maxBytes) {
        break;
      }
      this.dropL1(k, e);
    }
  }

  private clearL1(model?: string): number {
    const prefix = model ? `cache:e:${encodeURIComponent(model)}:` : '';
    let n = 0;
    for (const [k, e] of this.l1) {
      if (k.startsWith(prefix)) {
        this.dropL1(k, e);
        n++;
      }
    }
    return n;
  }

  /** Deletes every entry (or one model's) on every replica; returns how many were in the store. */
  async clear(model?: string): Promise<number> {
    const keys = await this.kv.scan(model ? `cache:e:${encodeURIComponent(model)}:*` : 'cache:e:*');
    let n = 0;
    for (let i = 0; i < keys.length; i += 500) {
      n += await this.kv.del(...keys.slice(i, i + 500));
    }
    this.clearL1(model);
    await this.kv.publish(CLEAR_CHANNEL, model ?? '').catch(() => undefined);
    return n;
  }

  private async flushStats(): Promise<void> {
    const p = this.pending;
    if (!p.hits && !p.misses && !p.saved) {
      return;
    }
    this.pending = { hits: 0, misses: 0, saved: 0 };
    try {
      const ops: Promise<number>[] = [];
      if (p.hits) {
        ops.push(this.kv.incrBy(STATS_KEYS.hits, p.hits));
      }
      if (p.misses) {
        ops.push(this.kv.incrBy(STATS_KEYS.misses, p.misses));
      }
      if (p.saved) {
        ops.push(this.kv.incrBy(STATS_KEYS.saved, p.saved));
      }
      await Promise.all(ops);
    } catch {
      /* the store is down: these figures stay local */
    }
  }

  async stats(): Promise<{
    memoryEntries: number;
    memoryBytes: number;
    maxEntries: number;
    maxBytes: number;
    dbEntries: number;
    hits: number;
    misses: number;
    hitRate: string;
    tokensSaved: number;
  }> {
    await this.flushStats();
    const num = async (k: string): Promise<number> => Number((await this.kv.get(k)) ?? 0);
    let hits = this.local.hits;
    let misses = this.local.misses;
    let saved = 0;
    let dbEntries = 0;
    try {
      [hits, misses, saved] = await Promise.all([
        num(STATS_KEYS.hits),
        num(STATS_KEYS.misses),
        num(STATS_KEYS.saved),
      ]);
      dbEntries = (await this.kv.scan('cache:e:*')).length;
    } catch {
      /* local figures */
    }
    const total = hits + misses;
    return {
      memoryEntries: this.l1.size,
      memoryBytes: this.l1Bytes,
      maxEntries: this.cfg.maxEntries,
      maxBytes: this.cfg.maxBytes,
      dbEntries,
      hits,
      misses,
      hitRate: total ? ((hits / total) * 100).toFixed(1) : '0.0',
      tokensSaved: saved,
    };
  }
}
