import { Body, Controller, Get, HttpCode, Inject, Post, Put } from '@nestjs/common';
import {
  ApiBadRequestResponse,
  ApiNotFoundResponse,
  ApiOkResponse,
  ApiOperation,
  ApiTags,
} from '@nestjs/swagger';
import { ManagementErrorResponse } from '@/common/filters/error.response';
import { ManagementAuth } from '@/common/guards/public.decorator';
import { KV_STORE, type KvStore } from '@/common/kv/kv-store';
import { ProvidersService } from '@/providers/providers.service';
import { CircuitBreakers } from './breakers.service';
import { Cooldowns, type CooldownView } from './cooldowns.service';
import { RateLimitConfigDto, RateLimitToggleDto } from './dto/rate-limit.dto';
import {
  RateLimitConfigResponse,
  RateLimitToggleResponse,
  RateLimitsResponse,
  type ConnectionLimitDoc,
  type LockDoc,
} from './dto/resilience.response';
import { RateLimiter } from './rate-limiter.service';
import { ResilienceService } from './resilience.service';

function lockOf(v: CooldownView): LockDoc {
  return {
    connectionId: v.connectionId,
    model: v.model,
    reason: v.reason,
    status: v.status,
    until: new Date(v.until).toISOString(),
    remainingMs: v.remainingMs,
    permanent: v.permanent,
    backoffLevel: v.level,
  };
}

@ApiTags('resilience')
@ManagementAuth()
@Controller('api')
export class RateLimitsController {
  constructor(
    private readonly providers: ProvidersService,
    private readonly limiter: RateLimiter,
    private readonly cooldowns: Cooldowns,
    private readonly breakers: CircuitBreakers,
    private readonly resilience: ResilienceService,
    @Inject(KV_STORE) private readonly kv: KvStore,
  ) {}

  @Get('rate-limits')
  @ApiOperation({
    operationId: 'RateLimits_list',
    summary:
      'Per connection: limits, this minute’s shared counters, cooldown and model lockouts; plus breakers',
  })
  @ApiOkResponse({ type: RateLimitsResponse })
  async list(): Promise<RateLimitsResponse> {
    const rows = await this.providers.connectionRows();
    const routable = new Map(
      [...this.providers.routing().connections.values()].flat().map((c) => [c.id, c]),
    );
    const locks = this.cooldowns.list();
    const connections: ConnectionLimitDoc[] = [];
    for (const r of rows) {
      const rc = routable.get(r.id);
      const limits = rc ? this.limiter.limitsOf(rc) : undefined;
      const mine = locks.filter((l) => l.connectionId === r.id);
      const cd = mine.find((l) => l.model === null);
      connections.push({
        connectionId: r.id,
        provider: r.provider,
        name: r.name,
        rateLimitProtection: r.rateLimitProtection,
        enabled: Boolean(limits),
        active: r.isActive,
        limits: limits ?? null,
        usage: limits ? await this.limiter.usage(r.id).catch(() => null) : null,
        cooldown: cd ? lockOf(cd) : null,
        modelLockouts: mine.filter((l) => l.model !== null).map(lockOf),
      });
    }
    return {
      connections,
      lockouts: locks.filter((l) => l.model !== null).map(lockOf),
      breakers: this.breakers.list((p) => {
        const auth = this.providers.routing().connections.get(p)?.[0]?.authType ?? 'apikey';
        return this.resilience.breakerProfile(auth).resetTimeoutMs;
      }),
      store: this.kv.kind,
    };
  }

  @Post('rate-limits')
  @HttpCode(200)
  @ApiOperation({
    operationId: 'RateLimits_toggle',
    summary: 'Turn a connection’s limit protection on/off and set its RPM/TPM (null = global)',
  })
  @ApiOkResponse({ type: RateLimitToggleResponse })
  @ApiBadRequestResponse({ type: ManagementErrorResponse })
  @ApiNotFoundResponse({ type: ManagementErrorResponse })
  async toggle(@Body() dto: RateLimitToggleDto): Promise<RateLimitToggleResponse> {
    const row = await this.providers.setRateLimit(dto.connectionId, {
      enabled: dto.enabled,
      rpm: dto.rpm,
      tpm: dto.tpm,
    });
    return {
      success: true,
      connectionId: row.id,
      enabled: row.rateLimitProtection,
      rpm: row.rpmLimit,
      tpm: row.tpmLimit,
    };
  }

  @Get('rate-limit')
  @ApiOperation({
    operationId: 'RateLimit_get',
    summary: 'Global limit defaults: auto-enable for API-key connections, RPM, TPM',
  })
  @ApiOkResponse({ type: RateLimitConfigResponse })
  config(): RateLimitConfigResponse {
    return this.resilience.current().requestQueue;
  }

  @Put('rate-limit')
  @ApiOperation({ operationId: 'RateLimit_put', summary: 'Change the global limit defaults' })
  @ApiOkResponse({ type: RateLimitConfigResponse })
  @ApiBadRequestResponse({ type: ManagementErrorResponse })
  async setConfig(@Body() dto: RateLimitConfigDto): Promise<RateLimitConfigResponse> {
    const patch = Object.fromEntries(Object.entries(dto).filter(([, v]) => v !== undefined));
    return (await this.resilience.update({ requestQueue: patch })).requestQueue;
  }
}
