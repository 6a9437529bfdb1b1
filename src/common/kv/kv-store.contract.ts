import type { KvScript, KvStore } from './kv-store';

/**
 * keys [counter, hash]  args [by, field, ttlMs]: adds `by` to a counter (expiring it), tallies
 * `field` in a hash, and reads everything back, with the types the arguments arrived as.
 */
const TALLY: KvScript<{
  count: number;
  hits: number;
  field: string | null;
  missing: string | null;
  all: Record<string, string>;
  ttlSet: boolean;
  args: string[];
  types: string[];
}> = {
  name: 'contract-tally',
  lua: `
local count = redis.call('INCRBY', KEYS[1], ARGV[1])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
local ttl = redis.call('PTTL', KEYS[1])
local hits = redis.call('HINCRBY', KEYS[2], ARGV[2], 1)
local flat = redis.call('HGETALL', KEYS[2])
local all = {}
for i = 1, #flat, 2 do
  all[flat[i]] = flat[i + 1]
end
local types = {}
for i = 1, #ARGV do
  types[i] = type(ARGV[i])
end
return cjson.encode({
  count = count,
  hits = hits,
  field = redis.call('HGET', KEYS[2], ARGV[2]) or cjson.null,
  missing = redis.call('HGET', KEYS[2], 'never') or cjson.null,
  all = all,
  ttlSet = ttl > 0 and ttl <= tonumber(ARGV[3]),
  args = ARGV,
  types = types,
})
`,
  run(kv, keys, args) {
    const count = kv.incrBy(keys[0], Number(args[0]));
    kv.pexpire(keys[0], Number(args[2]));
    const ttl = kv.pttl(keys[0]);
    const hits = kv.hincrBy(keys[1], args[1], 1);
    return {
      count,
      hits,
      field: kv.hget(keys[1], args[1]),
      missing: kv.hget(keys[1], 'never'),
      all: kv.hgetall(keys[1]),
      ttlSet: ttl > 0 && ttl <= Number(args[2]),
      args: [...args],
      types: args.map((a) => typeof a),
    };
  },
};

/** keys [a, b]  args [value, ttlMs]: string writes, reads, expiries and deletes in one go. */
const STRINGS: KvScript<{
  got: string | null;
  ttlSet: boolean;
  missing: string | null;
  missingTtl: number;
  plainTtl: number;
  gone: string | null;
  goneTtl: number;
}> = {
  name: 'contract-strings',
  lua: `
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
local got = redis.call('GET', KEYS[1])
local ttl = redis.call('PTTL', KEYS[1])
local missing = redis.call('GET', KEYS[2])
local missingTtl = redis.call('PTTL', KEYS[2])
redis.call('SET', KEYS[2], 'plain')
local plainTtl = redis.call('PTTL', KEYS[2])
redis.call('DEL', KEYS[1])
return cjson.encode({
  got = got,
  ttlSet = ttl > 0 and ttl <= tonumber(ARGV[2]),
  missing = missing or cjson.null,
  missingTtl = missingTtl,
  plainTtl = plainTtl,
  gone = redis.call('GET', KEYS[1]) or cjson.null,
  goneTtl = redis.call('PTTL', KEYS[1]),
})
`,
  run(kv, keys, args) {
    kv.set(keys[0], args[0], Number(args[1]));
    const got = kv.get(keys[0]);
    const ttl = kv.pttl(keys[0]);
    const missing = kv.get(keys[1]);
    const missingTtl = kv.pttl(keys[1]);
    kv.set(keys[1], 'plain');
    const plainTtl = kv.pttl(keys[1]);
    kv.del(keys[0]);
    return {
      got,
      ttlSet: ttl > 0 && ttl <= Number(args[1]),
      missing,
      missingTtl,
      plainTtl,
      gone: kv.get(keys[0]),
      goneTtl: kv.pttl(keys[0]),
    };
  },
};

