/**
 * Per-key policy shapes, stored on `api_keys` (jsonb / integer columns) and carried on the cached
 * `KeyPrincipal`, so the hot path reads them without a query.
 */

/** Weekdays are 0 = Sunday … 6 = Saturday (reference §8.3). */
export const ALL_DAYS: readonly number[] = [0, 1, 2, 3, 4, 5, 6];

/** "HH:MM", 00:00 … 23:59. */
export const HHMM_RE = /^([01]\d|2[0-3]):[0-5]\d$/;

/**
 * When a key may be used: on `days`, local time (in `tz`) in `[from, until)`. `until` before
 * `from` is an overnight range (22:00–06:00): the part after midnight belongs to the window that
 * opened the day before, so its weekday is the previous day's. `from === until` = the whole day.
 */
export interface AccessSchedule {
  enabled: boolean;
  from: string;
  until: string;
  days: number[];
  /** IANA time zone; an unknown one at run time lets requests through (reference §8.3). */
  tz: string;
}

export const BUDGET_INTERVALS = ['daily', 'weekly', 'monthly'] as const;
export type BudgetInterval = (typeof BUDGET_INTERVALS)[number];

/**
 * A key's spending limit (reference §9.2). One limit is active, chosen by `resetInterval`:
 * daily → `dailyLimitUsd`; weekly → `weeklyLimitUsd` or else `dailyLimitUsd`; monthly →
 * `monthlyLimitUsd` or else `dailyLimitUsd`. Windows are UTC-aligned at `resetTime`; weeks start
 * on Monday, months on the 1st.
 */
export interface KeyBudget {
  dailyLimitUsd?: number;
  weeklyLimitUsd?: number;
  monthlyLimitUsd?: number;
  /** 0..1: a warning is logged once per window when spend reaches limit × threshold. */
  warningThreshold: number;
  resetInterval: BudgetInterval;
  /** "HH:MM", UTC. */
  resetTime: string;
}

export const DEFAULT_WARNING_THRESHOLD = 0.8;
export const DEFAULT_RESET_TIME = '00:00';

/** The policy fields of a key, as stored and as the principal carries them. */
export interface KeyPolicyFields {
  accessSchedule: AccessSchedule | null;
  maxRequestsPerMinute: number | null;
  maxRequestsPerDay: number | null;
  maxTokensPerMinute: number | null;
  budget: KeyBudget | null;
}

/** The upper bounds the DTOs accept. */
export const POLICY_LIMITS = {
  maxRequestsPerMinute: 1_000_000,
  maxRequestsPerDay: 1_000_000_000,
  maxTokensPerMinute: 1_000_000_000,
  /** USD per window. */
  budgetUsd: 1_000_000,
} as const;

/** "HH:MM" → minutes after midnight. */
export function minutesOf(hhmm: string): number {
  return Number(hhmm.slice(0, 2)) * 60 + Number(hhmm.slice(3, 5));
}

/** The limit `resetInterval` selects, or null when that interval has none (reference §9.2). */
export function activeLimitUsd(b: KeyBudget): number | null {
  switch (b.resetInterval) {
    case 'daily':
      return b.dailyLimitUsd ?? null;
    case 'weekly':
      return b.weeklyLimitUsd ?? b.dailyLimitUsd ?? null;
    case 'monthly':
      return b.monthlyLimitUsd ?? b.dailyLimitUsd ?? null;
  }
}

export function intervalLabel(i: BudgetInterval): 'Daily' | 'Weekly' | 'Monthly' {
  switch (i) {
    case 'daily':
      return 'Daily';
    case 'weekly':
      return 'Weekly';
    case 'monthly':
      return 'Monthly';
  }
}

/** A limit in dollars: at least two decimals, more when the limit has them ($5.00, $0.005). */
export function formatLimitUsd(v: number): string {
  const exact = v.toFixed(6).replace(/0+$/, '');
  const decimals = exact.length - exact.indexOf('.') - 1;
  return v.toFixed(Math.max(2, decimals));
}
