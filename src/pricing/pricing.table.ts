import { AppError } from '@/common/errors/app-error';
import {
  PRICE_FIELDS,
  isPriceField,
  type MediaUnits,
  type ModelPrice,
  type PricingOverrides,
  type PricingSourceMap,
  type PricingTable,
  type PricingUsage,
} from './pricing.types';

/** Pure pricing helpers: merge, lookup index, cost formula and validation of admin input. */

const MAX_KEY_LENGTH = 200;
const MAX_ENTRIES = 10_000;
const MAX_PRICE = 1_000_000;
const FORBIDDEN_KEYS = new Set(['__proto__', 'constructor', 'prototype']);

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function isPrice(v: unknown): v is number {
  return typeof v === 'number' && Number.isFinite(v) && v >= 0 && v <= MAX_PRICE;
}

/** The fields of `raw` that are valid prices (anything else dropped). */
function cleanFields(raw: unknown): Partial<ModelPrice> {
  const out: Partial<ModelPrice> = {};
  if (!isPlainObject(raw)) {
    return out;
  }
  for (const [f, v] of Object.entries(raw)) {
    if (isPriceField(f) && isPrice(v)) {
      out[f] = v;
    }
  }
  return out;
}

/** `table[provider][model]` through own properties only. */
function entryOf<T>(
  table: Record<string, Record<string, T>>,
  provider: string,
  model: string,
): T | undefined {
  const models = Object.hasOwn(table, provider) ? table[provider] : undefined;
  return models && Object.hasOwn(models, model) ? models[model] : undefined;
}

function complete(p: Partial<ModelPrice>): p is ModelPrice {
  return p.input !== undefined && p.output !== undefined;
}

/**
 * Stored overrides as a clean object (the settings row may have been edited by hand): unknown
 * fields, bad numbers and empty entries are dropped.
 */
export function sanitizeOverrides(raw: unknown): PricingOverrides {
  const out: PricingOverrides = {};
  if (!isPlainObject(raw)) {
    return out;
  }
  for (const [provider, models] of Object.entries(raw)) {
    if (FORBIDDEN_KEYS.has(provider) || !isPlainObject(models)) {
      continue;
    }
    for (const [model, fields] of Object.entries(models)) {
      const clean = cleanFields(fields);
      if (!FORBIDDEN_KEYS.has(model) && Object.keys(clean).length) {
        (out[provider] ??= {})[model] = clean;
      }
    }
  }
  return out;
}

/**
 * Defaults with the admin's overrides laid over them field by field. An override of a model
 * without a default needs `input` and `output` (entries lacking them are left out).
 */
export function mergePricing(defaults: PricingTable, overrides: PricingOverrides): PricingTable {
  const out: PricingTable = {};
  for (const [provider, models] of Object.entries(defaults)) {
    out[provider] = {};
    for (const [model, price] of Object.entries(models)) {
      out[provider][model] = { ...price };
    }
  }
  for (const [provider, models] of Object.entries(overrides)) {
    for (const [model, fields] of Object.entries(models)) {
      const merged = { ...entryOf(defaults, provider, model), ...fields };
      if (complete(merged)) {
        (out[provider] ??= {})[model] = merged;
      }
    }
  }
  return out;
}

/** `user` for every entry an override touches, `default` for the rest. */
export function pricingSources(
  merged: PricingTable,
  overrides: PricingOverrides,
): PricingSourceMap {
  const out: PricingSourceMap = {};
  for (const [provider, models] of Object.entries(merged)) {
    out[provider] = {};
    for (const model of Object.keys(models)) {
      out[provider][model] = entryOf(overrides, provider, model) ? 'user' : 'default';
    }
  }
  return out;
}

/** `a/b/c` → `c`; a name without `/` → undefined. */
function lastSegment(model: string): string | undefined {
  const i = model.lastIndexOf('/');
  return i === -1 || i === model.length - 1 ? undefined : model.slice(i + 1);
}

/**
 * The merged table in maps for the hot path: exact keys first, then the same keys lower-cased.
 * Maps (not object lookups) so a model called `constructor` can't hit a prototype property.
 */
