/**
 * The key-value port behind every piece of shared state (key-cache invalidation, cooldowns, rate
 * limits, breakers, idempotency, cache, sessions). Two adapters implement it with the same
 * semantics: Redis (`REDIS_URL` set; several replicas share it) and an in-process map (the
 * single-node embedded default). Both are covered by one test suite (`kv-store.contract.ts`).
 */
export interface SetOptions {
  /** Expire after this many milliseconds. */
  ttlMs?: number;
  /** Only set when the key does not exist (Redis `SET NX`). */
  nx?: boolean;
}

export type Unsubscribe = () => Promise<void>;

/**
 * The synchronous view of the in-process store that a script's JavaScript body runs against (it
 * runs in one turn of the event loop, so it is atomic like a Lua script in Redis). Missing keys
 * read as null / empty; `ttlMs` 0 or absent means no expiry.
 */
export interface SyncKv {
  get(key: string): string | null;
  set(key: string, value: string, ttlMs?: number): void;
  del(key: string): void;
  incrBy(key: string, by: number): number;
  pexpire(key: string, ttlMs: number): void;
  pttl(key: string): number;
  hget(key: string, field: string): string | null;
  hset(key: string, field: string, value: string): void;
  hdel(key: string, field: string): void;
  hgetall(key: string): Record<string, string>;
  hincrBy(key: string, field: string, by: number): number;
}

/**
 * An atomic read-modify-write on several keys, written twice with the same semantics: as Lua for
 * Redis (EVALSHA; the Lua must `return cjson.encode(result)`) and as JavaScript for the in-process
 * store. Every key the script touches is passed in `keys` (the Redis adapter prefixes only those).
 * Arguments arrive as strings in both. The result is JSON-shaped in both adapters (the memory
 * adapter round-trips it through JSON), so callers see the same value from either.
 */
export interface KvScript<R> {
  readonly name: string;
  readonly lua: string;
  run(kv: SyncKv, keys: readonly string[], args: readonly string[]): R;
}

export interface KvStore {
  /** `redis` or `memory`: shown by health and metrics. */
  readonly kind: 'redis' | 'memory';
  get(key: string): Promise<string | null>;
  /** Returns false when `nx` was asked and the key already existed. */
  set(key: string, value: string, opts?: SetOptions): Promise<boolean>;
  del(...keys: string[]): Promise<number>;
  /** Atomically adds `by`; when the key is created by this call and `ttlMs` is given, it expires. */
  incrBy(key: string, by: number, ttlMs?: number): Promise<number>;
  expire(key: string, ttlMs: number): Promise<boolean>;
  /** Remaining time to live in ms; -1 without expiry, -2 when missing. */
  pttl(key: string): Promise<number>;
  hset(key: string, fields: Record<string, string>): Promise<void>;
  hgetall(key: string): Promise<Record<string, string>>;
  hdel(key: string, ...fields: string[]): Promise<number>;
  /** Runs an atomic script (Lua in Redis, its JavaScript twin in memory). */
  /**
   * Keys matching a glob (`*` and `?`), at most `limit` of them (Redis: SCAN, never KEYS). For
   * management views and bulk deletes, not the hot path.
   */
  scan(pattern: string, limit?: number): Promise<string[]>;
  run<R>(
    script: KvScript<R>,
    keys: readonly string[],
    args: readonly (string | number)[],
  ): Promise<R>;
  /** Sends to every subscriber of every replica (memory: this process only). */
  publish(channel: string, message: string): Promise<void>;
  subscribe(channel: string, handler: (message: string) => void): Promise<Unsubscribe>;
  ping(): Promise<void>;
  close(): Promise<void>;
}

export const KV_STORE = Symbol('KV_STORE');
