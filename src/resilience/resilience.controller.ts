import { Body, Controller, Get, HttpCode, Patch, Post, Put } from '@nestjs/common';
import {
  ApiBadRequestResponse,
  ApiBody,
  ApiOkResponse,
  ApiOperation,
  ApiTags,
} from '@nestjs/swagger';
import { ManagementErrorResponse } from '@/common/filters/error.response';
import { ManagementAuth } from '@/common/guards/public.decorator';
import { CircuitBreakers } from './breakers.service';
import { Cooldowns } from './cooldowns.service';
import { ResilienceResetResponse, ResilienceSettingsResponse } from './dto/resilience.response';
import { ResilienceService } from './resilience.service';
import type { ResilienceSettings } from './resilience.settings';

@ApiTags('resilience')
@ManagementAuth()
@Controller('api/resilience')
export class ResilienceController {
  constructor(
    private readonly resilience: ResilienceService,
    private readonly breakers: CircuitBreakers,
    private readonly cooldowns: Cooldowns,
  ) {}

  @Get()
  @ApiOperation({
    operationId: 'Resilience_get',
    summary:
      'The resilience profile: limits, cooldowns, breakers, waiting, retries, timeouts, rotation',
  })
  @ApiOkResponse({ type: ResilienceSettingsResponse })
  get(): ResilienceSettings {
    return this.resilience.current();
  }

  @Put()
  @ApiOperation({
    operationId: 'Resilience_put',
    summary: 'Change any subset of the profile (deep-merged); every replica applies it at once',
  })
  @ApiBody({ type: ResilienceSettingsResponse })
  @ApiOkResponse({ type: ResilienceSettingsResponse })
  @ApiBadRequestResponse({ type: ManagementErrorResponse })
  async put(@Body() body: Record<string, unknown>): Promise<ResilienceSettings & { ok: true }> {
    return { ok: true, ...(await this.resilience.update(body)) };
  }

  @Patch()
  @ApiOperation({ operationId: 'Resilience_patch', summary: 'Same as PUT (OmniRoute uses PATCH)' })
  @ApiBody({ type: ResilienceSettingsResponse })
  @ApiOkResponse({ type: ResilienceSettingsResponse })
  @ApiBadRequestResponse({ type: ManagementErrorResponse })
  patch(@Body() body: Record<string, unknown>): Promise<ResilienceSettings & { ok: true }> {
    return this.put(body);
  }

  @Post('reset')
  @HttpCode(200)
  @ApiOperation({
    operationId: 'Resilience_reset',
    summary: 'Close every circuit breaker and clear every cooldown and model lockout',
  })
  @ApiOkResponse({ type: ResilienceResetResponse })
  async reset(): Promise<ResilienceResetResponse> {
    const resetCount = await this.breakers.reset();
    const cooldownsCleared = await this.cooldowns.clear();
    return {
      ok: true,
      resetCount,
      cooldownsCleared,
      message: `Reset ${resetCount} circuit breaker(s), cleared ${cooldownsCleared} cooldown(s)`,
    };
  }
}
