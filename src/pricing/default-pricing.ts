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

/** Per-second price from a per-minute list price. */
const perMinute = (usd: number): number => usd / 60;
const perHour = (usd: number): number => usd / 3600;
const embedding = (input: number): ModelPrice => ({ input, output: 0 });

/**
 * Media models (embeddings per 1M input tokens, images per image by `image:<size>/<quality>`,
 * speech to text per audio second), merged into the table below. gpt-image-1 and the gpt-4o
 * transcribers are billed by tokens, as their APIs report them.
 */
const MEDIA_PRICING: PricingTable = {
  openai: {
    'text-embedding-3-small': embedding(0.02),
    'text-embedding-3-large': embedding(0.13),
    'text-embedding-ada-002': embedding(0.1),
    'dall-e-3': {
      input: 0,
      output: 0,
      image: 0.04,
      'image:1024x1024/standard': 0.04,
      'image:1792x1024/standard': 0.08,
      'image:1024x1792/standard': 0.08,
      'image:1024x1024/hd': 0.08,
      'image:1792x1024/hd': 0.12,
      'image:1024x1792/hd': 0.12,
    },
    'dall-e-2': {
      input: 0,
      output: 0,
      image: 0.02,
      'image:256x256': 0.016,
      'image:512x512': 0.018,
      'image:1024x1024': 0.02,
    },
    'gpt-image-1': { input: 5, output: 40, cached: 1.25 },
    'whisper-1': { input: 0, output: 0, audio_second: perMinute(0.006) },
    'gpt-4o-transcribe': { input: 6, output: 10 },
    'gpt-4o-mini-transcribe': { input: 3, output: 5 },
  },
  groq: {
    'whisper-large-v3': { input: 0, output: 0, audio_second: perHour(0.111) },
    'whisper-large-v3-turbo': { input: 0, output: 0, audio_second: perHour(0.04) },
  },
  mistral: {
    'mistral-embed': embedding(0.1),
    'codestral-embed': embedding(0.15),
  },
  together: {
    'togethercomputer/m2-bert-80M-8k-retrieval': embedding(0.008),
    'BAAI/bge-large-en-v1.5': embedding(0.02),
    'black-forest-labs/FLUX.1-schnell': { input: 0, output: 0, image: 0.0027 },
    'black-forest-labs/FLUX.1.1-pro': { input: 0, output: 0, image: 0.04 },
  },
  fireworks: {
    'nomic-ai/nomic-embed-text-v1.5': embedding(0.008),
    'flux-1-schnell-fp8': { input: 0, output: 0, image: 0.0014 },
    'flux-1-dev-fp8': { input: 0, output: 0, image: 0.014 },
  },
  nebius: {
    'BAAI/bge-en-icl': embedding(0.01),
    'Qwen/Qwen3-Embedding-8B': embedding(0.01),
  },
  xai: {
    'grok-2-image': { input: 0, output: 0, image: 0.07 },
  },
  deepgram: {
    'nova-3': { input: 0, output: 0, audio_second: perMinute(0.0043) },
    'nova-2': { input: 0, output: 0, audio_second: perMinute(0.0043) },
    'whisper-large': { input: 0, output: 0, audio_second: perMinute(0.0048) },
  },
  assemblyai: {
    best: { input: 0, output: 0, audio_second: perHour(0.15) },
    universal: { input: 0, output: 0, audio_second: perHour(0.15) },
    'slam-1': { input: 0, output: 0, audio_second: perHour(0.27) },
    nano: { input: 0, output: 0, audio_second: perHour(0.12) },
  },
};

for (const [provider, models] of Object.entries(MEDIA_PRICING)) {
  DEFAULT_PRICING[provider] = { ...DEFAULT_PRICING[provider], ...models };
}
