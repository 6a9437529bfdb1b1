import type { KvStore } from '@/common/kv/kv-store';
import { MemoryKvStore } from '@/common/kv/memory-kv.store';
import type { RoutableConnection } from '@/providers/routing-table';
import { AccountSelector, retryAfterMs } from './account-selector';

const T0 = Date.parse('2026-01-01T00:00:00Z');
const BASE_MS = 3_000;
const AUTH_MS = 5 * 60_000;

function conn(id: string): RoutableConnection {
  return {
    id,
    provider: 'openai',
    name: id,
    priority: 1,
    updatedAt: 0,
    apiKey: `sk-${id}`,
    chatUrl: 'https://api.openai.test/v1/chat/completions',
    modelsUrl: 'https://api.openai.test/v1/models',
    auth: 'bearer',
    dialect: 'openai',
    apiType: 'chat',
    requestHeaders: { json: {}, stream: {} },
    responsesModels: new Set<string>(),
    responsesUrl: '',
    models: ['gpt-4o'],
  };
}

const A = conn('a');
const B = conn('b');
const C = conn('c');
const ALL = [A, B, C];
const NONE = new Set<string>();

/** Lets the store deliver pub/sub messages (memory: setImmediate) until `cond` holds. */
async function eventually(cond: () => boolean): Promise<void> {
  for (let i = 0; i < 50 && !cond(); i++) {
    await new Promise((r) => setImmediate(r));
  }
  expect(cond()).toBe(true);
}

/** Lets every pending setImmediate round run a few times. */
async function settle(): Promise<void> {
  for (let i = 0; i < 5; i++) {
    await new Promise((r) => setImmediate(r));
  }
}

