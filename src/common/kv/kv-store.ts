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
  /** Sends to every subscriber of every replica (memory: this process only). */
  publish(channel: string, message: string): Promise<void>;
  subscribe(channel: string, handler: (message: string) => void): Promise<Unsubscribe>;
  ping(): Promise<void>;
  close(): Promise<void>;
}

export const KV_STORE = Symbol('KV_STORE');
