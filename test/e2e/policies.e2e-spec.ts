import { Logger } from '@nestjs/common';
import type { AppError } from '../../src/common/errors/app-error';
import { RedisKvStore } from '../../src/common/kv/redis-kv.store';
import { MetricsService } from '../../src/common/metrics/metrics.service';
import { KeysService, type KeyPrincipal } from '../../src/keys/keys.service';
import { describePolicyScriptsContract } from '../../src/policies/policy-scripts.contract';
import {
  PolicyService,
  type PolicyRequest,
  type Reservation,
} from '../../src/policies/policy.service';
import type { KeyBudget } from '../../src/policies/policy.types';
import { budgetWindow, policyKeys } from '../../src/policies/windows';
import type { PricingService } from '../../src/pricing/pricing.service';
import { computeCost } from '../../src/pricing/pricing.table';
import { startTestApp, type TestApp } from '../support/app';
import { deleteRedisPrefix, REDIS_URL, runId } from '../support/db';
import { useGateway } from '../support/fixtures';
import { call, codeOf, fieldsOf, type Gateway } from '../support/gateway-client';

const PREFIX = `omni-t-${runId()}-pol-${process.pid}:`;

afterAll(async () => {
  await deleteRedisPrefix(PREFIX);
});

describePolicyScriptsContract('RedisKvStore', () => new RedisKvStore(REDIS_URL, PREFIX));

// ---------------------------------------------------------------------------------------------

const pricing = {
  priceOf: (provider: string, model: string) =>
    provider === 'cheap' && model === 'small' ? { input: 1, output: 2 } : undefined,
  cost: computeCost,
  table: () => ({ cheap: { small: { input: 1, output: 2 } } }),
} as unknown as PricingService;

/** $0.003 on cheap/small. */
const REQ: PolicyRequest = {
  model: 'cheap/small',
  estimatedInputTokens: 1000,
  maxOutputTokens: 1000,
};

/** A model of the default pricing table, for the apps: 1000·0.15 + 1000·0.6 micro-USD. */
const APP_REQ: PolicyRequest = {
  model: 'openai/gpt-4o-mini',
  estimatedInputTokens: 1000,
  maxOutputTokens: 1000,
};

