import { ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import {
  IsIn,
  IsInt,
  IsISO8601,
  IsOptional,
  IsString,
  IsUUID,
  Length,
  Max,
  MaxLength,
  Min,
} from 'class-validator';

/** Longest `from`..`to` window of the aggregate endpoints. */
export const MAX_RANGE_DAYS = 366;
export const LOGS_DEFAULT_LIMIT = 200;
export const LOGS_MAX_LIMIT = 1000;

const ISO = { strict: true } as const;

/** `?from&to`: ISO 8601 times; `[from, to)`; default the last 24 hours. */
export class UsageRangeQueryDto {
  @ApiPropertyOptional({
    format: 'date-time',
    description: 'Start, inclusive (ISO 8601). Default: `to` minus 24 hours.',
    example: '2026-01-01T00:00:00Z',
  })
  @IsOptional()
  @IsISO8601(ISO, { message: 'from must be an ISO 8601 date-time' })
  from?: string;

  @ApiPropertyOptional({
    format: 'date-time',
    description: `End, exclusive (ISO 8601). Default: now. At most ${MAX_RANGE_DAYS} days after \`from\`.`,
  })
  @IsOptional()
  @IsISO8601(ISO, { message: 'to must be an ISO 8601 date-time' })
  to?: string;
}

export class UsageHistoryQueryDto extends UsageRangeQueryDto {
  @ApiPropertyOptional({ format: 'uuid', description: 'Only this client API key' })
  @IsOptional()
  @IsUUID('all', { message: 'apiKeyId must be a UUID' })
  apiKeyId?: string;

  @ApiPropertyOptional({ description: 'Only this provider id (exact), e.g. `openai`' })
  @IsOptional()
  @IsString()
  @Length(1, 120)
  provider?: string;

  @ApiPropertyOptional({ description: 'Only this upstream model id (exact), e.g. `gpt-4o`' })
  @IsOptional()
  @IsString()
  @Length(1, 300)
  model?: string;

  @ApiPropertyOptional({ format: 'uuid', description: 'Only this provider connection (account)' })
  @IsOptional()
  @IsUUID('all', { message: 'connectionId must be a UUID' })
  connectionId?: string;
}

export const LOG_FORMATS = ['text', 'json'] as const;

export class UsageLogsQueryDto {
  @ApiPropertyOptional({
    minimum: 1,
    maximum: LOGS_MAX_LIMIT,
    default: LOGS_DEFAULT_LIMIT,
    description: 'Rows per page',
  })
  @IsOptional()
  @Type(() => Number)
  @IsInt({ message: `limit must be an integer from 1 to ${LOGS_MAX_LIMIT}` })
  @Min(1, { message: `limit must be an integer from 1 to ${LOGS_MAX_LIMIT}` })
  @Max(LOGS_MAX_LIMIT, { message: `limit must be an integer from 1 to ${LOGS_MAX_LIMIT}` })
  limit?: number;

  @ApiPropertyOptional({
    enum: LOG_FORMATS,
    default: 'text',
    description:
      '`text` (default, OmniRoute): an array of `"<ts> | <model> | <PROVIDER> | <account> | <in> | <out> | <status>"` ' +
      'strings. `json`: `{items, nextCursor}` with every column.',
  })
  @IsOptional()
  @IsIn(LOG_FORMATS, { message: 'format must be text or json' })
  format?: (typeof LOG_FORMATS)[number];

  @ApiPropertyOptional({
    description: 'The `nextCursor` of the previous page (opaque): rows older than its last row',
  })
  @IsOptional()
  @IsString()
  @MaxLength(200)
  cursor?: string;

  @ApiPropertyOptional({ format: 'uuid' })
  @IsOptional()
  @IsUUID('all', { message: 'apiKeyId must be a UUID' })
  apiKeyId?: string;

  @ApiPropertyOptional({ description: 'Provider id (exact)' })
  @IsOptional()
  @IsString()
  @Length(1, 120)
  provider?: string;

  @ApiPropertyOptional({ description: 'Served or requested model (exact)' })
  @IsOptional()
  @IsString()
  @Length(1, 300)
  model?: string;

  @ApiPropertyOptional({
    minimum: 100,
    maximum: 599,
    description: 'HTTP status sent to the client',
  })
  @IsOptional()
  @Type(() => Number)
  @IsInt({ message: 'status must be an HTTP status (100-599)' })
  @Min(100, { message: 'status must be an HTTP status (100-599)' })
  @Max(599, { message: 'status must be an HTTP status (100-599)' })
  status?: number;

  @ApiPropertyOptional({ enum: ['true', 'false'] })
  @IsOptional()
  @IsIn(['true', 'false'], { message: 'success must be true or false' })
  success?: 'true' | 'false';

  @ApiPropertyOptional({ description: 'Combo name (exact)' })
  @IsOptional()
  @IsString()
  @Length(1, 100)
  comboName?: string;

  @ApiPropertyOptional({ format: 'date-time', description: 'Inclusive' })
  @IsOptional()
  @IsISO8601(ISO, { message: 'from must be an ISO 8601 date-time' })
  from?: string;

  @ApiPropertyOptional({ format: 'date-time', description: 'Exclusive' })
  @IsOptional()
  @IsISO8601(ISO, { message: 'to must be an ISO 8601 date-time' })
  to?: string;

  @ApiPropertyOptional({ description: 'The request id (x-request-id) of one call' })
  @IsOptional()
  @IsString()
  @Length(1, 128)
  requestId?: string;
}
