import { createHash } from 'node:crypto';
import Redis from 'ioredis';
import type { KvScript, KvStore, SetOptions, Unsubscribe } from './kv-store';

/**
 * Redis adapter (ioredis). Every key and channel is prefixed so that several gateways (or test
 * runs) can share one Redis. Commands fail fast while Redis is unreachable instead of queueing,
 * so callers can degrade (cache and idempotency pass through) rather than hang.
 */
export class RedisKvStore implements KvStore {
  readonly kind = 'redis' as const;
  private readonly client: Redis;
  private subscriber?: Redis;
  private readonly handlers = new Map<string, Set<(message: string) => void>>();
  /** SHA1 of each script's Lua, computed once per script object. */
  private readonly shas = new WeakMap<KvScript<unknown>, string>();

  constructor(
    private readonly url: string,
    private readonly prefix: string,
  ) {
    this.client = new Redis(url, {
      keyPrefix: prefix,
      maxRetriesPerRequest: 1,
      enableOfflineQueue: true,
      connectTimeout: 5_000,
      retryStrategy: (times) => Math.min(times * 200, 2_000),
    });
    this.client.on('error', () => {
      /* reconnects by itself; health reports it */
    });
  }

  async get(key: string): Promise<string | null> {
    return this.client.get(key);
  }

  async set(key: string, value: string, opts: SetOptions = {}): Promise<boolean> {
    let res: string | null;
    if (opts.ttlMs && opts.nx) {
      res = await this.client.set(key, value, 'PX', opts.ttlMs, 'NX');
    } else if (opts.ttlMs) {
      res = await this.client.set(key, value, 'PX', opts.ttlMs);
    } else if (opts.nx) {
      res = await this.client.set(key, value, 'NX');
    } else {
      res = await this.client.set(key, value);
    }
    return res === 'OK';
  }

  async del(...keys: string[]): Promise<number> {
    return keys.length ? this.client.del(...keys) : 0;
  }

  async incrBy(key: string, by: number, ttlMs?: number): Promise<number> {
    if (!ttlMs) {
      return this.client.incrby(key, by);
    }
    // INCRBY and the first expiry in one round trip, atomically. "Created by this call" is an
    // EXISTS check, not `v == by`: an existing key holding 0 must not gain an expiry.
    const res = (await this.client.eval(
      "local new = redis.call('EXISTS', KEYS[1]) == 0 local v = redis.call('INCRBY', KEYS[1], ARGV[1]) if new then redis.call('PEXPIRE', KEYS[1], ARGV[2]) end return v",
      1,
      key,
      by,
      ttlMs,
    )) as number;
    return Number(res);
  }

  async expire(key: string, ttlMs: number): Promise<boolean> {
    return (await this.client.pexpire(key, ttlMs)) === 1;
  }

  async pttl(key: string): Promise<number> {
    return this.client.pttl(key);
  }

  async hset(key: string, fields: Record<string, string>): Promise<void> {
    if (Object.keys(fields).length) {
      await this.client.hset(key, fields);
    }
  }

  async hgetall(key: string): Promise<Record<string, string>> {
    return this.client.hgetall(key);
  }

  async hdel(key: string, ...fields: string[]): Promise<number> {
    return fields.length ? this.client.hdel(key, ...fields) : 0;
  }

  async run<R>(
    script: KvScript<R>,
    keys: readonly string[],
    args: readonly (string | number)[],
  ): Promise<R> {
    let sha = this.shas.get(script);
    if (!sha) {
      sha = createHash('sha1').update(script.lua).digest('hex');
      this.shas.set(script, sha);
    }
    // ioredis prefixes the KEYS of EVAL/EVALSHA (numkeys tells it which), never ARGV.
    let raw: unknown;
    try {
      raw = await this.client.evalsha(sha, keys.length, ...keys, ...args);
    } catch (e) {
      if (!(e instanceof Error) || !e.message.startsWith('NOSCRIPT')) {
        throw e;
      }
      // Not cached on this server yet (first use, restart, SCRIPT FLUSH): EVAL caches it.
      raw = await this.client.eval(script.lua, keys.length, ...keys, ...args);
    }
    if (typeof raw !== 'string') {
      throw new Error(`script ${script.name} did not return JSON`);
    }
    return JSON.parse(raw) as R;
  }

  async publish(channel: string, message: string): Promise<void> {
    await this.client.publish(this.prefix + channel, message);
  }

  async subscribe(channel: string, handler: (message: string) => void): Promise<Unsubscribe> {
    const full = this.prefix + channel;
    if (!this.subscriber) {
      this.subscriber = new Redis(this.url, {
        maxRetriesPerRequest: null,
        retryStrategy: (times) => Math.min(times * 200, 2_000),
      });
      this.subscriber.on('error', () => undefined);
      this.subscriber.on('message', (ch: string, msg: string) => {
        for (const h of this.handlers.get(ch) ?? []) {
          h(msg);
        }
      });
    }
    let set = this.handlers.get(full);
    if (!set) {
      set = new Set();
      this.handlers.set(full, set);
      await this.subscriber.subscribe(full);
    }
    set.add(handler);
    return async () => {
      const s = this.handlers.get(full);
      s?.delete(handler);
      if (s && s.size === 0) {
        this.handlers.delete(full);
        await this.subscriber?.unsubscribe(full).catch(() => undefined);
      }
    };
  }

  async ping(): Promise<void> {
    await this.client.ping();
  }

  async scan(pattern: string, limit = 10_000): Promise<string[]> {
    const out: string[] = [];
    let cursor = '0';
    do {
      // SCAN's MATCH sees full key names: the prefix is added here and removed from the results
      const [next, keys] = await this.client.scan(
        cursor,
        'MATCH',
        this.prefix + pattern,
        'COUNT',
        1000,
      );
      cursor = next;
      for (const k of keys) {
        out.push(k.slice(this.prefix.length));
        if (out.length >= limit) {
          return out;
        }
      }
    } while (cursor !== '0');
    return out;
  }

  async close(): Promise<void> {
    this.handlers.clear();
    await Promise.allSettled([this.client.quit(), this.subscriber?.quit()]);
  }
}
