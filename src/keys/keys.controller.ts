import { Body, Controller, Delete, Get, HttpCode, Param, Patch, Post, Query } from '@nestjs/common';
import {
  ApiCreatedResponse,
  ApiForbiddenResponse,
  ApiNotFoundResponse,
  ApiOkResponse,
  ApiOperation,
  ApiQuery,
  ApiTags,
} from '@nestjs/swagger';
import { AppError } from '@/common/errors/app-error';
import { ManagementAuth } from '@/common/guards/public.decorator';
import { ManagementErrorResponse } from '@/common/filters/error.response';
import { parsePaging } from '@/common/http/paging';
import { ApiKeyListResponse, ApiKeyResponse, CreatedApiKeyResponse } from './dto/api-key.response';
import { CreateApiKeyDto, UpdateApiKeyDto } from './dto/create-api-key.dto';
import { KeysService } from './keys.service';

@ApiTags('keys')
@ManagementAuth()
@Controller('api/keys')
export class KeysController {
  constructor(private readonly keys: KeysService) {}

  @Get()
  @ApiOperation({ operationId: 'Keys_list', summary: 'List API keys (masked)' })
  @ApiQuery({ name: 'limit', required: false, type: Number })
  @ApiQuery({ name: 'offset', required: false, type: Number })
  @ApiOkResponse({ type: ApiKeyListResponse })
  list(
    @Query('limit') limit?: string,
    @Query('offset') offset?: string,
  ): Promise<ApiKeyListResponse> {
    const p = parsePaging(limit, offset);
    return this.keys.list(p.limit, p.offset);
  }

  @Post()
  @ApiOperation({
    operationId: 'Keys_create',
    summary: 'Create an API key; the full key is returned once',
  })
  @ApiCreatedResponse({ type: CreatedApiKeyResponse })
  create(@Body() dto: CreateApiKeyDto): Promise<CreatedApiKeyResponse> {
    return this.keys.create(dto);
  }

  @Get(':id')
  @ApiOperation({ operationId: 'Keys_get', summary: 'One API key (masked)' })
  @ApiOkResponse({ type: ApiKeyResponse })
  @ApiNotFoundResponse({ type: ManagementErrorResponse })
  get(@Param('id') id: string): Promise<ApiKeyResponse> {
    return this.keys.get(id);
  }

  @Patch(':id')
  @ApiOperation({
    operationId: 'Keys_update',
    summary:
      'Update name, scopes, activation, model/connection allow lists, session limit, access schedule, RPM/RPD/TPM limits, budget (null clears)',
  })
  @ApiOkResponse({ schema: { type: 'object', properties: { message: { type: 'string' } } } })
  update(@Param('id') id: string, @Body() dto: UpdateApiKeyDto): Promise<Record<string, unknown>> {
    return this.keys.update(id, dto);
  }

  @Delete(':id')
  @HttpCode(200)
  @ApiOperation({
    operationId: 'Keys_delete',
    summary: 'Delete (revoke) an API key; effective on every replica at once',
  })
  @ApiOkResponse({ schema: { type: 'object', properties: { message: { type: 'string' } } } })
  remove(@Param('id') id: string): Promise<{ message: string }> {
    return this.keys.remove(id);
  }

  @Get(':id/reveal')
  @ApiOperation({
    operationId: 'Keys_reveal',
    summary: 'Always 403: keys are stored hashed and cannot be revealed',
  })
  @ApiForbiddenResponse({ type: ManagementErrorResponse })
  reveal(): never {
    throw AppError.forbidden(
      'API key reveal is not possible: only a hash of each key is stored. Create a new key instead.',
      'KEY_REVEAL_DISABLED',
    );
  }
}
