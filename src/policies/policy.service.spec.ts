import { Logger } from '@nestjs/common';
import { AppError } from '@/common/errors/app-error';
import type { Principal } from '@/common/guards/api-key.auth';
import type { KvStore } from '@/common/kv/kv-store';
import { MemoryKvStore } from '@/common/kv/memory-kv.store';
import { MetricsService } from '@/common/metrics/metrics.service';
import type { KeyPrincipal } from '@/keys/keys.service';
import type { PricingService } from '@/pricing/pricing.service';
import { computeCost } from '@/pricing/pricing.table';
import type { ModelPrice, PricingTable } from '@/pricing/pricing.types';
import type { KeyBudget } from './policy.types';
import {
  DEFAULT_OUTPUT_TOKENS,
  PolicyService,
  type PolicyRequest,
  type Reservation,
} from './policy.service';
import { budgetWindow, policyKeys } from './windows';

const TABLE: PricingTable = {
  cheap: { small: { input: 1, output: 2 } },
  pricey: { big: { input: 30, output: 60 } },
};

/** The pricing service as the policy uses it: lookups in TABLE, the real cost formula. */
function pricingStub(): PricingService {
  return {
    priceOf: (provider: string, model: string): ModelPrice | undefined => TABLE[provider]?.[model],
    cost: computeCost,
    table: () => TABLE,
  } as unknown as PricingService;
}

/** A store that fails the test when touched. */
function untouchableStore(): KvStore {
  return new Proxy({} as KvStore, {
    get(_t, prop) {
      if (prop === 'then') {
        return undefined;
      }
      return () => {
        throw new Error(`unexpected store call: ${String(prop)}`);
      };
    },
  });
}

let seq = 0;
function key(over: Partial<KeyPrincipal> = {}): KeyPrincipal {
  return {
    id: `key-${++seq}`,
    name: 'k',
    scopes: ['inference'],
    noLog: false,
    allowedModels: [],
    allowedConnections: [],
    maxSessions: null,
    accessSchedule: null,
    maxRequestsPerMinute: null,
    maxRequestsPerDay: null,
    maxTokensPerMinute: null,
    budget: null,
    ...over,
  };
}

const ANON: Principal = {
  id: null,
  name: null,
  anonymous: true,
  noLog: false,
  allowedModels: [],
  allowedConnections: [],
  maxSessions: null,
};

/** 1000 in + 1000 out on cheap/small = 1000·1 + 1000·2 micro-USD = $0.003. */
const REQ: PolicyRequest = {
  model: 'cheap/small',
  estimatedInputTokens: 1000,
  maxOutputTokens: 1000,
};

const budget = (b: Partial<KeyBudget>): KeyBudget => ({
  warningThreshold: 0.8,
  resetInterval: 'daily',
  resetTime: '00:00',
  ...b,
});

async function refusal(p: Promise<unknown>): Promise<AppError> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(AppError);
    return e as AppError;
  }
  throw new Error('expected a refusal');
}

async function rejections(m: MetricsService, reason: string): Promise<number> {
  const v = (await m.policyRejections.get()).values.find((x) => x.labels.reason === reason);
  return v?.value ?? 0;
}

