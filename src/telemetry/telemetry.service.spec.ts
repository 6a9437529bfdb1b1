import { Logger } from '@nestjs/common';
import { MemoryKvStore } from '@/common/kv/memory-kv.store';
import type { KvStore } from '@/common/kv/kv-store';
import { PRESENCE_KEY, TIERS, sliceKey, tierFor } from './cluster-telemetry';
import { parseWindowMs } from './telemetry.controller';
import { TelemetryService, type TelemetrySample } from './telemetry.service';

/** A 5-minute slice boundary near now (the memory store's TTLs use the real clock). */
const T0 = Math.floor(Date.now() / 300_000) * 300_000 + 1_000;

const ok = (provider: string, totalMs: number, extra: Partial<TelemetrySample> = {}) => ({
  provider,
  surface: 'openai-chat',
  status: 200,
  totalMs,
  ttfbMs: totalMs - 2,
  overheadMs: 0.5,
  ...extra,
});

describe(TelemetryService.name, () => {
  let now: number;
  const clock = (): number => now;
  beforeEach(() => {
    now = T0;
  });

  describe('one replica (in-process store): exact figures', () => {
    let t: TelemetryService;
    beforeEach(() => {
      t = new TelemetryService(new MemoryKvStore(), { now: clock });
    });

    it('answers zeros for an empty window, with the reference shape', async () => {
      const s = await t.summary(300_000);
      expect(s).toMatchObject({
        count: 0,
        avg: 0,
        p50: 0,
        p95: 0,
        p99: 0,
        phaseBreakdown: {
          upstream_ttfb: { count: 0, p50: 0, p95: 0, avg: 0 },
          gateway_overhead: { count: 0, p50: 0, p95: 0, avg: 0 },
        },
        totalRequests: 0,
        avgLatencyMs: 0,
        errorRate: 0,
        activeConnections: 0,
        providers: {},
        scope: 'replica',
        replicas: 1,
        window: {
          ms: 300_000,
          from: new Date(T0 - 300_000).toISOString(),
          to: new Date(T0).toISOString(),
        },
      });
      expect(s.uptime).toBeGreaterThanOrEqual(0);
      expect(s.memoryUsage.heapUsed).toBeGreaterThan(0);
    });

    it('computes nearest-rank percentiles, phases, error rate and per-provider figures', async () => {
      for (let i = 1; i <= 100; i++) {
        t.record(ok('openai', i));
      }
      t.record(ok('anthropic', 1000, { status: 502, ttfbMs: null, overheadMs: 1 }));
      t.record(ok('anthropic', 2000, { status: 429, ttfbMs: null, overheadMs: null }));
      t.record(ok('anthropic', 3000, { status: 499, surface: 'anthropic' }));
      t.record(ok('anthropic', 10, { status: 400 }));
      const s = await t.summary();
      expect(s.count).toBe(104);
      expect(s.totalRequests).toBe(104);
      // sorted: 1..10, 10, 11..100, 1000, 2000, 3000 → rank ceil(0.5·104) = 52 is 51
      expect(s.p50).toBe(51);
      expect(s.p99).toBe(2000);
      expect(s.avgLatencyMs).toBe(s.avg);
      expect(s.errorRate).toBe(Math.round((2 / 104) * 10_000) / 100);
      expect(s.providers.openai).toEqual({
        count: 100,
        p50: 50,
        p95: 95,
        p99: 99,
        avg: 50.5,
        errorRate: 0,
      });
      expect(s.providers.anthropic).toMatchObject({
        count: 4,
        p50: 1000,
        p99: 3000,
        errorRate: 50,
      });
      expect(s.phaseBreakdown.upstream_ttfb.count).toBe(102);
      expect(s.phaseBreakdown.upstream_ttfb.p50).toBe(48);
      expect(s.phaseBreakdown.gateway_overhead).toEqual({
        count: 103,
        p50: 0.5,
        p95: 0.5,
        avg: 0.5,
      });
      expect(Object.keys(s.surfaces).sort()).toEqual(['anthropic', 'openai-chat']);
      expect(s.surfaces.anthropic.count).toBe(1);
    });

    it('counts only the window', async () => {
      t.record(ok('openai', 100));
      now += 10_000;
      t.record(ok('openai', 200));
      now += 1_000;
      expect((await t.summary(5_000)).count).toBe(1);
      expect((await t.summary(5_000)).p50).toBe(200);
      expect((await t.summary(11_000)).count).toBe(2);
    });

    it('keeps a bounded ring: the oldest samples go, window.from says so', async () => {
      const small = new TelemetryService(new MemoryKvStore(), { now: clock, capacity: 50 });
      for (let i = 0; i < 120; i++) {
        now += 10;
        small.record(ok('openai', i));
      }
      const s = await small.summary(300_000);
      expect(s.count).toBe(50);
      expect(s.providers.openai.p50).toBe(70 + 24);
      expect(s.window.from).toBe(new Date(T0 + 71 * 10).toISOString());
      expect(s.window.ms).toBe(300_000);
    });

    it('tracks in-flight requests with begin()/end(), never below zero', async () => {
      t.begin();
      t.begin();
      t.end();
      expect((await t.summary()).activeConnections).toBe(1);
      t.end();
      t.end();
      expect(t.activeConnections).toBe(0);
    });

    it('sanitises odd input rather than poisoning the figures', async () => {
      t.record({ ...ok('', Number.NaN), status: 1.5, ttfbMs: -3, overheadMs: Infinity });
      const s = await t.summary();
      expect(s.providers.none).toMatchObject({ count: 1, p50: 0 });
      expect(s.phaseBreakdown.upstream_ttfb).toMatchObject({ count: 1, p50: 0 });
      expect(s.phaseBreakdown.gateway_overhead.count).toBe(0);
    });
  });

  describe('several replicas (shared store): merged histograms', () => {
    let kv: MemoryKvStore;
    let a: TelemetryService;
    let b: TelemetryService;
    beforeEach(() => {
      kv = new MemoryKvStore();
      a = new TelemetryService(kv, { shared: true, replicaId: 'a', now: clock });
      b = new TelemetryService(kv, { shared: true, replicaId: 'b', now: clock });
    });

    it('merges every replica: exact counts and error rates, percentiles within ±2 %', async () => {
      for (let i = 1; i <= 100; i++) {
        (i % 2 ? a : b).record(ok('openai', i * 10));
      }
      b.record(ok('gemini', 5_000, { status: 503, surface: 'gemini' }));
      b.begin();
      a.begin();
      a.begin();
      await b.flush(); // b publishes; a flushes itself when asked
      const s = await a.summary(60_000);
      expect(s.scope).toBe('cluster');
      expect(s.replicas).toBe(2);
      expect(s.count).toBe(101);
      expect(s.activeConnections).toBe(3);
      expect(s.errorRate).toBe(Math.round((1 / 101) * 10_000) / 100);
      expect(s.providers.openai.count).toBe(100);
      expect(s.providers.openai.errorRate).toBe(0);
      expect(s.providers.gemini).toMatchObject({ count: 1, p50: 5_000, errorRate: 100 });
      expect(Math.abs(s.providers.openai.p50 - 500) / 500).toBeLessThan(0.021);
      expect(Math.abs(s.providers.openai.p95 - 950) / 950).toBeLessThan(0.021);
      expect(s.providers.openai.avg).toBe(505);
      expect(s.phaseBreakdown.gateway_overhead.count).toBe(101);
      expect(s.surfaces.gemini.count).toBe(1);
      // b answers the same
      const fromB = await b.summary(60_000);
      expect(fromB.count).toBe(101);
      expect(fromB.providers).toEqual(s.providers);
    });

    it('aligns the window to slices and reads the coarse tier for long windows', async () => {
      a.record(ok('openai', 10));
      now += 20_000;
      a.record(ok('openai', 20));
      const short = await a.summary(5_000);
      expect(short.count).toBe(1);
      const from = Date.parse(short.window.from);
      expect(from % TIERS[0].sliceMs).toBe(0);
      expect(from).toBeLessThanOrEqual(now - 5_000);
      const day = await a.summary(86_400_000);
      expect(day.count).toBe(2);
      expect(Date.parse(day.window.from) % TIERS[1].sliceMs).toBe(0);
      expect(tierFor(3_600_000)).toBe(TIERS[0]);
      expect(tierFor(3_600_001)).toBe(TIERS[1]);
    });

    it('publishes slices with a TTL and keeps only unfinished slices in memory', async () => {
      a.record(ok('openai', 10));
      await a.flush();
      const key = sliceKey(TIERS[0], T0 - (T0 % TIERS[0].sliceMs));
      expect(Object.keys(await kv.hgetall(key))).toEqual(['a']);
      expect(await kv.pttl(key)).toBeGreaterThan(3_600_000);
      expect(await kv.pttl(key)).toBeLessThanOrEqual(3_600_000 + 20_000);
      expect(Object.keys(await kv.hgetall(PRESENCE_KEY))).toEqual(['a']);
      // a minute of quiet: the finished 10 s slice is written and forgotten
      now += 60_000;
      a.record(ok('openai', 10));
      await a.flush();
      now += 15_000;
      await a.flush();
      const cluster = (a as unknown as { cluster: { pendingSlices: number } }).cluster;
      expect(cluster.pendingSlices).toBe(1); // the 5-minute slice still open
      expect((await a.summary(300_000)).count).toBe(2);
      await a.onModuleDestroy();
      expect(Object.keys(await kv.hgetall(PRESENCE_KEY))).toEqual([]);
    });

    it('ignores replicas that stopped reporting in activeConnections', async () => {
      b.begin();
      await b.flush();
      now += 20_000;
      const s = await a.summary();
      expect(s.activeConnections).toBe(0);
    });

    it('answers for this replica when the shared store cannot be read', async () => {
      jest.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
      const broken: KvStore = Object.assign(Object.create(kv) as KvStore, {
        hgetall: () => Promise.reject(new Error('down')),
        hset: () => Promise.reject(new Error('down')),
      });
      const c = new TelemetryService(broken, { shared: true, replicaId: 'c', now: clock });
      c.record(ok('openai', 42));
      const s = await c.summary();
      expect(s).toMatchObject({ scope: 'replica', replicas: 1, count: 1, p50: 42 });
      // the failed slice stays pending and is written once the store is back
      const healed = (c as unknown as { cluster: { kv: KvStore } }).cluster;
      healed.kv = kv;
      await c.flush();
      expect((await a.summary()).count).toBe(1);
    });
  });
});

describe('parseWindowMs', () => {
  it('defaults to 5 minutes and accepts 1000..86400000', () => {
    expect(parseWindowMs(undefined)).toBe(300_000);
    expect(parseWindowMs('1000')).toBe(1_000);
    expect(parseWindowMs('86400000')).toBe(86_400_000);
  });

  it.each(['999', '86400001', '', 'abc', '1e4', '-5', '1000.5', ['1000', '2000']])(
    'rejects %p with a VALIDATION_FAILED naming windowMs',
    (raw) => {
      expect(() => parseWindowMs(raw)).toThrow(
        expect.objectContaining({
          code: 'VALIDATION_FAILED',
          status: 400,
          details: { fields: [expect.objectContaining({ field: 'windowMs' })] },
        }),
      );
    },
  );
});
