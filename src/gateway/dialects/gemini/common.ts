/**
 * Helpers shared by the Gemini `generateContent` request, response and stream mappers: usage,
 * finish reasons, model-turn parts (thinking, text, function calls and their `thoughtSignature`s)
 * and images.
 *
 * Two Gemini habits the canonical form has no exact slot for:
 * - a `thoughtSignature` may sit on a plain text part (the answer, or an empty last part). It is
 *   read as an empty `ThinkingPart {text: '', signature, origin: 'gemini'}` right after that text,
 *   and written back onto the part before it (`attachSignatures`): the bytes survive a round
 *   trip.
 * - function calls have no id: `call_<n>` is made up, n counting the calls of the response.
 */
import {
  type CanonicalUsage,
  type ImagePart,
  type Part,
  type StopReason,
  type TextPart,
  type ThinkingPart,
  type ToolCallPart,
} from '@/gateway/dialects/canonical';

import { DATA_URL } from '@/gateway/dialects/shared/image';
import { count, isObj, str, type Obj } from '@/gateway/dialects/shared/values';

export { isObj, str, type Obj } from '@/gateway/dialects/shared/values';

/** The id a Gemini function call without one gets: its position among the response's calls. */
export const syntheticCallId = (n: number): string => `call_${n}`;

// ------------------------------------------------------------------------------------------------
// Usage

/**
 * Gemini `usageMetadata` → canonical. `promptTokenCount` includes `cachedContentTokenCount` (the
 * canonical input does not); thoughts are billed as output, so output = candidates + thoughts and
 * reasoning = thoughts. Tool-use prompt tokens (search results fed back) count as input.
 */
export function fromGeminiUsage(u: unknown): CanonicalUsage {
  const usage = isObj(u) ? u : {};
  const prompt = count(usage.promptTokenCount);
  const cached = Math.min(prompt, count(usage.cachedContentTokenCount));
  const thoughts = count(usage.thoughtsTokenCount);
  return {
    inputTokens: prompt - cached + count(usage.toolUsePromptTokenCount),
    outputTokens: count(usage.candidatesTokenCount) + thoughts,
    cacheReadTokens: cached,
    cacheCreationTokens: 0,
    reasoningTokens: thoughts,
  };
}

/** Canonical usage → Gemini `usageMetadata` (cache writes count as prompt tokens, not cached). */
export function toGeminiUsage(u: CanonicalUsage): Obj {
  const prompt = u.inputTokens + u.cacheReadTokens + u.cacheCreationTokens;
  const thoughts = Math.min(u.reasoningTokens, u.outputTokens);
  const out: Obj = {
    promptTokenCount: prompt,
    candidatesTokenCount: u.outputTokens - thoughts,
    totalTokenCount: prompt + u.outputTokens,
  };
  if (u.cacheReadTokens > 0) {
    out.cachedContentTokenCount = u.cacheReadTokens;
  }
  if (thoughts > 0) {
    out.thoughtsTokenCount = thoughts;
  }
  return out;
}

/** The prompt side only, for chunks written before the final usage is known. */
export function toGeminiPromptUsage(u: Partial<CanonicalUsage>): Obj {
  const cached = u.cacheReadTokens ?? 0;
  const prompt = (u.inputTokens ?? 0) + cached + (u.cacheCreationTokens ?? 0);
  const out: Obj = { promptTokenCount: prompt, totalTokenCount: prompt };
  if (cached > 0) {
    out.cachedContentTokenCount = cached;
  }
  return out;
}

// ------------------------------------------------------------------------------------------------
// Finish reasons

/**
 * Gemini `finishReason` → canonical. Gemini answers `STOP` when the turn ends in function calls;
 * other dialects need "tool calls" there, so the calls win. Safety-like reasons are a content
 * filter; a malformed or unexpected tool call is an error; unknown reasons a normal stop.
 */
export function fromFinishReason(reason: unknown, hasToolCalls: boolean): StopReason {
  switch (reason) {
    case 'MAX_TOKENS':
      return 'length';
    case 'SAFETY':
    case 'RECITATION':
    case 'LANGUAGE':
    case 'BLOCKLIST':
    case 'PROHIBITED_CONTENT':
    case 'SPII':
    case 'IMAGE_SAFETY':
    case 'IMAGE_PROHIBITED_CONTENT':
    case 'IMAGE_RECITATION':
      return 'content_filter';
    case 'MALFORMED_FUNCTION_CALL':
    case 'UNEXPECTED_TOOL_CALL':
    case 'TOO_MANY_TOOL_CALLS':
      return 'error';
    default:
      // STOP, OTHER, FINISH_REASON_UNSPECIFIED, and reasons newer than this mapper
      return hasToolCalls ? 'tool_calls' : 'stop';
  }
}

