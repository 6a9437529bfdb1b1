import type { CanonicalUsage, StopReason } from '@/gateway/dialects/canonical';

import { count, isObj, type Obj } from '@/gateway/dialects/shared/values';

/** Helpers shared by the Ollama `/api/chat` request, response and stream mappers. */

export { isObj, type Obj } from '@/gateway/dialects/shared/values';

/**
 * The id given to the `n`-th tool call (0-based) when Ollama sends none: older servers have no
 * call ids at all. Deterministic, so the same body always reads the same.
 */
export function ollamaToolCallId(n: number): string {
  return `call_${n}`;
}

/**
 * Tool-call arguments as Ollama sends them (an object) → canonical JSON text. A string (some
 * compatible servers) is kept verbatim; anything else is no arguments.
 */
export function argumentsText(v: unknown): string {
  if (isObj(v)) {
    return JSON.stringify(v);
  }
  return typeof v === 'string' && v !== '' ? v : '{}';
}

/** Canonical arguments (JSON text) → the object Ollama wants; `{}` when not a JSON object. */
export function argumentsObject(json: string): Obj {
  try {
    const v: unknown = JSON.parse(json);
    return isObj(v) ? v : {};
  } catch {
    return {};
  }
}

/**
 * The media type of base64 image data, from its first bytes (Ollama images carry none): PNG,
 * JPEG, GIF or WEBP; `image/png` when the bytes are none of these.
 */
export function sniffImageType(base64: string): string {
  const head = Buffer.from(base64.slice(0, 24), 'base64');
  const ascii = (from: number, to: number): string => head.subarray(from, to).toString('latin1');
  if (head[0] === 0x89 && ascii(1, 4) === 'PNG') {
    return 'image/png';
  }
  if (head[0] === 0xff && head[1] === 0xd8 && head[2] === 0xff) {
    return 'image/jpeg';
  }
  if (ascii(0, 4) === 'GIF8') {
    return 'image/gif';
  }
  if (ascii(0, 4) === 'RIFF' && ascii(8, 12) === 'WEBP') {
    return 'image/webp';
  }
  return 'image/png';
}

/**
 * Ollama `done_reason` → canonical stop reason. Ollama says `stop` after tool calls too, so the
 * calls win. `load`/`unload` (a model (un)loaded, no generation) count as a normal stop; the
 * canonical names this mapper writes for reasons Ollama lacks are read back.
 */
export function fromDoneReason(reason: unknown, hasToolCalls: boolean): StopReason {
  switch (reason) {
    case 'length':
      return 'length';
    case 'content_filter':
      return 'content_filter';
    case 'error':
      return 'error';
    default:
      return hasToolCalls ? 'tool_calls' : 'stop';
  }
}

/**
 * Canonical stop reason → Ollama `done_reason`. Ollama ends tool calls with `stop`; it has no
 * filter or error reason, so those keep their canonical name (clients treat the value as text).
 */
export function ollamaDoneReason(reason: StopReason): string {
  switch (reason) {
    case 'stop':
    case 'tool_calls':
      return 'stop';
    case 'length':
      return 'length';
    case 'content_filter':
      return 'content_filter';
    case 'error':
      return 'error';
  }
}

/**
 * The counts of a final Ollama object → canonical usage: `prompt_eval_count` is the input,
 * `eval_count` the output (thinking included: Ollama does not count reasoning apart).
 */
export function fromOllamaUsage(body: Obj): CanonicalUsage {
  return {
    inputTokens: count(body.prompt_eval_count),
    outputTokens: count(body.eval_count),
    cacheReadTokens: 0,
    cacheCreationTokens: 0,
    reasoningTokens: 0,
  };
}

/**
 * Canonical usage → the metrics of a final Ollama object, in Ollama's field order. The prompt
 * count includes cache reads and writes (all the prompt the model saw). Durations (nanoseconds)
 * are not known across providers: they are written as 0.
 */
export function toOllamaMetrics(u: CanonicalUsage): Obj {
  return {
    total_duration: 0,
    load_duration: 0,
    prompt_eval_count: u.inputTokens + u.cacheReadTokens + u.cacheCreationTokens,
    prompt_eval_duration: 0,
    eval_count: u.outputTokens,
    eval_duration: 0,
  };
}

/** Ollama `created_at` (RFC 3339, nanoseconds) → Unix seconds, when it is a valid time. */
export function fromCreatedAt(v: unknown): number | undefined {
  if (typeof v !== 'string') {
    return undefined;
  }
  const ms = Date.parse(v);
  return Number.isFinite(ms) ? Math.floor(ms / 1000) : undefined;
}

/** Unix seconds (or now) → an Ollama `created_at`. */
export function toCreatedAt(seconds: number | undefined): string {
  return (seconds === undefined ? new Date() : new Date(seconds * 1000)).toISOString();
}
