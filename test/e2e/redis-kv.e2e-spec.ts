import { describeKvStoreContract } from '../../src/common/kv/kv-store.contract';
import { RedisKvStore } from '../../src/common/kv/redis-kv.store';
import { deleteRedisPrefix, REDIS_URL, runId } from '../support/db';

const PREFIX = `omni-t-${runId()}-kv-${process.pid}:`;

afterAll(async () => {
  await deleteRedisPrefix(PREFIX);
});

describeKvStoreContract('RedisKvStore', () => new RedisKvStore(REDIS_URL, PREFIX));

describe(RedisKvStore.name, () => {
  const stores: RedisKvStore[] = [];
  const open = (prefix: string): RedisKvStore => {
    const s = new RedisKvStore(REDIS_URL, prefix);
    stores.push(s);
    return s;
  };
  afterEach(async () => {
    await Promise.all(stores.splice(0).map((s) => s.close()));
  });

  async function waitFor(cond: () => boolean, what: string): Promise<void> {
    const deadline = Date.now() + 3_000;
    while (!cond()) {
      if (Date.now() > deadline) {
        throw new Error(`timed out waiting for ${what}`);
      }
      await new Promise((r) => setTimeout(r, 5));
    }
  }

  it('reports its kind as redis', () => {
    expect(open(PREFIX).kind).toBe('redis');
  });

  it('shares keys and messages between two stores with the same prefix and isolates another prefix', async () => {
    const shared = `${PREFIX}shared:`;
    const a = open(shared);
    const b = open(shared);
    const c = open(`${PREFIX}other:`);

    await a.set('k', 'from-a');
    await a.hset('h', { f: '1' });
    await a.incrBy('n', 2, 60_000);
    await expect(b.get('k')).resolves.toBe('from-a');
    await expect(b.hgetall('h')).resolves.toEqual({ f: '1' });
    await expect(b.incrBy('n', 3)).resolves.toBe(5);
    await expect(c.get('k')).resolves.toBeNull();
    await expect(c.hgetall('h')).resolves.toEqual({});
    await expect(c.pttl('n')).resolves.toBe(-2);

    // The prefix really is applied on the server, scripts (incrBy with a TTL) included.
    await c.set('k', 'from-c');
    await expect(a.get('k')).resolves.toBe('from-a');
    const raw = open('');
    await expect(raw.get(`${shared}k`)).resolves.toBe('from-a');
    await expect(raw.get(`${shared}n`)).resolves.toBe('5');
    await expect(raw.get(`${PREFIX}other:k`)).resolves.toBe('from-c');

    const atB: string[] = [];
    const atC: string[] = [];
    await b.subscribe('events', (m) => atB.push(m));
    await c.subscribe('events', (m) => atC.push(m));
    await a.publish('events', 'hello');
    await c.publish('events', 'for-c-only');
    await waitFor(() => atB.length === 1 && atC.length === 1, 'both deliveries');
    expect(atB).toEqual(['hello']);
    expect(atC).toEqual(['for-c-only']);
  });
});
