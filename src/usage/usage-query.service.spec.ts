import { AppError } from '@/common/errors/app-error';
import type { CallLogItem } from './dto/usage.response';
import { decodeCursor, encodeCursor, logLine, resolveRange } from './usage-query.service';
import { historySql, logsSql } from './usage-query.sql';

function fieldsOf(fn: () => unknown): string[] {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(AppError);
    const err = e as AppError;
    expect(err.code).toBe('VALIDATION_FAILED');
    expect(err.status).toBe(400);
    return (err.details?.fields as { field: string }[]).map((f) => f.field);
  }
  throw new Error('expected a VALIDATION_FAILED error');
}

describe('usage query helpers', () => {
  const now = new Date('2026-03-10T12:34:56.789Z');

  describe(resolveRange.name, () => {
    it('defaults to the 24 hours before now', () => {
      expect(resolveRange({}, now)).toEqual({
        from: new Date('2026-03-09T12:34:56.789Z'),
        to: now,
      });
    });

    it('defaults from to 24 hours before an explicit to', () => {
      expect(resolveRange({ to: '2026-01-02T00:00:00Z' }, now).from).toEqual(
        new Date('2026-01-01T00:00:00Z'),
      );
    });

    it('accepts exactly 366 days and refuses one millisecond more', () => {
      expect(() =>
        resolveRange({ from: '2025-01-01T00:00:00Z', to: '2026-01-02T00:00:00Z' }, now),
      ).not.toThrow();
      expect(
        fieldsOf(() =>
          resolveRange({ from: '2025-01-01T00:00:00Z', to: '2026-01-02T00:00:00.001Z' }, now),
        ),
      ).toEqual(['to']);
    });

    it('refuses an empty or inverted range', () => {
      expect(fieldsOf(() => resolveRange({ from: '2026-01-01', to: '2026-01-01' }, now))).toEqual([
        'from',
      ]);
      expect(fieldsOf(() => resolveRange({ from: '2026-01-02', to: '2026-01-01' }, now))).toEqual([
        'from',
      ]);
    });

    it('refuses an ISO form Date cannot read (week dates)', () => {
      expect(fieldsOf(() => resolveRange({ from: '2026-W01' }, now))).toEqual(['from']);
    });
  });

  describe('cursor', () => {
    it('round-trips created_at (microseconds) and id', () => {
      const c = encodeCursor('2026-03-10T12:34:56.123456Z', '0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b');
      expect(c).toMatch(/^[A-Za-z0-9_-]+$/);
      expect(decodeCursor(c)).toEqual({
        createdAt: '2026-03-10T12:34:56.123456Z',
        id: '0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b',
      });
    });

    it.each([
      ['garbage', 'not base64 of a cursor'],
      [
        'bad time',
        Buffer.from('yesterday|0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b').toString('base64url'),
      ],
      ['bad id', Buffer.from('2026-03-10T12:34:56.123456Z|1; DROP').toString('base64url')],
      [
        'extra part',
        Buffer.from('2026-03-10T12:34:56.123456Z|0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b|x').toString(
          'base64url',
        ),
      ],
    ])('refuses %s with a cursor field error', (_name, cursor) => {
      expect(fieldsOf(() => decodeCursor(cursor))).toEqual(['cursor']);
    });
  });

  describe(logLine.name, () => {
    const item = {
      createdAt: '2026-03-10T12:34:56.789Z',
      requestedModel: 'my-combo',
      model: 'gpt-4o',
      provider: 'openai',
      account: 'main',
      tokensInput: 12,
      tokensOutput: 3,
      status: 200,
    } as CallLogItem;

    it('prints the requested model, the provider upper-cased and the account', () => {
      expect(logLine(item)).toBe(
        '2026-03-10T12:34:56.789Z | my-combo | OPENAI | main | 12 | 3 | 200',
      );
    });

    it('falls back to the served model and dashes for what is unknown', () => {
      expect(
        logLine({ ...item, requestedModel: null, provider: null, account: null, status: 503 }),
      ).toBe('2026-03-10T12:34:56.789Z | gpt-4o | - | - | 12 | 3 | 503');
    });
  });

  describe('SQL builders', () => {
    it('pass every value as a parameter, never in the text', () => {
      const evil = "x' OR '1'='1";
      const h = historySql({ from: now, to: now, provider: evil, model: evil });
      expect(h.text).not.toContain(evil);
      expect(h.values).toEqual([now.toISOString(), now.toISOString(), evil, evil]);
      const l = logsSql({ model: evil, comboName: evil, requestId: evil }, 10);
      expect(l.text).not.toContain(evil);
      expect(l.values).toEqual([evil, evil, evil, 10]);
    });
  });
});
