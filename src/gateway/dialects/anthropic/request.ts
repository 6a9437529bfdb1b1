/**
 * Anthropic Messages requests (`POST /v1/messages`) ⇄ the canonical request.
 *
 * `fromAnthropicRequest` is the client side: a hand-written check (no class-validator on the hot
 * path) that names the offending field in `details.param`, then a read into the canonical form.
 * `toAnthropicRequest` is the upstream side: it builds a body the Messages API accepts (required
 * `max_tokens`, strict user/assistant alternation, tool results first in their user turn, only
 * Anthropic-signed thinking, no sampling knobs Anthropic forbids while thinking).
 */
import {
  effortToBudget,
  type CanonicalMessage,
  type CanonicalRequest,
  type CanonicalTool,
  type ImagePart,
  type Part,
  type TextPart,
  type ThinkingPart,
  type ToolCallPart,
  type ToolChoice,
  type ToolResultPart,
} from '@/gateway/dialects/canonical';
import {
  invalid,
  kindOf,
  optionalBoolean,
  optionalNumber,
  requiredString as requireString,
} from '@/gateway/dialects/shared/validate';
import { isObj, type Obj } from '@/gateway/dialects/shared/values';

/** Default `max_tokens` when the client gave none (reference §2.1). */
export const DEFAULT_MAX_TOKENS = 64000;
/** Default `max_tokens` when tools are present (reference §2.1). */
export const DEFAULT_MAX_TOKENS_WITH_TOOLS = 32000;
/** No Claude model accepts more output tokens than this; larger values are capped. */
export const MAX_TOKENS_CAP = 128000;
/** Anthropic's minimum `thinking.budget_tokens`. */
export const MIN_THINKING_BUDGET = 1024;
/** Head room added above the thinking budget when `max_tokens` would not exceed it (reference §6.3). */
const THINKING_HEADROOM = 8192;

// ------------------------------------------------------------------------------------------------
// Client side: Anthropic body → canonical request

/**
 * Validates an Anthropic Messages body and reads it into the canonical form. Throws
 * `AppError.invalid` (400, `details.param` = the field) for anything the Messages API would reject
 * on shape; never a TypeError.
 */
export function fromAnthropicRequest(body: unknown): CanonicalRequest {
  if (!isObj(body)) {
    throw invalid(`Request body must be a JSON object, got ${kindOf(body)}`, 'body');
  }
  const model = body.model;
  if (typeof model !== 'string' || model === '') {
    throw invalid('model: a non-empty string is required', 'model');
  }
  const maxTokens = body.max_tokens;
  if (typeof maxTokens !== 'number' || !Number.isInteger(maxTokens) || maxTokens < 1) {
    throw invalid('max_tokens: a positive integer is required', 'max_tokens');
  }
  const messages = body.messages;
  if (!Array.isArray(messages) || messages.length === 0) {
    throw invalid('messages: a non-empty array is required', 'messages');
  }

  const req: CanonicalRequest = {
    model,
    system: readSystem(body.system),
    messages: readMessages(messages),
    maxTokens,
    stream: optionalBoolean(body.stream, 'stream') ?? false,
  };

  const temperature = optionalNumber(body.temperature, 'temperature');
  if (temperature !== undefined) {
    req.temperature = temperature;
  }
  const topP = optionalNumber(body.top_p, 'top_p');
  if (topP !== undefined) {
    req.topP = topP;
  }
  const topK = optionalNumber(body.top_k, 'top_k');
  if (topK !== undefined) {
    if (!Number.isInteger(topK) || topK < 0) {
      throw invalid('top_k: a non-negative integer is required', 'top_k');
    }
    req.topK = topK;
  }
  if (body.stop_sequences !== undefined && body.stop_sequences !== null) {
    const stop = body.stop_sequences;
    if (!Array.isArray(stop) || !stop.every((s): s is string => typeof s === 'string')) {
      throw invalid('stop_sequences: an array of strings is required', 'stop_sequences');
    }
    if (stop.length > 0) {
      req.stop = stop;
    }
  }
  if (body.tools !== undefined && body.tools !== null) {
    const tools = readTools(body.tools);
    if (tools.length > 0) {
      req.tools = tools;
    }
  }
  if (body.tool_choice !== undefined && body.tool_choice !== null) {
    readToolChoice(body.tool_choice, req);
  }
  if (body.thinking !== undefined && body.thinking !== null) {
    const reasoning = readThinking(body.thinking);
    if (reasoning) {
      req.reasoning = reasoning;
    }
  }
  if (body.metadata !== undefined && body.metadata !== null) {
    if (!isObj(body.metadata)) {
      throw invalid('metadata: an object is required', 'metadata');
    }
    const userId = body.metadata.user_id;
    if (userId !== undefined && userId !== null) {
      if (typeof userId !== 'string') {
        throw invalid('metadata.user_id: a string is required', 'metadata.user_id');
      }
      req.user = userId;
    }
  }
  return req;
}

