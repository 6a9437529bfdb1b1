import { Controller, Get, Query } from '@nestjs/common';
import {
  ApiBadRequestResponse,
  ApiExtraModels,
  ApiOkResponse,
  ApiOperation,
  ApiQuery,
  ApiTags,
  ApiUnauthorizedResponse,
} from '@nestjs/swagger';
import { AppError } from '@/common/errors/app-error';
import { ManagementErrorResponse } from '@/common/filters/error.response';
import { ManagementAuth } from '@/common/guards/public.decorator';
import { TelemetryGroupResponse, TelemetrySummaryResponse } from './dto/telemetry-summary.response';
import {
  DEFAULT_WINDOW_MS,
  MAX_WINDOW_MS,
  MIN_WINDOW_MS,
  TelemetryService,
} from './telemetry.service';

/** `windowMs` as a whole number of milliseconds in range, or a 400 naming the field. */
export function parseWindowMs(raw: unknown): number {
  if (raw === undefined) {
    return DEFAULT_WINDOW_MS;
  }
  const n = typeof raw === 'string' && /^\d{1,9}$/.test(raw.trim()) ? Number(raw) : Number.NaN;
  if (!(n >= MIN_WINDOW_MS && n <= MAX_WINDOW_MS)) {
    throw AppError.invalid(
      'Invalid request',
      {
        fields: [
          {
            field: 'windowMs',
            message: `windowMs must be an integer between ${MIN_WINDOW_MS} and ${MAX_WINDOW_MS}`,
          },
        ],
      },
      'VALIDATION_FAILED',
    );
  }
  return n;
}

@ApiTags('telemetry')
@ManagementAuth()
@ApiExtraModels(TelemetryGroupResponse)
@Controller('api/telemetry')
export class TelemetryController {
  constructor(private readonly telemetry: TelemetryService) {}

  @Get('summary')
  @ApiOperation({
    operationId: 'Telemetry_summary',
    summary:
      'Request latency p50/p95/p99, upstream TTFB and gateway overhead, error rate, per provider (reference §9.3)',
  })
  @ApiQuery({
    name: 'windowMs',
    required: false,
    schema: {
      type: 'integer',
      minimum: MIN_WINDOW_MS,
      maximum: MAX_WINDOW_MS,
      default: DEFAULT_WINDOW_MS,
    },
    description: 'Look-back window in milliseconds',
  })
  @ApiOkResponse({ type: TelemetrySummaryResponse })
  @ApiBadRequestResponse({ type: ManagementErrorResponse })
  @ApiUnauthorizedResponse({ type: ManagementErrorResponse })
  summary(@Query('windowMs') windowMs?: unknown): Promise<TelemetrySummaryResponse> {
    return this.telemetry.summary(parseWindowMs(windowMs));
  }
}
