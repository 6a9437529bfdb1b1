import { type HeaderBag, retryAfterMs, retryHintFromText } from './retry-hints';

/**
 * Upstream failure classification (reference §5.4 step 7 and §5.5, adapted to API-key accounts):
 * what a failed upstream attempt means for the request (fall back? retry the same account?), for
 * the account (cooldown, permanently unusable?) and for the provider's circuit breaker.
 *
 * Rules, first match wins (top to bottom):
 *
 * | # | Input                                                       | reason              | fallback | retrySame | cooldown                       | breaker | permanent |
 * |---|-------------------------------------------------------------|---------------------|----------|-----------|--------------------------------|---------|-----------|
 * | 1 | transport timeout / connect-timeout                         | timeout             | yes      | yes       | backoff, connection            | yes     | no        |
 * | 1 | transport network (also status 0 without a transport kind)  | network             | yes      | yes       | backoff, connection            | yes     | no        |
 * | 1 | transport first-token-timeout (slow, not the account's fault)| first_token_timeout | yes      | no        | none                           | no      | no        |
 * | 1 | transport invalid-response (also a 1xx-3xx "failure")       | invalid_response    | yes      | no        | backoff, connection            | yes     | no        |
 * | 2 | text: account deactivated/suspended/disabled/banned, "verify your account" (any status) | banned | yes | no | fixed PERMANENT, connection | no | yes |
 * | 3 | status 402, or text insufficient_quota, billing_hard_limit_reached, credit_balance_too_low, out of credits, payment required, insufficient funds, credit limit, "exceeded your current quota"¹ | credits_exhausted | yes | no | fixed PERMANENT, connection | no | yes |
 * | 4 | 429 + daily text ("daily quota", "today's quota", "try again tomorrow", "per day") | quota_daily | yes | no | fixed until next UTC midnight, model² | no | no |
 * | 5 | 400 + invalid-key text ("API key not valid", API_KEY_INVALID, invalid_api_key)³ | unauthorized | yes | no | fixed PERMANENT, connection | no | yes |
 * | 6 | 401                                                         | unauthorized        | yes      | no        | fixed PERMANENT, connection    | no      | yes       |
 * | 7 | 403                                                         | forbidden           | yes      | no        | backoff, connection            | no      | no        |
 * | 8 | 404                                                         | model_not_found     | yes      | no        | fixed 120 s, model             | no      | no        |
 * | 9 | 429 (also with "overloaded"/"capacity" text)                | rate_limited        | yes      | no        | hint⁴ else backoff, model²     | no      | no        |
 * |10 | 529, or 503 + overloaded/capacity text                      | overloaded          | yes      | yes       | hint⁴ else backoff, model⁶     | yes     | no        |
 * |11 | 408, 504                                                    | timeout             | yes      | yes       | Retry-After⁵ else backoff, model⁶ | yes  | no        |
 * |12 | 502, 503                                                    | server_error        | yes      | yes       | Retry-After⁵ else backoff, model⁶ | yes  | no        |
 * |13 | 500 and any other 5xx                                       | server_error        | yes      | no        | Retry-After⁵ else backoff, model⁶ | yes  | no        |
 * |14 | 413, or 400/422 + context-overflow text                     | context_overflow    | yes      | no        | none                           | no      | no        |
 * |15 | 400, 422 (anything else)                                    | bad_request         | NO       | no        | none                           | no      | no        |
 * |16 | 406                                                         | server_error        | yes      | no        | backoff, connection            | no      | no        |
 * |17 | any other 4xx                                               | bad_request         | NO       | no        | none                           | no      | no        |
 *
 * ¹ "exceeded your current quota" alone is ambiguous: Google answers every free-tier rate limit
 *   with it. It counts as credits only when the text names no rate window (per minute / per day,
 *   "quota exceeded for metric", a retryDelay); otherwise the 429 rules decide.
 * ² scope `model` only when `perModelQuota` (quotas per model: gemini, compatible nodes), else
 *   `connection`. A 404 always locks the (connection, model) pair.
 * ³ Google answers a bad key with 400 API_KEY_INVALID; that is the account's fault like a 401.
 * ⁴ Hint = the upstream headers (`retryAfterMs`), else the text (`retryHintFromText`); only when
 *   `useUpstreamRetryHints !== false`.
 * ⁵ Headers only (`retryAfterMs`), same switch as ⁴.
 * ⁶ An HTTP error answer proves the account and endpoint work: the (connection, model) pair cools
 *   down, the account keeps serving its other models. A provider-wide outage is the circuit
 *   breaker's job (these count for it). Transport failures (no answer at all) cool the connection.
 *
 * "backoff" is `base × 2^level` computed by the caller (it owns the level); "hint" is the delay
 * the upstream asked for. Hints are not capped here.
 */

