import { Module } from '@nestjs/common';
import { SettingsModule } from '@/settings/settings.module';
import { CacheController } from './cache.controller';
import { CacheService } from './cache.service';
import { IdempotencyService } from './idempotency.service';
import { SemanticCache } from './semantic-cache.service';

/** The response cache and idempotent requests, shared through the key-value store. */
@Module({
  imports: [SettingsModule],
  controllers: [CacheController],
  providers: [CacheService, IdempotencyService, SemanticCache],
  exports: [CacheService, IdempotencyService, SemanticCache],
})
export class CacheModule {}
