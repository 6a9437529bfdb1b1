import { ApiPropertyOptional, ApiProperty } from '@nestjs/swagger';
import {
  IsArray,
  IsBoolean,
  IsIn,
  IsInt,
  IsOptional,
  IsString,
  Max,
  Min,
  ValidateIf,
} from 'class-validator';

export class RateLimitToggleDto {
  @ApiProperty({ format: 'uuid' })
  @IsString()
  connectionId!: string;

  @ApiPropertyOptional({
    type: Boolean,
    nullable: true,
    description: 'true/false; null = follow the global auto-enable setting',
  })
  @IsOptional()
  @ValidateIf((_o, v) => v !== null)
  @IsBoolean()
  enabled?: boolean | null;

  @ApiPropertyOptional({ type: Number, nullable: true, description: 'Requests per minute' })
  @IsOptional()
  @ValidateIf((_o, v) => v !== null)
  @IsInt()
  @Min(1)
  @Max(1_000_000)
  rpm?: number | null;

  @ApiPropertyOptional({ type: Number, nullable: true, description: 'Tokens per minute' })
  @IsOptional()
  @ValidateIf((_o, v) => v !== null)
  @IsInt()
  @Min(1)
  @Max(1_000_000_000)
  tpm?: number | null;
}

export class RateLimitConfigDto {
  @ApiPropertyOptional()
  @IsOptional()
  @IsBoolean()
  autoEnableApiKeyProviders?: boolean;

  @ApiPropertyOptional()
  @IsOptional()
  @IsInt()
  @Min(1)
  @Max(1_000_000)
  requestsPerMinute?: number;

  @ApiPropertyOptional({ description: '0 = no token limit' })
  @IsOptional()
  @IsInt()
  @Min(0)
  @Max(1_000_000_000)
  tokensPerMinute?: number;
}

export class AvailabilityQueryDto {
  @ApiPropertyOptional({ type: [String], description: 'Models or combo names to check' })
  @IsOptional()
  @IsArray()
  @IsString({ each: true })
  models?: string[];

  @ApiPropertyOptional({ enum: ['check', 'reset'], description: 'reset clears locks' })
  @IsOptional()
  @IsIn(['check', 'reset'])
  action?: 'check' | 'reset';

  @ApiPropertyOptional({ description: 'reset: this connection only' })
  @IsOptional()
  @IsString()
  connectionId?: string;

  @ApiPropertyOptional({ description: 'reset: this model only (with connectionId)' })
  @IsOptional()
  @IsString()
  model?: string;
}
