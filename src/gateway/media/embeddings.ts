import { AppError } from '@/common/errors/app-error';
import type { EmbeddingService } from '@/providers/registry';
import type { MediaUsage } from './operation';
import { invalidUpstream, isRecord, positiveInt, requireModel } from './validate';

/** `POST /v1/embeddings`, validated (reference §2.5; OpenAI's request shape). */
export interface EmbeddingsRequest {
  model: string;
  input: string | string[] | number[] | number[][];
  encodingFormat: 'float' | 'base64' | undefined;
  dimensions: number | undefined;
  /** Every other field (`user`, provider extras such as `input_type`), passed through. */
  extra: Record<string, unknown>;
}

const MAX_INPUTS = 2048;
/** The request fields Mistral's embeddings API accepts besides model and input. */
const MISTRAL_FIELDS = ['output_dimension', 'output_dtype'];

function isTokenArray(v: unknown): v is number[] {
  return Array.isArray(v) && v.length > 0 && v.every((t) => Number.isInteger(t) && t >= 0);
}

function checkInput(input: unknown): EmbeddingsRequest['input'] {
  const bad = (why: string): AppError =>
    AppError.invalid(`Invalid 'input': ${why}`, { param: 'input' }, 'INVALID_INPUT_FIELD');
  if (typeof input === 'string') {
    if (!input) {
      throw bad('must not be empty');
    }
    return input;
  }
  if (!Array.isArray(input)) {
    throw bad(
      input === undefined
        ? 'missing; send a string or an array of strings (or token arrays)'
        : 'must be a string, an array of strings, or token arrays',
    );
  }
  if (input.length === 0) {
    throw bad('must not be an empty array');
  }
  if (input.length > MAX_INPUTS) {
    throw bad(`at most ${MAX_INPUTS} items per request`);
  }
  if (input.every((s) => typeof s === 'string')) {
    if (input.some((s) => !s)) {
      throw bad('items must not be empty strings');
    }
    return input;
  }
  if (isTokenArray(input)) {
    return input;
  }
  if (input.every(isTokenArray)) {
    return input;
  }
  throw bad('must be a string, an array of strings, or token arrays (non-negative integers)');
}

export function parseEmbeddingsRequest(body: unknown): EmbeddingsRequest {
  if (!isRecord(body)) {
    throw AppError.invalid('Request body must be a JSON object', {}, 'INVALID_BODY');
  }
  const { model, input, encoding_format, dimensions, ...extra } = body;
  const m = requireModel(model);
  if (
    encoding_format !== undefined &&
    encoding_format !== 'float' &&
    encoding_format !== 'base64'
  ) {
    throw AppError.invalid(
      "Invalid 'encoding_format': must be 'float' or 'base64'",
      { param: 'encoding_format' },
      'INVALID_INPUT_FIELD',
    );
  }
  return {
    model: m,
    input: checkInput(input),
    encodingFormat: encoding_format,
    dimensions: dimensions === undefined ? undefined : positiveInt(dimensions, 'dimensions', 65536),
    extra,
  };
}

/** Tokens the input will roughly cost (the policy estimate; the upstream's count is billed). */
export function estimateEmbeddingTokens(input: EmbeddingsRequest['input']): number {
  if (typeof input === 'string') {
    return Math.ceil(input.length / 4);
  }
  let n = 0;
  for (const item of input) {
    n +=
      typeof item === 'string' ? Math.ceil(item.length / 4) : Array.isArray(item) ? item.length : 1;
  }
  return n;
}

/** The first input text, shortened, for the call log. */
export function embeddingsSummary(input: EmbeddingsRequest['input']): string | null {
  const first = typeof input === 'string' ? input : typeof input[0] === 'string' ? input[0] : null;
  return first ? first.slice(0, 200) : null;
}

/**
 * The upstream body for one provider. Base64 is asked of OpenAI only: the others get floats and
 * the gateway encodes them when the client asked for base64 (the `openai` SDK always does), so a
 * provider that rejects or ignores base64 still answers the SDK correctly.
 */
export function embeddingsUpstreamBody(
  req: EmbeddingsRequest,
  flavor: EmbeddingService['flavor'],
  upstreamModel: string,
): { body: Record<string, unknown>; encodeBase64: boolean } {
  const body: Record<string, unknown> = { ...req.extra, model: upstreamModel, input: req.input };
  const wantsBase64 = req.encodingFormat === 'base64';
  if (flavor === 'openai') {
    if (req.encodingFormat) {
      body.encoding_format = req.encodingFormat;
    }
    if (req.dimensions !== undefined) {
      body.dimensions = req.dimensions;
    }
    return { body, encodeBase64: false };
  }
  if (flavor === 'mistral') {
    // Mistral refuses unknown fields (422): only its own, `dimensions` as `output_dimension`
    const own: Record<string, unknown> = { model: upstreamModel, input: req.input };
    for (const k of MISTRAL_FIELDS) {
      if (req.extra[k] !== undefined) {
        own[k] = req.extra[k];
      }
    }
    if (req.dimensions !== undefined) {
      own.output_dimension = req.dimensions;
    }
    return { body: own, encodeBase64: wantsBase64 };
  }
  body.encoding_format = 'float';
  if (req.dimensions !== undefined) {
    body.dimensions = req.dimensions;
  }
  if (flavor === 'nvidia' && body.input_type === undefined) {
    // NVIDIA's retrieval models refuse a request without it; a query is the common RAG case
    body.input_type = 'query';
  }
  return { body, encodeBase64: wantsBase64 };
}

/** A float vector as OpenAI's base64: the little-endian float32 bytes. */
export function floatsToBase64(v: readonly number[]): string {
  const buf = Buffer.alloc(v.length * 4);
  for (let i = 0; i < v.length; i++) {
    buf.writeFloatLE(v[i], i * 4);
  }
  return buf.toString('base64');
}

/**
 * The upstream answer in OpenAI's shape (`{object:'list', data:[{object,index,embedding}], model,
 * usage}`), vectors base64-encoded when the client asked for that and the upstream sent floats.
 */
export function embeddingsAnswer(
  upstream: unknown,
  opts: { encodeBase64: boolean; model: string; provider: string },
): { body: Record<string, unknown>; usage: MediaUsage } {
  if (!isRecord(upstream) || !Array.isArray(upstream.data)) {
    throw invalidUpstream(opts.provider, 'an embeddings answer without a data array');
  }
  const data = upstream.data.map((d: unknown, i) => {
    if (!isRecord(d) || (!Array.isArray(d.embedding) && typeof d.embedding !== 'string')) {
      throw invalidUpstream(opts.provider, `embedding ${i} has no vector`);
    }
    const embedding =
      opts.encodeBase64 && Array.isArray(d.embedding)
        ? floatsToBase64(d.embedding as number[])
        : d.embedding;
    return {
      object: 'embedding',
      index: typeof d.index === 'number' ? d.index : i,
      embedding,
    };
  });
  const u = isRecord(upstream.usage) ? upstream.usage : {};
  const prompt = typeof u.prompt_tokens === 'number' ? u.prompt_tokens : 0;
  const total = typeof u.total_tokens === 'number' ? u.total_tokens : prompt;
  return {
    body: {
      object: 'list',
      data,
      model: typeof upstream.model === 'string' ? upstream.model : opts.model,
      usage: { prompt_tokens: prompt, total_tokens: total },
    },
    usage: { inputTokens: prompt, outputTokens: 0, images: 0, audioSeconds: 0 },
  };
}
