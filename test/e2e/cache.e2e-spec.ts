import Anthropic from '@anthropic-ai/sdk';
import { GoogleGenAI } from '@google/genai';
import { Ollama } from 'ollama';
import OpenAI from 'openai';
import Redis from 'ioredis';
import { REDIS_URL } from '../support/db';
import { useGateway } from '../support/fixtures';
import { addMockNode, admin, call, type CallResult } from '../support/gateway-client';
import { startMockUpstream, type MockUpstream } from '../support/mock-upstream';

/**
 * The response cache, idempotent inference and stream progress comments (issue 5), through the
 * real app: one in-process gateway, OpenAI-compatible mock upstreams. Runs in both the `e2e`
 * (Redis) and `e2e-memory` (in-process store) projects.
 */

const MEMORY = process.env.OMNI_TEST_NO_REDIS === '1';
const MODEL = 'c/gpt-4o-mini';
const SLOW = 'c/slow-first-token';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

interface CacheStats {
  semanticCache: {
    memoryEntries: number;
    memoryBytes: number;
    maxEntries: number;
    maxBytes: number;
    dbEntries: number;
    hits: number;
    misses: number;
    hitRate: string;
    tokensSaved: number;
  };
  idempotency: { activeKeys: number; windowMs: number };
  config: CacheConfig;
  store: string;
}

interface CacheConfig {
  enabled: boolean;
  ttlMs: number;
  maxEntries: number;
  maxBytes: number;
  maxBodyBytes: number;
  idempotencyWindowMs: number;
}

interface Progress {
  tokens_generated: number;
  elapsed_ms: number;
  done?: boolean;
}

/** The `: progress {...}` comment lines of an SSE text, parsed. */
function progressOf(sse: string): Progress[] {
  return sse
    .split('\n')
    .filter((l) => l.startsWith(': progress '))
    .map((l) => JSON.parse(l.slice(': progress '.length)) as Progress);
}

/** The concatenated `delta.content` of an OpenAI chat SSE text. */
function sseContent(sse: string): string {
  let out = '';
  for (const line of sse.split('\n')) {
    if (line.startsWith('data: {')) {
      const chunk = JSON.parse(line.slice(6)) as {
        choices?: { delta?: { content?: string | null } }[];
      };
      out += chunk.choices?.[0]?.delta?.content ?? '';
    }
  }
  return out;
}

/** Sum of a counter's samples whose label set contains `labels` (all of them when empty). */
function counterValue(metrics: string, name: string, labels = ''): number {
  let sum = 0;
  for (const line of metrics.split('\n')) {
    if ((line.startsWith(`${name}{`) || line.startsWith(`${name} `)) && line.includes(labels)) {
      sum += Number(line.slice(line.lastIndexOf(' ') + 1));
    }
  }
  return sum;
}

