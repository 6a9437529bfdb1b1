/**
 * Anthropic Messages non-stream bodies (`type: "message"`) ⇄ the canonical response.
 *
 * `fromAnthropicResponse` reads an upstream body; `toAnthropicResponse` renders a canonical response
 * for an Anthropic client (only Anthropic-signed thinking is shown to it, tool inputs as objects).
 */
import { randomBytes } from 'node:crypto';
import { AppError } from '@/common/errors/app-error';
import {
  anthropicToolId,
  isReplayableThinking,
  parseToolInput,
  thinkingBlock,
} from '@/gateway/dialects/anthropic/request';
import {
  type CanonicalResponse,
  type CanonicalUsage,
  type StopReason,
  type TextPart,
  type ThinkingPart,
  type ToolCallPart,
} from '@/gateway/dialects/canonical';
import { isObj, str, type Obj } from '@/gateway/dialects/shared/values';

const num = (v: unknown): number => (typeof v === 'number' && Number.isFinite(v) ? v : 0);

/** Anthropic `stop_reason` → canonical. Unknown or missing reasons count as a normal stop. */
export function fromAnthropicStopReason(reason: unknown): StopReason {
  switch (reason) {
    case 'max_tokens':
    case 'model_context_window_exceeded':
      return 'length';
    case 'tool_use':
      return 'tool_calls';
    case 'refusal':
      return 'content_filter';
    default:
      // end_turn, stop_sequence, pause_turn
      return 'stop';
  }
}

/** Canonical stop reason → Anthropic `stop_reason`. */
export function toAnthropicStopReason(reason: StopReason, stopSequence?: string): string {
  switch (reason) {
    case 'stop':
    case 'error':
      return stopSequence !== undefined ? 'stop_sequence' : 'end_turn';
    case 'length':
      return 'max_tokens';
    case 'tool_calls':
      return 'tool_use';
    case 'content_filter':
      return 'refusal';
  }
}

/** Anthropic usage → canonical (`input_tokens` already excludes cache reads and writes). */
export function fromAnthropicUsage(usage: unknown): CanonicalUsage {
  const u = isObj(usage) ? usage : {};
  return {
    inputTokens: num(u.input_tokens),
    outputTokens: num(u.output_tokens),
    cacheReadTokens: num(u.cache_read_input_tokens),
    cacheCreationTokens: num(u.cache_creation_input_tokens),
    reasoningTokens: 0,
  };
}

/** An Anthropic-looking message id: kept when it is one, else `msg_` + the id without its prefix. */
export function anthropicMessageId(id: string): string {
  if (/^msg_[A-Za-z0-9_-]+$/.test(id)) {
    return id;
  }
  const rest = id.replace(/^[a-z]+[-_](?=.)/, '').replace(/[^A-Za-z0-9_-]/g, '');
  return `msg_${rest === '' ? randomBytes(12).toString('hex') : rest}`;
}

/**
 * Reads an upstream Anthropic message body. Blocks the canonical form has no place for (server tool
 * use, web search results…) are skipped; a body that is not a message is an upstream error.
 */
export function fromAnthropicResponse(body: unknown): CanonicalResponse {
  if (!isObj(body) || !Array.isArray(body.content)) {
    throw new AppError(
      'UPSTREAM_INVALID_RESPONSE',
      'UPSTREAM_ERROR',
      'The upstream returned a body that is not an Anthropic message',
    );
  }
  const parts: (TextPart | ThinkingPart | ToolCallPart)[] = [];
  for (const block of body.content as unknown[]) {
    if (!isObj(block)) {
      continue;
    }
    switch (block.type) {
      case 'text':
        parts.push({ type: 'text', text: str(block.text) });
        break;
      case 'thinking': {
        const part: ThinkingPart = {
          type: 'thinking',
          text: str(block.thinking),
          origin: 'anthropic',
        };
        if (typeof block.signature === 'string' && block.signature !== '') {
          part.signature = block.signature;
        }
        parts.push(part);
        break;
      }
      case 'redacted_thinking':
        parts.push({ type: 'thinking', text: '', redacted: str(block.data), origin: 'anthropic' });
        break;
      case 'tool_use':
        parts.push({
          type: 'tool_call',
          id: str(block.id),
          name: str(block.name),
          arguments: JSON.stringify(isObj(block.input) ? block.input : {}),
        });
        break;
      default:
        break;
    }
  }
  const res: CanonicalResponse = {
    id: str(body.id),
    model: str(body.model),
    parts,
    stopReason: fromAnthropicStopReason(body.stop_reason),
    usage: fromAnthropicUsage(body.usage),
  };
  if (typeof body.stop_sequence === 'string') {
    res.stopSequence = body.stop_sequence;
  }
  return res;
}

/** Renders a canonical response as an Anthropic message body for the client. */
export function toAnthropicResponse(res: CanonicalResponse): Obj {
  const content: Obj[] = [];
  for (const p of res.parts) {
    switch (p.type) {
      case 'text':
        content.push({ type: 'text', text: p.text });
        break;
      case 'thinking':
        if (isReplayableThinking(p)) {
          content.push(thinkingBlock(p));
        }
        break;
      case 'tool_call':
        content.push({
          type: 'tool_use',
          id: anthropicToolId(p.id),
          name: p.name,
          input: parseToolInput(p.arguments),
        });
        break;
    }
  }
  return {
    id: anthropicMessageId(res.id),
    type: 'message',
    role: 'assistant',
    model: res.model,
    content,
    stop_reason: toAnthropicStopReason(res.stopReason, res.stopSequence),
    stop_sequence: res.stopSequence ?? null,
    usage: {
      input_tokens: res.usage.inputTokens,
      output_tokens: res.usage.outputTokens,
      cache_creation_input_tokens: res.usage.cacheCreationTokens,
      cache_read_input_tokens: res.usage.cacheReadTokens,
    },
  };
}