/** Canonical stop reason → Gemini `finishReason` (function calls end with `STOP` in Gemini). */
export function toFinishReason(reason: StopReason): string {
  switch (reason) {
    case 'stop':
    case 'tool_calls':
      return 'STOP';
    case 'length':
      return 'MAX_TOKENS';
    case 'content_filter':
      return 'SAFETY';
    case 'error':
      return 'OTHER';
  }
}

/** A `finishReason` that ends the candidate (`FINISH_REASON_UNSPECIFIED` is "not set"). */
export function isFinish(reason: unknown): reason is string {
  return typeof reason === 'string' && reason !== '' && reason !== 'FINISH_REASON_UNSPECIFIED';
}

// ------------------------------------------------------------------------------------------------
// Errors

const GRPC_CODES: Record<string, number> = {
  INVALID_ARGUMENT: 400,
  FAILED_PRECONDITION: 400,
  OUT_OF_RANGE: 400,
  UNAUTHENTICATED: 401,
  PERMISSION_DENIED: 403,
  NOT_FOUND: 404,
  ABORTED: 409,
  ALREADY_EXISTS: 409,
  RESOURCE_EXHAUSTED: 429,
  CANCELLED: 499,
  INTERNAL: 500,
  UNKNOWN: 500,
  DATA_LOSS: 500,
  UNIMPLEMENTED: 501,
  UNAVAILABLE: 503,
  DEADLINE_EXCEEDED: 504,
};

/** Other dialects' error types (Anthropic, OpenAI) → Google RPC status names. */
const STATUS_BY_TYPE: Record<string, string> = {
  invalid_request_error: 'INVALID_ARGUMENT',
  authentication_error: 'UNAUTHENTICATED',
  permission_error: 'PERMISSION_DENIED',
  not_found_error: 'NOT_FOUND',
  rate_limit_error: 'RESOURCE_EXHAUSTED',
  overloaded_error: 'UNAVAILABLE',
  timeout_error: 'DEADLINE_EXCEEDED',
};

/** Gemini's error body `{error: {code, message, status}}` for a canonical error type. */
export function geminiErrorBody(message: string, errorType?: string): Obj {
  const status =
    errorType !== undefined && errorType in GRPC_CODES
      ? errorType
      : ((errorType !== undefined ? STATUS_BY_TYPE[errorType] : undefined) ?? 'INTERNAL');
  return { error: { code: GRPC_CODES[status], message, status } };
}

// ------------------------------------------------------------------------------------------------
// Parts

const IMAGE_TYPES: Record<string, string> = {
  png: 'image/png',
  jpg: 'image/jpeg',
  jpeg: 'image/jpeg',
  gif: 'image/gif',
  webp: 'image/webp',
  heic: 'image/heic',
  heif: 'image/heif',
};

