import { AppError } from '@/common/errors/app-error';
import {
  ALL_DAYS,
  type AccessSchedule,
  BUDGET_INTERVALS,
  type BudgetInterval,
  DEFAULT_RESET_TIME,
  DEFAULT_WARNING_THRESHOLD,
  HHMM_RE,
  type KeyBudget,
  POLICY_LIMITS,
  activeLimitUsd,
} from './policy.types';
import { isKnownTimeZone } from './schedule';

/** What a request body may carry for a budget (already type-checked by class-validator). */
export interface BudgetInput {
  dailyLimitUsd?: number | null;
  weeklyLimitUsd?: number | null;
  monthlyLimitUsd?: number | null;
  warningThreshold?: number | null;
  resetInterval?: BudgetInterval | null;
  resetTime?: string | null;
}

export interface ScheduleInput {
  enabled?: boolean | null;
  from?: string;
  until?: string;
  days?: number[] | null;
  tz?: string | null;
}

type FieldError = { field: string; message: string };

function invalid(fields: FieldError[]): AppError {
  return AppError.invalid(
    `Invalid request: ${fields.map((f) => f.message).join('; ')}`,
    { fields },
    'VALIDATION_FAILED',
  );
}

const isLimit = (v: unknown): v is number =>
  typeof v === 'number' && Number.isFinite(v) && v > 0 && v <= POLICY_LIMITS.budgetUsd;

/**
 * A budget as stored: the limits given (> 0), `warningThreshold` (default 0.8), `resetTime`
 * (default 00:00 UTC) and `resetInterval` — when absent, the shortest interval that has a limit.
 * At least one limit is required, and the interval must select one (reference §9.2). Throws 400
 * VALIDATION_FAILED listing `<field>.<name>`.
 */
export function normalizeBudget(input: BudgetInput, field = 'budget'): KeyBudget {
  const errors: FieldError[] = [];
  const at = (name: string): string => (field ? `${field}.${name}` : name);
  const out: KeyBudget = {
    warningThreshold: DEFAULT_WARNING_THRESHOLD,
    resetInterval: 'daily',
    resetTime: DEFAULT_RESET_TIME,
  };
  for (const name of ['dailyLimitUsd', 'weeklyLimitUsd', 'monthlyLimitUsd'] as const) {
    const v = input[name];
    if (v === undefined || v === null) {
      continue;
    }
    if (isLimit(v)) {
      out[name] = v;
    } else {
      errors.push({
        field: at(name),
        message: `${at(name)} must be a number > 0 and ≤ ${POLICY_LIMITS.budgetUsd}`,
      });
    }
  }
  const t = input.warningThreshold;
  if (t !== undefined && t !== null) {
    if (typeof t === 'number' && t >= 0 && t <= 1) {
      out.warningThreshold = t;
    } else {
      errors.push({
        field: at('warningThreshold'),
        message: `${at('warningThreshold')} must be between 0 and 1`,
      });
    }
  }
  const rt = input.resetTime;
  if (rt !== undefined && rt !== null) {
    if (typeof rt === 'string' && HHMM_RE.test(rt)) {
      out.resetTime = rt;
    } else {
      errors.push({ field: at('resetTime'), message: `${at('resetTime')} must be "HH:MM" (UTC)` });
    }
  }
  const ri = input.resetInterval;
  if (ri !== undefined && ri !== null) {
    if ((BUDGET_INTERVALS as readonly string[]).includes(ri)) {
      out.resetInterval = ri;
    } else {
      errors.push({
        field: at('resetInterval'),
        message: `${at('resetInterval')} must be one of ${BUDGET_INTERVALS.join(', ')}`,
      });
    }
  } else {
    out.resetInterval =
      out.dailyLimitUsd !== undefined
        ? 'daily'
        : out.weeklyLimitUsd !== undefined
          ? 'weekly'
          : out.monthlyLimitUsd !== undefined
            ? 'monthly'
            : 'daily';
  }
  if (errors.length) {
    throw invalid(errors);
  }
  if (
    out.dailyLimitUsd === undefined &&
    out.weeklyLimitUsd === undefined &&
    out.monthlyLimitUsd === undefined
  ) {
    throw invalid([
      {
        field: at('dailyLimitUsd'),
        message: 'at least one of dailyLimitUsd, weeklyLimitUsd, monthlyLimitUsd is required',
      },
    ]);
  }
  if (activeLimitUsd(out) === null) {
    const need =
      out.resetInterval === 'daily'
        ? 'dailyLimitUsd'
        : `${out.resetInterval}LimitUsd or dailyLimitUsd`;
    throw invalid([
      {
        field: at('resetInterval'),
        message: `resetInterval ${out.resetInterval} needs ${need}`,
      },
    ]);
  }
  return out;
}

/**
 * A schedule as stored: `enabled` (default true), `from`/`until` "HH:MM", `days` sorted and
 * unique (default every day, at least one), `tz` an IANA zone (default UTC).
 */
export function normalizeSchedule(input: ScheduleInput, field = 'accessSchedule'): AccessSchedule {
  const errors: FieldError[] = [];
  const at = (name: string): string => `${field}.${name}`;
  for (const name of ['from', 'until'] as const) {
    const v = input[name];
    if (typeof v !== 'string' || !HHMM_RE.test(v)) {
      errors.push({ field: at(name), message: `${at(name)} must be "HH:MM" (00:00–23:59)` });
    }
  }
  const days = input.days ?? ALL_DAYS;
  if (
    !Array.isArray(days) ||
    days.length === 0 ||
    days.some((d) => typeof d !== 'number' || !Number.isInteger(d) || d < 0 || d > 6)
  ) {
    errors.push({
      field: at('days'),
      message: `${at('days')} must list at least one weekday, 0 (Sunday) … 6 (Saturday)`,
    });
  }
  const tz = input.tz ?? 'UTC';
  if (typeof tz !== 'string' || !isKnownTimeZone(tz)) {
    errors.push({ field: at('tz'), message: `${at('tz')} must be an IANA time zone` });
  }
  if (errors.length) {
    throw invalid(errors);
  }
  return {
    enabled: input.enabled ?? true,
    from: input.from!,
    until: input.until!,
    days: [...new Set(days)].sort((a, b) => a - b),
    tz,
  };
}
