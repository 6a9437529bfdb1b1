import { AppError } from '@/common/errors/app-error';

export const ACCOUNT_STRATEGIES = [
  'fill-first',
  'round-robin',
  'least-recently-used',
  'random',
] as const;
export type AccountStrategy = (typeof ACCOUNT_STRATEGIES)[number];

export interface CooldownProfile {
  baseCooldownMs: number;
  useUpstreamRetryHints: boolean;
  maxBackoffSteps: number;
}

export interface BreakerProfile {
  failureThreshold: number;
  resetTimeoutMs: number;
}

/**
 * The resilience profile (`GET/PUT /api/resilience`): OmniRoute's four sections (reference §5.6)
 * plus retries, timeouts and account rotation, which OmniRoute scatters over env vars and settings.
 */
export interface ResilienceSettings {
  /** Per-connection limits applied when a connection's protection is on and it sets none itself. */
  requestQueue: {
    autoEnableApiKeyProviders: boolean;
    requestsPerMinute: number;
    tokensPerMinute: number;
  };
  connectionCooldown: { oauth: CooldownProfile; apikey: CooldownProfile };
  providerBreaker: { oauth: BreakerProfile; apikey: BreakerProfile };
  /** When every account/target is cooling down: wait for the earliest one (bounded) or fail fast. */
  waitForCooldown: { enabled: boolean; maxRetries: number; maxRetryWaitSec: number };
  /** Same-account retries of transient failures, only before the first byte reached the client. */
  retries: { maxRetries: number; retryDelayMs: number; maxRetryDelayMs: number };
  timeouts: {
    /** TCP/TLS connect. */
    connectMs: number;
    /** Stream: first upstream event; non-stream: the response headers. Then the next target. */
    firstTokenMs: number;
    /** Longest silence inside a streamed or non-stream body. */
    streamIdleMs: number;
    /** The whole request, fallbacks and waits included. */
    totalMs: number;
  };
  accountRotation: {
    strategy: AccountStrategy;
    stickyRoundRobinLimit: number;
    /** Per provider id (or alias) override of `strategy`. */
    providers: Record<string, AccountStrategy>;
  };
}

export interface TimeoutDefaults {
  connectMs: number;
  totalMs: number;
  streamIdleMs: number;
}

export function defaultResilience(t: TimeoutDefaults): ResilienceSettings {
  return {
    requestQueue: { autoEnableApiKeyProviders: false, requestsPerMinute: 100, tokensPerMinute: 0 },
    connectionCooldown: {
      oauth: { baseCooldownMs: 5000, useUpstreamRetryHints: false, maxBackoffSteps: 8 },
      apikey: { baseCooldownMs: 3000, useUpstreamRetryHints: true, maxBackoffSteps: 5 },
    },
    providerBreaker: {
      oauth: { failureThreshold: 8, resetTimeoutMs: 60_000 },
      apikey: { failureThreshold: 12, resetTimeoutMs: 30_000 },
    },
    waitForCooldown: { enabled: false, maxRetries: 1, maxRetryWaitSec: 5 },
    retries: { maxRetries: 1, retryDelayMs: 200, maxRetryDelayMs: 2000 },
    timeouts: {
      connectMs: t.connectMs,
      firstTokenMs: Math.min(120_000, t.totalMs),
      streamIdleMs: t.streamIdleMs,
      totalMs: t.totalMs,
    },
    accountRotation: { strategy: 'fill-first', stickyRoundRobinLimit: 3, providers: {} },
  };
}

type Rule =
  | { kind: 'int'; min: number; max: number }
  | { kind: 'bool' }
  | { kind: 'strategy' }
  | { kind: 'strategies' };

interface Schema {
  [field: string]: Rule | Schema;
}

const int = (min: number, max: number): Rule => ({ kind: 'int', min, max });
const bool: Rule = { kind: 'bool' };
const COOLDOWN_RULES = {
  baseCooldownMs: int(0, 3_600_000),
  useUpstreamRetryHints: bool,
  maxBackoffSteps: int(0, 20),
};
const BREAKER_RULES = { failureThreshold: int(1, 1000), resetTimeoutMs: int(1000, 3_600_000) };

/** Allowed fields and ranges, per section (a field not listed is refused). */
const SCHEMA: Schema = {
  requestQueue: {
    autoEnableApiKeyProviders: bool,
    requestsPerMinute: int(1, 1_000_000),
    tokensPerMinute: int(0, 1_000_000_000),
  },
  connectionCooldown: { oauth: COOLDOWN_RULES, apikey: COOLDOWN_RULES },
  providerBreaker: { oauth: BREAKER_RULES, apikey: BREAKER_RULES },
  waitForCooldown: { enabled: bool, maxRetries: int(0, 10), maxRetryWaitSec: int(0, 300) },
  retries: {
    maxRetries: int(0, 5),
    retryDelayMs: int(0, 60_000),
    maxRetryDelayMs: int(0, 120_000),
  },
  timeouts: {
    connectMs: int(100, 120_000),
    firstTokenMs: int(100, 3_600_000),
    streamIdleMs: int(100, 3_600_000),
    totalMs: int(100, 3_600_000),
  },
  accountRotation: {
    strategy: { kind: 'strategy' },
    stickyRoundRobinLimit: int(1, 1000),
    providers: { kind: 'strategies' },
  },
};

