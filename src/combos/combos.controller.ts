import { Body, Controller, Delete, Get, HttpCode, Param, Post, Put } from '@nestjs/common';
import {
  ApiBadRequestResponse,
  ApiConflictResponse,
  ApiCreatedResponse,
  ApiNotFoundResponse,
  ApiOkResponse,
  ApiOperation,
  ApiTags,
} from '@nestjs/swagger';
import { ManagementErrorResponse } from '@/common/filters/error.response';
import { ManagementAuth } from '@/common/guards/public.decorator';
import type { Combo } from './combo.types';
import { CombosService } from './combos.service';
import { CreateComboDto, ReorderCombosDto, UpdateComboDto } from './dto/combo.dto';
import { ComboDeletedResponse, ComboListResponse, ComboResponse } from './dto/combo.response';

@ApiTags('combos')
@ManagementAuth()
@Controller('api/combos')
export class CombosController {
  constructor(private readonly combos: CombosService) {}

  @Get()
  @ApiOperation({ operationId: 'Combos_list', summary: 'Every combo, by sortOrder' })
  @ApiOkResponse({ type: ComboListResponse })
  async list(): Promise<ComboListResponse> {
    return { combos: await this.combos.findAll() };
  }

  @Post()
  @ApiOperation({
    operationId: 'Combos_create',
    summary: 'Create a combo (steps normalised, references checked for cycles and depth)',
  })
  @ApiCreatedResponse({ type: ComboResponse })
  @ApiBadRequestResponse({ type: ManagementErrorResponse })
  create(@Body() dto: CreateComboDto): Promise<Combo> {
    return this.combos.create(dto);
  }

  @Post('reorder')
  @HttpCode(200)
  @ApiOperation({
    operationId: 'Combos_reorder',
    summary: 'Set the order: listed ids first, the others after in their current order',
  })
  @ApiOkResponse({ type: ComboListResponse })
  @ApiBadRequestResponse({ type: ManagementErrorResponse })
  async reorder(@Body() dto: ReorderCombosDto): Promise<ComboListResponse> {
    return { combos: await this.combos.reorder(dto.comboIds) };
  }

  @Get(':id')
  @ApiOperation({ operationId: 'Combos_get', summary: 'One combo' })
  @ApiOkResponse({ type: ComboResponse })
  @ApiNotFoundResponse({ type: ManagementErrorResponse })
  get(@Param('id') id: string): Promise<Combo> {
    return this.combos.get(id);
  }

  @Put(':id')
  @ApiOperation({
    operationId: 'Combos_update',
    summary: 'Partial update (config replaced as a whole); renaming a referenced combo is 409',
  })
  @ApiOkResponse({ type: ComboResponse })
  @ApiBadRequestResponse({ type: ManagementErrorResponse })
  @ApiNotFoundResponse({ type: ManagementErrorResponse })
  @ApiConflictResponse({ type: ManagementErrorResponse })
  update(@Param('id') id: string, @Body() dto: UpdateComboDto): Promise<Combo> {
    return this.combos.update(id, dto);
  }

  @Delete(':id')
  @ApiOperation({
    operationId: 'Combos_delete',
    summary: 'Delete a combo; 409 while another combo references it',
  })
  @ApiOkResponse({ type: ComboDeletedResponse })
  @ApiNotFoundResponse({ type: ManagementErrorResponse })
  @ApiConflictResponse({ type: ManagementErrorResponse })
  remove(@Param('id') id: string): Promise<{ success: true }> {
    return this.combos.remove(id);
  }
}
