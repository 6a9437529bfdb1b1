import { randomBytes } from 'node:crypto';
import type { CanonicalUsage, StopReason, ThinkingPart } from '@/gateway/dialects/canonical';
import { count, isObj, type Obj } from '@/gateway/dialects/shared/values';

/** Helpers shared by the OpenAI Responses request, response and stream mappers. */

export { isObj, str, type Obj } from '@/gateway/dialects/shared/values';

/** Reasoning summary parts are joined like this into one thinking text (and streamed so). */
export const SUMMARY_SEPARATOR = '\n\n';

/**
 * Only reasoning this dialect produced, with its `encrypted_content`, can be sent back to a
 * Responses API (another provider's signature or redacted data would be refused).
 */
export function isReplayableReasoning(p: ThinkingPart): boolean {
  return p.origin === 'responses' && !!p.redacted;
}

/**
 * Responses `usage` → canonical. `input_tokens` includes the cached tokens, the canonical
 * `inputTokens` does not; the Responses API reports no cache writes.
 */
export function fromResponsesUsage(u: unknown): CanonicalUsage {
  const usage = isObj(u) ? u : {};
  const input = count(usage.input_tokens);
  const inputDetails = isObj(usage.input_tokens_details) ? usage.input_tokens_details : {};
  const outputDetails = isObj(usage.output_tokens_details) ? usage.output_tokens_details : {};
  const cached = Math.min(input, count(inputDetails.cached_tokens));
  return {
    inputTokens: input - cached,
    outputTokens: count(usage.output_tokens),
    cacheReadTokens: cached,
    cacheCreationTokens: 0,
    reasoningTokens: count(outputDetails.reasoning_tokens),
  };
}

/** Canonical usage → Responses `usage`: input tokens count cache reads and writes again. */
export function toResponsesUsage(u: CanonicalUsage): Obj {
  const input = u.inputTokens + u.cacheReadTokens + u.cacheCreationTokens;
  return {
    input_tokens: input,
    input_tokens_details: { cached_tokens: u.cacheReadTokens },
    output_tokens: u.outputTokens,
    output_tokens_details: { reasoning_tokens: u.reasoningTokens },
    total_tokens: input + u.outputTokens,
  };
}

/**
 * Response `status` (+ `incomplete_details.reason`) → canonical stop reason. A completed response
 * that calls functions stops for tool calls; an incomplete one ran out of output tokens unless it
 * says it was filtered.
 */
export function fromResponsesStatus(
  status: unknown,
  incompleteDetails: unknown,
  hasToolCalls: boolean,
): StopReason {
  if (status === 'incomplete') {
    const reason = isObj(incompleteDetails) ? incompleteDetails.reason : undefined;
    return reason === 'content_filter' ? 'content_filter' : 'length';
  }
  if (status === 'failed') {
    return 'error';
  }
  return hasToolCalls ? 'tool_calls' : 'stop';
}

/** Canonical stop reason → `status` and `incomplete_details` of a response object. */
export function toResponsesStatus(reason: StopReason): {
  status: 'completed' | 'incomplete' | 'failed';
  incomplete_details: { reason: string } | null;
} {
  switch (reason) {
    case 'stop':
    case 'tool_calls':
      return { status: 'completed', incomplete_details: null };
    case 'length':
      return { status: 'incomplete', incomplete_details: { reason: 'max_output_tokens' } };
    case 'content_filter':
      return { status: 'incomplete', incomplete_details: { reason: 'content_filter' } };
    case 'error':
      return { status: 'failed', incomplete_details: null };
  }
}

/** The `error` object of a failed response whose generation stopped with an error. */
export const STOPPED_WITH_ERROR = {
  code: 'server_error',
  message: 'The upstream ended the response with an error',
};

/** The id body without its prefix, or fresh random hex when there is none. */
function idTail(id: string): string {
  const rest = id.replace(/^[a-z]+[-_](?=.)/, '').replace(/[^A-Za-z0-9_-]/g, '');
  return rest === '' ? randomBytes(12).toString('hex') : rest;
}

/** A `resp_…` id: kept when it has that form, else `resp_` + the id without its prefix. */
export function responsesId(id: string): string {
  return /^resp_[A-Za-z0-9_-]+$/.test(id) ? id : `resp_${idTail(id)}`;
}

/**
 * An output item id (`msg_…`, `fc_…`, `rs_…`) for item `n` of a response, derived from the
 * response id so the same response always gets the same item ids.
 */
export function itemId(prefix: 'msg' | 'fc' | 'rs', responseId: string, n: number): string {
  return `${prefix}_${idTail(responseId)}_${n}`;
}
