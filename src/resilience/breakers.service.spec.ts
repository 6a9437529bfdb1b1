import { Logger } from '@nestjs/common';
import { MemoryKvStore } from '@/common/kv/memory-kv.store';
import { MetricsService } from '@/common/metrics/metrics.service';
import { CircuitBreakers } from './breakers.service';

const T0 = 1_700_000_000_000;
const THRESHOLD = 3;
const RESET_MS = 30_000;
const PROBE_TTL_MS = 10_000;

/** Lets the memory store's setImmediate deliveries (and fire-and-forget writes) run. */
async function settle(cond: () => boolean | Promise<boolean>, ticks = 200): Promise<void> {
  for (let i = 0; i < ticks; i++) {
    if (await cond()) {
      return;
    }
    await new Promise((r) => setImmediate(r));
  }
  throw new Error('condition not reached');
}

describe(CircuitBreakers.name, () => {
  let kv: MemoryKvStore;
  let metrics: MetricsService;
  let breakers: CircuitBreakers;
  let now: number;
  const extra: CircuitBreakers[] = [];

  async function replica(): Promise<CircuitBreakers> {
    const b = new CircuitBreakers(kv, new MetricsService());
    await b.onModuleInit();
    extra.push(b);
    return b;
  }

  async function open(b: CircuitBreakers = breakers, provider = 'openai'): Promise<void> {
    for (let i = 0; i < THRESHOLD; i++) {
      await b.failure(provider, THRESHOLD);
    }
  }

  async function gauge(provider: string, m: MetricsService = metrics): Promise<number | undefined> {
    const { values } = await m.breakerState.get();
    return values.find((v) => v.labels.provider === provider)?.value;
  }

  beforeEach(async () => {
    now = T0;
    jest.spyOn(Date, 'now').mockImplementation(() => now);
    jest.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
    jest.spyOn(Logger.prototype, 'log').mockImplementation(() => undefined);
    kv = new MemoryKvStore();
    metrics = new MetricsService();
    breakers = new CircuitBreakers(kv, metrics);
    await breakers.onModuleInit();
  });

  afterEach(async () => {
    await breakers.onModuleDestroy();
    for (const b of extra.splice(0)) {
      await b.onModuleDestroy();
    }
    await kv.close();
    jest.restoreAllMocks();
  });

  it('lets requests through a closed breaker', () => {
    expect(breakers.gate('openai', RESET_MS)).toEqual({ allow: true, probe: false });
    expect(breakers.state('openai')).toMatchObject({ state: 'closed', failures: 0 });
  });

  it('counts failures below the threshold without opening', async () => {
    await breakers.failure('openai', THRESHOLD);
    await breakers.failure('openai', THRESHOLD);
    expect(breakers.state('openai')).toMatchObject({
      state: 'closed',
      failures: 2,
      lastFailureAt: T0,
    });
    expect(breakers.gate('openai', RESET_MS)).toEqual({ allow: true, probe: false });
  });

  it('opens at the threshold and refuses with the time left until the reset timeout', async () => {
    await open();
    expect(breakers.state('openai')).toMatchObject({ state: 'open', failures: 3, openedAt: T0 });
    expect(breakers.gate('openai', RESET_MS)).toEqual({
      allow: false,
      state: 'open',
      retryAfterMs: RESET_MS,
    });
    expect(breakers.gate('openai', RESET_MS, T0 + 12_000)).toEqual({
      allow: false,
      state: 'open',
      retryAfterMs: 18_000,
    });
    expect(breakers.gate('anthropic', RESET_MS)).toEqual({ allow: true, probe: false });
    expect(await gauge('openai')).toBe(2);
  });

  it('keeps the opening time when failures go on while open', async () => {
    await open();
    now = T0 + 5000;
    await breakers.failure('openai', THRESHOLD);
    expect(breakers.state('openai')).toMatchObject({
      state: 'open',
      failures: 4,
      openedAt: T0,
      lastFailureAt: T0 + 5000,
    });
  });

  it('asks for a probe once the reset timeout has passed', async () => {
    await open();
    expect(breakers.gate('openai', RESET_MS, T0 + RESET_MS - 1)).toMatchObject({ allow: false });
    expect(breakers.gate('openai', RESET_MS, T0 + RESET_MS)).toEqual({ allow: true, probe: true });
  });

  it('refuses the probe before the reset timeout', async () => {
    await open();
    now = T0 + RESET_MS - 1;
    expect(await breakers.probe('openai', RESET_MS, PROBE_TTL_MS)).toBe(false);
    expect(breakers.state('openai').state).toBe('open');
  });

  it('grants the half-open probe to exactly one of several concurrent callers', async () => {
    await open();
    now = T0 + RESET_MS;
    const granted = await Promise.all(
      Array.from({ length: 5 }, () => breakers.probe('openai', RESET_MS, PROBE_TTL_MS)),
    );
    expect(granted.filter(Boolean)).toHaveLength(1);
    expect(breakers.state('openai')).toMatchObject({
      state: 'half_open',
      probeUntil: now + PROBE_TTL_MS,
    });
    expect(breakers.gate('openai', RESET_MS)).toEqual({
      allow: false,
      state: 'half_open',
      retryAfterMs: PROBE_TTL_MS,
    });
    expect(await gauge('openai')).toBe(1);
  });

  it('grants a new probe when the previous one was lost', async () => {
    await open();
    now = T0 + RESET_MS;
    expect(await breakers.probe('openai', RESET_MS, PROBE_TTL_MS)).toBe(true);
    now += PROBE_TTL_MS;
    expect(breakers.gate('openai', RESET_MS)).toEqual({ allow: true, probe: true });
    expect(await breakers.probe('openai', RESET_MS, PROBE_TTL_MS)).toBe(true);
    expect(await breakers.probe('openai', RESET_MS, PROBE_TTL_MS)).toBe(false);
  });

  it('closes after a successful probe', async () => {
    await open();
    now = T0 + RESET_MS;
    await breakers.probe('openai', RESET_MS, PROBE_TTL_MS);
    breakers.success('openai');
    await settle(() => breakers.state('openai').state === 'closed');
    expect(breakers.state('openai')).toMatchObject({ state: 'closed', failures: 0 });
    expect(breakers.gate('openai', RESET_MS)).toEqual({ allow: true, probe: false });
    expect(JSON.parse((await kv.get('breaker:openai')) ?? 'null')).toMatchObject({
      state: 'closed',
      failures: 0,
    });
    expect(await gauge('openai')).toBe(0);
  });

  it('re-opens for a whole reset timeout when the probe fails', async () => {
    await open();
    now = T0 + RESET_MS;
    await breakers.probe('openai', RESET_MS, PROBE_TTL_MS);
    now += 2000;
    await breakers.failure('openai', THRESHOLD);
    expect(breakers.state('openai')).toMatchObject({
      state: 'open',
      openedAt: now,
      probeUntil: 0,
    });
    expect(breakers.gate('openai', RESET_MS)).toEqual({
      allow: false,
      state: 'open',
      retryAfterMs: RESET_MS,
    });
    expect(await gauge('openai')).toBe(2);
  });

  it('ignores a late success while open', async () => {
    await open();
    breakers.success('openai');
    for (let i = 0; i < 5; i++) {
      await new Promise((r) => setImmediate(r));
    }
    expect(breakers.state('openai').state).toBe('open');
  });

  it('clears a failure streak on success', async () => {
    await breakers.failure('openai', THRESHOLD);
    await breakers.failure('openai', THRESHOLD);
    breakers.success('openai');
    await settle(() => breakers.state('openai').failures === 0);
    // the streak starts over: two more failures do not open it
    await breakers.failure('openai', THRESHOLD);
    await breakers.failure('openai', THRESHOLD);
    expect(breakers.state('openai').state).toBe('closed');
  });

  describe('across replicas', () => {
    it('sees the other replica open, probe and close the breaker', async () => {
      const other = await replica();
      await open();
      await settle(() => other.state('openai').state === 'open');
      expect(other.gate('openai', RESET_MS)).toMatchObject({ allow: false, state: 'open' });

      now = T0 + RESET_MS;
      expect(await breakers.probe('openai', RESET_MS, PROBE_TTL_MS)).toBe(true);
      await settle(() => other.state('openai').state === 'half_open');
      expect(await other.probe('openai', RESET_MS, PROBE_TTL_MS)).toBe(false);

      breakers.success('openai');
      await settle(() => other.state('openai').state === 'closed');
      expect(other.gate('openai', RESET_MS)).toEqual({ allow: true, probe: false });
    });

    it('shares the failure count: failures on two replicas add up', async () => {
      const other = await replica();
      await breakers.failure('openai', THRESHOLD);
      await other.failure('openai', THRESHOLD);
      await breakers.failure('openai', THRESHOLD);
      expect(breakers.state('openai').state).toBe('open');
      await settle(() => other.state('openai').state === 'open');
    });

    it('loads the breakers when a replica starts', async () => {
      await open();
      const late = await replica();
      expect(late.state('openai')).toMatchObject({ state: 'open', openedAt: T0 });
    });
  });

  describe('reset', () => {
    it('closes every breaker and counts the ones that were not closed', async () => {
      const other = await replica();
      await open();
      await breakers.failure('groq', THRESHOLD);
      await settle(() => other.state('openai').state === 'open');

      expect(await breakers.reset()).toBe(2);
      expect(breakers.state('openai')).toMatchObject({ state: 'closed', failures: 0 });
      expect(breakers.state('groq')).toMatchObject({ state: 'closed', failures: 0 });
      expect(breakers.list(() => RESET_MS)).toEqual([]);
      expect(await kv.get('breaker:openai')).toBeNull();
      expect(await kv.hgetall('breakers:index')).toEqual({});
      expect(await gauge('openai')).toBe(0);
      await settle(() => other.state('openai').state === 'closed');
    });

    it('closes one breaker only', async () => {
      await open();
      await open(breakers, 'groq');
      expect(await breakers.reset('openai')).toBe(1);
      expect(breakers.state('openai').state).toBe('closed');
      expect(breakers.state('groq').state).toBe('open');
    });

    it('counts nothing for a closed breaker', async () => {
      expect(await breakers.reset('openai')).toBe(0);
      expect(await breakers.reset()).toBe(0);
    });
  });

  it('lists open breakers with their wait and failure streaks', async () => {
    await open();
    await breakers.failure('groq', THRESHOLD);
    now = T0 + 10_000;
    const list = breakers.list((p) => (p === 'openai' ? RESET_MS : 60_000));
    expect(list).toHaveLength(2);
    expect(list).toEqual(
      expect.arrayContaining([
        {
          provider: 'openai',
          state: 'open',
          failures: 3,
          openedAt: T0,
          lastFailureAt: T0,
          probeUntil: 0,
          retryAfterMs: 20_000,
        },
        expect.objectContaining({
          provider: 'groq',
          state: 'closed',
          failures: 1,
          retryAfterMs: 0,
        }),
      ]),
    );
    now = T0 + RESET_MS + 5000;
    expect(breakers.list(() => RESET_MS).find((b) => b.provider === 'openai')?.retryAfterMs).toBe(
      0,
    );
  });
});
