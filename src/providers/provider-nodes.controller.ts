import { Body, Controller, Delete, Get, Param, Post, Put } from '@nestjs/common';
import {
  ApiCreatedResponse,
  ApiNotFoundResponse,
  ApiOkResponse,
  ApiOperation,
  ApiTags,
} from '@nestjs/swagger';
import { ManagementErrorResponse } from '@/common/filters/error.response';
import { ManagementAuth } from '@/common/guards/public.decorator';
import { CreateProviderNodeDto, UpdateProviderNodeDto } from './dto/provider.dto';
import { NodeEnvelope, NodeListResponse } from './dto/provider.response';
import { ProvidersService } from './providers.service';

@ApiTags('provider-nodes')
@ManagementAuth()
@Controller('api/provider-nodes')
export class ProviderNodesController {
  constructor(private readonly providers: ProvidersService) {}

  @Get()
  @ApiOperation({
    operationId: 'ProviderNodes_list',
    summary: 'Custom OpenAI-compatible endpoints',
  })
  @ApiOkResponse({ type: NodeListResponse })
  async list(): Promise<NodeListResponse> {
    return { nodes: await this.providers.listNodes(), ccCompatibleProviderEnabled: false };
  }

  @Post()
  @ApiOperation({
    operationId: 'ProviderNodes_create',
    summary: 'Create a node; its prefix routes `prefix/model`',
  })
  @ApiCreatedResponse({ type: NodeEnvelope })
  async create(@Body() dto: CreateProviderNodeDto): Promise<NodeEnvelope> {
    return { node: await this.providers.createNode(dto) };
  }

  @Get(':id')
  @ApiOperation({ operationId: 'ProviderNodes_get', summary: 'One node' })
  @ApiOkResponse({ type: NodeEnvelope })
  @ApiNotFoundResponse({ type: ManagementErrorResponse })
  async get(@Param('id') id: string): Promise<NodeEnvelope> {
    return { node: await this.providers.getNode(id) };
  }

  @Put(':id')
  @ApiOperation({ operationId: 'ProviderNodes_update', summary: 'Update a node' })
  @ApiOkResponse({ type: NodeEnvelope })
  async update(@Param('id') id: string, @Body() dto: UpdateProviderNodeDto): Promise<NodeEnvelope> {
    return { node: await this.providers.updateNode(id, dto) };
  }

  @Delete(':id')
  @ApiOperation({
    operationId: 'ProviderNodes_delete',
    summary: 'Delete a node and its connections',
  })
  @ApiOkResponse({ schema: { type: 'object', properties: { message: { type: 'string' } } } })
  remove(@Param('id') id: string): Promise<{ message: string }> {
    return this.providers.deleteNode(id);
  }
}
