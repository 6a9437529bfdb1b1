import type { KvStore } from '@/common/kv/kv-store';
import {
  BREAKER_FAILURE,
  BREAKER_PROBE,
  BREAKER_SUCCESS,
  type BreakerRecord,
  COOLDOWN_FAILURE,
  LATENCY_MERGE,
  PICK_LEAST_USED,
  PICK_LRU,
  RATE_ACQUIRE,
} from './kv-scripts';

const WEEK_MS = 7 * 24 * 3600_000;
/** A fixed clock: the scripts take `now` as an argument and never read one. */
const T = 1_700_000_000_000;
const W = 60_000;
/** The start of the rate window T falls in. */
const BASE = Math.floor(T / W) * W;

/**
 * The behaviour of the resilience scripts (`kv-scripts.ts`), run against each adapter: their Lua
 * in Redis (`test/e2e/kv-scripts.e2e-spec.ts`) and their JavaScript twins in the memory store
 * (`kv-scripts.spec.ts`) must meet the same expectations. Each test gets a fresh store and its own
 * keys; `cleanup` runs once after the suite (Redis: delete the run's key prefix).
 */
export function describeKvScriptsContract(
  name: string,
  makeStore: () => KvStore | Promise<KvStore>,
  cleanup?: () => void | Promise<void>,
): void {
  describe(`KvScript contract: ${name}`, () => {
    let kv: KvStore;
    let seq = 0;
    /** A key unique to the running test. */
    let k: (s: string) => string;

    beforeEach(async () => {
      kv = await makeStore();
      const t = `${Date.now().toString(36)}-${++seq}`;
      k = (s) => `scripts:${t}:${s}`;
    });

    afterEach(async () => {
      await kv.close();
    });

    if (cleanup) {
      afterAll(async () => {
        await cleanup();
      });
    }

    describe('breakers', () => {
      const fail = (now: number, threshold = 3) =>
        kv.run(BREAKER_FAILURE, [k('b')], [now, threshold]);
      const succeed = (now: number) => kv.run(BREAKER_SUCCESS, [k('b')], [now]);
      const probe = (now: number, resetMs = 1_000, probeTtlMs = 5_000) =>
        kv.run(BREAKER_PROBE, [k('b')], [now, resetMs, probeTtlMs]);
      const stored = async (): Promise<unknown> => {
        const raw = await kv.get(k('b'));
        return raw === null ? null : JSON.parse(raw);
      };
      const closed: BreakerRecord = {
        state: 'closed',
        failures: 0,
        openedAt: 0,
        lastFailureAt: 0,
        probeUntil: 0,
      };
      /** Opens the breaker at `at` (threshold 1). */
      const openAt = (at: number) => fail(at, 1);

      it('counts failures of a missing breaker and opens it at the threshold', async () => {
        await expect(fail(T)).resolves.toEqual({ ...closed, failures: 1, lastFailureAt: T });
        await expect(fail(T + 1)).resolves.toEqual({
          ...closed,
          failures: 2,
          lastFailureAt: T + 1,
        });
        const opened: BreakerRecord = {
          state: 'open',
          failures: 3,
          openedAt: T + 2,
          lastFailureAt: T + 2,
          probeUntil: 0,
        };
        await expect(fail(T + 2)).resolves.toEqual(opened);
        await expect(stored()).resolves.toEqual(opened);
      });

      it('keeps every write for seven days', async () => {
        await fail(T);
        const ttl = await kv.pttl(k('b'));
        expect(ttl).toBeGreaterThan(WEEK_MS - 60_000);
        expect(ttl).toBeLessThanOrEqual(WEEK_MS);
      });

      it('opens on the first failure with threshold 1', async () => {
        await expect(openAt(T)).resolves.toMatchObject({ state: 'open', openedAt: T });
      });

      it('counts failures of an open breaker without moving openedAt', async () => {
        await openAt(T);
        await expect(fail(T + 10)).resolves.toEqual({
          state: 'open',
          failures: 2,
          openedAt: T,
          lastFailureAt: T + 10,
          probeUntil: 0,
        });
      });

      it('grants one probe once the reset timeout has passed', async () => {
        await openAt(T);
        await expect(probe(T + 999)).resolves.toMatchObject({ state: 'open', granted: false });
        const granted = {
          state: 'half_open',
          failures: 1,
          openedAt: T,
          lastFailureAt: T,
          probeUntil: T + 6_000,
        };
        await expect(probe(T + 1_000)).resolves.toEqual({ ...granted, granted: true });
        await expect(probe(T + 1_001)).resolves.toEqual({ ...granted, granted: false });
        await expect(stored()).resolves.toEqual(granted);
      });

      it('grants the probe again once a lost probe timed out', async () => {
        await openAt(T);
        await probe(T + 1_000);
        await expect(probe(T + 5_999)).resolves.toMatchObject({ granted: false });
        await expect(probe(T + 6_000)).resolves.toMatchObject({
          state: 'half_open',
          probeUntil: T + 11_000,
          granted: true,
        });
      });

      it('grants no probe on a closed breaker and writes nothing', async () => {
        await expect(probe(T)).resolves.toEqual({ ...closed, granted: false });
        await expect(stored()).resolves.toBeNull();
        await fail(T);
        await expect(probe(T + 60_000)).resolves.toMatchObject({
          state: 'closed',
          failures: 1,
          granted: false,
        });
      });

      it('reopens when the probe fails', async () => {
        await openAt(T);
        await probe(T + 1_000);
        await expect(fail(T + 2_000)).resolves.toEqual({
          state: 'open',
          failures: 2,
          openedAt: T + 2_000,
          lastFailureAt: T + 2_000,
          probeUntil: 0,
        });
        await expect(probe(T + 2_999)).resolves.toMatchObject({ granted: false });
        await expect(probe(T + 3_000)).resolves.toMatchObject({ granted: true });
      });

      it('closes a half-open breaker on success', async () => {
        await openAt(T);
        await probe(T + 1_000);
        const closedAgain = { ...closed, lastFailureAt: T };
        await expect(succeed(T + 1_500)).resolves.toEqual({ ...closedAgain, changed: true });
        await expect(stored()).resolves.toEqual(closedAgain);
        await expect(succeed(T + 1_600)).resolves.toEqual({ ...closedAgain, changed: false });
      });

      it('does not close an open breaker on a late success', async () => {
        const opened = await openAt(T);
        await expect(succeed(T + 1)).resolves.toEqual({ ...opened, changed: false });
        await expect(stored()).resolves.toEqual(opened);
      });

      it('resets the failures of a closed breaker and writes nothing when there are none', async () => {
        await expect(succeed(T)).resolves.toEqual({ ...closed, changed: false });
        await expect(stored()).resolves.toBeNull();
        await fail(T);
        await fail(T + 1);
        await expect(succeed(T + 2)).resolves.toEqual({
          ...closed,
          lastFailureAt: T + 1,
          changed: true,
        });
        await expect(fail(T + 3)).resolves.toMatchObject({ state: 'closed', failures: 1 });
      });

      it('grants exactly one of 20 concurrent probes', async () => {
        await openAt(T);
        const results = await Promise.all(Array.from({ length: 20 }, () => probe(T + 60_000)));
        expect(results.filter((r) => r.granted)).toHaveLength(1);
        expect(results.every((r) => r.state === 'half_open')).toBe(true);
      });
    });

    describe('cooldowns', () => {
      interface Failure {
        mode: string;
        ms?: number;
        reason?: string;
        status?: number;
        field?: string;
        baseMs?: number;
        maxSteps?: number;
        maxMs?: number;
      }
      const cool = (now: number, f: Failure) =>
        kv.run(
          COOLDOWN_FAILURE,
          [k('cd')],
          [
            f.field ?? 'c1',
            now,
            f.reason ?? 'server_error',
            f.status ?? 503,
            f.mode,
            f.ms ?? 0,
            f.baseMs ?? 3_000,
            f.maxSteps ?? 2,
            f.maxMs ?? 3_600_000,
          ],
        );
      /** Fails at `now`, then again each time the cooldown ran out; the durations. */
      async function durations(now: number, fs: Failure[]): Promise<number[]> {
        const out: number[] = [];
        for (const f of fs) {
          const r = await cool(now, f);
          expect(r.extended).toBe(true);
          out.push(r.until - now);
          now = r.until;
        }
        return out;
      }
      const backoff: Failure = { mode: 'backoff' };

      it('backs off 3s, 6s, 12s and stays there at maxSteps', async () => {
        await expect(durations(T, Array(5).fill(backoff))).resolves.toEqual([
          3_000, 6_000, 12_000, 12_000, 12_000,
        ]);
        const raw = (await kv.hgetall(k('cd'))).c1;
        expect(JSON.parse(raw)).toMatchObject({ level: 2 });
      });

      it('caps a backoff at maxMs', async () => {
        const f: Failure = { mode: 'backoff', maxSteps: 10, maxMs: 10_000 };
        await expect(durations(T, [f, f, f, f])).resolves.toEqual([3_000, 6_000, 10_000, 10_000]);
      });

      it('stores the record and returns it with extended', async () => {
        const rec = { until: T + 3_000, level: 1, reason: 'rate_limited', status: 429, at: T };
        await expect(
          cool(T, { mode: 'backoff', reason: 'rate_limited', status: 429 }),
        ).resolves.toEqual({
          ...rec,
          extended: true,
        });
        const stored = await kv.hgetall(k('cd'));
        expect(Object.keys(stored)).toEqual(['c1']);
        expect(JSON.parse(stored.c1)).toEqual(rec);
      });

      it('never extends a running cooldown', async () => {
        const first = await cool(T, backoff);
        await expect(
          cool(T + 100, { mode: 'fixed', ms: 600_000, reason: 'other', status: 500 }),
        ).resolves.toEqual({ ...first, extended: false });
        await expect(cool(T + 2_999, backoff)).resolves.toEqual({ ...first, extended: false });
        expect(JSON.parse((await kv.hgetall(k('cd'))).c1)).toMatchObject({ until: T + 3_000 });
        // Once it ran out (until <= now), the next failure backs off further.
        await expect(cool(T + 3_000, backoff)).resolves.toMatchObject({
          until: T + 9_000,
          level: 2,
          extended: true,
        });
      });

      it('resets the level on a hint, capped at maxMs', async () => {
        const hint: Failure = {
          mode: 'hint',
          ms: 30_000,
          maxMs: 20_000,
          reason: 'quota',
          status: 429,
        };
        const [, , last] = await durations(T, [backoff, backoff, hint]);
        expect(last).toBe(20_000);
        const rec = JSON.parse((await kv.hgetall(k('cd'))).c1);
        expect(rec).toMatchObject({ level: 0, reason: 'quota', status: 429 });
        await expect(durations(rec.until as number, [backoff])).resolves.toEqual([3_000]);
        await expect(durations(T, [{ mode: 'hint', ms: 5_000, field: 'c2' }])).resolves.toEqual([
          5_000,
        ]);
      });

      it('keeps the level on a fixed cooldown', async () => {
        const fixed: Failure = { mode: 'fixed', ms: 300_000, reason: 'unauthorized', status: 401 };
        await expect(durations(T, [backoff, backoff, fixed, backoff])).resolves.toEqual([
          3_000, 6_000, 300_000, 12_000,
        ]);
        await expect(durations(T, [{ ...fixed, field: 'c2' }])).resolves.toEqual([300_000]);
        expect(JSON.parse((await kv.hgetall(k('cd'))).c2)).toMatchObject({ level: 0 });
      });

      it('keeps each field to itself', async () => {
        await cool(T, backoff);
        await expect(cool(T + 1, { ...backoff, field: 'c2' })).resolves.toMatchObject({
          until: T + 3_001,
          level: 1,
          extended: true,
        });
        expect(Object.keys(await kv.hgetall(k('cd'))).sort()).toEqual(['c1', 'c2']);
      });

      it('rejects an unknown mode', async () => {
        await expect(cool(T, { mode: 'forever' })).rejects.toThrow(/unknown cooldown mode/);
        await expect(kv.hgetall(k('cd'))).resolves.toEqual({});
      });
    });

    describe('rate limits', () => {
      const keys = (now: number): string[] => {
        const i = Math.floor(now / W);
        return [k(`r:${i}`), k(`r:${i - 1}`), k(`t:${i}`), k(`t:${i - 1}`)];
      };
      const acquire = (now: number, rpm: number, tpm = 0) =>
        kv.run(RATE_ACQUIRE, keys(now), [now, W, rpm, tpm]);
      const at = BASE + 15_000; // 15 s into a window: 45 s left, the previous one weighs 0.75

      it('allows exactly rpm requests in a fresh window', async () => {
        for (let i = 1; i <= 5; i++) {
          await expect(acquire(at + i, 5)).resolves.toEqual({
            allowed: true,
            retryAfterMs: 0,
            requests: i,
            tokens: 0,
          });
        }
        await expect(acquire(at + 6, 5)).resolves.toEqual({
          allowed: false,
          retryAfterMs: 45_000 - 6,
          requests: 5,
          tokens: 0,
        });
        await expect(kv.get(keys(at)[0])).resolves.toBe('5');
        const ttl = await kv.pttl(keys(at)[0]);
        expect(ttl).toBeGreaterThan(2 * W - 60_000);
        expect(ttl).toBeLessThanOrEqual(2 * W);
      });

      it('allows everything without limits', async () => {
        for (let i = 1; i <= 20; i++) {
          await expect(acquire(at, 0, 0)).resolves.toMatchObject({ allowed: true, requests: i });
        }
      });

      it('weighs the previous window by what is left of it', async () => {
        for (let i = 0; i < 10; i++) {
          await acquire(BASE - W + 1_000, 0);
        }
        // 10 × 0.75 = 7.5 from the previous window.
        await expect(acquire(at, 10)).resolves.toMatchObject({ allowed: true, requests: 8 });
        await expect(acquire(at, 10)).resolves.toMatchObject({ allowed: true, requests: 9 });
        // 7.5 + 2 + 1 > 10 until the previous window weighs 0.7, 3 s later.
        await expect(acquire(at, 10)).resolves.toEqual({
          allowed: false,
          retryAfterMs: 3_000,
          requests: 9,
          tokens: 0,
        });
        await expect(acquire(at + 2_999, 10)).resolves.toMatchObject({ allowed: false });
        await expect(acquire(at + 3_000, 10)).resolves.toMatchObject({
          allowed: true,
          requests: 10,
        });
      });

      it('waits for the next window when the current one alone is full', async () => {
        const [reqCur, reqPrev] = keys(at);
        await kv.set(reqPrev, '3');
        await kv.set(reqCur, '3');
        await expect(acquire(at, 3)).resolves.toEqual({
          allowed: false,
          retryAfterMs: 45_000,
          requests: 5, // 3 × 0.75 + 3
          tokens: 0,
        });
      });

      it('denies once the tokens reach tpm', async () => {
        await kv.incrBy(keys(at)[2], 999, 2 * W);
        await expect(acquire(at, 0, 1_000)).resolves.toEqual({
          allowed: true,
          retryAfterMs: 0,
          requests: 1,
          tokens: 999,
        });
        await kv.incrBy(keys(at)[2], 1, 2 * W);
        await expect(acquire(at, 0, 1_000)).resolves.toEqual({
          allowed: false,
          retryAfterMs: 45_000,
          requests: 1,
          tokens: 1_000,
        });
      });

      it('weighs the tokens of the previous window', async () => {
        await kv.incrBy(keys(at)[3], 1_000, 2 * W);
        // 1000 × 0.75 = 750 tokens.
        await expect(acquire(at, 0, 800)).resolves.toMatchObject({ allowed: true, tokens: 750 });
        // Below 700 once the weight drops under 0.7: after 18001 ms into the window.
        await expect(acquire(at, 0, 700)).resolves.toEqual({
          allowed: false,
          retryAfterMs: 3_001,
          requests: 1,
          tokens: 750,
        });
        await expect(acquire(at + 3_000, 0, 700)).resolves.toMatchObject({ allowed: false });
        await expect(acquire(at + 3_001, 0, 700)).resolves.toMatchObject({ allowed: true });
      });

      it('checks requests before tokens', async () => {
        await kv.incrBy(keys(at)[2], 5_000, 2 * W);
        await acquire(at, 1, 0);
        await expect(acquire(at, 1, 1_000)).resolves.toMatchObject({
          allowed: false,
          requests: 1,
          tokens: 5_000,
          retryAfterMs: 45_000,
        });
      });

      it('answers the shortest retryAfterMs after which a retry is allowed', async () => {
        // A small deterministic generator: the same cases on every adapter.
        let s = 42;
        const rnd = (n: number): number => {
          s = (s * 48_271) % 2_147_483_647;
          return s % n;
        };
        let denied = 0;
        for (let c = 0; c < 25; c++) {
          const rpm = 1 + rnd(50);
          const byTokens = c % 2 === 1;
          const prev = byTokens ? 1 + rnd(5_000) : rpm + rnd(3 * rpm);
          const cur = byTokens ? rnd(2_000) : rnd(rpm);
          const now = BASE + (c + 1) * W * 3 + rnd(W);
          const [reqCur, reqPrev, tokCur, tokPrev] = keys(now);
          await kv.set(byTokens ? tokPrev : reqPrev, String(prev));
          await kv.set(byTokens ? tokCur : reqCur, String(cur));
          const tpm = byTokens ? 1 + rnd(4_000) : 0;
          const limit = byTokens ? 0 : rpm;
          const first = await acquire(now, limit, tpm);
          if (first.allowed) {
            continue;
          }
          denied++;
          const left = W - (now % W);
          const what = `case ${c}: ${JSON.stringify({ prev, cur, rpm: limit, tpm, left, first })}`;
          expect([what, first.retryAfterMs >= 1 && first.retryAfterMs <= left]).toEqual([
            what,
            true,
          ]);
          if (first.retryAfterMs > 1) {
            const early = await acquire(now + first.retryAfterMs - 1, limit, tpm);
            expect([what, early.allowed]).toEqual([what, false]);
          }
          if (first.retryAfterMs < left) {
            const onTime = await acquire(now + first.retryAfterMs, limit, tpm);
            expect([what, onTime.allowed]).toEqual([what, true]);
          }
        }
        expect(denied).toBeGreaterThanOrEqual(15);
      });

      it('allows exactly rpm of 50 concurrent requests', async () => {
        const results = await Promise.all(Array.from({ length: 50 }, () => acquire(at, 10)));
        const allowed = results.filter((r) => r.allowed);
        expect(allowed.map((r) => r.requests).sort((a, b) => a - b)).toEqual(
          Array.from({ length: 10 }, (_v, i) => i + 1),
        );
        await expect(kv.get(keys(at)[0])).resolves.toBe('10');
      });
    });

    describe('least-used picks', () => {
      const pick = (...fields: string[]) => kv.run(PICK_LEAST_USED, [k('lu')], fields);

      it('counts missing fields as 0 and goes round on a tie', async () => {
        await expect(pick('a', 'b', 'c')).resolves.toEqual({ index: 0, counts: [0, 0, 0] });
        await expect(pick('a', 'b', 'c')).resolves.toEqual({ index: 1, counts: [1, 0, 0] });
        await expect(pick('a', 'b', 'c')).resolves.toEqual({ index: 2, counts: [1, 1, 0] });
        await expect(pick('a', 'b', 'c')).resolves.toEqual({ index: 0, counts: [1, 1, 1] });
        await expect(kv.hgetall(k('lu'))).resolves.toEqual({ a: '2', b: '1', c: '1' });
      });

      it('picks the smallest count, the lowest index on a tie', async () => {
        await kv.hset(k('lu'), { a: '3', b: '1', c: '1' });
        await expect(pick('a', 'b', 'c')).resolves.toEqual({ index: 1, counts: [3, 1, 1] });
        await expect(pick('a', 'b', 'c')).resolves.toEqual({ index: 2, counts: [3, 2, 1] });
        await expect(pick('a', 'b', 'c')).resolves.toEqual({ index: 1, counts: [3, 2, 2] });
        await expect(pick('c', 'a')).resolves.toEqual({ index: 0, counts: [2, 3] });
      });

      it('picks the only field', async () => {
        await expect(pick('solo')).resolves.toEqual({ index: 0, counts: [0] });
        await expect(pick('solo')).resolves.toEqual({ index: 0, counts: [1] });
      });

      it('spreads concurrent picks evenly', async () => {
        const results = await Promise.all(Array.from({ length: 30 }, () => pick('a', 'b', 'c')));
        const per = [0, 0, 0];
        for (const r of results) {
          per[r.index]++;
        }
        expect(per).toEqual([10, 10, 10]);
        await expect(kv.hgetall(k('lu'))).resolves.toEqual({ a: '10', b: '10', c: '10' });
      });

      it('rejects without fields', async () => {
        await expect(pick()).rejects.toThrow(/at least one field/);
      });
    });

    describe('least-recently-used picks', () => {
      const pick = (now: number, ...fields: string[]) =>
        kv.run(PICK_LRU, [k('lru')], [now, ...fields]);

      it('picks never-used fields first, in order, then the oldest', async () => {
        await expect(pick(T, 'a', 'b', 'c')).resolves.toEqual({ index: 0 });
        await expect(pick(T + 1, 'a', 'b', 'c')).resolves.toEqual({ index: 1 });
        await expect(pick(T + 2, 'a', 'b', 'c')).resolves.toEqual({ index: 2 });
        await expect(pick(T + 3, 'a', 'b', 'c')).resolves.toEqual({ index: 0 });
        await expect(kv.hgetall(k('lru'))).resolves.toEqual({
          a: String(T + 3),
          b: String(T + 1),
          c: String(T + 2),
        });
      });

      it('picks the smallest time, the lowest index on a tie', async () => {
        await kv.hset(k('lru'), { a: String(T + 5), b: String(T + 1), c: String(T + 9) });
        await expect(pick(T + 10, 'a', 'b', 'c')).resolves.toEqual({ index: 1 });
        await kv.hset(k('lru'), { a: String(T), b: String(T + 20), c: String(T) });
        await expect(pick(T + 30, 'c', 'b', 'a')).resolves.toEqual({ index: 0 });
        await expect(kv.hgetall(k('lru'))).resolves.toMatchObject({
          c: String(T + 30),
          a: String(T),
        });
      });

      it('rejects without fields', async () => {
        await expect(pick(T)).rejects.toThrow(/at least one field/);
      });
    });

    describe('latency', () => {
      const merge = (field: string, avgMs: number, count: number, alpha: number) =>
        kv.run(LATENCY_MERGE, [k('lat')], [field, avgMs, count, alpha]);
      const stored = async (field: string): Promise<unknown> =>
        JSON.parse((await kv.hgetall(k('lat')))[field]);

      it('starts at the first average', async () => {
        await expect(merge('x', 100, 3, 0.2)).resolves.toEqual({ ewmaMs: 100, n: 3 });
        await expect(stored('x')).resolves.toEqual({ ewmaMs: 100, n: 3 });
      });

      it('weighs a batch of samples as count steps of alpha', async () => {
        await merge('x', 100, 1, 0.2);
        const one = await merge('x', 200, 1, 0.2); // a = 0.2
        expect(one.ewmaMs).toBeCloseTo(120, 9);
        expect(one.n).toBe(2);
        const batch = await merge('x', 50, 3, 0.5); // a = 1 - 0.5³ = 0.875
        expect(batch.ewmaMs).toBeCloseTo(120 * 0.125 + 50 * 0.875, 9);
        expect(batch.n).toBe(5);
        await expect(stored('x')).resolves.toEqual(batch);
      });

      it('stores no time and drops an old one', async () => {
        await kv.hset(k('lat'), { x: JSON.stringify({ ewmaMs: 100, n: 4, at: T }) });
        const r = await merge('x', 300, 1, 0.5);
        expect(r).toEqual({ ewmaMs: 200, n: 5 });
        await expect(stored('x')).resolves.toEqual({ ewmaMs: 200, n: 5 });
      });

      it('keeps each field to itself', async () => {
        await merge('x', 100, 1, 0.5);
        await expect(merge('y', 40, 2, 0.5)).resolves.toEqual({ ewmaMs: 40, n: 2 });
        await expect(merge('x', 300, 1, 0.5)).resolves.toEqual({ ewmaMs: 200, n: 2 });
      });
    });
  });
}
