import { Inject, Injectable, Logger } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import { createHash } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { KV_STORE, type KvStore } from '@/common/kv/kv-store';
import type { RecordedResponse } from '@/common/http/response-recorder';
import { MetricsService } from '@/common/metrics/metrics.service';
import { CacheService, withoutTemperature } from './cache.service';
import { stableStringify } from './stable-json';

/** Where each client dialect keeps the conversation (the rest of the body scopes the match). */
const CONVERSATION: Record<string, readonly string[]> = {
  'openai-chat': ['messages'],
  anthropic: ['system', 'messages'],
  responses: ['instructions', 'input'],
  gemini: ['systemInstruction', 'contents'],
  ollama: ['messages'],
};

/** A conversation's text: every string under its fields, roles marked, in order. */
export function conversationText(surface: string, body: Record<string, unknown>): string {
  const out: string[] = [];
  const walk = (v: unknown, key?: string): void => {
    if (typeof v === 'string') {
      out.push(key === 'role' ? `[${v}]` : v);
    } else if (Array.isArray(v)) {
      v.forEach((x) => walk(x));
    } else if (v && typeof v === 'object') {
      for (const [k, x] of Object.entries(v)) {
        // ids and signatures are not what the conversation says
        if (k !== 'id' && k !== 'signature' && k !== 'tool_call_id' && k !== 'type') {
          walk(x, k);
        }
      }
    }
  };
  for (const f of CONVERSATION[surface] ?? []) {
    walk(body[f]);
  }
  return out.join('\n');
}

/** L2-normalised, quantised to int8: 1 byte a dimension, cosine = dot / 127². */
export function quantize(v: readonly number[]): Int8Array {
  let norm = 0;
  for (const x of v) {
    norm += x * x;
  }
  norm = Math.sqrt(norm) || 1;
  const q = new Int8Array(v.length);
  for (let i = 0; i < v.length; i++) {
    q[i] = Math.max(-127, Math.min(127, Math.round((v[i] / norm) * 127)));
  }
  return q;
}

export function similarity(a: Int8Array, b: Int8Array): number {
  if (a.length !== b.length) {
    return 0;
  }
  let dot = 0;
  for (let i = 0; i < a.length; i++) {
    dot += a[i] * b[i];
  }
  return dot / (127 * 127);
}

interface Entry {
  key: string;
  vec: Int8Array;
  at: number;
}

function encode(vec: Int8Array, at: number): string {
  return `${at}:${Buffer.from(vec.buffer, vec.byteOffset, vec.byteLength).toString('base64')}`;
}

function decode(key: string, raw: string): Entry | undefined {
  const colon = raw.indexOf(':');
  const at = Number(raw.slice(0, colon));
  if (colon < 1 || !Number.isFinite(at)) {
    return undefined;
  }
  const buf = Buffer.from(raw.slice(colon + 1), 'base64');
  return { key, at, vec: new Int8Array(buf.buffer, buf.byteOffset, buf.byteLength) };
}

/** What a semantic lookup found: the answer, and the vector to remember the new answer under. */
export interface SemanticProbe {
  scope: string;
  vec?: Int8Array;
  hit?: { rec: RecordedResponse; similarity: number };
}

/**
 * The optional semantic mode of the response cache (setting `semanticEnabled`, off by default).
 * After an exact miss the conversation is embedded through the gateway's OWN `/v1/embeddings`
 * (a loopback call with the caller's credentials: same key, policies, routing, ledger and
 * embeddings cache), and compared with the conversations this API key sent before with the same
 * dialect, model and other parameters (tools, max tokens …): the most similar one at or above
 * `semanticThreshold` answers. Vectors are kept per scope in a Redis hash (int8, at most
 * `semanticMaxEntries`, oldest evicted); the answers themselves are the exact cache's entries, so
 * they expire with them. Any failure (no embedding provider, timeout, store down) is a plain miss.
 */
@Injectable()
export class SemanticCache {
  private readonly logger = new Logger('SemanticCache');
  private warnedAt = 0;

  constructor(
    private readonly cache: CacheService,
    private readonly adapterHost: HttpAdapterHost,
    private readonly metrics: MetricsService,
    @Inject(KV_STORE) private readonly kv: KvStore,
  ) {}

  enabled(): boolean {
    const c = this.cache.config();
    return c.enabled && c.semanticEnabled;
  }

