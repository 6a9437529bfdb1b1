import { Module } from '@nestjs/common';
import { CombosModule } from '@/combos/combos.module';
import { ProvidersModule } from '@/providers/providers.module';
import { SettingsModule } from '@/settings/settings.module';
import { AvailabilityController } from './availability.controller';
import { AvailabilityService } from './availability.service';
import { CircuitBreakers } from './breakers.service';
import { Cooldowns } from './cooldowns.service';
import { LatencyStats } from './latency-stats.service';
import { RateLimiter } from './rate-limiter.service';
import { RateLimitsController } from './rate-limits.controller';
import { ResilienceController } from './resilience.controller';
import { ResilienceService } from './resilience.service';

/** Shared routing state (breakers, cooldowns, limits, latency) and its management routes. */
@Module({
  imports: [SettingsModule, ProvidersModule, CombosModule],
  controllers: [ResilienceController, RateLimitsController, AvailabilityController],
  providers: [
    ResilienceService,
    CircuitBreakers,
    Cooldowns,
    RateLimiter,
    LatencyStats,
    AvailabilityService,
  ],
  exports: [ResilienceService, CircuitBreakers, Cooldowns, RateLimiter, LatencyStats],
})
export class ResilienceModule {}
