import { Module } from '@nestjs/common';
import { CacheModule } from '@/cache/cache.module';
import { CombosModule } from '@/combos/combos.module';
import { ApiKeyAuth } from '@/common/guards/api-key.auth';
import { KeysModule } from '@/keys/keys.module';
import { ModelsModule } from '@/models/models.module';
import { PolicyModule } from '@/policies/policy.module';
import { PricingModule } from '@/pricing/pricing.module';
import { ProvidersModule } from '@/providers/providers.module';
import { ResilienceModule } from '@/resilience/resilience.module';
import { SessionsModule } from '@/sessions/sessions.module';
import { UsageModule } from '@/usage/usage.module';
import { ChatService } from './chat/chat.service';
import { ComboTestController } from './combo-test/combo-test.controller';
import { ComboTester } from './combo-test/combo-tester.service';
import { CountTokensService } from './chat/count-tokens.service';
import { HotPath } from './http/hot-path';
import { MediaService } from './media/media.service';
import { ModelsController } from './models.controller';
import { ModelsService } from './models.service';
import { AccountSelector } from './routing/account-selector';
import { RouterService } from './routing/router.service';

@Module({
  imports: [
    CacheModule,
    KeysModule,
    ProvidersModule,
    CombosModule,
    UsageModule,
    PricingModule,
    PolicyModule,
    ResilienceModule,
    SessionsModule,
    ModelsModule,
  ],
  controllers: [ComboTestController, ModelsController],
  providers: [
    ApiKeyAuth,
    ComboTester,
    AccountSelector,
    RouterService,
    ChatService,
    CountTokensService,
    ModelsService,
    MediaService,
    HotPath,
  ],
})
export class GatewayModule {}
