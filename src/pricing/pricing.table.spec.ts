import { AppError } from '@/common/errors/app-error';
import { DEFAULT_PRICING } from './default-pricing';
import {
  PriceIndex,
  applyPatch,
  computeCost,
  computeMediaCost,
  imagePrice,
  mergePricing,
  parsePricingPatch,
  pricingSources,
  removeOverrides,
  sanitizeOverrides,
} from './pricing.table';
import { PRICE_FIELDS, type ModelPrice, type PricingTable } from './pricing.types';

const ZERO = { input: 0, output: 0, cacheRead: 0, cacheCreation: 0, reasoning: 0 };

function fieldsOfError(fn: () => unknown): string[] {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(AppError);
    const err = e as AppError;
    expect(err.code).toBe('VALIDATION_FAILED');
    expect(err.status).toBe(400);
    return (err.details?.fields as { field: string }[]).map((f) => f.field);
  }
  throw new Error('expected a VALIDATION_FAILED error');
}

describe('DEFAULT_PRICING', () => {
  it('covers the common models with sane numbers', () => {
    const models = Object.values(DEFAULT_PRICING).flatMap((m) => Object.keys(m));
    expect(models.length).toBeGreaterThanOrEqual(30);
    for (const id of ['gpt-4o', 'gpt-4.1-nano', 'o3', 'gpt-5-mini']) {
      expect(DEFAULT_PRICING.openai[id]).toBeDefined();
    }
    expect(DEFAULT_PRICING.anthropic['claude-sonnet-4-5']).toEqual({
      input: 3,
      output: 15,
      cached: 0.3,
      cache_creation: 3.75,
    });
    for (const p of ['gemini', 'deepseek', 'groq', 'mistral']) {
      expect(Object.keys(DEFAULT_PRICING[p]).length).toBeGreaterThan(0);
    }
    for (const price of Object.values(DEFAULT_PRICING).flatMap((m) => Object.values(m))) {
      for (const f of PRICE_FIELDS) {
        const v = price[f];
        if (v !== undefined) {
          expect(v).toBeGreaterThanOrEqual(0);
          expect(v).toBeLessThan(200);
        }
      }
      if (price.output > 0) {
        // chat models: output costs at least input (embedding models have no output price)
        expect(price.output).toBeGreaterThanOrEqual(price.input);
      }
    }
  });

  it('prices media models by image size/quality and by audio second', () => {
    const dalle3 = DEFAULT_PRICING.openai['dall-e-3'];
    expect(imagePrice(dalle3, '1024x1024/hd')).toBe(0.08);
    expect(imagePrice(dalle3, '1792x1024/standard')).toBe(0.08);
    expect(imagePrice(dalle3, '512x512/standard')).toBe(0.04); // falls back to `image`
    expect(imagePrice(DEFAULT_PRICING.openai['dall-e-2'], '512x512/standard')).toBe(0.018);
    expect(
      computeMediaCost(DEFAULT_PRICING.openai['whisper-1'], {
        inputTokens: 0,
        outputTokens: 0,
        images: 0,
        audioSeconds: 60,
      }),
    ).toBeCloseTo(0.006, 10);
    expect(
      computeMediaCost(DEFAULT_PRICING.openai['text-embedding-3-small'], {
        inputTokens: 1_000_000,
        outputTokens: 0,
        images: 0,
        audioSeconds: 0,
      }),
    ).toBeCloseTo(0.02, 10);
    expect(
      computeMediaCost(dalle3, {
        inputTokens: 0,
        outputTokens: 0,
        images: 2,
        imageKey: '1024x1792/hd',
        audioSeconds: 0,
      }),
    ).toBeCloseTo(0.24, 10);
  });

  it('accepts image:<size>[/<quality>] and audio_second in a PATCH, refuses other shapes', () => {
    expect(
      parsePricingPatch({ x: { m: { 'image:1024x1024/hd': 0.1, audio_second: 0.001, image: 1 } } }),
    ).toEqual({ x: { m: { 'image:1024x1024/hd': 0.1, audio_second: 0.001, image: 1 } } });
    expect(() => parsePricingPatch({ x: { m: { 'image:big': 1 } } })).toThrow(AppError);
  });
});

