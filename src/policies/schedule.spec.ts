import type { AccessSchedule } from './policy.types';
import { compileSchedule, isKnownTimeZone, localTime, scheduleAllows } from './schedule';

const at = (iso: string): number => Date.parse(iso);

function allows(s: Partial<AccessSchedule>, iso: string): boolean {
  const c = compileSchedule({
    enabled: true,
    from: '09:00',
    until: '17:00',
    days: [0, 1, 2, 3, 4, 5, 6],
    tz: 'UTC',
    ...s,
  });
  if (!c) {
    throw new Error('schedule not compiled');
  }
  return scheduleAllows(c, at(iso));
}

describe(localTime.name, () => {
  it('gives the weekday and minutes in the zone', () => {
    // 2025-03-10 is a Monday.
    expect(localTime('UTC', at('2025-03-10T23:30:00Z'))).toEqual({ day: 1, minutes: 1410 });
    expect(localTime('Asia/Tokyo', at('2025-03-10T23:30:00Z'))).toEqual({ day: 2, minutes: 510 });
    expect(localTime('America/Los_Angeles', at('2025-03-10T03:15:00Z'))).toEqual({
      day: 0,
      minutes: 20 * 60 + 15,
    });
    expect(localTime('Asia/Kolkata', at('2025-03-10T00:00:00Z'))).toEqual({ day: 1, minutes: 330 });
  });

  it('follows daylight saving time', () => {
    // Europe/Berlin: UTC+1 in winter, UTC+2 from 2025-03-30.
    expect(localTime('Europe/Berlin', at('2025-03-29T08:00:00Z'))?.minutes).toBe(9 * 60);
    expect(localTime('Europe/Berlin', at('2025-03-31T08:00:00Z'))?.minutes).toBe(10 * 60);
  });

  it('is undefined for an unknown zone', () => {
    expect(localTime('Mars/Olympus', Date.now())).toBeUndefined();
    expect(isKnownTimeZone('Mars/Olympus')).toBe(false);
    expect(isKnownTimeZone('Europe/Berlin')).toBe(true);
  });
});

describe(scheduleAllows.name, () => {
  it('allows [from, until) and nothing outside', () => {
    expect(allows({}, '2025-03-10T08:59:59Z')).toBe(false);
    expect(allows({}, '2025-03-10T09:00:00Z')).toBe(true);
    expect(allows({}, '2025-03-10T16:59:59Z')).toBe(true);
    expect(allows({}, '2025-03-10T17:00:00Z')).toBe(false);
  });

  it('allows only the listed weekdays', () => {
    const weekdays = { days: [1, 2, 3, 4, 5] };
    expect(allows(weekdays, '2025-03-10T10:00:00Z')).toBe(true); // Monday
    expect(allows(weekdays, '2025-03-15T10:00:00Z')).toBe(false); // Saturday
    expect(allows(weekdays, '2025-03-16T10:00:00Z')).toBe(false); // Sunday
  });

  it('checks hours and weekday in the schedule’s time zone', () => {
    const tokyo = { tz: 'Asia/Tokyo', days: [1] };
    // Monday 10:00 in Tokyo is Monday 01:00 UTC.
    expect(allows(tokyo, '2025-03-10T01:00:00Z')).toBe(true);
    // Monday 10:00 UTC is Monday 19:00 in Tokyo: outside hours.
    expect(allows(tokyo, '2025-03-10T10:00:00Z')).toBe(false);
    // Sunday 23:00 UTC is Monday 08:00 in Tokyo: before hours; 00:30 UTC Monday = 09:30 Tokyo.
    expect(allows(tokyo, '2025-03-09T23:00:00Z')).toBe(false);
    expect(allows(tokyo, '2025-03-10T00:30:00Z')).toBe(true);
  });

  describe('overnight ranges', () => {
    const night = { from: '22:00', until: '06:00' };

    it('allows the evening and the early morning, not the day', () => {
      expect(allows(night, '2025-03-10T21:59:00Z')).toBe(false);
      expect(allows(night, '2025-03-10T22:00:00Z')).toBe(true);
      expect(allows(night, '2025-03-10T23:59:00Z')).toBe(true);
      expect(allows(night, '2025-03-11T00:00:00Z')).toBe(true);
      expect(allows(night, '2025-03-11T05:59:00Z')).toBe(true);
      expect(allows(night, '2025-03-11T06:00:00Z')).toBe(false);
      expect(allows(night, '2025-03-11T12:00:00Z')).toBe(false);
    });

    it('counts the part after midnight as the day the window opened', () => {
      const friday = { ...night, days: [5] };
      expect(allows(friday, '2025-03-14T23:00:00Z')).toBe(true); // Friday night
      expect(allows(friday, '2025-03-15T02:00:00Z')).toBe(true); // Saturday, Friday's window
      expect(allows(friday, '2025-03-15T23:00:00Z')).toBe(false); // Saturday night
      expect(allows(friday, '2025-03-14T02:00:00Z')).toBe(false); // Friday early: Thursday's
    });
  });

  it('allows the whole listed day when from equals until', () => {
    expect(allows({ from: '00:00', until: '00:00', days: [1] }, '2025-03-10T23:59:00Z')).toBe(true);
    expect(allows({ from: '00:00', until: '00:00', days: [1] }, '2025-03-11T00:00:00Z')).toBe(
      false,
    );
  });

  it('allows everything when the time zone is unknown at run time', () => {
    expect(allows({ tz: 'Not/AZone', days: [2] }, '2025-03-10T03:00:00Z')).toBe(true);
  });
});

describe(compileSchedule.name, () => {
  it('is undefined for a missing or disabled schedule', () => {
    expect(compileSchedule(null)).toBeUndefined();
    expect(
      compileSchedule({ enabled: false, from: '09:00', until: '10:00', days: [1], tz: 'UTC' }),
    ).toBeUndefined();
  });

  it('labels the window for the refusal message', () => {
    expect(
      compileSchedule({
        enabled: true,
        from: '09:00',
        until: '17:30',
        days: [1],
        tz: 'Europe/Berlin',
      })?.label,
    ).toBe('09:00–17:30 Europe/Berlin');
  });
});