  /** Tenant, dialect, model and every non-conversation parameter: only the wording may differ. */
  scopeOf(
    apiKeyId: string | null,
    surface: string,
    model: string,
    body: Record<string, unknown>,
  ): string {
    const rest = withoutTemperature(surface, body);
    for (const f of CONVERSATION[surface] ?? []) {
      delete rest[f];
    }
    const hash = createHash('sha256')
      .update(stableStringify({ k: apiKeyId ?? 'anonymous', s: surface, m: model, b: rest }))
      .digest('hex');
    return `cache:s:${hash}`;
  }

  /** Embeds the conversation and finds the closest earlier one of the scope. */
  async probe(
    headers: IncomingHttpHeaders,
    query: URLSearchParams | null,
    scope: string,
    text: string,
  ): Promise<SemanticProbe> {
    const cfg = this.cache.config();
    const vec = await this.embed(headers, query, text, cfg.semanticModel, cfg.semanticTimeoutMs);
    if (!vec) {
      return { scope };
    }
    let all: Record<string, string>;
    try {
      all = await this.kv.hgetall(scope);
    } catch {
      return { scope, vec };
    }
    const entries = Object.entries(all)
      .map(([k, raw]) => decode(k, raw))
      .filter((e): e is Entry => e !== undefined);
    entries.sort((a, b) => b.at - a.at);
    if (entries.length > cfg.semanticMaxEntries) {
      void this.kv
        .hdel(scope, ...entries.slice(cfg.semanticMaxEntries).map((e) => e.key))
        .catch(() => 0);
    }
    const ranked = entries
      .slice(0, cfg.semanticMaxEntries)
      .map((e) => ({ e, sim: similarity(vec, e.vec) }))
      .filter((x) => x.sim >= cfg.semanticThreshold)
      .sort((a, b) => b.sim - a.sim);
    for (const { e, sim } of ranked.slice(0, 3)) {
      const rec = await this.cache.peek(e.key);
      if (rec) {
        return { scope, vec, hit: { rec, similarity: sim } };
      }
      void this.kv.hdel(scope, e.key).catch(() => 0); // its answer expired
    }
    return { scope, vec };
  }

  /** Remembers a newly cached answer's conversation (off the request path). */
  remember(probe: SemanticProbe, key: string): void {
    if (!probe.vec) {
      return;
    }
    const ttlMs = this.cache.config().ttlMs;
    void this.kv
      .hset(probe.scope, { [key]: encode(probe.vec, Date.now()) })
      .then(() => this.kv.expire(probe.scope, ttlMs))
      .catch(() => undefined);
  }

  /** The conversation's vector from the gateway's own embeddings route, or undefined. */
  private async embed(
    headers: IncomingHttpHeaders,
    query: URLSearchParams | null,
    text: string,
    model: string,
    timeoutMs: number,
  ): Promise<Int8Array | undefined> {
    const auth: Record<string, string> = {};
    for (const h of ['authorization', 'x-api-key', 'x-goog-api-key']) {
      const v = headers[h];
      if (typeof v === 'string') {
        auth[h] = v;
      }
    }
    const qKey = query?.get('key');
    if (qKey && !auth['x-goog-api-key']) {
      auth['x-goog-api-key'] = qKey;
    }
    try {
      const res = await fetch(`${this.selfUrl()}/v1/embeddings`, {
        method: 'POST',
        headers: {
          ...auth,
          'content-type': 'application/json',
          accept: 'application/json',
          // no X-Request-Id: the gateway would take a repeated one as an idempotency key
        },
        body: JSON.stringify({ model, input: text.slice(0, 32_000), encoding_format: 'float' }),
        signal: AbortSignal.timeout(timeoutMs),
      });
      const j = (await res.json()) as {
        data?: { embedding?: unknown }[];
        error?: { message?: string };
      };
      const v = j.data?.[0]?.embedding;
      if (!res.ok || !Array.isArray(v) || !v.length) {
        throw new Error(`${res.status} ${j.error?.message ?? 'no embedding in the answer'}`);
      }
      return quantize(v as number[]);
    } catch (e) {
      this.metrics.cacheRequests.inc({ result: 'semantic_error' });
      const now = Date.now();
      if (now - this.warnedAt > 60_000) {
        this.warnedAt = now;
        this.logger.warn(`semantic cache: embedding with ${model} failed: ${(e as Error).message}`);
      }
      return undefined;
    }
  }

  private selfUrl(): string {
    const addr = this.adapterHost.httpAdapter.getHttpServer().address() as AddressInfo | null;
    // a wildcard bind is reached on loopback; a specific address (HOST=10.0.0.5) on itself
    const host =
      !addr || addr.address === '0.0.0.0' || addr.address === '::'
        ? '127.0.0.1'
        : addr.family === 'IPv6'
          ? `[${addr.address}]`
          : addr.address;
    return `http://${host}:${addr?.port ?? 20128}`;
  }
}
