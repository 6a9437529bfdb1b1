import { Body, Controller, Delete, Get, HttpCode, Patch, Query } from '@nestjs/common';
import {
  ApiBadRequestResponse,
  ApiBody,
  ApiExtraModels,
  ApiOkResponse,
  ApiOperation,
  ApiQuery,
  ApiTags,
  getSchemaPath,
} from '@nestjs/swagger';
import { ManagementErrorResponse } from '@/common/filters/error.response';
import { ManagementAuth } from '@/common/guards/public.decorator';
import {
  ModelPriceDto,
  ModelPricePatchDto,
  PRICING_PATCH_SCHEMA,
  PRICING_TABLE_SCHEMA,
  PricingWithSourcesResponse,
} from './dto/pricing.dto';
import { PricingService } from './pricing.service';
import type { PricingTable } from './pricing.types';

const truthy = (v: string | undefined): boolean => v === '1' || v === 'true';

@ApiTags('pricing')
@ManagementAuth()
@ApiExtraModels(ModelPriceDto, ModelPricePatchDto, PricingWithSourcesResponse)
@Controller('api/pricing')
export class PricingController {
  constructor(private readonly pricing: PricingService) {}

  @Get()
  @ApiOperation({
    operationId: 'Pricing_get',
    summary: 'Merged pricing table (defaults + overrides), USD per 1M tokens',
  })
  @ApiQuery({
    name: 'includeSources',
    required: false,
    type: String,
    description: '1: answer `{pricing, sourceMap}` (default|user per model)',
  })
  @ApiOkResponse({
    schema: {
      oneOf: [PRICING_TABLE_SCHEMA(), { $ref: getSchemaPath(PricingWithSourcesResponse) }],
    },
  })
  get(@Query('includeSources') includeSources?: string): PricingTable | PricingWithSourcesResponse {
    if (truthy(includeSources)) {
      return { pricing: this.pricing.table(), sourceMap: this.pricing.sources() };
    }
    return this.pricing.table();
  }

  @Patch()
  @ApiOperation({
    operationId: 'Pricing_update',
    summary: 'Override prices (same nested shape; fields merged per model) → merged table',
  })
  @ApiBody({ schema: PRICING_PATCH_SCHEMA() })
  @ApiOkResponse({ schema: PRICING_TABLE_SCHEMA() })
  @ApiBadRequestResponse({ type: ManagementErrorResponse })
  update(@Body() body: unknown): Promise<PricingTable> {
    return this.pricing.update(body);
  }

  @Delete()
  @HttpCode(200)
  @ApiOperation({
    operationId: 'Pricing_reset',
    summary: 'Drop overrides: of one model (provider+model), one provider, or all → merged table',
  })
  @ApiQuery({ name: 'provider', required: false, type: String })
  @ApiQuery({ name: 'model', required: false, type: String, description: 'needs provider' })
  @ApiOkResponse({ schema: PRICING_TABLE_SCHEMA() })
  @ApiBadRequestResponse({ type: ManagementErrorResponse })
  reset(
    @Query('provider') provider?: string,
    @Query('model') model?: string,
  ): Promise<PricingTable> {
    return this.pricing.reset(provider || undefined, model || undefined);
  }

  @Get('defaults')
  @ApiOperation({ operationId: 'Pricing_defaults', summary: 'Built-in default prices' })
  @ApiOkResponse({ schema: PRICING_TABLE_SCHEMA() })
  defaults(): PricingTable {
    return this.pricing.defaults();
  }
}
