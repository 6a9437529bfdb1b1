import { Body, Controller, Delete, Get, Put, Query } from '@nestjs/common';
import {
  ApiBadRequestResponse,
  ApiBody,
  ApiOkResponse,
  ApiOperation,
  ApiProperty,
  ApiQuery,
  ApiTags,
} from '@nestjs/swagger';
import { ManagementErrorResponse } from '@/common/filters/error.response';
import { ManagementAuth } from '@/common/guards/public.decorator';
import { CacheService, type CacheConfig } from './cache.service';
import { IdempotencyService } from './idempotency.service';

class CacheStatsDoc {
  @ApiProperty({ description: 'Entries in this replica’s in-memory tier' }) memoryEntries!: number;
  @ApiProperty() memoryBytes!: number;
  @ApiProperty() maxEntries!: number;
  @ApiProperty() maxBytes!: number;
  @ApiProperty({ description: 'Entries in the shared store (Redis)' }) dbEntries!: number;
  @ApiProperty({ description: 'Gateway-wide' }) hits!: number;
  @ApiProperty() misses!: number;
  @ApiProperty({ example: '65.0', description: 'Percentage, one decimal' }) hitRate!: string;
  @ApiProperty({ description: 'Tokens of the answers served from the cache' })
  tokensSaved!: number;
}

class IdempotencyStatsDoc {
  @ApiProperty({ description: 'Keys held by a running request or answering duplicates' })
  activeKeys!: number;
  @ApiProperty() windowMs!: number;
}

export class CacheConfigDoc {
  @ApiProperty() enabled!: boolean;
  @ApiProperty({ example: 3600000 }) ttlMs!: number;
  @ApiProperty({ example: 500 }) maxEntries!: number;
  @ApiProperty({ example: 16777216 }) maxBytes!: number;
  @ApiProperty({ example: 262144 }) maxBodyBytes!: number;
  @ApiProperty({ example: 5000 }) idempotencyWindowMs!: number;
  @ApiProperty({ description: 'Semantic mode (off by default)' }) semanticEnabled!: boolean;
  @ApiProperty({
    example: 'openai/text-embedding-3-small',
    description: 'Embedding model used through the gateway’s own /v1/embeddings',
  })
  semanticModel!: string;
  @ApiProperty({ example: 0.95, minimum: 0.5, maximum: 1 }) semanticThreshold!: number;
  @ApiProperty({
    example: 200,
    description: 'Conversations kept per key, dialect, model, parameters',
  })
  semanticMaxEntries!: number;
  @ApiProperty({ example: 3000 }) semanticTimeoutMs!: number;
}

class CacheOverviewResponse {
  @ApiProperty({ type: CacheStatsDoc, description: 'OmniRoute’s name for the response cache' })
  semanticCache!: CacheStatsDoc;
  @ApiProperty({ type: IdempotencyStatsDoc }) idempotency!: IdempotencyStatsDoc;
  @ApiProperty({ type: CacheConfigDoc }) config!: CacheConfigDoc;
  @ApiProperty({ enum: ['redis', 'memory'] }) store!: string;
}

class CacheClearResponse {
  @ApiProperty() ok!: boolean;
  @ApiProperty({ description: 'Entries deleted from the shared store' }) invalidated!: number;
  @ApiProperty({ enum: ['all', 'model'] }) scope!: string;
  @ApiProperty({ required: false }) model?: string;
}

@ApiTags('cache')
@ManagementAuth()
@Controller('api/cache')
export class CacheController {
  constructor(
    private readonly cache: CacheService,
    private readonly idempotency: IdempotencyService,
  ) {}

  @Get()
  @ApiOperation({
    operationId: 'Cache_stats',
    summary: 'Response cache and idempotency figures, and the cache settings',
  })
  @ApiOkResponse({ type: CacheOverviewResponse })
  async stats(): Promise<CacheOverviewResponse> {
    const cfg = this.cache.config();
    return {
      semanticCache: await this.cache.stats(),
      idempotency: {
        activeKeys: await this.idempotency.activeKeys(),
        windowMs: cfg.idempotencyWindowMs,
      },
      config: cfg,
      store: this.cache.storeKind(),
    };
  }

  @Delete()
  @ApiOperation({
    operationId: 'Cache_clear',
    summary: 'Delete every cached answer, or one model’s (?model=), on every replica',
  })
  @ApiQuery({ name: 'model', required: false, description: 'The model as clients name it' })
  @ApiOkResponse({ type: CacheClearResponse })
  async clear(@Query('model') model?: string): Promise<CacheClearResponse> {
    const invalidated = await this.cache.clear(model || undefined);
    return model
      ? { ok: true, invalidated, scope: 'model', model }
      : { ok: true, invalidated, scope: 'all' };
  }

  @Get('config')
  @ApiOperation({ operationId: 'Cache_getConfig', summary: 'Cache and idempotency settings' })
  @ApiOkResponse({ type: CacheConfigDoc })
  config(): CacheConfig {
    return this.cache.config();
  }

  @Put('config')
  @ApiOperation({
    operationId: 'Cache_putConfig',
    summary: 'Change any subset of the cache settings (every replica applies them)',
  })
  @ApiBody({ type: CacheConfigDoc })
  @ApiOkResponse({ type: CacheConfigDoc })
  @ApiBadRequestResponse({ type: ManagementErrorResponse })
  setConfig(@Body() body: Record<string, unknown>): Promise<CacheConfig> {
    return this.cache.updateConfig(body);
  }
}