describe(PriceIndex.name, () => {
  const A: ModelPrice = { input: 1, output: 2 };
  const B: ModelPrice = { input: 3, output: 4 };
  const C: ModelPrice = { input: 5, output: 6 };
  const D: ModelPrice = { input: 7, output: 8 };
  const table: PricingTable = {
    deepseek: { 'deepseek-chat': A },
    ds: { 'deepseek-reasoner': B },
    openrouter: { 'openai/gpt-4o-mini': C, 'gpt-4o': D },
    Mixed: { 'Model-X': A },
  };
  const index = new PriceIndex(table);

  it.each<[string, [string, string, string?], ModelPrice | undefined]>([
    ['an exact provider + model', ['deepseek', 'deepseek-chat'], A],
    ['the alias key when the id has no entry', ['deepseek', 'deepseek-reasoner', 'ds'], B],
    ['the id before the alias', ['ds', 'deepseek-chat', 'deepseek'], A],
    ['a full path model name as a key', ['openrouter', 'openai/gpt-4o-mini'], C],
    ['the last path segment', ['openrouter', 'azure/x/gpt-4o'], D],
    ['the last segment under the alias', ['nope', 'a/b/deepseek-chat', 'deepseek'], A],
    ['keys case-insensitively', ['mixed', 'model-x'], A],
    ['nothing for an unknown provider', ['unknown', 'deepseek-chat'], undefined],
    ['nothing for an unknown model', ['deepseek', 'deepseek-coder'], undefined],
    ['nothing for a trailing slash model', ['openrouter', 'gpt-4o/'], undefined],
    ['nothing for prototype names', ['deepseek', 'constructor'], undefined],
    ['nothing for a prototype provider', ['__proto__', 'toString'], undefined],
  ])('finds %s', (_t, [provider, model, alias], expected) => {
    expect(index.lookup(provider, model, alias)).toEqual(expected);
  });

  it('prefers the full model name under the alias over the last segment under the id', () => {
    const idx = new PriceIndex({ p: { m: A }, alias: { 'x/m': B } });
    expect(idx.lookup('p', 'x/m', 'alias')).toEqual(B);
  });

  it('returns frozen copies (the snapshot cannot be changed by a caller)', () => {
    const hit = index.lookup('deepseek', 'deepseek-chat')!;
    expect(Object.isFrozen(hit)).toBe(true);
    expect(hit).not.toBe(A);
  });
});

describe(computeCost.name, () => {
  const price: ModelPrice = { input: 2, output: 8, cached: 0.5, cache_creation: 2.5 };

  it('charges each kind of token at its price, per 1M tokens', () => {
    const usd = computeCost(price, {
      input: 1_000_000,
      output: 500_000,
      cacheRead: 2_000_000,
      cacheCreation: 100_000,
      reasoning: 0,
    });
    expect(usd).toBeCloseTo(2 + 4 + 1 + 0.25, 10);
  });

  it('falls back to the input price for cache reads and writes', () => {
    const usd = computeCost(
      { input: 3, output: 15 },
      { ...ZERO, input: 1000, cacheRead: 1000, cacheCreation: 1000 },
    );
    expect(usd).toBeCloseTo((3 * 3000) / 1e6, 12);
  });

  it('bills reasoning tokens as output when there is no reasoning price', () => {
    const usd = computeCost(price, { ...ZERO, output: 1000, reasoning: 600 });
    expect(usd).toBeCloseTo((1000 * 8) / 1e6, 12);
  });

  it('bills reasoning tokens at the reasoning price instead of output when given', () => {
    const usd = computeCost({ ...price, reasoning: 20 }, { ...ZERO, output: 1000, reasoning: 600 });
    expect(usd).toBeCloseTo((400 * 8 + 600 * 20) / 1e6, 12);
  });

  it('never bills a negative output part when reasoning exceeds output', () => {
    const usd = computeCost({ ...price, reasoning: 20 }, { ...ZERO, output: 100, reasoning: 300 });
    expect(usd).toBeCloseTo((300 * 20) / 1e6, 12);
  });

  it('counts negative or non-finite token counts as 0', () => {
    expect(
      computeCost(price, {
        input: -5,
        output: Number.NaN,
        cacheRead: Infinity,
        cacheCreation: -1,
        reasoning: -3,
      }),
    ).toBe(0);
    expect(computeCost(price, ZERO)).toBe(0);
  });

  it('matches a realistic gpt-4o-mini call', () => {
    const usd = computeCost(DEFAULT_PRICING.openai['gpt-4o-mini'], {
      input: 1200,
      output: 300,
      cacheRead: 800,
      cacheCreation: 0,
      reasoning: 0,
    });
    expect(usd).toBeCloseTo((1200 * 0.15 + 800 * 0.075 + 300 * 0.6) / 1e6, 12);
  });
});

describe(mergePricing.name, () => {
  const defaults: PricingTable = { openai: { 'gpt-4o': { input: 2.5, output: 10, cached: 1.25 } } };

  it('lays override fields over the default of that model', () => {
    const merged = mergePricing(defaults, { openai: { 'gpt-4o': { input: 2 } } });
    expect(merged.openai['gpt-4o']).toEqual({ input: 2, output: 10, cached: 1.25 });
    expect(defaults.openai['gpt-4o'].input).toBe(2.5); // defaults untouched
  });

  it('adds complete entries for new providers and models, skips incomplete ones', () => {
    const merged = mergePricing(defaults, {
      node: { local: { input: 0, output: 0 }, half: { input: 1 } },
    });
    expect(merged.node).toEqual({ local: { input: 0, output: 0 } });
  });

  it('marks overridden entries as user in the source map', () => {
    const overrides = { openai: { 'gpt-4o': { input: 2 } }, node: { m: { input: 1, output: 1 } } };
    const merged = mergePricing(
      { ...defaults, openai: { ...defaults.openai, o3: { input: 2, output: 8 } } },
      overrides,
    );
    expect(pricingSources(merged, overrides)).toEqual({
      openai: { 'gpt-4o': 'user', o3: 'default' },
      node: { m: 'user' },
    });
  });
});

