import { AppError } from '@/common/errors/app-error';
import {
  applyResiliencePatch,
  defaultResilience,
  loadStoredResilience,
  type ResilienceSettings,
} from './resilience.settings';

const TIMEOUTS = { connectMs: 10_000, totalMs: 600_000, streamIdleMs: 90_000 };

function defaults(): ResilienceSettings {
  return defaultResilience(TIMEOUTS);
}

/** The AppError a patch is refused with (fails the test when it is accepted). */
function refusal(current: ResilienceSettings, patch: unknown): AppError {
  try {
    applyResiliencePatch(current, patch);
  } catch (e) {
    expect(e).toBeInstanceOf(AppError);
    return e as AppError;
  }
  throw new Error('the patch was accepted');
}

function fieldsOf(err: AppError): string[] {
  expect(err.code).toBe('VALIDATION_FAILED');
  return ((err.details?.fields ?? []) as { message: string }[]).map((f) => f.message);
}

describe(defaultResilience.name, () => {
  it('takes connect, idle and total timeouts from the environment', () => {
    expect(defaults().timeouts).toEqual({
      connectMs: 10_000,
      firstTokenMs: 120_000,
      streamIdleMs: 90_000,
      totalMs: 600_000,
    });
  });

  it('never sets the first-token timeout above the total timeout', () => {
    expect(defaultResilience({ ...TIMEOUTS, totalMs: 45_000 }).timeouts.firstTokenMs).toBe(45_000);
  });

  it('starts with fill-first rotation, no provider overrides and waiting disabled', () => {
    const d = defaults();
    expect(d.accountRotation).toEqual({
      strategy: 'fill-first',
      stickyRoundRobinLimit: 3,
      providers: {},
    });
    expect(d.waitForCooldown.enabled).toBe(false);
    expect(d.requestQueue.autoEnableApiKeyProviders).toBe(false);
  });

  it('is accepted by its own validation', () => {
    const d = defaults();
    expect(applyResiliencePatch(d, d)).toEqual(d);
  });

  it('returns a fresh object each time', () => {
    const a = defaults();
    a.accountRotation.providers.openai = 'random';
    expect(defaults().accountRotation.providers).toEqual({});
  });
});