export class PriceIndex {
  private readonly exact = new Map<string, Map<string, ModelPrice>>();
  private readonly folded = new Map<string, Map<string, ModelPrice>>();

  constructor(table: PricingTable) {
    for (const [provider, models] of Object.entries(table)) {
      const exact = new Map<string, ModelPrice>();
      const folded = this.folded.get(provider.toLowerCase()) ?? new Map<string, ModelPrice>();
      for (const [model, price] of Object.entries(models)) {
        const frozen = Object.freeze({ ...price });
        exact.set(model, frozen);
        if (!folded.has(model.toLowerCase())) {
          folded.set(model.toLowerCase(), frozen);
        }
      }
      this.exact.set(provider, exact);
      this.folded.set(provider.toLowerCase(), folded);
    }
  }

  private get(provider: string, model: string): ModelPrice | undefined {
    return (
      this.exact.get(provider)?.get(model) ??
      this.folded.get(provider.toLowerCase())?.get(model.toLowerCase())
    );
  }

  /**
   * Reference §4.8: the model under the provider key, then under the provider's alias; then the
   * same with the model's last path segment (`a/b/c` → `c`).
   */
  lookup(provider: string, model: string, alias?: string): ModelPrice | undefined {
    const providers = alias && alias !== provider ? [provider, alias] : [provider];
    const tail = lastSegment(model);
    const models = tail && tail !== model ? [model, tail] : [model];
    for (const m of models) {
      for (const p of providers) {
        const hit = this.get(p, m);
        if (hit) {
          return hit;
        }
      }
    }
    return undefined;
  }
}

const tokens = (n: number): number => (Number.isFinite(n) && n > 0 ? n : 0);

/**
 * USD of one request (reference §9.1, per 1M tokens): fresh input at `input`, cache reads at
 * `cached` (else `input`), cache writes at `cache_creation` (else `input`), output at `output`.
 * Reasoning tokens are part of `output`; when the model has a `reasoning` price they are charged
 * at it instead (`output − reasoning` at the output price, never below 0). Negative or non-finite
 * token counts count as 0.
 */
export function computeCost(price: ModelPrice, usage: PricingUsage): number {
  const input = tokens(usage.input);
  const output = tokens(usage.output);
  const cacheRead = tokens(usage.cacheRead);
  const cacheCreation = tokens(usage.cacheCreation);
  const reasoning = tokens(usage.reasoning);
  let micro =
    input * price.input +
    cacheRead * (price.cached ?? price.input) +
    cacheCreation * (price.cache_creation ?? price.input);
  if (price.reasoning !== undefined) {
    micro += Math.max(0, output - reasoning) * price.output + reasoning * price.reasoning;
  } else {
    micro += output * price.output;
  }
  return micro / 1e6;
}

/** USD of one image: `image:<size>/<quality>`, then `image:<size>`, `image:*\/<quality>`, `image`. */
export function imagePrice(price: ModelPrice, key: string | undefined): number {
  const [size = '*', quality = '*'] = (key ?? '').split('/');
  return (
    price[`image:${size}/${quality}`] ??
    price[`image:${size}`] ??
    price[`image:*/${quality}`] ??
    price.image ??
    0
  );
}

/** USD of a media request: its tokens, plus images at their size/quality price, plus audio seconds. */
export function computeMediaCost(
  price: ModelPrice,
  usage: MediaUnits & { inputTokens: number; outputTokens: number },
): number {
  const tokensUsd = computeCost(price, {
    input: usage.inputTokens,
    output: usage.outputTokens,
    cacheRead: 0,
    cacheCreation: 0,
    reasoning: 0,
  });
  return (
    tokensUsd +
    tokens(usage.images) * imagePrice(price, usage.imageKey) +
    tokens(usage.audioSeconds) * (price.audio_second ?? 0)
  );
}

interface FieldError {
  field: string;
  message: string;
}

function invalid(fields: FieldError[]): AppError {
  return new AppError('VALIDATION_FAILED', 'INVALID_INPUT', 'Invalid request', { fields });
}

