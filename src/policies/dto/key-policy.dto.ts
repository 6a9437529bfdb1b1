import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import {
  ArrayMaxSize,
  ArrayMinSize,
  ArrayUnique,
  IsArray,
  IsBoolean,
  IsIn,
  IsInt,
  IsNumber,
  IsOptional,
  IsString,
  IsTimeZone,
  Matches,
  Max,
  Min,
} from 'class-validator';
import {
  BUDGET_INTERVALS,
  type BudgetInterval,
  HHMM_RE,
  POLICY_LIMITS,
} from '@/policies/policy.types';

const HHMM_MESSAGE = (field: string): string => `${field} must be "HH:MM" (00:00–23:59)`;

/** `accessSchedule` in key bodies (reference §3.7). */
export class AccessScheduleDto {
  @ApiPropertyOptional({ default: true, description: 'false keeps the schedule but ignores it' })
  @IsOptional()
  @IsBoolean()
  enabled?: boolean;

  @ApiProperty({ example: '09:00', pattern: HHMM_RE.source, description: 'Local time, inclusive' })
  @IsString()
  @Matches(HHMM_RE, { message: HHMM_MESSAGE('from') })
  from!: string;

  @ApiProperty({
    example: '18:00',
    pattern: HHMM_RE.source,
    description:
      'Local time, exclusive. Before `from`: an overnight range (22:00–06:00), whose part after ' +
      'midnight belongs to the previous day’s window. Equal to `from`: the whole day.',
  })
  @IsString()
  @Matches(HHMM_RE, { message: HHMM_MESSAGE('until') })
  until!: string;

  @ApiPropertyOptional({
    type: [Number],
    example: [1, 2, 3, 4, 5],
    description: 'Allowed weekdays, 0 = Sunday … 6 = Saturday (default: every day)',
  })
  @IsOptional()
  @IsArray()
  @ArrayMinSize(1)
  @ArrayMaxSize(7)
  @ArrayUnique()
  @IsInt({ each: true })
  @Min(0, { each: true })
  @Max(6, { each: true })
  days?: number[];

  @ApiPropertyOptional({ example: 'Europe/Berlin', default: 'UTC', description: 'IANA time zone' })
  @IsOptional()
  @IsString()
  @IsTimeZone()
  tz?: string;
}

/** `budget` in key bodies (reference §9.2); at least one limit. */
export class KeyBudgetDto {
  @ApiPropertyOptional({ minimum: 0, exclusiveMinimum: true, example: 5 })
  @IsOptional()
  @IsNumber({ allowNaN: false, allowInfinity: false })
  @Min(0.000001)
  @Max(POLICY_LIMITS.budgetUsd)
  dailyLimitUsd?: number;

  @ApiPropertyOptional({ minimum: 0, exclusiveMinimum: true })
  @IsOptional()
  @IsNumber({ allowNaN: false, allowInfinity: false })
  @Min(0.000001)
  @Max(POLICY_LIMITS.budgetUsd)
  weeklyLimitUsd?: number;

  @ApiPropertyOptional({ minimum: 0, exclusiveMinimum: true })
  @IsOptional()
  @IsNumber({ allowNaN: false, allowInfinity: false })
  @Min(0.000001)
  @Max(POLICY_LIMITS.budgetUsd)
  monthlyLimitUsd?: number;

  @ApiPropertyOptional({ minimum: 0, maximum: 1, default: 0.8 })
  @IsOptional()
  @IsNumber({ allowNaN: false, allowInfinity: false })
  @Min(0)
  @Max(1)
  warningThreshold?: number;

  @ApiPropertyOptional({
    enum: BUDGET_INTERVALS,
    description:
      'Which limit is active: daily → dailyLimitUsd; weekly → weeklyLimitUsd or dailyLimitUsd; ' +
      'monthly → monthlyLimitUsd or dailyLimitUsd. Default: the shortest interval with a limit.',
  })
  @IsOptional()
  @IsIn(BUDGET_INTERVALS)
  resetInterval?: BudgetInterval;

  @ApiPropertyOptional({
    example: '00:00',
    default: '00:00',
    pattern: HHMM_RE.source,
    description: 'UTC time the window resets (weeks on Monday, months on the 1st)',
  })
  @IsOptional()
  @IsString()
  @Matches(HHMM_RE, { message: HHMM_MESSAGE('resetTime') })
  resetTime?: string;
}

export class AccessScheduleView {
  @ApiProperty() enabled!: boolean;
  @ApiProperty({ example: '09:00' }) from!: string;
  @ApiProperty({ example: '18:00' }) until!: string;
  @ApiProperty({ type: [Number], example: [1, 2, 3, 4, 5] }) days!: number[];
  @ApiProperty({ example: 'Europe/Berlin' }) tz!: string;
}

export class KeyBudgetView {
  @ApiPropertyOptional() dailyLimitUsd?: number;
  @ApiPropertyOptional() weeklyLimitUsd?: number;
  @ApiPropertyOptional() monthlyLimitUsd?: number;
  @ApiProperty({ example: 0.8 }) warningThreshold!: number;
  @ApiProperty({ enum: BUDGET_INTERVALS }) resetInterval!: BudgetInterval;
  @ApiProperty({ example: '00:00' }) resetTime!: string;
}

/** The per-key limits as OpenAPI documents them (null or absent = none; null clears). */
export const KEY_LIMIT_DOCS = {
  maxRequestsPerMinute: {
    type: Number,
    nullable: true,
    minimum: 1,
    maximum: POLICY_LIMITS.maxRequestsPerMinute,
    example: 60,
    description: 'Requests per rolling minute; more → 429 with Retry-After. null = unlimited.',
  },
  maxRequestsPerDay: {
    type: Number,
    nullable: true,
    minimum: 1,
    maximum: POLICY_LIMITS.maxRequestsPerDay,
    example: 10_000,
    description: 'Requests per UTC day; more → 429 until midnight UTC. null = unlimited.',
  },
  maxTokensPerMinute: {
    type: Number,
    nullable: true,
    minimum: 1,
    maximum: POLICY_LIMITS.maxTokensPerMinute,
    example: 100_000,
    description:
      'Tokens per rolling minute: each request reserves its estimate (input + max output, 4096 ' +
      'when unset) until its actual tokens are known. null = unlimited.',
  },
} as const;
