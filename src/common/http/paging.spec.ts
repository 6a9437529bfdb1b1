import { AppError } from '@/common/errors/app-error';
import { parsePaging } from './paging';

function rejection(limit?: string, offset?: string, max?: number): AppError {
  try {
    parsePaging(limit, offset, max);
  } catch (e) {
    expect(e).toBeInstanceOf(AppError);
    return e as AppError;
  }
  throw new Error('parsePaging did not throw');
}

describe(parsePaging.name, () => {
  it('defaults to 50 from 0', () => {
    expect(parsePaging()).toEqual({ limit: 50, offset: 0 });
    expect(parsePaging('', '')).toEqual({ limit: 50, offset: 0 });
  });

  it('reads limit and offset', () => {
    expect(parsePaging('10', '20')).toEqual({ limit: 10, offset: 20 });
  });

  it('accepts the bounds', () => {
    expect(parsePaging('1', '0')).toEqual({ limit: 1, offset: 0 });
    expect(parsePaging('500')).toEqual({ limit: 500, offset: 0 });
    expect(parsePaging('20', undefined, 20)).toEqual({ limit: 20, offset: 0 });
  });

  it.each(['0', '501', '-1', '2.5', 'ten', 'NaN', 'Infinity'])(
    'returns 400 VALIDATION_FAILED naming limit for limit=%s',
    (limit) => {
      const e = rejection(limit);
      expect(e.status).toBe(400);
      expect(e.code).toBe('VALIDATION_FAILED');
      expect(JSON.stringify(e.details)).toContain('limit');
      expect(JSON.stringify(e.details)).not.toContain('offset');
    },
  );

  it('honours a custom maximum', () => {
    expect(rejection('21', undefined, 20).status).toBe(400);
  });

  it.each(['-1', '1.5', 'x'])('returns 400 naming offset for offset=%s', (offset) => {
    const e = rejection('10', offset);
    expect(e.status).toBe(400);
    expect(JSON.stringify(e.details)).toContain('offset');
    expect(JSON.stringify(e.details)).not.toContain('limit');
  });

  it('lists both fields when both are wrong', () => {
    const e = rejection('0', '-1');
    const fields = (e.details as { fields: unknown[] }).fields;
    expect(fields).toHaveLength(2);
  });
});
