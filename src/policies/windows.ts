import type { BudgetInterval } from './policy.types';

export const MINUTE_MS = 60_000;
export const DAY_MS = 24 * 3600_000;

export interface Window {
  /** ms epoch, inclusive. */
  start: number;
  /** ms epoch, exclusive: the next reset. */
  end: number;
}

/**
 * The budget window `now` falls in, UTC-aligned at `resetMinutes` after midnight: daily windows
 * start every day at that time, weekly ones on Monday, monthly ones on the 1st.
 */
export function budgetWindow(interval: BudgetInterval, resetMinutes: number, now: number): Window {
  const d = new Date(now);
  const y = d.getUTCFullYear();
  const m = d.getUTCMonth();
  const offset = resetMinutes * MINUTE_MS;
  switch (interval) {
    case 'daily': {
      const base = Date.UTC(y, m, d.getUTCDate()) + offset;
      const start = now >= base ? base : base - DAY_MS;
      return { start, end: start + DAY_MS };
    }
    case 'weekly': {
      const sinceMonday = (d.getUTCDay() + 6) % 7;
      const base = Date.UTC(y, m, d.getUTCDate() - sinceMonday) + offset;
      const start = now >= base ? base : base - 7 * DAY_MS;
      return { start, end: start + 7 * DAY_MS };
    }
    case 'monthly': {
      const base = Date.UTC(y, m, 1) + offset;
      const first = now >= base ? m : m - 1;
      return { start: Date.UTC(y, first, 1) + offset, end: Date.UTC(y, first + 1, 1) + offset };
    }
  }
}

/** The UTC calendar day `now` falls in (the requests-per-day window). */
export function utcDay(now: number): Window {
  const start = Math.floor(now / DAY_MS) * DAY_MS;
  return { start, end: start + DAY_MS };
}

// ---------------------------------------------------------------------------------------------
// Store keys. Every key of one API key shares the hash tag `{<apiKeyId>}` (one Redis Cluster slot,
// so a script may touch several of them).

const PREFIX = 'pol:{';

export const policyKeys = {
  /** Requests per second of the last minute (hash second → count). */
  rpm: (apiKeyId: string): string => `${PREFIX}${apiKeyId}}:rpm`,
  /** Requests of one UTC day (counter). */
  rpd: (apiKeyId: string, dayStart: number): string => `${PREFIX}${apiKeyId}}:rpd:${dayStart}`,
  /** Tokens per second of the last minute (hash second → tokens). */
  tpm: (apiKeyId: string): string => `${PREFIX}${apiKeyId}}:tpm`,
  /** The active budget window: spent, reserved, in-flight reservations (hash). */
  budget: (apiKeyId: string, interval: BudgetInterval, start: number): string =>
    `${PREFIX}${apiKeyId}}:budget:${interval}:${start}`,
  /** Spend of one day / month window at the key's reset time, for reporting (hash spent, n). */
  spend: (apiKeyId: string, period: 'day' | 'month', start: number): string =>
    `${PREFIX}${apiKeyId}}:spend:${period}:${start}`,
};

export type SettleKind = 'tpm' | 'budget' | 'day' | 'month';

/** What a key from `policyKeys` stands for and until when it is worth keeping (settle). */
export function parsePolicyKey(key: string): { kind: SettleKind; end: number } | undefined {
  const m =
    /^pol:\{[^}]+\}:(tpm|budget:(daily|weekly|monthly):(\d+)|spend:(day|month):(\d+))$/.exec(key);
  if (!m) {
    return undefined;
  }
  if (m[1] === 'tpm') {
    return { kind: 'tpm', end: Number.POSITIVE_INFINITY };
  }
  if (m[2]) {
    const start = Number(m[3]);
    const interval = m[2] as BudgetInterval;
    return { kind: 'budget', end: windowEnd(interval, start) };
  }
  const start = Number(m[5]);
  return m[4] === 'day'
    ? { kind: 'day', end: start + DAY_MS }
    : { kind: 'month', end: windowEnd('monthly', start) };
}

/** The end of the window of `interval` that starts at `start`. */
export function windowEnd(interval: BudgetInterval, start: number): number {
  switch (interval) {
    case 'daily':
      return start + DAY_MS;
    case 'weekly':
      return start + 7 * DAY_MS;
    case 'monthly': {
      const d = new Date(start);
      return Date.UTC(
        d.getUTCFullYear(),
        d.getUTCMonth() + 1,
        d.getUTCDate(),
        d.getUTCHours(),
        d.getUTCMinutes(),
      );
    }
  }
}
