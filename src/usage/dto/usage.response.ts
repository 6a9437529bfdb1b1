import { ApiProperty, ApiPropertyOptional, getSchemaPath } from '@nestjs/swagger';

/** Sums over upstream attempts (usage_records rows). */
export class UsageBucket {
  @ApiProperty({ description: 'Upstream attempts (a fallback counts each attempt)' })
  requests!: number;
  @ApiProperty({ description: 'Failed attempts' }) errors!: number;
  @ApiProperty() promptTokens!: number;
  @ApiProperty() completionTokens!: number;
  @ApiProperty() cacheReadTokens!: number;
  @ApiProperty() cacheCreationTokens!: number;
  @ApiProperty() reasoningTokens!: number;
  @ApiProperty({ description: 'Images generated (image requests)' }) images!: number;
  @ApiProperty({ description: 'Seconds of audio transcribed' }) audioSeconds!: number;
  @ApiProperty({ description: 'USD' }) cost!: number;
  @ApiPropertyOptional({ nullable: true, format: 'date-time' }) lastUsed!: string | null;
}

export class ModelUsageBucket extends UsageBucket {
  @ApiProperty({ example: 'openai' }) provider!: string;
  @ApiProperty({ example: 'gpt-4o' }) model!: string;
}

export class AccountUsageBucket extends UsageBucket {
  @ApiPropertyOptional({
    nullable: true,
    description: 'Connection name; null when the connection was deleted since',
  })
  name!: string | null;
  @ApiPropertyOptional({ nullable: true }) provider!: string | null;
}

export class ApiKeyUsageBucket extends UsageBucket {
  @ApiPropertyOptional({ nullable: true, description: 'The key name recorded with its usage' })
  name!: string | null;
}

export class MinuteBucket {
  @ApiProperty({ format: 'date-time', description: 'Start of the minute (UTC)' }) minute!: string;
  @ApiProperty() requests!: number;
  @ApiProperty() promptTokens!: number;
  @ApiProperty() completionTokens!: number;
  @ApiProperty({ description: 'promptTokens + completionTokens' }) tokens!: number;
  @ApiProperty({ description: 'USD' }) cost!: number;
}

export class UsageRange {
  @ApiProperty({ format: 'date-time', description: 'Inclusive' }) from!: string;
  @ApiProperty({ format: 'date-time', description: 'Exclusive' }) to!: string;
}

export class CallCounts {
  @ApiProperty({ description: 'Client requests (call_logs rows) in the range' }) total!: number;
  @ApiProperty({ description: 'Client requests answered with an error' }) failed!: number;
}

const mapOf = (model: new () => unknown, description: string): Record<string, unknown> => ({
  type: 'object',
  additionalProperties: { $ref: getSchemaPath(model) },
  description,
});

export class UsageHistoryResponse {
  @ApiProperty({ description: 'Upstream attempts in the range' }) totalRequests!: number;
  @ApiProperty() totalPromptTokens!: number;
  @ApiProperty() totalCompletionTokens!: number;
  @ApiProperty() totalCacheReadTokens!: number;
  @ApiProperty() totalCacheCreationTokens!: number;
  @ApiProperty() totalReasoningTokens!: number;
  @ApiProperty({ description: 'Images generated' }) totalImages!: number;
  @ApiProperty({ description: 'Seconds of audio transcribed' }) totalAudioSeconds!: number;
  @ApiProperty({ description: 'USD' }) totalCost!: number;
  @ApiProperty({
    description:
      'Successful attempts / attempts, in percent (0-100, 2 decimals); 0 without attempts',
  })
  successRate!: number;
  @ApiProperty({ type: CallCounts }) calls!: CallCounts;
  @ApiProperty(mapOf(UsageBucket, 'By provider id ("unknown" when none was resolved)'))
  byProvider!: Record<string, UsageBucket>;
  @ApiProperty(mapOf(ModelUsageBucket, 'By "provider/model"'))
  byModel!: Record<string, ModelUsageBucket>;
  @ApiProperty(mapOf(AccountUsageBucket, 'By connection id (attempts with no account left out)'))
  byAccount!: Record<string, AccountUsageBucket>;
  @ApiProperty(mapOf(ApiKeyUsageBucket, 'By API key id (keyless requests left out)'))
  byApiKey!: Record<string, ApiKeyUsageBucket>;
  @ApiProperty({
    type: [MinuteBucket],
    description:
      'The last ten one-minute buckets, oldest first, ending with the current minute (independent of from/to; the other filters apply)',
  })
  last10Minutes!: MinuteBucket[];
  @ApiProperty({ type: UsageRange }) range!: UsageRange;
}