function readCacheControl(v: unknown, param: string): Obj | undefined {
  if (v === undefined || v === null) {
    return undefined;
  }
  if (!isObj(v)) {
    throw invalid(`${param}: an object is required`, param);
  }
  return v;
}

function textPart(block: Obj, param: string): TextPart {
  const part: TextPart = { type: 'text', text: requireString(block.text, `${param}.text`) };
  const cacheControl = readCacheControl(block.cache_control, `${param}.cache_control`);
  if (cacheControl) {
    part.cacheControl = cacheControl;
  }
  return part;
}

function readSystem(system: unknown): TextPart[] {
  if (system === undefined || system === null) {
    return [];
  }
  if (typeof system === 'string') {
    return system === '' ? [] : [{ type: 'text', text: system }];
  }
  if (!Array.isArray(system)) {
    throw invalid('system: a string or an array of text blocks is required', 'system');
  }
  return system.map((block: unknown, i) => {
    const param = `system[${i}]`;
    if (!isObj(block)) {
      throw invalid(`${param}: a text block object is required`, param);
    }
    if (block.type !== 'text') {
      throw invalid(`${param}.type: only "text" blocks are allowed in system`, `${param}.type`);
    }
    return textPart(block, param);
  });
}

const USER_BLOCKS = new Set(['text', 'image', 'tool_result']);
const ASSISTANT_BLOCKS = new Set(['text', 'image', 'tool_use', 'thinking', 'redacted_thinking']);
const KNOWN_BLOCKS = new Set([...USER_BLOCKS, ...ASSISTANT_BLOCKS]);

function readMessages(messages: unknown[]): CanonicalMessage[] {
  const out: CanonicalMessage[] = [];
  /** tool_use id → name, so tool results carry the function name (Gemini needs it). */
  const toolNames = new Map<string, string>();
  messages.forEach((m: unknown, i) => {
    const param = `messages[${i}]`;
    if (!isObj(m)) {
      throw invalid(`${param}: a message object is required`, param);
    }
    const role = m.role;
    if (role !== 'user' && role !== 'assistant') {
      throw invalid(
        `${param}.role: must be "user" or "assistant", got ${JSON.stringify(role) ?? 'nothing'}`,
        `${param}.role`,
      );
    }
    const content = m.content;
    if (typeof content === 'string') {
      out.push({ role, parts: [{ type: 'text', text: content }] });
      return;
    }
    if (!Array.isArray(content)) {
      throw invalid(
        `${param}.content: a string or an array of content blocks is required`,
        `${param}.content`,
      );
    }
    // A user turn's tool_result blocks become canonical `tool` messages, one per result, in order;
    // the rest of the turn stays a user message around them.
    let current: CanonicalMessage | undefined;
    content.forEach((block: unknown, j) => {
      const bp = `${param}.content[${j}]`;
      const part = readBlock(block, role, bp, toolNames);
      if (part.type === 'tool_result') {
        out.push({ role: 'tool', parts: [part] });
        current = undefined;
        return;
      }
      if (!current) {
        current = { role, parts: [] };
        out.push(current);
      }
      current.parts.push(part);
    });
    if (content.length === 0) {
      out.push({ role, parts: [] });
    }
  });
  return out;
}