export type FailureReason =
  | 'rate_limited'
  | 'quota_daily'
  | 'credits_exhausted'
  | 'banned'
  | 'unauthorized'
  | 'forbidden'
  | 'model_not_found'
  | 'context_overflow'
  | 'bad_request'
  | 'server_error'
  | 'overloaded'
  | 'timeout'
  | 'first_token_timeout'
  | 'network'
  | 'invalid_response';

export type CooldownPlan =
  | { scope: 'connection' | 'model'; mode: 'backoff' } // base × 2^level
  | { scope: 'connection' | 'model'; mode: 'fixed'; ms: number }
  | { scope: 'connection' | 'model'; mode: 'hint'; ms: number }; // the upstream said when

export interface FailureClass {
  reason: FailureReason;
  /** Try another account / combo target. */
  fallback: boolean;
  /** A same-account retry (with backoff, before any byte reached the client) may help. */
  retrySame: boolean;
  cooldown: CooldownPlan | null;
  /** Counts as a provider failure for the circuit breaker. */
  breaker: boolean;
  /** The account is unusable until an admin fixes it (bad key, banned, credits exhausted). */
  permanent: boolean;
}

export interface FailureInput {
  /** Upstream HTTP status; 0 for transport failures. */
  status: number;
  /** Upstream error body (any shape, may be JSON text). */
  text?: string;
  headers?: HeaderBag;
  transport?:
    'timeout' | 'connect-timeout' | 'first-token-timeout' | 'network' | 'invalid-response';
  /** Provider quotas are per model (gemini, custom compatible nodes): 404/429 lock (connection, model) only. */
  perModelQuota?: boolean;
  /** Default true. */
  useUpstreamRetryHints?: boolean;
  /** For the daily-quota "until midnight" computation (UTC midnight). */
  now?: number;
}

export const PERMANENT_COOLDOWN_MS = 365 * 24 * 3600_000;

const MODEL_NOT_FOUND_MS = 120_000;
/** Only the start of a huge error body is searched. */
const MAX_TEXT = 16_000;

const BANNED: readonly RegExp[] = [
  /\baccount[_ ](?:deactivated|suspended|disabled|banned)\b/i,
  /\b(?:account|organi[sz]ation|org|user|consumer|project|workspace|api[ _-]?key)\b[\w\s'"`:/-]{0,80}?\b(?:has been|was|is|been|got)\s+(?:permanently\s+|temporarily\s+)?(?:deactivated|suspended|disabled|banned|terminated)\b/i,
  /\b(?:deactivated|suspended|banned|disabled|terminated)\s+(?:account|organi[sz]ation|user)\b/i,
  /\bverify your (?:account|identity|organi[sz]ation)\b/i,
];

/** Google's "API not enabled in this project" 403 is a setup problem, not a ban. */
const NOT_BANNED = /has not been used in project|service_disabled/i;

const CREDITS: readonly RegExp[] = [
  /insufficient[_ ]quota/i,
  /billing[_ ]hard[_ ]limit[_ ]reached/i,
  /credit[_ ]balance[_ ](?:is[_ ])?too[_ ]low/i,
  /\bout of credits?\b/i,
  /\bpayment[_ ]required\b/i,
  /\binsufficient[_ ](?:funds|balance|credits?)\b/i,
  /\bcredit[_ ]limit\b/i,
];
const EXCEEDED_QUOTA = /exceeded your current quota/i;
/** Words of a rate window: with them "exceeded your current quota" is a rate limit, not credits. */
const RATE_WINDOW =
  /per[ _-]?(?:minute|day|hour|second)|quota exceeded for metric|retrydelay|requests per|tokens per|rate[ _-]?limit|daily/i;

const DAILY = [
  /\bdaily (?:quota|limit|request limit|token limit)\b/i,
  /\btoday'?s (?:quota|limit)\b/i,
  /\btry again tomorrow\b/i,
  /per[ _-]?day/i,
];

const INVALID_KEY = /api[ _]key not valid|api_key_invalid|invalid[ _]api[ _]key|incorrect api key/i;

const CONTEXT_OVERFLOW: readonly RegExp[] = [
  /input is too long/i,
  /context[ _]length/i,
  /context[ _]window/i,
  /maximum context/i,
  /too many (?:input )?tokens/i,
  /prompt is too long/i,
  /max_tokens\b.{0,120}?(?:exceed|too large|maximum)/i,
  /exceeds? the maximum (?:number of )?(?:input )?tokens/i,
  /token limit/i,
  /request too large/i,
  /reduce the length of the messages/i,
];

const OVERLOADED = /overloaded|over capacity|at capacity/i;

/** The body's text plus its decoded JSON strings (so `\u0027` escapes and nesting don't matter). */
function haystack(text: string | undefined): string {
  if (!text) {
    return '';
  }
  const raw = text.length > MAX_TEXT ? text.slice(0, MAX_TEXT) : text;
  const first = raw.trimStart()[0];
  if (first !== '{' && first !== '[') {
    return raw;
  }
  try {
    const strings: string[] = [];
    const walk = (v: unknown, depth: number): void => {
      if (typeof v === 'string') {
        strings.push(v);
      } else if (v && typeof v === 'object' && depth < 8) {
        for (const x of Object.values(v)) {
          walk(x, depth + 1);
        }
      }
    };
    walk(JSON.parse(raw), 0);
    return `${raw}\n${strings.join('\n')}`;
  } catch {
    return raw;
  }
}

const any = (patterns: readonly RegExp[], s: string): boolean => patterns.some((p) => p.test(s));

/** Milliseconds from `now` to the next 00:00 UTC (a full day when `now` is exactly midnight). */
function untilUtcMidnight(now: number): number {
  const d = new Date(now);
  return Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate() + 1) - now;
}