/** keys [hash]  args [field]: hash field deletes; removing the last field removes the key. */
const HASH_DELETES: KvScript<{ after: Record<string, string>; emptyTtl: number }> = {
  name: 'contract-hash-deletes',
  lua: `
redis.call('HSET', KEYS[1], ARGV[1], 'v')
redis.call('HSET', KEYS[1], 'other', 'w')
redis.call('HDEL', KEYS[1], ARGV[1])
redis.call('HDEL', KEYS[1], 'never')
local flat = redis.call('HGETALL', KEYS[1])
local after = {}
for i = 1, #flat, 2 do
  after[flat[i]] = flat[i + 1]
end
redis.call('HDEL', KEYS[1], 'other')
return cjson.encode({ after = after, emptyTtl = redis.call('PTTL', KEYS[1]) })
`,
  run(kv, keys, args) {
    kv.hset(keys[0], args[0], 'v');
    kv.hset(keys[0], 'other', 'w');
    kv.hdel(keys[0], args[0]);
    kv.hdel(keys[0], 'never');
    const after = kv.hgetall(keys[0]);
    kv.hdel(keys[0], 'other');
    return { after, emptyTtl: kv.pttl(keys[0]) };
  },
};

/** keys [key]: the string value (null when missing); rejects on a hash like GET. */
const READ: KvScript<{ value: string | null }> = {
  name: 'contract-read',
  lua: `return cjson.encode({ value = redis.call('GET', KEYS[1]) or cjson.null })`,
  run: (kv, keys) => ({ value: kv.get(keys[0]) }),
};

/** Fails on purpose. */
const FAIL: KvScript<never> = {
  name: 'contract-fail',
  lua: `return redis.error_reply('ERR contract script failed')`,
  run: () => {
    throw new Error('ERR contract script failed');
  },
};

/**
 * The behaviour every `KvStore` adapter must share (the memory store and Redis), run by each
 * adapter's own spec: `describeKvStoreContract('MemoryKvStore', () => new MemoryKvStore())`.
 * Each test gets a fresh store and its own key namespace; the factory's caller cleans up anything
 * persistent (Redis: delete the run's key prefix in afterAll).
 */
