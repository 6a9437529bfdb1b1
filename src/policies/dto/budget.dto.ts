import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsIn, IsNumber, IsOptional, IsString, Length, Max, Min } from 'class-validator';
import { BUDGET_INTERVALS, type BudgetInterval, type KeyBudget } from '@/policies/policy.types';
import { KeyBudgetDto, KeyBudgetView } from './key-policy.dto';

/**
 * `POST /api/usage/budget`: the reference's body `{apiKeyId, dailyLimitUsd?, weeklyLimitUsd?,
 * monthlyLimitUsd?, warningThreshold?, resetInterval?, resetTime?}`, or the documented seed shape
 * `{keyId, limit, period}` (= `{apiKeyId: keyId, <period>LimitUsd: limit, resetInterval: period}`).
 */
export class SetBudgetDto extends KeyBudgetDto {
  @ApiPropertyOptional({ format: 'uuid', description: 'The API key (or `keyId`)' })
  @IsOptional()
  @IsString()
  @Length(1, 100)
  apiKeyId?: string;

  @ApiPropertyOptional({ format: 'uuid', description: 'Alias of `apiKeyId` (seed shape)' })
  @IsOptional()
  @IsString()
  @Length(1, 100)
  keyId?: string;

  @ApiPropertyOptional({
    minimum: 0,
    exclusiveMinimum: true,
    description: 'Seed shape: the limit (USD) of `period`',
  })
  @IsOptional()
  @IsNumber({ allowNaN: false, allowInfinity: false })
  @Min(0.000001)
  @Max(1_000_000)
  limit?: number;

  @ApiPropertyOptional({
    enum: BUDGET_INTERVALS,
    default: 'daily',
    description: 'Seed shape: which window `limit` applies to (also the reset interval)',
  })
  @IsOptional()
  @IsIn(BUDGET_INTERVALS)
  period?: BudgetInterval;
}

export class SetBudgetResponse {
  @ApiProperty({ example: true }) success!: true;
  @ApiProperty({ format: 'uuid' }) apiKeyId!: string;
  @ApiProperty({ type: KeyBudgetView }) budget!: KeyBudget;
}

export class BudgetCheckView {
  @ApiProperty({ description: 'There is room left in the active window (or no budget)' })
  allowed!: boolean;
  @ApiPropertyOptional({ example: 'Daily budget exceeded: $5.0123 / $5.00' }) reason?: string;
  @ApiProperty({ description: 'USD spent in the current day window' }) dailyUsed!: number;
  @ApiProperty({ type: Number, nullable: true }) dailyLimit!: number | null;
  @ApiProperty({ description: 'Spend reached limit × warningThreshold' }) warningReached!: boolean;
  @ApiProperty({ type: Number, nullable: true, description: 'limit − spent − reserved (≥ 0)' })
  remaining!: number | null;
  @ApiProperty({ description: 'USD spent in the active window' }) periodUsed!: number;
  @ApiProperty({ description: 'USD reserved by requests in flight' }) reservedUsd!: number;
  @ApiProperty({ type: Number, nullable: true }) activeLimitUsd!: number | null;
  @ApiProperty({ enum: BUDGET_INTERVALS }) resetInterval!: BudgetInterval;
  @ApiProperty({ example: '00:00' }) resetTime!: string;
  @ApiProperty({ format: 'date-time', description: 'The next reset' }) budgetResetAt!: string;
  @ApiProperty({ format: 'date-time' }) lastBudgetResetAt!: string;
  @ApiProperty({ format: 'date-time' }) periodStartAt!: string;
}

/** `GET /api/usage/budget` (reference §9.2), figures from the key-value store, USD. */
export class BudgetStatusResponse {
  @ApiProperty({ format: 'uuid' }) apiKeyId!: string;
  @ApiProperty({ description: 'USD spent in the current day window (at resetTime UTC)' })
  dailyTotal!: number;
  @ApiProperty({ description: 'USD spent in the current month window' }) monthlyTotal!: number;
  @ApiProperty({ description: 'Settled requests in the current month window' })
  totalEntries!: number;
  @ApiProperty({ type: KeyBudgetView, nullable: true }) budget!: KeyBudget | null;
  @ApiProperty() totalCostToday!: number;
  @ApiProperty() totalCostMonth!: number;
  @ApiProperty({ description: 'USD spent in the active window' }) totalCostPeriod!: number;
  @ApiProperty({ description: 'USD reserved by requests in flight' }) reservedUsd!: number;
  @ApiProperty({ type: Number, nullable: true }) activeLimitUsd!: number | null;
  @ApiProperty({ enum: BUDGET_INTERVALS }) resetInterval!: BudgetInterval;
  @ApiProperty({ example: '00:00' }) resetTime!: string;
  @ApiProperty({ format: 'date-time', description: 'The next reset' }) budgetResetAt!: string;
  @ApiProperty({ format: 'date-time' }) lastBudgetResetAt!: string;
  @ApiProperty({ format: 'date-time' }) periodStartAt!: string;
  @ApiProperty({ format: 'date-time' }) nextResetAt!: string;
  @ApiProperty({ type: Number, nullable: true }) dailyLimitUsd!: number | null;
  @ApiProperty({ type: Number, nullable: true }) weeklyLimitUsd!: number | null;
  @ApiProperty({ type: Number, nullable: true }) monthlyLimitUsd!: number | null;
  @ApiProperty({ example: 0.8 }) warningThreshold!: number;
  @ApiProperty({ type: BudgetCheckView }) budgetCheck!: BudgetCheckView;
}
