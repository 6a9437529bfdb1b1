import type { KvStore } from '@/common/kv/kv-store';
import { type AdmitResult, POLICY_ADMIT, POLICY_SETTLE } from './policy-scripts';
import { policyKeys } from './windows';

/** A fixed clock (on a second boundary): the scripts take `now` as an argument. */
const T = 1_700_000_000_000;
const S = T / 1000;
const DAY_END = T + 5 * 3600_000;
const RESET = T + 10 * 3600_000;

interface AdmitOpts {
  now?: number;
  rpm?: number;
  rpd?: number;
  tpm?: number;
  tokens?: number;
  limit?: number;
  est?: number;
  id?: string;
  expiresAt?: number;
  warn?: number;
}

/**
 * The behaviour of the policy scripts (`policy-scripts.ts`), run against each adapter: their Lua
 * in Redis (`test/e2e/policies.e2e-spec.ts`) and their JavaScript twins in the memory store
 * (`policy-scripts.spec.ts`) must meet the same expectations. Each test gets a fresh store and
 * its own API key id; `cleanup` runs once after the suite (Redis: delete the run's prefix).
 */
export function describePolicyScriptsContract(
  name: string,
  makeStore: () => KvStore | Promise<KvStore>,
  cleanup?: () => void | Promise<void>,
): void {
  describe(`Policy scripts contract: ${name}`, () => {
    let kv: KvStore;
    let seq = 0;
    let id: string;

    beforeEach(async () => {
      kv = await makeStore();
      id = `k-${Date.now().toString(36)}-${++seq}`;
    });

    afterEach(async () => {
      await kv.close();
    });

    if (cleanup) {
      afterAll(async () => {
        await cleanup();
      });
    }

    const budgetKey = (): string => policyKeys.budget(id, 'daily', T - 3600_000);

    /** One admission with the checks whose option is set. */
    function admit(o: AdmitOpts): Promise<AdmitResult> {
      const keys: string[] = [];
      let kinds = '';
      if (o.rpm !== undefined) {
        keys.push(policyKeys.rpm(id));
        kinds += 'm';
      }
      if (o.rpd !== undefined) {
        keys.push(policyKeys.rpd(id, T - 3600_000));
        kinds += 'd';
      }
      if (o.tpm !== undefined) {
        keys.push(policyKeys.tpm(id));
        kinds += 't';
      }
      if (o.limit !== undefined) {
        keys.push(budgetKey());
        kinds += 'b';
      }
      const now = o.now ?? T;
      return kv.run(POLICY_ADMIT, keys, [
        now,
        kinds,
        o.rpm ?? 0,
        o.rpd ?? 0,
        DAY_END,
        o.tpm ?? 0,
        o.tokens ?? 0,
        o.limit ?? 0,
        o.est ?? 0,
        o.id ?? `r${Math.random().toString(36).slice(2)}`,
        o.expiresAt ?? now + 600_000,
        RESET,
        3_600_000,
        o.warn ?? 0,
      ]);
    }

    function settle(o: {
      now?: number;
      kinds: string;
      keys: string[];
      id: string;
      est?: number;
      actual?: number;
      estTokens?: number;
      tokens?: number;
      admitSec?: number;
    }) {
      return kv.run(POLICY_SETTLE, o.keys, [
        o.now ?? T,
        o.kinds,
        o.id,
        o.est ?? 0,
        o.actual ?? 0,
        o.estTokens ?? 0,
        o.tokens ?? 0,
        o.admitSec ?? S,
        ...o.keys.map(() => 3_600_000),
      ]);
    }

    const ok = { ok: true, reason: '', retryAfterMs: 0, used: 0 };

    describe('requests per minute', () => {
      it('admits up to the limit and refuses the next with the wait until a slot frees', async () => {
        await expect(admit({ rpm: 3, now: T })).resolves.toMatchObject(ok);
        await expect(admit({ rpm: 3, now: T + 10_000 })).resolves.toMatchObject(ok);
        await expect(admit({ rpm: 3, now: T + 20_500 })).resolves.toMatchObject(ok);
        // The first request's second (S) counts until S + 61.
        await expect(admit({ rpm: 3, now: T + 30_000 })).resolves.toEqual({
          ok: false,
          reason: 'rpm',
          retryAfterMs: 61_000 - 30_000,
          used: 3,
          spent: 0,
          reserved: 0,
        });
        // Still refused one ms before, admitted at the computed time.
        expect((await admit({ rpm: 3, now: T + 60_999 })).ok).toBe(false);
        await expect(admit({ rpm: 3, now: T + 61_000 })).resolves.toMatchObject(ok);
      });

      it('never admits more than the limit in any rolling 60 s', async () => {
        const times: number[] = [];
        for (let t = 0; t < 200_000; t += 700) {
          if ((await admit({ rpm: 5, now: T + t })).ok) {
            times.push(t);
          }
        }
        for (const t of times) {
          expect(times.filter((u) => u >= t && u < t + 60_000).length).toBeLessThanOrEqual(5);
        }
        expect(times.length).toBeGreaterThanOrEqual(15);
      });

      it('counts several requests in one second and waits for the bucket that frees enough', async () => {
        for (let i = 0; i < 2; i++) {
          expect((await admit({ rpm: 4, now: T + 100 })).ok).toBe(true);
        }
        for (let i = 0; i < 2; i++) {
          expect((await admit({ rpm: 4, now: T + 5_000 })).ok).toBe(true);
        }
        const r = await admit({ rpm: 4, now: T + 6_000 });
        expect(r).toMatchObject({ ok: false, reason: 'rpm', used: 4 });
        expect(r.retryAfterMs).toBe(61_000 - 6_000);
      });

      it('drops buckets that left the window', async () => {
        await admit({ rpm: 10, now: T });
        await admit({ rpm: 10, now: T + 120_000 });
        expect(Object.keys(await kv.hgetall(policyKeys.rpm(id)))).toEqual([String(S + 120)]);
      });
    });

    describe('requests per day', () => {
      it('counts per day key and refuses with the time until the day ends', async () => {
        for (let i = 0; i < 2; i++) {
          expect((await admit({ rpd: 2 })).ok).toBe(true);
        }
        await expect(admit({ rpd: 2, now: T + 1_000 })).resolves.toEqual({
          ok: false,
          reason: 'rpd',
          retryAfterMs: DAY_END - T - 1_000,
          used: 2,
          spent: 0,
          reserved: 0,
        });
        await expect(kv.get(policyKeys.rpd(id, T - 3600_000))).resolves.toBe('2');
        const ttl = await kv.pttl(policyKeys.rpd(id, T - 3600_000));
        expect(ttl).toBeGreaterThan(0);
      });
    });

    describe('tokens per minute', () => {
      it('admits a request larger than the limit into an empty window', async () => {
        await expect(admit({ tpm: 100, tokens: 500 })).resolves.toMatchObject(ok);
        await expect(kv.hgetall(policyKeys.tpm(id))).resolves.toEqual({ [String(S)]: '500' });
      });

      it('refuses when the window plus the estimate exceeds the limit, until enough leaves', async () => {
        expect((await admit({ tpm: 1_000, tokens: 600, now: T })).ok).toBe(true);
        expect((await admit({ tpm: 1_000, tokens: 300, now: T + 2_000 })).ok).toBe(true);
        // 900 in the window: 200 more does not fit; after the first bucket leaves 300 + 200 does.
        await expect(admit({ tpm: 1_000, tokens: 200, now: T + 3_000 })).resolves.toEqual({
          ok: false,
          reason: 'tpm',
          retryAfterMs: 61_000 - 3_000,
          used: 900,
          spent: 0,
          reserved: 0,
        });
        expect((await admit({ tpm: 1_000, tokens: 100, now: T + 3_000 })).ok).toBe(true);
      });

      it('settle swaps the estimate for the actual tokens (now)', async () => {
        await admit({ tpm: 10_000, tokens: 4_000, now: T });
        await settle({
          now: T + 3_000,
          kinds: 't',
          keys: [policyKeys.tpm(id)],
          id: 'x',
          estTokens: 4_000,
          tokens: 150,
          admitSec: S,
        });
        await expect(kv.hgetall(policyKeys.tpm(id))).resolves.toEqual({ [String(S + 3)]: '150' });
        // Another request's tokens in the admission bucket stay.
        await admit({ tpm: 10_000, tokens: 100, now: T + 4_000 });
        await admit({ tpm: 10_000, tokens: 50, now: T + 4_500 });
        await settle({
          kinds: 't',
          keys: [policyKeys.tpm(id)],
          id: 'y',
          estTokens: 100,
          tokens: 0,
          admitSec: S + 4,
          now: T + 5_000,
        });
        await expect(kv.hgetall(policyKeys.tpm(id))).resolves.toEqual({
          [String(S + 3)]: '150',
          [String(S + 4)]: '50',
        });
      });
    });

    describe('budget', () => {
      it('reserves the estimate while spent + reserved + estimate fits the limit', async () => {
        await expect(admit({ limit: 10_000, est: 4_000, id: 'a' })).resolves.toEqual({
          ...ok,
          spent: 0,
          reserved: 0,
        });
        await expect(admit({ limit: 10_000, est: 4_000, id: 'b' })).resolves.toEqual({
          ...ok,
          spent: 0,
          reserved: 4_000,
        });
        await expect(admit({ limit: 10_000, est: 4_000, id: 'c' })).resolves.toEqual({
          ok: false,
          reason: 'budget',
          retryAfterMs: 1_000, // only in-flight reservations are in the way
          used: 0,
          spent: 0,
          reserved: 8_000,
        });
        const h = await kv.hgetall(budgetKey());
        expect(h).toMatchObject({ reserved: '8000', limit: '10000' });
        expect(
          Object.keys(h)
            .filter((f) => f.startsWith('r:'))
            .sort(),
        ).toEqual(['r:a', 'r:b']);
      });

      it('settle moves the reservation to spent with the actual cost', async () => {
        await admit({ limit: 10_000, est: 4_000, id: 'a' });
        await expect(
          settle({ kinds: 'b', keys: [budgetKey()], id: 'a', est: 4_000, actual: 1_234 }),
        ).resolves.toEqual({ spent: 1_234, limit: 10_000, crossed: false, released: true });
        const h = await kv.hgetall(budgetKey());
        expect(h).toMatchObject({ spent: '1234', reserved: '0' });
        expect(h['r:a']).toBeUndefined();
      });

      it('refuses until the reset once the spend leaves no room for the estimate', async () => {
        await admit({ limit: 10_000, est: 4_000, id: 'a' });
        await settle({ kinds: 'b', keys: [budgetKey()], id: 'a', est: 4_000, actual: 9_000 });
        await expect(admit({ limit: 10_000, est: 4_000, now: T + 5 })).resolves.toEqual({
          ok: false,
          reason: 'budget',
          retryAfterMs: RESET - T - 5,
          used: 0,
          spent: 9_000,
          reserved: 0,
        });
        // A cheaper request still fits.
        expect((await admit({ limit: 10_000, est: 1_000 })).ok).toBe(true);
      });

      it('releases a reservation never settled once it expired, exactly once', async () => {
        await admit({ limit: 10_000, est: 6_000, id: 'lost', expiresAt: T + 1_000 });
        await admit({ limit: 10_000, est: 1_000, id: 'live', expiresAt: T + 900_000 });
        expect((await admit({ limit: 10_000, est: 6_000, now: T + 999 })).ok).toBe(false);
        const r = await admit({ limit: 10_000, est: 6_000, id: 'next', now: T + 1_000 });
        expect(r).toMatchObject({ ok: true, reserved: 1_000 });
        const h = await kv.hgetall(budgetKey());
        expect(h).toMatchObject({ reserved: '7000', sweepAt: String(T + 1_000 + 600_000) });
        expect(h['r:lost']).toBeUndefined();
        // The late settle of the swept reservation adds its cost but releases nothing more.
        await expect(
          settle({ kinds: 'b', keys: [budgetKey()], id: 'lost', est: 6_000, actual: 500 }),
        ).resolves.toMatchObject({ released: false, spent: 500 });
        await expect(kv.hgetall(budgetKey())).resolves.toMatchObject({ reserved: '7000' });
      });

      it('reports crossing the warning mark once', async () => {
        await admit({ limit: 10_000, est: 5_000, id: 'a', warn: 8_000 });
        await admit({ limit: 10_000, est: 5_000, id: 'b', warn: 8_000 });
        const first = await settle({
          kinds: 'b',
          keys: [budgetKey()],
          id: 'a',
          est: 5_000,
          actual: 5_000,
        });
        const second = await settle({
          kinds: 'b',
          keys: [budgetKey()],
          id: 'b',
          est: 5_000,
          actual: 4_000,
        });
        expect([first.crossed, second.crossed]).toEqual([false, true]);
        await admit({ limit: 20_000, est: 1, id: 'c', warn: 8_000 });
        const third = await settle({
          kinds: 'b',
          keys: [budgetKey()],
          id: 'c',
          est: 1,
          actual: 1,
        });
        expect(third.crossed).toBe(false);
      });

      it('lets exactly the reservations that fit through under 50 concurrent admissions', async () => {
        const results = await Promise.all(
          Array.from({ length: 50 }, (_v, i) => admit({ limit: 30_000, est: 3_000, id: `c${i}` })),
        );
        expect(results.filter((r) => r.ok)).toHaveLength(10);
        expect(results.filter((r) => !r.ok).every((r) => r.reason === 'budget')).toBe(true);
        const h = await kv.hgetall(budgetKey());
        expect(Number(h.reserved)).toBe(30_000);
        expect(Object.keys(h).filter((f) => f.startsWith('r:'))).toHaveLength(10);
      });

      it('adds the cost to the day and month spend', async () => {
        const day = policyKeys.spend(id, 'day', T - 3600_000);
        const month = policyKeys.spend(id, 'month', T - 3600_000);
        await admit({ limit: 10_000, est: 100, id: 'a' });
        await settle({
          kinds: 'bdm',
          keys: [budgetKey(), day, month],
          id: 'a',
          est: 100,
          actual: 42,
        });
        await settle({ kinds: 'dm', keys: [day, month], id: 'z', actual: 8 });
        await expect(kv.hgetall(day)).resolves.toEqual({ spent: '50', n: '2' });
        await expect(kv.hgetall(month)).resolves.toEqual({ spent: '50', n: '2' });
        expect(await kv.pttl(day)).toBeGreaterThan(0);
      });
    });

    describe('all or nothing', () => {
      it('counts nothing when a later check refuses', async () => {
        await admit({ limit: 1_000, est: 1_000, id: 'full' });
        const r = await admit({ rpm: 10, rpd: 10, tpm: 1_000, tokens: 50, limit: 1_000, est: 1 });
        expect(r).toMatchObject({ ok: false, reason: 'budget' });
        await expect(kv.hgetall(policyKeys.rpm(id))).resolves.toEqual({});
        await expect(kv.get(policyKeys.rpd(id, T - 3600_000))).resolves.toBeNull();
        await expect(kv.hgetall(policyKeys.tpm(id))).resolves.toEqual({});
      });

      it('checks in order: rpm before rpd before tpm before budget', async () => {
        await admit({ rpm: 1, rpd: 1, tpm: 10, tokens: 10, limit: 10, est: 10 });
        const all = { rpm: 1, rpd: 1, tpm: 10, tokens: 10, limit: 10, est: 10 };
        expect((await admit(all)).reason).toBe('rpm');
        expect((await admit({ ...all, rpm: 5 })).reason).toBe('rpd');
        expect((await admit({ ...all, rpm: 5, rpd: 5 })).reason).toBe('tpm');
        expect((await admit({ ...all, rpm: 5, rpd: 5, tpm: 100 })).reason).toBe('budget');
      });
    });
  });
}
