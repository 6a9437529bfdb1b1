/** USD per 1M tokens of one model (reference §4.8). */
export interface ModelPrice {
  /** Fresh (uncached) input tokens. */
  input: number;
  output: number;
  /** Cache-read input tokens; `input` when absent. */
  cached?: number;
  /** Reasoning tokens; charged as output when absent. */
  reasoning?: number;
  /** Cache-creation (cache write) input tokens; `input` when absent. */
  cache_creation?: number;
}

/** `{ "<provider>": { "<model>": ModelPrice } }`. */
export type PricingTable = Record<string, Record<string, ModelPrice>>;

/** What an admin stored: any subset of a model's fields, laid over the default for that model. */
export type PricingOverrides = Record<string, Record<string, Partial<ModelPrice>>>;

export type PriceSource = 'default' | 'user';

/** Where each merged entry comes from: `user` when the admin overrode any field of it. */
export type PricingSourceMap = Record<string, Record<string, PriceSource>>;

/** Tokens of one request, split the way they are billed. */
export interface PricingUsage {
  /** Fresh input tokens (cache reads and writes not included). */
  input: number;
  /** Output tokens, reasoning tokens included. */
  output: number;
  cacheRead: number;
  cacheCreation: number;
  /** The part of `output` spent on reasoning. */
  reasoning: number;
}

export const PRICE_FIELDS = ['input', 'output', 'cached', 'reasoning', 'cache_creation'] as const;
export type PriceField = (typeof PRICE_FIELDS)[number];
