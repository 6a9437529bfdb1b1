import { ApiExtraModels, ApiProperty, ApiPropertyOptional, getSchemaPath } from '@nestjs/swagger';
import {
  COMBO_STRATEGIES,
  type Combo,
  type ComboConfig,
  type ComboStep,
  type ComboStrategy,
} from '@/combos/combo.types';

export class ComboModelStepResponse {
  @ApiProperty({ example: 'my-combo-model-1-openai-gpt-4o-mini' }) id!: string;
  @ApiProperty({ enum: ['model'] }) kind!: 'model';
  @ApiProperty({ example: 'openai/gpt-4o-mini' }) model!: string;
  @ApiProperty({ type: String, format: 'uuid', nullable: true }) connectionId!: string | null;
  @ApiProperty({ minimum: 0, maximum: 100 }) weight!: number;
  @ApiProperty({ type: String, nullable: true }) label!: string | null;
  @ApiProperty({ type: [String] }) tags!: string[];
}

export class ComboRefStepResponse {
  @ApiProperty({ example: 'my-combo-ref-2-fast-tier' }) id!: string;
  @ApiProperty({ enum: ['combo-ref'] }) kind!: 'combo-ref';
  @ApiProperty({ example: 'fast-tier' }) comboName!: string;
  @ApiProperty({ minimum: 0, maximum: 100 }) weight!: number;
}

export class ComboConfigResponse implements ComboConfig {
  @ApiPropertyOptional() maxRetries?: number;
  @ApiPropertyOptional() retryDelayMs?: number;
  @ApiPropertyOptional({ description: 'Default 3 when absent' }) maxComboDepth?: number;
  @ApiPropertyOptional() timeoutMs?: number;
}

@ApiExtraModels(ComboModelStepResponse, ComboRefStepResponse)
export class ComboResponse implements Combo {
  @ApiProperty({ format: 'uuid' }) id!: string;
  @ApiProperty({ example: 'auto/fast' }) name!: string;
  @ApiProperty({ enum: [2] }) version!: 2;
  @ApiProperty({ enum: COMBO_STRATEGIES }) strategy!: ComboStrategy;
  @ApiProperty({
    type: 'array',
    items: {
      oneOf: [
        { $ref: getSchemaPath(ComboModelStepResponse) },
        { $ref: getSchemaPath(ComboRefStepResponse) },
      ],
    },
  })
  models!: ComboStep[];
  @ApiProperty({ type: ComboConfigResponse }) config!: ComboConfig;
  @ApiProperty({ type: [String] }) allowedProviders!: string[];
  @ApiProperty({ type: String, nullable: true }) system_message!: string | null;
  @ApiProperty({ type: String, nullable: true }) tool_filter_regex!: string | null;
  @ApiProperty({ type: Number, nullable: true }) context_length!: number | null;
  @ApiProperty() isActive!: boolean;
  @ApiProperty() isHidden!: boolean;
  @ApiProperty() sortOrder!: number;
  @ApiProperty({ type: String, format: 'date-time' }) createdAt!: string;
  @ApiProperty({ type: String, format: 'date-time' }) updatedAt!: string;
}

export class ComboListResponse {
  @ApiProperty({ type: [ComboResponse] }) combos!: Combo[];
}

export class ComboDeletedResponse {
  @ApiProperty({ example: true }) success!: true;
}