describe('response cache, idempotency and progress comments', () => {
  const { gw, mock } = useGateway({
    mock: { slowMs: 300 },
    app: { env: { PROGRESS_INTERVAL_MS: '100' } },
  });
  /** Streams with a pause between events (periodic progress comments). */
  let chunky: MockUpstream;
  let key2: string;
  let seq = 0;
  /** A message text no other test uses (the cache outlives a test). */
  const fresh = (label: string): string => `${label} #${++seq} ${Date.now()}`;

  beforeAll(async () => {
    chunky = await startMockUpstream({
      chunkDelayMs: 60,
      reply: 'one two three four five six seven eight nine ten eleven twelve thirteen fourteen',
    });
    await addMockNode(gw, 'c', mock.baseUrl);
    // Failing models on nodes of their own: a failing account cools down, which must not leak.
    await addMockNode(gw, 'if5', mock.baseUrl);
    await addMockNode(gw, 'ifl', mock.baseUrl);
    await addMockNode(gw, 'ifm', mock.baseUrl);
    await addMockNode(gw, 'pc', chunky.baseUrl);
    // A failed first request must leave the account usable for the duplicate that runs again.
    await admin(gw, 'PUT', '/api/resilience', {
      connectionCooldown: { apikey: { baseCooldownMs: 0 } },
    });
    const created = await call(gw, 'POST', '/api/keys', { body: { name: 'cache-second-key' } });
    expect(created.status).toBe(201);
    key2 = (created.json as { key: string }).key;
  });
  afterAll(async () => {
    await chunky?.close();
  });
  beforeEach(() => {
    mock.reset();
    chunky.reset();
  });

  const upstreamCalls = (): number => mock.stats().chatCompletions;

  /** A non-stream OpenAI chat call (`stream: false` unless the body says otherwise). */
  const chat = (
    body: Record<string, unknown>,
    opts: { key?: string; headers?: Record<string, string> } = {},
  ): Promise<CallResult> =>
    call(gw, 'POST', '/v1/chat/completions', {
      body: { model: MODEL, stream: false, ...body },
      key: opts.key,
      headers: opts.headers,
    });

  const ask = (content: string, extra: Record<string, unknown> = {}): Record<string, unknown> => ({
    messages: [{ role: 'user', content }],
    ...extra,
  });

  const stats = (): Promise<CacheStats> => admin<CacheStats>(gw, 'GET', '/api/cache');
  const putConfig = (patch: Record<string, unknown>): Promise<CallResult> =>
    call(gw, 'PUT', '/api/cache/config', { body: patch });

  describe('response cache', () => {
    it('answers MISS, then HIT with the identical body and no second upstream call', async () => {
      const body = ask(fresh('miss-then-hit'), { temperature: 0 });
      const first = await chat(body);
      expect(first.status).toBe(200);
      expect(first.headers.get('x-omniroute-cache')).toBe('MISS');
      expect(upstreamCalls()).toBe(1);

      const second = await chat(body);
      expect(second.status).toBe(200);
      expect(second.headers.get('x-omniroute-cache')).toBe('HIT');
      expect(second.text).toBe(first.text);
      expect(second.headers.get('content-type')).toBe(first.headers.get('content-type'));
      expect(second.headers.get('x-omniroute-idempotent')).toBeNull();
      expect(upstreamCalls()).toBe(1);

      if (!MEMORY) {
        // Stored in Redis under cache:e:<model>:<sha-256>, with a TTL.
        const r = new Redis(REDIS_URL);
        try {
          const keys = await r.keys(`${gw.redisPrefix}cache:e:${encodeURIComponent(MODEL)}:*`);
          expect(keys).toHaveLength(1);
          expect(keys[0]).toMatch(/:[0-9a-f]{64}$/);
          const ttl = await r.pttl(keys[0]);
          expect(ttl).toBeGreaterThan(3_500_000);
        } finally {
          r.disconnect();
        }
      }
    });

    it('lets an absent temperature read an entry written by temperature 0, but never write one', async () => {
      const text = fresh('absent-temperature');
      const a = await chat(ask(text));
      expect(a.headers.get('x-omniroute-cache')).toBe('MISS');
      const b = await chat(ask(text));
      expect(b.headers.get('x-omniroute-cache')).toBe('MISS'); // the first did not write
      expect(upstreamCalls()).toBe(2);

      const zero = await chat(ask(text, { temperature: 0 }));
      expect(zero.headers.get('x-omniroute-cache')).toBe('MISS');
      expect(upstreamCalls()).toBe(3);

      const c = await chat(ask(text));
      expect(c.headers.get('x-omniroute-cache')).toBe('HIT');
      expect(c.text).toBe(zero.text);
      expect(upstreamCalls()).toBe(3);
    });

    it('is bypassed by X-OmniRoute-No-Cache: true (no header, upstream called, entry kept)', async () => {
      const body = ask(fresh('no-cache'), { temperature: 0 });
      expect((await chat(body)).headers.get('x-omniroute-cache')).toBe('MISS');
      const bypass = await chat(body, { headers: { 'x-omniroute-no-cache': 'true' } });
      expect(bypass.status).toBe(200);
      expect(bypass.headers.get('x-omniroute-cache')).toBeNull();
      expect(upstreamCalls()).toBe(2);
      expect((await chat(body)).headers.get('x-omniroute-cache')).toBe('HIT');
      expect(upstreamCalls()).toBe(2);
    });

    it('never shares an entry between two API keys', async () => {
      const body = ask(fresh('two-keys'), { temperature: 0 });
      expect((await chat(body)).headers.get('x-omniroute-cache')).toBe('MISS');
      const other = await chat(body, { key: key2 });
      expect(other.status).toBe(200);
      expect(other.headers.get('x-omniroute-cache')).toBe('MISS');
      expect(upstreamCalls()).toBe(2);
      expect((await chat(body, { key: key2 })).headers.get('x-omniroute-cache')).toBe('HIT');
      expect((await chat(body)).headers.get('x-omniroute-cache')).toBe('HIT');
      expect(upstreamCalls()).toBe(2);
    });

    it('does not cache a request with temperature 0.7', async () => {
      const body = ask(fresh('warm'), { temperature: 0.7 });
      for (let i = 0; i < 2; i++) {
        const r = await chat(body);
        expect(r.status).toBe(200);
        expect(r.headers.get('x-omniroute-cache')).toBeNull();
      }
      expect(upstreamCalls()).toBe(2);
    });

    it('does not cache streams, nor answer a stream from a non-stream entry', async () => {
      const text = fresh('stream');
      for (let i = 0; i < 2; i++) {
        const r = await chat(ask(text, { temperature: 0, stream: true }));
        expect(r.status).toBe(200);
        expect(r.headers.get('content-type')).toContain('text/event-stream');
        expect(r.headers.get('x-omniroute-cache')).toBeNull();
        expect(sseContent(r.text)).toBe(mock.reply);
      }
      expect(upstreamCalls()).toBe(2);
      // nothing was written by the streams
      expect((await chat(ask(text, { temperature: 0 }))).headers.get('x-omniroute-cache')).toBe(
        'MISS',
      );
      const s = await chat(ask(text, { temperature: 0, stream: true }));
      expect(s.headers.get('content-type')).toContain('text/event-stream');
      expect(s.headers.get('x-omniroute-cache')).toBeNull();
      expect(upstreamCalls()).toBe(4);
    });

    it('keys on the whole body: another message, tool or max_tokens is a MISS; key order and user are not', async () => {
      const text = fresh('variants');
      const tool = (name: string): Record<string, unknown> => ({
        type: 'function',
        function: { name, parameters: { type: 'object', properties: {} } },
      });
      const base = ask(text, { temperature: 0, max_tokens: 50, tools: [tool('get_weather')] });
      expect((await chat(base)).headers.get('x-omniroute-cache')).toBe('MISS');
      const variants: Record<string, unknown>[] = [
        { ...base, messages: [{ role: 'user', content: `${text}!` }] },
        {
          ...base,
          messages: [
            { role: 'system', content: 'Be brief.' },
            { role: 'user', content: text },
          ],
        },
        { ...base, tools: [tool('get_time')] },
        { ...base, tools: [tool('get_weather'), tool('get_time')] },
        { ...base, max_tokens: 51 },
        { ...base, top_p: 0.5 },
        { ...base, model: 'c/gpt-4o' },
      ];
      for (const v of variants) {
        const r = await chat(v);
        expect(r.status).toBe(200);
        expect([JSON.stringify(v), r.headers.get('x-omniroute-cache')]).toEqual([
          JSON.stringify(v),
          'MISS',
        ]);
      }
      expect(upstreamCalls()).toBe(1 + variants.length);

      // Same content in another key order, plus answer-neutral fields: the same entry.
      const reordered = {
        tools: base.tools,
        max_tokens: 50,
        temperature: 0,
        messages: base.messages,
        user: 'someone-else',
        metadata: { trace: 'x' },
      };
      const hit = await chat(reordered);
      expect(hit.headers.get('x-omniroute-cache')).toBe('HIT');
      expect(upstreamCalls()).toBe(1 + variants.length);
    });

    it('DELETE /api/cache?model= drops one model, DELETE /api/cache drops everything', async () => {
      const a = ask(fresh('delete-a'), { temperature: 0 });
      const b = ask(fresh('delete-b'), { temperature: 0, model: 'c/other-model' });
      await chat(a);
      await chat(b);
      expect((await chat(a)).headers.get('x-omniroute-cache')).toBe('HIT');
      expect((await chat(b)).headers.get('x-omniroute-cache')).toBe('HIT');

      const one = await call(gw, 'DELETE', `/api/cache?model=${encodeURIComponent(MODEL)}`);
      expect(one.status).toBe(200);
      expect(one.json).toEqual({
        ok: true,
        invalidated: expect.any(Number),
        scope: 'model',
        model: MODEL,
      });
      expect((one.json as { invalidated: number }).invalidated).toBeGreaterThanOrEqual(1);
      expect((await chat(a)).headers.get('x-omniroute-cache')).toBe('MISS');
      expect((await chat(b)).headers.get('x-omniroute-cache')).toBe('HIT');

      const all = await call(gw, 'DELETE', '/api/cache');
      expect(all.status).toBe(200);
      expect(all.json).toEqual({ ok: true, invalidated: expect.any(Number), scope: 'all' });
      expect((all.json as { invalidated: number }).invalidated).toBeGreaterThanOrEqual(2);
      expect((await stats()).semanticCache).toMatchObject({ memoryEntries: 0, dbEntries: 0 });
      expect((await chat(a)).headers.get('x-omniroute-cache')).toBe('MISS');
      expect((await chat(b)).headers.get('x-omniroute-cache')).toBe('MISS');
      expect(upstreamCalls()).toBe(5);
    });

    it('GET /api/cache reports the figures, the settings and the store', async () => {
      const before = await stats();
      expect(before).toEqual({
        semanticCache: {
          memoryEntries: expect.any(Number),
          memoryBytes: expect.any(Number),
          maxEntries: 500,
          maxBytes: 16 * 1024 * 1024,
          dbEntries: expect.any(Number),
          hits: expect.any(Number),
          misses: expect.any(Number),
          hitRate: expect.stringMatching(/^\d{1,3}\.\d$/),
          tokensSaved: expect.any(Number),
        },
        idempotency: { activeKeys: expect.any(Number), windowMs: 5000 },
        config: await admin<CacheConfig>(gw, 'GET', '/api/cache/config'),
        store: MEMORY ? 'memory' : 'redis',
      });
      const body = ask(fresh('stats'), { temperature: 0 });
      const miss = await chat(body);
      await chat(body);
      await chat(body);
      await chat(ask(fresh('stats-bypass'), { temperature: 1 })); // not a lookup
      const after = await stats();
      const s = after.semanticCache;
      expect(s.hits - before.semanticCache.hits).toBe(2);
      expect(s.misses - before.semanticCache.misses).toBe(1);
      const tokens =
        Number(miss.headers.get('x-omniroute-tokens-in')) +
        Number(miss.headers.get('x-omniroute-tokens-out'));
      expect(tokens).toBeGreaterThan(0);
      expect(s.tokensSaved - before.semanticCache.tokensSaved).toBe(2 * tokens);
      expect(s.memoryEntries).toBe(before.semanticCache.memoryEntries + 1);
      expect(s.dbEntries).toBe(before.semanticCache.dbEntries + 1);
      expect(s.memoryBytes).toBeGreaterThan(before.semanticCache.memoryBytes);
      expect(s.hitRate).toBe(((s.hits / (s.hits + s.misses)) * 100).toFixed(1));
    });

    it('PUT /api/cache/config {enabled:false} turns the cache off, and back on', async () => {
      const body = ask(fresh('disable'), { temperature: 0 });
      await chat(body);
      expect((await chat(body)).headers.get('x-omniroute-cache')).toBe('HIT');

      const off = await putConfig({ enabled: false });
      expect(off.status).toBe(200);
      expect(off.json).toMatchObject({ enabled: false, ttlMs: 3_600_000 });
      expect((await admin<CacheConfig>(gw, 'GET', '/api/cache/config')).enabled).toBe(false);
      mock.reset();
      for (let i = 0; i < 2; i++) {
        const r = await chat(body);
        expect(r.status).toBe(200);
        expect(r.headers.get('x-omniroute-cache')).toBeNull();
      }
      expect(upstreamCalls()).toBe(2);

      expect((await putConfig({ enabled: true })).json).toMatchObject({ enabled: true });
      expect((await chat(body)).headers.get('x-omniroute-cache')).toBe('HIT');
      expect(upstreamCalls()).toBe(2);
    });

    it('PUT /api/cache/config {ttlMs} makes entries expire', async () => {
      try {
        expect((await putConfig({ ttlMs: 1000 })).json).toMatchObject({ ttlMs: 1000 });
        const body = ask(fresh('ttl'), { temperature: 0 });
        await chat(body);
        expect((await chat(body)).headers.get('x-omniroute-cache')).toBe('HIT');
        await sleep(1200);
        expect((await chat(body)).headers.get('x-omniroute-cache')).toBe('MISS');
        expect(upstreamCalls()).toBe(2);
      } finally {
        await putConfig({ ttlMs: 3_600_000 });
      }
    });

    it('PUT /api/cache/config rejects bad values with a 400 listing every bad field, changing nothing', async () => {
      const before = await admin<CacheConfig>(gw, 'GET', '/api/cache/config');
      const r = await putConfig({
        enabled: 'yes',
        ttlMs: 5,
        maxEntries: 1.5,
        idempotencyWindowMs: 'long',
        bogus: 1,
        maxBytes: 1024,
      });
      expect(r.status).toBe(400);
      const err = (
        r.json as { error: { code: string; details: { fields: { message: string }[] } } }
      ).error;
      expect(err.code).toBe('VALIDATION_FAILED');
      const fields = err.details.fields.map((f) => f.message).join('\n');
      for (const f of ['enabled', 'ttlMs', 'maxEntries', 'idempotencyWindowMs', 'bogus']) {
        expect(fields).toContain(f);
      }
      expect(fields).not.toContain('maxBytes'); // valid
      expect(await admin<CacheConfig>(gw, 'GET', '/api/cache/config')).toEqual(before);

      for (const bad of [[1, 2], 'text', null]) {
        expect((await call(gw, 'PUT', '/api/cache/config', { body: bad })).status).toBe(400);
      }
      expect(await admin<CacheConfig>(gw, 'GET', '/api/cache/config')).toEqual(before);
    });

    it('caches in the Anthropic dialect too (/v1/messages, temperature 0), apart from the OpenAI one', async () => {
      const text = fresh('anthropic');
      const body = {
        model: MODEL,
        max_tokens: 64,
        temperature: 0,
        messages: [{ role: 'user' as const, content: text }],
      };
      const post = (): Promise<CallResult> =>
        call(gw, 'POST', '/v1/messages', {
          body,
          key: null,
          headers: { 'x-api-key': gw.adminKey, 'anthropic-version': '2023-06-01' },
        });
      const first = await post();
      expect(first.status).toBe(200);
      expect(first.headers.get('x-omniroute-cache')).toBe('MISS');
      expect((first.json as { type: string }).type).toBe('message');
      const second = await post();
      expect(second.headers.get('x-omniroute-cache')).toBe('HIT');
      expect(second.text).toBe(first.text);
      expect(upstreamCalls()).toBe(1);

      // The official SDK reads the cached answer like any other.
      const sdk = new Anthropic({ apiKey: gw.adminKey, baseURL: gw.url, maxRetries: 0 });
      const { data, response } = await sdk.messages.create(body).withResponse();
      expect(response.headers.get('x-omniroute-cache')).toBe('HIT');
      expect(data.content).toEqual([expect.objectContaining({ type: 'text', text: mock.reply })]);
      expect(upstreamCalls()).toBe(1);

      // The same conversation in the OpenAI dialect is another entry.
      const openai = await chat(ask(text, { temperature: 0, max_tokens: 64 }));
      expect(openai.headers.get('x-omniroute-cache')).toBe('MISS');
      expect(upstreamCalls()).toBe(2);
    });
  });

  describe('idempotency', () => {
    it('runs 20 concurrent requests with one Idempotency-Key once: identical answers, 19 replays', async () => {
      const key = fresh('idem-20');
      const body = ask('idempotent twenty', { model: SLOW, temperature: 0.5 });
      const results = await Promise.all(
        Array.from({ length: 20 }, () => chat(body, { headers: { 'idempotency-key': key } })),
      );
      expect(results.map((r) => r.status)).toEqual(Array<number>(20).fill(200));
      expect(upstreamCalls()).toBe(1);
      expect(new Set(results.map((r) => r.text)).size).toBe(1);
      const replays = results.filter((r) => r.headers.get('x-omniroute-idempotent') === 'true');
      expect(replays).toHaveLength(19);
      const original = results.find((r) => r.headers.get('x-omniroute-idempotent') === null)!;
      for (const r of replays) {
        expect(r.headers.get('content-type')).toBe(original.headers.get('content-type'));
        expect(r.headers.get('x-omniroute-tokens-out')).toBe(
          original.headers.get('x-omniroute-tokens-out'),
        );
      }
      // Within the window a later duplicate is still a replay.
      const later = await chat(body, { headers: { 'idempotency-key': key } });
      expect(later.headers.get('x-omniroute-idempotent')).toBe('true');
      expect(later.text).toBe(original.text);
      expect(upstreamCalls()).toBe(1);
      expect((await stats()).idempotency.activeKeys).toBeGreaterThanOrEqual(1);
    });

    it("uses the client's X-Request-Id the same way", async () => {
      const id = fresh('req-id').replace(/\W+/g, '-');
      const body = ask('by request id', { model: SLOW, temperature: 0.5 });
      const results = await Promise.all(
        Array.from({ length: 5 }, () => chat(body, { headers: { 'x-request-id': id } })),
      );
      expect(results.map((r) => r.status)).toEqual(Array<number>(5).fill(200));
      expect(upstreamCalls()).toBe(1);
      expect(new Set(results.map((r) => r.text)).size).toBe(1);
      expect(
        results.filter((r) => r.headers.get('x-omniroute-idempotent') === 'true'),
      ).toHaveLength(4);
      for (const r of results) {
        expect(r.headers.get('x-request-id')).toBe(id);
      }
    });

    it('scopes the key per API key: the same key from two API keys runs twice', async () => {
      const key = fresh('idem-two-keys');
      const body = ask('two api keys', { model: SLOW, temperature: 0.5 });
      const [a, b] = await Promise.all([
        chat(body, { headers: { 'idempotency-key': key } }),
        chat(body, { key: key2, headers: { 'idempotency-key': key } }),
      ]);
      expect([a.status, b.status]).toEqual([200, 200]);
      expect(a.headers.get('x-omniroute-idempotent')).toBeNull();
      expect(b.headers.get('x-omniroute-idempotent')).toBeNull();
      expect(upstreamCalls()).toBe(2);
    });

    it('runs again once idempotencyWindowMs has passed', async () => {
      try {
        expect((await putConfig({ idempotencyWindowMs: 500 })).json).toMatchObject({
          idempotencyWindowMs: 500,
        });
        expect((await stats()).idempotency.windowMs).toBe(500);
        const key = fresh('idem-window');
        const body = ask('window', { temperature: 0.5 });
        const first = await chat(body, { headers: { 'idempotency-key': key } });
        const dup = await chat(body, { headers: { 'idempotency-key': key } });
        expect(dup.headers.get('x-omniroute-idempotent')).toBe('true');
        expect(dup.text).toBe(first.text);
        expect(upstreamCalls()).toBe(1);
        await sleep(700);
        const again = await chat(body, { headers: { 'idempotency-key': key } });
        expect(again.status).toBe(200);
        expect(again.headers.get('x-omniroute-idempotent')).toBeNull();
        expect(upstreamCalls()).toBe(2);
      } finally {
        await putConfig({ idempotencyWindowMs: 5000 });
      }
    });

    it('does not keep a failed answer: the duplicate of a 500 runs again', async () => {
      const key = fresh('idem-500');
      const body = ask('fails', { model: 'if5/fail-500' });
      const first = await chat(body, { headers: { 'idempotency-key': key } });
      expect(first.status).toBe(500);
      expect(upstreamCalls()).toBe(1);
      const dup = await chat(body, { headers: { 'idempotency-key': key } });
      expect(dup.status).toBe(500);
      expect(dup.headers.get('x-omniroute-idempotent')).toBeNull();
      expect(upstreamCalls()).toBe(2);
    });

    it('lets a retry after a failure succeed, and then replays the success', async () => {
      const key = fresh('idem-flaky');
      const body = ask('flaky', { model: 'ifl/flaky-1', temperature: 0.5 });
      expect((await chat(body, { headers: { 'idempotency-key': key } })).status).toBe(500);
      const retry = await chat(body, { headers: { 'idempotency-key': key } });
      expect(retry.status).toBe(200);
      expect(retry.headers.get('x-omniroute-idempotent')).toBeNull();
      const dup = await chat(body, { headers: { 'idempotency-key': key } });
      expect(dup.status).toBe(200);
      expect(dup.headers.get('x-omniroute-idempotent')).toBe('true');
      expect(dup.text).toBe(retry.text);
      expect(upstreamCalls()).toBe(2);
    });

    it('replays a completed stream byte for byte, to a concurrent and to a later duplicate', async () => {
      const key = fresh('idem-stream');
      const body = ask('stream me', { model: SLOW, stream: true, temperature: 0.5 });
      const headers = { 'idempotency-key': key, 'x-omniroute-progress': 'true' };
      const firstP = chat(body, { headers });
      await sleep(100); // the first is waiting for its first token
      const concurrent = await chat(body, { headers });
      const first = await firstP;
      expect(first.status).toBe(200);
      expect(first.headers.get('content-type')).toContain('text/event-stream');
      expect(sseContent(first.text)).toBe(mock.reply);
      expect(first.text).toContain('data: [DONE]');
      expect(progressOf(first.text).at(-1)?.done).toBe(true);

      expect(concurrent.status).toBe(200);
      expect(concurrent.headers.get('x-omniroute-idempotent')).toBe('true');
      expect(concurrent.headers.get('content-type')).toBe(first.headers.get('content-type'));
      expect(concurrent.text).toBe(first.text);

      const later = await chat(body, { headers });
      expect(later.headers.get('x-omniroute-idempotent')).toBe('true');
      expect(later.headers.get('x-omniroute-progress')).toBe('enabled');
      expect(later.text).toBe(first.text);
      expect(upstreamCalls()).toBe(1);
    });

    it('does not keep a stream that failed mid-way: the duplicate runs again', async () => {
      const key = fresh('idem-midstream');
      const body = ask('broken stream', { model: 'ifm/midstream-error', stream: true });
      const first = await chat(body, { headers: { 'idempotency-key': key } });
      expect(first.status).toBe(200); // committed before the failure
      expect(first.text).not.toContain('data: [DONE]');
      expect(first.text).toMatch(/"error"/);
      expect(upstreamCalls()).toBe(1);
      const dup = await chat(body, { headers: { 'idempotency-key': key } });
      expect(dup.headers.get('x-omniroute-idempotent')).toBeNull();
      expect(upstreamCalls()).toBe(2);
    });

    it('does not keep a stream the client abandoned: the retry gets a whole answer', async () => {
      const key = fresh('idem-abandoned');
      const body = JSON.stringify({
        model: 'pc/gpt-4o-mini',
        stream: true,
        messages: [{ role: 'user', content: 'abandoned' }],
      });
      const ac = new AbortController();
      const res = await fetch(`${gw.url}/v1/chat/completions`, {
        method: 'POST',
        headers: {
          authorization: `Bearer ${gw.adminKey}`,
          'content-type': 'application/json',
          'idempotency-key': key,
        },
        body,
        signal: ac.signal,
      });
      expect(res.status).toBe(200);
      const reader = res.body!.getReader();
      await reader.read(); // the first event(s)
      ac.abort();
      await reader.cancel().catch(() => undefined);
      await chunky.waitFor((m) => m.stats().aborted === 1);
      const retry = await call(gw, 'POST', '/v1/chat/completions', {
        rawBody: body,
        headers: { 'idempotency-key': key },
      });
      expect(retry.status).toBe(200);
      expect(retry.headers.get('x-omniroute-idempotent')).toBeNull();
      expect(sseContent(retry.text)).toBe(chunky.reply);
      expect(retry.text).toContain('data: [DONE]');
      expect(chunky.stats().chatCompletions).toBe(2);
    });

    it('counts cache lookups, replays and store failures in /metrics', async () => {
      const scrape = async (): Promise<string> => (await fetch(`${gw.url}/metrics`)).text();
      const replays = async (): Promise<number> =>
        counterValue(await scrape(), 'gateway_idempotent_replays_total');
      const before = await replays();
      const key = fresh('idem-metrics');
      const body = ask('metrics', { temperature: 0.5 });
      await chat(body, { headers: { 'idempotency-key': key } });
      await chat(body, { headers: { 'idempotency-key': key } });
      expect((await replays()) - before).toBe(1);
      const metrics = await scrape();
      expect(counterValue(metrics, 'gateway_cache_requests_total', 'result="hit"')).toBeGreaterThan(
        0,
      );
      expect(
        counterValue(metrics, 'gateway_cache_requests_total', 'result="miss"'),
      ).toBeGreaterThan(0);
      expect(
        counterValue(metrics, 'gateway_cache_requests_total', 'result="bypass"'),
      ).toBeGreaterThan(0);
      expect(metrics).toContain('# TYPE gateway_kv_degraded_total counter');
      expect(counterValue(metrics, 'gateway_kv_degraded_total')).toBe(0);
    });
  });

  describe('progress comments (X-OmniRoute-Progress: true)', () => {
    const progress = { 'x-omniroute-progress': 'true' };
    const openai = (headers?: Record<string, string>): OpenAI =>
      new OpenAI({
        apiKey: gw.adminKey,
        baseURL: `${gw.url}/v1`,
        maxRetries: 0,
        defaultHeaders: headers,
      });

    it('the openai SDK streams the same text with and without progress comments', async () => {
      const run = async (headers?: Record<string, string>): Promise<string> => {
        const stream = await openai().chat.completions.create(
          { model: MODEL, messages: [{ role: 'user', content: 'progress openai' }], stream: true },
          { headers },
        );
        let text = '';
        for await (const chunk of stream) {
          text += chunk.choices[0]?.delta?.content ?? '';
        }
        return text;
      };
      expect(await run(progress)).toBe(mock.reply);
      expect(await run()).toBe(mock.reply);

      const raw = await chat(
        { messages: [{ role: 'user', content: 'progress raw' }], stream: true },
        { headers: progress },
      );
      expect(raw.status).toBe(200);
      expect(raw.headers.get('x-omniroute-progress')).toBe('enabled');
      expect(raw.text).toMatch(/^: progress \{/m);
      const p = progressOf(raw.text);
      expect(p.at(-1)).toEqual({
        tokens_generated: expect.any(Number),
        elapsed_ms: expect.any(Number),
        done: true,
      });
      expect(p.at(-1)!.tokens_generated).toBeGreaterThanOrEqual(mock.replyChunks.length);
      expect(p.filter((x) => x.done)).toHaveLength(1);
      expect(sseContent(raw.text)).toBe(mock.reply);

      const plain = await chat(
        { messages: [{ role: 'user', content: 'progress raw' }], stream: true },
        {},
      );
      expect(plain.headers.get('x-omniroute-progress')).toBeNull();
      expect(plain.text).not.toContain(': progress');
    });

    it('the Anthropic SDK streams the same text with and without progress comments', async () => {
      const sdk = new Anthropic({ apiKey: gw.adminKey, baseURL: gw.url, maxRetries: 0 });
      const params = {
        model: MODEL,
        max_tokens: 64,
        messages: [{ role: 'user' as const, content: 'progress anthropic' }],
      };
      const viaHelper = await sdk.messages.stream(params, { headers: progress }).finalText();
      expect(viaHelper).toBe(mock.reply);
      const events = await sdk.messages.create({ ...params, stream: true }, { headers: progress });
      let text = '';
      for await (const ev of events) {
        if (ev.type === 'content_block_delta' && ev.delta.type === 'text_delta') {
          text += ev.delta.text;
        }
      }
      expect(text).toBe(mock.reply);
      expect(await sdk.messages.stream(params).finalText()).toBe(mock.reply);

      const raw = await call(gw, 'POST', '/v1/messages', {
        body: { ...params, stream: true },
        key: null,
        headers: { 'x-api-key': gw.adminKey, ...progress },
      });
      expect(raw.status).toBe(200);
      expect(raw.headers.get('x-omniroute-progress')).toBe('enabled');
      expect(raw.text).toContain('event: message_stop');
      expect(raw.text).toMatch(/^: progress \{/m);
      expect(progressOf(raw.text).at(-1)?.done).toBe(true);
    });

    it('@google/genai generateContentStream yields the same text with and without progress comments', async () => {
      const run = async (headers?: Record<string, string>): Promise<string> => {
        const genai = new GoogleGenAI({
          apiKey: gw.adminKey,
          httpOptions: { baseUrl: gw.url, headers },
        });
        const stream = await genai.models.generateContentStream({
          model: MODEL,
          contents: 'progress gemini',
        });
        let text = '';
        for await (const chunk of stream) {
          text += chunk.text ?? '';
        }
        return text;
      };
      expect(await run(progress)).toBe(mock.reply);
      expect(await run()).toBe(mock.reply);

      const raw = await call(gw, 'POST', `/v1beta/models/${MODEL}:streamGenerateContent?alt=sse`, {
        body: { contents: [{ role: 'user', parts: [{ text: 'progress gemini raw' }] }] },
        key: null,
        headers: { 'x-goog-api-key': gw.adminKey, ...progress },
      });
      expect(raw.status).toBe(200);
      expect(raw.headers.get('x-omniroute-progress')).toBe('enabled');
      expect(raw.text).toMatch(/^: progress \{/m);
      expect(progressOf(raw.text).at(-1)?.done).toBe(true);
    });

    it('sends periodic progress comments (every PROGRESS_INTERVAL_MS) during a slow stream', async () => {
      const started = Date.now();
      const raw = await chat(
        {
          model: 'pc/gpt-4o-mini',
          messages: [{ role: 'user', content: 'slow chunks' }],
          stream: true,
        },
        { headers: progress },
      );
      const took = Date.now() - started;
      expect(raw.status).toBe(200);
      expect(sseContent(raw.text)).toBe(chunky.reply);
      const p = progressOf(raw.text);
      const periodic = p.filter((x) => !x.done);
      // ~14 events 60 ms apart: roughly one comment per 100 ms
      expect(took).toBeGreaterThanOrEqual(600);
      expect(periodic.length).toBeGreaterThanOrEqual(3);
      expect(p.at(-1)?.done).toBe(true);
      for (let i = 1; i < p.length; i++) {
        expect(p[i].tokens_generated).toBeGreaterThanOrEqual(p[i - 1].tokens_generated);
        expect(p[i].elapsed_ms).toBeGreaterThanOrEqual(p[i - 1].elapsed_ms);
      }
      expect(periodic[0].tokens_generated).toBeLessThan(p.at(-1)!.tokens_generated);
      expect(p.at(-1)!.tokens_generated).toBeGreaterThanOrEqual(chunky.replyChunks.length);
      // comments sit between events, never inside one
      expect(raw.text).toMatch(/\n\n: progress \{[^\n]*\}\n\n/);

      // The SDK reads the same stream normally.
      const stream = await openai(progress).chat.completions.create({
        model: 'pc/gpt-4o-mini',
        messages: [{ role: 'user', content: 'slow chunks sdk' }],
        stream: true,
      });
      let text = '';
      for await (const chunk of stream) {
        text += chunk.choices[0]?.delta?.content ?? '';
      }
      expect(text).toBe(chunky.reply);
    });

    it('sends no progress lines on the Ollama NDJSON surface', async () => {
      const raw = await call(gw, 'POST', '/api/chat', {
        body: { model: 'pc/gpt-4o-mini', messages: [{ role: 'user', content: 'ollama' }] },
        headers: progress,
      });
      expect(raw.status).toBe(200);
      expect(raw.headers.get('content-type')).toContain('application/x-ndjson');
      expect(raw.headers.get('x-omniroute-progress')).toBeNull();
      expect(raw.text).not.toContain('progress');
      const lines = raw.text.split('\n').filter((l) => l.trim());
      let text = '';
      for (const l of lines) {
        text += (JSON.parse(l) as { message?: { content?: string } }).message?.content ?? '';
      }
      expect(text).toBe(chunky.reply);

      const ollama = new Ollama({
        host: gw.url,
        headers: { authorization: `Bearer ${gw.adminKey}`, ...progress },
      });
      let viaSdk = '';
      for await (const part of await ollama.chat({
        model: 'pc/gpt-4o-mini',
        messages: [{ role: 'user', content: 'ollama sdk' }],
        stream: true,
      })) {
        viaSdk += part.message.content;
      }
      expect(viaSdk).toBe(chunky.reply);
    });
  });
});
