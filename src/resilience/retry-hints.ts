/**
 * When the upstream says it can be asked again (reference §5.5 "upstream hints"): from response
 * headers (`retryAfterMs`) or from the error text (`retryHintFromText`). Both return milliseconds
 * from now, or undefined when there is no usable hint. Neither caps the value: the caller decides
 * how long a cooldown may be.
 *
 * `retryAfterMs` started as a copy of the helper in gateway/routing/account-selector.ts; header
 * names are matched case-insensitively here and values are trimmed.
 */

export type HeaderBag = Record<string, string | string[] | undefined>;

const UNIT_MS: Record<string, number> = {
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
};

/** `1.5s`, `20ms`, `6m0s`, `1h2m` (OpenAI's x-ratelimit-reset-* format) as milliseconds. */
export function parseDuration(v: string): number | undefined {
  const text = v.trim();
  const re = /(\d+(?:\.\d+)?)(ms|h|m|s)/g;
  let total = 0;
  let matched = '';
  for (const m of text.matchAll(re)) {
    total += Number(m[1]) * UNIT_MS[m[2]];
    matched += m[0];
  }
  return matched.length && matched === text ? total : undefined;
}

function header(headers: HeaderBag, name: string): string | undefined {
  let v = headers[name];
  if (v === undefined) {
    const key = Object.keys(headers).find((k) => k.toLowerCase() === name);
    v = key === undefined ? undefined : headers[key];
  }
  const s = Array.isArray(v) ? v[0] : v;
  const t = s?.trim();
  return t ? t : undefined;
}

/**
 * The upstream's retry hint in milliseconds: `Retry-After` (seconds or an HTTP date),
 * `X-RateLimit-Reset` (epoch seconds or milliseconds, or seconds from now), or OpenAI's
 * `x-ratelimit-reset-requests` / `-tokens` durations (the longer one).
 */
export function retryAfterMs(headers: HeaderBag, now: number = Date.now()): number | undefined {
  const ra = header(headers, 'retry-after');
  if (ra) {
    const secs = Number(ra);
    if (Number.isFinite(secs)) {
      return Math.max(0, secs * 1000);
    }
    const at = Date.parse(ra);
    if (Number.isFinite(at)) {
      return Math.max(0, at - now);
    }
  }
  const reset = header(headers, 'x-ratelimit-reset');
  if (reset && Number.isFinite(Number(reset))) {
    const n = Number(reset);
    if (n > 1e12) {
      return Math.max(0, n - now); // epoch milliseconds
    }
    if (n > 1e9) {
      return Math.max(0, n * 1000 - now); // epoch seconds
    }
    return Math.max(0, n * 1000); // seconds from now
  }
  const hints = ['x-ratelimit-reset-requests', 'x-ratelimit-reset-tokens']
    .map((h) => header(headers, h))
    .map((v) => (v ? parseDuration(v) : undefined))
    .filter((v): v is number => v !== undefined);
  return hints.length ? Math.max(...hints) : undefined;
}

// One "<number> <unit>" piece of a spoken duration: 2s, 1.5 seconds, 20ms, 3 minutes, 1h, 2 days.
const PIECE =
  /\s*(\d+(?:\.\d+)?)\s*(milliseconds?|millis|msecs?|ms|seconds?|secs?|s|minutes?|mins?|m|hours?|hrs?|h|days?|d)(?![a-z])\s*(?:,\s*|and\s+)?/iy;

function unitMs(unit: string): number {
  const u = unit.toLowerCase();
  if (u.startsWith('ms') || u.startsWith('mil')) {
    return 1;
  }
  if (u.startsWith('s')) {
    return 1000;
  }
  if (u.startsWith('m')) {
    return 60_000;
  }
  if (u.startsWith('h')) {
    return 3_600_000;
  }
  return 86_400_000;
}

/** A spoken duration at `from` in `text` ("1m30s", "1 minute and 30 seconds", "2.5s"). */
function durationAt(text: string, from: number): number | undefined {
  PIECE.lastIndex = from;
  let total = 0;
  let pieces = 0;
  for (let m = PIECE.exec(text); m; m = PIECE.exec(text)) {
    total += Number(m[1]) * unitMs(m[2]);
    pieces++;
  }
  return pieces ? total : undefined;
}

// "try again in", "retry after", "Please retry in", "resets in", "reset after", "wait 30 seconds".
const ANCHOR =
  /\b(?:try(?:ing)? again|retry(?:ing)?|re-?try|resets?|resetting|wait)(?:\s+(?:in|after|for))?\s+(?:about\s+|approximately\s+|~\s*)?(?=\d)/gi;
// Google's RetryInfo detail: "retryDelay": "27s" (also 27.5s).
const RETRY_DELAY = /"retryDelay"\s*:\s*"(\d+(?:\.\d+)?)s"/i;

/**
 * A retry hint written in an error text, in milliseconds: "try again in 2s", "retry in 1.5
 * seconds", "Please retry after 20ms", "retry after 3 minutes", "reset in 1m30s", Google's
 * `"retryDelay": "27s"`. The first hint found wins; a bare number without a unit is not a hint.
 */
export function retryHintFromText(text: string): number | undefined {
  if (!text) {
    return undefined;
  }
  const sample = text.length > 20_000 ? text.slice(0, 20_000) : text;
  ANCHOR.lastIndex = 0;
  for (let a = ANCHOR.exec(sample); a; a = ANCHOR.exec(sample)) {
    const ms = durationAt(sample, a.index + a[0].length);
    if (ms !== undefined) {
      return Math.round(ms);
    }
  }
  const rd = RETRY_DELAY.exec(sample);
  return rd ? Math.round(Number(rd[1]) * 1000) : undefined;
}
