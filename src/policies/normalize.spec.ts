import { AppError } from '@/common/errors/app-error';
import { normalizeBudget, normalizeSchedule } from './normalize';

function fieldsOf(fn: () => unknown): string[] {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(AppError);
    expect((e as AppError).code).toBe('VALIDATION_FAILED');
    expect((e as AppError).status).toBe(400);
    return ((e as AppError).details?.fields as { field: string }[]).map((f) => f.field);
  }
  throw new Error('expected a validation error');
}

describe(normalizeBudget.name, () => {
  it('fills the defaults and infers the interval from the limits given', () => {
    expect(normalizeBudget({ dailyLimitUsd: 5 })).toEqual({
      dailyLimitUsd: 5,
      warningThreshold: 0.8,
      resetInterval: 'daily',
      resetTime: '00:00',
    });
    expect(normalizeBudget({ monthlyLimitUsd: 100 }).resetInterval).toBe('monthly');
    expect(normalizeBudget({ weeklyLimitUsd: 20, monthlyLimitUsd: 50 }).resetInterval).toBe(
      'weekly',
    );
  });

  it('keeps what was given', () => {
    const b = {
      dailyLimitUsd: 1,
      weeklyLimitUsd: 5,
      monthlyLimitUsd: 15,
      warningThreshold: 0.5,
      resetInterval: 'monthly' as const,
      resetTime: '06:30',
    };
    expect(normalizeBudget(b)).toEqual(b);
  });

  it('lets weekly and monthly fall back to the daily limit', () => {
    expect(normalizeBudget({ dailyLimitUsd: 2, resetInterval: 'weekly' }).resetInterval).toBe(
      'weekly',
    );
  });

  it('requires at least one limit', () => {
    expect(fieldsOf(() => normalizeBudget({ warningThreshold: 0.5 }))).toEqual([
      'budget.dailyLimitUsd',
    ]);
  });

  it('refuses an interval without a limit it can use', () => {
    expect(fieldsOf(() => normalizeBudget({ monthlyLimitUsd: 5, resetInterval: 'daily' }))).toEqual(
      ['budget.resetInterval'],
    );
    expect(
      fieldsOf(() => normalizeBudget({ monthlyLimitUsd: 5, resetInterval: 'weekly' })),
    ).toEqual(['budget.resetInterval']);
  });

  it('lists every bad field, with the prefix given', () => {
    expect(
      fieldsOf(() =>
        normalizeBudget(
          {
            dailyLimitUsd: 0,
            warningThreshold: 2,
            resetTime: '24:00',
            resetInterval: 'yearly' as never,
          },
          '',
        ),
      ).sort(),
    ).toEqual(['dailyLimitUsd', 'resetInterval', 'resetTime', 'warningThreshold']);
  });
});

describe(normalizeSchedule.name, () => {
  it('fills enabled, days and tz, and sorts the days', () => {
    expect(normalizeSchedule({ from: '09:00', until: '17:00' })).toEqual({
      enabled: true,
      from: '09:00',
      until: '17:00',
      days: [0, 1, 2, 3, 4, 5, 6],
      tz: 'UTC',
    });
    expect(
      normalizeSchedule({
        enabled: false,
        from: '22:00',
        until: '06:00',
        days: [5, 1],
        tz: 'Asia/Tokyo',
      }),
    ).toEqual({ enabled: false, from: '22:00', until: '06:00', days: [1, 5], tz: 'Asia/Tokyo' });
  });

  it('refuses bad times, days and zones', () => {
    expect(
      fieldsOf(() =>
        normalizeSchedule({ from: '9:00', until: '25:00', days: [7], tz: 'Nowhere/Land' }),
      ),
    ).toEqual([
      'accessSchedule.from',
      'accessSchedule.until',
      'accessSchedule.days',
      'accessSchedule.tz',
    ]);
    expect(fieldsOf(() => normalizeSchedule({ from: '09:00', until: '10:00', days: [] }))).toEqual([
      'accessSchedule.days',
    ]);
  });
});
