import { Body, Controller, Get, HttpCode, Post, Query } from '@nestjs/common';
import {
  ApiBadRequestResponse,
  ApiOkResponse,
  ApiOperation,
  ApiQuery,
  ApiTags,
} from '@nestjs/swagger';
import { ManagementErrorResponse } from '@/common/filters/error.response';
import { ManagementAuth } from '@/common/guards/public.decorator';
import { AvailabilityService } from './availability.service';
import { AvailabilityQueryDto } from './dto/rate-limit.dto';
import { AvailabilityResetResponse, ModelAvailabilityResponse } from './dto/resilience.response';

@ApiTags('models')
@ManagementAuth()
@Controller('api/models/availability')
export class AvailabilityController {
  constructor(private readonly availability: AvailabilityService) {}

  @Get()
  @ApiOperation({
    operationId: 'ModelAvailability_get',
    summary: 'Real-time availability per model/combo: usable accounts, why not, and when back',
  })
  @ApiQuery({
    name: 'model',
    required: false,
    description: 'One or more (comma-separated) models or combos; all when absent',
  })
  @ApiOkResponse({ type: ModelAvailabilityResponse })
  async get(@Query('model') model?: string): Promise<ModelAvailabilityResponse> {
    const models = model
      ? model
          .split(',')
          .map((m) => m.trim())
          .filter(Boolean)
      : undefined;
    return { models: await this.availability.check(models), checkedAt: new Date().toISOString() };
  }

  @Post()
  @HttpCode(200)
  @ApiOperation({
    operationId: 'ModelAvailability_post',
    summary:
      'Check a list of models ({models}) or clear locks ({action:"reset", connectionId?, model?})',
  })
  @ApiOkResponse({ type: ModelAvailabilityResponse })
  @ApiBadRequestResponse({ type: ManagementErrorResponse })
  async post(
    @Body() dto: AvailabilityQueryDto,
  ): Promise<ModelAvailabilityResponse | AvailabilityResetResponse> {
    if (dto.action === 'reset') {
      return { ok: true, cleared: await this.availability.reset(dto.connectionId, dto.model) };
    }
    return {
      models: await this.availability.check(dto.models),
      checkedAt: new Date().toISOString(),
    };
  }
}
