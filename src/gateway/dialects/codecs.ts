import { fromAnthropicRequest, toAnthropicRequest } from '@/gateway/dialects/anthropic/request';
import { fromAnthropicResponse, toAnthropicResponse } from '@/gateway/dialects/anthropic/response';
import {
  AnthropicStreamDecoder,
  AnthropicStreamEncoder,
} from '@/gateway/dialects/anthropic/stream';
import type {
  CanonicalRequest,
  CanonicalResponse,
  DialectId,
  StreamDecoder,
  StreamEncoder,
} from '@/gateway/dialects/canonical';
import { fromOpenAiChatRequest, toOpenAiChatRequest } from '@/gateway/dialects/openai-chat/request';
import {
  fromOpenAiChatResponse,
  toOpenAiChatResponse,
} from '@/gateway/dialects/openai-chat/response';
import {
  OpenAiChatStreamDecoder,
  OpenAiChatStreamEncoder,
} from '@/gateway/dialects/openai-chat/stream';
import { fromOllamaRequest, toOllamaRequest } from '@/gateway/dialects/ollama/request';
import { fromOllamaResponse, toOllamaResponse } from '@/gateway/dialects/ollama/response';
import { OllamaStreamDecoder, OllamaStreamEncoder } from '@/gateway/dialects/ollama/stream';
import { fromResponsesRequest, toResponsesRequest } from '@/gateway/dialects/responses/request';
import { fromResponsesResponse, toResponsesResponse } from '@/gateway/dialects/responses/response';
import {
  ResponsesStreamDecoder,
  ResponsesStreamEncoder,
} from '@/gateway/dialects/responses/stream';
import { fromGeminiRequest, geminiPath, toGeminiRequest } from '@/gateway/dialects/gemini/request';
import { fromGeminiResponse, toGeminiResponse } from '@/gateway/dialects/gemini/response';
import { GeminiStreamDecoder, GeminiStreamEncoder } from '@/gateway/dialects/gemini/stream';
import type { Dialect } from '@/providers/registry';

export interface EncoderOptions {
  id: string;
  model: string;
  created: number;
  /** OpenAI: the client asked for a usage chunk. */
  includeUsage: boolean;
}

/** One dialect's pure mappers, behind one interface (the pipeline never names a provider). */
/** What a surface's URL says about the request (Gemini: the model and whether it streams). */
export interface UrlFacts {
  model?: string;
  stream?: boolean;
}

export interface DialectCodec {
  readonly id: DialectId;
  /** The model is named in the URL, not the body (Gemini). */
  readonly modelInUrl?: boolean;
  fromRequest(body: unknown, url?: UrlFacts): CanonicalRequest;
  /** The upstream URL when it depends on the call (Gemini: model and action in the path). */
  upstreamUrl?(base: string, model: string, stream: boolean): string;
  toRequest(req: CanonicalRequest): Record<string, unknown>;
  fromResponse(body: unknown): CanonicalResponse;
  toResponse(res: CanonicalResponse): Record<string, unknown>;
  decoder(): StreamDecoder;
  encoder(opts: EncoderOptions): StreamEncoder;
}

export const OPENAI_CHAT: DialectCodec = {
  id: 'openai-chat',
  fromRequest: fromOpenAiChatRequest,
  toRequest: toOpenAiChatRequest,
  fromResponse: fromOpenAiChatResponse,
  toResponse: toOpenAiChatResponse,
  decoder: () => new OpenAiChatStreamDecoder(),
  encoder: (o) => new OpenAiChatStreamEncoder(o),
};

export const ANTHROPIC: DialectCodec = {
  id: 'anthropic',
  fromRequest: fromAnthropicRequest,
  toRequest: toAnthropicRequest,
  fromResponse: fromAnthropicResponse,
  toResponse: toAnthropicResponse,
  decoder: () => new AnthropicStreamDecoder(),
  encoder: (o) => new AnthropicStreamEncoder({ id: o.id, model: o.model }),
};

export const OLLAMA: DialectCodec = {
  id: 'ollama',
  fromRequest: fromOllamaRequest,
  toRequest: toOllamaRequest,
  fromResponse: fromOllamaResponse,
  toResponse: toOllamaResponse,
  decoder: () => new OllamaStreamDecoder(),
  encoder: (o) => new OllamaStreamEncoder({ model: o.model }),
};

export const RESPONSES: DialectCodec = {
  id: 'responses',
  fromRequest: fromResponsesRequest,
  toRequest: toResponsesRequest,
  fromResponse: fromResponsesResponse,
  toResponse: toResponsesResponse,
  decoder: () => new ResponsesStreamDecoder(),
  encoder: (o) => new ResponsesStreamEncoder({ id: o.id, model: o.model, created: o.created }),
};

/** Gemini carries the model (and streaming) in the URL. */
export const GEMINI: DialectCodec = {
  id: 'gemini',
  modelInUrl: true,
  fromRequest: (body, url) => fromGeminiRequest(body, url?.model ?? '', { stream: url?.stream }),
  // `base` ends in /v1beta (the registry's and the documented override's form).
  upstreamUrl: (base, model, stream) =>
    base.replace(/\/+$/, '') + geminiPath(model, stream).replace(/^\/v1beta/, ''),
  toRequest: toGeminiRequest,
  fromResponse: fromGeminiResponse,
  toResponse: toGeminiResponse,
  decoder: () => new GeminiStreamDecoder(),
  encoder: (o) => new GeminiStreamEncoder({ id: o.id, model: o.model }),
};

const BY_UPSTREAM: Record<Dialect, DialectCodec> = {
  gemini: GEMINI,
  openai: OPENAI_CHAT,
  anthropic: ANTHROPIC,
  ollama: OLLAMA,
  responses: RESPONSES,
};

/** The codec an upstream connection speaks. */
export function upstreamCodec(dialect: Dialect): DialectCodec {
  return BY_UPSTREAM[dialect];
}