describe(applyResiliencePatch.name, () => {
  it('merges a partial section and leaves everything else as it was', () => {
    const current = defaults();
    const next = applyResiliencePatch(current, { retries: { maxRetries: 3 } });
    expect(next.retries).toEqual({ ...current.retries, maxRetries: 3 });
    expect({ ...next, retries: current.retries }).toEqual(current);
  });

  it('merges nested profiles field by field', () => {
    const current = defaults();
    const next = applyResiliencePatch(current, {
      connectionCooldown: { apikey: { baseCooldownMs: 500 } },
      providerBreaker: { oauth: { resetTimeoutMs: 5000 } },
    });
    expect(next.connectionCooldown.apikey).toEqual({
      ...current.connectionCooldown.apikey,
      baseCooldownMs: 500,
    });
    expect(next.connectionCooldown.oauth).toEqual(current.connectionCooldown.oauth);
    expect(next.providerBreaker.oauth).toEqual({ failureThreshold: 8, resetTimeoutMs: 5000 });
    expect(next.providerBreaker.apikey).toEqual(current.providerBreaker.apikey);
  });

  it('does not modify the current settings or the patch', () => {
    const current = defaults();
    const before = structuredClone(current);
    const patch = {
      retries: { maxRetries: 4 },
      profiles: { oauth: { baseCooldownMs: 1 } },
    };
    const patchBefore = structuredClone(patch);
    applyResiliencePatch(current, patch);
    expect(current).toEqual(before);
    expect(patch).toEqual(patchBefore);
  });

  it('accepts an empty patch', () => {
    const current = defaults();
    expect(applyResiliencePatch(current, {})).toEqual(current);
  });

  it.each([null, 'fast', 42, [1, 2], undefined])(
    'refuses a body that is not an object (%p)',
    (b) => {
      const err = refusal(defaults(), b);
      expect(err.status).toBe(400);
      expect(err.category).toBe('INVALID_INPUT');
    },
  );

  it('refuses an unknown field with a 400 naming it', () => {
    const err = refusal(defaults(), { retries: { maxRetries: 2, jitter: true } });
    expect(err.status).toBe(400);
    expect(err.code).toBe('VALIDATION_FAILED');
    expect(fieldsOf(err)).toEqual(['retries.jitter is not a known setting']);
  });

  it('refuses an unknown section', () => {
    expect(fieldsOf(refusal(defaults(), { bulkhead: { size: 3 } }))).toEqual([
      'bulkhead is not a known setting',
    ]);
  });

  it('lists every problem at once', () => {
    const err = refusal(defaults(), {
      retries: { maxRetries: 9, foo: 1 },
      timeouts: 'fast',
      waitForCooldown: { enabled: 'yes' },
    });
    expect(fieldsOf(err)).toEqual([
      'retries.maxRetries must be an integer between 0 and 5',
      'retries.foo is not a known setting',
      'timeouts must be an object',
      'waitForCooldown.enabled must be a boolean',
    ]);
  });

  it.each([
    [{ retries: { maxRetries: 6 } }, 'retries.maxRetries must be an integer between 0 and 5'],
    [{ retries: { maxRetries: -1 } }, 'retries.maxRetries must be an integer between 0 and 5'],
    [{ retries: { maxRetries: 1.5 } }, 'retries.maxRetries must be an integer between 0 and 5'],
    [{ retries: { maxRetries: '2' } }, 'retries.maxRetries must be an integer between 0 and 5'],
    [
      { requestQueue: { requestsPerMinute: 0 } },
      'requestQueue.requestsPerMinute must be an integer between 1 and 1000000',
    ],
    [
      { providerBreaker: { apikey: { resetTimeoutMs: 999 } } },
      'providerBreaker.apikey.resetTimeoutMs must be an integer between 1000 and 3600000',
    ],
    [
      { timeouts: { connectMs: 120_001 } },
      'timeouts.connectMs must be an integer between 100 and 120000',
    ],
    [
      { accountRotation: { strategy: 'fastest' } },
      'accountRotation.strategy must be one of fill-first, round-robin, least-recently-used, random',
    ],
    [
      { accountRotation: { providers: ['openai'] } },
      'accountRotation.providers must be an object of provider → strategy',
    ],
    [
      { accountRotation: { providers: { openai: 'random', groq: 'sticky' } } },
      'accountRotation.providers.groq must be one of fill-first, round-robin, least-recently-used, random',
    ],
  ])('refuses an out-of-range or mistyped value: %j', (patch, message) => {
    const err = refusal(defaults(), patch);
    expect(err.status).toBe(400);
    expect(fieldsOf(err)).toEqual([message]);
  });

  it('accepts values on the range bounds', () => {
    const next = applyResiliencePatch(defaults(), {
      retries: { maxRetries: 0, retryDelayMs: 60_000 },
      waitForCooldown: { maxRetryWaitSec: 300 },
    });
    expect(next.retries.maxRetries).toBe(0);
    expect(next.retries.retryDelayMs).toBe(60_000);
    expect(next.waitForCooldown.maxRetryWaitSec).toBe(300);
  });

  it('replaces the provider strategy map instead of merging it', () => {
    const current = applyResiliencePatch(defaults(), {
      accountRotation: { providers: { openai: 'random', anthropic: 'round-robin' } },
    });
    const next = applyResiliencePatch(current, {
      accountRotation: { providers: { openai: 'least-recently-used' } },
    });
    expect(next.accountRotation.providers).toEqual({ openai: 'least-recently-used' });
    expect(next.accountRotation.strategy).toBe('fill-first');
    const cleared = applyResiliencePatch(next, { accountRotation: { providers: {} } });
    expect(cleared.accountRotation.providers).toEqual({});
  });

  it("keeps the provider map when the patch doesn't mention it", () => {
    const current = applyResiliencePatch(defaults(), {
      accountRotation: { providers: { openai: 'random' } },
    });
    const next = applyResiliencePatch(current, { accountRotation: { strategy: 'round-robin' } });
    expect(next.accountRotation).toEqual({
      strategy: 'round-robin',
      stickyRoundRobinLimit: 3,
      providers: { openai: 'random' },
    });
  });

  it('maps the legacy profiles.{oauth,apikey} shape onto cooldown and breaker sections', () => {
    const current = defaults();
    const next = applyResiliencePatch(current, {
      profiles: {
        oauth: { baseCooldownMs: 1000, failureThreshold: 4 },
        apikey: { maxBackoffSteps: 2, useUpstreamRetryHints: false, resetTimeoutMs: 5000 },
      },
    });
    expect(next.connectionCooldown).toEqual({
      oauth: { ...current.connectionCooldown.oauth, baseCooldownMs: 1000 },
      apikey: {
        ...current.connectionCooldown.apikey,
        maxBackoffSteps: 2,
        useUpstreamRetryHints: false,
      },
    });
    expect(next.providerBreaker).toEqual({
      oauth: { ...current.providerBreaker.oauth, failureThreshold: 4 },
      apikey: { ...current.providerBreaker.apikey, resetTimeoutMs: 5000 },
    });
    expect(next).not.toHaveProperty('profiles');
  });

  it('combines the legacy shape with the new sections in one patch', () => {
    const next = applyResiliencePatch(defaults(), {
      connectionCooldown: { oauth: { maxBackoffSteps: 1 } },
      profiles: { oauth: { baseCooldownMs: 2000 } },
    });
    expect(next.connectionCooldown.oauth).toEqual({
      baseCooldownMs: 2000,
      useUpstreamRetryHints: false,
      maxBackoffSteps: 1,
    });
  });

  it('names an unknown legacy profile field under connectionCooldown', () => {
    const err = refusal(defaults(), { profiles: { apikey: { jitterMs: 5 } } });
    expect(fieldsOf(err)).toEqual(['connectionCooldown.apikey.jitterMs is not a known setting']);
  });

  it('validates legacy profile values like the new sections', () => {
    const err = refusal(defaults(), { profiles: { oauth: { failureThreshold: 0 } } });
    expect(fieldsOf(err)).toEqual([
      'providerBreaker.oauth.failureThreshold must be an integer between 1 and 1000',
    ]);
  });

  // Bug: a legacy profile under any name other than `oauth`/`apikey` (a typo such as `apiKey`) is
  // dropped without an error, although unknown fields are otherwise refused with a 400.
  it('refuses a legacy profile with an unknown name', () => {
    refusal(defaults(), { profiles: { apiKey: { baseCooldownMs: 1000 } } });
  });

  it('refuses a first-token timeout above the total timeout', () => {
    const err = refusal(defaults(), { timeouts: { firstTokenMs: 200_000, totalMs: 100_000 } });
    expect(err.status).toBe(400);
    expect(fieldsOf(err)).toEqual(['timeouts.firstTokenMs must not exceed timeouts.totalMs']);
  });

  it('checks the first-token rule against the merged result', () => {
    // firstTokenMs is 120 000 by default: lowering only the total below it is refused.
    expect(fieldsOf(refusal(defaults(), { timeouts: { totalMs: 60_000 } }))).toEqual([
      'timeouts.firstTokenMs must not exceed timeouts.totalMs',
    ]);
    const next = applyResiliencePatch(defaults(), {
      timeouts: { firstTokenMs: 60_000, totalMs: 60_000 },
    });
    expect(next.timeouts.firstTokenMs).toBe(60_000);
    expect(next.timeouts.totalMs).toBe(60_000);
  });
});

