import { AppError } from '@/common/errors/app-error';
import {
  allTargetsFailed,
  annotate,
  type AttemptNote,
  deadlineExceeded,
  earliestRetry,
} from './attempt-log';

function note(over: Partial<AttemptNote> = {}): AttemptNote {
  return { target: 'openai/gpt-4o', outcome: 'failed', reason: 'server_error', ...over };
}

describe(earliestRetry.name, () => {
  it('is undefined for an empty log or one without retry times', () => {
    expect(earliestRetry([])).toBeUndefined();
    expect(earliestRetry([note(), note({ outcome: 'skipped' })])).toBeUndefined();
  });

  it('is the smallest retry time in the log', () => {
    expect(
      earliestRetry([
        note({ retryAfterMs: 5000 }),
        note(),
        note({ retryAfterMs: 1200 }),
        note({ retryAfterMs: 9000 }),
      ]),
    ).toBe(1200);
  });

  it('counts zero and ignores negative times', () => {
    expect(earliestRetry([note({ retryAfterMs: 300 }), note({ retryAfterMs: 0 })])).toBe(0);
    expect(earliestRetry([note({ retryAfterMs: -5 }), note({ retryAfterMs: 700 })])).toBe(700);
    expect(earliestRetry([note({ retryAfterMs: -1 })])).toBeUndefined();
  });
});

describe(annotate.name, () => {
  const upstream = () =>
    new AppError(
      'UPSTREAM_RATE_LIMITED',
      'RATE_LIMITED',
      'slow down',
      { provider: 'openai' },
      429,
      { 'x-request-id': 'r1' },
    );

  it('keeps code, category, message, status and details and adds the attempt log', () => {
    const notes = [note({ reason: 'rate_limited', status: 429 })];
    const out = annotate(upstream(), notes);
    expect(out).toBeInstanceOf(AppError);
    expect(out.code).toBe('UPSTREAM_RATE_LIMITED');
    expect(out.category).toBe('RATE_LIMITED');
    expect(out.message).toBe('slow down');
    expect(out.status).toBe(429);
    expect(out.details).toEqual({ provider: 'openai', attempts: notes });
  });

  it('keeps a re-emitted upstream status that differs from the category', () => {
    const err = new AppError('UPSTREAM', 'UPSTREAM_ERROR', 'teapot', undefined, 418);
    const out = annotate(err, []);
    expect(out.status).toBe(418);
    expect(out.details).toEqual({ attempts: [] });
  });

  it('adds Retry-After (whole seconds, rounded up) when the error has none', () => {
    const out = annotate(upstream(), [note({ retryAfterMs: 1500 }), note({ retryAfterMs: 4000 })]);
    expect(out.headers).toEqual({ 'x-request-id': 'r1', 'retry-after': '2' });
  });

  it('adds at least one second of Retry-After', () => {
    const err = new AppError('X', 'UNAVAILABLE', 'x');
    expect(annotate(err, [note({ retryAfterMs: 0 })]).headers).toEqual({ 'retry-after': '1' });
    expect(annotate(err, [note({ retryAfterMs: 1 })]).headers).toEqual({ 'retry-after': '1' });
  });

  it('keeps a Retry-After the error already carries', () => {
    const err = new AppError('X', 'RATE_LIMITED', 'x', undefined, 429, { 'retry-after': '30' });
    expect(annotate(err, [note({ retryAfterMs: 2000 })]).headers).toEqual({ 'retry-after': '30' });
  });

  it('adds no header when nothing in the log recovers', () => {
    const err = new AppError('X', 'UNAVAILABLE', 'x');
    expect(annotate(err, [note()]).headers).toBeUndefined();
    expect(annotate(upstream(), [note()]).headers).toEqual({ 'x-request-id': 'r1' });
  });

  it('does not modify the original error', () => {
    const err = upstream();
    annotate(err, [note({ retryAfterMs: 1000 })]);
    expect(err.details).toEqual({ provider: 'openai' });
    expect(err.headers).toEqual({ 'x-request-id': 'r1' });
  });
});

