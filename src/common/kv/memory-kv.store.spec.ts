import { describeKvStoreContract } from './kv-store.contract';
import { MemoryKvStore } from './memory-kv.store';

describeKvStoreContract('MemoryKvStore', () => new MemoryKvStore());

describe(MemoryKvStore.name, () => {
  it('reports its kind as memory', async () => {
    const kv = new MemoryKvStore();
    expect(kv.kind).toBe('memory');
    await kv.close();
  });

  it('drops expired keys in its periodic sweep', async () => {
    const kv = new MemoryKvStore(20);
    try {
      await kv.set('a', '1', { ttlMs: 10 });
      await kv.set('b', '2');
      await new Promise((r) => setTimeout(r, 100));
      // Not read since: only the sweep can have removed it.
      const data = (kv as unknown as { data: Map<string, unknown> }).data;
      expect([...data.keys()]).toEqual(['b']);
    } finally {
      await kv.close();
    }
  });

  it('forgets everything and every subscriber on close', async () => {
    const kv = new MemoryKvStore();
    const got: string[] = [];
    await kv.subscribe('ch', (m) => got.push(m));
    await kv.set('a', '1');
    await kv.close();
    await kv.publish('ch', 'x');
    await new Promise((r) => setImmediate(r));
    expect(got).toEqual([]);
    await expect(kv.get('a')).resolves.toBeNull();
  });
});
