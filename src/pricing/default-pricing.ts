import type { ModelPrice, PricingTable } from './pricing.types';

/**
 * Built-in list prices, USD per 1M tokens, keyed by provider id (`deepseek`, not its alias `ds`).
 * Public list prices as best known when this was written (standard tier, prompts within the
 * base context tier, no batch discount); an admin overrides any of them with `PATCH /api/pricing`.
 * `cached` is the cache-read price, `cache_creation` the cache-write price (Anthropic: 5-minute TTL).
 * Reasoning tokens are billed as output everywhere here, so no `reasoning` price is set.
 */

const anthropic = (input: number, output: number): ModelPrice => ({
  input,
  output,
  cached: round(input * 0.1),
  cache_creation: round(input * 1.25),
});

function round(n: number): number {
  return Math.round(n * 1e6) / 1e6;
}

const OPUS_4 = anthropic(15, 75);
const OPUS_4_5 = anthropic(5, 25);
const SONNET_4 = anthropic(3, 15);
const HAIKU_4_5 = anthropic(1, 5);
const HAIKU_3_5 = anthropic(0.8, 4);

const DEEPSEEK: ModelPrice = { input: 0.28, output: 0.42, cached: 0.028 };

export const DEFAULT_PRICING: PricingTable = {
  openai: {
    'gpt-4o': { input: 2.5, output: 10, cached: 1.25 },
    'gpt-4o-mini': { input: 0.15, output: 0.6, cached: 0.075 },
    'gpt-4.1': { input: 2, output: 8, cached: 0.5 },
    'gpt-4.1-mini': { input: 0.4, output: 1.6, cached: 0.1 },
    'gpt-4.1-nano': { input: 0.1, output: 0.4, cached: 0.025 },
    o3: { input: 2, output: 8, cached: 0.5 },
    'o3-mini': { input: 1.1, output: 4.4, cached: 0.55 },
    'o4-mini': { input: 1.1, output: 4.4, cached: 0.275 },
    'gpt-5': { input: 1.25, output: 10, cached: 0.125 },
    'gpt-5-mini': { input: 0.25, output: 2, cached: 0.025 },
    'gpt-5-nano': { input: 0.05, output: 0.4, cached: 0.005 },
  },
  anthropic: {
    'claude-opus-4-5': OPUS_4_5,
    'claude-opus-4-5-20251101': OPUS_4_5,
    'claude-opus-4-1': OPUS_4,
    'claude-opus-4-1-20250805': OPUS_4,
    'claude-opus-4-0': OPUS_4,
    'claude-opus-4-20250514': OPUS_4,
    'claude-sonnet-4-5': SONNET_4,
    'claude-sonnet-4-5-20250929': SONNET_4,
    'claude-sonnet-4-0': SONNET_4,
    'claude-sonnet-4-20250514': SONNET_4,
    'claude-haiku-4-5': HAIKU_4_5,
    'claude-haiku-4-5-20251001': HAIKU_4_5,
    'claude-3-5-haiku-latest': HAIKU_3_5,
    'claude-3-5-haiku-20241022': HAIKU_3_5,
  },
  gemini: {
    'gemini-2.5-pro': { input: 1.25, output: 10, cached: 0.125 },
    'gemini-2.5-flash': { input: 0.3, output: 2.5, cached: 0.03 },
    'gemini-2.5-flash-lite': { input: 0.1, output: 0.4, cached: 0.01 },
    'gemini-2.0-flash': { input: 0.1, output: 0.4, cached: 0.025 },
    'gemini-2.0-flash-lite': { input: 0.075, output: 0.3 },
  },
  deepseek: {
    'deepseek-chat': DEEPSEEK,
    'deepseek-reasoner': DEEPSEEK,
  },
  groq: {
    'llama-3.3-70b-versatile': { input: 0.59, output: 0.79 },
    'llama-3.1-8b-instant': { input: 0.05, output: 0.08 },
    'openai/gpt-oss-120b': { input: 0.15, output: 0.75 },
  },
  mistral: {
    'mistral-large-latest': { input: 2, output: 6 },
    'mistral-medium-latest': { input: 0.4, output: 2 },
    'mistral-small-latest': { input: 0.1, output: 0.3 },
    'codestral-latest': { input: 0.3, output: 0.9 },
  },
  xai: {
    'grok-4': { input: 3, output: 15, cached: 0.75 },
    'grok-3': { input: 3, output: 15, cached: 0.75 },
    'grok-3-mini': { input: 0.3, output: 0.5, cached: 0.075 },
  },
};