function checkKey(key: string, path: string, errors: FieldError[]): boolean {
  if (key.length === 0 || key.length > MAX_KEY_LENGTH || key.trim() !== key) {
    errors.push({
      field: path,
      message: `keys must be 1-${MAX_KEY_LENGTH} characters without surrounding spaces`,
    });
    return false;
  }
  if (FORBIDDEN_KEYS.has(key)) {
    errors.push({ field: path, message: `"${key}" is not allowed as a key` });
    return false;
  }
  return true;
}

/**
 * A `PATCH /api/pricing` body: `{ provider: { model: { input?, output?, cached?, reasoning?,
 * cache_creation? } } }`, only those fields, each a number in [0, 1e6]. Throws VALIDATION_FAILED
 * listing every bad field.
 */
export function parsePricingPatch(body: unknown): PricingOverrides {
  const errors: FieldError[] = [];
  const out: PricingOverrides = {};
  if (!isPlainObject(body)) {
    throw invalid([{ field: 'body', message: 'must be an object of providers' }]);
  }
  let entries = 0;
  for (const [provider, models] of Object.entries(body)) {
    if (!checkKey(provider, provider, errors)) {
      continue;
    }
    if (!isPlainObject(models)) {
      errors.push({ field: provider, message: 'must be an object of models' });
      continue;
    }
    for (const [model, fields] of Object.entries(models)) {
      const path = `${provider}.${model}`;
      if (!checkKey(model, path, errors)) {
        continue;
      }
      if (++entries > MAX_ENTRIES) {
        throw invalid([{ field: 'body', message: `at most ${MAX_ENTRIES} models per request` }]);
      }
      if (!isPlainObject(fields)) {
        errors.push({ field: path, message: 'must be an object of prices' });
        continue;
      }
      const price: Partial<ModelPrice> = {};
      for (const [name, value] of Object.entries(fields)) {
        if (!isPriceField(name)) {
          errors.push({
            field: `${path}.${name}`,
            message: `unknown field (allowed: ${PRICE_FIELDS.join(', ')}, image:<size>[/<quality>])`,
          });
        } else if (!isPrice(value)) {
          errors.push({
            field: `${path}.${name}`,
            message: `must be a number between 0 and ${MAX_PRICE} (USD per 1M tokens, per image or per audio second)`,
          });
        } else {
          price[name] = value;
        }
      }
      if (Object.keys(fields).length === 0) {
        errors.push({ field: path, message: 'must set at least one price' });
      }
      (out[provider] ??= {})[model] = price;
    }
  }
  if (errors.length) {
    throw invalid(errors);
  }
  return out;
}

/**
 * `patch` laid over the stored overrides field by field. Throws VALIDATION_FAILED when a model
 * without a default would lack `input` or `output`.
 */
export function applyPatch(
  defaults: PricingTable,
  current: PricingOverrides,
  patch: PricingOverrides,
): PricingOverrides {
  const next: PricingOverrides = {};
  for (const [provider, models] of Object.entries(current)) {
    next[provider] = { ...models };
  }
  const errors: FieldError[] = [];
  for (const [provider, models] of Object.entries(patch)) {
    for (const [model, fields] of Object.entries(models)) {
      const stored = { ...entryOf(next, provider, model), ...fields };
      const merged = { ...entryOf(defaults, provider, model), ...stored };
      for (const f of ['input', 'output'] as const) {
        if (merged[f] === undefined) {
          errors.push({
            field: `${provider}.${model}.${f}`,
            message: `${f} is required for a model without default pricing`,
          });
        }
      }
      (next[provider] ??= {})[model] = stored;
    }
  }
  if (errors.length) {
    throw invalid(errors);
  }
  return next;
}

/** Overrides without one model, one provider, or (no provider) none at all. */
export function removeOverrides(
  current: PricingOverrides,
  provider?: string,
  model?: string,
): PricingOverrides {
  if (model !== undefined && provider === undefined) {
    throw invalid([{ field: 'provider', message: 'provider is required when model is given' }]);
  }
  if (provider === undefined) {
    return {};
  }
  const next: PricingOverrides = {};
  for (const [p, models] of Object.entries(current)) {
    if (p === provider && model === undefined) {
      continue;
    }
    const kept = Object.fromEntries(
      Object.entries(models).filter(([m]) => !(p === provider && m === model)),
    );
    if (Object.keys(kept).length) {
      next[p] = kept;
    }
  }
  return next;
}