describe(AccountSelector.name, () => {
  let now: number;
  let kv: MemoryKvStore;
  let selector: AccountSelector;
  const started: AccountSelector[] = [];

  async function start(store: KvStore = kv): Promise<AccountSelector> {
    const s = new AccountSelector(store);
    await s.onModuleInit();
    started.push(s);
    return s;
  }

  beforeEach(async () => {
    now = T0;
    jest.spyOn(Date, 'now').mockImplementation(() => now);
    kv = new MemoryKvStore();
    selector = await start();
  });

  afterEach(async () => {
    for (const s of started.splice(0)) {
      await s.onModuleDestroy();
    }
    await kv.close();
    jest.restoreAllMocks();
  });

  describe('pick', () => {
    it('reports no-connections when there are no candidates', () => {
      expect(selector.pick(undefined, NONE)).toEqual({ ok: false, reason: 'no-connections' });
      expect(selector.pick([], NONE)).toEqual({ ok: false, reason: 'no-connections' });
    });

    it('picks the first candidate in fill-first order', () => {
      expect(selector.pick(ALL, NONE)).toEqual({ ok: true, connection: A });
      expect(selector.pick([C, B, A], NONE)).toEqual({ ok: true, connection: C });
    });

    it('skips the candidates this request already tried', () => {
      expect(selector.pick(ALL, new Set(['a']))).toEqual({ ok: true, connection: B });
      expect(selector.pick(ALL, new Set(['a', 'b']))).toEqual({ ok: true, connection: C });
    });

    it('reports all-cooling without retryAfterMs when every candidate was tried', () => {
      expect(selector.pick(ALL, new Set(['a', 'b', 'c']))).toEqual({
        ok: false,
        reason: 'all-cooling',
        retryAfterMs: undefined,
      });
    });

    it('returns the pinned connection even when an earlier one is available', () => {
      expect(selector.pick(ALL, NONE, 'c')).toEqual({ ok: true, connection: C });
    });

    it('returns the pinned connection while it is cooling down', () => {
      selector.fail('c', 'rate-limit');
      expect(selector.pick(ALL, NONE, 'c')).toEqual({ ok: true, connection: C });
    });

    it('reports pinned-missing when the pinned id is not a candidate', () => {
      expect(selector.pick(ALL, NONE, 'zzz')).toEqual({ ok: false, reason: 'pinned-missing' });
    });

    it('reports pinned-missing once the pinned connection was tried', () => {
      expect(selector.pick(ALL, new Set(['b']), 'b')).toEqual({
        ok: false,
        reason: 'pinned-missing',
      });
    });
  });

  describe('cooldowns', () => {
    it('skips an account cooling down after a failure', () => {
      expect(selector.fail('a', 'server')).toBe(BASE_MS);
      expect(selector.pick(ALL, NONE)).toEqual({ ok: true, connection: B });
      expect(selector.remaining('a')).toBe(BASE_MS);
    });

    it('reports the earliest end of cooldown when every account is cooling', () => {
      selector.fail('a', 'rate-limit', 10_000);
      selector.fail('b', 'rate-limit', 4_000);
      selector.fail('c', 'auth');
      now += 1_000;
      expect(selector.pick(ALL, NONE)).toEqual({
        ok: false,
        reason: 'all-cooling',
        retryAfterMs: 3_000,
      });
    });

    it('ignores cooldowns of accounts this request already tried when computing retryAfterMs', () => {
      selector.fail('a', 'rate-limit', 2_000);
      selector.fail('b', 'rate-limit', 9_000);
      const pick = selector.pick([A, B], NONE);
      expect(pick).toEqual({ ok: false, reason: 'all-cooling', retryAfterMs: 2_000 });
      expect(selector.pick([A, B], new Set(['a']))).toEqual({
        ok: false,
        reason: 'all-cooling',
        retryAfterMs: 9_000,
      });
    });

    it('makes the account usable again exactly when the cooldown ends', () => {
      selector.fail('a', 'server');
      now += BASE_MS - 1;
      expect(selector.pick(ALL, NONE)).toEqual({ ok: true, connection: B });
      now += 1;
      expect(selector.pick(ALL, NONE)).toEqual({ ok: true, connection: A });
      expect(selector.remaining('a')).toBe(0);
    });

    it('honours the upstream Retry-After exactly', () => {
      expect(selector.fail('a', 'rate-limit', 7_250)).toBe(7_250);
      expect(selector.remaining('a')).toBe(7_250);
      now += 7_249;
      expect(selector.pick([A], NONE)).toEqual({
        ok: false,
        reason: 'all-cooling',
        retryAfterMs: 1,
      });
      now += 1;
      expect(selector.pick([A], NONE)).toEqual({ ok: true, connection: A });
    });

    it('caps an absurd Retry-After at 24 hours', () => {
      expect(selector.fail('a', 'rate-limit', 7 * 24 * 3600_000)).toBe(24 * 3600_000);
    });

    it('uses a fixed five-minute cooldown for an auth failure, even with Retry-After', () => {
      expect(selector.fail('a', 'auth')).toBe(AUTH_MS);
      now += AUTH_MS;
      expect(selector.fail('b', 'auth', 1_000)).toBe(AUTH_MS);
    });

    it('doubles the cooldown at each consecutive failure up to five steps', () => {
      const seen: number[] = [];
      for (let i = 0; i < 8; i++) {
        const ms = selector.fail('a', 'server');
        seen.push(ms);
        now += ms; // the cooldown runs out, then the account fails again
      }
      expect(seen).toEqual([3_000, 6_000, 12_000, 24_000, 48_000, 96_000, 96_000, 96_000]);
    });

    it('resets the backoff level after a Retry-After hint', () => {
      now += selector.fail('a', 'server'); // level 0
      now += selector.fail('a', 'server'); // level 1
      now += selector.fail('a', 'server'); // level 2
      expect(selector.fail('a', 'rate-limit', 1_000)).toBe(1_000);
      now += 1_000;
      // Without the reset this would be level 3 (24 s); after it the ladder starts again.
      expect(selector.fail('a', 'server')).toBeLessThanOrEqual(2 * BASE_MS);
    });

    it('clears the cooldown and the backoff level on success', () => {
      now += selector.fail('a', 'server');
      selector.fail('a', 'server'); // 6 s, running
      selector.succeed('a');
      expect(selector.remaining('a')).toBe(0);
      expect(selector.pick(ALL, NONE)).toEqual({ ok: true, connection: A });
      expect(selector.fail('a', 'server')).toBe(BASE_MS);
    });

    it('does not extend a running cooldown on concurrent failures', () => {
      expect(selector.fail('a', 'server')).toBe(BASE_MS);
      now += 1_000;
      expect(selector.fail('a', 'server')).toBe(2_000);
      expect(selector.fail('a', 'rate-limit', 60_000)).toBe(2_000);
      expect(selector.fail('a', 'auth')).toBe(2_000);
      expect(selector.remaining('a')).toBe(2_000);
      now += 2_000;
      // The concurrent failures did not raise the level either: the next step is 6 s.
      expect(selector.fail('a', 'server')).toBe(2 * BASE_MS);
    });

    it('keeps cooldowns per account', () => {
      selector.fail('a', 'server');
      expect(selector.remaining('b')).toBe(0);
      expect(selector.fail('b', 'server')).toBe(BASE_MS);
    });
  });

  describe('sharing through the key-value store', () => {
    it('teaches a second selector on the same store about a cooldown through pub/sub', async () => {
      const other = await start();
      expect(other.pick(ALL, NONE)).toEqual({ ok: true, connection: A });
      selector.fail('a', 'rate-limit', 30_000);
      await eventually(() => other.remaining('a') === 30_000);
      expect(other.pick(ALL, NONE)).toEqual({ ok: true, connection: B });
      // A failure seen by the other replica while the shared cooldown runs does not extend it.
      now += 10_000;
      expect(other.fail('a', 'server')).toBe(20_000);
    });

    it('teaches a second selector that a success cleared the cooldown', async () => {
      const other = await start();
      selector.fail('a', 'server');
      await eventually(() => other.remaining('a') > 0);
      selector.succeed('a');
      await eventually(() => other.remaining('a') === 0);
      expect(other.pick(ALL, NONE)).toEqual({ ok: true, connection: A });
    });

    it('loads running cooldowns from the store when a selector starts', async () => {
      selector.fail('a', 'rate-limit', 60_000);
      selector.fail('b', 'rate-limit', 1_000);
      await settle();
      now += 5_000; // b's cooldown is over
      const late = await start();
      expect(late.remaining('a')).toBe(55_000);
      expect(late.remaining('b')).toBe(0);
      expect(late.pick(ALL, NONE)).toEqual({ ok: true, connection: B });
    });

    it('removes a cleared cooldown from the store', async () => {
      selector.fail('a', 'server');
      await settle();
      expect(Object.keys(await kv.hgetall('cooldowns'))).toEqual(['a']);
      selector.succeed('a');
      await settle();
      expect(await kv.hgetall('cooldowns')).toEqual({});
    });

    it('stops listening after onModuleDestroy', async () => {
      const other = new AccountSelector(kv);
      await other.onModuleInit();
      await other.onModuleDestroy();
      const witness = await start();
      selector.fail('a', 'server');
      await eventually(() => witness.remaining('a') > 0);
      expect(other.remaining('a')).toBe(0);
    });

    it('ignores malformed broadcast messages', async () => {
      const other = await start();
      await kv.publish('cooldowns', 'not json');
      selector.fail('a', 'server');
      await eventually(() => other.remaining('a') === BASE_MS);
    });

    it('keeps its own cooldowns when the store is down', async () => {
      const down = new Error('connection refused');
      const hset = jest.fn().mockRejectedValue(down);
      const store: KvStore = {
        kind: 'redis',
        get: jest.fn().mockRejectedValue(down),
        set: jest.fn().mockRejectedValue(down),
        del: jest.fn().mockRejectedValue(down),
        incrBy: jest.fn().mockRejectedValue(down),
        expire: jest.fn().mockRejectedValue(down),
        pttl: jest.fn().mockRejectedValue(down),
        hset,
        hgetall: jest.fn().mockRejectedValue(down),
        hdel: jest.fn().mockRejectedValue(down),
        publish: jest.fn().mockRejectedValue(down),
        subscribe: jest.fn().mockRejectedValue(down),
        ping: jest.fn().mockRejectedValue(down),
        close: jest.fn().mockResolvedValue(undefined),
      };
      const isolated = await start(store);
      expect(isolated.fail('a', 'server')).toBe(BASE_MS);
      await settle();
      expect(hset).toHaveBeenCalledTimes(1);
      expect(isolated.pick(ALL, NONE)).toEqual({ ok: true, connection: B });
      isolated.succeed('a');
      await settle();
      expect(isolated.remaining('a')).toBe(0);
    });
  });
});

