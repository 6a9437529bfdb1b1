import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';

class CooldownProfileDoc {
  @ApiProperty({ example: 3000 }) baseCooldownMs!: number;
  @ApiProperty() useUpstreamRetryHints!: boolean;
  @ApiProperty({ example: 5 }) maxBackoffSteps!: number;
}

class BreakerProfileDoc {
  @ApiProperty({ example: 12 }) failureThreshold!: number;
  @ApiProperty({ example: 30000 }) resetTimeoutMs!: number;
}

class RequestQueueDoc {
  @ApiProperty({ description: 'Protect every API-key connection without its own setting' })
  autoEnableApiKeyProviders!: boolean;
  @ApiProperty({ example: 100 }) requestsPerMinute!: number;
  @ApiProperty({ example: 0, description: '0 = no token limit' }) tokensPerMinute!: number;
}

class CooldownProfilesDoc {
  @ApiProperty({ type: CooldownProfileDoc }) oauth!: CooldownProfileDoc;
  @ApiProperty({ type: CooldownProfileDoc }) apikey!: CooldownProfileDoc;
}

class BreakerProfilesDoc {
  @ApiProperty({ type: BreakerProfileDoc }) oauth!: BreakerProfileDoc;
  @ApiProperty({ type: BreakerProfileDoc }) apikey!: BreakerProfileDoc;
}

class WaitForCooldownDoc {
  @ApiProperty() enabled!: boolean;
  @ApiProperty({ example: 1 }) maxRetries!: number;
  @ApiProperty({ example: 2 }) maxRetryWaitSec!: number;
}

class RetriesDoc {
  @ApiProperty({ example: 1 }) maxRetries!: number;
  @ApiProperty({ example: 200 }) retryDelayMs!: number;
  @ApiProperty({ example: 2000 }) maxRetryDelayMs!: number;
}

class TimeoutsDoc {
  @ApiProperty({ example: 10000 }) connectMs!: number;
  @ApiProperty({ example: 120000 }) firstTokenMs!: number;
  @ApiProperty({ example: 300000 }) streamIdleMs!: number;
  @ApiProperty({ example: 600000 }) totalMs!: number;
}

class AccountRotationDoc {
  @ApiProperty({ enum: ['fill-first', 'round-robin', 'least-recently-used', 'random'] })
  strategy!: string;
  @ApiProperty({ example: 3 }) stickyRoundRobinLimit!: number;
  @ApiProperty({
    type: 'object',
    additionalProperties: { type: 'string' },
    description: 'Per provider id or alias',
  })
  providers!: Record<string, string>;
}

/** The whole profile (GET, and the answer of PUT/PATCH). */
export class ResilienceSettingsResponse {
  @ApiPropertyOptional({ description: 'Present on PUT/PATCH answers' }) ok?: boolean;
  @ApiProperty({ type: RequestQueueDoc }) requestQueue!: RequestQueueDoc;
  @ApiProperty({ type: CooldownProfilesDoc }) connectionCooldown!: CooldownProfilesDoc;
  @ApiProperty({ type: BreakerProfilesDoc }) providerBreaker!: BreakerProfilesDoc;
  @ApiProperty({ type: WaitForCooldownDoc }) waitForCooldown!: WaitForCooldownDoc;
  @ApiProperty({ type: RetriesDoc }) retries!: RetriesDoc;
  @ApiProperty({ type: TimeoutsDoc }) timeouts!: TimeoutsDoc;
  @ApiProperty({ type: AccountRotationDoc }) accountRotation!: AccountRotationDoc;
}

export class ResilienceResetResponse {
  @ApiProperty() ok!: boolean;
  @ApiProperty({ description: 'Circuit breakers that were not closed' }) resetCount!: number;
  @ApiProperty({ description: 'Cooldowns and model lockouts cleared' }) cooldownsCleared!: number;
  @ApiProperty() message!: string;
}

export class BreakerDoc {
  @ApiProperty() provider!: string;
  @ApiProperty({ enum: ['closed', 'open', 'half_open'] }) state!: string;
  @ApiProperty() failures!: number;
  @ApiProperty({ description: 'ms epoch, 0 when closed' }) openedAt!: number;
  @ApiProperty() lastFailureAt!: number;
  @ApiProperty() retryAfterMs!: number;
}

