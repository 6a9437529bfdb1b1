import {
  type CooldownPlan,
  type FailureClass,
  type FailureInput,
  PERMANENT_COOLDOWN_MS,
  classifyFailure,
} from './classify';

const NOW = Date.UTC(2025, 5, 1, 18, 30, 0); // 5.5 h before UTC midnight
const TO_MIDNIGHT = 5.5 * 3600_000;

const BACKOFF_CONN: CooldownPlan = { scope: 'connection', mode: 'backoff' };
const BACKOFF_MODEL: CooldownPlan = { scope: 'model', mode: 'backoff' };
const PERMANENT: CooldownPlan = { scope: 'connection', mode: 'fixed', ms: PERMANENT_COOLDOWN_MS };

const permanent = (reason: FailureClass['reason']): FailureClass => ({
  reason,
  fallback: true,
  retrySame: false,
  cooldown: PERMANENT,
  breaker: false,
  permanent: true,
});
const NO_FALLBACK: FailureClass = {
  reason: 'bad_request',
  fallback: false,
  retrySame: false,
  cooldown: null,
  breaker: false,
  permanent: false,
};
const CONTEXT: FailureClass = { ...NO_FALLBACK, reason: 'context_overflow', fallback: true };
const RATE_LIMITED: FailureClass = {
  reason: 'rate_limited',
  fallback: true,
  retrySame: false,
  cooldown: BACKOFF_CONN,
  breaker: false,
  permanent: false,
};
const server = (
  reason: 'server_error' | 'timeout' | 'overloaded',
  retrySame: boolean,
  cooldown: CooldownPlan = BACKOFF_MODEL,
): FailureClass => ({
  reason,
  fallback: true,
  retrySame,
  cooldown,
  breaker: true,
  permanent: false,
});

const openAiError = (message: string, type: string, code: string | null = null): string =>
  JSON.stringify({ error: { message, type, param: null, code } });

const GEMINI_PER_MINUTE = JSON.stringify({
  error: {
    code: 429,
    message:
      'You exceeded your current quota, please check your plan and billing details. For more information on this error, head to: https://ai.google.dev/gemini-api/docs/rate-limits.\n* Quota exceeded for metric: generativelanguage.googleapis.com/generate_content_free_tier_requests, limit: 10, model: gemini-2.5-flash\nPlease retry in 47.90387357s.',
    status: 'RESOURCE_EXHAUSTED',
    details: [
      {
        '@type': 'type.googleapis.com/google.rpc.QuotaFailure',
        violations: [{ quotaId: 'GenerateRequestsPerMinutePerProjectPerModel-FreeTier' }],
      },
      { '@type': 'type.googleapis.com/google.rpc.RetryInfo', retryDelay: '47s' },
    ],
  },
});
const GEMINI_PER_DAY = GEMINI_PER_MINUTE.replace('PerMinute', 'PerDay');

type Row = [title: string, input: Partial<FailureInput>, expected: FailureClass];

function check(rows: Row[]): void {
  it.each(rows)('%s', (_title, input, expected) => {
    expect(classifyFailure({ status: 0, now: NOW, ...input })).toEqual(expected);
  });
}

