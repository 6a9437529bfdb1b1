import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import {
  ArrayMaxSize,
  ArrayUnique,
  IsArray,
  IsBoolean,
  IsDateString,
  IsIn,
  IsInt,
  IsObject,
  IsOptional,
  IsString,
  IsUUID,
  Length,
  Max,
  MaxLength,
  Min,
  ValidateIf,
  ValidateNested,
} from 'class-validator';
import { AccessScheduleDto, KEY_LIMIT_DOCS, KeyBudgetDto } from '@/policies/dto/key-policy.dto';
import { POLICY_LIMITS } from '@/policies/policy.types';

export const SCOPES = ['inference', 'admin'] as const;

/** The highest `maxSessions` a key may be given. */
export const MAX_SESSIONS_LIMIT = 100_000;

const MAX_SESSIONS_DOC = {
  type: Number,
  nullable: true,
  minimum: 1,
  maximum: MAX_SESSIONS_LIMIT,
  example: 5,
  description:
    'Most concurrently active sessions (a session is active until 30 min without requests); ' +
    'a request opening one more gets 429 SESSION_LIMIT_EXCEEDED. null or absent = unlimited.',
} as const;

/** Per-key limits and policies, the same on create and update (`null` clears one). */
export class KeyPolicyFieldsDto {
  @ApiPropertyOptional(MAX_SESSIONS_DOC)
  @IsOptional()
  @ValidateIf((_o, v) => v !== null)
  @IsInt()
  @Min(1)
  @Max(MAX_SESSIONS_LIMIT)
  maxSessions?: number | null;

  @ApiPropertyOptional({
    type: AccessScheduleDto,
    nullable: true,
    description: 'Hours and weekdays the key may be used (403 outside them); null = always',
  })
  @IsOptional()
  @ValidateIf((_o, v) => v !== null)
  @IsObject()
  @ValidateNested()
  @Type(() => AccessScheduleDto)
  accessSchedule?: AccessScheduleDto | null;

  @ApiPropertyOptional(KEY_LIMIT_DOCS.maxRequestsPerMinute)
  @IsOptional()
  @ValidateIf((_o, v) => v !== null)
  @IsInt()
  @Min(1)
  @Max(POLICY_LIMITS.maxRequestsPerMinute)
  maxRequestsPerMinute?: number | null;

  @ApiPropertyOptional(KEY_LIMIT_DOCS.maxRequestsPerDay)
  @IsOptional()
  @ValidateIf((_o, v) => v !== null)
  @IsInt()
  @Min(1)
  @Max(POLICY_LIMITS.maxRequestsPerDay)
  maxRequestsPerDay?: number | null;

  @ApiPropertyOptional(KEY_LIMIT_DOCS.maxTokensPerMinute)
  @IsOptional()
  @ValidateIf((_o, v) => v !== null)
  @IsInt()
  @Min(1)
  @Max(POLICY_LIMITS.maxTokensPerMinute)
  maxTokensPerMinute?: number | null;

  @ApiPropertyOptional({
    type: KeyBudgetDto,
    nullable: true,
    description:
      'Spending limit, enforced with a reservation per request (429 when exceeded); null = none',
  })
  @IsOptional()
  @ValidateIf((_o, v) => v !== null)
  @IsObject()
  @ValidateNested()
  @Type(() => KeyBudgetDto)
  budget?: KeyBudgetDto | null;
}

export class CreateApiKeyDto extends KeyPolicyFieldsDto {
  @ApiProperty({ minLength: 1, maxLength: 200, example: 'ci-pipeline' })
  @IsString()
  @Length(1, 200)
  name!: string;

  @ApiPropertyOptional({ enum: SCOPES, isArray: true, default: ['inference'] })
  @IsOptional()
  @IsArray()
  @ArrayUnique()
  @IsIn(SCOPES, { each: true })
  scopes?: ('inference' | 'admin')[];

  @ApiPropertyOptional({ description: 'Keep usage counts but no request bodies in logs' })
  @IsOptional()
  @IsBoolean()
  noLog?: boolean;

  @ApiPropertyOptional({
    type: String,
    format: 'date-time',
    description: 'The key stops working after this time',
  })
  @IsOptional()
  @IsDateString()
  expiresAt?: string;
}

export class UpdateApiKeyDto extends KeyPolicyFieldsDto {
  @ApiPropertyOptional({ minLength: 1, maxLength: 200 })
  @IsOptional()
  @IsString()
  @Length(1, 200)
  name?: string;

  @ApiPropertyOptional({ enum: SCOPES, isArray: true })
  @IsOptional()
  @IsArray()
  @ArrayUnique()
  @IsIn(SCOPES, { each: true })
  scopes?: ('inference' | 'admin')[];

  @ApiPropertyOptional()
  @IsOptional()
  @IsBoolean()
  noLog?: boolean;

  @ApiPropertyOptional()
  @IsOptional()
  @IsBoolean()
  isActive?: boolean;

  @ApiPropertyOptional({ type: [String], description: 'Model ids or globs (empty: all)' })
  @IsOptional()
  @IsArray()
  @ArrayMaxSize(1000)
  @IsString({ each: true })
  @MaxLength(300, { each: true })
  allowedModels?: string[];

  @ApiPropertyOptional({ type: [String], description: 'Provider connection ids (empty: all)' })
  @IsOptional()
  @IsArray()
  @ArrayMaxSize(100)
  @IsUUID('all', { each: true })
  allowedConnections?: string[];

  @ApiPropertyOptional({ type: String, format: 'date-time', nullable: true })
  @IsOptional()
  @IsDateString()
  expiresAt?: string | null;
}
