import { ApiProperty, ApiPropertyOptional, OmitType, PartialType } from '@nestjs/swagger';
import {
  IsBoolean,
  IsIn,
  IsInt,
  IsObject,
  IsOptional,
  IsString,
  IsUrl,
  Length,
  Matches,
  Max,
  MaxLength,
  Min,
  ValidateIf,
} from 'class-validator';
import { NODE_API_TYPES, NODE_TYPES } from '@/providers/registry';

export class CreateProviderDto {
  @ApiProperty({
    description: 'Built-in provider id or alias (openai, groq, ...) or a provider node id',
    example: 'openai',
  })
  @IsString()
  @Length(1, 100)
  provider!: string;

  @ApiProperty({ minLength: 1, maxLength: 200, example: 'team-account' })
  @IsString()
  @Length(1, 200)
  name!: string;

  @ApiPropertyOptional({ description: 'Upstream API key; encrypted at rest, never returned' })
  @IsOptional()
  @IsString()
  @MaxLength(10_000)
  apiKey?: string;

  @ApiPropertyOptional({
    minimum: 1,
    maximum: 100,
    default: 1,
    description: 'Lower is preferred (fill-first)',
  })
  @IsOptional()
  @IsInt()
  @Min(1)
  @Max(100)
  priority?: number;

  @ApiPropertyOptional({ minimum: 1, maximum: 100, nullable: true })
  @IsOptional()
  @ValidateIf((_o, v) => v !== null)
  @IsInt()
  @Min(1)
  @Max(100)
  globalPriority?: number | null;

  @ApiPropertyOptional()
  @IsOptional()
  @IsString()
  @MaxLength(300)
  defaultModel?: string;

  @ApiPropertyOptional({ description: 'false: never selected' })
  @IsOptional()
  @IsBoolean()
  isActive?: boolean;

  @ApiPropertyOptional({
    type: 'object',
    additionalProperties: true,
    description:
      'Free-form; `baseUrl` overrides the registry base URL (regional endpoint, proxy, local server)',
  })
  @IsOptional()
  @IsObject()
  providerSpecificData?: Record<string, unknown>;
}

/** Partial update: any field of a connection but its provider; `defaultModel: null` clears it. */
export class UpdateProviderDto extends PartialType(
  OmitType(CreateProviderDto, ['provider', 'defaultModel'] as const),
) {
  @ApiPropertyOptional({ nullable: true })
  @IsOptional()
  @ValidateIf((_o, v) => v !== null)
  @IsString()
  @MaxLength(300)
  defaultModel?: string | null;
}

export class ValidateProviderDto {
  @ApiProperty({ example: 'openai' })
  @IsString()
  @Length(1, 100)
  provider!: string;

  @ApiPropertyOptional()
  @IsOptional()
  @IsString()
  @MaxLength(10_000)
  apiKey?: string;

  @ApiPropertyOptional({ description: 'Overrides the provider base URL (SSRF-checked)' })
  @IsOptional()
  @IsUrl({ require_tld: false, protocols: ['http', 'https'], require_protocol: true })
  baseUrl?: string;
}

export class TestProviderDto {
  @ApiPropertyOptional({ description: 'Model to probe with (default: list models)' })
  @IsOptional()
  @IsString()
  @MaxLength(300)
  validationModelId?: string;
}

const PATH_RE = /^\/[A-Za-z0-9._~\-/{}]*$/;

export class CreateProviderNodeDto {
  @ApiProperty({ minLength: 1, maxLength: 200 })
  @IsString()
  @Length(1, 200)
  name!: string;

  @ApiProperty({ description: 'Model prefix clients use: `<prefix>/<model>`', example: 'local' })
  @IsString()
  @Matches(/^[a-z0-9][a-z0-9._-]{0,99}$/i, {
    message: 'prefix must be 1-100 letters, digits, ".", "_" or "-"',
  })
  prefix!: string;

  @ApiPropertyOptional({ enum: NODE_TYPES, default: 'openai-compatible' })
  @IsOptional()
  @IsIn(NODE_TYPES)
  type?: (typeof NODE_TYPES)[number];

  @ApiPropertyOptional({ enum: NODE_API_TYPES, default: 'chat' })
  @IsOptional()
  @IsIn(NODE_API_TYPES)
  apiType?: (typeof NODE_API_TYPES)[number];

  @ApiPropertyOptional({ default: 'https://api.openai.com/v1' })
  @IsOptional()
  @IsUrl({ require_tld: false, protocols: ['http', 'https'], require_protocol: true })
  baseUrl?: string;

  @ApiPropertyOptional({ example: '/chat/completions' })
  @IsOptional()
  @Matches(PATH_RE, { message: 'chatPath must start with /' })
  @MaxLength(300)
  chatPath?: string;

  @ApiPropertyOptional({ example: '/models' })
  @IsOptional()
  @Matches(PATH_RE, { message: 'modelsPath must start with /' })
  @MaxLength(300)
  modelsPath?: string;
}

export class UpdateProviderNodeDto {
  @ApiPropertyOptional({ minLength: 1, maxLength: 200 })
  @IsOptional()
  @IsString()
  @Length(1, 200)
  name?: string;

  @ApiPropertyOptional()
  @IsOptional()
  @IsString()
  @Matches(/^[a-z0-9][a-z0-9._-]{0,99}$/i, {
    message: 'prefix must be 1-100 letters, digits, ".", "_" or "-"',
  })
  prefix?: string;

  @ApiPropertyOptional({ enum: NODE_API_TYPES })
  @IsOptional()
  @IsIn(NODE_API_TYPES)
  apiType?: (typeof NODE_API_TYPES)[number];

  @ApiPropertyOptional()
  @IsOptional()
  @IsUrl({ require_tld: false, protocols: ['http', 'https'], require_protocol: true })
  baseUrl?: string;

  @ApiPropertyOptional({ nullable: true })
  @IsOptional()
  @ValidateIf((_o, v) => v !== null)
  @Matches(PATH_RE, { message: 'chatPath must start with /' })
  @MaxLength(300)
  chatPath?: string | null;

  @ApiPropertyOptional({ nullable: true })
  @IsOptional()
  @ValidateIf((_o, v) => v !== null)
  @Matches(PATH_RE, { message: 'modelsPath must start with /' })
  @MaxLength(300)
  modelsPath?: string | null;
}