describe(PolicyService.name, () => {
  let kv: MemoryKvStore;
  let metrics: MetricsService;
  let policy: PolicyService;
  let warn: jest.SpyInstance;

  beforeEach(() => {
    warn = jest.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
    kv = new MemoryKvStore();
    metrics = new MetricsService();
    policy = new PolicyService(kv, pricingStub(), metrics);
  });

  afterEach(async () => {
    jest.restoreAllMocks();
    await policy.drain();
    await kv.close();
  });

  describe('keys without a store-backed policy', () => {
    it('answers an anonymous caller and a key without policy at once, without the store', async () => {
      const strict = new PolicyService(untouchableStore(), pricingStub(), metrics);
      for (const p of [ANON, key()]) {
        let settled = false;
        const r = strict.admit(p, REQ).then((v) => {
          settled = true;
          return v;
        });
        await Promise.resolve();
        expect(settled).toBe(true); // already resolved: no I/O was waited for
        await expect(r).resolves.toBeUndefined();
      }
      strict.settle(undefined, { costUsd: 1, tokens: 1 });
    });

    it('checks a schedule without the store: 403 outside the hours', async () => {
      const strict = new PolicyService(untouchableStore(), pricingStub(), metrics);
      const k = key({
        accessSchedule: { enabled: true, from: '09:00', until: '17:00', days: [1], tz: 'UTC' },
      });
      jest.spyOn(Date, 'now').mockReturnValue(Date.parse('2025-03-10T10:00:00Z')); // Monday
      await expect(strict.admit(k, REQ)).resolves.toBeUndefined();
      jest.spyOn(Date, 'now').mockReturnValue(Date.parse('2025-03-10T18:00:00Z'));
      const e = await refusal(strict.admit(k, REQ));
      expect(e.status).toBe(403);
      expect(e.code).toBe('ACCESS_SCHEDULE_DENIED');
      expect(e.message).toBe('Access denied outside allowed hours (09:00–17:00 UTC)');
      await expect(rejections(metrics, 'schedule')).resolves.toBe(1);
    });

    it('ignores a disabled schedule', async () => {
      const strict = new PolicyService(untouchableStore(), pricingStub(), metrics);
      const k = key({
        accessSchedule: { enabled: false, from: '09:00', until: '09:01', days: [6], tz: 'UTC' },
      });
      await expect(strict.admit(k, REQ)).resolves.toBeUndefined();
    });
  });

  describe('requests per minute and per day', () => {
    it('refuses the request past the RPM with 429 and Retry-After, without a reservation', async () => {
      const k = key({ maxRequestsPerMinute: 3 });
      for (let i = 0; i < 3; i++) {
        await expect(policy.admit(k, REQ)).resolves.toBeUndefined();
      }
      const e = await refusal(policy.admit(k, REQ));
      expect(e.status).toBe(429);
      expect(e.code).toBe('KEY_RPM_EXCEEDED');
      expect(e.message).toMatch(
        /^Per-minute request limit exceeded \(3 RPM\)\. Retry after \d+ seconds\.$/,
      );
      const secs = Number(e.headers?.['retry-after']);
      expect(secs).toBeGreaterThanOrEqual(59);
      expect(secs).toBeLessThanOrEqual(61);
      expect(e.details).toMatchObject({ reason: 'rpm', limit: 3, used: 3 });
      await expect(rejections(metrics, 'rpm')).resolves.toBe(1);
    });

    it('refuses past the RPD with the minutes until midnight UTC', async () => {
      const now = Date.parse('2025-03-10T22:30:10Z');
      jest.spyOn(Date, 'now').mockReturnValue(now);
      const k = key({ maxRequestsPerDay: 2 });
      await policy.admit(k, REQ);
      await policy.admit(k, REQ);
      const e = await refusal(policy.admit(k, REQ));
      expect(e.status).toBe(429);
      expect(e.message).toBe('Daily request limit exceeded (2 RPD). Resets in 90 minutes.');
      expect(e.headers?.['retry-after']).toBe(String(90 * 60 - 10));
      await expect(rejections(metrics, 'rpd')).resolves.toBe(1);
    });

    it('shares the RPM exactly between two services on one store (two replicas)', async () => {
      const other = new PolicyService(kv, pricingStub(), metrics);
      const k = key({ maxRequestsPerMinute: 20 });
      // Each replica has its own principal object for the key (its own cache).
      const k2 = { ...k };
      const results = await Promise.allSettled([
        ...Array.from({ length: 15 }, () => policy.admit(k, REQ)),
        ...Array.from({ length: 15 }, () => other.admit(k2, REQ)),
      ]);
      expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(20);
      const refused = results.filter((r) => r.status === 'rejected');
      expect(refused).toHaveLength(10);
      for (const r of refused) {
        expect((r.reason as AppError).code).toBe('KEY_RPM_EXCEEDED');
      }
    });
  });

  describe('tokens per minute', () => {
    it('reserves the estimate and swaps it for the actual tokens on settle', async () => {
      const k = key({ maxTokensPerMinute: 5_000 });
      const res = await policy.admit(k, REQ);
      expect(res).toMatchObject({ apiKeyId: k.id, tokensReserved: 2_000, reservedUsd: 0 });
      expect(res?.windows).toEqual([policyKeys.tpm(k.id)]);
      await policy.admit(k, REQ);
      // 4000 reserved: 2000 more does not fit.
      const e = await refusal(policy.admit(k, REQ));
      expect(e.code).toBe('KEY_TPM_EXCEEDED');
      expect(e.message).toMatch(/^Per-minute token limit exceeded \(5000 TPM\)\./);
      policy.settle(res, { costUsd: 0, tokens: 100 });
      await policy.drain();
      // 2000 + 100 now: fits.
      await expect(policy.admit(k, REQ)).resolves.toBeDefined();
    });

    it('reserves 4096 output tokens when the request sets no limit', async () => {
      const k = key({ maxTokensPerMinute: 100_000 });
      const res = await policy.admit(k, { ...REQ, maxOutputTokens: null });
      expect(res?.tokensReserved).toBe(1000 + DEFAULT_OUTPUT_TOKENS);
    });
  });

  describe('budget', () => {
    it('never lets 50 concurrent requests reserve or spend past the limit', async () => {
      // $0.03 fits ten $0.003 estimates.
      const k = key({ budget: budget({ dailyLimitUsd: 0.03 }) });
      const results = await Promise.allSettled(
        Array.from({ length: 50 }, () => policy.admit(k, REQ)),
      );
      const admitted = results
        .filter(
          (r): r is PromiseFulfilledResult<Reservation | undefined> => r.status === 'fulfilled',
        )
        .map((r) => r.value!);
      expect(admitted).toHaveLength(10);
      for (const r of results.filter((x) => x.status === 'rejected')) {
        const e = r.reason as AppError;
        expect(e.status).toBe(429);
        expect(e.code).toBe('BUDGET_EXCEEDED');
        expect(e.message).toBe('Daily budget exceeded: $0.0330 / $0.03');
      }
      await expect(rejections(metrics, 'budget')).resolves.toBe(40);
      const win = budgetWindow('daily', 0, Date.now());
      const bkey = policyKeys.budget(k.id, 'daily', win.start);
      let h = await kv.hgetall(bkey);
      expect(Number(h.reserved) + Number(h.spent ?? 0)).toBeLessThanOrEqual(30_000);

      // Settle with actual costs below the estimates: spend stays within the limit.
      for (const [i, r] of admitted.entries()) {
        expect(r.reservedUsd).toBe(0.003);
        policy.settle(r, { costUsd: 0.001 + i * 0.0001, tokens: 500 });
      }
      await policy.drain();
      h = await kv.hgetall(bkey);
      expect(Number(h.reserved)).toBe(0);
      expect(Number(h.spent)).toBe(14_500);
      expect(Number(h.spent)).toBeLessThanOrEqual(30_000);
      // The room the settles freed is usable again: (30000 − 14500) / 3000 = 5 more.
      const more = await Promise.allSettled(Array.from({ length: 10 }, () => policy.admit(k, REQ)));
      expect(more.filter((r) => r.status === 'fulfilled')).toHaveLength(5);
    });

    it('refuses until the reset (Retry-After) once the spend leaves no room', async () => {
      const now = Date.parse('2025-03-10T20:00:00Z');
      jest.spyOn(Date, 'now').mockReturnValue(now);
      const k = key({ budget: budget({ dailyLimitUsd: 0.01, resetTime: '22:00' }) });
      const r = await policy.admit(k, REQ);
      policy.settle(r, { costUsd: 0.0095, tokens: 10 });
      await policy.drain();
      expect(warn.mock.calls.map((c) => String(c[0]))).toEqual([
        `API key ${k.id} reached its budget warning threshold: $0.0095 of $0.01 spent in the current window`,
      ]);
      const e = await refusal(policy.admit(k, REQ));
      expect(e.message).toBe('Daily budget exceeded: $0.0125 / $0.01');
      expect(e.headers?.['retry-after']).toBe(String(2 * 3600));
      expect(e.details).toMatchObject({
        reason: 'budget',
        limitUsd: 0.01,
        spentUsd: 0.0095,
        reservedUsd: 0,
        estimateUsd: 0.003,
        periodStartAt: '2025-03-09T22:00:00.000Z',
        nextResetAt: '2025-03-10T22:00:00.000Z',
      });
      // After the reset the new window is empty.
      jest.spyOn(Date, 'now').mockReturnValue(Date.parse('2025-03-10T22:00:00Z'));
      await expect(policy.admit(k, REQ)).resolves.toBeDefined();
    });

    it('labels the refusal by interval and asks for a 1 s retry while only reservations block', async () => {
      const k = key({ budget: budget({ monthlyLimitUsd: 0.005, resetInterval: 'monthly' }) });
      await policy.admit(k, REQ);
      const e = await refusal(policy.admit(k, REQ));
      expect(e.message).toBe('Monthly budget exceeded: $0.0060 / $0.005');
      expect(e.headers?.['retry-after']).toBe('1');
    });

    it('writes the settle into the budget window, the day and the month', async () => {
      const k = key({ budget: budget({ weeklyLimitUsd: 1, resetInterval: 'weekly' }) });
      const r = await policy.admit(k, REQ);
      const now = Date.now();
      expect(r?.windows).toEqual([
        policyKeys.budget(k.id, 'weekly', budgetWindow('weekly', 0, now).start),
        policyKeys.spend(k.id, 'day', budgetWindow('daily', 0, now).start),
        policyKeys.spend(k.id, 'month', budgetWindow('monthly', 0, now).start),
      ]);
      policy.settle(r, { costUsd: 0.0025, tokens: 10 });
      policy.settle(r, { costUsd: 0.0025, tokens: 10 }); // a second settle is ignored
      await policy.drain();
      await expect(kv.hgetall(r!.windows[0])).resolves.toMatchObject({
        spent: '2500',
        reserved: '0',
      });
      await expect(kv.hgetall(r!.windows[1])).resolves.toEqual({ spent: '2500', n: '1' });
      await expect(kv.hgetall(r!.windows[2])).resolves.toEqual({ spent: '2500', n: '1' });
    });

    it('estimates with the model’s price, else the highest prices of the table', () => {
      expect(policy.estimateMicros(REQ)).toBe(3_000);
      expect(
        policy.estimateMicros({
          ...REQ,
          model: 'my-combo',
          provider: 'pricey',
          upstreamModel: 'big',
        }),
      ).toBe(1000 * 30 + 1000 * 60);
      // A combo or an unknown model: max input (30) and max output (60).
      expect(policy.estimateMicros({ ...REQ, model: 'my-combo' })).toBe(90_000);
      expect(policy.estimateMicros({ ...REQ, model: 'cheap/unknown' })).toBe(90_000);
      expect(policy.estimateMicros({ ...REQ, maxOutputTokens: null })).toBe(1000 + 4096 * 2);
    });
  });

  describe('when the store fails', () => {
    const broken = (): KvStore => {
      const s = new MemoryKvStore();
      jest.spyOn(s, 'run').mockRejectedValue(new Error('connection lost'));
      return s;
    };

    it('lets requests through the rate limits (degraded, counted)', async () => {
      const p = new PolicyService(broken(), pricingStub(), metrics);
      const k = key({ maxRequestsPerMinute: 1, maxTokensPerMinute: 10 });
      await expect(p.admit(k, REQ)).resolves.toBeUndefined();
      await expect(p.admit(k, REQ)).resolves.toBeUndefined();
      const v = (await metrics.kvDegraded.get()).values.find(
        (x) => x.labels.feature === 'key-limits',
      );
      expect(v?.value).toBe(2);
    });

    it('refuses a key with a budget with 503 (fail closed)', async () => {
      const p = new PolicyService(broken(), pricingStub(), metrics);
      const e = await refusal(p.admit(key({ budget: budget({ dailyLimitUsd: 5 }) }), REQ));
      expect(e.status).toBe(503);
      expect(e.code).toBe('BUDGET_UNAVAILABLE');
    });

    it('never throws from settle', async () => {
      const p = new PolicyService(broken(), pricingStub(), metrics);
      const res: Reservation = {
        id: 'garbage',
        apiKeyId: 'k',
        reservedUsd: Number.NaN,
        tokensReserved: -1,
        windows: [policyKeys.tpm('k'), 'unrelated', policyKeys.budget('k', 'daily', 0)],
      };
      expect(() => p.settle(res, { costUsd: Number.NaN, tokens: Number.NaN })).not.toThrow();
      await p.drain();
    });
  });
});
