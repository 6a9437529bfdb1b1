import { DAY_MS, budgetWindow, parsePolicyKey, policyKeys, utcDay, windowEnd } from './windows';

const at = (iso: string): number => Date.parse(iso);
const iso = (w: { start: number; end: number }): [string, string] => [
  new Date(w.start).toISOString(),
  new Date(w.end).toISOString(),
];

describe(budgetWindow.name, () => {
  describe('daily', () => {
    it('starts at resetTime UTC today once it passed', () => {
      expect(iso(budgetWindow('daily', 0, at('2025-03-10T12:00:00Z')))).toEqual([
        '2025-03-10T00:00:00.000Z',
        '2025-03-11T00:00:00.000Z',
      ]);
      expect(iso(budgetWindow('daily', 6 * 60 + 30, at('2025-03-10T06:30:00Z')))).toEqual([
        '2025-03-10T06:30:00.000Z',
        '2025-03-11T06:30:00.000Z',
      ]);
    });

    it('starts at yesterday’s resetTime before today’s', () => {
      expect(iso(budgetWindow('daily', 6 * 60 + 30, at('2025-03-10T06:29:59.999Z')))).toEqual([
        '2025-03-09T06:30:00.000Z',
        '2025-03-10T06:30:00.000Z',
      ]);
    });

    it('crosses month and year ends', () => {
      expect(iso(budgetWindow('daily', 23 * 60, at('2025-01-01T01:00:00Z')))).toEqual([
        '2024-12-31T23:00:00.000Z',
        '2025-01-01T23:00:00.000Z',
      ]);
    });
  });

  describe('weekly', () => {
    it('starts on Monday at resetTime', () => {
      // 2025-03-12 is a Wednesday.
      expect(iso(budgetWindow('weekly', 0, at('2025-03-12T15:00:00Z')))).toEqual([
        '2025-03-10T00:00:00.000Z',
        '2025-03-17T00:00:00.000Z',
      ]);
    });

    it('counts Sunday in the week that began the Monday before', () => {
      expect(iso(budgetWindow('weekly', 0, at('2025-03-16T23:59:59Z')))).toEqual([
        '2025-03-10T00:00:00.000Z',
        '2025-03-17T00:00:00.000Z',
      ]);
    });

    it('on Monday before resetTime is still the previous week', () => {
      expect(iso(budgetWindow('weekly', 9 * 60, at('2025-03-17T08:59:00Z')))).toEqual([
        '2025-03-10T09:00:00.000Z',
        '2025-03-17T09:00:00.000Z',
      ]);
      expect(iso(budgetWindow('weekly', 9 * 60, at('2025-03-17T09:00:00Z')))).toEqual([
        '2025-03-17T09:00:00.000Z',
        '2025-03-24T09:00:00.000Z',
      ]);
    });

    it('crosses a year end', () => {
      // 2024-12-30 is a Monday.
      expect(iso(budgetWindow('weekly', 0, at('2025-01-02T00:00:00Z')))).toEqual([
        '2024-12-30T00:00:00.000Z',
        '2025-01-06T00:00:00.000Z',
      ]);
    });
  });

  describe('monthly', () => {
    it('starts on the 1st at resetTime and ends on the next 1st', () => {
      expect(iso(budgetWindow('monthly', 0, at('2025-02-15T00:00:00Z')))).toEqual([
        '2025-02-01T00:00:00.000Z',
        '2025-03-01T00:00:00.000Z',
      ]);
    });

    it('on the 1st before resetTime is the previous month, across a year end', () => {
      expect(iso(budgetWindow('monthly', 12 * 60, at('2025-01-01T11:00:00Z')))).toEqual([
        '2024-12-01T12:00:00.000Z',
        '2025-01-01T12:00:00.000Z',
      ]);
    });

    it('handles February of a leap year', () => {
      expect(iso(budgetWindow('monthly', 0, at('2024-02-29T23:00:00Z')))).toEqual([
        '2024-02-01T00:00:00.000Z',
        '2024-03-01T00:00:00.000Z',
      ]);
    });
  });

  it('always contains now, for any reset time', () => {
    for (let i = 0; i < 500; i++) {
      const now = at('2024-01-01T00:00:00Z') + Math.floor(Math.random() * 800 * DAY_MS);
      const minutes = Math.floor(Math.random() * 1440);
      for (const interval of ['daily', 'weekly', 'monthly'] as const) {
        const w = budgetWindow(interval, minutes, now);
        expect(w.start <= now && now < w.end).toBe(true);
        expect(windowEnd(interval, w.start)).toBe(w.end);
      }
    }
  });
});

describe(utcDay.name, () => {
  it('is the UTC calendar day', () => {
    expect(iso(utcDay(at('2025-03-10T23:59:59.999Z')))).toEqual([
      '2025-03-10T00:00:00.000Z',
      '2025-03-11T00:00:00.000Z',
    ]);
  });
});

describe(parsePolicyKey.name, () => {
  const start = at('2025-03-01T00:00:00Z');

  it('reads the kind and the end of each settle key', () => {
    expect(parsePolicyKey(policyKeys.tpm('k'))).toEqual({
      kind: 'tpm',
      end: Number.POSITIVE_INFINITY,
    });
    expect(parsePolicyKey(policyKeys.budget('k', 'monthly', start))).toEqual({
      kind: 'budget',
      end: at('2025-04-01T00:00:00Z'),
    });
    expect(parsePolicyKey(policyKeys.budget('k', 'weekly', start))).toEqual({
      kind: 'budget',
      end: start + 7 * DAY_MS,
    });
    expect(parsePolicyKey(policyKeys.spend('k', 'day', start))).toEqual({
      kind: 'day',
      end: start + DAY_MS,
    });
    expect(parsePolicyKey(policyKeys.spend('k', 'month', start))).toEqual({
      kind: 'month',
      end: at('2025-04-01T00:00:00Z'),
    });
  });

  it('ignores other keys', () => {
    expect(parsePolicyKey(policyKeys.rpm('k'))).toBeUndefined();
    expect(parsePolicyKey('pol:{k}:budget:yearly:1')).toBeUndefined();
    expect(parsePolicyKey('something')).toBeUndefined();
  });

  it('gives every key of one API key the same hash tag', () => {
    const keys = [
      policyKeys.rpm('abc'),
      policyKeys.rpd('abc', 1),
      policyKeys.tpm('abc'),
      policyKeys.budget('abc', 'daily', 1),
      policyKeys.spend('abc', 'day', 1),
    ];
    expect(keys.every((k) => k.startsWith('pol:{abc}:'))).toBe(true);
  });
});
