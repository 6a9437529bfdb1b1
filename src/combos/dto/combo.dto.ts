import {
  ApiExtraModels,
  ApiProperty,
  ApiPropertyOptional,
  PartialType,
  getSchemaPath,
} from '@nestjs/swagger';
import {
  ArrayMaxSize,
  ArrayNotEmpty,
  ArrayUnique,
  IsArray,
  IsBoolean,
  IsIn,
  IsInt,
  IsObject,
  IsOptional,
  IsString,
  Length,
  Matches,
  Max,
  MaxLength,
  Min,
  ValidateIf,
  registerDecorator,
  type ValidationOptions,
} from 'class-validator';
import { COMBO_NAME_RE, MAX_STEPS } from '@/combos/combo-steps';
import { COMBO_STRATEGY_INPUTS } from '@/combos/combo.types';

/** The value compiles as a JavaScript regular expression. */
function IsCompilableRegex(options?: ValidationOptions): PropertyDecorator {
  return (target: object, propertyName: string | symbol) =>
    registerDecorator({
      name: 'isCompilableRegex',
      target: target.constructor,
      propertyName: String(propertyName),
      options: { message: '$property must be a valid regular expression', ...options },
      validator: {
        validate(value: unknown): boolean {
          if (typeof value !== 'string') {
            return false;
          }
          try {
            new RegExp(value);
            return true;
          } catch {
            return false;
          }
        },
      },
    });
}

/** Swagger only: a model step as sent (`models[]` object form). */
export class ComboModelStepInput {
  @ApiPropertyOptional({ enum: ['model'], default: 'model' }) kind?: 'model';
  @ApiProperty({ example: 'openai/gpt-4o-mini', maxLength: 300 }) model!: string;
  @ApiPropertyOptional({ format: 'uuid', nullable: true, description: 'Pin to one connection' })
  connectionId?: string | null;
  @ApiPropertyOptional({ minimum: 0, maximum: 100, default: 0, description: 'For `weighted`' })
  weight?: number;
  @ApiPropertyOptional({ nullable: true, maxLength: 200 }) label?: string | null;
  @ApiPropertyOptional({ type: [String], maxItems: 20 }) tags?: string[];
}

/** Swagger only: a reference to another combo (`models[]` object form). */
export class ComboRefStepInput {
  @ApiProperty({ enum: ['combo-ref'] }) kind!: 'combo-ref';
  @ApiProperty({ example: 'fast-tier' }) comboName!: string;
  @ApiPropertyOptional({
    minimum: 0,
    maximum: 100,
    default: 0,
    description: 'Ignored when routing',
  })
  weight?: number;
}

/** Swagger only: the strict per-combo config. */
export class ComboConfigInput {
  @ApiPropertyOptional({ minimum: 0, maximum: 10, description: 'Same-target retries' })
  maxRetries?: number;
  @ApiPropertyOptional({ minimum: 0, maximum: 60_000 }) retryDelayMs?: number;
  @ApiPropertyOptional({ minimum: 1, maximum: 5, default: 3, description: 'Nesting limit' })
  maxComboDepth?: number;
  @ApiPropertyOptional({ minimum: 1_000, maximum: 3_600_000 }) timeoutMs?: number;
}

@ApiExtraModels(ComboModelStepInput, ComboRefStepInput, ComboConfigInput)
export class CreateComboDto {
  @ApiProperty({
    minLength: 1,
    maxLength: 100,
    pattern: COMBO_NAME_RE.source,
    example: 'auto/fast',
  })
  @IsString()
  @Length(1, 100)
  @Matches(COMBO_NAME_RE, {
    message: 'name may contain only letters, digits, "_", "/", "." and "-"',
  })
  name!: string;

  @ApiProperty({
    description:
      'Steps in order. A string is `provider/model`, or a combo reference when it has no "/" and ' +
      'names an existing combo (any other bare string is a model).',
    type: 'array',
    minItems: 1,
    maxItems: MAX_STEPS,
    items: {
      oneOf: [
        { type: 'string' },
        { $ref: getSchemaPath(ComboModelStepInput) },
        { $ref: getSchemaPath(ComboRefStepInput) },
      ],
    },
    example: ['openai/gpt-4o-mini', { model: 'anthropic/claude-3-5-haiku', weight: 20 }],
  })
  @IsArray()
  @ArrayNotEmpty()
  @ArrayMaxSize(MAX_STEPS)
  models!: unknown[];

  @ApiPropertyOptional({
    enum: COMBO_STRATEGY_INPUTS,
    default: 'priority',
    description:
      'Aliases are stored as their canonical name (fill-first → priority, usage → ' +
      'least-used, latency → lowest-latency, cost → cost-optimized)',
  })
  @IsOptional()
  @IsIn(COMBO_STRATEGY_INPUTS)
  strategy?: string;

  @ApiPropertyOptional({
    type: ComboConfigInput,
    description: 'Strict: unknown keys are refused. Replaced as a whole on update.',
  })
  @IsOptional()
  @IsObject()
  config?: Record<string, unknown>;

  @ApiPropertyOptional({
    type: [String],
    description: 'When not empty, only targets of these providers (prefix before "/") are used',
  })
  @IsOptional()
  @IsArray()
  @ArrayMaxSize(100)
  @IsString({ each: true })
  @Length(1, 100, { each: true })
  allowedProviders?: string[];

  @ApiPropertyOptional({ nullable: true, maxLength: 50_000 })
  @IsOptional()
  @ValidateIf((_o, v) => v !== null)
  @IsString()
  @MaxLength(50_000)
  system_message?: string | null;

  @ApiPropertyOptional({
    nullable: true,
    maxLength: 1000,
    description: 'Only tools whose name matches are sent',
  })
  @IsOptional()
  @ValidateIf((_o, v) => v !== null)
  @IsString()
  @MaxLength(1000)
  @IsCompilableRegex()
  tool_filter_regex?: string | null;

  @ApiPropertyOptional({ nullable: true, minimum: 1000, maximum: 2_000_000 })
  @IsOptional()
  @ValidateIf((_o, v) => v !== null)
  @IsInt()
  @Min(1000)
  @Max(2_000_000)
  context_length?: number | null;

  @ApiPropertyOptional({ default: true, description: 'false: not routable, not listed' })
  @IsOptional()
  @IsBoolean()
  isActive?: boolean;

  @ApiPropertyOptional({ default: false, description: 'true: routable but not in /v1/models' })
  @IsOptional()
  @IsBoolean()
  isHidden?: boolean;
}

/** Partial update: any field of a combo. */
export class UpdateComboDto extends PartialType(CreateComboDto) {}

export class ReorderCombosDto {
  @ApiProperty({
    type: [String],
    description: 'Combo ids in their new order; combos not listed keep their order after these',
  })
  @IsArray()
  @ArrayNotEmpty()
  @ArrayMaxSize(10_000)
  @ArrayUnique({ message: 'comboIds must not contain duplicates' })
  @IsString({ each: true })
  comboIds!: string[];
}