describe(allTargetsFailed.name, () => {
  it('answers 429 when every note is rate limited (any rate reason or a 429 status)', () => {
    const notes = [
      note({ reason: 'rate_limited', status: 429, retryAfterMs: 3000 }),
      note({ reason: 'quota_daily', retryAfterMs: 60_000 }),
      note({ outcome: 'skipped', reason: 'rate-limited', retryAfterMs: 2500 }),
      note({ reason: 'overloaded', status: 429 }),
    ];
    const err = allTargetsFailed('combo "fast"', notes);
    expect(err.status).toBe(429);
    expect(err.code).toBe('ALL_TARGETS_RATE_LIMITED');
    expect(err.category).toBe('RATE_LIMITED');
    expect(err.headers).toEqual({ 'retry-after': '3' });
    expect(err.details).toEqual({ attempts: notes, retryAfterSeconds: 3 });
  });

  it('answers 503 as soon as one note is not rate limited', () => {
    const notes = [
      note({ reason: 'rate_limited', status: 429, retryAfterMs: 3000 }),
      note({ reason: 'server_error', status: 502 }),
    ];
    const err = allTargetsFailed('openai/gpt-4o', notes);
    expect(err.status).toBe(503);
    expect(err.code).toBe('ALL_TARGETS_UNAVAILABLE');
    expect(err.category).toBe('UNAVAILABLE');
    expect(err.headers).toEqual({ 'retry-after': '3' });
  });

  it('answers 503 without Retry-After for an empty log', () => {
    const err = allTargetsFailed('openai/gpt-4o', []);
    expect(err.status).toBe(503);
    expect(err.headers).toBeUndefined();
    expect(err.details).toEqual({ attempts: [], retryAfterSeconds: undefined });
    expect(err.message).toBe('openai/gpt-4o: every target failed or is unavailable');
  });

  it.each([
    [0, '1'],
    [1, '1'],
    [999, '1'],
    [1000, '1'],
    [1001, '2'],
    [1500, '2'],
    [59_999, '60'],
  ])('rounds a retry of %i ms up to Retry-After %s', (ms, header) => {
    const err = allTargetsFailed('x', [note({ retryAfterMs: ms })]);
    expect(err.headers).toEqual({ 'retry-after': header });
    expect(err.details?.retryAfterSeconds).toBe(Number(header));
  });

  it('summarises the log in the message (target, account, outcome, reason, status)', () => {
    const err = allTargetsFailed('combo "fast"', [
      note({ connectionName: 'key-1', reason: 'rate_limited', status: 429, retryAfterMs: 4200 }),
      note({ target: 'anthropic/claude', outcome: 'skipped', reason: 'cooldown' }),
    ]);
    expect(err.message).toBe(
      'combo "fast": every target failed or is unavailable (retry in 5s) — ' +
        'openai/gpt-4o (key-1): failed rate_limited 429; anthropic/claude: skipped cooldown',
    );
  });

  it('names at most eight notes in the message but keeps them all in the details', () => {
    const notes = Array.from({ length: 10 }, (_, i) => note({ target: `p/m${i}` }));
    const err = allTargetsFailed('x', notes);
    expect(err.message).toContain('p/m7:');
    expect(err.message).not.toContain('p/m8:');
    expect(err.details?.attempts).toHaveLength(10);
  });
});

describe(deadlineExceeded.name, () => {
  it('answers 504 REQUEST_TIMEOUT naming the total timeout and the log', () => {
    const notes = [note({ reason: 'timeout', status: 504, retryAfterMs: 1000 })];
    const err = deadlineExceeded(30_000, notes);
    expect(err.status).toBe(504);
    expect(err.code).toBe('REQUEST_TIMEOUT');
    expect(err.category).toBe('UPSTREAM_TIMEOUT');
    expect(err.message).toBe(
      'No target answered within the total timeout of 30000 ms — openai/gpt-4o: failed timeout 504',
    );
    expect(err.details).toEqual({ attempts: notes });
    expect(err.headers).toBeUndefined();
  });

  it('leaves the summary out for an empty log', () => {
    expect(deadlineExceeded(500, []).message).toBe(
      'No target answered within the total timeout of 500 ms',
    );
  });
});