describe(loadStoredResilience.name, () => {
  it('returns the defaults for nothing stored or a non-object', () => {
    const d = defaults();
    expect(loadStoredResilience(d, null)).toBe(d);
    expect(loadStoredResilience(d, undefined)).toBe(d);
    expect(loadStoredResilience(d, 'garbage')).toBe(d);
    expect(loadStoredResilience(d, [1])).toBe(d);
  });

  it('applies a valid stored profile over the defaults', () => {
    const d = defaults();
    const out = loadStoredResilience(d, {
      waitForCooldown: { enabled: true, maxRetries: 3 },
      accountRotation: { strategy: 'round-robin' },
    });
    expect(out.waitForCooldown).toEqual({ enabled: true, maxRetries: 3, maxRetryWaitSec: 5 });
    expect(out.accountRotation.strategy).toBe('round-robin');
    expect(out.retries).toEqual(d.retries);
  });

  it('keeps the valid sections of a profile with one bad section', () => {
    const d = defaults();
    const out = loadStoredResilience(d, {
      retries: { maxRetries: 99, retryDelayMs: 500 },
      waitForCooldown: { enabled: true },
      accountRotation: { strategy: 'random', providers: { openai: 'round-robin' } },
    });
    // the whole bad section stays at its default, its valid fields included
    expect(out.retries).toEqual(d.retries);
    expect(out.waitForCooldown.enabled).toBe(true);
    expect(out.accountRotation).toEqual({
      strategy: 'random',
      stickyRoundRobinLimit: 3,
      providers: { openai: 'round-robin' },
    });
  });

  it('drops fields of an older version that are no longer known, section by section', () => {
    const d = defaults();
    const out = loadStoredResilience(d, {
      legacyQueue: { size: 10 },
      retries: { maxRetries: 2 },
    });
    expect(out.retries.maxRetries).toBe(2);
    expect(out).not.toHaveProperty('legacyQueue');
  });

  it('reads a stored legacy profiles shape', () => {
    const out = loadStoredResilience(defaults(), {
      profiles: { apikey: { baseCooldownMs: 750, failureThreshold: 3 } },
    });
    expect(out.connectionCooldown.apikey.baseCooldownMs).toBe(750);
    expect(out.providerBreaker.apikey.failureThreshold).toBe(3);
  });

  it('drops a stored timeouts section that breaks the first-token rule', () => {
    const d = defaults();
    const out = loadStoredResilience(d, {
      timeouts: { firstTokenMs: 500_000, totalMs: 400_000 },
      retries: { maxRetries: 0 },
    });
    expect(out.timeouts).toEqual(d.timeouts);
    expect(out.retries.maxRetries).toBe(0);
  });

  it('does not modify the defaults it is given', () => {
    const d = defaults();
    const before = structuredClone(d);
    loadStoredResilience(d, { retries: { maxRetries: 5 }, bogus: 1 });
    expect(d).toEqual(before);
  });
});
