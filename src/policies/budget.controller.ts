import { Body, Controller, Get, HttpCode, Post, Query } from '@nestjs/common';
import {
  ApiBadRequestResponse,
  ApiNotFoundResponse,
  ApiOkResponse,
  ApiOperation,
  ApiQuery,
  ApiServiceUnavailableResponse,
  ApiTags,
  ApiUnauthorizedResponse,
} from '@nestjs/swagger';
import { ManagementErrorResponse } from '@/common/filters/error.response';
import { ManagementAuth } from '@/common/guards/public.decorator';
import { BudgetService } from './budget.service';
import { BudgetStatusResponse, SetBudgetDto, SetBudgetResponse } from './dto/budget.dto';

@ApiTags('usage')
@ManagementAuth()
@Controller('api/usage/budget')
export class BudgetController {
  constructor(private readonly budgets: BudgetService) {}

  @Get()
  @ApiOperation({
    operationId: 'Budget_get',
    summary: 'A key’s budget, spend (day, month, active window), reservations in flight, check',
  })
  @ApiQuery({ name: 'apiKeyId', required: true, description: 'The API key id' })
  @ApiOkResponse({ type: BudgetStatusResponse })
  @ApiBadRequestResponse({ type: ManagementErrorResponse })
  @ApiUnauthorizedResponse({ type: ManagementErrorResponse })
  @ApiNotFoundResponse({ type: ManagementErrorResponse })
  @ApiServiceUnavailableResponse({ type: ManagementErrorResponse })
  get(@Query('apiKeyId') apiKeyId?: string): Promise<BudgetStatusResponse> {
    return this.budgets.status(apiKeyId);
  }

  @Post()
  @HttpCode(200)
  @ApiOperation({
    operationId: 'Budget_set',
    summary:
      'Set a key’s budget: {apiKeyId, dailyLimitUsd?, weeklyLimitUsd?, monthlyLimitUsd?, warningThreshold?, resetInterval?, resetTime?} or {keyId, limit, period}',
  })
  @ApiOkResponse({ type: SetBudgetResponse })
  @ApiBadRequestResponse({ type: ManagementErrorResponse })
  @ApiUnauthorizedResponse({ type: ManagementErrorResponse })
  @ApiNotFoundResponse({ type: ManagementErrorResponse })
  set(@Body() dto: SetBudgetDto): Promise<SetBudgetResponse> {
    return this.budgets.set(dto);
  }
}
