import { randomBytes } from 'node:crypto';
import { startTestApp, type TestApp } from '../support/app';
import { useGateway } from '../support/fixtures';
import { addMockNode, call, codeOf, fieldsOf, type CallResult } from '../support/gateway-client';

/**
 * `/api/telemetry/summary` (reference §9.3 + API.md §2 `providers`) and the `/metrics` usage
 * counters, after real traffic through the chat pipeline. The pipeline's contract: every chat
 * request records one telemetry sample with its provider id, surface, status and total time.
 */

const MEMORY = process.env.OMNI_TEST_NO_REDIS === '1';
const SHARED_ENV = {
  ENCRYPTION_KEY: randomBytes(32).toString('hex'),
  JWT_SECRET: randomBytes(32).toString('hex'),
};

interface Group {
  count: number;
  p50: number;
  p95: number;
  p99: number;
  avg: number;
  errorRate: number;
}

interface Phase {
  count: number;
  p50: number;
  p95: number;
  avg: number;
}

interface Summary extends Omit<Group, 'errorRate'> {
  phaseBreakdown: { upstream_ttfb: Phase; gateway_overhead: Phase };
  totalRequests: number;
  avgLatencyMs: number;
  errorRate: number;
  uptime: number;
  memoryUsage: { rss: number; heapUsed: number };
  activeConnections: number;
  window: { ms: number; from: string; to: string };
  providers: Record<string, Group>;
  surfaces: Record<string, Group>;
  scope: 'replica' | 'cluster';
  replicas: number;
}

function chat(gw: TestApp, model: string, stream = false): Promise<CallResult> {
  return call(gw, 'POST', '/v1/chat/completions', {
    body: { model, stream, messages: [{ role: 'user', content: 'Say hello' }] },
  });
}

async function summary(gw: TestApp, query = ''): Promise<Summary> {
  const r = await call(gw, 'GET', `/api/telemetry/summary${query}`);
  expect(r.status).toBe(200);
  return r.json as Summary;
}

/** Sum of the samples of `name` whose label set contains every `labels` fragment. */
function sampleSum(metrics: string, name: string, ...labels: string[]): number | undefined {
  let sum: number | undefined;
  for (const line of metrics.split('\n')) {
    if (line.startsWith(`${name}{`) && labels.every((l) => line.includes(l))) {
      sum = (sum ?? 0) + Number(line.slice(line.lastIndexOf(' ') + 1));
    }
  }
  return sum;
}