describe(sanitizeOverrides.name, () => {
  it('keeps valid fields only', () => {
    expect(
      sanitizeOverrides({
        openai: { 'gpt-4o': { input: 1, output: -1, junk: 3 }, empty: {}, bad: 'x' },
        other: 'not an object',
        list: [1, 2],
      }),
    ).toEqual({ openai: { 'gpt-4o': { input: 1 } } });
    expect(sanitizeOverrides(null)).toEqual({});
    expect(sanitizeOverrides('x')).toEqual({});
  });
});

describe(parsePricingPatch.name, () => {
  it('accepts the nested shape with any subset of the fields', () => {
    expect(
      parsePricingPatch({
        openai: { 'gpt-4o': { input: 2, cached: 0 } },
        node: { m: { input: 0, output: 0, reasoning: 1, cache_creation: 1.5 } },
      }),
    ).toEqual({
      openai: { 'gpt-4o': { input: 2, cached: 0 } },
      node: { m: { input: 0, output: 0, reasoning: 1, cache_creation: 1.5 } },
    });
    expect(parsePricingPatch({})).toEqual({});
  });

  it.each<[string, unknown, string[]]>([
    ['a non-object body', [1], ['body']],
    ['a null body', null, ['body']],
    ['a provider that is not an object', { openai: 3 }, ['openai']],
    ['a model that is not an object', { openai: { 'gpt-4o': [] } }, ['openai.gpt-4o']],
    ['an unknown field', { openai: { 'gpt-4o': { input: 1, price: 2 } } }, ['openai.gpt-4o.price']],
    ['a negative price', { openai: { 'gpt-4o': { input: -1 } } }, ['openai.gpt-4o.input']],
    ['a string price', { openai: { 'gpt-4o': { output: '2' } } }, ['openai.gpt-4o.output']],
    ['a null price', { openai: { 'gpt-4o': { cached: null } } }, ['openai.gpt-4o.cached']],
    ['an absurd price', { openai: { 'gpt-4o': { input: 1e9 } } }, ['openai.gpt-4o.input']],
    ['an empty model entry', { openai: { 'gpt-4o': {} } }, ['openai.gpt-4o']],
    ['an empty provider key', { '': { m: { input: 1 } } }, ['']],
    ['a padded model key', { openai: { ' gpt-4o': { input: 1 } } }, ['openai. gpt-4o']],
    ['a prototype key', { openai: { constructor: { input: 1 } } }, ['openai.constructor']],
    [
      'every bad field at once',
      { openai: { a: { input: -1, output: 'x' } }, b: 1 },
      ['openai.a.input', 'openai.a.output', 'b'],
    ],
  ])('rejects %s', (_t, body, fields) => {
    expect(fieldsOfError(() => parsePricingPatch(body))).toEqual(fields);
  });

  it('rejects a too long key', () => {
    expect(fieldsOfError(() => parsePricingPatch({ ['p'.repeat(201)]: {} }))).toHaveLength(1);
  });
});

describe(applyPatch.name, () => {
  const defaults: PricingTable = { openai: { 'gpt-4o': { input: 2.5, output: 10 } } };

  it('merges fields into the stored overrides without changing the input', () => {
    const current = { openai: { 'gpt-4o': { input: 2 } } };
    const next = applyPatch(defaults, current, { openai: { 'gpt-4o': { cached: 1 } } });
    expect(next).toEqual({ openai: { 'gpt-4o': { input: 2, cached: 1 } } });
    expect(current).toEqual({ openai: { 'gpt-4o': { input: 2 } } });
  });

  it('needs input and output for a model without a default', () => {
    expect(fieldsOfError(() => applyPatch(defaults, {}, { node: { m: { cached: 1 } } }))).toEqual([
      'node.m.input',
      'node.m.output',
    ]);
    expect(
      applyPatch(defaults, { node: { m: { input: 1 } } }, { node: { m: { output: 2 } } }),
    ).toEqual({ node: { m: { input: 1, output: 2 } } });
  });
});

describe(removeOverrides.name, () => {
  const current = { a: { m1: { input: 1 }, m2: { input: 2 } }, b: { m: { input: 3 } } };

  it('drops one model (and the provider once it is empty)', () => {
    expect(removeOverrides(current, 'a', 'm1')).toEqual({ a: { m2: { input: 2 } }, b: current.b });
    expect(removeOverrides(current, 'b', 'm')).toEqual({ a: current.a });
  });

  it('drops one provider', () => {
    expect(removeOverrides(current, 'a')).toEqual({ b: current.b });
  });

  it('drops everything without a provider', () => {
    expect(removeOverrides(current)).toEqual({});
  });

  it('ignores unknown providers and models', () => {
    expect(removeOverrides(current, 'zzz')).toEqual(current);
    expect(removeOverrides(current, 'a', 'zzz')).toEqual(current);
  });

  it('refuses a model without a provider', () => {
    expect(fieldsOfError(() => removeOverrides(current, undefined, 'm1'))).toEqual(['provider']);
  });
});