export function describeKvStoreContract(
  name: string,
  factory: () => KvStore | Promise<KvStore>,
): void {
  const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

  /** Polls until `cond` holds (deliveries are asynchronous); fails after a generous bound. */
  async function waitFor(cond: () => boolean, what: string, timeoutMs = 3_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!cond()) {
      if (Date.now() > deadline) {
        throw new Error(`timed out waiting for ${what}`);
      }
      await sleep(5);
    }
  }

  describe(`KvStore contract: ${name}`, () => {
    let kv: KvStore;
    let seq = 0;
    /** A key (or channel) unique to the running test. */
    let k: (s: string) => string;

    beforeEach(async () => {
      kv = await factory();
      const t = `${Date.now().toString(36)}-${++seq}`;
      k = (s) => `contract:${t}:${s}`;
    });

    afterEach(async () => {
      await kv.close();
    });

    describe('scan', () => {
      it('lists the keys matching a glob, without the store prefix, and skips expired ones', async () => {
        await kv.set('scan:a:1', 'x');
        await kv.set('scan:a:2', 'x');
        await kv.set('scan:b:1', 'x');
        await kv.hset('scan:a:h', { f: 'v' });
        await kv.set('scan:a:gone', 'x', { ttlMs: 1 });
        await new Promise((r) => setTimeout(r, 20));
        expect((await kv.scan('scan:a:*')).sort()).toEqual(['scan:a:1', 'scan:a:2', 'scan:a:h']);
        expect(await kv.scan('scan:?:1')).toHaveLength(2);
        expect(await kv.scan('scan:none:*')).toEqual([]);
        expect(await kv.scan('scan:*', 2)).toHaveLength(2);
      });

      it('treats regex characters in the pattern literally', async () => {
        await kv.set('scan.x(1)', 'x');
        await kv.set('scanAx(1)', 'x');
        expect(await kv.scan('scan.x(1)')).toEqual(['scan.x(1)']);
      });
    });

    describe('strings', () => {
      it('returns null for a missing key', async () => {
        await expect(kv.get(k('missing'))).resolves.toBeNull();
      });

      it('returns what was set, byte for byte', async () => {
        const value = 'ünïcödé 🔑 {"a":1}\n\ttab';
        await expect(kv.set(k('a'), value)).resolves.toBe(true);
        await expect(kv.get(k('a'))).resolves.toBe(value);
      });

      it('keeps an empty string as a value', async () => {
        await kv.set(k('empty'), '');
        await expect(kv.get(k('empty'))).resolves.toBe('');
        await expect(kv.pttl(k('empty'))).resolves.toBe(-1);
      });

      it('overwrites an existing value', async () => {
        await kv.set(k('a'), '1');
        await kv.set(k('a'), '2');
        await expect(kv.get(k('a'))).resolves.toBe('2');
      });

      it('sets with nx only when the key is missing', async () => {
        await expect(kv.set(k('a'), 'first', { nx: true })).resolves.toBe(true);
        await expect(kv.set(k('a'), 'second', { nx: true })).resolves.toBe(false);
        await expect(kv.get(k('a'))).resolves.toBe('first');
      });

      it('lets exactly one of many concurrent nx sets win', async () => {
        const results = await Promise.all(
          Array.from({ length: 50 }, (_v, i) => kv.set(k('lock'), `owner-${i}`, { nx: true })),
        );
        expect(results.filter(Boolean)).toHaveLength(1);
        const winner = results.indexOf(true);
        await expect(kv.get(k('lock'))).resolves.toBe(`owner-${winner}`);
      });

      it('deletes keys and counts only the ones that existed', async () => {
        await kv.set(k('a'), '1');
        await kv.set(k('b'), '2');
        await expect(kv.del(k('a'), k('b'), k('never'))).resolves.toBe(2);
        await expect(kv.get(k('a'))).resolves.toBeNull();
        await expect(kv.get(k('b'))).resolves.toBeNull();
        await expect(kv.del(k('a'))).resolves.toBe(0);
      });

      it('deletes nothing when given no keys', async () => {
        await expect(kv.del()).resolves.toBe(0);
      });

      it('deletes a hash like any key', async () => {
        await kv.hset(k('h'), { f: 'v' });
        await expect(kv.del(k('h'))).resolves.toBe(1);
        await expect(kv.hgetall(k('h'))).resolves.toEqual({});
      });
    });

    describe('expiry', () => {
      it('expires a key set with ttlMs', async () => {
        await kv.set(k('a'), 'v', { ttlMs: 50 });
        await expect(kv.get(k('a'))).resolves.toBe('v');
        const ttl = await kv.pttl(k('a'));
        expect(ttl).toBeGreaterThan(0);
        expect(ttl).toBeLessThanOrEqual(50);
        await sleep(150);
        await expect(kv.get(k('a'))).resolves.toBeNull();
        await expect(kv.pttl(k('a'))).resolves.toBe(-2);
      });

      it('lets nx succeed again once the key expired', async () => {
        await expect(kv.set(k('a'), 'first', { nx: true, ttlMs: 50 })).resolves.toBe(true);
        await expect(kv.set(k('a'), 'second', { nx: true, ttlMs: 50 })).resolves.toBe(false);
        await sleep(150);
        await expect(kv.set(k('a'), 'third', { nx: true })).resolves.toBe(true);
        await expect(kv.get(k('a'))).resolves.toBe('third');
      });

      it('removes the expiry when a key is set again without ttlMs', async () => {
        await kv.set(k('a'), '1', { ttlMs: 60_000 });
        await kv.set(k('a'), '2');
        await expect(kv.pttl(k('a'))).resolves.toBe(-1);
      });

      it('reports -2 for a missing key and -1 for a key without expiry', async () => {
        await expect(kv.pttl(k('missing'))).resolves.toBe(-2);
        await kv.set(k('a'), 'v');
        await expect(kv.pttl(k('a'))).resolves.toBe(-1);
      });

      it('sets an expiry on an existing key', async () => {
        await kv.set(k('a'), 'v');
        await expect(kv.expire(k('a'), 60_000)).resolves.toBe(true);
        const ttl = await kv.pttl(k('a'));
        expect(ttl).toBeGreaterThan(50_000);
        expect(ttl).toBeLessThanOrEqual(60_000);
      });

      it('expires a key after expire()', async () => {
        await kv.set(k('a'), 'v');
        await kv.expire(k('a'), 50);
        await sleep(150);
        await expect(kv.get(k('a'))).resolves.toBeNull();
      });

      it('returns false from expire() on a missing key and creates nothing', async () => {
        await expect(kv.expire(k('missing'), 60_000)).resolves.toBe(false);
        await expect(kv.pttl(k('missing'))).resolves.toBe(-2);
      });

      it('expires a hash', async () => {
        await kv.hset(k('h'), { f: 'v' });
        await expect(kv.expire(k('h'), 50)).resolves.toBe(true);
        await sleep(150);
        await expect(kv.hgetall(k('h'))).resolves.toEqual({});
      });
    });

    describe('counters', () => {
      it('creates a counter at the increment and adds to it', async () => {
        await expect(kv.incrBy(k('c'), 5)).resolves.toBe(5);
        await expect(kv.incrBy(k('c'), 3)).resolves.toBe(8);
        await expect(kv.incrBy(k('c'), -10)).resolves.toBe(-2);
        await expect(kv.get(k('c'))).resolves.toBe('-2');
      });

      it('adds to a number stored with set', async () => {
        await kv.set(k('c'), '41');
        await expect(kv.incrBy(k('c'), 1)).resolves.toBe(42);
      });

      it('leaves a counter created without ttlMs without expiry', async () => {
        await kv.incrBy(k('c'), 1);
        await expect(kv.pttl(k('c'))).resolves.toBe(-1);
      });

      it('sets the expiry when the counter is created', async () => {
        await kv.incrBy(k('c'), 1, 60_000);
        const ttl = await kv.pttl(k('c'));
        expect(ttl).toBeGreaterThan(50_000);
        expect(ttl).toBeLessThanOrEqual(60_000);
      });

      it('does not touch the expiry of an existing counter', async () => {
        await kv.incrBy(k('c'), 1, 60_000);
        await kv.incrBy(k('c'), 1, 600_000);
        await kv.incrBy(k('c'), 1);
        expect(await kv.pttl(k('c'))).toBeLessThanOrEqual(60_000);
      });

      it('does not add an expiry to an existing key without one', async () => {
        await kv.set(k('c'), '0');
        await expect(kv.incrBy(k('c'), 5, 60_000)).resolves.toBe(5);
        await expect(kv.pttl(k('c'))).resolves.toBe(-1);
      });

      it('starts a new window once a counter expired', async () => {
        await kv.incrBy(k('c'), 7, 50);
        await sleep(150);
        await expect(kv.incrBy(k('c'), 1, 60_000)).resolves.toBe(1);
        expect(await kv.pttl(k('c'))).toBeGreaterThan(50_000);
      });

      it('is atomic under 100 concurrent increments', async () => {
        const results = await Promise.all(
          Array.from({ length: 100 }, () => kv.incrBy(k('c'), 1, 60_000)),
        );
        expect([...results].sort((a, b) => a - b)).toEqual(
          Array.from({ length: 100 }, (_v, i) => i + 1),
        );
        await expect(kv.get(k('c'))).resolves.toBe('100');
        expect(await kv.pttl(k('c'))).toBeGreaterThan(0);
      });

      it('is atomic under concurrent increments of different sizes', async () => {
        const bys = Array.from({ length: 100 }, (_v, i) => (i % 7) - 3);
        await Promise.all(bys.map((by) => kv.incrBy(k('c'), by)));
        const total = bys.reduce((a, b) => a + b, 0);
        await expect(kv.get(k('c'))).resolves.toBe(String(total));
      });

      it('rejects incrementing a value that is not an integer', async () => {
        await kv.set(k('s'), 'abc');
        await expect(kv.incrBy(k('s'), 1)).rejects.toThrow();
        await kv.set(k('f'), '1.5');
        await expect(kv.incrBy(k('f'), 1)).rejects.toThrow();
        await expect(kv.get(k('s'))).resolves.toBe('abc');
      });
    });

    describe('hashes', () => {
      it('stores fields and reads them all back', async () => {
        await kv.hset(k('h'), { a: '1', b: 'ü' });
        await expect(kv.hgetall(k('h'))).resolves.toEqual({ a: '1', b: 'ü' });
      });

      it('merges fields into an existing hash', async () => {
        await kv.hset(k('h'), { a: '1', b: '2' });
        await kv.hset(k('h'), { b: '3', c: '4' });
        await expect(kv.hgetall(k('h'))).resolves.toEqual({ a: '1', b: '3', c: '4' });
      });

      it('returns an empty object for a missing hash', async () => {
        await expect(kv.hgetall(k('missing'))).resolves.toEqual({});
      });

      it('creates nothing when hset is given no fields', async () => {
        await kv.hset(k('h'), {});
        await expect(kv.pttl(k('h'))).resolves.toBe(-2);
        await expect(kv.hgetall(k('h'))).resolves.toEqual({});
      });

      it('deletes fields and counts only the ones that existed', async () => {
        await kv.hset(k('h'), { a: '1', b: '2', c: '3' });
        await expect(kv.hdel(k('h'), 'a', 'b', 'zz')).resolves.toBe(2);
        await expect(kv.hgetall(k('h'))).resolves.toEqual({ c: '3' });
      });

      it('deletes the key when its last field is removed', async () => {
        await kv.hset(k('h'), { a: '1' });
        await expect(kv.hdel(k('h'), 'a')).resolves.toBe(1);
        await expect(kv.pttl(k('h'))).resolves.toBe(-2);
        await expect(kv.del(k('h'))).resolves.toBe(0);
      });

      it('returns 0 from hdel on a missing hash or without fields', async () => {
        await expect(kv.hdel(k('missing'), 'a')).resolves.toBe(0);
        await kv.hset(k('h'), { a: '1' });
        await expect(kv.hdel(k('h'))).resolves.toBe(0);
        await expect(kv.hgetall(k('h'))).resolves.toEqual({ a: '1' });
      });
    });

    describe('wrong types', () => {
      it('rejects get on a hash', async () => {
        await kv.hset(k('h'), { a: '1' });
        await expect(kv.get(k('h'))).rejects.toThrow(/WRONGTYPE/);
      });

      it('rejects hash commands on a string', async () => {
        await kv.set(k('s'), 'v');
        await expect(kv.hset(k('s'), { a: '1' })).rejects.toThrow(/WRONGTYPE/);
        await expect(kv.hgetall(k('s'))).rejects.toThrow(/WRONGTYPE/);
        await expect(kv.hdel(k('s'), 'a')).rejects.toThrow(/WRONGTYPE/);
        await expect(kv.get(k('s'))).resolves.toBe('v');
      });

      it('rejects incrBy on a hash', async () => {
        await kv.hset(k('h'), { a: '1' });
        await expect(kv.incrBy(k('h'), 1)).rejects.toThrow();
        await expect(kv.hgetall(k('h'))).resolves.toEqual({ a: '1' });
      });

      it('lets set replace a hash with a string', async () => {
        await kv.hset(k('h'), { a: '1' });
        await kv.set(k('h'), 'now a string');
        await expect(kv.get(k('h'))).resolves.toBe('now a string');
      });
    });

    describe('pub/sub', () => {
      it('delivers a message to every subscriber of the channel', async () => {
        const a: string[] = [];
        const b: string[] = [];
        const other: string[] = [];
        await kv.subscribe(k('ch'), (m) => a.push(m));
        await kv.subscribe(k('ch'), (m) => b.push(m));
        await kv.subscribe(k('other'), (m) => other.push(m));
        await kv.publish(k('ch'), 'hello ✓');
        await waitFor(() => a.length === 1 && b.length === 1, 'both subscribers');
        expect(a).toEqual(['hello ✓']);
        expect(b).toEqual(['hello ✓']);
        expect(other).toEqual([]);
      });

      it('delivers messages in the order they were published', async () => {
        const got: string[] = [];
        await kv.subscribe(k('ch'), (m) => got.push(m));
        const sent = Array.from({ length: 20 }, (_v, i) => `m${i}`);
        for (const m of sent) {
          await kv.publish(k('ch'), m);
        }
        await waitFor(() => got.length === sent.length, 'all messages');
        expect(got).toEqual(sent);
      });

      it('stops delivering to a handler after it unsubscribed', async () => {
        const gone: string[] = [];
        const stays: string[] = [];
        const unsubscribe = await kv.subscribe(k('ch'), (m) => gone.push(m));
        await kv.subscribe(k('ch'), (m) => stays.push(m));
        await kv.publish(k('ch'), 'one');
        await waitFor(() => gone.length === 1 && stays.length === 1, 'the first message');
        await unsubscribe();
        await kv.publish(k('ch'), 'two');
        await waitFor(() => stays.length === 2, 'the second message');
        expect(gone).toEqual(['one']);
      });

      it('stops delivering once the last handler of a channel unsubscribed', async () => {
        const gone: string[] = [];
        const witness: string[] = [];
        const unsubscribe = await kv.subscribe(k('ch'), (m) => gone.push(m));
        await kv.subscribe(k('witness'), (m) => witness.push(m));
        await unsubscribe();
        await kv.publish(k('ch'), 'lost');
        await kv.publish(k('witness'), 'after');
        await waitFor(() => witness.length === 1, 'the witness message');
        expect(gone).toEqual([]);
      });

      it('can subscribe again after unsubscribing', async () => {
        const got: string[] = [];
        const first = await kv.subscribe(k('ch'), (m) => got.push(`1:${m}`));
        await first();
        await kv.subscribe(k('ch'), (m) => got.push(`2:${m}`));
        await kv.publish(k('ch'), 'x');
        await waitFor(() => got.length === 1, 'the message');
        expect(got).toEqual(['2:x']);
      });

      it('accepts a publish with no subscriber', async () => {
        await expect(kv.publish(k('nobody'), 'x')).resolves.toBeUndefined();
      });
    });

    describe('scripts', () => {
      it('runs a script over counters and hashes and passes every argument as a string', async () => {
        const first = await kv.run(TALLY, [k('n'), k('h')], [5, 'f', 60_000]);
        expect(first).toEqual({
          count: 5,
          hits: 1,
          field: '1',
          missing: null,
          all: { f: '1' },
          ttlSet: true,
          args: ['5', 'f', '60000'],
          types: ['string', 'string', 'string'],
        });
        const second = await kv.run(TALLY, [k('n'), k('h')], ['-2', 'g', '60000']);
        expect(second).toMatchObject({ count: 3, hits: 1, all: { f: '1', g: '1' } });
      });

      it('works on the same keys as the plain commands', async () => {
        await kv.set(k('n'), '10');
        await kv.hset(k('h'), { f: '4', other: 'x' });
        await expect(kv.run(TALLY, [k('n'), k('h')], [1, 'f', 60_000])).resolves.toMatchObject({
          count: 11,
          hits: 5,
          all: { f: '5', other: 'x' },
        });
        await expect(kv.get(k('n'))).resolves.toBe('11');
        await expect(kv.hgetall(k('h'))).resolves.toEqual({ f: '5', other: 'x' });
        const ttl = await kv.pttl(k('n'));
        expect(ttl).toBeGreaterThan(50_000);
        expect(ttl).toBeLessThanOrEqual(60_000);
      });

      it('sets, reads, expires and deletes strings', async () => {
        await expect(kv.run(STRINGS, [k('a'), k('b')], ['ü ✓', 60_000])).resolves.toEqual({
          got: 'ü ✓',
          ttlSet: true,
          missing: null,
          missingTtl: -2,
          plainTtl: -1,
          gone: null,
          goneTtl: -2,
        });
        await expect(kv.get(k('a'))).resolves.toBeNull();
        await expect(kv.get(k('b'))).resolves.toBe('plain');
      });

      it('deletes hash fields and the hash with its last field', async () => {
        await expect(kv.run(HASH_DELETES, [k('h')], ['f'])).resolves.toEqual({
          after: { other: 'w' },
          emptyTtl: -2,
        });
        await expect(kv.hgetall(k('h'))).resolves.toEqual({});
      });

      it('sees what was written outside it and no expired key', async () => {
        await expect(kv.run(READ, [k('a')], [])).resolves.toEqual({ value: null });
        await kv.set(k('a'), 'outside');
        await expect(kv.run(READ, [k('a')], [])).resolves.toEqual({ value: 'outside' });
        await kv.set(k('a'), 'short', { ttlMs: 50 });
        await sleep(150);
        await expect(kv.run(READ, [k('a')], [])).resolves.toEqual({ value: null });
      });

      it('rejects when the script reads a key of the wrong type', async () => {
        await kv.hset(k('h'), { f: '1' });
        await expect(kv.run(READ, [k('h')], [])).rejects.toThrow(/WRONGTYPE/);
        await kv.set(k('s'), 'v');
        await expect(kv.run(TALLY, [k('n'), k('s')], [1, 'f', 60_000])).rejects.toThrow(
          /WRONGTYPE/,
        );
      });

      it('rejects incrementing a value that is not an integer', async () => {
        await kv.set(k('n'), 'abc');
        await expect(kv.run(TALLY, [k('n'), k('h')], [1, 'f', 60_000])).rejects.toThrow();
        await expect(kv.get(k('n'))).resolves.toBe('abc');
      });

      it('rejects with the error the script raised', async () => {
        await expect(kv.run(FAIL, [], [])).rejects.toThrow(/contract script failed/);
      });

      it('runs each script atomically under 50 concurrent calls', async () => {
        const results = await Promise.all(
          Array.from({ length: 50 }, (_v, i) =>
            kv.run(TALLY, [k('n'), k('h')], [1, `f${i % 5}`, 60_000]),
          ),
        );
        expect(results.map((r) => r.count).sort((a, b) => a - b)).toEqual(
          Array.from({ length: 50 }, (_v, i) => i + 1),
        );
        const last = results.find((r) => r.count === 50);
        expect(last?.all).toEqual({ f0: '10', f1: '10', f2: '10', f3: '10', f4: '10' });
      });
    });

    it('answers ping', async () => {
      await expect(kv.ping()).resolves.toBeUndefined();
    });

    it('names its kind', () => {
      expect(['memory', 'redis']).toContain(kv.kind);
    });
  });
}
