import { EventEmitter } from 'node:events';
import type { KvStore, SetOptions, Unsubscribe } from './kv-store';

interface Entry {
  value: string | Map<string, string>;
  expiresAt: number; // 0 = never
}

/** In-process adapter: one map, lazy expiry plus a periodic sweep. Single node only. */
export class MemoryKvStore implements KvStore {
  readonly kind = 'memory' as const;
  private readonly data = new Map<string, Entry>();
  private readonly bus = new EventEmitter();
  private readonly sweeper: NodeJS.Timeout;

  constructor(sweepEveryMs = 10_000) {
    this.bus.setMaxListeners(0);
    this.sweeper = setInterval(() => this.sweep(), sweepEveryMs);
    this.sweeper.unref();
  }

  private live(key: string): Entry | undefined {
    const e = this.data.get(key);
    if (!e) {
      return undefined;
    }
    if (e.expiresAt && e.expiresAt <= Date.now()) {
      this.data.delete(key);
      return undefined;
    }
    return e;
  }

  private sweep(): void {
    const now = Date.now();
    for (const [k, e] of this.data) {
      if (e.expiresAt && e.expiresAt <= now) {
        this.data.delete(k);
      }
    }
  }

  get(key: string): Promise<string | null> {
    const e = this.live(key);
    if (!e) {
      return Promise.resolve(null);
    }
    if (typeof e.value !== 'string') {
      return Promise.reject(
        new Error('WRONGTYPE Operation against a key holding the wrong kind of value'),
      );
    }
    return Promise.resolve(e.value);
  }

  set(key: string, value: string, opts: SetOptions = {}): Promise<boolean> {
    if (opts.nx && this.live(key)) {
      return Promise.resolve(false);
    }
    this.data.set(key, { value, expiresAt: opts.ttlMs ? Date.now() + opts.ttlMs : 0 });
    return Promise.resolve(true);
  }

  del(...keys: string[]): Promise<number> {
    let n = 0;
    for (const k of keys) {
      if (this.live(k)) {
        n++;
      }
      this.data.delete(k);
    }
    return Promise.resolve(n);
  }

  incrBy(key: string, by: number, ttlMs?: number): Promise<number> {
    const e = this.live(key);
    if (!e) {
      this.data.set(key, { value: String(by), expiresAt: ttlMs ? Date.now() + ttlMs : 0 });
      return Promise.resolve(by);
    }
    const cur = typeof e.value === 'string' ? Number(e.value) : NaN;
    if (!Number.isInteger(cur)) {
      return Promise.reject(new Error('ERR value is not an integer or out of range'));
    }
    e.value = String(cur + by);
    return Promise.resolve(cur + by);
  }

  expire(key: string, ttlMs: number): Promise<boolean> {
    const e = this.live(key);
    if (!e) {
      return Promise.resolve(false);
    }
    e.expiresAt = Date.now() + ttlMs;
    return Promise.resolve(true);
  }

  pttl(key: string): Promise<number> {
    const e = this.live(key);
    if (!e) {
      return Promise.resolve(-2);
    }
    return Promise.resolve(e.expiresAt ? Math.max(0, e.expiresAt - Date.now()) : -1);
  }

  private hash(key: string, create: boolean): Map<string, string> | undefined {
    const e = this.live(key);
    if (!e) {
      if (!create) {
        return undefined;
      }
      const m = new Map<string, string>();
      this.data.set(key, { value: m, expiresAt: 0 });
      return m;
    }
    if (typeof e.value === 'string') {
      throw new Error('WRONGTYPE Operation against a key holding the wrong kind of value');
    }
    return e.value;
  }

  hset(key: string, fields: Record<string, string>): Promise<void> {
    const entries = Object.entries(fields);
    if (!entries.length) {
      return Promise.resolve(); // like the Redis adapter: an empty hash is no key at all
    }
    try {
      const m = this.hash(key, true)!;
      for (const [f, v] of entries) {
        m.set(f, v);
      }
      return Promise.resolve();
    } catch (e) {
      return Promise.reject(e instanceof Error ? e : new Error(String(e)));
    }
  }

  hgetall(key: string): Promise<Record<string, string>> {
    try {
      return Promise.resolve(Object.fromEntries(this.hash(key, false) ?? []));
    } catch (e) {
      return Promise.reject(e instanceof Error ? e : new Error(String(e)));
    }
  }

  hdel(key: string, ...fields: string[]): Promise<number> {
    try {
      const m = this.hash(key, false);
      if (!m) {
        return Promise.resolve(0);
      }
      let n = 0;
      for (const f of fields) {
        if (m.delete(f)) {
          n++;
        }
      }
      if (m.size === 0) {
        this.data.delete(key);
      }
      return Promise.resolve(n);
    } catch (e) {
      return Promise.reject(e instanceof Error ? e : new Error(String(e)));
    }
  }

  publish(channel: string, message: string): Promise<void> {
    // Delivered asynchronously, like Redis.
    setImmediate(() => this.bus.emit(channel, message));
    return Promise.resolve();
  }

  subscribe(channel: string, handler: (message: string) => void): Promise<Unsubscribe> {
    this.bus.on(channel, handler);
    return Promise.resolve(() => {
      this.bus.off(channel, handler);
      return Promise.resolve();
    });
  }

  ping(): Promise<void> {
    return Promise.resolve();
  }

  close(): Promise<void> {
    clearInterval(this.sweeper);
    this.bus.removeAllListeners();
    this.data.clear();
    return Promise.resolve();
  }
}
