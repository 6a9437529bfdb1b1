import { Inject, Injectable, OnModuleDestroy, OnModuleInit } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import type { Repository } from 'typeorm';
import { KV_STORE, type KvStore, type Unsubscribe } from '@/common/kv/kv-store';
import { Setting } from './entities/setting.entity';

const CHANNEL = 'settings:changed';
const TTL_MS = 10_000;

/**
 * Key/value settings in Postgres with a small in-memory cache. A change is broadcast through the
 * key-value store so every replica drops its cached copy at once (the TTL bounds staleness if a
 * message is lost).
 */
@Injectable()
export class SettingsService implements OnModuleInit, OnModuleDestroy {
  private readonly cache = new Map<string, { value: unknown; at: number }>();
  private unsubscribe?: Unsubscribe;

  constructor(
    @InjectRepository(Setting) private readonly repo: Repository<Setting>,
    @Inject(KV_STORE) private readonly kv: KvStore,
  ) {}

  async onModuleInit(): Promise<void> {
    this.unsubscribe = await this.kv
      .subscribe(CHANNEL, (key) => this.cache.delete(key))
      .catch(() => undefined);
  }

  async onModuleDestroy(): Promise<void> {
    await this.unsubscribe?.();
  }

  async get<T>(key: string, fallback: T): Promise<T> {
    const hit = this.cache.get(key);
    if (hit && Date.now() - hit.at < TTL_MS) {
      return (hit.value ?? fallback) as T;
    }
    const row = await this.repo.findOne({ where: { key } });
    const value = row ? row.value : undefined;
    this.cache.set(key, { value, at: Date.now() });
    return (value ?? fallback) as T;
  }

  async set(key: string, value: unknown): Promise<void> {
    await this.repo.upsert({ key, value: value as object }, ['key']);
    this.cache.delete(key);
    await this.kv.publish(CHANNEL, key).catch(() => undefined);
  }

  /**
   * Keeps a snapshot of one setting: `apply` gets the stored value now, after any replica changes
   * it (the change broadcast), and every `refreshMs` as a safety net. Returns the stop function.
   * A failed read keeps the previous snapshot.
   */
  async watch(
    key: string,
    apply: (value: unknown) => void,
    refreshMs = 30_000,
  ): Promise<() => Promise<void>> {
    const load = async (): Promise<void> => {
      try {
        this.cache.delete(key);
        apply(await this.get<unknown>(key, undefined));
      } catch {
        /* the database is away: keep the last snapshot */
      }
    };
    const unsubscribe = await this.kv
      .subscribe(CHANNEL, (changed) => {
        if (changed === key) {
          setImmediate(() => void load());
        }
      })
      .catch(() => undefined);
    await load();
    const timer = setInterval(() => void load(), refreshMs);
    timer.unref();
    return async () => {
      clearInterval(timer);
      await unsubscribe?.();
    };
  }

  /** Inserts only when absent; true when this call wrote it (used for once-only bootstrap). */
  async setIfAbsent(key: string, value: unknown): Promise<boolean> {
    const rows: unknown[] = await this.repo.query(
      'INSERT INTO settings (key, value) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING RETURNING key',
      [key, JSON.stringify(value)],
    );
    this.cache.delete(key);
    return rows.length > 0;
  }
}