export class TokenCounts {
  @ApiProperty() input!: number;
  @ApiProperty() output!: number;
  @ApiProperty() cacheRead!: number;
  @ApiProperty() cacheCreation!: number;
  @ApiProperty() reasoning!: number;
}

export class ConnectionUsageResponse {
  @ApiProperty({ format: 'uuid' }) connectionId!: string;
  @ApiPropertyOptional({ nullable: true }) provider!: string | null;
  @ApiPropertyOptional({
    nullable: true,
    description: 'Connection name; null when the connection was deleted since',
  })
  name!: string | null;
  @ApiProperty({ description: 'Upstream attempts on this account in the range' }) requests!: number;
  @ApiProperty() success!: number;
  @ApiProperty() failed!: number;
  @ApiProperty({ type: TokenCounts }) tokens!: TokenCounts;
  @ApiProperty({ description: 'Images generated' }) images!: number;
  @ApiProperty({ description: 'Seconds of audio transcribed' }) audioSeconds!: number;
  @ApiProperty({ description: 'USD' }) cost!: number;
  @ApiPropertyOptional({
    nullable: true,
    format: 'date-time',
    description: 'The newest attempt on this account, ever (not only in the range)',
  })
  lastUsedAt!: string | null;
  @ApiProperty(mapOf(UsageBucket, 'By upstream model id'))
  byModel!: Record<string, UsageBucket>;
  @ApiProperty({ type: UsageRange }) range!: UsageRange;
}

/** One call_logs row, camelCase. */
export class CallLogItem {
  @ApiProperty({ format: 'uuid' }) id!: string;
  @ApiProperty() requestId!: string;
  @ApiProperty({ format: 'date-time' }) createdAt!: string;
  @ApiProperty() method!: string;
  @ApiProperty() path!: string;
  @ApiProperty({ example: 'openai' }) surface!: string;
  @ApiProperty() status!: number;
  @ApiProperty() success!: boolean;
  @ApiProperty() stream!: boolean;
  @ApiPropertyOptional({ nullable: true }) requestedModel!: string | null;
  @ApiPropertyOptional({ nullable: true }) provider!: string | null;
  @ApiPropertyOptional({ nullable: true }) model!: string | null;
  @ApiPropertyOptional({ nullable: true, format: 'uuid' }) connectionId!: string | null;
  @ApiPropertyOptional({ nullable: true }) account!: string | null;
  @ApiPropertyOptional({ nullable: true, format: 'uuid' }) apiKeyId!: string | null;
  @ApiPropertyOptional({ nullable: true }) apiKeyName!: string | null;
  @ApiPropertyOptional({ nullable: true }) comboName!: string | null;
  @ApiPropertyOptional({ nullable: true }) comboStepId!: string | null;
  @ApiProperty() attempts!: number;
  @ApiPropertyOptional({ nullable: true, enum: ['upstream', 'cache'] }) cacheSource!: string | null;
  @ApiProperty() idempotentReplay!: boolean;
  @ApiPropertyOptional({ nullable: true }) sessionId!: string | null;
  @ApiProperty() tokensInput!: number;
  @ApiProperty() tokensOutput!: number;
  @ApiProperty() tokensCacheRead!: number;
  @ApiProperty() tokensCacheCreation!: number;
  @ApiProperty() tokensReasoning!: number;
  @ApiProperty() images!: number;
  @ApiProperty() audioSeconds!: number;
  @ApiProperty({ description: 'USD' }) costUsd!: number;
  @ApiProperty() durationMs!: number;
  @ApiPropertyOptional({ nullable: true }) ttftMs!: number | null;
  @ApiPropertyOptional({ nullable: true }) errorCode!: string | null;
  @ApiPropertyOptional({ nullable: true }) errorSummary!: string | null;
  @ApiPropertyOptional({ nullable: true }) requestSummary!: string | null;
}

export class CallLogPage {
  @ApiProperty({ type: [CallLogItem], description: 'Newest first' }) items!: CallLogItem[];
  @ApiPropertyOptional({
    nullable: true,
    description: 'Pass as `cursor` for the next (older) page; null on the last page',
  })
  nextCursor!: string | null;
}

/** The OmniRoute string form, or the JSON page with `?format=json`. */
export type CallLogsResponse = string[] | CallLogPage;
