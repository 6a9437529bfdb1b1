import type Redis from 'ioredis';
import type { KvScript } from '../../src/common/kv/kv-store';
import { RedisKvStore } from '../../src/common/kv/redis-kv.store';
import { BREAKER_FAILURE, PICK_LEAST_USED } from '../../src/resilience/kv-scripts';
import { describeKvScriptsContract } from '../../src/resilience/kv-scripts.contract';
import { deleteRedisPrefix, REDIS_URL, runId } from '../support/db';

const PREFIX = `omni-t-${runId()}-kvs-${process.pid}:`;

afterAll(async () => {
  await deleteRedisPrefix(PREFIX);
});

describeKvScriptsContract('RedisKvStore', () => new RedisKvStore(REDIS_URL, PREFIX));

describe('RedisKvStore scripts', () => {
  const stores: RedisKvStore[] = [];
  const open = (prefix: string): RedisKvStore => {
    const s = new RedisKvStore(REDIS_URL, prefix);
    stores.push(s);
    return s;
  };
  afterEach(async () => {
    await Promise.all(stores.splice(0).map((s) => s.close()));
  });

  it('prefixes the keys a script touches and nothing else', async () => {
    const shared = `${PREFIX}raw:`;
    const kv = open(shared);
    const raw = open('');
    const rec = await kv.run(BREAKER_FAILURE, ['b'], [1_700_000_000_000, 1]);
    expect(JSON.parse((await raw.get(`${shared}b`)) ?? 'null')).toEqual(rec);
    await expect(raw.get('b')).resolves.toBeNull();
    // Arguments are not keys: a field name is stored as given.
    await kv.run(PICK_LEAST_USED, ['h'], ['field']);
    await expect(raw.hgetall(`${shared}h`)).resolves.toEqual({ field: '1' });
  });

  it('falls back to EVAL for a script the server has not cached, then uses its SHA', async () => {
    const kv = open(`${PREFIX}noscript:`);
    // A body no server has seen: EVALSHA answers NOSCRIPT the first time.
    const fresh: KvScript<{ n: number }> = {
      name: 'fresh',
      lua: `-- ${runId()} ${process.pid} ${Date.now()}
return cjson.encode({ n = redis.call('INCR', KEYS[1]) })`,
      run: (s, keys) => ({ n: s.incrBy(keys[0], 1) }),
    };
    const client = (kv as unknown as { client: Redis }).client;
    const evalsha = jest.spyOn(client, 'evalsha');
    const evalFull = jest.spyOn(client, 'eval');
    await expect(kv.run(fresh, ['n'], [])).resolves.toEqual({ n: 1 });
    expect([evalsha.mock.calls.length, evalFull.mock.calls.length]).toEqual([1, 1]);
    await expect(kv.run(fresh, ['n'], [])).resolves.toEqual({ n: 2 });
    expect([evalsha.mock.calls.length, evalFull.mock.calls.length]).toEqual([2, 1]);
    await expect(open(`${PREFIX}noscript:`).run(fresh, ['n'], [])).resolves.toEqual({ n: 3 });
  });
});
