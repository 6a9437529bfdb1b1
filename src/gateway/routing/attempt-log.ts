import { AppError } from '@/common/errors/app-error';

/** One line of a request's routing story: a target/account tried, or passed over and why. */
export interface AttemptNote {
  /** `alias/model` (or the combo step's model string when it did not resolve). */
  target: string;
  step?: string;
  connectionId?: string;
  connectionName?: string;
  outcome: 'failed' | 'skipped';
  /** Machine reason: a failure class (`rate_limited`, `server_error`, ...) or a skip reason. */
  reason: string;
  status?: number;
  message?: string;
  /** When the target/account is expected to be usable again. */
  retryAfterMs?: number;
}

/** Reasons that mean "rate limited" (the aggregate answer is then 429, not 503). */
const RATE_REASONS: ReadonlySet<string> = new Set(['rate_limited', 'quota_daily', 'rate-limited']);

function isRateLimited(n: AttemptNote): boolean {
  return RATE_REASONS.has(n.reason) || n.status === 429;
}

/** The earliest time (ms from now) at which something in the log becomes usable again. */
export function earliestRetry(notes: readonly AttemptNote[]): number | undefined {
  let min: number | undefined;
  for (const n of notes) {
    if (n.retryAfterMs !== undefined && n.retryAfterMs >= 0) {
      min = min === undefined ? n.retryAfterMs : Math.min(min, n.retryAfterMs);
    }
  }
  return min;
}

function withRetryAfter(
  headers: Record<string, string> | undefined,
  retryMs: number | undefined,
): Record<string, string> | undefined {
  if (retryMs === undefined || headers?.['retry-after']) {
    return headers;
  }
  return { ...headers, 'retry-after': String(Math.max(1, Math.ceil(retryMs / 1000))) };
}

function summary(notes: readonly AttemptNote[]): string {
  return notes
    .slice(0, 8)
    .map(
      (n) =>
        `${n.target}${n.connectionName ? ` (${n.connectionName})` : ''}: ${n.outcome} ${n.reason}${
          n.status ? ` ${n.status}` : ''
        }`,
    )
    .join('; ');
}

/** An error with the attempt log and a Retry-After (when something recovers) attached. */
export function annotate(err: AppError, notes: readonly AttemptNote[]): AppError {
  return new AppError(
    err.code,
    err.category,
    err.message,
    { ...err.details, attempts: notes },
    err.status,
    withRetryAfter(err.headers, earliestRetry(notes)),
  );
}

/**
 * The answer when every target failed or was skipped: 429 when everything is rate limited, else
 * 503, with `Retry-After` (the earliest recovery) and the whole log in the body.
 */
export function allTargetsFailed(what: string, notes: readonly AttemptNote[]): AppError {
  const retry = earliestRetry(notes);
  const limited = notes.length > 0 && notes.every(isRateLimited);
  const secs = retry === undefined ? undefined : Math.max(1, Math.ceil(retry / 1000));
  const message = `${what}: every target failed or is unavailable${
    secs ? ` (retry in ${secs}s)` : ''
  }${notes.length ? ` — ${summary(notes)}` : ''}`;
  return new AppError(
    limited ? 'ALL_TARGETS_RATE_LIMITED' : 'ALL_TARGETS_UNAVAILABLE',
    limited ? 'RATE_LIMITED' : 'UNAVAILABLE',
    message,
    { attempts: notes, retryAfterSeconds: secs },
    limited ? 429 : 503,
    secs ? { 'retry-after': String(secs) } : undefined,
  );
}

/** The total timeout ran out (fallbacks and waits included). */
export function deadlineExceeded(totalMs: number, notes: readonly AttemptNote[]): AppError {
  return new AppError(
    'REQUEST_TIMEOUT',
    'UPSTREAM_TIMEOUT',
    `No target answered within the total timeout of ${totalMs} ms${
      notes.length ? ` — ${summary(notes)}` : ''
    }`,
    { attempts: notes },
    504,
  );
}