describe(retryAfterMs.name, () => {
  beforeEach(() => {
    jest.spyOn(Date, 'now').mockReturnValue(Date.parse('Wed, 21 Oct 2026 07:28:00 GMT'));
  });
  afterEach(() => jest.restoreAllMocks());

  it('reads Retry-After in seconds', () => {
    expect(retryAfterMs({ 'retry-after': '120' })).toBe(120_000);
  });

  it('reads fractional seconds', () => {
    expect(retryAfterMs({ 'retry-after': '1.5' })).toBe(1_500);
  });

  it('reads zero seconds as an immediate retry', () => {
    expect(retryAfterMs({ 'retry-after': '0' })).toBe(0);
  });

  it('reads an HTTP date relative to now', () => {
    expect(retryAfterMs({ 'retry-after': 'Wed, 21 Oct 2026 07:28:30 GMT' })).toBe(30_000);
  });

  it('clamps an HTTP date in the past to zero', () => {
    expect(retryAfterMs({ 'retry-after': 'Wed, 21 Oct 2026 07:00:00 GMT' })).toBe(0);
  });

  it('clamps negative seconds to zero', () => {
    expect(retryAfterMs({ 'retry-after': '-5' })).toBe(0);
  });

  it('takes the first value of a repeated header', () => {
    expect(retryAfterMs({ 'retry-after': ['2', '90'] })).toBe(2_000);
  });

  it('returns undefined without the header', () => {
    expect(retryAfterMs({})).toBeUndefined();
    expect(retryAfterMs({ 'retry-after': undefined })).toBeUndefined();
    expect(retryAfterMs({ 'retry-after': '' })).toBeUndefined();
  });

  it('returns undefined for a value that is neither seconds nor a date', () => {
    expect(retryAfterMs({ 'retry-after': 'soon' })).toBeUndefined();
  });
});
