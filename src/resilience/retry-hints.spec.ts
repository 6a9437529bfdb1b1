import { parseDuration, retryAfterMs, retryHintFromText } from './retry-hints';

const NOW = Date.UTC(2025, 5, 1, 12, 0, 0);

describe('retryAfterMs', () => {
  beforeEach(() => jest.useFakeTimers({ now: NOW }));
  afterEach(() => jest.useRealTimers());

  it.each<[string, Record<string, string | string[] | undefined>, number | undefined]>([
    ['Retry-After seconds', { 'retry-after': '2' }, 2000],
    ['Retry-After fractional seconds', { 'retry-after': '1.5' }, 1500],
    ['Retry-After 0', { 'retry-after': '0' }, 0],
    ['a negative Retry-After as 0', { 'retry-after': '-5' }, 0],
    [
      'Retry-After as an HTTP date',
      { 'retry-after': new Date(NOW + 30_000).toUTCString() },
      30_000,
    ],
    ['a past HTTP date as 0', { 'retry-after': new Date(NOW - 60_000).toUTCString() }, 0],
    ['X-RateLimit-Reset epoch seconds', { 'x-ratelimit-reset': String(NOW / 1000 + 12) }, 12_000],
    ['X-RateLimit-Reset epoch milliseconds', { 'x-ratelimit-reset': String(NOW + 4_500) }, 4_500],
    ['X-RateLimit-Reset relative seconds', { 'x-ratelimit-reset': '7' }, 7_000],
    ['x-ratelimit-reset-requests duration', { 'x-ratelimit-reset-requests': '1.5s' }, 1_500],
    ['x-ratelimit-reset-tokens duration', { 'x-ratelimit-reset-tokens': '6m0s' }, 360_000],
    [
      'the longer of the requests/tokens durations',
      { 'x-ratelimit-reset-requests': '20ms', 'x-ratelimit-reset-tokens': '1m30s' },
      90_000,
    ],
    ['an array header (first value)', { 'retry-after': ['3', '9'] }, 3_000],
    ['a header name in another case', { 'Retry-After': '4' }, 4_000],
    [
      'Retry-After before X-RateLimit-Reset',
      { 'retry-after': '1', 'x-ratelimit-reset': '100' },
      1_000,
    ],
    ['no hint', { 'content-type': 'application/json' }, undefined],
    ['an unparseable Retry-After', { 'retry-after': 'soon' }, undefined],
    ['an unparseable duration', { 'x-ratelimit-reset-tokens': '5 minutes' }, undefined],
    ['an empty Retry-After', { 'retry-after': ' ' }, undefined],
  ])('reads %s', (_title, headers, expected) => {
    expect(retryAfterMs(headers)).toBe(expected);
  });

  it('takes `now` as a parameter for dates and epochs', () => {
    expect(retryAfterMs({ 'x-ratelimit-reset': String(NOW / 1000 + 10) }, NOW + 4_000)).toBe(6_000);
  });
});

describe('parseDuration', () => {
  it.each([
    ['1.5s', 1_500],
    ['20ms', 20],
    ['6m0s', 360_000],
    ['1h2m', 3_720_000],
    [' 2s ', 2_000],
  ])('%s is %d ms', (v, ms) => {
    expect(parseDuration(v)).toBe(ms);
  });

  it.each(['', 'abc', '2 s', '5x', '1s junk'])('rejects %j', (v) => {
    expect(parseDuration(v)).toBeUndefined();
  });
});

describe('retryHintFromText', () => {
  it.each<[string, number]>([
    ['Rate limit reached for requests. Please try again in 2s.', 2_000],
    ['Please try again in 1.5 seconds', 1_500],
    ['retry in 1.5 seconds', 1_500],
    ['Please retry after 20ms', 20],
    ['retry after 3 minutes', 180_000],
    ['Your quota will reset in 1m30s.', 90_000],
    ['Limit resets in 5 minutes', 300_000],
    ['Please try again in 6m0s', 360_000],
    ['try again in 1 minute and 30 seconds', 90_000],
    ['Please retry in 47.90387357s.', 47_904],
    ['Please wait 30 seconds before retrying', 30_000],
    ['retry after 2 hours', 7_200_000],
    ['TRY AGAIN IN 10 SECS', 10_000],
    ['try again in about 3s', 3_000],
    [
      '{"error":{"message":"Quota exceeded","details":[{"@type":"type.googleapis.com/google.rpc.RetryInfo","retryDelay":"27s"}]}}',
      27_000,
    ],
    ['first wins: try again in 2s, or retry after 10s', 2_000],
  ])('%j → %d ms', (text, ms) => {
    expect(retryHintFromText(text)).toBe(ms);
  });

  it.each([
    '',
    'Internal server error',
    'retry 3 times',
    'try again later',
    'retry after 20',
    'retry in 2 steps',
    'Please retry your request',
  ])('finds no hint in %j', (text) => {
    expect(retryHintFromText(text)).toBeUndefined();
  });

  it('is not fooled by a previous call (stateful regexes are reset)', () => {
    expect(retryHintFromText('xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx try again in 9s')).toBe(9_000);
    expect(retryHintFromText('try again in 1s')).toBe(1_000);
  });
});