describe('/api/telemetry/summary', () => {
  const { gw, mock } = useGateway({ mock: { apiKey: 'sk-up' }, app: { env: SHARED_ENV } });
  let good: string;
  let bad: string;
  const SERVED = 5;
  const FAILED = 2;

  beforeAll(async () => {
    good = (await addMockNode(gw, 'tgood', mock.baseUrl)).nodeId;
    bad = (await addMockNode(gw, 'tbad', mock.baseUrl)).nodeId;
    // Priced, so the cost counter moves (the lookup is by provider id or node prefix).
    const price = { 'gpt-4o-mini': { input: 1, output: 2 } };
    const patched = await call(gw, 'PATCH', '/api/pricing', {
      body: { [good]: price, tgood: price },
    });
    expect(patched.status).toBe(200);

    for (let i = 0; i < SERVED - 2; i++) {
      expect((await chat(gw, 'tgood/gpt-4o-mini')).status).toBe(200);
    }
    const streamed = await chat(gw, 'tgood/gpt-4o-mini', true);
    expect(streamed.status).toBe(200);
    expect(streamed.text).toContain('[DONE]');
    const messages = await call(gw, 'POST', '/v1/messages', {
      body: {
        model: 'tgood/gpt-4o-mini',
        max_tokens: 64,
        messages: [{ role: 'user', content: 'Say hello' }],
      },
    });
    expect(messages.status).toBe(200);
    for (let i = 0; i < FAILED; i++) {
      const r = await chat(gw, 'tbad/fail-500');
      expect(r.status).toBeGreaterThanOrEqual(500);
    }
  });

  it('sums up the traffic: counts, percentiles, phases, error rate, per provider and surface', async () => {
    const s = await summary(gw, '?windowMs=60000');
    expect(s.count).toBe(SERVED + FAILED);
    expect(s.totalRequests).toBe(s.count);
    expect(s.avgLatencyMs).toBe(s.avg);
    expect(s.p50).toBeGreaterThan(0);
    expect(s.p95).toBeGreaterThanOrEqual(s.p50);
    expect(s.p99).toBeGreaterThanOrEqual(s.p95);
    expect(s.errorRate).toBeCloseTo((FAILED / (SERVED + FAILED)) * 100, 1);

    expect(s.providers[good]).toEqual({
      count: SERVED,
      p50: expect.any(Number),
      p95: expect.any(Number),
      p99: expect.any(Number),
      avg: expect.any(Number),
      errorRate: 0,
    });
    expect(s.providers[good].p50).toBeGreaterThan(0);
    expect(s.providers[bad]).toMatchObject({ count: FAILED, errorRate: 100 });
    expect(Object.values(s.providers).reduce((n, g) => n + g.count, 0)).toBe(s.count);

    expect(s.surfaces['openai-chat'].count).toBe(SERVED - 1 + FAILED);
    expect(s.surfaces.anthropic.count).toBe(1);

    // every request that reached an upstream has a TTFB and an overhead
    expect(s.phaseBreakdown.upstream_ttfb.count).toBeGreaterThanOrEqual(SERVED);
    expect(s.phaseBreakdown.gateway_overhead.count).toBeGreaterThanOrEqual(SERVED);
    expect(s.phaseBreakdown.gateway_overhead.p95).toBeLessThan(s.p95);

    expect(s.activeConnections).toBe(0);
    expect(s.uptime).toBeGreaterThanOrEqual(0);
    expect(s.memoryUsage.rss).toBeGreaterThan(0);
    expect(s.window.ms).toBe(60_000);
    expect(Date.parse(s.window.to) - Date.parse(s.window.from)).toBeGreaterThanOrEqual(60_000);
    expect(s.scope).toBe(MEMORY ? 'replica' : 'cluster');
    expect(s.replicas).toBe(1);
  });

  it('defaults to a 5-minute window and honours a short one', async () => {
    expect((await summary(gw)).window.ms).toBe(300_000);
    const short = await summary(gw, '?windowMs=1000');
    expect(short.window.ms).toBe(1_000);
    expect(short.count).toBeLessThanOrEqual(SERVED + FAILED);
  });

  it.each(['999', '86400001', 'abc', '1.5', ''])('rejects windowMs=%p with 400', async (w) => {
    const r = await call(gw, 'GET', `/api/telemetry/summary?windowMs=${w}`);
    expect(r.status).toBe(400);
    expect(codeOf(r.json)).toBe('VALIDATION_FAILED');
    expect(fieldsOf(r.json)).toEqual(['windowMs']);
  });

  it('needs management credentials (401 without)', async () => {
    const r = await call(gw, 'GET', '/api/telemetry/summary', { key: null });
    expect(r.status).toBe(401);
    expect(codeOf(r.json)).toBe('AUTH_REQUIRED');
  });

  it('is documented in the OpenAPI document as Telemetry_summary', async () => {
    const r = await call(gw, 'GET', '/docs-json', { key: null });
    const doc = r.json as {
      paths: Record<
        string,
        Record<string, { operationId?: string; parameters?: { name: string }[] }>
      >;
    };
    const op = doc.paths['/api/telemetry/summary']?.get;
    expect(op?.operationId).toBe('Telemetry_summary');
    expect(op?.parameters?.map((p) => p.name)).toContain('windowMs');
  });

  (MEMORY ? it.skip : it)('merges every replica sharing the Redis store', async () => {
    const other = await startTestApp({
      dbUrl: gw.dbUrl,
      redisPrefix: gw.redisPrefix,
      env: SHARED_ENV,
    });
    try {
      const fromOther = await summary(other, '?windowMs=60000');
      const fromFirst = await summary(gw, '?windowMs=60000');
      expect(fromOther.scope).toBe('cluster');
      expect(fromOther.count).toBe(fromFirst.count);
      expect(fromOther.providers[good].count).toBe(SERVED);
      expect(fromOther.providers[bad].errorRate).toBe(100);
      expect(fromOther.replicas).toBe(2);
    } finally {
      await other.close();
    }
  });

  describe('/metrics after the traffic', () => {
    let metrics: string;
    beforeAll(async () => {
      metrics = (await call(gw, 'GET', '/metrics', { key: null })).text;
    });

    it('counts tokens per provider and direction', () => {
      const p = `provider="${good}"`;
      expect(sampleSum(metrics, 'gateway_tokens_total', p, 'direction="input"')).toBeGreaterThan(0);
      expect(sampleSum(metrics, 'gateway_tokens_total', p, 'direction="output"')).toBeGreaterThan(
        0,
      );
      // attributed to the routed model and the API key's name (not the `none` fallbacks)
      expect(sampleSum(metrics, 'gateway_tokens_total', p, 'model="none"')).toBeUndefined();
      expect(sampleSum(metrics, 'gateway_tokens_total', p, 'key="none"')).toBeUndefined();
    });

    it('counts cost in USD by provider, model and key name', () => {
      expect(metrics).toMatch(/^# TYPE gateway_cost_usd_total counter$/m);
      const p = `provider="${good}"`;
      expect(sampleSum(metrics, 'gateway_cost_usd_total', p)).toBeGreaterThan(0);
      expect(sampleSum(metrics, 'gateway_cost_usd_total', p, 'key="none"')).toBeUndefined();
    });

    it('labels requests with the model, and keeps the other §4 metrics', () => {
      const p = `provider="${good}"`;
      expect(sampleSum(metrics, 'gateway_requests_total', p, 'status_class="2xx"')).toBe(SERVED);
      expect(sampleSum(metrics, 'gateway_requests_total', p, 'model="none"')).toBeUndefined();
      expect(
        sampleSum(metrics, 'gateway_requests_total', `provider="${bad}"`, 'status_class="5xx"'),
      ).toBe(FAILED);
      for (const name of [
        'gateway_upstream_ttfb_seconds',
        'gateway_overhead_seconds',
        'gateway_cache_requests_total',
        'gateway_idempotent_replays_total',
        'gateway_fallbacks_total',
        'gateway_breaker_state',
        'gateway_rate_limit_rejections_total',
        'gateway_usage_buffer_depth',
        'gateway_call_log_buffer_depth',
      ]) {
        expect(metrics).toMatch(new RegExp(`^# TYPE ${name} `, 'm'));
      }
    });
  });
});
