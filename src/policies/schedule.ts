import { type AccessSchedule, minutesOf } from './policy.types';

const WEEKDAYS: Record<string, number> = { Sun: 0, Mon: 1, Tue: 2, Wed: 3, Thu: 4, Fri: 5, Sat: 6 };

/** One formatter per time zone (building one costs far more than using it); null = unknown tz. */
const formatters = new Map<string, Intl.DateTimeFormat | null>();

function formatterFor(tz: string): Intl.DateTimeFormat | null {
  let f = formatters.get(tz);
  if (f === undefined) {
    try {
      f = new Intl.DateTimeFormat('en-US', {
        timeZone: tz,
        hourCycle: 'h23',
        weekday: 'short',
        hour: '2-digit',
        minute: '2-digit',
      });
    } catch {
      f = null;
    }
    if (formatters.size > 1_000) {
      formatters.clear();
    }
    formatters.set(tz, f);
  }
  return f;
}

/** True when `tz` is an IANA zone this runtime knows. */
export function isKnownTimeZone(tz: string): boolean {
  return formatterFor(tz) !== null;
}

/** Weekday (0 = Sunday) and minutes after midnight at `now` in `tz`; undefined for an unknown tz. */
export function localTime(tz: string, now: number): { day: number; minutes: number } | undefined {
  const f = formatterFor(tz);
  if (!f) {
    return undefined;
  }
  let day = 0;
  let hour = 0;
  let minute = 0;
  for (const p of f.formatToParts(now)) {
    if (p.type === 'weekday') {
      day = WEEKDAYS[p.value] ?? 0;
    } else if (p.type === 'hour') {
      hour = Number(p.value) % 24;
    } else if (p.type === 'minute') {
      minute = Number(p.value);
    }
  }
  return { day, minutes: hour * 60 + minute };
}

/** A schedule prepared for repeated checks. */
export interface CompiledSchedule {
  from: number;
  until: number;
  days: readonly boolean[];
  tz: string;
  /** "09:00–17:00 Europe/Berlin", for the refusal message. */
  label: string;
}

/** Undefined when the schedule is absent or disabled (nothing to check). */
export function compileSchedule(
  s: AccessSchedule | null | undefined,
): CompiledSchedule | undefined {
  if (!s?.enabled) {
    return undefined;
  }
  const days = Array.from({ length: 7 }, (_v, i) => s.days.includes(i));
  return {
    from: minutesOf(s.from),
    until: minutesOf(s.until),
    days,
    tz: s.tz,
    label: `${s.from}–${s.until} ${s.tz}`,
  };
}

/**
 * Whether the schedule lets a request in at `now` (ms epoch). `[from, until)` in local time on an
 * allowed day; overnight ranges (until < from): the evening part needs today allowed, the part
 * after midnight needs yesterday allowed; from === until: all day. An unknown tz allows.
 */
export function scheduleAllows(s: CompiledSchedule, now: number): boolean {
  const t = localTime(s.tz, now);
  if (!t) {
    return true;
  }
  if (s.from === s.until) {
    return s.days[t.day];
  }
  if (s.from < s.until) {
    return s.days[t.day] && t.minutes >= s.from && t.minutes < s.until;
  }
  return (t.minutes >= s.from && s.days[t.day]) || (t.minutes < s.until && s.days[(t.day + 6) % 7]);
}