describe(classifyFailure.name, () => {
  describe('transport failures', () => {
    check([
      [
        'timeout: retry, fall back, backoff, breaker',
        { transport: 'timeout' },
        server('timeout', true, BACKOFF_CONN),
      ],
      [
        'connect-timeout as timeout',
        { transport: 'connect-timeout' },
        server('timeout', true, BACKOFF_CONN),
      ],
      [
        'network: retry, fall back, backoff, breaker',
        { transport: 'network' },
        { ...server('server_error', true, BACKOFF_CONN), reason: 'network' },
      ],
      [
        'first-token-timeout: fall back only (not the account’s fault)',
        { transport: 'first-token-timeout' },
        {
          reason: 'first_token_timeout',
          fallback: true,
          retrySame: false,
          cooldown: null,
          breaker: false,
          permanent: false,
        },
      ],
      [
        'invalid-response: fall back, no same-account retry, breaker',
        { transport: 'invalid-response' },
        { ...server('server_error', false, BACKOFF_CONN), reason: 'invalid_response' },
      ],
      [
        'the transport kind wins over a status',
        { transport: 'network', status: 401 },
        { ...server('server_error', true, BACKOFF_CONN), reason: 'network' },
      ],
      [
        'status 0 without a transport kind is a network failure',
        { status: 0 },
        { ...server('server_error', true, BACKOFF_CONN), reason: 'network' },
      ],
      [
        'a success status reported as a failure is an invalid response',
        { status: 200, text: 'not json' },
        { ...server('server_error', false, BACKOFF_CONN), reason: 'invalid_response' },
      ],
    ]);
  });

  describe('banned (text, any status)', () => {
    check([
      [
        'OpenAI account_deactivated 401',
        {
          status: 401,
          text: openAiError(
            'Your account has been deactivated. Please contact support.',
            'invalid_request_error',
            'account_deactivated',
          ),
        },
        permanent('banned'),
      ],
      [
        'Anthropic organization disabled 403',
        { status: 403, text: 'This organization has been disabled.' },
        permanent('banned'),
      ],
      [
        'Google consumer suspended 403',
        {
          status: 403,
          text: "Permission denied: Consumer 'api_key:AIzaSyA-example-0123456789' has been suspended.",
        },
        permanent('banned'),
      ],
      ['suspended account (400)', { status: 400, text: 'Suspended account' }, permanent('banned')],
      ['user is banned (429)', { status: 429, text: 'user is banned' }, permanent('banned')],
      [
        'verify your account (403)',
        { status: 403, text: 'Please verify your account to continue.' },
        permanent('banned'),
      ],
      [
        'banned text beats a 500',
        { status: 500, text: 'Your account was suspended' },
        permanent('banned'),
      ],
      [
        'not for Google "API has not been used in project … or it is disabled" (403 backoff)',
        {
          status: 403,
          text: 'Generative Language API has not been used in project 123 before or it is disabled. SERVICE_DISABLED',
        },
        {
          reason: 'forbidden',
          fallback: true,
          retrySame: false,
          cooldown: BACKOFF_CONN,
          breaker: false,
          permanent: false,
        },
      ],
      [
        'not for an unrelated "disabled" (400 stays a plain bad request)',
        { status: 400, text: 'Streaming is disabled for this model' },
        NO_FALLBACK,
      ],
    ]);
  });

  describe('credits exhausted', () => {
    check([
      ['402 without text', { status: 402 }, permanent('credits_exhausted')],
      [
        'OpenAI insufficient_quota 429',
        {
          status: 429,
          text: openAiError(
            'You exceeded your current quota, please check your plan and billing details.',
            'insufficient_quota',
            'insufficient_quota',
          ),
          headers: { 'retry-after': '5' },
        },
        permanent('credits_exhausted'),
      ],
      [
        '"exceeded your current quota" without a rate window',
        { status: 429, text: 'You exceeded your current quota.' },
        permanent('credits_exhausted'),
      ],
      [
        'billing_hard_limit_reached 400',
        {
          status: 400,
          text: openAiError(
            'Billing hard limit has been reached',
            'invalid_request_error',
            'billing_hard_limit_reached',
          ),
        },
        permanent('credits_exhausted'),
      ],
      [
        'Anthropic credit_balance_too_low 400',
        { status: 400, text: 'Your credit balance is too low to access the Anthropic API.' },
        permanent('credits_exhausted'),
      ],
      [
        'out of credits 403',
        { status: 403, text: 'You are out of credits' },
        permanent('credits_exhausted'),
      ],
      [
        'payment required 400',
        { status: 400, text: 'Payment Required' },
        permanent('credits_exhausted'),
      ],
      [
        'insufficient funds 500',
        { status: 500, text: 'Insufficient funds in wallet' },
        permanent('credits_exhausted'),
      ],
      [
        'credit limit 429',
        { status: 429, text: 'Monthly credit limit hit' },
        permanent('credits_exhausted'),
      ],
      [
        'banned beats credits',
        { status: 402, text: 'Your account has been deactivated' },
        permanent('banned'),
      ],
    ]);
  });

  describe('daily quota (429)', () => {
    const daily = (scope: 'connection' | 'model'): FailureClass => ({
      reason: 'quota_daily',
      fallback: true,
      retrySame: false,
      cooldown: { scope, mode: 'fixed', ms: TO_MIDNIGHT },
      breaker: false,
      permanent: false,
    });
    check([
      ['"daily quota"', { status: 429, text: 'Daily quota exceeded' }, daily('connection')],
      [
        '"today\'s quota"',
        { status: 429, text: "You have used today's quota" },
        daily('connection'),
      ],
      [
        '"try again tomorrow"',
        { status: 429, text: 'Limit hit, try again tomorrow' },
        daily('connection'),
      ],
      [
        '"per day"',
        { status: 429, text: 'Rate limit reached for requests per day (RPD)' },
        daily('connection'),
      ],
      [
        'Gemini PerDay quota at model scope, ignoring its retry hint',
        { status: 429, text: GEMINI_PER_DAY, perModelQuota: true },
        daily('model'),
      ],
      [
        'not on other statuses (403 stays forbidden)',
        { status: 403, text: 'Daily quota exceeded' },
        {
          reason: 'forbidden',
          fallback: true,
          retrySame: false,
          cooldown: BACKOFF_CONN,
          breaker: false,
          permanent: false,
        },
      ],
    ]);

    it('runs until the next UTC midnight (a full day at exactly midnight)', () => {
      const midnight = Date.UTC(2025, 0, 1);
      const at = (now: number): CooldownPlan | null =>
        classifyFailure({ status: 429, text: 'daily quota', now }).cooldown;
      expect(at(midnight)).toEqual({ scope: 'connection', mode: 'fixed', ms: 86_400_000 });
      expect(at(midnight - 1)).toEqual({ scope: 'connection', mode: 'fixed', ms: 1 });
    });
  });

  describe('auth and permission', () => {
    check([
      [
        '401 (bad key) is permanent',
        { status: 401, text: 'Incorrect API key provided' },
        permanent('unauthorized'),
      ],
      ['401 without a body', { status: 401 }, permanent('unauthorized')],
      [
        "Google's 400 API_KEY_INVALID counts as a bad key",
        {
          status: 400,
          text: '{"error":{"code":400,"message":"API key not valid. Please pass a valid API key.","status":"INVALID_ARGUMENT","details":[{"reason":"API_KEY_INVALID"}]}}',
        },
        permanent('unauthorized'),
      ],
      [
        '403: fall back with a connection backoff, not permanent, not the breaker',
        { status: 403, text: 'Forbidden' },
        {
          reason: 'forbidden',
          fallback: true,
          retrySame: false,
          cooldown: BACKOFF_CONN,
          breaker: false,
          permanent: false,
        },
      ],
    ]);
  });

  describe('model not found', () => {
    const notFound: FailureClass = {
      reason: 'model_not_found',
      fallback: true,
      retrySame: false,
      cooldown: { scope: 'model', mode: 'fixed', ms: 120_000 },
      breaker: false,
      permanent: false,
    };
    check([
      [
        '404 locks the model for 2 minutes',
        { status: 404, text: 'The model `x` does not exist' },
        notFound,
      ],
      ['404 on a per-model-quota provider too', { status: 404, perModelQuota: true }, notFound],
    ]);
  });

  describe('rate limited (429)', () => {
    const hint = (ms: number, scope: 'connection' | 'model' = 'connection'): FailureClass => ({
      ...RATE_LIMITED,
      cooldown: { scope, mode: 'hint', ms },
    });
    check([
      [
        'no hint: backoff at connection scope',
        { status: 429, text: 'Too many requests' },
        RATE_LIMITED,
      ],
      [
        'per-model quota: backoff at model scope',
        { status: 429, perModelQuota: true },
        { ...RATE_LIMITED, cooldown: BACKOFF_MODEL },
      ],
      [
        'Retry-After header as the hint',
        { status: 429, headers: { 'retry-after': '7' } },
        hint(7_000),
      ],
      [
        'x-ratelimit-reset-requests as the hint',
        { status: 429, headers: { 'x-ratelimit-reset-requests': '1.5s' } },
        hint(1_500),
      ],
      [
        'a text hint when the headers have none',
        { status: 429, text: 'Please try again in 2s.', headers: {} },
        hint(2_000),
      ],
      [
        'the header hint beats the text hint',
        { status: 429, text: 'Please try again in 2s.', headers: { 'retry-after': '9' } },
        hint(9_000),
      ],
      [
        'Gemini per-minute quota: the text hint, model scope',
        { status: 429, text: GEMINI_PER_MINUTE, perModelQuota: true },
        hint(47_904, 'model'),
      ],
      [
        'hints ignored when useUpstreamRetryHints is false',
        {
          status: 429,
          text: 'try again in 2s',
          headers: { 'retry-after': '7' },
          useUpstreamRetryHints: false,
        },
        RATE_LIMITED,
      ],
      [
        '"overloaded" text on a 429 is still a rate limit',
        { status: 429, text: 'Overloaded' },
        RATE_LIMITED,
      ],
      [
        '"capacity" text on a 429 is still a rate limit',
        { status: 429, text: 'Model is at capacity' },
        RATE_LIMITED,
      ],
      [
        '"quota exceeded" on a 429 is a rate limit',
        { status: 429, text: 'Quota exceeded, rate limit' },
        RATE_LIMITED,
      ],
    ]);
  });

  describe('overloaded', () => {
    check([
      [
        '529',
        {
          status: 529,
          text: '{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}',
        },
        server('overloaded', true),
      ],
      [
        '503 with "overloaded" text',
        { status: 503, text: 'The model is overloaded' },
        server('overloaded', true),
      ],
      [
        '503 with "over capacity" text',
        { status: 503, text: 'Engine is over capacity' },
        server('overloaded', true),
      ],
      [
        'a Retry-After hint',
        { status: 529, headers: { 'retry-after': '3' } },
        server('overloaded', true, { scope: 'model', mode: 'hint', ms: 3_000 }),
      ],
      [
        'a text hint',
        { status: 503, text: 'Overloaded, try again in 4s' },
        server('overloaded', true, { scope: 'model', mode: 'hint', ms: 4_000 }),
      ],
      [
        'hints ignored when useUpstreamRetryHints is false',
        { status: 529, headers: { 'retry-after': '3' }, useUpstreamRetryHints: false },
        server('overloaded', true),
      ],
      [
        'model scope whatever the provider: the account answered',
        { status: 529, perModelQuota: true },
        server('overloaded', true),
      ],
    ]);
  });

  describe('server errors and timeouts', () => {
    check([
      [
        '500: fall back, no same-account retry',
        { status: 500, text: 'Internal error' },
        server('server_error', false),
      ],
      ['502: retry the same account', { status: 502 }, server('server_error', true)],
      [
        '503: retry the same account',
        { status: 503, text: 'Service Unavailable' },
        server('server_error', true),
      ],
      ['504 is a timeout', { status: 504 }, server('timeout', true)],
      ['408 is a timeout', { status: 408 }, server('timeout', true)],
      ['501 (other 5xx): no same-account retry', { status: 501 }, server('server_error', false)],
      ['599 (other 5xx)', { status: 599 }, server('server_error', false)],
      [
        'Retry-After on a 503 is the hint',
        { status: 503, headers: { 'retry-after': '10' } },
        server('server_error', true, { scope: 'model', mode: 'hint', ms: 10_000 }),
      ],
      [
        'a text hint on a 500 is not used (headers only)',
        { status: 500, text: 'try again in 5s' },
        server('server_error', false),
      ],
      [
        'hints ignored when useUpstreamRetryHints is false',
        { status: 503, headers: { 'retry-after': '10' }, useUpstreamRetryHints: false },
        server('server_error', true),
      ],
      [
        '406: fall back with backoff, not the breaker',
        { status: 406 },
        { ...server('server_error', false, BACKOFF_CONN), breaker: false },
      ],
    ]);
  });

  describe('bad requests and context overflow', () => {
    check([
      [
        'plain 400: no fallback',
        {
          status: 400,
          text: openAiError("Invalid value for 'messages'.", 'invalid_request_error'),
        },
        NO_FALLBACK,
      ],
      ['plain 422: no fallback', { status: 422, text: 'Unprocessable' }, NO_FALLBACK],
      ['400 without a body: no fallback', { status: 400 }, NO_FALLBACK],
      ['409 (other 4xx): no fallback', { status: 409 }, NO_FALLBACK],
      ['410 (other 4xx): no fallback', { status: 410 }, NO_FALLBACK],
      ['413 is a context overflow', { status: 413 }, CONTEXT],
      [
        'input is too long',
        { status: 400, text: 'Input is too long for requested model.' },
        CONTEXT,
      ],
      [
        'context_length_exceeded',
        {
          status: 400,
          text: openAiError(
            "This model's maximum context length is 128000 tokens.",
            'invalid_request_error',
            'context_length_exceeded',
          ),
        },
        CONTEXT,
      ],
      ['context length', { status: 400, text: 'exceeds the context length' }, CONTEXT],
      ['maximum context', { status: 422, text: 'over the maximum context' }, CONTEXT],
      ['too many tokens', { status: 400, text: 'Too many tokens in request' }, CONTEXT],
      [
        'prompt is too long',
        { status: 400, text: 'prompt is too long: 210000 tokens > 200000 maximum' },
        CONTEXT,
      ],
      [
        'max_tokens … exceed',
        { status: 400, text: 'max_tokens (100000) exceeds the limit' },
        CONTEXT,
      ],
      ['token limit', { status: 400, text: 'Request exceeds the token limit' }, CONTEXT],
      ['request too large', { status: 400, text: 'Request too large for model' }, CONTEXT],
      [
        'Gemini input token count',
        {
          status: 400,
          text: 'The input token count (1200000) exceeds the maximum number of tokens allowed (1048576).',
        },
        CONTEXT,
      ],
      [
        'context overflow text on a 404 is still a 404',
        { status: 404, text: 'context length' },
        {
          reason: 'model_not_found',
          fallback: true,
          retrySame: false,
          cooldown: { scope: 'model', mode: 'fixed', ms: 120_000 },
          breaker: false,
          permanent: false,
        },
      ],
      [
        'overflow text on a 429 is a rate limit',
        { status: 429, text: 'Request too large for gpt-4o on tokens per min (TPM)' },
        RATE_LIMITED,
      ],
    ]);
  });

  describe('precedence', () => {
    it('banned text beats every status', () => {
      for (const status of [400, 401, 403, 404, 429, 500, 503, 529]) {
        expect(classifyFailure({ status, text: 'Your account has been suspended' }).reason).toBe(
          'banned',
        );
      }
    });

    it('credits text beats every status', () => {
      for (const status of [400, 401, 403, 404, 413, 429, 500, 503, 529]) {
        expect(classifyFailure({ status, text: 'insufficient_quota' }).reason).toBe(
          'credits_exhausted',
        );
      }
    });

    it('hints come from headers or text only with useUpstreamRetryHints', () => {
      const input: FailureInput = {
        status: 429,
        text: 'retry in 3s',
        headers: { 'retry-after': '1' },
      };
      expect(classifyFailure(input).cooldown).toEqual({
        scope: 'connection',
        mode: 'hint',
        ms: 1_000,
      });
      expect(classifyFailure({ ...input, useUpstreamRetryHints: true }).cooldown?.mode).toBe(
        'hint',
      );
      expect(classifyFailure({ ...input, useUpstreamRetryHints: false }).cooldown).toEqual(
        BACKOFF_CONN,
      );
    });

    it('a Retry-After of 0 is a hint of 0 ms', () => {
      expect(classifyFailure({ status: 429, headers: { 'retry-after': '0' } }).cooldown).toEqual({
        scope: 'connection',
        mode: 'hint',
        ms: 0,
      });
    });

    it('searches only the start of a huge body', () => {
      const text = 'x'.repeat(100_000) + ' account has been suspended';
      expect(classifyFailure({ status: 400, text }).reason).toBe('bad_request');
    });

    it('only permanent reasons are permanent, and they always fall back', () => {
      const cases: FailureInput[] = [
        { status: 0, transport: 'timeout' },
        { status: 400 },
        { status: 401 },
        { status: 402 },
        { status: 403 },
        { status: 403, text: 'account deactivated' },
        { status: 404 },
        { status: 429 },
        { status: 500 },
      ];
      for (const c of cases) {
        const r = classifyFailure(c);
        const isPermanent = ['banned', 'credits_exhausted', 'unauthorized'].includes(r.reason);
        expect(r.permanent).toBe(isPermanent);
        if (r.permanent) {
          expect(r.fallback).toBe(true);
          expect(r.cooldown).toEqual(PERMANENT);
        }
      }
    });
  });
});