function readBlock(
  block: unknown,
  role: 'user' | 'assistant',
  param: string,
  toolNames: Map<string, string>,
): Part {
  if (!isObj(block)) {
    throw invalid(`${param}: a content block object is required`, param);
  }
  const type = block.type;
  if (typeof type !== 'string' || !KNOWN_BLOCKS.has(type)) {
    throw invalid(
      `${param}.type: unsupported content block type ${JSON.stringify(type) ?? '(missing)'}`,
      `${param}.type`,
    );
  }
  if (!(role === 'user' ? USER_BLOCKS : ASSISTANT_BLOCKS).has(type)) {
    throw invalid(
      `${param}.type: "${type}" blocks are not allowed in ${role} messages`,
      `${param}.type`,
    );
  }
  switch (type) {
    case 'text':
      return textPart(block, param);
    case 'image':
      return imagePart(block, param);
    case 'tool_use': {
      const id = requireString(block.id, `${param}.id`);
      const name = requireString(block.name, `${param}.name`);
      if (!isObj(block.input)) {
        throw invalid(`${param}.input: an object is required`, `${param}.input`);
      }
      toolNames.set(id, name);
      const call: ToolCallPart = {
        type: 'tool_call',
        id,
        name,
        arguments: JSON.stringify(block.input),
      };
      return call;
    }
    case 'tool_result':
      return toolResultPart(block, param, toolNames);
    case 'thinking': {
      const part: ThinkingPart = {
        type: 'thinking',
        text: requireString(block.thinking, `${param}.thinking`),
        origin: 'anthropic',
      };
      if (block.signature !== undefined && block.signature !== null) {
        part.signature = requireString(block.signature, `${param}.signature`);
      }
      return part;
    }
    default: {
      // redacted_thinking (the sets above admit nothing else)
      const part: ThinkingPart = {
        type: 'thinking',
        text: '',
        redacted: requireString(block.data, `${param}.data`),
        origin: 'anthropic',
      };
      return part;
    }
  }
}

function imagePart(block: Obj, param: string): ImagePart {
  const source = block.source;
  if (!isObj(source)) {
    throw invalid(`${param}.source: an object is required`, `${param}.source`);
  }
  if (source.type === 'base64') {
    return {
      type: 'image',
      source: {
        kind: 'base64',
        mediaType: requireString(source.media_type, `${param}.source.media_type`),
        data: requireString(source.data, `${param}.source.data`),
      },
    };
  }
  if (source.type === 'url') {
    return {
      type: 'image',
      source: { kind: 'url', url: requireString(source.url, `${param}.source.url`) },
    };
  }
  throw invalid(
    `${param}.source.type: must be "base64" or "url", got ${JSON.stringify(source.type) ?? 'nothing'}`,
    `${param}.source.type`,
  );
}

function toolResultPart(block: Obj, param: string, toolNames: Map<string, string>): ToolResultPart {
  const toolCallId = requireString(block.tool_use_id, `${param}.tool_use_id`);
  const part: ToolResultPart = { type: 'tool_result', toolCallId, content: [] };
  const name = toolNames.get(toolCallId);
  if (name !== undefined) {
    part.name = name;
  }
  const content = block.content;
  if (typeof content === 'string') {
    part.content = content === '' ? [] : [{ type: 'text', text: content }];
  } else if (Array.isArray(content)) {
    part.content = content.map((inner: unknown, k) => {
      const ip = `${param}.content[${k}]`;
      if (!isObj(inner)) {
        throw invalid(`${ip}: a content block object is required`, ip);
      }
      if (inner.type === 'text') {
        return textPart(inner, ip);
      }
      if (inner.type === 'image') {
        return imagePart(inner, ip);
      }
      throw invalid(
        `${ip}.type: unsupported tool_result content type ${JSON.stringify(inner.type) ?? '(missing)'}`,
        `${ip}.type`,
      );
    });
  } else if (content !== undefined && content !== null) {
    throw invalid(
      `${param}.content: a string or an array of text/image blocks is required`,
      `${param}.content`,
    );
  }
  const isError = optionalBoolean(block.is_error, `${param}.is_error`);
  if (isError) {
    part.isError = true;
  }
  return part;
}

