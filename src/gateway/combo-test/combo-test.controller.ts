import { Body, Controller, HttpCode, Post } from '@nestjs/common';
import {
  ApiBadRequestResponse,
  ApiNotFoundResponse,
  ApiOkResponse,
  ApiOperation,
  ApiProperty,
  ApiPropertyOptional,
  ApiTags,
} from '@nestjs/swagger';
import { IsString, MaxLength, MinLength } from 'class-validator';
import { ManagementErrorResponse } from '@/common/filters/error.response';
import { ManagementAuth } from '@/common/guards/public.decorator';
import { ComboTester, type ComboTestResult } from './combo-tester.service';

export class ComboTestDto {
  @ApiProperty({ example: 'my-combo' })
  @IsString()
  @MinLength(1)
  @MaxLength(100)
  comboName!: string;
}

class ComboTargetRefDoc {
  @ApiProperty({ example: 'openai/gpt-4o' }) model!: string;
  @ApiProperty() provider!: string;
  @ApiProperty({ type: String, nullable: true }) stepId!: string | null;
  @ApiProperty({ type: String, nullable: true }) executionKey!: string | null;
  @ApiProperty({ type: String, nullable: true }) connectionId!: string | null;
  @ApiProperty({ type: String, nullable: true }) label!: string | null;
}

class ComboTargetResultDoc extends ComboTargetRefDoc {
  @ApiProperty() ok!: boolean;
  @ApiProperty({ type: Number, nullable: true }) status!: number | null;
  @ApiProperty() latencyMs!: number;
  @ApiProperty({ type: String, nullable: true }) error!: string | null;
}

class UnresolvedDoc {
  @ApiProperty() model!: string;
  @ApiProperty() stepId!: string;
  @ApiProperty() reason!: string;
}

export class ComboTestResponse {
  @ApiProperty() comboName!: string;
  @ApiProperty() strategy!: string;
  @ApiProperty({ type: String, nullable: true }) resolvedBy!: string | null;
  @ApiProperty({ type: String, nullable: true }) resolvedByExecutionKey!: string | null;
  @ApiPropertyOptional({ type: ComboTargetRefDoc, nullable: true })
  resolvedByTarget!: ComboTargetRefDoc | null;
  @ApiProperty({ type: [ComboTargetResultDoc] }) results!: ComboTargetResultDoc[];
  @ApiProperty({ type: [UnresolvedDoc] }) unresolved!: UnresolvedDoc[];
}

@ApiTags('combos')
@ManagementAuth()
@Controller('api/combos/test')
export class ComboTestController {
  constructor(private readonly tester: ComboTester) {}

  @Post()
  @HttpCode(200)
  @ApiOperation({
    operationId: 'Combos_test',
    summary: 'Call every target of a combo once; report which answer and which one would serve',
  })
  @ApiOkResponse({ type: ComboTestResponse })
  @ApiBadRequestResponse({ type: ManagementErrorResponse })
  @ApiNotFoundResponse({ type: ManagementErrorResponse })
  test(@Body() dto: ComboTestDto): Promise<ComboTestResult> {
    return this.tester.test(dto.comboName);
  }
}
