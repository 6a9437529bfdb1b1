import { Module } from '@nestjs/common';
import { ApiKeyAuth } from '@/common/guards/api-key.auth';
import { KeysModule } from '@/keys/keys.module';
import { ProvidersModule } from '@/providers/providers.module';
import { UsageModule } from '@/usage/usage.module';
import { ChatService } from './chat/chat.service';
import { CountTokensService } from './chat/count-tokens.service';
import { HotPath } from './http/hot-path';
import { ModelsService } from './models.service';
import { AccountSelector } from './routing/account-selector';

@Module({
  imports: [KeysModule, ProvidersModule, UsageModule],
  providers: [ApiKeyAuth, AccountSelector, ChatService, CountTokensService, ModelsService, HotPath],
})
export class GatewayModule {}