function readTools(tools: unknown): CanonicalTool[] {
  if (!Array.isArray(tools)) {
    throw invalid('tools: an array is required', 'tools');
  }
  return tools.map((tool: unknown, i) => {
    const param = `tools[${i}]`;
    if (!isObj(tool)) {
      throw invalid(`${param}: a tool object is required`, param);
    }
    if (tool.type !== undefined && tool.type !== null && tool.type !== 'custom') {
      throw invalid(
        `${param}.type: server tool ${JSON.stringify(tool.type)} is not supported; only custom tools with input_schema`,
        `${param}.type`,
      );
    }
    if (typeof tool.name !== 'string' || tool.name === '') {
      throw invalid(`${param}.name: a non-empty string is required`, `${param}.name`);
    }
    if (!isObj(tool.input_schema)) {
      throw invalid(
        `${param}.input_schema: a JSON Schema object is required`,
        `${param}.input_schema`,
      );
    }
    const out: CanonicalTool = { name: tool.name, parameters: tool.input_schema };
    if (tool.description !== undefined && tool.description !== null) {
      out.description = requireString(tool.description, `${param}.description`);
    }
    return out;
  });
}

function readToolChoice(choice: unknown, req: CanonicalRequest): void {
  if (!isObj(choice)) {
    throw invalid('tool_choice: an object is required', 'tool_choice');
  }
  let toolChoice: ToolChoice;
  switch (choice.type) {
    case 'auto':
      toolChoice = 'auto';
      break;
    case 'any':
      toolChoice = 'required';
      break;
    case 'none':
      toolChoice = 'none';
      break;
    case 'tool':
      if (typeof choice.name !== 'string' || choice.name === '') {
        throw invalid('tool_choice.name: a non-empty string is required', 'tool_choice.name');
      }
      toolChoice = { name: choice.name };
      break;
    default:
      throw invalid(
        'tool_choice.type: must be one of "auto", "any", "none", "tool"',
        'tool_choice.type',
      );
  }
  req.toolChoice = toolChoice;
  const disable = optionalBoolean(
    choice.disable_parallel_tool_use,
    'tool_choice.disable_parallel_tool_use',
  );
  if (disable !== undefined) {
    req.parallelToolCalls = !disable;
  }
}

function readThinking(thinking: unknown): CanonicalRequest['reasoning'] {
  if (!isObj(thinking)) {
    throw invalid('thinking: an object is required', 'thinking');
  }
  switch (thinking.type) {
    case 'enabled': {
      const budget = thinking.budget_tokens;
      if (typeof budget !== 'number' || !Number.isInteger(budget) || budget < 1) {
        throw invalid(
          'thinking.budget_tokens: a positive integer is required',
          'thinking.budget_tokens',
        );
      }
      return { budgetTokens: budget, includeThoughts: true };
    }
    case 'adaptive':
      // The model picks its own budget: thinking on, no budget.
      return { includeThoughts: true };
    case 'disabled':
      return undefined;
    default:
      throw invalid('thinking.type: must be "enabled", "adaptive" or "disabled"', 'thinking.type');
  }
}

// ------------------------------------------------------------------------------------------------
// Upstream side: canonical request → Anthropic body

/** Anthropic tool ids must match `^[a-zA-Z0-9_-]+$`; other characters become `_`. */
export function anthropicToolId(id: string): string {
  const clean = id.replace(/[^a-zA-Z0-9_-]/g, '_');
  return clean === '' ? 'toolu_' : clean;
}

/** Tool-call arguments (JSON text) → the `input` object Anthropic wants; `{}` when not an object. */
export function parseToolInput(args: string): Obj {
  try {
    const v: unknown = JSON.parse(args);
    return isObj(v) ? v : {};
  } catch {
    return {};
  }
}

