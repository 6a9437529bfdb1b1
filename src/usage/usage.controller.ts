import { Controller, Get, Param, Query } from '@nestjs/common';
import {
  ApiBadRequestResponse,
  ApiExtraModels,
  ApiNotFoundResponse,
  ApiOkResponse,
  ApiOperation,
  ApiParam,
  ApiTags,
  ApiUnauthorizedResponse,
  getSchemaPath,
} from '@nestjs/swagger';
import { ManagementErrorResponse } from '@/common/filters/error.response';
import { ManagementAuth } from '@/common/guards/public.decorator';
import { UsageHistoryQueryDto, UsageLogsQueryDto, UsageRangeQueryDto } from './dto/usage-query.dto';
import {
  AccountUsageBucket,
  ApiKeyUsageBucket,
  CallLogPage,
  ConnectionUsageResponse,
  ModelUsageBucket,
  UsageBucket,
  UsageHistoryResponse,
  type CallLogsResponse,
} from './dto/usage.response';
import { UsageQueryService } from './usage-query.service';

/**
 * Only UUIDs match `GET /api/usage/{connectionId}` (a route constraint, not a pipe): the static
 * siblings (`history`, `logs`, `request-logs`, `budget`) and any other word never reach it.
 */
const CONNECTION_ID_ROUTE =
  ':connectionId(^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$)';

const LOGS_RESPONSE = {
  description:
    'Default: the OmniRoute string form, newest first. `?format=json`: a page of rows and a cursor.',
  schema: {
    oneOf: [
      {
        type: 'array',
        items: {
          type: 'string',
          example: '2026-01-01T12:00:00.000Z | gpt-4o | OPENAI | main | 120 | 48 | 200',
        },
      },
      { $ref: getSchemaPath(CallLogPage) },
    ],
  },
};

@ApiTags('usage')
@ManagementAuth()
@ApiExtraModels(
  UsageBucket,
  ModelUsageBucket,
  AccountUsageBucket,
  ApiKeyUsageBucket,
  CallLogPage,
  UsageHistoryResponse,
  ConnectionUsageResponse,
)
@ApiUnauthorizedResponse({ type: ManagementErrorResponse })
@Controller('api/usage')
export class UsageController {
  constructor(private readonly usage: UsageQueryService) {}

  @Get('history')
  @ApiOperation({
    operationId: 'Usage_history',
    summary: 'Usage totals and breakdowns over a time range (upstream attempts, default 24 h)',
    description:
      'Aggregates the usage ledger (one row per upstream attempt: a request that fell back counts ' +
      'each attempt) by provider, "provider/model", account and API key, plus ten one-minute ' +
      'buckets up to now and `calls` (client requests, from the request log). `[from, to)` is at ' +
      'most 366 days.',
  })
  @ApiOkResponse({ type: UsageHistoryResponse })
  @ApiBadRequestResponse({ type: ManagementErrorResponse, description: 'VALIDATION_FAILED' })
  history(@Query() q: UsageHistoryQueryDto): Promise<UsageHistoryResponse> {
    return this.usage.history(q);
  }

  @Get('logs')
  @ApiOperation({
    operationId: 'Usage_logs',
    summary: 'The newest client requests (call logs), OmniRoute string form or JSON pages',
  })
  @ApiOkResponse(LOGS_RESPONSE)
  @ApiBadRequestResponse({ type: ManagementErrorResponse, description: 'VALIDATION_FAILED' })
  logs(@Query() q: UsageLogsQueryDto): Promise<CallLogsResponse> {
    return this.usage.logs(q);
  }

  @Get('request-logs')
  @ApiOperation({
    operationId: 'Usage_requestLogs',
    summary: 'Same as GET /api/usage/logs (OmniRoute serves both paths)',
  })
  @ApiOkResponse(LOGS_RESPONSE)
  @ApiBadRequestResponse({ type: ManagementErrorResponse, description: 'VALIDATION_FAILED' })
  requestLogs(@Query() q: UsageLogsQueryDto): Promise<CallLogsResponse> {
    return this.usage.logs(q);
  }

  @Get(CONNECTION_ID_ROUTE)
  @ApiOperation({
    operationId: 'Usage_connection',
    summary: 'One provider connection’s usage from the gateway’s ledger (default 24 h)',
    description:
      'OmniRoute asks the provider for live quotas here; this gateway reports what it recorded: ' +
      'attempts, successes, failures, tokens and cost on that account over `[from, to)`, by model. ' +
      'A deleted connection keeps its history (`name: null`); an id that is neither a connection ' +
      'nor in the ledger is a 404. Non-UUID paths do not match this route.',
  })
  @ApiParam({ name: 'connectionId', format: 'uuid', type: String })
  @ApiOkResponse({ type: ConnectionUsageResponse })
  @ApiBadRequestResponse({ type: ManagementErrorResponse, description: 'VALIDATION_FAILED' })
  @ApiNotFoundResponse({ type: ManagementErrorResponse, description: 'CONNECTION_NOT_FOUND' })
  connection(
    @Param('connectionId') connectionId: string,
    @Query() q: UsageRangeQueryDto,
  ): Promise<ConnectionUsageResponse> {
    return this.usage.connection(connectionId.toLowerCase(), q);
  }
}