let seq = 0;
function principal(over: Partial<KeyPrincipal>): KeyPrincipal {
  return {
    id: `e2e-${process.pid}-${Date.now().toString(36)}-${++seq}`,
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

const daily = (dailyLimitUsd: number): KeyBudget => ({
  dailyLimitUsd,
  warningThreshold: 0.8,
  resetInterval: 'daily',
  resetTime: '00:00',
});

describe('PolicyService on Redis (replicas)', () => {
  const stores: RedisKvStore[] = [];
  const replica = (): { policy: PolicyService; kv: RedisKvStore } => {
    const kv = new RedisKvStore(REDIS_URL, `${PREFIX}svc:`);
    stores.push(kv);
    return { policy: new PolicyService(kv, pricing, new MetricsService()), kv };
  };
  beforeEach(() => {
    jest.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
  });
  afterEach(async () => {
    jest.restoreAllMocks();
    await Promise.all(stores.splice(0).map((s) => s.close()));
  });

  it('50 concurrent admissions on two replicas never reserve or spend past the budget', async () => {
    const a = replica();
    const b = replica();
    const k = principal({ budget: daily(0.03) }); // ten $0.003 estimates
    const results = await Promise.allSettled(
      Array.from({ length: 50 }, (_v, i) => (i % 2 ? a : b).policy.admit({ ...k }, REQ)),
    );
    const admitted = results
      .filter((r): r is PromiseFulfilledResult<Reservation | undefined> => r.status === 'fulfilled')
      .map((r) => r.value!);
    expect(admitted).toHaveLength(10);
    for (const r of results.filter((x) => x.status === 'rejected')) {
      expect((r.reason as AppError).code).toBe('BUDGET_EXCEEDED');
    }
    const key = policyKeys.budget(k.id, 'daily', budgetWindow('daily', 0, Date.now()).start);
    expect(Number((await a.kv.hgetall(key)).reserved)).toBe(30_000);

    admitted.forEach((r, i) =>
      (i % 2 ? a : b).policy.settle(r, { costUsd: 0.0029 - i * 0.0001, tokens: 10 }),
    );
    await Promise.all([a.policy.drain(), b.policy.drain()]);
    const h = await a.kv.hgetall(key);
    expect(Number(h.reserved)).toBe(0);
    expect(Number(h.spent)).toBe(24_500);
    expect(Number(h.spent)).toBeLessThanOrEqual(30_000);
  });

  it('two replicas share the RPM exactly', async () => {
    const a = replica();
    const b = replica();
    const k = principal({ maxRequestsPerMinute: 25 });
    const results = await Promise.allSettled([
      ...Array.from({ length: 20 }, () => a.policy.admit(k, REQ)),
      ...Array.from({ length: 20 }, () => b.policy.admit({ ...k }, REQ)),
    ]);
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(25);
  });
});

// ---------------------------------------------------------------------------------------------

interface KeyBody {
  id: string;
  key?: string;
  accessSchedule: unknown;
  maxRequestsPerMinute: number | null;
  maxRequestsPerDay: number | null;
  maxTokensPerMinute: number | null;
  budget: unknown;
}

async function createKey(gw: Gateway, body: Record<string, unknown> = {}): Promise<KeyBody> {
  const r = await call(gw, 'POST', '/api/keys', { body: { name: 'policy', ...body } });
  expect(r.status).toBe(201);
  return r.json as KeyBody;
}

const SCHEDULE = {
  enabled: true,
  from: '22:00',
  until: '06:00',
  days: [1, 2, 3, 4, 5],
  tz: 'Europe/Berlin',
};
const BUDGET = {
  dailyLimitUsd: 2,
  weeklyLimitUsd: 10,
  monthlyLimitUsd: 30,
  warningThreshold: 0.5,
  resetInterval: 'weekly',
  resetTime: '06:30',
};
const POLICY = {
  accessSchedule: SCHEDULE,
  maxRequestsPerMinute: 60,
  maxRequestsPerDay: 5_000,
  maxTokensPerMinute: 200_000,
  budget: BUDGET,
};
const CLEARED = {
  accessSchedule: null,
  maxRequestsPerMinute: null,
  maxRequestsPerDay: null,
  maxTokensPerMinute: null,
  budget: null,
};

describe('per-key policies through the management API', () => {
  const { gw } = useGateway({ mock: false });

  describe('/api/keys policy fields', () => {
    it('creates a key with every policy field and returns them', async () => {
      const created = await createKey(gw, POLICY);
      expect(created).toMatchObject(POLICY);
      const got = await call(gw, 'GET', `/api/keys/${created.id}`);
      expect(got.json).toMatchObject(POLICY);
    });

    it('a new key has none', async () => {
      const created = await createKey(gw);
      expect(created).toMatchObject(CLEARED);
      expect((await call(gw, 'GET', `/api/keys/${created.id}`)).json).toMatchObject(CLEARED);
    });

    it('PATCH round-trips every policy field, and null clears each', async () => {
      const { id } = await createKey(gw);
      const r = await call(gw, 'PATCH', `/api/keys/${id}`, { body: POLICY });
      expect(r.status).toBe(200);
      expect(r.json).toEqual({ message: 'API key settings updated successfully', ...POLICY });
      expect((await call(gw, 'GET', `/api/keys/${id}`)).json).toMatchObject(POLICY);
      const list = (await call(gw, 'GET', '/api/keys?limit=500')).json as { keys: KeyBody[] };
      expect(list.keys.find((k) => k.id === id)).toMatchObject(POLICY);

      for (const [field, cleared] of Object.entries(CLEARED)) {
        const c = await call(gw, 'PATCH', `/api/keys/${id}`, { body: { [field]: cleared } });
        expect({ field, status: c.status }).toEqual({ field, status: 200 });
        expect((c.json as Record<string, unknown>)[field]).toBeNull();
      }
      expect((await call(gw, 'GET', `/api/keys/${id}`)).json).toMatchObject(CLEARED);
    });

    it('fills the defaults of a schedule and a budget', async () => {
      const { id } = await createKey(gw);
      const r = await call(gw, 'PATCH', `/api/keys/${id}`, {
        body: {
          accessSchedule: { from: '09:00', until: '17:00', days: [5, 1, 3] },
          budget: { monthlyLimitUsd: 25 },
        },
      });
      expect(r.status).toBe(200);
      expect((await call(gw, 'GET', `/api/keys/${id}`)).json).toMatchObject({
        accessSchedule: {
          enabled: true,
          from: '09:00',
          until: '17:00',
          days: [1, 3, 5],
          tz: 'UTC',
        },
        budget: {
          monthlyLimitUsd: 25,
          warningThreshold: 0.8,
          resetInterval: 'monthly',
          resetTime: '00:00',
        },
      });
    });

    it('the principal the hot path gets carries the policy at once (cache invalidated)', async () => {
      const created = await createKey(gw);
      const keys = gw.app.get(KeysService);
      const before = await keys.check(created.key!);
      expect(before.ok && before.key.maxRequestsPerMinute).toBeNull();
      await call(gw, 'PATCH', `/api/keys/${created.id}`, { body: POLICY });
      const after = await keys.check(created.key!);
      expect(after.ok && after.key).toMatchObject(POLICY);
    });

    const bad: [string, Record<string, unknown>, string][] = [
      [
        'a schedule with a bad from',
        { accessSchedule: { ...SCHEDULE, from: '9:00' } },
        'accessSchedule.from',
      ],
      [
        'a schedule until 24:00',
        { accessSchedule: { ...SCHEDULE, until: '24:00' } },
        'accessSchedule.until',
      ],
      ['a weekday 7', { accessSchedule: { ...SCHEDULE, days: [7] } }, 'accessSchedule.days'],
      ['no weekday', { accessSchedule: { ...SCHEDULE, days: [] } }, 'accessSchedule.days'],
      [
        'an unknown time zone',
        { accessSchedule: { ...SCHEDULE, tz: 'Mars/Base' } },
        'accessSchedule.tz',
      ],
      ['a schedule that is a string', { accessSchedule: 'always' }, 'accessSchedule'],
      ['a schedule that is an array', { accessSchedule: [] }, 'accessSchedule'],
      ['RPM 0', { maxRequestsPerMinute: 0 }, 'maxRequestsPerMinute'],
      ['RPM 1.5', { maxRequestsPerMinute: 1.5 }, 'maxRequestsPerMinute'],
      ['RPD a string', { maxRequestsPerDay: '10' }, 'maxRequestsPerDay'],
      ['TPM too large', { maxTokensPerMinute: 10_000_000_000 }, 'maxTokensPerMinute'],
      ['a budget without a limit', { budget: { warningThreshold: 0.5 } }, 'budget.dailyLimitUsd'],
      ['a negative limit', { budget: { dailyLimitUsd: -1 } }, 'budget.dailyLimitUsd'],
      [
        'a threshold above 1',
        { budget: { dailyLimitUsd: 1, warningThreshold: 1.5 } },
        'budget.warningThreshold',
      ],
      [
        'an unknown interval',
        { budget: { dailyLimitUsd: 1, resetInterval: 'yearly' } },
        'budget.resetInterval',
      ],
      [
        'an interval without its limit',
        { budget: { monthlyLimitUsd: 1, resetInterval: 'daily' } },
        'budget.resetInterval',
      ],
      ['a bad reset time', { budget: { dailyLimitUsd: 1, resetTime: 'noon' } }, 'budget.resetTime'],
    ];
    it.each(bad)(
      'PATCH rejects %s (400, field listed, nothing stored)',
      async (_t, body, field) => {
        const { id } = await createKey(gw);
        const r = await call(gw, 'PATCH', `/api/keys/${id}`, { body });
        expect(r.status).toBe(400);
        expect(codeOf(r.json)).toBe('VALIDATION_FAILED');
        expect(fieldsOf(r.json)).toContain(field);
        expect((await call(gw, 'GET', `/api/keys/${id}`)).json).toMatchObject(CLEARED);
      },
    );

    it('create rejects a bad policy field and creates nothing', async () => {
      const before = (await call(gw, 'GET', '/api/keys?limit=500')).json as { total: number };
      const r = await call(gw, 'POST', '/api/keys', {
        body: { name: 'bad-budget', budget: { monthlyLimitUsd: 1, resetInterval: 'weekly' } },
      });
      expect(r.status).toBe(400);
      expect(fieldsOf(r.json)).toContain('budget.resetInterval');
      const after = (await call(gw, 'GET', '/api/keys?limit=500')).json as { total: number };
      expect(after.total).toBe(before.total);
    });
  });

  describe('/api/usage/budget', () => {
    it('rejects requests without credentials (401)', async () => {
      expect((await call(gw, 'GET', '/api/usage/budget?apiKeyId=x', { key: null })).status).toBe(
        401,
      );
      expect((await call(gw, 'POST', '/api/usage/budget', { key: null, body: {} })).status).toBe(
        401,
      );
    });

    it('GET without apiKeyId is 400; an unknown key is 404', async () => {
      for (const q of ['', '?apiKeyId=']) {
        const r = await call(gw, 'GET', `/api/usage/budget${q}`);
        expect(r.status).toBe(400);
        expect(codeOf(r.json)).toBe('VALIDATION_FAILED');
        expect(fieldsOf(r.json)).toEqual(['apiKeyId']);
      }
      const r = await call(
        gw,
        'GET',
        '/api/usage/budget?apiKeyId=00000000-0000-0000-0000-000000000000',
      );
      expect(r.status).toBe(404);
      expect(codeOf(r.json)).toBe('KEY_NOT_FOUND');
    });

    it('POST with the reference body stores the budget on the key', async () => {
      const { id } = await createKey(gw);
      const r = await call(gw, 'POST', '/api/usage/budget', {
        body: { apiKeyId: id, dailyLimitUsd: 1.5, monthlyLimitUsd: 20, resetTime: '03:00' },
      });
      expect(r.status).toBe(200);
      const budget = {
        dailyLimitUsd: 1.5,
        monthlyLimitUsd: 20,
        warningThreshold: 0.8,
        resetInterval: 'daily',
        resetTime: '03:00',
      };
      expect(r.json).toEqual({ success: true, apiKeyId: id, budget });
      expect(((await call(gw, 'GET', `/api/keys/${id}`)).json as KeyBody).budget).toEqual(budget);
    });

    it('POST with the seed body {keyId, limit, period} works too', async () => {
      const { id } = await createKey(gw);
      const r = await call(gw, 'POST', '/api/usage/budget', {
        body: { keyId: id, limit: 12.5, period: 'weekly' },
      });
      expect(r.status).toBe(200);
      expect(r.json).toEqual({
        success: true,
        apiKeyId: id,
        budget: {
          weeklyLimitUsd: 12.5,
          warningThreshold: 0.8,
          resetInterval: 'weekly',
          resetTime: '00:00',
        },
      });
      const d = await call(gw, 'POST', '/api/usage/budget', { body: { keyId: id, limit: 3 } });
      expect((d.json as { budget: unknown }).budget).toMatchObject({
        dailyLimitUsd: 3,
        resetInterval: 'daily',
      });
    });

    const badPosts: [string, Record<string, unknown>, string][] = [
      ['no key id', { dailyLimitUsd: 1 }, 'apiKeyId'],
      ['no limit', { warningThreshold: 0.5 }, 'dailyLimitUsd'],
      ['a zero limit', { dailyLimitUsd: 0 }, 'dailyLimitUsd'],
      ['a string limit', { limit: 'ten' }, 'limit'],
      ['an unknown period', { limit: 1, period: 'hourly' }, 'period'],
      ['a bad reset time', { dailyLimitUsd: 1, resetTime: '7am' }, 'resetTime'],
      ['a threshold below 0', { dailyLimitUsd: 1, warningThreshold: -0.1 }, 'warningThreshold'],
      [
        'an interval without its limit',
        { monthlyLimitUsd: 1, resetInterval: 'weekly' },
        'resetInterval',
      ],
    ];
    it.each(badPosts)('POST rejects %s (400, field listed)', async (_t, body, field) => {
      const { id } = await createKey(gw);
      const withId = field === 'apiKeyId' ? body : { apiKeyId: id, ...body };
      const r = await call(gw, 'POST', '/api/usage/budget', { body: withId });
      expect(r.status).toBe(400);
      expect(codeOf(r.json)).toBe('VALIDATION_FAILED');
      expect(fieldsOf(r.json)).toContain(field);
      expect(((await call(gw, 'GET', `/api/keys/${id}`)).json as KeyBody).budget).toBeNull();
    });

    it('POST for an unknown key is 404', async () => {
      const r = await call(gw, 'POST', '/api/usage/budget', {
        body: { apiKeyId: '00000000-0000-0000-0000-000000000000', dailyLimitUsd: 1 },
      });
      expect(r.status).toBe(404);
    });

    it('GET reports a key without a budget', async () => {
      const { id } = await createKey(gw);
      const r = await call(gw, 'GET', `/api/usage/budget?apiKeyId=${id}`);
      expect(r.status).toBe(200);
      expect(r.json).toMatchObject({
        apiKeyId: id,
        budget: null,
        activeLimitUsd: null,
        totalCostToday: 0,
        totalCostMonth: 0,
        totalCostPeriod: 0,
        reservedUsd: 0,
        budgetCheck: { allowed: true, remaining: null, warningReached: false },
      });
    });

    it('GET reports spend and reservations from the store, after admissions and settles', async () => {
      const created = await createKey(gw);
      await call(gw, 'POST', '/api/usage/budget', {
        body: { apiKeyId: created.id, dailyLimitUsd: 0.01, warningThreshold: 0.5 },
      });
      const check = await gw.app.get(KeysService).check(created.key!);
      if (!check.ok) {
        throw new Error('key not ok');
      }
      const policy = gw.app.get(PolicyService);
      const estimate = policy.estimateMicros(APP_REQ) / 1e6;
      expect(estimate).toBe(0.00075); // the model's own price, not the table's highest
      const first = await policy.admit(check.key, APP_REQ);
      const second = await policy.admit(check.key, APP_REQ);
      policy.settle(first, { costUsd: 0.004, tokens: 100 });
      await policy.drain();

      const r = await call(gw, 'GET', `/api/usage/budget?apiKeyId=${created.id}`);
      expect(r.status).toBe(200);
      const now = Date.now();
      const win = budgetWindow('daily', 0, now);
      const body = r.json as Record<string, unknown>;
      expect(body).toMatchObject({
        apiKeyId: created.id,
        dailyTotal: 0.004,
        monthlyTotal: 0.004,
        totalEntries: 1,
        totalCostToday: 0.004,
        totalCostMonth: 0.004,
        totalCostPeriod: 0.004,
        reservedUsd: second!.reservedUsd,
        activeLimitUsd: 0.01,
        resetInterval: 'daily',
        resetTime: '00:00',
        periodStartAt: new Date(win.start).toISOString(),
        lastBudgetResetAt: new Date(win.start).toISOString(),
        nextResetAt: new Date(win.end).toISOString(),
        budgetResetAt: new Date(win.end).toISOString(),
        dailyLimitUsd: 0.01,
        weeklyLimitUsd: null,
        monthlyLimitUsd: null,
        warningThreshold: 0.5,
        budgetCheck: {
          dailyUsed: 0.004,
          dailyLimit: 0.01,
          periodUsed: 0.004,
          activeLimitUsd: 0.01,
          warningReached: false,
          resetInterval: 'daily',
        },
      });
      const bc = body.budgetCheck as { allowed: boolean; remaining: number; reservedUsd: number };
      expect(bc.reservedUsd).toBe(second!.reservedUsd);
      expect(bc.remaining).toBeCloseTo(0.01 - 0.004 - estimate, 9);
      expect(bc.allowed).toBe(0.004 + estimate < 0.01);
    });

    it('counts a refusal in gateway_policy_rejections_total', async () => {
      const created = await createKey(gw, { maxRequestsPerMinute: 1 });
      const check = await gw.app.get(KeysService).check(created.key!);
      if (!check.ok) {
        throw new Error('key not ok');
      }
      const policy = gw.app.get(PolicyService);
      await policy.admit(check.key, APP_REQ);
      await expect(policy.admit(check.key, APP_REQ)).rejects.toMatchObject({ status: 429 });
      const metrics = await call(gw, 'GET', '/metrics', { key: null });
      expect(metrics.text).toMatch(/gateway_policy_rejections_total\{reason="rpm"\} [1-9]/);
    });
  });
});

describe('/api/usage/budget across replicas', () => {
  let a: TestApp;
  let b: TestApp;
  beforeAll(async () => {
    // Replicas share key-cache invalidations through Redis pub/sub.
    a = await startTestApp({ redis: true });
    b = await startTestApp({ dbUrl: a.dbUrl, redisPrefix: a.redisPrefix, redis: true });
  });
  afterAll(async () => {
    await b?.close();
    await a?.close();
  });

  it('a budget set on replica A is on replica B’s cached principal within ~1 s', async () => {
    const created = await createKey(a);
    const keysB = b.app.get(KeysService);
    const cached = await keysB.check(created.key!); // now in B's cache
    expect(cached.ok && cached.key.budget).toBeNull();
    const r = await call(a, 'POST', '/api/usage/budget', {
      body: { keyId: created.id, limit: 4, period: 'monthly' },
    });
    expect(r.status).toBe(200);
    const started = Date.now();
    let budget: unknown = null;
    while (Date.now() - started < 1500 && !budget) {
      const c = await keysB.check(created.key!);
      budget = c.ok ? c.key.budget : null;
      if (!budget) {
        await new Promise((res) => setTimeout(res, 25));
      }
    }
    expect(budget).toMatchObject({ monthlyLimitUsd: 4, resetInterval: 'monthly' });
    expect(Date.now() - started).toBeLessThan(1200);
  });

  it('both replicas answer the same budget figures (shared store)', async () => {
    const created = await createKey(a, { budget: { dailyLimitUsd: 1 } });
    const check = await a.app.get(KeysService).check(created.key!);
    if (!check.ok) {
      throw new Error('key not ok');
    }
    const policy = a.app.get(PolicyService);
    const res = await policy.admit(check.key, APP_REQ);
    policy.settle(res, { costUsd: 0.25, tokens: 10 });
    await policy.drain();
    for (const gw of [a, b]) {
      const r = await call(gw, 'GET', `/api/usage/budget?apiKeyId=${created.id}`);
      expect(r.json).toMatchObject({ totalCostPeriod: 0.25, reservedUsd: 0 });
    }
  });
});

describe('key policies on the chat path', () => {
  const { gw, mock } = useGateway();
  let nodeId: string;

  beforeAll(async () => {
    const { addMockNode } = await import('../support/gateway-client');
    ({ nodeId } = await addMockNode(gw, 'pol', mock.baseUrl));
    // $1,000 per 1M tokens both ways: a mock answer costs a few thousandths of a dollar
    const r = await call(gw, 'PATCH', '/api/pricing', {
      body: { [nodeId]: { 'gpt-4o-mini': { input: 1000, output: 1000 } } },
    });
    expect(r.status).toBe(200);
  });

  async function newKey(body: Record<string, unknown>): Promise<string> {
    const r = await call(gw, 'POST', '/api/keys', {
      body: { name: `k-${Math.random()}`, ...body },
    });
    expect(r.status).toBe(201);
    return (r.json as { key: string }).key;
  }

  function chat(key: string, extra: Record<string, unknown> = {}): Promise<Response> {
    return fetch(`${gw.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      body: JSON.stringify({
        model: 'pol/gpt-4o-mini',
        messages: [{ role: 'user', content: 'hi' }],
        stream: false,
        max_tokens: 8,
        ...extra,
      }),
    });
  }

  it('never lets 50 concurrent requests spend past a small daily budget', async () => {
    const limit = 0.05;
    const key = await newKey({ budget: { dailyLimitUsd: limit } });
    const before = mock.stats().chatCompletions;
    const answers = await Promise.all(Array.from({ length: 50 }, () => chat(key)));
    const ok = answers.filter((r) => r.status === 200);
    const refused = answers.filter((r) => r.status === 429);
    expect(ok.length + refused.length).toBe(50);
    expect(ok.length).toBeGreaterThan(0);
    expect(refused.length).toBeGreaterThan(0);
    const spent = ok
      .map((r) => Number(r.headers.get('x-omniroute-response-cost')))
      .reduce((a, b) => a + b, 0);
    expect(spent).toBeLessThanOrEqual(limit);
    expect(mock.stats().chatCompletions - before).toBe(ok.length);
    const body = (await refused[0].json()) as { error: { code: string; message: string } };
    expect(body.error.code).toBe('budget_exceeded');
    expect(body.error.message).toMatch(/Daily budget exceeded/);
    expect(refused[0].headers.get('retry-after')).toBeTruthy();
  });

  it('enforces a key’s requests-per-minute exactly, in the caller’s dialect', async () => {
    const key = await newKey({ maxRequestsPerMinute: 3 });
    const statuses = [];
    for (let i = 0; i < 5; i++) {
      statuses.push((await chat(key)).status);
    }
    expect(statuses).toEqual([200, 200, 200, 429, 429]);
    const anthropic = await fetch(`${gw.url}/v1/messages`, {
      method: 'POST',
      headers: { 'x-api-key': key, 'content-type': 'application/json' },
      body: JSON.stringify({
        model: 'pol/gpt-4o-mini',
        max_tokens: 8,
        messages: [{ role: 'user', content: 'hi' }],
      }),
    });
    expect(anthropic.status).toBe(429);
    expect(((await anthropic.json()) as { type: string }).type).toBe('error');
  });

  it('refuses a key outside its access schedule with 403', async () => {
    const now = new Date();
    const hour = (now.getUTCHours() + 12) % 24;
    const hh = String(hour).padStart(2, '0');
    const key = await newKey({
      accessSchedule: {
        enabled: true,
        from: `${hh}:00`,
        until: `${hh}:30`,
        days: [0, 1, 2, 3, 4, 5, 6],
        tz: 'UTC',
      },
    });
    const r = await chat(key);
    expect(r.status).toBe(403);
    expect(((await r.json()) as { error: { message: string } }).error.message).toMatch(
      /outside allowed hours/,
    );
  });
});
