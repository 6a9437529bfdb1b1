import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createTestDatabase, deleteRedisPrefix, FILE_TOKEN, REDIS_URL, runId } from '../support/db';
import { admin, call, type CallResult, type Gateway } from '../support/gateway-client';
import { startBowEmbedder } from '../support/bow-embedder';
import { startMockUpstream, type MockUpstream } from '../support/mock-upstream';
import { MAIN, spawnGateway, type GatewayProcess } from '../support/spawn';
import { startTcpProxy, type TcpProxy } from '../support/tcp-proxy';

/**
 * The response cache and idempotency across real gateway processes on one Postgres database and
 * one Redis prefix, and a Redis outage under traffic (a TCP proxy in front of Redis the test cuts):
 * both features pass through while Redis is gone and work again once it is back.
 */

const KEY = 'sk-idem-replicas-admin-0123456789abcdef';
const SHARED_ENCRYPTION_KEY = randomBytes(32).toString('hex');
const SHARED_JWT_SECRET = randomBytes(32).toString('hex');
const MODEL = 'ir/gpt-4o-mini';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function waitUntil(
  what: string,
  check: () => Promise<boolean>,
  timeoutMs = 15_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for: ${what}`);
    }
    await sleep(50);
  }
}

/** Sum of a counter's samples whose label set contains `labels`. */
function counterValue(metrics: string, name: string, labels = ''): number {
  let sum = 0;
  for (const line of metrics.split('\n')) {
    if ((line.startsWith(`${name}{`) || line.startsWith(`${name} `)) && line.includes(labels)) {
      sum += Number(line.slice(line.lastIndexOf(' ') + 1));
    }
  }
  return sum;
}

function chat(
  gw: Gateway,
  body: Record<string, unknown>,
  headers: Record<string, string> = {},
): Promise<CallResult> {
  return call(gw, 'POST', '/v1/chat/completions', {
    body: { model: MODEL, stream: false, ...body },
    headers,
  });
}

const ask = (content: string, extra: Record<string, unknown> = {}): Record<string, unknown> => ({
  messages: [{ role: 'user', content }],
  ...extra,
});

describe('cache and idempotency across gateway processes (one database, one Redis prefix)', () => {
  const prefix = `omni-t-${runId()}-idemrep-${FILE_TOKEN}:`;
  const dirs: string[] = [];
  let procs: GatewayProcess[] = [];
  let p1: Gateway;
  let p2: Gateway;
  /** The third process reaches Redis through `proxy`. */
  let p3: Gateway;
  let proc3: GatewayProcess;
  let proxy: TcpProxy;
  let mock: MockUpstream;
  let seq = 0;
  const fresh = (label: string): string => `${label} #${++seq} ${Date.now()}`;
  const upstreamCalls = (): number => mock.stats().chatCompletions;

  beforeAll(async () => {
    expect(existsSync(MAIN)).toBe(true); // `npm run build` first
    const db = await createTestDatabase();
    await deleteRedisPrefix(prefix);
    const redis = new URL(REDIS_URL);
    proxy = await startTcpProxy(redis.hostname, Number(redis.port || 6379));
    const proxied = new URL(REDIS_URL);
    proxied.port = String(proxy.port);
    const start = (redisUrl: string): Promise<GatewayProcess> => {
      const dir = mkdtempSync(join(tmpdir(), 'omni-idem-replica-'));
      dirs.push(dir);
      return spawnGateway(
        {
          DATABASE_URL: db.url,
          REDIS_URL: redisUrl,
          REDIS_KEY_PREFIX: prefix,
          INITIAL_ADMIN_KEY: KEY,
          ALLOW_PRIVATE_UPSTREAMS: 'true',
          // Replicas must share these: one could not decrypt the provider secrets another stored.
          ENCRYPTION_KEY: SHARED_ENCRYPTION_KEY,
          JWT_SECRET: SHARED_JWT_SECRET,
          DATA_DIR: dir,
        },
        120_000,
      );
    };
    // The first one alone (it creates the admin key), then the others.
    const first = await start(REDIS_URL);
    procs = [first];
    const rest = await Promise.allSettled([start(REDIS_URL), start(proxied.toString())]);
    for (const s of rest) {
      if (s.status === 'fulfilled') {
        procs.push(s.value);
      }
    }
    const failed = rest.find((s): s is PromiseRejectedResult => s.status === 'rejected');
    if (failed) {
      throw failed.reason;
    }
    proc3 = procs[2];
    [p1, p2, p3] = procs.map((p) => ({ url: p.url, adminKey: KEY }));

    mock = await startMockUpstream({ slowMs: 300 });
    const { node } = await admin<{ node: { id: string } }>(p1, 'POST', '/api/provider-nodes', {
      name: 'ir',
      prefix: 'ir',
      baseUrl: mock.baseUrl,
    });
    await admin(p1, 'POST', '/api/providers', { provider: node.id, name: 'a', apiKey: 'sk-up' });
    for (const gw of [p1, p2, p3]) {
      await waitUntil(`${gw.url} routes ${MODEL}`, async () => {
        const r = await chat(gw, ask('warm-up', { temperature: 1 }));
        return r.status === 200;
      });
    }
  }, 180_000);

  afterAll(async () => {
    await proxy?.up().catch(() => undefined);
    const codes = await Promise.all(procs.map((p) => p.stop()));
    await proxy?.close();
    await mock?.close();
    await deleteRedisPrefix(prefix);
    for (const d of dirs) {
      rmSync(d, { recursive: true, force: true });
    }
    expect(codes.every((c) => c === 0)).toBe(true);
  }, 60_000);

  beforeEach(() => mock.reset());

  it('runs 10 concurrent requests with one Idempotency-Key, split over two processes, once', async () => {
    const key = fresh('idem-replicas');
    const body = ask('one upstream call', { model: 'ir/slow-first-token', temperature: 0.5 });
    const results = await Promise.all(
      Array.from({ length: 10 }, (_, i) => chat(i % 2 ? p2 : p1, body, { 'idempotency-key': key })),
    );
    expect(results.map((r) => r.status)).toEqual(Array<number>(10).fill(200));
    expect(upstreamCalls()).toBe(1);
    expect(new Set(results.map((r) => r.text)).size).toBe(1);
    expect(results.filter((r) => r.headers.get('x-omniroute-idempotent') === 'true')).toHaveLength(
      9,
    );
    // A later duplicate on either process is a replay too.
    for (const gw of [p1, p2]) {
      const again = await chat(gw, body, { 'idempotency-key': key });
      expect(again.headers.get('x-omniroute-idempotent')).toBe('true');
      expect(again.text).toBe(results[0].text);
    }
    expect(upstreamCalls()).toBe(1);
  });

  it('serves an entry written through process 1 as a HIT on process 2', async () => {
    const body = ask(fresh('shared-entry'), { temperature: 0 });
    const entries = async (): Promise<number> =>
      (await admin<{ semanticCache: { dbEntries: number } }>(p2, 'GET', '/api/cache')).semanticCache
        .dbEntries;
    const stored = await entries();
    const miss = await chat(p1, body);
    expect(miss.headers.get('x-omniroute-cache')).toBe('MISS');
    // The entry is written after the answer went out (off the request path).
    await waitUntil('the entry is in Redis', async () => (await entries()) > stored, 2_000);
    const hit = await chat(p2, body);
    expect(hit.status).toBe(200);
    expect(hit.headers.get('x-omniroute-cache')).toBe('HIT');
    expect(hit.text).toBe(miss.text);
    expect(upstreamCalls()).toBe(1);
  });

  it('semantic mode: a reworded question on process 2 is answered by process 1’s earlier answer', async () => {
    const embedder = await startBowEmbedder();
    try {
      const { node } = await admin<{ node: { id: string } }>(p1, 'POST', '/api/provider-nodes', {
        name: 'bow',
        prefix: 'bowr',
        baseUrl: embedder.url,
        apiType: 'embeddings',
      });
      await admin(p1, 'POST', '/api/providers', { provider: node.id, name: 'bow', apiKey: 'k' });
      await admin(p1, 'PUT', '/api/cache/config', {
        semanticEnabled: true,
        semanticModel: 'bowr/bow',
        semanticThreshold: 0.9,
      });
      // both replicas see the node and the setting (change broadcasts)
      await waitUntil('process 2 routes the embeddings node', async () => {
        const r = await call(p2, 'POST', '/v1/embeddings', {
          body: { model: 'bowr/bow', input: 'x' },
        });
        return r.status === 200;
      });
      await waitUntil('process 2 has semantic mode on', async () =>
        Boolean(
          (await admin<{ config: { semanticEnabled: boolean } }>(p2, 'GET', '/api/cache')).config
            .semanticEnabled,
        ),
      );
      const q = fresh('What is the capital of Portugal');
      const entries = async (): Promise<number> =>
        (await admin<{ semanticCache: { dbEntries: number } }>(p2, 'GET', '/api/cache'))
          .semanticCache.dbEntries;
      const stored = await entries();
      const miss = await chat(p1, ask(q, { temperature: 0 }));
      expect(miss.headers.get('x-omniroute-cache')).toBe('MISS');
      // the answer and its vector are written after the first answer went out
      await waitUntil('the entry is in Redis', async () => (await entries()) > stored, 2_000);
      await sleep(200);
      const hit = await chat(p2, ask(`${q.toUpperCase()}?!`, { temperature: 0 }));
      expect(hit.headers.get('x-omniroute-cache')).toBe('HIT');
      expect(hit.headers.get('x-omniroute-cache-match')).toMatch(/^semantic; similarity=/);
      expect(upstreamCalls()).toBe(1);
      expect(hit.text).toBe(miss.text);
    } finally {
      await admin(p1, 'PUT', '/api/cache/config', { semanticEnabled: false });
      await embedder.close();
    }
  });

  it("DELETE /api/cache on process 2 also drops process 1's in-memory entries", async () => {
    const body = ask(fresh('clear-everywhere'), { temperature: 0 });
    await chat(p1, body);
    expect((await chat(p1, body)).headers.get('x-omniroute-cache')).toBe('HIT');
    const stats1 = await admin<{ semanticCache: { memoryEntries: number } }>(
      p1,
      'GET',
      '/api/cache',
    );
    expect(stats1.semanticCache.memoryEntries).toBeGreaterThanOrEqual(1);

    const cleared = await admin<{ ok: boolean; invalidated: number; scope: string }>(
      p2,
      'DELETE',
      '/api/cache',
    );
    expect(cleared).toMatchObject({ ok: true, scope: 'all' });
    expect(cleared.invalidated).toBeGreaterThanOrEqual(1);
    const next = await chat(p1, body);
    expect(next.headers.get('x-omniroute-cache')).toBe('MISS');
    expect(upstreamCalls()).toBe(2);
    expect(
      (await admin<{ semanticCache: { memoryEntries: number } }>(p1, 'GET', '/api/cache'))
        .semanticCache.memoryEntries,
    ).toBe(1); // the entry just written again
  });

  it('passes through while Redis is cut under traffic, and caches again once it is back', async () => {
    const scrape = async (): Promise<string> => (await fetch(`${p3.url}/metrics`)).text();
    const degraded = async (feature: string): Promise<number> =>
      counterValue(await scrape(), 'gateway_kv_degraded_total', `feature="${feature}"`);
    // Redis is reachable through the proxy: the cache works on process 3.
    const warm = ask(fresh('before-outage'), { temperature: 0 });
    expect((await chat(p3, warm)).headers.get('x-omniroute-cache')).toBe('MISS');
    expect((await chat(p3, warm)).headers.get('x-omniroute-cache')).toBe('HIT');
    const before = { cache: await degraded('cache'), idem: await degraded('idempotency') };

    // Traffic: cache-eligible requests (each a new body: L1 cannot answer it, Redis is asked) and
    // requests with an Idempotency-Key, back to back.
    type Sample = { phase: 'up' | 'down'; kind: string; status: number; ms: number };
    const samples: Sample[] = [];
    let phase: Sample['phase'] = 'up';
    let running = true;
    const worker = async (kind: 'cache' | 'idem', n: number): Promise<void> => {
      for (let i = 0; running; i++) {
        const p = phase;
        const t0 = Date.now();
        const r =
          kind === 'cache'
            ? await chat(p3, ask(`outage traffic ${n} ${i}`, { temperature: 0 }))
            : await chat(p3, ask(`outage idem ${n} ${i}`, { temperature: 0.5 }), {
                'idempotency-key': `outage-${n}-${i}-${FILE_TOKEN}`,
              });
        samples.push({ phase: p, kind, status: r.status, ms: Date.now() - t0 });
      }
    };
    const workers = [worker('cache', 1), worker('idem', 2), worker('cache', 3), worker('idem', 4)];
    await sleep(500);
    await proxy.down();
    phase = 'down';
    await sleep(4_000);
    running = false;
    await Promise.all(workers);

    const down = samples.filter((s) => s.phase === 'down');
    expect(samples.filter((s) => s.phase === 'up').length).toBeGreaterThan(0);
    expect(down.filter((s) => s.kind === 'cache').length).toBeGreaterThanOrEqual(4);
    expect(down.filter((s) => s.kind === 'idem').length).toBeGreaterThanOrEqual(4);
    expect(down.filter((s) => s.status !== 200)).toEqual([]);
    expect(Math.max(...down.map((s) => s.ms))).toBeLessThan(2_500);

    // Requests during the outage: a duplicate Idempotency-Key runs again (no store to ask).
    const dupKey = `outage-dup-${FILE_TOKEN}`;
    const dupBody = ask('outage duplicate', { temperature: 0.5 });
    const calls = upstreamCalls();
    const a = await chat(p3, dupBody, { 'idempotency-key': dupKey });
    const b = await chat(p3, dupBody, { 'idempotency-key': dupKey });
    expect([a.status, b.status]).toEqual([200, 200]);
    expect(upstreamCalls()).toBe(calls + 2);

    expect(await degraded('cache')).toBeGreaterThan(before.cache);
    expect(await degraded('idempotency')).toBeGreaterThan(before.idem);
    expect(proc3.output()).toMatch(/cache: key-value store unavailable/);
    expect(proc3.output()).toMatch(/idempotency: key-value store unavailable/);

    // Redis back: the cache works again, through Redis (process 1 reads what process 3 wrote).
    await proxy.up();
    await waitUntil(
      'process 3 ready again',
      async () => (await fetch(`${p3.url}/health/ready`)).status === 200,
    );
    const after = ask(fresh('after-outage'), { temperature: 0 });
    const miss = await chat(p3, after);
    expect(miss.status).toBe(200);
    expect(miss.headers.get('x-omniroute-cache')).toBe('MISS');
    expect((await chat(p3, after)).headers.get('x-omniroute-cache')).toBe('HIT');
    const elsewhere = await chat(p1, after); // not in process 1's memory: read from Redis
    expect(elsewhere.headers.get('x-omniroute-cache')).toBe('HIT');
    expect(elsewhere.text).toBe(miss.text);
    // And idempotency is shared again.
    const key = fresh('after-outage-idem');
    const body = ask('after outage idem', { model: 'ir/slow-first-token', temperature: 0.5 });
    const n = upstreamCalls();
    const pair = await Promise.all([
      chat(p3, body, { 'idempotency-key': key }),
      chat(p1, body, { 'idempotency-key': key }),
    ]);
    expect(pair.map((r) => r.status)).toEqual([200, 200]);
    expect(pair[0].text).toBe(pair[1].text);
    expect(upstreamCalls()).toBe(n + 1);
  }, 60_000);
});
