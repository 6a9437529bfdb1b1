import { EventEmitter } from 'node:events';
import type { KvScript, KvStore, SetOptions, SyncKv, Unsubscribe } from './kv-store';

const WRONGTYPE = 'WRONGTYPE Operation against a key holding the wrong kind of value';

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
  /** What scripts run against: the same map, synchronously (one turn of the loop = atomic). */
  private readonly view: SyncKv = this.syncView();

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
      return Promise.reject(new Error(WRONGTYPE));
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
      throw new Error(WRONGTYPE);
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

  run<R>(
    script: KvScript<R>,
    keys: readonly string[],
    args: readonly (string | number)[],
  ): Promise<R> {
    try {
      const result = script.run(this.view, keys, args.map(String));
      // Like cjson in Redis: callers get plain JSON values, never the script's own objects.
      return Promise.resolve(
        (result === undefined ? null : JSON.parse(JSON.stringify(result))) as R,
      );
    } catch (e) {
      return Promise.reject(e instanceof Error ? e : new Error(String(e)));
    }
  }

  private str(key: string): string | null {
    const e = this.live(key);
    if (!e) {
      return null;
    }
    if (typeof e.value !== 'string') {
      throw new Error(WRONGTYPE);
    }
    return e.value;
  }

  private syncView(): SyncKv {
    const expiry = (ttlMs?: number): number => (ttlMs && ttlMs > 0 ? Date.now() + ttlMs : 0);
    const integer = (v: string | null, what: string): number => {
      const n = v === null ? 0 : Number(v);
      if ((v !== null && !/^-?\d+$/.test(v)) || !Number.isSafeInteger(n)) {
        throw new Error(`ERR ${what} is not an integer or out of range`);
      }
      return n;
    };
    return {
      get: (key) => this.str(key),
      set: (key, value, ttlMs) => {
        this.data.set(key, { value, expiresAt: expiry(ttlMs) });
      },
      del: (key) => {
        this.data.delete(key);
      },
      incrBy: (key, by) => {
        const e = this.live(key);
        const next = integer(this.str(key), 'value') + by;
        if (e) {
          e.value = String(next);
        } else {
          this.data.set(key, { value: String(next), expiresAt: 0 });
        }
        return next;
      },
      pexpire: (key, ttlMs) => {
        const e = this.live(key);
        if (!e) {
          return;
        }
        if (ttlMs <= 0) {
          this.data.delete(key); // like Redis: a non-positive expiry deletes
        } else {
          e.expiresAt = Date.now() + ttlMs;
        }
      },
      pttl: (key) => {
        const e = this.live(key);
        if (!e) {
          return -2;
        }
        return e.expiresAt ? Math.max(0, e.expiresAt - Date.now()) : -1;
      },
      hget: (key, field) => this.hash(key, false)?.get(field) ?? null,
      hset: (key, field, value) => {
        this.hash(key, true)!.set(field, value);
      },
      hdel: (key, field) => {
        const m = this.hash(key, false);
        if (m && m.delete(field) && m.size === 0) {
          this.data.delete(key);
        }
      },
      hgetall: (key) => Object.fromEntries(this.hash(key, false) ?? []),
      hincrBy: (key, field, by) => {
        const m = this.hash(key, true)!;
        const next = integer(m.get(field) ?? null, 'hash value') + by;
        m.set(field, String(next));
        return next;
      },
    };
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

  scan(pattern: string, limit = 10_000): Promise<string[]> {
    const re = new RegExp(
      `^${pattern
        .replace(/[.+^${}()|[\]\\]/g, '\\$&')
        .replace(/\*/g, '.*')
        .replace(/\?/g, '.')}$`,
      's',
    );
    const out: string[] = [];
    for (const k of this.data.keys()) {
      if (re.test(k) && this.live(k)) {
        out.push(k);
        if (out.length >= limit) {
          break;
        }
      }
    }
    return Promise.resolve(out);
  }

  close(): Promise<void> {
    clearInterval(this.sweeper);
    this.bus.removeAllListeners();
    this.data.clear();
    return Promise.resolve();
  }
}
