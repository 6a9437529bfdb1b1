import { Logger } from '@nestjs/common';
import type { KvStore } from '@/common/kv/kv-store';
import { MemoryKvStore } from '@/common/kv/memory-kv.store';
import * as scripts from './session-scripts';
import { describeSessionsContract } from './sessions.contract';
import { SessionsService, TOUCH_BUDGET_MS } from './sessions.service';

const namespaces = new Map<string, MemoryKvStore>();
/** One memory store per namespace: two replicas of a test share it, like one Redis. */
describeSessionsContract('MemoryKvStore', (ns) => {
  let kv = namespaces.get(ns);
  if (!kv) {
    kv = new MemoryKvStore();
    namespaces.set(ns, kv);
  }
  return kv;
});

/** A store whose every call fails, as when Redis is unreachable. */
function downStore(): KvStore {
  const fail = (): Promise<never> => Promise.reject(new Error('connect ECONNREFUSED'));
  return {
    kind: 'redis',
    get: fail,
    set: fail,
    del: fail,
    incrBy: fail,
    expire: fail,
    pttl: fail,
    hset: fail,
    hgetall: fail,
    hdel: fail,
    scan: fail,
    run: fail,
    publish: fail,
    subscribe: fail,
    ping: fail,
    close: () => Promise.resolve(),
  };
}

