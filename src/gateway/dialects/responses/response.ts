import { AppError } from '@/common/errors/app-error';
import type {
  CanonicalResponse,
  TextPart,
  ThinkingPart,
  ToolCallPart,
} from '@/gateway/dialects/canonical';
import {
  fromResponsesStatus,
  fromResponsesUsage,
  isObj,
  isReplayableReasoning,
  itemId,
  responsesId,
  STOPPED_WITH_ERROR,
  str,
  SUMMARY_SEPARATOR,
  toResponsesStatus,
  toResponsesUsage,
  type Obj,
} from '@/gateway/dialects/responses/common';

/** OpenAI Responses non-stream bodies (`object: "response"`) ⇄ canonical. */

function upstreamInvalid(reason: string): AppError {
  return new AppError(
    'UPSTREAM_INVALID_RESPONSE',
    'UPSTREAM_ERROR',
    `Upstream returned an invalid response object: ${reason}`,
  );
}

/** Texts of the `summary` / `content` parts of a reasoning item. */
function texts(list: unknown): string[] {
  return Array.isArray(list) ? list.filter(isObj).map((p) => str(p.text)) : [];
}

/** A reasoning output item → thinking (summary text, `encrypted_content` → `redacted`). */
export function reasoningThinking(item: Obj): ThinkingPart {
  const summary = texts(item.summary);
  const part: ThinkingPart = {
    type: 'thinking',
    text: (summary.length ? summary : texts(item.content)).join(SUMMARY_SEPARATOR),
    origin: 'responses',
  };
  if (typeof item.encrypted_content === 'string' && item.encrypted_content !== '') {
    part.redacted = item.encrypted_content;
  }
  return part;
}

/** The text of a message output item: its `output_text` parts (a refusal is shown as text). */
export function messageText(item: Obj): string {
  if (!Array.isArray(item.content)) {
    return '';
  }
  return item.content
    .filter(isObj)
    .map((c) => (c.type === 'refusal' ? str(c.refusal) : str(c.text)))
    .join('');
}

/**
 * An upstream Responses `response` object → canonical response: `output` items in order
 * (reasoning → thinking, message → text, function_call → tool call; built-in tool items such as
 * `web_search_call` are skipped), the stop reason from `status` and `incomplete_details`, and
 * the usage. A failed response is an upstream error (502) carrying the upstream's message; a body
 * that is not a finished response object is an invalid upstream answer (502).
 */
export function fromResponsesResponse(body: unknown): CanonicalResponse {
  if (!isObj(body)) {
    throw upstreamInvalid('the body is not a JSON object');
  }
  if (body.status === 'failed' || (isObj(body.error) && !Array.isArray(body.output))) {
    const err = isObj(body.error) ? body.error : {};
    throw new AppError(
      'UPSTREAM_ERROR',
      'UPSTREAM_ERROR',
      str(err.message) || 'The upstream response failed',
      typeof err.code === 'string' ? { upstreamCode: err.code } : undefined,
    );
  }
  if (!Array.isArray(body.output)) {
    throw upstreamInvalid('no output array');
  }
  if (body.status !== undefined && body.status !== 'completed' && body.status !== 'incomplete') {
    throw upstreamInvalid(`status ${JSON.stringify(body.status)} is not a finished response`);
  }
  const parts: (TextPart | ThinkingPart | ToolCallPart)[] = [];
  const id = str(body.id);
  (body.output as unknown[]).forEach((item, i) => {
    if (!isObj(item)) {
      return;
    }
    switch (item.type) {
      case 'message': {
        const text = messageText(item);
        if (text) {
          parts.push({ type: 'text', text });
        }
        return;
      }
      case 'reasoning': {
        const thinking = reasoningThinking(item);
        if (thinking.text || thinking.redacted) {
          parts.push(thinking);
        }
        return;
      }
      case 'function_call':
        parts.push({
          type: 'tool_call',
          id: str(item.call_id) || str(item.id) || `call_${i}_${id}`,
          name: str(item.name),
          arguments:
            typeof item.arguments === 'string'
              ? item.arguments
              : isObj(item.arguments)
                ? JSON.stringify(item.arguments)
                : '',
        });
        return;
      default:
        return;
    }
  });
  const res: CanonicalResponse = {
    id,
    model: str(body.model),
    parts,
    stopReason: fromResponsesStatus(
      body.status,
      body.incomplete_details,
      parts.some((p) => p.type === 'tool_call'),
    ),
    usage: fromResponsesUsage(body.usage),
  };
  if (typeof body.created_at === 'number') {
    res.created = body.created_at;
  }
  return res;
}

// ------------------------------------------------------------------------------------------------

/** A `message` output item holding one `output_text` part. */
export function messageItem(id: string, text: string, status: string): Obj {
  return {
    id,
    type: 'message',
    status,
    content: [{ type: 'output_text', annotations: [], logprobs: [], text }],
    role: 'assistant',
  };
}

/**
 * A `reasoning` output item. `encrypted_content` only for reasoning this dialect produced: another
 * provider's signature or redacted data would be sent back to OpenAI by the client and refused.
 */
export function reasoningItem(id: string, p: ThinkingPart): Obj {
  const item: Obj = {
    id,
    type: 'reasoning',
    summary: p.text ? [{ type: 'summary_text', text: p.text }] : [],
  };
  if (isReplayableReasoning(p)) {
    item.encrypted_content = p.redacted;
  }
  return item;
}

export function functionCallItem(id: string, p: ToolCallPart, status: string): Obj {
  return {
    id,
    type: 'function_call',
    status,
    arguments: p.arguments,
    call_id: p.id,
    name: p.name,
  };
}

/**
 * The response object around `output` (shared with the stream encoder's `response.*` events).
 * Request echo fields the canonical response does not know (`instructions`, `tools`,
 * `temperature`, …) are left out.
 */
export function responseObject(
  id: string,
  created: number,
  model: string,
  status: string,
  output: Obj[],
  extra: Obj,
): Obj {
  return {
    id,
    object: 'response',
    created_at: created,
    status,
    background: false,
    error: null,
    incomplete_details: null,
    model,
    output,
    previous_response_id: null,
    store: false,
    usage: null,
    metadata: {},
    ...extra,
  };
}

/**
 * Canonical response → a Responses `response` object (the client side): one output item per part
 * (thinking → `reasoning` with its summary, text → `message`, tool call → `function_call`), the
 * status from the stop reason (`length` → incomplete `max_output_tokens`, `content_filter` →
 * incomplete `content_filter`, `error` → failed). Thinking without text or replayable encrypted
 * content has nothing to show and is left out.
 */
export function toResponsesResponse(res: CanonicalResponse): Record<string, unknown> {
  const id = responsesId(res.id);
  const output: Obj[] = [];
  res.parts.forEach((p, n) => {
    switch (p.type) {
      case 'thinking':
        if (p.text || isReplayableReasoning(p)) {
          output.push(reasoningItem(itemId('rs', id, n), p));
        }
        return;
      case 'text':
        output.push(messageItem(itemId('msg', id, n), p.text, 'completed'));
        return;
      case 'tool_call':
        output.push(functionCallItem(itemId('fc', id, n), p, 'completed'));
        return;
    }
  });
  const { status, incomplete_details } = toResponsesStatus(res.stopReason);
  return responseObject(
    id,
    res.created ?? Math.floor(Date.now() / 1000),
    res.model,
    status,
    output,
    {
      incomplete_details,
      ...(status === 'failed' ? { error: STOPPED_WITH_ERROR } : {}),
      usage: toResponsesUsage(res.usage),
    },
  );
}
