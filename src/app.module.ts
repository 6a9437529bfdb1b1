import { DynamicModule, Module } from '@nestjs/common';
import { APP_FILTER, APP_GUARD } from '@nestjs/core';
import { AuthModule } from './auth/auth.module';
import { CombosModule } from './combos/combos.module';
import { CryptoModule } from './common/crypto/crypto.module';
import { AllExceptionsFilter } from './common/filters/all-exceptions.filter';
import { HotPathModule } from './common/http/hot-path.module';
import { HotPathSlot } from './common/http/hot-path.slot';
import { ManagementAuthGuard } from './common/guards/management-auth.guard';
import { KvModule } from './common/kv/kv.module';
import { MetricsModule } from './common/metrics/metrics.module';
import { ConfigModule } from './config/config.module';
import type { Env } from './config/env.schema';
import { DatabaseModule } from './database/database.module';
import { GatewayModule } from './gateway/gateway.module';
import { HealthModule } from './health/health.module';
import { KeysModule } from './keys/keys.module';
import { PolicyModule } from './policies/policy.module';
import { PricingModule } from './pricing/pricing.module';
import { ResilienceModule } from './resilience/resilience.module';
import { ProvidersModule } from './providers/providers.module';
import { SessionsModule } from './sessions/sessions.module';
import { SettingsModule } from './settings/settings.module';
import { TelemetryModule } from './telemetry/telemetry.module';
import { UpstreamModule } from './upstream/upstream.module';
import { UsageModule } from './usage/usage.module';

/** The whole gateway. `env` is the validated environment (main.ts or a test builds it). */
@Module({})
export class AppModule {
  static forRoot(env: Env, hotPath: HotPathSlot = new HotPathSlot()): DynamicModule {
    return {
      module: AppModule,
      imports: [
        ConfigModule.forRoot(env),
        HotPathModule.forRoot(hotPath),
        DatabaseModule,
        KvModule,
        CryptoModule,
        MetricsModule,
        TelemetryModule,
        UpstreamModule,
        SettingsModule,
        AuthModule,
        KeysModule,
        PolicyModule,
        ProvidersModule,
        CombosModule,
        UsageModule,
        PricingModule,
        ResilienceModule,
        SessionsModule,
        GatewayModule,
        HealthModule,
      ],
      providers: [
        { provide: APP_GUARD, useClass: ManagementAuthGuard },
        { provide: APP_FILTER, useClass: AllExceptionsFilter },
      ],
    };
  }
}
