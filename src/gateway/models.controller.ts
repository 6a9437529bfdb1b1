import { Body, Controller, Delete, Get, HttpCode, Post, Put, Query } from '@nestjs/common';
import {
  ApiBadRequestResponse,
  ApiExtraModels,
  ApiNotFoundResponse,
  ApiOkResponse,
  ApiOperation,
  ApiQuery,
  ApiTags,
  getSchemaPath,
} from '@nestjs/swagger';
import { AppError } from '@/common/errors/app-error';
import { ManagementErrorResponse } from '@/common/filters/error.response';
import { ManagementAuth } from '@/common/guards/public.decorator';
import { CombosService } from '@/combos/combos.service';
import { AliasesService } from '@/models/aliases.service';
import {
  AliasListResponse,
  AliasResolveResponse,
  CatalogProvider,
  SetAliasDto,
} from '@/models/dto/alias.dto';
import { ProvidersService } from '@/providers/providers.service';
import { ModelsService, type ModelCatalog } from './models.service';
import { resolveModel } from './routing/model-resolver';

/** `/api/models/alias` and `/api/models/catalog` (reference §3.5). */
@ApiTags('models')
@ManagementAuth()
@Controller('api/models')
export class ModelsController {
  constructor(
    private readonly aliases: AliasesService,
    private readonly models: ModelsService,
    private readonly combos: CombosService,
    private readonly providers: ProvidersService,
  ) {}

  @Get('alias')
  @ApiOperation({
    operationId: 'ModelAliases_get',
    summary: 'Every alias, or (?alias=) what one alias resolves to',
  })
  @ApiQuery({ name: 'alias', required: false })
  @ApiOkResponse({ type: AliasListResponse })
  @ApiNotFoundResponse({ type: ManagementErrorResponse })
  get(@Query('alias') alias?: string): AliasListResponse | AliasResolveResponse {
    const catalogVersion = this.models.version();
    if (alias === undefined) {
      return { aliases: this.aliases.list(), catalogVersion };
    }
    const hit = this.aliases.resolve(alias);
    if (!hit) {
      const needle = alias.toLowerCase();
      const candidates = Object.keys(this.aliases.list())
        .filter((a) => a.toLowerCase().includes(needle) || needle.includes(a.toLowerCase()))
        .slice(0, 5);
      throw new AppError('ALIAS_NOT_FOUND', 'NOT_FOUND', `Alias "${alias}" does not exist`, {
        candidates,
      });
    }
    const source = hit.alias.includes('*') ? 'glob-alias' : 'alias';
    const combo = this.combos.byModel(hit.target);
    if (combo) {
      return {
        alias,
        resolved: {
          provider: 'combo',
          providerAlias: 'combo',
          model: combo.name,
          qualifiedId: combo.name,
          source,
          target: hit.target,
          matched: hit.alias,
        },
        catalogVersion,
      };
    }
    const r = resolveModel(hit.target, this.providers.routing());
    return {
      alias,
      resolved: {
        provider: r.target.id,
        providerAlias: r.target.alias,
        model: r.upstreamModel,
        qualifiedId: r.qualified,
        source,
        target: hit.target,
        matched: hit.alias,
      },
      catalogVersion,
    };
  }

  @Put('alias')
  @ApiOperation({
    operationId: 'ModelAliases_put',
    summary: 'Set an alias → provider/model or combo',
  })
  @ApiOkResponse({ type: AliasListResponse })
  @ApiBadRequestResponse({ type: ManagementErrorResponse })
  put(@Body() dto: SetAliasDto): Promise<AliasListResponse> {
    return this.setAlias(dto);
  }

  @Post('alias')
  @HttpCode(200)
  @ApiOperation({ operationId: 'ModelAliases_post', summary: 'Same as PUT (the documented verb)' })
  @ApiOkResponse({ type: AliasListResponse })
  @ApiBadRequestResponse({ type: ManagementErrorResponse })
  post(@Body() dto: SetAliasDto): Promise<AliasListResponse> {
    return this.setAlias(dto);
  }

  @Delete('alias')
  @ApiOperation({ operationId: 'ModelAliases_delete', summary: 'Remove an alias (?alias=)' })
  @ApiQuery({ name: 'alias', required: true })
  @ApiOkResponse({ type: AliasListResponse })
  @ApiNotFoundResponse({ type: ManagementErrorResponse })
  async remove(@Query('alias') alias?: string): Promise<AliasListResponse> {
    if (!alias) {
      throw AppError.invalid('alias is required (?alias=)', { param: 'alias' }, 'MISSING_ALIAS');
    }
    const aliases = await this.aliases.remove(alias);
    return { aliases, catalogVersion: this.models.version() };
  }

  @Get('catalog')
  @ApiExtraModels(CatalogProvider)
  @ApiOperation({
    operationId: 'ModelCatalog_get',
    summary: 'The catalogue grouped by provider (chat, embedding, image and audio models)',
  })
  @ApiOkResponse({
    schema: { type: 'object', additionalProperties: { $ref: getSchemaPath(CatalogProvider) } },
  })
  catalog(): ModelCatalog {
    return this.models.catalog();
  }

  /** A target must be a combo or a provider/model that resolves now. */
  private async setAlias(dto: SetAliasDto): Promise<AliasListResponse> {
    const target = dto.model.trim();
    if (!this.combos.byModel(target)) {
      if (!target.includes('/')) {
        throw new AppError('VALIDATION_FAILED', 'INVALID_INPUT', 'Invalid request', {
          fields: [{ field: 'model', message: 'use provider/model or the name of a combo' }],
        });
      }
      const prefix = target.slice(0, target.indexOf('/')).toLowerCase();
      if (!this.providers.routing().targets.has(prefix)) {
        throw new AppError('VALIDATION_FAILED', 'INVALID_INPUT', 'Invalid request', {
          fields: [{ field: 'model', message: `unknown provider "${prefix}"` }],
        });
      }
    }
    if (this.combos.byModel(dto.alias)) {
      throw new AppError('VALIDATION_FAILED', 'INVALID_INPUT', 'Invalid request', {
        fields: [{ field: 'alias', message: `"${dto.alias}" is a combo name` }],
      });
    }
    const aliases = await this.aliases.set(dto.alias, target);
    return { aliases, catalogVersion: this.models.version() };
  }
}
