/**
 * The canonical form every dialect translates to and from (hub and spoke, API.md §1): requests,
 * non-stream responses and stream events. Each dialect module has small pure mappers:
 *
 *   from<Dialect>Request(body)      → CanonicalRequest      (client side: validate + read)
 *   to<Dialect>Request(req)         → body                  (upstream side)
 *   from<Dialect>Response(body)     → CanonicalResponse     (upstream side)
 *   to<Dialect>Response(res)        → body                  (client side)
 *   <Dialect>StreamDecoder          bytes → StreamEvent[]   (upstream side; push()/end(), any chunking)
 *   <Dialect>StreamEncoder          StreamEvent → bytes     (client side; keeps the dialect's event order)
 *
 * Same dialect in and out never goes through here: the body and the stream bytes pass untouched.
 */

/** The client and upstream wire protocols. */
export type DialectId = 'openai-chat' | 'anthropic' | 'gemini' | 'responses' | 'ollama';

export type ImageSource =
  { kind: 'url'; url: string } | { kind: 'base64'; mediaType: string; data: string };

/**
 * Reasoning. `signature` (Anthropic) or `thoughtSignature` (Gemini) are opaque and kept byte for
 * byte; `origin` says which dialect produced them, since a signature is only valid with the
 * provider that made it (unsigned or foreign thinking is dropped when crossing providers).
 */
export interface ThinkingPart {
  type: 'thinking';
  text: string;
  signature?: string;
  /** Anthropic `redacted_thinking.data`, Responses `encrypted_content`: opaque, no text. */
  redacted?: string;
  origin?: DialectId;
}

export interface TextPart {
  type: 'text';
  text: string;
  /** Anthropic prompt-caching marker, carried when both sides understand it. */
  cacheControl?: Record<string, unknown>;
}

export interface ImagePart {
  type: 'image';
  source: ImageSource;
  /** OpenAI `detail`. */
  detail?: 'auto' | 'low' | 'high';
}

export interface ToolCallPart {
  type: 'tool_call';
  /** Provider call id (`call_…`, `toolu_…`); Gemini has none, mappers make one up. */
  id: string;
  name: string;
  /** The arguments as JSON text, exactly as streamed/received (never re-serialised when avoidable). */
  arguments: string;
  /** Gemini `thoughtSignature` attached to a function call part. */
  signature?: string;
}

export interface ToolResultPart {
  type: 'tool_result';
  toolCallId: string;
  /** Gemini needs the function name with the result. */
  name?: string;
  content: (TextPart | ImagePart)[];
  isError?: boolean;
}

export type Part = TextPart | ImagePart | ThinkingPart | ToolCallPart | ToolResultPart;

export type Role = 'user' | 'assistant' | 'tool';

export interface CanonicalMessage {
  role: Role;
  parts: Part[];
}

export interface CanonicalTool {
  name: string;
  description?: string;
  /** JSON Schema of the arguments (Gemini's subset is produced by its mapper's sanitiser). */
  parameters: Record<string, unknown>;
}

export type ToolChoice = 'auto' | 'none' | 'required' | { name: string };

export type ResponseFormat =
  | { type: 'text' }
  | { type: 'json_object' }
  | { type: 'json_schema'; name?: string; schema: Record<string, unknown>; strict?: boolean };

export type ReasoningEffort = 'minimal' | 'low' | 'medium' | 'high';

export interface CanonicalRequest {
  model: string;
  /** System / developer instructions, in order. */
  system: TextPart[];
  messages: CanonicalMessage[];
  tools?: CanonicalTool[];
  toolChoice?: ToolChoice;
  parallelToolCalls?: boolean;
  maxTokens?: number;
  temperature?: number;
  topP?: number;
  topK?: number;
  stop?: string[];
  /** effort ⇄ budget: mappers convert with `effortToBudget` / `budgetToEffort`. */
  reasoning?: { effort?: ReasoningEffort; budgetTokens?: number; includeThoughts?: boolean };
  responseFormat?: ResponseFormat;
  stream: boolean;
  /** Client's end-user id / metadata, forwarded where the upstream has a field for it. */
  user?: string;
}

export type StopReason = 'stop' | 'length' | 'tool_calls' | 'content_filter' | 'error';

export interface CanonicalUsage {
  /** Input tokens billed as fresh input (cache reads and writes NOT included). */
  inputTokens: number;
  outputTokens: number;
  cacheReadTokens: number;
  cacheCreationTokens: number;
  /** Part of outputTokens spent on reasoning. */
  reasoningTokens: number;
}

export interface CanonicalResponse {
  id: string;
  model: string;
  /** Assistant output in order: thinking, text, tool calls. */
  parts: (TextPart | ThinkingPart | ToolCallPart)[];
  stopReason: StopReason;
  /** The raw stop sequence that ended it, when the upstream says. */
  stopSequence?: string;
  usage: CanonicalUsage;
  created?: number;
}

/**
 * Stream events. `index` numbers the output blocks (text, thinking, tool call) in the order they
 * start; a decoder opens a block with `*_start` before its deltas and closes it with `block_stop`.
 * Tool-call argument deltas are passed on as they arrive (never buffered to the end).
 */
export type StreamEvent =
  | { type: 'message_start'; id: string; model: string; usage?: Partial<CanonicalUsage> }
  | { type: 'text_start'; index: number }
  | { type: 'text_delta'; index: number; text: string }
  | { type: 'thinking_start'; index: number; redacted?: string }
  | { type: 'thinking_delta'; index: number; text: string }
  | { type: 'thinking_signature'; index: number; signature: string }
  | { type: 'tool_call_start'; index: number; id: string; name: string }
  | { type: 'tool_call_delta'; index: number; argumentsDelta: string }
  | { type: 'block_stop'; index: number }
  | { type: 'message_stop'; stopReason: StopReason; stopSequence?: string; usage?: CanonicalUsage }
  | { type: 'error'; message: string; errorType?: string };

export interface StreamDecoder {
  /** Events for these bytes (a partial event waits for the next chunk). Never throws. */
  push(chunk: Buffer): StreamEvent[];
  /** The upstream ended: events for what is left (and whether the stream completed). */
  end(): StreamEvent[];
}

export interface StreamEncoder {
  /** Bytes for the client for one event (may be empty while the encoder buffers nothing). */
  encode(event: StreamEvent): string;
  /** Bytes to close a stream that ended without `message_stop` or `error` (a terminal error). */
  abort(message: string): string;
}

export const EMPTY_USAGE: CanonicalUsage = {
  inputTokens: 0,
  outputTokens: 0,
  cacheReadTokens: 0,
  cacheCreationTokens: 0,
  reasoningTokens: 0,
};

/** Reasoning effort → thinking budget (tokens), for providers that take a budget. */
export function effortToBudget(effort: ReasoningEffort): number {
  switch (effort) {
    case 'minimal':
      return 1024;
    case 'low':
      return 2048;
    case 'medium':
      return 8192;
    case 'high':
      return 24576;
  }
}

/** Thinking budget → the nearest reasoning effort, for providers that take an effort. */
export function budgetToEffort(budget: number): ReasoningEffort {
  if (budget <= 1024) {
    return 'minimal';
  }
  if (budget <= 4096) {
    return 'low';
  }
  if (budget <= 16384) {
    return 'medium';
  }
  return 'high';
}