function isRule(x: Rule | Schema): x is Rule {
  return typeof (x as Rule).kind === 'string';
}

/**
 * The management validation error (400 `VALIDATION_FAILED`, `details.fields` = `[{field, message}]`)
 * from messages that start with the field's path.
 */
export function invalidSettings(what: string, messages: string[]): AppError {
  return AppError.invalid(
    `Invalid ${what} settings: ${messages.join('; ')}`,
    { fields: messages.map((message) => ({ field: message.split(' ', 1)[0], message })) },
    'VALIDATION_FAILED',
  );
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function check(rule: Rule, v: unknown, path: string, errors: string[]): void {
  switch (rule.kind) {
    case 'int':
      if (typeof v !== 'number' || !Number.isInteger(v) || v < rule.min || v > rule.max) {
        errors.push(`${path} must be an integer between ${rule.min} and ${rule.max}`);
      }
      return;
    case 'bool':
      if (typeof v !== 'boolean') {
        errors.push(`${path} must be a boolean`);
      }
      return;
    case 'strategy':
      if (!ACCOUNT_STRATEGIES.includes(v as AccountStrategy)) {
        errors.push(`${path} must be one of ${ACCOUNT_STRATEGIES.join(', ')}`);
      }
      return;
    case 'strategies':
      if (!isObject(v)) {
        errors.push(`${path} must be an object of provider → strategy`);
        return;
      }
      for (const [k, s] of Object.entries(v)) {
        if (!ACCOUNT_STRATEGIES.includes(s as AccountStrategy)) {
          errors.push(`${path}.${k} must be one of ${ACCOUNT_STRATEGIES.join(', ')}`);
        }
      }
      return;
  }
}

function walk(
  schema: Schema,
  patch: Record<string, unknown>,
  path: string,
  errors: string[],
): void {
  for (const [k, v] of Object.entries(patch)) {
    const rule = schema[k];
    const p = path ? `${path}.${k}` : k;
    if (!rule) {
      errors.push(`${p} is not a known setting`);
    } else if (isRule(rule)) {
      check(rule, v, p, errors);
    } else if (!isObject(v)) {
      errors.push(`${p} must be an object`);
    } else {
      walk(rule, v, p, errors);
    }
  }
}

function merge(base: unknown, patch: unknown): unknown {
  if (!isObject(base) || !isObject(patch)) {
    return patch;
  }
  const out: Record<string, unknown> = { ...base };
  for (const [k, v] of Object.entries(patch)) {
    // a provider map is replaced, not merged: removing an override must be possible
    out[k] = k === 'providers' ? v : merge(base[k], v);
  }
  return out;
}

/**
 * Applies a partial profile (any subset of the sections, any subset of their fields) to `current`.
 * Unknown fields and out-of-range values are refused with a 400 listing every problem. OmniRoute's
 * legacy `profiles.{oauth,apikey}` shape (cooldown + breaker per profile) is accepted too.
 */
export function applyResiliencePatch(
  current: ResilienceSettings,
  raw: unknown,
): ResilienceSettings {
  if (!isObject(raw)) {
    throw AppError.invalid('The body must be a JSON object of resilience settings');
  }
  const patch: Record<string, unknown> = { ...raw };
  if (isObject(patch.profiles)) {
    const legacy = patch.profiles;
    delete patch.profiles;
    const unknown = Object.keys(legacy).filter((k) => k !== 'oauth' && k !== 'apikey');
    if (unknown.length) {
      throw invalidSettings(
        'resilience',
        unknown.map((k) => `profiles.${k} is not a known profile (oauth, apikey)`),
      );
    }
    for (const profile of ['oauth', 'apikey'] as const) {
      const p = legacy[profile];
      if (!isObject(p)) {
        continue;
      }
      const cd: Record<string, unknown> = {};
      const br: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(p)) {
        if (k in COOLDOWN_RULES) {
          cd[k] = v;
        } else if (k in BREAKER_RULES) {
          br[k] = v;
        } else {
          cd[k] = v; // refused by validation below, named under connectionCooldown
        }
      }
      patch.connectionCooldown = merge(patch.connectionCooldown ?? {}, { [profile]: cd });
      patch.providerBreaker = merge(patch.providerBreaker ?? {}, { [profile]: br });
    }
  }
  const errors: string[] = [];
  walk(SCHEMA, patch, '', errors);
  if (errors.length) {
    throw invalidSettings('resilience', errors);
  }
  const next = merge(current, patch) as ResilienceSettings;
  if (next.timeouts.firstTokenMs > next.timeouts.totalMs) {
    throw invalidSettings('resilience', ['timeouts.firstTokenMs must not exceed timeouts.totalMs']);
  }
  return next;
}

/** A stored profile (possibly from an older version) over the defaults; invalid parts are dropped. */
export function loadStoredResilience(
  defaults: ResilienceSettings,
  stored: unknown,
): ResilienceSettings {
  if (!isObject(stored)) {
    return defaults;
  }
  try {
    return applyResiliencePatch(defaults, stored);
  } catch {
    // keep each valid section on its own
    let out = defaults;
    for (const [k, v] of Object.entries(stored)) {
      try {
        out = applyResiliencePatch(out, { [k]: v });
      } catch {
        /* this section stays at its default */
      }
    }
    return out;
  }
}
