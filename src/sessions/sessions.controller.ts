import { Controller, Get, Query } from '@nestjs/common';
import {
  ApiBadRequestResponse,
  ApiOkResponse,
  ApiOperation,
  ApiQuery,
  ApiServiceUnavailableResponse,
  ApiTags,
  ApiUnauthorizedResponse,
} from '@nestjs/swagger';
import { AppError } from '@/common/errors/app-error';
import { ManagementErrorResponse } from '@/common/filters/error.response';
import { ManagementAuth } from '@/common/guards/public.decorator';
import { SessionsListResponse } from './dto/session.response';
import { ANONYMOUS_KEY, SessionsService } from './sessions.service';

const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

@ApiTags('sessions')
@ManagementAuth()
@Controller('api/sessions')
export class SessionsController {
  constructor(private readonly sessions: SessionsService) {}

  @Get()
  @ApiOperation({
    operationId: 'Sessions_list',
    summary: 'Active client sessions (30 min idle TTL), newest first, with counts per API key',
  })
  @ApiQuery({
    name: 'apiKeyId',
    required: false,
    description: 'Only this key’s sessions (a key id, or `anon` for requests without a key)',
  })
  @ApiOkResponse({ type: SessionsListResponse })
  @ApiBadRequestResponse({ type: ManagementErrorResponse })
  @ApiUnauthorizedResponse({ type: ManagementErrorResponse })
  @ApiServiceUnavailableResponse({ type: ManagementErrorResponse })
  list(@Query('apiKeyId') apiKeyId?: string): Promise<SessionsListResponse> {
    if (apiKeyId !== undefined && apiKeyId !== ANONYMOUS_KEY && !UUID_RE.test(apiKeyId)) {
      throw AppError.invalid(
        'Invalid request',
        { fields: [{ field: 'apiKeyId', message: 'apiKeyId must be an API key id or "anon"' }] },
        'VALIDATION_FAILED',
      );
    }
    return this.sessions.list(apiKeyId?.toLowerCase());
  }
}
