/**
 * Ollama chat non-stream bodies (`stream: false`: one object with `done: true`) ⇄ the canonical
 * response.
 *
 * Ollama responses have no id (the canonical id is `''`, each client encoder makes its own) and
 * carry timings in nanoseconds, which the canonical form has no place for: read bodies drop them,
 * written bodies say 0. `created_at` is kept to the second (the canonical `created`).
 */
import { AppError } from '@/common/errors/app-error';
import type {
  CanonicalResponse,
  TextPart,
  ThinkingPart,
  ToolCallPart,
} from '@/gateway/dialects/canonical';
import {
  argumentsObject,
  argumentsText,
  fromCreatedAt,
  fromDoneReason,
  fromOllamaUsage,
  isObj,
  ollamaToolCallId,
  toCreatedAt,
  ollamaDoneReason,
  toOllamaMetrics,
  type Obj,
} from '@/gateway/dialects/ollama/common';

function upstreamInvalid(reason: string): AppError {
  return new AppError(
    'UPSTREAM_INVALID_RESPONSE',
    'UPSTREAM_ERROR',
    `Upstream returned an invalid Ollama chat response: ${reason}`,
  );
}

/**
 * Reads the `message` of an Ollama object into canonical parts (thinking, text, tool calls in that
 * order). `firstCall` numbers calls that come without an id.
 */
export function ollamaMessageParts(
  message: Obj,
  firstCall = 0,
): (TextPart | ThinkingPart | ToolCallPart)[] {
  const parts: (TextPart | ThinkingPart | ToolCallPart)[] = [];
  if (typeof message.thinking === 'string' && message.thinking !== '') {
    parts.push({ type: 'thinking', text: message.thinking, origin: 'ollama' });
  }
  if (typeof message.content === 'string' && message.content !== '') {
    parts.push({ type: 'text', text: message.content });
  }
  if (Array.isArray(message.tool_calls)) {
    let n = firstCall;
    for (const tc of message.tool_calls as unknown[]) {
      if (!isObj(tc) || !isObj(tc.function)) {
        continue;
      }
      const fn = tc.function;
      const id = typeof tc.id === 'string' && tc.id !== '' ? tc.id : ollamaToolCallId(n);
      n++;
      parts.push({
        type: 'tool_call',
        id,
        name: typeof fn.name === 'string' ? fn.name : '',
        arguments: argumentsText(fn.arguments),
      });
    }
  }
  return parts;
}

/**
 * An upstream Ollama chat body → canonical response. A body that is not an Ollama chat object, or
 * an `{"error": …}` body, is an upstream error (502), not the client's fault.
 */
export function fromOllamaResponse(body: unknown): CanonicalResponse {
  if (!isObj(body)) {
    throw upstreamInvalid('the body is not a JSON object');
  }
  if (body.error !== undefined && body.error !== null) {
    const err = body.error;
    const message = typeof err === 'string' ? err : isObj(err) ? err.message : undefined;
    throw new AppError(
      'UPSTREAM_ERROR',
      'UPSTREAM_ERROR',
      `Upstream error: ${typeof message === 'string' && message ? message : 'unknown error'}`,
    );
  }
  if (!isObj(body.message)) {
    throw upstreamInvalid('message is missing');
  }
  const parts = ollamaMessageParts(body.message);
  const res: CanonicalResponse = {
    id: '',
    model: typeof body.model === 'string' ? body.model : '',
    parts,
    stopReason: fromDoneReason(
      body.done_reason,
      parts.some((p) => p.type === 'tool_call'),
    ),
    usage: fromOllamaUsage(body),
  };
  const created = fromCreatedAt(body.created_at);
  if (created !== undefined) {
    res.created = created;
  }
  return res;
}

/** Canonical tool calls → Ollama `tool_calls` (arguments as objects, `{}` when not JSON objects). */
export function ollamaToolCalls(calls: ToolCallPart[], firstIndex = 0): Obj[] {
  return calls.map((c, i) => ({
    id: c.id,
    function: { index: firstIndex + i, name: c.name, arguments: argumentsObject(c.arguments) },
  }));
}

/**
 * Canonical response → an Ollama chat body (the client side), fields in Ollama's order. Thinking
 * text from any provider is shown as `message.thinking`; signatures and redacted thinking have no
 * place in Ollama.
 */
export function toOllamaResponse(res: CanonicalResponse): Record<string, unknown> {
  let content = '';
  let thinking = '';
  const calls: ToolCallPart[] = [];
  for (const p of res.parts) {
    if (p.type === 'text') {
      content += p.text;
    } else if (p.type === 'thinking') {
      thinking += p.text;
    } else {
      calls.push(p);
    }
  }
  const message: Obj = { role: 'assistant', content };
  if (thinking) {
    message.thinking = thinking;
  }
  if (calls.length > 0) {
    message.tool_calls = ollamaToolCalls(calls);
  }
  return {
    model: res.model,
    created_at: toCreatedAt(res.created),
    message,
    done: true,
    done_reason: ollamaDoneReason(res.stopReason),
    ...toOllamaMetrics(res.usage),
  };
}
