import type { KvStore } from '@/common/kv/kv-store';
import { SESSION_BIND, SESSION_PRUNE, SESSION_TOUCH } from './session-scripts';
import { SESSION_TTL_MS, SessionsService } from './sessions.service';

/** A fixed clock (Date.now is mocked): the scripts take `now` as an argument. */
const T = 1_700_000_000_000;
const MIN = 60_000;
const KEY_A = '0a9d3f3e-1111-4c5e-9a77-0000000000aa';
const KEY_B = '0a9d3f3e-2222-4c5e-9a77-0000000000bb';

const limitMessage = (n: number): string =>
  `You have reached the maximum number of active sessions (${n}) for this API key; finish one or wait for it to expire (30 min idle)`;

/**
 * Resolves with `get()` once `ok` holds of it (pub/sub and fire-and-forget writes are
 * asynchronous), or with the last value after `ms` (real time: Date.now is mocked).
 */
async function waitFor<V>(
  get: () => V | Promise<V>,
  ok: (v: V) => boolean,
  ms = 3_000,
): Promise<V> {
  const until = performance.now() + ms;
  let v = await get();
  while (!ok(v) && performance.now() < until) {
    await new Promise((r) => setTimeout(r, 10));
    v = await get();
  }
  return v;
}

/**
 * The behaviour of `SessionsService` over a key-value store — the session scripts' Lua in Redis
 * (`test/e2e/sessions.e2e-spec.ts`) and their JavaScript twins in the memory store
 * (`sessions.service.spec.ts`). `open(ns)` returns a store on namespace `ns`: the same namespace
 * opened twice is one shared store (two replicas), each test gets a fresh namespace. Stores are
 * closed after each test; `cleanup` runs once after the suite.
 */