/** Only thinking Anthropic produced and signed (or redacted) may be sent back to Anthropic. */
export function isReplayableThinking(p: ThinkingPart): boolean {
  return p.origin === 'anthropic' && (!!p.redacted || !!p.signature);
}

function textBlock(p: TextPart): Obj {
  const b: Obj = { type: 'text', text: p.text };
  if (p.cacheControl) {
    b.cache_control = p.cacheControl;
  }
  return b;
}

function imageBlock(p: ImagePart): Obj {
  const source =
    p.source.kind === 'base64'
      ? { type: 'base64', media_type: p.source.mediaType, data: p.source.data }
      : { type: 'url', url: p.source.url };
  return { type: 'image', source };
}

export function thinkingBlock(p: ThinkingPart): Obj {
  return p.redacted
    ? { type: 'redacted_thinking', data: p.redacted }
    : { type: 'thinking', thinking: p.text, signature: p.signature };
}

/** One canonical part → an Anthropic content block, or undefined when it has no place there. */
function partBlock(p: Part, role: 'user' | 'assistant'): Obj | undefined {
  switch (p.type) {
    case 'text':
      // Anthropic rejects empty text blocks.
      return p.text === '' ? undefined : textBlock(p);
    case 'image':
      return imageBlock(p);
    case 'thinking':
      return role === 'assistant' && isReplayableThinking(p) ? thinkingBlock(p) : undefined;
    case 'tool_call':
      return role === 'assistant'
        ? {
            type: 'tool_use',
            id: anthropicToolId(p.id),
            name: p.name,
            input: parseToolInput(p.arguments),
          }
        : undefined;
    case 'tool_result': {
      const b: Obj = { type: 'tool_result', tool_use_id: anthropicToolId(p.toolCallId) };
      const content = p.content
        .map((c) =>
          c.type === 'text' ? (c.text === '' ? undefined : textBlock(c)) : imageBlock(c),
        )
        .filter((c): c is Obj => c !== undefined);
      if (content.length > 0) {
        b.content = content;
      }
      if (p.isError) {
        b.is_error = true;
      }
      return b;
    }
  }
}

function buildMessages(messages: CanonicalMessage[]): Obj[] {
  const out: { role: 'user' | 'assistant'; content: Obj[] }[] = [];
  for (const m of messages) {
    const role = m.role === 'assistant' ? 'assistant' : 'user';
    const blocks = m.parts.map((p) => partBlock(p, role)).filter((b): b is Obj => b !== undefined);
    if (blocks.length === 0) {
      continue;
    }
    const last = out[out.length - 1];
    if (last && last.role === role) {
      last.content.push(...blocks);
    } else {
      out.push({ role, content: blocks });
    }
  }
  // In a user turn, tool_result blocks must come before anything else.
  for (const m of out) {
    if (m.role === 'user' && m.content.some((b) => b.type === 'tool_result')) {
      m.content = [
        ...m.content.filter((b) => b.type === 'tool_result'),
        ...m.content.filter((b) => b.type !== 'tool_result'),
      ];
    }
  }
  return out;
}

/** False when the last assistant turn calls tools without opening with a thinking block. */
function toolLoopCanThink(messages: Obj[]): boolean {
  const last = messages.findLast((m) => m.role === 'assistant');
  const content = (last?.content ?? []) as Obj[];
  if (!content.some((b) => b.type === 'tool_use')) {
    return true;
  }
  return content[0].type === 'thinking' || content[0].type === 'redacted_thinking';
}

function thinkingBudget(req: CanonicalRequest): number | undefined {
  const r = req.reasoning;
  if (!r) {
    return undefined;
  }
  let budget: number | undefined;
  if (r.budgetTokens !== undefined) {
    if (r.budgetTokens === 0) {
      return undefined; // Gemini's "thinking off"
    }
    // A negative budget is Gemini's "dynamic": use a middle budget.
    budget = r.budgetTokens < 0 ? effortToBudget('medium') : r.budgetTokens;
  } else if (r.effort !== undefined) {
    budget = effortToBudget(r.effort);
  } else if (r.includeThoughts) {
    budget = effortToBudget('medium');
  }
  return budget === undefined ? undefined : Math.max(MIN_THINKING_BUDGET, Math.floor(budget));
}

