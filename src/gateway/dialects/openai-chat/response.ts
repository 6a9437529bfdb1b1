import { randomUUID } from 'node:crypto';
import { AppError } from '@/common/errors/app-error';
import type {
  CanonicalResponse,
  TextPart,
  ThinkingPart,
  ToolCallPart,
} from '@/gateway/dialects/canonical';
import {
  fromFinishReason,
  fromOpenAiUsage,
  isObj,
  toFinishReason,
  toOpenAiUsage,
  type Obj,
} from '@/gateway/dialects/openai-chat/common';

/** OpenAI Chat Completions non-stream bodies ⇄ canonical. */

function upstreamInvalid(reason: string): AppError {
  return new AppError(
    'UPSTREAM_INVALID_RESPONSE',
    'UPSTREAM_ERROR',
    `Upstream returned an invalid chat completion: ${reason}`,
  );
}

/** Text of `content`: a string, or (some compatible servers) an array of text parts. */
function textOf(content: unknown): string {
  if (typeof content === 'string') {
    return content;
  }
  if (Array.isArray(content)) {
    return content.map((p) => (isObj(p) && typeof p.text === 'string' ? p.text : '')).join('');
  }
  return '';
}

/** Arguments as JSON text: kept verbatim; an object (some compatible servers) is serialised. */
function argumentsOf(v: unknown): string {
  if (typeof v === 'string') {
    return v;
  }
  return isObj(v) ? JSON.stringify(v) : '';
}

/**
 * An upstream `chat.completion` → canonical response: `choices[0].message` (reasoning, text, tool
 * calls, in that order), the stop reason and the usage. A body without a usable choice is an
 * upstream error (502), not the client's fault.
 */
export function fromOpenAiChatResponse(body: unknown): CanonicalResponse {
  if (!isObj(body)) {
    throw upstreamInvalid('the body is not a JSON object');
  }
  const choices = body.choices;
  if (!Array.isArray(choices) || choices.length === 0) {
    throw upstreamInvalid('no choices');
  }
  const choice = (choices.find((c) => isObj(c) && c.index === 0) ?? choices[0]) as unknown;
  if (!isObj(choice) || !isObj(choice.message)) {
    throw upstreamInvalid('choices[0].message is missing');
  }
  const message = choice.message;
  const parts: (TextPart | ThinkingPart | ToolCallPart)[] = [];

  // DeepSeek-style `reasoning_content`; some compatible servers (vLLM, OpenRouter) say `reasoning`.
  const reasoning =
    typeof message.reasoning_content === 'string' ? message.reasoning_content : message.reasoning;
  if (typeof reasoning === 'string' && reasoning) {
    parts.push({ type: 'thinking', text: reasoning, origin: 'openai-chat' });
  }
  const text = textOf(message.content) || textOf(message.refusal);
  if (text) {
    parts.push({ type: 'text', text });
  }
  const id = typeof body.id === 'string' ? body.id : '';
  if (Array.isArray(message.tool_calls)) {
    message.tool_calls.forEach((tc, i) => {
      if (!isObj(tc) || !isObj(tc.function)) {
        return;
      }
      const fn = tc.function;
      parts.push({
        type: 'tool_call',
        id: typeof tc.id === 'string' && tc.id ? tc.id : `call_${i}_${id}`,
        name: typeof fn.name === 'string' ? fn.name : '',
        arguments: argumentsOf(fn.arguments),
      });
    });
  } else if (isObj(message.function_call)) {
    // The deprecated single `function_call`: it has no id, one is made up.
    const fn = message.function_call;
    parts.push({
      type: 'tool_call',
      id: `call_0_${id}`,
      name: typeof fn.name === 'string' ? fn.name : '',
      arguments: argumentsOf(fn.arguments),
    });
  }
  const res: CanonicalResponse = {
    id,
    model: typeof body.model === 'string' ? body.model : '',
    parts,
    stopReason: fromFinishReason(
      choice.finish_reason,
      parts.some((p) => p.type === 'tool_call'),
    ),
    usage: fromOpenAiUsage(body.usage),
  };
  if (typeof body.created === 'number') {
    res.created = body.created;
  }
  return res;
}

/** A `chatcmpl-…` id: kept when it has that form, else derived from the canonical one. */
export function openAiCompletionId(id: string): string {
  if (id.startsWith('chatcmpl-')) {
    return id;
  }
  const tail = id.replace(/[^A-Za-z0-9_-]/g, '');
  return `chatcmpl-${tail || randomUUID().replace(/-/g, '')}`;
}

/**
 * Canonical response → an OpenAI `chat.completion` (the client side). Thinking text from any
 * provider is shown as `reasoning_content`; signatures and redacted thinking have no place here.
 */
export function toOpenAiChatResponse(res: CanonicalResponse): Record<string, unknown> {
  let text = '';
  let reasoning = '';
  const calls: Obj[] = [];
  for (const p of res.parts) {
    if (p.type === 'text') {
      text += p.text;
    } else if (p.type === 'thinking') {
      reasoning += p.text;
    } else {
      calls.push({
        id: p.id,
        type: 'function',
        function: { name: p.name, arguments: p.arguments },
      });
    }
  }
  const message: Obj = {
    role: 'assistant',
    content: text || (calls.length ? null : ''),
    refusal: null,
  };
  if (calls.length) {
    message.tool_calls = calls;
  }
  if (reasoning) {
    message.reasoning_content = reasoning;
  }
  return {
    id: openAiCompletionId(res.id),
    object: 'chat.completion',
    created: res.created ?? Math.floor(Date.now() / 1000),
    model: res.model,
    choices: [{ index: 0, message, logprobs: null, finish_reason: toFinishReason(res.stopReason) }],
    usage: toOpenAiUsage(res.usage),
  };
}