/** A canonical image → `inlineData` (base64 and data: URLs) or `fileData` (other URLs). */
export function imagePartOut(p: ImagePart): Obj {
  if (p.source.kind === 'base64') {
    return { inlineData: { mimeType: p.source.mediaType, data: p.source.data } };
  }
  const data = DATA_URL.exec(p.source.url);
  if (data) {
    return { inlineData: { mimeType: data[1], data: data[2] } };
  }
  // fileData wants a MIME type the URL does not carry: guessed from the extension.
  const ext = /\.([a-z0-9]+)(?:[?#]|$)/i.exec(p.source.url)?.[1]?.toLowerCase() ?? '';
  return { fileData: { mimeType: IMAGE_TYPES[ext] ?? 'image/jpeg', fileUri: p.source.url } };
}

/** Tool-call arguments (JSON text) → the `args` object Gemini wants; `{}` when not an object. */
export function parseArgs(args: string): Obj {
  try {
    const v: unknown = JSON.parse(args);
    return isObj(v) ? v : {};
  } catch {
    return {};
  }
}

export interface ModelPartsOptions {
  /**
   * `drop`: only thinking Gemini produced goes out (upstream side: another provider's thinking
   * means nothing to Gemini). `show`: any thinking text is shown as a thought (client side).
   * Signatures are written only when Gemini made them (origin `gemini`) either way.
   */
  thinking: 'drop' | 'show';
  /** Write `functionCall.id` (client side: the client echoes it back with the result). */
  ids: boolean;
}

type Out = Obj & { thoughtSignature?: string };

/**
 * Canonical assistant parts → Gemini model-turn parts, in order. Empty thinking parts that only
 * carry a Gemini signature are put back on a neighbouring part (see the module comment).
 */
export function modelPartsOut(parts: Part[], opts: ModelPartsOptions): Obj[] {
  const out: Out[] = [];
  /** Signatures of empty thinking parts: `[index in out of the part before (or -1), signature]`. */
  const loose: [number, string][] = [];
  for (const p of parts) {
    switch (p.type) {
      case 'text':
        if (p.text !== '') {
          out.push({ text: p.text });
        }
        break;
      case 'thinking': {
        // Opaque redacted data has no place in Gemini; a summary shown beside it (Responses
        // `encrypted_content` with `summary_text`) is still thinking text to show.
        if (
          (p.redacted !== undefined && p.text === '') ||
          (opts.thinking === 'drop' && p.origin !== 'gemini')
        ) {
          break;
        }
        const signature = p.origin === 'gemini' && p.signature ? p.signature : undefined;
        if (p.text !== '') {
          const part: Out = { text: p.text, thought: true };
          if (signature) {
            part.thoughtSignature = signature;
          }
          out.push(part);
        } else if (signature) {
          loose.push([out.length - 1, signature]);
        }
        break;
      }
      case 'tool_call':
        out.push(functionCallOut(p, opts.ids));
        break;
      case 'image':
        out.push(imagePartOut(p));
        break;
      case 'tool_result':
        break;
    }
  }
  attachSignatures(out, loose);
  return out;
}

/** A signature can go on a non-thought part that has none yet. */
const canCarry = (p: Out | undefined): p is Out =>
  p !== undefined && p.thoughtSignature === undefined && p.thought !== true;

/**
 * Puts each loose signature on the part before it, else the next free part after it; one with no
 * part to carry it is dropped (Gemini rejects an empty text part).
 */
function attachSignatures(out: Out[], loose: [number, string][]): void {
  for (const [after, signature] of loose) {
    const target = canCarry(out[after])
      ? out[after]
      : out.slice(after + 1).find((p) => canCarry(p));
    if (target) {
      target.thoughtSignature = signature;
    }
  }
}

export function functionCallOut(p: ToolCallPart, withId: boolean): Obj {
  const call: Obj = { name: p.name, args: parseArgs(p.arguments) };
  if (withId && p.id !== '') {
    call.id = p.id;
  }
  const part: Obj = { functionCall: call };
  if (p.signature) {
    part.thoughtSignature = p.signature;
  }
  return part;
}

/**
 * Reads Gemini model-output parts the way the stream decoder does, so a response and the stream of
 * the same answer give the same parts: consecutive texts join, consecutive thoughts join until one
 * carries a signature, a signature on a plain part becomes an empty signed thinking part after it,
 * function calls keep their `id` or get `call_<n>`. Parts with no canonical place (images made by
 * the model, executable code) are skipped.
 */
export class ModelPartReader {
  readonly parts: (TextPart | ThinkingPart | ToolCallPart)[] = [];
  private calls = 0;
  /** The last thinking part may take more thought text (no signature closed it). */
  private thinkingOpen = false;

  read(raw: unknown): void {
    if (!isObj(raw)) {
      return;
    }
    const signature = str(raw.thoughtSignature) || undefined;
    const last = this.parts.at(-1);
    if (isObj(raw.functionCall)) {
      const fc = raw.functionCall;
      const call: ToolCallPart = {
        type: 'tool_call',
        id: str(fc.id) || syntheticCallId(this.calls),
        name: str(fc.name),
        arguments: JSON.stringify(isObj(fc.args) ? fc.args : {}),
      };
      this.calls++;
      if (signature) {
        call.signature = signature;
      }
      this.parts.push(call);
      this.thinkingOpen = false;
      return;
    }
    if (typeof raw.text !== 'string') {
      if (signature) {
        // A signature on a part with no canonical place (or on no content at all).
        this.parts.push({ type: 'thinking', text: '', signature, origin: 'gemini' });
        this.thinkingOpen = false;
      }
      return;
    }
    const text = raw.text;
    if (raw.thought === true) {
      if (last?.type === 'thinking' && this.thinkingOpen) {
        last.text += text;
        if (signature) {
          last.signature = signature;
          this.thinkingOpen = false;
        }
        return;
      }
      const part: ThinkingPart = { type: 'thinking', text, origin: 'gemini' };
      if (signature) {
        part.signature = signature;
      }
      this.parts.push(part);
      this.thinkingOpen = !signature;
      return;
    }
    if (text !== '') {
      if (last?.type === 'text') {
        last.text += text;
      } else {
        this.parts.push({ type: 'text', text });
      }
      this.thinkingOpen = false;
    }
    if (signature) {
      this.parts.push({ type: 'thinking', text: '', signature, origin: 'gemini' });
      this.thinkingOpen = false;
    }
  }

  get hasToolCalls(): boolean {
    return this.calls > 0;
  }
}
