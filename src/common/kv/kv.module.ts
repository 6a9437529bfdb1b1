import { Global, Inject, Module, OnApplicationShutdown } from '@nestjs/common';
import { Env } from '@/config/env.schema';
import { KV_STORE, type KvStore } from './kv-store';
import { MemoryKvStore } from './memory-kv.store';
import { RedisKvStore } from './redis-kv.store';

class KvLifecycle implements OnApplicationShutdown {
  constructor(@Inject(KV_STORE) private readonly kv: KvStore) {}
  async onApplicationShutdown(): Promise<void> {
    await this.kv.close();
  }
}

/** Redis when `REDIS_URL` is set, else the in-process store; one `KvStore` either way. */
@Global()
@Module({
  providers: [
    {
      provide: KV_STORE,
      inject: [Env],
      useFactory: (env: Env): KvStore =>
        env.REDIS_URL ? new RedisKvStore(env.REDIS_URL, env.REDIS_KEY_PREFIX) : new MemoryKvStore(),
    },
    KvLifecycle,
  ],
  exports: [KV_STORE],
})
export class KvModule {}
