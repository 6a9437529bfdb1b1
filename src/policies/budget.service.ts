import { Inject, Injectable } from '@nestjs/common';
import { AppError } from '@/common/errors/app-error';
import { KV_STORE, type KvStore } from '@/common/kv/kv-store';
import { KeysService } from '@/keys/keys.service';
import type { BudgetStatusResponse, SetBudgetDto, SetBudgetResponse } from './dto/budget.dto';
import { type BudgetInput, normalizeBudget } from './normalize';
import {
  DEFAULT_RESET_TIME,
  DEFAULT_WARNING_THRESHOLD,
  activeLimitUsd,
  formatLimitUsd,
  intervalLabel,
  minutesOf,
} from './policy.types';
import { budgetWindow, policyKeys } from './windows';

const usd = (micros: number): number => micros / 1e6;

function missingKeyId(): AppError {
  return AppError.invalid(
    'Invalid request: apiKeyId is required',
    { fields: [{ field: 'apiKeyId', message: 'apiKeyId is required' }] },
    'VALIDATION_FAILED',
  );
}

/**
 * `GET/POST /api/usage/budget` (reference §9.2): a key's budget lives on the key (set through
 * KeysService, so every replica's key cache drops it at once); its figures — spend per window,
 * reservations in flight — come from the key-value store the admissions and settles write.
 */
@Injectable()
export class BudgetService {
  constructor(
    private readonly keys: KeysService,
    @Inject(KV_STORE) private readonly kv: KvStore,
  ) {}

  async set(dto: SetBudgetDto): Promise<SetBudgetResponse> {
    const apiKeyId = dto.apiKeyId ?? dto.keyId;
    if (!apiKeyId) {
      throw missingKeyId();
    }
    const input: BudgetInput = {
      dailyLimitUsd: dto.dailyLimitUsd,
      weeklyLimitUsd: dto.weeklyLimitUsd,
      monthlyLimitUsd: dto.monthlyLimitUsd,
      warningThreshold: dto.warningThreshold,
      resetInterval: dto.resetInterval ?? dto.period,
      resetTime: dto.resetTime,
    };
    if (dto.limit !== undefined) {
      const period = dto.period ?? dto.resetInterval ?? 'daily';
      input[`${period}LimitUsd`] = dto.limit;
      input.resetInterval = period;
    }
    const budget = normalizeBudget(input, '');
    await this.keys.update(apiKeyId, { budget });
    return { success: true, apiKeyId, budget };
  }

  async status(apiKeyId: string | undefined): Promise<BudgetStatusResponse> {
    if (!apiKeyId) {
      throw missingKeyId();
    }
    const key = await this.keys.get(apiKeyId);
    const budget = key.budget;
    const now = Date.now();
    const interval = budget?.resetInterval ?? 'daily';
    const resetTime = budget?.resetTime ?? DEFAULT_RESET_TIME;
    const resetMinutes = minutesOf(resetTime);
    const win = budgetWindow(interval, resetMinutes, now);
    const day = budgetWindow('daily', resetMinutes, now);
    const month = budgetWindow('monthly', resetMinutes, now);
    const [period, daySpend, monthSpend] = await Promise.all([
      budget
        ? this.kv.hgetall(policyKeys.budget(key.id, interval, win.start))
        : Promise.resolve({} as Record<string, string>),
      this.kv.hgetall(policyKeys.spend(key.id, 'day', day.start)),
      this.kv.hgetall(policyKeys.spend(key.id, 'month', month.start)),
    ]).catch((e: Error) => {
      throw new AppError(
        'BUDGET_UNAVAILABLE',
        'UNAVAILABLE',
        `Budget figures unavailable: ${e.message}`,
      );
    });
    const num = (v: string | undefined): number => {
      const n = Number(v ?? 0);
      return Number.isFinite(n) ? n : 0;
    };
    // Reservations still held (an expired one is released by the next admission).
    let reserved = 0;
    for (const [field, value] of Object.entries(period)) {
      if (field.startsWith('r:')) {
        const [micros, exp] = value.split(':');
        if (num(exp) > now) {
          reserved += num(micros);
        }
      }
    }
    const spent = num(period.spent);
    const limitUsd = budget ? activeLimitUsd(budget) : null;
    const limit = limitUsd === null ? null : Math.round(limitUsd * 1e6);
    const threshold = budget?.warningThreshold ?? DEFAULT_WARNING_THRESHOLD;
    const allowed = limit === null || spent + reserved < limit;
    const iso = (ms: number): string => new Date(ms).toISOString();
    const shared = {
      activeLimitUsd: limitUsd,
      resetInterval: interval,
      resetTime,
      budgetResetAt: iso(win.end),
      lastBudgetResetAt: iso(win.start),
      periodStartAt: iso(win.start),
    };
    return {
      apiKeyId: key.id,
      dailyTotal: usd(num(daySpend.spent)),
      monthlyTotal: usd(num(monthSpend.spent)),
      totalEntries: num(monthSpend.n),
      budget,
      totalCostToday: usd(num(daySpend.spent)),
      totalCostMonth: usd(num(monthSpend.spent)),
      totalCostPeriod: usd(spent),
      reservedUsd: usd(reserved),
      ...shared,
      nextResetAt: iso(win.end),
      dailyLimitUsd: budget?.dailyLimitUsd ?? null,
      weeklyLimitUsd: budget?.weeklyLimitUsd ?? null,
      monthlyLimitUsd: budget?.monthlyLimitUsd ?? null,
      warningThreshold: threshold,
      budgetCheck: {
        allowed,
        ...(allowed
          ? {}
          : {
              reason: `${intervalLabel(interval)} budget exceeded: $${usd(spent + reserved).toFixed(4)} / $${formatLimitUsd(limitUsd ?? 0)}`,
            }),
        dailyUsed: usd(num(daySpend.spent)),
        dailyLimit: budget?.dailyLimitUsd ?? null,
        warningReached: limit !== null && spent >= limit * threshold,
        remaining: limit === null ? null : usd(Math.max(0, limit - spent - reserved)),
        periodUsed: usd(spent),
        reservedUsd: usd(reserved),
        ...shared,
      },
    };
  }
}
