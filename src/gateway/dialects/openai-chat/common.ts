import type { CanonicalUsage, StopReason } from '@/gateway/dialects/canonical';
import { count, isObj, type Obj } from '@/gateway/dialects/shared/values';

/** Helpers shared by the OpenAI Chat Completions request, response and stream mappers. */

export { isObj, type Obj } from '@/gateway/dialects/shared/values';

/**
 * OpenAI `usage` → canonical. OpenAI's `prompt_tokens` already includes the cached tokens, the
 * canonical `inputTokens` does not. DeepSeek's `prompt_cache_hit_tokens` stands in when
 * `prompt_tokens_details.cached_tokens` is absent.
 */
export function fromOpenAiUsage(u: unknown): CanonicalUsage {
  const usage = isObj(u) ? u : {};
  const prompt = count(usage.prompt_tokens);
  const promptDetails = isObj(usage.prompt_tokens_details) ? usage.prompt_tokens_details : {};
  const completionDetails = isObj(usage.completion_tokens_details)
    ? usage.completion_tokens_details
    : {};
  const cached = Math.min(
    prompt,
    promptDetails.cached_tokens !== undefined && promptDetails.cached_tokens !== null
      ? count(promptDetails.cached_tokens)
      : count(usage.prompt_cache_hit_tokens),
  );
  return {
    inputTokens: prompt - cached,
    outputTokens: count(usage.completion_tokens),
    cacheReadTokens: cached,
    cacheCreationTokens: 0,
    reasoningTokens: count(completionDetails.reasoning_tokens),
  };
}

/** Canonical usage → OpenAI `usage`: prompt tokens count cache reads and writes again. */
export function toOpenAiUsage(u: CanonicalUsage): Obj {
  const prompt = u.inputTokens + u.cacheReadTokens + u.cacheCreationTokens;
  return {
    prompt_tokens: prompt,
    completion_tokens: u.outputTokens,
    total_tokens: prompt + u.outputTokens,
    prompt_tokens_details: { cached_tokens: u.cacheReadTokens },
    completion_tokens_details: { reasoning_tokens: u.reasoningTokens },
  };
}

/**
 * OpenAI `finish_reason` → canonical stop reason. Some OpenAI-compatible servers answer `stop`
 * (or nothing) although the message holds tool calls; other dialects need "tool calls" there, so
 * the calls win. Non-standard values seen from compatible servers are mapped by meaning.
 */
export function fromFinishReason(reason: unknown, hasToolCalls: boolean): StopReason {
  switch (reason) {
    case 'length':
    case 'max_tokens':
      return 'length';
    case 'tool_calls':
    case 'function_call':
    case 'tool_use':
      return 'tool_calls';
    case 'content_filter':
      return 'content_filter';
    case 'error':
    case 'insufficient_system_resource':
      return 'error';
    default:
      return hasToolCalls ? 'tool_calls' : 'stop';
  }
}

/** Canonical stop reason → OpenAI `finish_reason` (OpenAI has no error reason: `stop`). */
export function toFinishReason(reason: StopReason): string {
  switch (reason) {
    case 'stop':
    case 'error':
      return 'stop';
    case 'length':
      return 'length';
    case 'tool_calls':
      return 'tool_calls';
    case 'content_filter':
      return 'content_filter';
  }
}