export function describeSessionsContract(
  name: string,
  open: (ns: string) => KvStore,
  cleanup?: () => void | Promise<void>,
): void {
  describe(`SessionsService contract: ${name}`, () => {
    let seq = 0;
    let ns: string;
    let now = T;
    const stores: KvStore[] = [];
    const services: SessionsService[] = [];

    /** A replica: a service on its own connection to this test's namespace. */
    const replica = async (): Promise<SessionsService> => {
      const kv = open(ns);
      stores.push(kv);
      const s = new SessionsService(kv);
      await s.onModuleInit();
      services.push(s);
      return s;
    };
    const tick = (ms: number): void => {
      now += ms;
    };

    beforeEach(() => {
      ns = `${Date.now().toString(36)}-${++seq}`;
      now = T;
      jest.spyOn(Date, 'now').mockImplementation(() => now);
    });

    afterEach(async () => {
      jest.restoreAllMocks();
      await Promise.all(services.splice(0).map((s) => s.onModuleDestroy()));
      await Promise.all(stores.splice(0).map((s) => s.close()));
    });

    if (cleanup) {
      afterAll(async () => {
        await cleanup();
      });
    }

    describe('touch and maxSessions', () => {
      it('admits new sessions up to the limit, refuses the next new one with 429, keeps existing ones', async () => {
        const s = await replica();
        await expect(s.touch('fp:one', KEY_A, 2, 'fingerprint')).resolves.toEqual({ ok: true });
        await expect(s.touch('fp:two', KEY_A, 2, 'fingerprint')).resolves.toEqual({ ok: true });
        const third = await s.touch('fp:three', KEY_A, 2, 'fingerprint');
        expect(third.ok).toBe(false);
        if (third.ok) {
          return;
        }
        expect(third.error).toMatchObject({
          code: 'SESSION_LIMIT_EXCEEDED',
          category: 'RATE_LIMITED',
          status: 429,
          message: limitMessage(2),
          details: { maxSessions: 2, activeSessions: 2 },
        });
        // Existing sessions always pass, however often.
        for (let i = 0; i < 3; i++) {
          await expect(s.touch('fp:one', KEY_A, 2, 'fingerprint')).resolves.toEqual({ ok: true });
          await expect(s.touch('fp:two', KEY_A, 2, 'fingerprint')).resolves.toEqual({ ok: true });
        }
        // The refused session was not recorded.
        const list = await s.list();
        expect(list.sessions.map((x) => x.sessionId).sort()).toEqual(['fp:one', 'fp:two']);
        expect(list.byApiKey).toEqual({ [KEY_A]: 2 });
      });

      it('counts per key: another key and unlimited keys are not affected', async () => {
        const s = await replica();
        await expect(s.touch('ext:a1', KEY_A, 1, 'header')).resolves.toEqual({ ok: true });
        expect((await s.touch('ext:a2', KEY_A, 1, 'header')).ok).toBe(false);
        await expect(s.touch('ext:b1', KEY_B, 1, 'header')).resolves.toEqual({ ok: true });
        for (let i = 0; i < 5; i++) {
          await expect(s.touch(`ext:u${i}`, KEY_B, null, 'header')).resolves.toEqual({
            ok: true,
          });
          await expect(s.touch(`ext:n${i}`, null, null, 'header')).resolves.toEqual({ ok: true });
        }
        const list = await s.list();
        expect(list.byApiKey).toEqual({ [KEY_A]: 1, [KEY_B]: 6, anon: 5 });
        expect(list.count).toBe(12);
      });

      it('frees a slot once a session has been idle for 30 minutes', async () => {
        const s = await replica();
        await s.touch('fp:old', KEY_A, 2, 'fingerprint');
        tick(10 * MIN);
        await s.touch('fp:kept', KEY_A, 2, 'fingerprint');
        tick(19 * MIN); // fp:old idle 29 min: still active
        expect((await s.touch('fp:new', KEY_A, 2, 'fingerprint')).ok).toBe(false);
        await s.touch('fp:old', KEY_A, 2, 'fingerprint'); // active again, for 30 more minutes
        tick(10 * MIN); // fp:kept idle 29 min
        expect((await s.touch('fp:new', KEY_A, 2, 'fingerprint')).ok).toBe(false);
        tick(MIN); // fp:kept idle 30 min: its slot is free
        await expect(s.touch('fp:new', KEY_A, 2, 'fingerprint')).resolves.toEqual({ ok: true });
        expect((await s.touch('fp:kept', KEY_A, 2, 'fingerprint')).ok).toBe(false);
        tick(SESSION_TTL_MS);
        const list = await s.list();
        expect(list).toEqual({ count: 0, sessions: [], byApiKey: {} });
        await expect(s.touch('fp:kept', KEY_A, 2, 'fingerprint')).resolves.toEqual({ ok: true });
      });

      it('restarts a session idle for 30 minutes even while its record still exists', async () => {
        const s = await replica();
        await s.touch('ext:again', KEY_A, null, 'header');
        tick(MIN);
        await s.touch('ext:again', KEY_A, null, 'header');
        let [info] = (await s.list()).sessions;
        expect(info).toMatchObject({ requestCount: 2, createdAt: new Date(T).toISOString() });
        tick(SESSION_TTL_MS);
        await s.touch('ext:again', KEY_A, null, 'header');
        [info] = (await s.list()).sessions;
        expect(info).toMatchObject({
          requestCount: 1,
          createdAt: new Date(now).toISOString(),
          ageMs: 0,
        });
      });

      it('admits exactly maxSessions of many concurrent new sessions', async () => {
        const a = await replica();
        const b = await replica();
        const results = await Promise.all(
          Array.from({ length: 20 }, (_, i) =>
            (i % 2 ? a : b).touch(`fp:c${i}`, KEY_A, 3, 'fingerprint'),
          ),
        );
        expect(results.filter((r) => r.ok)).toHaveLength(3);
        expect((await a.list()).byApiKey).toEqual({ [KEY_A]: 3 });
      });

      it('shares the limit between replicas', async () => {
        const a = await replica();
        const b = await replica();
        await expect(a.touch('fp:r1', KEY_A, 2, 'fingerprint')).resolves.toEqual({ ok: true });
        await expect(b.touch('fp:r2', KEY_A, 2, 'fingerprint')).resolves.toEqual({ ok: true });
        expect((await a.touch('fp:r3', KEY_A, 2, 'fingerprint')).ok).toBe(false);
        expect((await b.touch('fp:r3', KEY_A, 2, 'fingerprint')).ok).toBe(false);
        // A session opened on one replica is existing on the other.
        await expect(b.touch('fp:r1', KEY_A, 2, 'fingerprint')).resolves.toEqual({ ok: true });
      });
    });

    describe('list', () => {
      it('lists active sessions newest first with their record', async () => {
        const s = await replica();
        await s.touch('ext:first', KEY_A, null, 'header');
        tick(1_000);
        await s.touch('fp:second', null, null, 'fingerprint');
        tick(1_000);
        await s.touch('ext:first', KEY_A, 5, 'header');
        tick(500);
        const list = await s.list();
        expect(list).toEqual({
          count: 2,
          byApiKey: { [KEY_A]: 1, anon: 1 },
          sessions: [
            {
              sessionId: 'ext:first',
              apiKeyId: KEY_A,
              createdAt: new Date(T).toISOString(),
              lastActive: new Date(T + 2_000).toISOString(),
              requestCount: 2,
              connectionId: null,
              ageMs: 2_500,
              source: 'header',
            },
            {
              sessionId: 'fp:second',
              apiKeyId: null,
              createdAt: new Date(T + 1_000).toISOString(),
              lastActive: new Date(T + 1_000).toISOString(),
              requestCount: 1,
              connectionId: null,
              ageMs: 1_500,
              source: 'fingerprint',
            },
          ],
        });
      });

      it('narrows to one key (or anon) and returns nothing for a key without sessions', async () => {
        const s = await replica();
        await s.touch('ext:k-a', KEY_A, null, 'header');
        await s.touch('ext:k-b', KEY_B, null, 'header');
        await s.touch('ext:k-n', null, null, 'header');
        const a = await s.list(KEY_A);
        expect(a.count).toBe(1);
        expect(a.byApiKey).toEqual({ [KEY_A]: 1 });
        expect(a.sessions.map((x) => x.sessionId)).toEqual(['ext:k-a']);
        expect((await s.list('anon')).sessions.map((x) => x.sessionId)).toEqual(['ext:k-n']);
        await expect(s.list('00000000-0000-0000-0000-000000000000')).resolves.toEqual({
          count: 0,
          sessions: [],
          byApiKey: {},
        });
      });

      it('lists at most 1000 sessions but counts them all', async () => {
        const s = await replica();
        for (let i = 0; i < 1_005; i++) {
          tick(1);
          await s.touch(`fp:many-${i}`, null, null, 'fingerprint');
        }
        const list = await waitFor(
          () => s.list(),
          (l) => l.count >= 1_005,
        );
        expect(list.count).toBe(1_005);
        expect(list.byApiKey).toEqual({ anon: 1_005 });
        expect(list.sessions).toHaveLength(1_000);
        expect(list.sessions[0].sessionId).toBe('fp:many-1004');
        expect(list.sessions[999].sessionId).toBe('fp:many-5');
      });
    });

    describe('scripts', () => {
      const touchKeys = ['sess:x', 'sess:key:anon', 'sess:keys'];
      const touchArgs = (at: number, max = 0): (string | number)[] => [
        'x',
        at,
        60_000,
        max,
        '',
        'header',
        'anon',
        60_000,
      ];

      it('reads an unreadable record as a fresh session', async () => {
        const kv = open(ns);
        stores.push(kv);
        await kv.set('sess:x', '{not json', { ttlMs: 60_000 });
        await expect(kv.run(SESSION_TOUCH, touchKeys, touchArgs(1_000))).resolves.toEqual({
          ok: true,
          isNew: true,
          active: 1,
        });
        expect(JSON.parse((await kv.get('sess:x')) ?? 'null')).toEqual({
          sessionId: 'x',
          apiKeyId: null,
          createdAt: 1_000,
          lastActive: 1_000,
          requestCount: 1,
          connectionId: null,
          source: 'header',
        });
        await expect(kv.hgetall('sess:key:anon')).resolves.toEqual({ x: '1000' });
        await expect(kv.hgetall('sess:keys')).resolves.toEqual({ anon: '1000' });
        const ttl = await kv.pttl('sess:x');
        expect(ttl).toBeGreaterThan(59_000);
        expect(ttl).toBeLessThanOrEqual(60_000);
      });

      it('binds only an existing record and keeps its time to live', async () => {
        const kv = open(ns);
        stores.push(kv);
        await expect(kv.run(SESSION_BIND, ['sess:x'], ['c1', 60_000])).resolves.toEqual({
          found: false,
          changed: false,
        });
        await expect(kv.get('sess:x')).resolves.toBeNull();
        await kv.run(SESSION_TOUCH, touchKeys, touchArgs(1_000));
        await kv.expire('sess:x', 20_000);
        await expect(kv.run(SESSION_BIND, ['sess:x'], ['c1', 60_000])).resolves.toEqual({
          found: true,
          changed: true,
        });
        await expect(kv.run(SESSION_BIND, ['sess:x'], ['c1', 60_000])).resolves.toEqual({
          found: true,
          changed: false,
        });
        expect(JSON.parse((await kv.get('sess:x')) ?? 'null')).toMatchObject({
          connectionId: 'c1',
          requestCount: 1,
          apiKeyId: null,
        });
        expect(await kv.pttl('sess:x')).toBeLessThanOrEqual(20_000);
        await kv.set('sess:x', '[1]');
        await expect(kv.run(SESSION_BIND, ['sess:x'], ['c2', 60_000])).resolves.toEqual({
          found: false,
          changed: false,
        });
      });

      it('prunes idle sessions and drops an empty set from the index', async () => {
        const kv = open(ns);
        stores.push(kv);
        await kv.run(SESSION_TOUCH, touchKeys, touchArgs(1_000));
        await expect(
          kv.run(SESSION_PRUNE, ['sess:key:anon', 'sess:keys'], ['anon', 2_000, 60_000]),
        ).resolves.toEqual({ sessions: { x: 1_000 } });
        await expect(kv.hgetall('sess:keys')).resolves.toEqual({ anon: '2000' });
        await expect(
          kv.run(SESSION_PRUNE, ['sess:key:anon', 'sess:keys'], ['anon', 61_000, 60_000]),
        ).resolves.toEqual({ sessions: {} });
        await expect(kv.hgetall('sess:key:anon')).resolves.toEqual({});
        await expect(kv.hgetall('sess:keys')).resolves.toEqual({});
      });

      it('refuses without writing when the set is full of active sessions', async () => {
        const kv = open(ns);
        stores.push(kv);
        await kv.run(SESSION_TOUCH, touchKeys, touchArgs(1_000, 1));
        const other = ['sess:y', 'sess:key:anon', 'sess:keys'];
        const args = touchArgs(2_000, 1);
        args[0] = 'y';
        await expect(kv.run(SESSION_TOUCH, other, args)).resolves.toEqual({
          ok: false,
          isNew: true,
          active: 1,
        });
        await expect(kv.get('sess:y')).resolves.toBeNull();
        await expect(kv.hgetall('sess:key:anon')).resolves.toEqual({ x: '1000' });
        // Once x is idle for the TTL, y takes its place (pruned inside the script).
        args[1] = 61_000;
        await expect(kv.run(SESSION_TOUCH, other, args)).resolves.toEqual({
          ok: true,
          isNew: true,
          active: 1,
        });
        await expect(kv.hgetall('sess:key:anon')).resolves.toEqual({ y: '61000' });
      });
    });

    describe('affinity', () => {
      it('binds at once on this replica, in the record, and on other replicas via pub/sub', async () => {
        const a = await replica();
        const b = await replica();
        await a.touch('ext:sticky', KEY_A, null, 'header');
        expect(a.affinity('ext:sticky')).toBeUndefined();
        a.bind('ext:sticky', 'conn-1');
        expect(a.affinity('ext:sticky')).toBe('conn-1');
        await expect(
          waitFor(
            () => b.affinity('ext:sticky'),
            (c) => c === 'conn-1',
          ),
        ).resolves.toBe('conn-1');
        const first = await waitFor(
          async () => (await b.list()).sessions[0],
          (x) => x.connectionId !== null,
        );
        expect(first.connectionId).toBe('conn-1');

        tick(1_000);
        b.bind('ext:sticky', 'conn-2');
        expect(b.affinity('ext:sticky')).toBe('conn-2');
        await expect(
          waitFor(
            () => a.affinity('ext:sticky'),
            (c) => c === 'conn-2',
          ),
        ).resolves.toBe('conn-2');
        await waitFor(
          async () => (await a.list()).sessions[0],
          (x) => x.connectionId === 'conn-2',
        );
        // The record keeps the binding across touches.
        await a.touch('ext:sticky', KEY_A, null, 'header');
        expect((await a.list()).sessions[0]).toMatchObject({
          connectionId: 'conn-2',
          requestCount: 2,
        });
      });

      it('broadcasts only when the binding changed', async () => {
        const s = await replica();
        const kv = stores[0];
        const publish = jest.spyOn(kv, 'publish');
        s.bind('ext:quiet', 'conn-1');
        s.bind('ext:quiet', 'conn-1');
        s.bind('ext:quiet', 'conn-1');
        expect(publish).toHaveBeenCalledTimes(1);
        s.bind('ext:quiet', 'conn-2');
        expect(publish).toHaveBeenCalledTimes(2);
      });

      it('answers undefined for a session never bound', async () => {
        const s = await replica();
        expect(s.affinity('fp:nobody')).toBeUndefined();
      });
    });
  });
}
