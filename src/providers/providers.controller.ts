import { Body, Controller, Delete, Get, HttpCode, Param, Post, Put, Query } from '@nestjs/common';
import {
  ApiBadRequestResponse,
  ApiCreatedResponse,
  ApiNotFoundResponse,
  ApiOkResponse,
  ApiOperation,
  ApiQuery,
  ApiTags,
} from '@nestjs/swagger';
import { ManagementErrorResponse } from '@/common/filters/error.response';
import { ManagementAuth } from '@/common/guards/public.decorator';
import {
  CreateProviderDto,
  TestProviderDto,
  UpdateProviderDto,
  ValidateProviderDto,
} from './dto/provider.dto';
import {
  ConnectionEnvelope,
  ConnectionListResponse,
  ProviderModelsResponse,
  ProviderTestResponse,
  ProviderValidateResponse,
} from './dto/provider.response';
import { ProvidersService } from './providers.service';

@ApiTags('providers')
@ManagementAuth()
@Controller('api/providers')
export class ProvidersController {
  constructor(private readonly providers: ProvidersService) {}

  @Get()
  @ApiOperation({
    operationId: 'Providers_list',
    summary: 'Provider connections (secrets never returned)',
  })
  @ApiOkResponse({ type: ConnectionListResponse })
  async list(): Promise<ConnectionListResponse> {
    return { connections: await this.providers.listConnections() };
  }

  @Post()
  @ApiOperation({
    operationId: 'Providers_create',
    summary: 'Create an API-key connection (same provider + name updates it)',
  })
  @ApiCreatedResponse({ type: ConnectionEnvelope })
  @ApiBadRequestResponse({ type: ManagementErrorResponse })
  async create(@Body() dto: CreateProviderDto): Promise<ConnectionEnvelope> {
    return { connection: await this.providers.createConnection(dto) };
  }

  @Post('validate')
  @HttpCode(200)
  @ApiOperation({
    operationId: 'Providers_validate',
    summary: 'Check a key against the provider without saving it',
  })
  @ApiOkResponse({ type: ProviderValidateResponse })
  validate(@Body() dto: ValidateProviderDto): Promise<ProviderValidateResponse> {
    return this.providers.validate(dto);
  }

  @Get(':id')
  @ApiOperation({ operationId: 'Providers_get', summary: 'One connection' })
  @ApiOkResponse({ type: ConnectionEnvelope })
  @ApiNotFoundResponse({ type: ManagementErrorResponse })
  async get(@Param('id') id: string): Promise<ConnectionEnvelope> {
    return { connection: await this.providers.getConnection(id) };
  }

  @Put(':id')
  @ApiOperation({
    operationId: 'Providers_update',
    summary: 'Partial update; providerSpecificData is merged',
  })
  @ApiOkResponse({ type: ConnectionEnvelope })
  async update(
    @Param('id') id: string,
    @Body() dto: UpdateProviderDto,
  ): Promise<ConnectionEnvelope> {
    return { connection: await this.providers.updateConnection(id, dto) };
  }

  @Delete(':id')
  @ApiOperation({ operationId: 'Providers_delete', summary: 'Delete a connection' })
  @ApiOkResponse({ schema: { type: 'object', properties: { message: { type: 'string' } } } })
  remove(@Param('id') id: string): Promise<{ message: string }> {
    return this.providers.deleteConnection(id);
  }

  @Post(':id/test')
  @HttpCode(200)
  @ApiOperation({
    operationId: 'Providers_test',
    summary: 'Live check of the stored credential; records testStatus',
  })
  @ApiOkResponse({ type: ProviderTestResponse })
  test(@Param('id') id: string, @Body() dto: TestProviderDto): Promise<ProviderTestResponse> {
    return this.providers.testConnection(id, dto?.validationModelId);
  }

  @Get(':id/models')
  @ApiOperation({
    operationId: 'Providers_models',
    summary: 'Models of a connection (live discovery, else cached or registry)',
  })
  @ApiQuery({ name: 'refresh', required: false, type: Boolean })
  @ApiOkResponse({ type: ProviderModelsResponse })
  models(
    @Param('id') id: string,
    @Query('refresh') refresh?: string,
  ): Promise<ProviderModelsResponse> {
    return this.providers.connectionModels(id, refresh === 'true' || refresh === '1');
  }
}