export class LockDoc {
  @ApiProperty() connectionId!: string;
  @ApiProperty({ type: String, nullable: true, description: 'Set for a per-model lockout' })
  model!: string | null;
  @ApiProperty() reason!: string;
  @ApiProperty() status!: number;
  @ApiProperty() until!: string;
  @ApiProperty() remainingMs!: number;
  @ApiProperty() permanent!: boolean;
  @ApiProperty() backoffLevel!: number;
}

class LimitsDoc {
  @ApiProperty() rpm!: number;
  @ApiProperty() tpm!: number;
}

class WindowUsageDoc {
  @ApiProperty() requests!: number;
  @ApiProperty() tokens!: number;
  @ApiProperty() windowMs!: number;
}

export class ConnectionLimitDoc {
  @ApiProperty() connectionId!: string;
  @ApiProperty() provider!: string;
  @ApiProperty() name!: string;
  @ApiProperty({ type: Boolean, nullable: true, description: 'null = the global auto-enable' })
  rateLimitProtection!: boolean | null;
  @ApiProperty({ description: 'Whether limits apply now' }) enabled!: boolean;
  @ApiProperty() active!: boolean;
  @ApiProperty({ type: LimitsDoc, nullable: true }) limits!: LimitsDoc | null;
  @ApiProperty({ type: WindowUsageDoc, nullable: true }) usage!: WindowUsageDoc | null;
  @ApiProperty({ type: LockDoc, nullable: true }) cooldown!: LockDoc | null;
  @ApiProperty({ type: [LockDoc] }) modelLockouts!: LockDoc[];
}

export class RateLimitsResponse {
  @ApiProperty({ type: [ConnectionLimitDoc] }) connections!: ConnectionLimitDoc[];
  @ApiProperty({ type: [LockDoc] }) lockouts!: LockDoc[];
  @ApiProperty({ type: [BreakerDoc] }) breakers!: BreakerDoc[];
  @ApiProperty({ description: 'Whether counters are shared (redis) or this process only (memory)' })
  store!: string;
}

export class RateLimitToggleResponse {
  @ApiProperty() success!: boolean;
  @ApiProperty() connectionId!: string;
  @ApiProperty({ type: Boolean, nullable: true }) enabled!: boolean | null;
  @ApiProperty({ type: Number, nullable: true }) rpm!: number | null;
  @ApiProperty({ type: Number, nullable: true }) tpm!: number | null;
}

export class RateLimitConfigResponse extends RequestQueueDoc {}

class AccountAvailabilityDoc {
  @ApiProperty() connectionId!: string;
  @ApiProperty() name!: string;
  @ApiProperty() usable!: boolean;
  @ApiPropertyOptional({
    enum: ['cooldown', 'model-lockout', 'permanent', 'rate-limited', 'circuit-open'],
  })
  reason?: string;
  @ApiPropertyOptional() detail?: string;
  @ApiPropertyOptional({ description: 'When it is usable again (ISO time)' }) availableAt?: string;
  @ApiPropertyOptional() retryAfterMs?: number;
}

export class ModelAvailabilityDoc {
  @ApiProperty({ example: 'openai/gpt-4o' }) model!: string;
  @ApiProperty({ enum: ['model', 'combo'] }) kind!: string;
  @ApiProperty() available!: boolean;
  @ApiPropertyOptional() provider?: string;
  @ApiPropertyOptional({ type: BreakerDoc }) breaker?: BreakerDoc;
  @ApiProperty({ type: [AccountAvailabilityDoc] }) accounts!: AccountAvailabilityDoc[];
  @ApiPropertyOptional({ type: [String], description: 'Combo: targets usable now' })
  targets?: string[];
  @ApiPropertyOptional({ type: String, nullable: true }) nextAvailableAt?: string | null;
  @ApiPropertyOptional() reason?: string;
}

export class ModelAvailabilityResponse {
  @ApiProperty({ type: [ModelAvailabilityDoc] }) models!: ModelAvailabilityDoc[];
  @ApiProperty() checkedAt!: string;
}

export class AvailabilityResetResponse {
  @ApiProperty() ok!: boolean;
  @ApiProperty() cleared!: number;
}