describe(SessionsService.name, () => {
  afterEach(() => {
    jest.restoreAllMocks();
  });

  describe('with the key-value store down', () => {
    it('lets touch() through and warns at most once a minute', async () => {
      let now = 1_700_000_000_000;
      jest.spyOn(Date, 'now').mockImplementation(() => now);
      const warn = jest.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
      const s = new SessionsService(downStore());
      await s.onModuleInit(); // the subscription fails too: warned once
      expect(warn).toHaveBeenCalledTimes(1);
      now += 60_000;
      for (let i = 0; i < 5; i++) {
        await expect(s.touch(`fp:${i}`, 'k', 1, 'fingerprint')).resolves.toEqual({ ok: true });
      }
      expect(warn).toHaveBeenCalledTimes(2);
      expect(String(warn.mock.calls[1][0])).toMatch(/session limits not enforced.*ECONNREFUSED/);
      now += 59_999;
      await s.touch('fp:x', null, null, 'header');
      expect(warn).toHaveBeenCalledTimes(2);
      now += 1;
      await s.touch('fp:x', null, null, 'header');
      expect(warn).toHaveBeenCalledTimes(3);
    });

    it('lets a limit check through when the store does not answer within the budget', async () => {
      const warn = jest.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
      const hung: KvStore = { ...downStore(), run: () => new Promise<never>(() => undefined) };
      const s = new SessionsService(hung);
      const started = performance.now();
      await expect(s.touch('fp:slow', 'k', 1, 'fingerprint')).resolves.toEqual({ ok: true });
      const took = performance.now() - started;
      expect(took).toBeGreaterThanOrEqual(TOUCH_BUDGET_MS - 5);
      expect(took).toBeLessThan(TOUCH_BUDGET_MS + 500);
      expect(String(warn.mock.calls[0][0])).toMatch(/no answer in 300 ms/);
    });

    it('never throws from touchLater() and bind(), and keeps the binding locally', async () => {
      jest.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
      const s = new SessionsService(downStore());
      expect(() => s.touchLater('fp:a', null, 'fingerprint')).not.toThrow();
      expect(() => s.bind('fp:a', 'conn-1')).not.toThrow();
      expect(s.affinity('fp:a')).toBe('conn-1');
      await new Promise((r) => setImmediate(r)); // the rejections are handled
    });

    it('answers list() with 503 SESSION_STORE_UNAVAILABLE', async () => {
      jest.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
      const s = new SessionsService(downStore());
      await expect(s.list()).rejects.toMatchObject({
        code: 'SESSION_STORE_UNAVAILABLE',
        status: 503,
      });
    });
  });

  describe('affinity', () => {
    it('keeps the 50 000 most recently used bindings', () => {
      const kv = new MemoryKvStore();
      const s = new SessionsService(kv);
      jest.spyOn(kv, 'run').mockResolvedValue({ found: true, changed: true });
      jest.spyOn(kv, 'publish').mockResolvedValue(undefined);
      for (let i = 0; i < 50_000; i++) {
        s.bind(`fp:${i}`, 'c');
      }
      expect(s.affinity('fp:0')).toBe('c'); // now the most recently used
      s.bind('fp:new', 'c');
      expect(s.affinity('fp:1')).toBeUndefined();
      expect(s.affinity('fp:0')).toBe('c');
      expect(s.affinity('fp:new')).toBe('c');
      expect(s.affinity('fp:2')).toBe('c');
      void kv.close();
    });

    it('ignores its own broadcasts, malformed messages and older bindings from others', async () => {
      const kv = new MemoryKvStore();
      const a = new SessionsService(kv);
      const b = new SessionsService(kv);
      await a.onModuleInit();
      await b.onModuleInit();
      let now = 1_700_000_000_000;
      jest.spyOn(Date, 'now').mockImplementation(() => now);
      a.bind('fp:s', 'conn-1');
      now += 1;
      b.bind('fp:s', 'conn-2'); // later: wins on both
      await kv.publish('sessions:bind', 'not json');
      await kv.publish('sessions:bind', JSON.stringify({ s: 'fp:s', c: 7, at: 1 }));
      await kv.publish(
        'sessions:bind',
        JSON.stringify({ s: 'fp:s', c: 'conn-old', at: 1, from: 'another' }),
      );
      await new Promise((r) => setTimeout(r, 20));
      expect(a.affinity('fp:s')).toBe('conn-2');
      expect(b.affinity('fp:s')).toBe('conn-2');
      await a.onModuleDestroy();
      await b.onModuleDestroy();
      await kv.close();
    });

    it('converges when two replicas bind one session in the same millisecond', async () => {
      jest.spyOn(Date, 'now').mockReturnValue(1_700_000_000_000);
      const kv = new MemoryKvStore();
      const a = new SessionsService(kv);
      const b = new SessionsService(kv);
      await a.onModuleInit();
      await b.onModuleInit();
      a.bind('fp:tie', 'conn-a');
      b.bind('fp:tie', 'conn-b');
      await new Promise((r) => setTimeout(r, 20));
      expect(a.affinity('fp:tie')).toBe(b.affinity('fp:tie'));
      await a.onModuleDestroy();
      await b.onModuleDestroy();
      await kv.close();
    });
  });

  it('touchLater() records the session without a limit', async () => {
    const kv = new MemoryKvStore();
    const s = new SessionsService(kv);
    s.touchLater('ext:later', 'k1', 'header');
    s.touchLater('ext:later', 'k1', 'header');
    s.touchLater('ext:later', 'k1', 'header');
    expect((await s.list()).count).toBe(0); // coalesced: nothing sent yet
    await s.flushTouches();
    const list = await s.list();
    expect(list.sessions).toEqual([
      expect.objectContaining({
        sessionId: 'ext:later',
        apiKeyId: 'k1',
        source: 'header',
        requestCount: 3,
      }),
    ]);
    await kv.close();
  });
});

describe('session scripts', () => {
  const all = Object.values(scripts as Record<string, unknown>).filter(
    (v): v is { name: string; lua: string } => typeof v === 'object' && v !== null && 'lua' in v,
  );

  it('exports the three session scripts under distinct names', () => {
    expect(all.map((s) => s.name).sort()).toEqual([
      'session-bind',
      'session-prune',
      'session-touch',
    ]);
  });

  it('returns cjson-encoded JSON from every Lua body and declares no globals', () => {
    for (const s of all) {
      expect(s.lua).toMatch(/return cjson\.encode\(/);
      expect(s.lua).not.toMatch(/^[A-Za-z_][A-Za-z0-9_]*\s*=[^=]/m);
    }
  });
});