function result(
  reason: FailureReason,
  fallback: boolean,
  retrySame: boolean,
  cooldown: CooldownPlan | null,
  breaker: boolean,
  permanent = false,
): FailureClass {
  return { reason, fallback, retrySame, cooldown, breaker, permanent };
}

function permanentFailure(reason: 'banned' | 'credits_exhausted' | 'unauthorized'): FailureClass {
  return result(
    reason,
    true,
    false,
    { scope: 'connection', mode: 'fixed', ms: PERMANENT_COOLDOWN_MS },
    false,
    true,
  );
}

function hintOrBackoff(scope: 'connection' | 'model', ms: number | undefined): CooldownPlan {
  return ms === undefined ? { scope, mode: 'backoff' } : { scope, mode: 'hint', ms };
}

function transportFailure(kind: NonNullable<FailureInput['transport']>): FailureClass {
  const backoff: CooldownPlan = { scope: 'connection', mode: 'backoff' };
  switch (kind) {
    case 'timeout':
    case 'connect-timeout':
      return result('timeout', true, true, backoff, true);
    case 'network':
      return result('network', true, true, backoff, true);
    case 'first-token-timeout':
      return result('first_token_timeout', true, false, null, false);
    case 'invalid-response':
      return result('invalid_response', true, false, backoff, true);
  }
}

/** What a failed upstream attempt means; see the rule table at the top of this file. */
export function classifyFailure(input: FailureInput): FailureClass {
  if (input.transport) {
    return transportFailure(input.transport);
  }
  const status = input.status;
  if (!Number.isInteger(status) || status <= 0) {
    return transportFailure('network');
  }
  if (status < 400) {
    return transportFailure('invalid-response'); // a "failure" with a success status
  }

  const text = haystack(input.text);
  const hints = input.useUpstreamRetryHints !== false;
  const headerHint = (): number | undefined =>
    hints && input.headers ? retryAfterMs(input.headers, input.now) : undefined;
  const anyHint = (): number | undefined =>
    headerHint() ?? (hints && text ? retryHintFromText(text) : undefined);
  const quotaScope = input.perModelQuota ? 'model' : 'connection';

  if (text && any(BANNED, text) && !NOT_BANNED.test(text)) {
    return permanentFailure('banned');
  }
  if (
    status === 402 ||
    (text && (any(CREDITS, text) || (EXCEEDED_QUOTA.test(text) && !RATE_WINDOW.test(text))))
  ) {
    return permanentFailure('credits_exhausted');
  }
  if (status === 429 && text && any(DAILY, text)) {
    const ms = untilUtcMidnight(input.now ?? Date.now());
    return result('quota_daily', true, false, { scope: quotaScope, mode: 'fixed', ms }, false);
  }
  if (status === 400 && text && INVALID_KEY.test(text)) {
    return permanentFailure('unauthorized');
  }

  switch (status) {
    case 401:
      return permanentFailure('unauthorized');
    case 403:
      return result('forbidden', true, false, { scope: 'connection', mode: 'backoff' }, false);
    case 404:
      return result(
        'model_not_found',
        true,
        false,
        { scope: 'model', mode: 'fixed', ms: MODEL_NOT_FOUND_MS },
        false,
      );
    case 429:
      return result('rate_limited', true, false, hintOrBackoff(quotaScope, anyHint()), false);
    case 406:
      return result('server_error', true, false, { scope: 'connection', mode: 'backoff' }, false);
    case 413:
      return result('context_overflow', true, false, null, false);
    default:
      break;
  }

  if (status === 529 || (status === 503 && text && OVERLOADED.test(text))) {
    return result('overloaded', true, true, hintOrBackoff('model', anyHint()), true);
  }
  if (status === 408 || status >= 500) {
    const reason = status === 408 || status === 504 ? 'timeout' : 'server_error';
    const retrySame = status === 408 || status === 502 || status === 503 || status === 504;
    return result(reason, true, retrySame, hintOrBackoff('model', headerHint()), true);
  }
  if ((status === 400 || status === 422) && text && any(CONTEXT_OVERFLOW, text)) {
    return result('context_overflow', true, false, null, false);
  }
  return result('bad_request', false, false, null, false);
}
