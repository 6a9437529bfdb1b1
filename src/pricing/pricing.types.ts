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
  /** USD per generated image when no size/quality entry matches. */
  image?: number;
  /** USD per second of transcribed audio. */
  audio_second?: number;
  /** USD per image of one size and quality: `image:1024x1024/hd`, `image:1024x1024`, `image:*\/hd`. */
  [sizeQuality: `image:${string}`]: number | undefined;
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

export const PRICE_FIELDS = [
  'input',
  'output',
  'cached',
  'reasoning',
  'cache_creation',
  'image',
  'audio_second',
] as const;
export type PriceField = (typeof PRICE_FIELDS)[number] | `image:${string}`;

/** A per-size/quality image price field: `image:<size>`, `image:<size>/<quality>`, `image:*\/<quality>`. */
export const IMAGE_FIELD_RE = /^image:(?:\*|\d{2,5}x\d{2,5}|auto)(?:\/(?:\*|[a-z]{1,16}))?$/;

export function isPriceField(name: string): name is PriceField {
  return (PRICE_FIELDS as readonly string[]).includes(name) || IMAGE_FIELD_RE.test(name);
}

/** What a media request used besides tokens. */
export interface MediaUnits {
  images: number;
  /** `<size>/<quality>` of the images. */
  imageKey?: string;
  audioSeconds: number;
}