function toolChoiceObject(req: CanonicalRequest): Obj | undefined {
  const choice = req.toolChoice;
  let out: Obj | undefined;
  if (choice === 'auto') {
    out = { type: 'auto' };
  } else if (choice === 'required') {
    out = { type: 'any' };
  } else if (choice === 'none') {
    return { type: 'none' }; // no disable_parallel_tool_use on "none"
  } else if (choice !== undefined) {
    out = { type: 'tool', name: choice.name };
  }
  if (req.parallelToolCalls === false) {
    out = { ...(out ?? { type: 'auto' }), disable_parallel_tool_use: true };
  } else if (req.parallelToolCalls === true && out) {
    out.disable_parallel_tool_use = false;
  }
  return out;
}

/**
 * Builds the Anthropic Messages body for a canonical request. `response_format` is not sent: the
 * Messages API has no equivalent in this mapper (a known limit).
 */
export function toAnthropicRequest(req: CanonicalRequest): Obj {
  const hasTools = (req.tools?.length ?? 0) > 0;
  const toolChoice = hasTools ? toolChoiceObject(req) : undefined;
  const messages = buildMessages(req.messages);
  let budget = thinkingBudget(req);
  // Anthropic refuses thinking together with a forced tool: the forced tool wins.
  if (budget !== undefined && (toolChoice?.type === 'any' || toolChoice?.type === 'tool')) {
    budget = undefined;
  }
  // While thinking, Anthropic wants the last assistant turn of a tool loop to open with its signed
  // thinking block; a history from another provider has none to give, so no thinking this time.
  if (budget !== undefined && !toolLoopCanThink(messages)) {
    budget = undefined;
  }

  let maxTokens =
    req.maxTokens !== undefined
      ? Math.max(1, Math.floor(req.maxTokens))
      : hasTools
        ? DEFAULT_MAX_TOKENS_WITH_TOOLS
        : DEFAULT_MAX_TOKENS;
  if (budget !== undefined && maxTokens <= budget) {
    maxTokens = budget + THINKING_HEADROOM;
  }
  maxTokens = Math.min(maxTokens, MAX_TOKENS_CAP);
  if (budget !== undefined) {
    budget = Math.min(budget, maxTokens - 1);
  }

  const body: Obj = { model: req.model, max_tokens: maxTokens };
  const system = req.system.filter((p) => p.text !== '').map(textBlock);
  if (system.length > 0) {
    body.system = system;
  }
  body.messages = messages;
  if (hasTools) {
    body.tools = req.tools!.map((t) => {
      const tool: Obj = { name: t.name };
      if (t.description !== undefined) {
        tool.description = t.description;
      }
      tool.input_schema =
        'type' in t.parameters ? t.parameters : { type: 'object', ...t.parameters };
      return tool;
    });
    if (toolChoice) {
      body.tool_choice = toolChoice;
    }
  }
  if (budget !== undefined) {
    body.thinking = { type: 'enabled', budget_tokens: budget };
    // While thinking: no temperature/top_k, and top_p only within [0.95, 1].
    if (req.topP !== undefined && req.topP >= 0.95) {
      body.top_p = req.topP;
    }
  } else {
    if (req.temperature !== undefined) {
      // Anthropic takes [0, 1]; OpenAI-style values up to 2 are capped.
      body.temperature = Math.min(1, Math.max(0, req.temperature));
    }
    if (req.topP !== undefined) {
      body.top_p = req.topP;
    }
    if (req.topK !== undefined) {
      body.top_k = req.topK;
    }
  }
  if (req.stop && req.stop.length > 0) {
    body.stop_sequences = req.stop;
  }
  if (req.user !== undefined) {
    body.metadata = { user_id: req.user };
  }
  body.stream = req.stream;
  return body;
}
