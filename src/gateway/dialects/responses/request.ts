import { AppError } from '@/common/errors/app-error';
import {
  budgetToEffort,
  type CanonicalMessage,
  type CanonicalRequest,
  type CanonicalTool,
  type ImagePart,
  type ReasoningEffort,
  type ResponseFormat,
  type TextPart,
  type ThinkingPart,
  type ToolCallPart,
  type ToolChoice,
  type ToolResultPart,
} from '@/gateway/dialects/canonical';
import {
  isObj,
  isReplayableReasoning,
  SUMMARY_SEPARATOR,
  type Obj,
} from '@/gateway/dialects/responses/common';
import { imageUrl, urlImagePart } from '@/gateway/dialects/shared/image';
import {
  invalid,
  kindOf,
  optBoolean,
  optNumber,
  optString,
  present,
  quote,
} from '@/gateway/dialects/shared/validate';

/**
 * OpenAI Responses requests (`POST /v1/responses`) ⇄ canonical (client side: validate + read;
 * upstream side: write, for Responses-only upstreams such as Codex).
 *
 * Validation is by hand (hot path): every failure is a 400 `AppError` whose `details.param` names
 * the field, as OpenAI's own `param` does.
 *
 * The gateway is stateless: it never stores responses, so everything that points at server-side
 * state is refused with a 400 that says so — `previous_response_id`, `conversation`, stored
 * `prompt` templates, `background` runs and `item_reference` input items. A client keeps the
 * conversation itself: the whole history in `input`, reasoning carried by
 * `reasoning.encrypted_content` (what Codex CLI does with `store: false`). `store: true` is
 * accepted and ignored: nothing is stored, so such a response cannot be retrieved later.
 *
 * Only function tools exist in the canonical form. Built-in (hosted) tools — `web_search`,
 * `file_search`, `code_interpreter`, `namespace`, `mcp`, `local_shell`, `custom`, … — only OpenAI
 * itself can run, so they are left out when the request is translated for another provider (Codex
 * CLI always sends `web_search` and a `namespace` tool; refusing them would make Codex unusable
 * through the gateway). A Responses upstream gets the request as sent (pass-through), tools included.
 */

/** The 400 for a feature that needs stored server-side state, which this gateway does not keep. */
const stateless = (message: string, param: string): AppError =>
  AppError.invalid(
    `${message}: this gateway does not store responses. Send the whole conversation in input ` +
      '(use store: false and include: ["reasoning.encrypted_content"] to carry reasoning over)',
    { param },
    'UNSUPPORTED_FEATURE',
  );

function optPositiveInt(b: Obj, key: string): number | undefined {
  const v = optNumber(b[key], key);
  if (v !== undefined && (!Number.isInteger(v) || v < 1)) {
    throw invalid(`${key} must be a positive integer`, key);
  }
  return v;
}

function requireString(o: Obj, key: string, param: string, nonEmpty = false): string {
  const v = o[key];
  if (typeof v !== 'string' || (nonEmpty && v === '')) {
    throw invalid(
      `${param} must be a ${nonEmpty ? 'non-empty ' : ''}string, got ${kindOf(v)}`,
      param,
    );
  }
  return v;
}

// ------------------------------------------------------------------------------------------------
// Content

function imagePart(raw: Obj, param: string): ImagePart {
  if (present(raw.file_id) && !present(raw.image_url)) {
    throw invalid(
      `${param}.file_id is not supported: the gateway cannot read OpenAI file storage; send ` +
        'image_url as an https or data:<mime>;base64,<data> URL',
      `${param}.file_id`,
    );
  }
  const url = raw.image_url;
  if (typeof url !== 'string' || url === '') {
    throw invalid(`${param}.image_url must be a non-empty string`, `${param}.image_url`);
  }
  return urlImagePart(url, `${param}.image_url`, raw, param);
}

type PartKind = 'input_text' | 'output_text' | 'refusal' | 'input_image';

/** The parts each message role may carry (text kinds are accepted for any role, like the API). */
const ALLOWED: Record<'user' | 'assistant' | 'system', readonly PartKind[]> = {
  user: ['input_text', 'output_text', 'input_image'],
  assistant: ['output_text', 'input_text', 'refusal'],
  system: ['input_text', 'output_text'],
};

function contentParts(
  content: unknown[],
  param: string,
  allowed: readonly PartKind[],
): (TextPart | ImagePart)[] {
  return content.map((raw, j) => {
    const p = `${param}[${j}]`;
    if (!isObj(raw)) {
      throw invalid(`${p} must be a content part object, got ${kindOf(raw)}`, p);
    }
    const type = raw.type;
    if (typeof type !== 'string') {
      throw invalid(`${p}.type must be a string`, `${p}.type`);
    }
    if (!(allowed as readonly string[]).includes(type)) {
      throw invalid(
        `${p}.type ${quote(type)} is not supported here (expected ${allowed.join(', ')})`,
        `${p}.type`,
      );
    }
    if (type === 'input_image') {
      return imagePart(raw, p);
    }
    const key = type === 'refusal' ? 'refusal' : 'text';
    return { type: 'text', text: requireString(raw, key, `${p}.${key}`) };
  });
}

/** A message item's `content`: a string or an array of content parts. */
function messageContent(
  item: Obj,
  param: string,
  role: 'user' | 'assistant' | 'system',
): (TextPart | ImagePart)[] {
  const c = item.content;
  const p = `${param}.content`;
  if (typeof c === 'string') {
    return [{ type: 'text', text: c }];
  }
  if (!Array.isArray(c)) {
    throw invalid(`${p} must be a string or an array of content parts, got ${kindOf(c)}`, p);
  }
  return contentParts(c, p, ALLOWED[role]);
}

/** `output` of a `function_call_output`: a string, or text/image parts. */
function toolOutput(item: Obj, param: string): (TextPart | ImagePart)[] {
  const o = item.output;
  const p = `${param}.output`;
  if (typeof o === 'string') {
    return o === '' ? [] : [{ type: 'text', text: o }];
  }
  if (!Array.isArray(o)) {
    throw invalid(`${p} must be a string or an array of content parts, got ${kindOf(o)}`, p);
  }
  return contentParts(o, p, ['input_text', 'output_text', 'input_image']);
}

/** Texts of a reasoning item's `summary` (or `content`) list. */
function reasoningTexts(raw: unknown, param: string, partType: string): string[] {
  if (!present(raw)) {
    return [];
  }
  if (!Array.isArray(raw)) {
    throw invalid(`${param} must be an array, got ${kindOf(raw)}`, param);
  }
  return raw.map((s, k) => {
    const p = `${param}[${k}]`;
    if (!isObj(s)) {
      throw invalid(`${p} must be an object, got ${kindOf(s)}`, p);
    }
    if (present(s.type) && s.type !== partType && s.type !== 'text') {
      throw invalid(`${p}.type must be ${JSON.stringify(partType)}`, `${p}.type`);
    }
    return requireString(s, 'text', `${p}.text`);
  });
}

/**
 * A `reasoning` item → thinking: the summary text (or the raw `content` text some
 * Responses-compatible servers send instead), `encrypted_content` kept byte for byte as
 * `redacted`. An item with neither (a bare id, only meaningful to a server that stored it) is
 * dropped: undefined.
 */
function reasoningPart(item: Obj, param: string): ThinkingPart | undefined {
  const summary = reasoningTexts(item.summary, `${param}.summary`, 'summary_text');
  const content = reasoningTexts(item.content, `${param}.content`, 'reasoning_text');
  const encrypted = optString(item.encrypted_content, `${param}.encrypted_content`);
  const text = (summary.length ? summary : content).join(SUMMARY_SEPARATOR);
  if (text === '' && !encrypted) {
    return undefined;
  }
  const part: ThinkingPart = { type: 'thinking', text, origin: 'responses' };
  if (encrypted) {
    part.redacted = encrypted;
  }
  return part;
}

const ITEM_TYPES = 'message, function_call, function_call_output, reasoning';

function inputItems(raw: unknown[], system: TextPart[]): CanonicalMessage[] {
  const out: CanonicalMessage[] = [];
  /** Tool names by call id, so tool results can carry the name (Gemini needs it). */
  const names = new Map<string, string>();
  /**
   * Reasoning, assistant messages and function calls in a row are one assistant turn in the
   * canonical form (and must be, for dialects that want the calls of a turn together).
   */
  const assistantTurn = (): CanonicalMessage => {
    const last = out.at(-1);
    if (last?.role === 'assistant') {
      return last;
    }
    const m: CanonicalMessage = { role: 'assistant', parts: [] };
    out.push(m);
    return m;
  };
  raw.forEach((item, i) => {
    const param = `input[${i}]`;
    if (!isObj(item)) {
      throw invalid(`${param} must be an input item object, got ${kindOf(item)}`, param);
    }
    // An item with a role and no type is an "easy" message.
    const type = present(item.type) ? item.type : 'role' in item ? 'message' : undefined;
    if (typeof type !== 'string') {
      throw invalid(
        `${param}.type must be a string (one of ${ITEM_TYPES}), got ${kindOf(type)}`,
        `${param}.type`,
      );
    }
    switch (type) {
      case 'message': {
        const role = item.role;
        switch (role) {
          case 'user':
            out.push({ role: 'user', parts: messageContent(item, param, 'user') });
            return;
          case 'assistant': {
            const parts = messageContent(item, param, 'assistant').filter(
              (p): p is TextPart => p.type === 'text' && p.text !== '',
            );
            assistantTurn().parts.push(...parts);
            return;
          }
          case 'system':
          case 'developer':
            system.push(
              ...messageContent(item, param, 'system').filter(
                (p): p is TextPart => p.type === 'text',
              ),
            );
            return;
          default:
            throw invalid(
              `${param}.role ${quote(role)} is not supported ` +
                '(expected user, assistant, system, developer)',
              `${param}.role`,
            );
        }
      }
      case 'function_call': {
        const call: ToolCallPart = {
          type: 'tool_call',
          id: requireString(item, 'call_id', `${param}.call_id`, true),
          name: requireString(item, 'name', `${param}.name`, true),
          arguments: requireString(item, 'arguments', `${param}.arguments`),
        };
        names.set(call.id, call.name);
        assistantTurn().parts.push(call);
        return;
      }
      case 'function_call_output': {
        const id = requireString(item, 'call_id', `${param}.call_id`, true);
        const result: ToolResultPart = {
          type: 'tool_result',
          toolCallId: id,
          content: toolOutput(item, param),
        };
        const name = names.get(id);
        if (name !== undefined) {
          result.name = name;
        }
        // Consecutive outputs answer one assistant turn: one canonical tool message holds them.
        const last = out.at(-1);
        if (last?.role === 'tool') {
          last.parts.push(result);
        } else {
          out.push({ role: 'tool', parts: [result] });
        }
        return;
      }
      case 'reasoning': {
        const part = reasoningPart(item, param);
        if (part) {
          assistantTurn().parts.push(part);
        }
        return;
      }
      case 'item_reference':
        throw stateless(`${param}.type item_reference is not supported`, `${param}.type`);
      default:
        throw invalid(
          `${param}.type ${quote(type)} is not supported (expected one of ${ITEM_TYPES})`,
          `${param}.type`,
        );
    }
  });
  return out;
}

// ------------------------------------------------------------------------------------------------
// Options

function tools(raw: unknown): CanonicalTool[] | undefined {
  if (!present(raw)) {
    return undefined;
  }
  if (!Array.isArray(raw)) {
    throw invalid(`tools must be an array, got ${kindOf(raw)}`, 'tools');
  }
  return raw.flatMap((t, i) => {
    const p = `tools[${i}]`;
    if (!isObj(t)) {
      throw invalid(`${p} must be a tool object, got ${kindOf(t)}`, p);
    }
    if (t.type !== 'function') {
      if (typeof t.type === 'string' && t.type !== '') {
        return []; // a built-in (hosted) tool: only OpenAI runs it (see the module comment)
      }
      throw invalid(`${p}.type must be "function"`, `${p}.type`);
    }
    const tool: CanonicalTool = {
      name: requireString(t, 'name', `${p}.name`, true),
      parameters: { type: 'object', properties: {} },
    };
    const description = optString(t.description, `${p}.description`);
    if (description !== undefined) {
      tool.description = description;
    }
    if (present(t.parameters)) {
      if (!isObj(t.parameters)) {
        throw invalid(`${p}.parameters must be a JSON Schema object`, `${p}.parameters`);
      }
      tool.parameters = t.parameters;
    }
    // `strict` is checked but has no canonical field (toResponsesRequest always sends false).
    optBoolean(t.strict, `${p}.strict`);
    return [tool];
  });
}

function toolChoice(raw: unknown): ToolChoice | undefined {
  if (!present(raw)) {
    return undefined;
  }
  if (raw === 'auto' || raw === 'none' || raw === 'required') {
    return raw;
  }
  if (isObj(raw) && raw.type === 'function') {
    return { name: requireString(raw, 'name', 'tool_choice.name', true) };
  }
  if (isObj(raw) && typeof raw.type === 'string' && raw.type) {
    return 'auto'; // a hosted tool choice: those tools are left out, so the model chooses
  }
  throw invalid(
    'tool_choice must be "auto", "none", "required" or {"type":"function","name":…}',
    'tool_choice',
  );
}

/**
 * `reasoning {effort, summary}` → canonical. `none` (reasoning off) has no canonical effort: it
 * becomes a zero budget; `xhigh` is clamped to `high`, the canonical maximum. A summary asked for
 * (`auto`, `concise`, `detailed`) means the client wants to see the thoughts.
 */
function reasoning(raw: unknown): CanonicalRequest['reasoning'] {
  if (!present(raw)) {
    return undefined;
  }
  if (!isObj(raw)) {
    throw invalid(`reasoning must be an object, got ${kindOf(raw)}`, 'reasoning');
  }
  const out: NonNullable<CanonicalRequest['reasoning']> = {};
  const effort = raw.effort;
  switch (effort) {
    case undefined:
    case null:
      break;
    case 'minimal':
    case 'low':
    case 'medium':
    case 'high':
      out.effort = effort;
      break;
    case 'xhigh':
      out.effort = 'high';
      break;
    case 'none':
      out.budgetTokens = 0;
      break;
    default:
      throw invalid(
        'reasoning.effort must be one of none, minimal, low, medium, high, xhigh',
        'reasoning.effort',
      );
  }
  for (const key of ['summary', 'generate_summary']) {
    const summary = raw[key];
    if (!present(summary)) {
      continue;
    }
    if (summary !== 'auto' && summary !== 'concise' && summary !== 'detailed') {
      throw invalid(`reasoning.${key} must be one of auto, concise, detailed`, `reasoning.${key}`);
    }
    out.includeThoughts = true;
  }
  return Object.keys(out).length ? out : undefined;
}

/** `text.format` → canonical response format. */
function textFormat(raw: unknown): ResponseFormat | undefined {
  if (!present(raw)) {
    return undefined;
  }
  if (!isObj(raw)) {
    throw invalid(`text must be an object, got ${kindOf(raw)}`, 'text');
  }
  const f = raw.format;
  if (!present(f)) {
    return undefined;
  }
  if (!isObj(f)) {
    throw invalid(`text.format must be an object, got ${kindOf(f)}`, 'text.format');
  }
  switch (f.type) {
    case 'text':
      return { type: 'text' };
    case 'json_object':
      return { type: 'json_object' };
    case 'json_schema': {
      if (!isObj(f.schema)) {
        throw invalid('text.format.schema must be a JSON Schema object', 'text.format.schema');
      }
      const format: ResponseFormat = { type: 'json_schema', schema: f.schema };
      const name = optString(f.name, 'text.format.name');
      if (name !== undefined) {
        format.name = name;
      }
      const strict = optBoolean(f.strict, 'text.format.strict');
      if (strict !== undefined) {
        format.strict = strict;
      }
      return format;
    }
    default:
      throw invalid(
        'text.format.type must be one of text, json_object, json_schema',
        'text.format.type',
      );
  }
}

// ------------------------------------------------------------------------------------------------
// In

/**
 * A Responses API body → canonical request. Fields the canonical form has no place for
 * (`include`, `metadata`, `truncation`, `service_tier`, `prompt_cache_key`, `text.verbosity`,
 * `top_logprobs`, `max_tool_calls`, a tool's `strict`, …) are ignored; stateful features are
 * refused (see the file comment).
 */
export function fromResponsesRequest(body: unknown): CanonicalRequest {
  if (!isObj(body)) {
    throw invalid(`Request body must be a JSON object, got ${kindOf(body)}`, 'body');
  }
  const model = body.model;
  if (!present(model) || model === '') {
    throw invalid('model is required', 'model');
  }
  if (typeof model !== 'string') {
    throw invalid(`model must be a string, got ${kindOf(model)}`, 'model');
  }
  if (present(body.previous_response_id)) {
    throw stateless('previous_response_id is not supported', 'previous_response_id');
  }
  if (present(body.conversation)) {
    throw stateless('conversation is not supported', 'conversation');
  }
  if (present(body.prompt)) {
    throw stateless('prompt (a stored prompt template) is not supported', 'prompt');
  }
  if (optBoolean(body.background, 'background') === true) {
    throw stateless('background is not supported', 'background');
  }
  optBoolean(body.store, 'store'); // checked, then ignored: nothing is ever stored

  const input = body.input;
  if (!present(input)) {
    throw invalid('input is required', 'input');
  }
  const system: TextPart[] = [];
  const instructions = optString(body.instructions, 'instructions');
  if (instructions) {
    system.push({ type: 'text', text: instructions });
  }
  let messages: CanonicalMessage[];
  if (typeof input === 'string') {
    messages = [{ role: 'user', parts: [{ type: 'text', text: input }] }];
  } else if (Array.isArray(input)) {
    if (input.length === 0) {
      throw invalid('input must contain at least one item', 'input');
    }
    messages = inputItems(input, system);
  } else {
    throw invalid(
      `input must be a string or an array of input items, got ${kindOf(input)}`,
      'input',
    );
  }

  const req: CanonicalRequest = {
    model,
    system,
    messages,
    stream: optBoolean(body.stream, 'stream') ?? false,
  };
  const t = tools(body.tools);
  if (t?.length) {
    req.tools = t;
  }
  const choice = toolChoice(body.tool_choice);
  if (choice !== undefined) {
    req.toolChoice = choice;
  }
  const parallel = optBoolean(body.parallel_tool_calls, 'parallel_tool_calls');
  if (parallel !== undefined) {
    req.parallelToolCalls = parallel;
  }
  const maxTokens = optPositiveInt(body, 'max_output_tokens');
  if (maxTokens !== undefined) {
    req.maxTokens = maxTokens;
  }
  const temperature = optNumber(body.temperature, 'temperature');
  if (temperature !== undefined) {
    req.temperature = temperature;
  }
  const topP = optNumber(body.top_p, 'top_p');
  if (topP !== undefined) {
    req.topP = topP;
  }
  const r = reasoning(body.reasoning);
  if (r) {
    req.reasoning = r;
  }
  const format = textFormat(body.text);
  if (format) {
    req.responseFormat = format;
  }
  if (present(body.include) && !Array.isArray(body.include)) {
    throw invalid(`include must be an array of strings, got ${kindOf(body.include)}`, 'include');
  }
  const user = optString(body.user, 'user');
  if (user !== undefined) {
    req.user = user;
  }
  return req;
}

// ------------------------------------------------------------------------------------------------
// Out

function imageOut(p: ImagePart): Obj {
  const url = imageUrl(p);
  return p.detail
    ? { type: 'input_image', image_url: url, detail: p.detail }
    : { type: 'input_image', image_url: url };
}

const inputPart = (p: TextPart | ImagePart): Obj =>
  p.type === 'text' ? { type: 'input_text', text: p.text } : imageOut(p);

/** A tool result's `output`: a string when it is text only, else input parts. */
function toolOutputOut(p: ToolResultPart): string | Obj[] {
  const content = p.content;
  if (content.every((c): c is TextPart => c.type === 'text')) {
    return content.map((c) => c.text).join('');
  }
  return content.map(inputPart);
}

/**
 * Canonical messages → Responses input items. Item ids (`rs_…`, `msg_…`, `fc_…`) are never sent:
 * with `store: false` the API would look them up and fail (Codex CLI does the same). Reasoning is
 * replayed only when it came from this dialect with its `encrypted_content` (kept byte for byte);
 * other providers' thinking is dropped. Tool results go first in their turn, as
 * `function_call_output` items, followed by the rest of the turn as a user message.
 */
function inputOut(req: CanonicalRequest): Obj[] {
  // System texts after the first (which is `instructions`) lead the input as developer messages.
  const out: Obj[] = req.system.slice(1).map((p) => ({
    type: 'message',
    role: 'developer',
    content: [{ type: 'input_text', text: p.text }],
  }));
  for (const m of req.messages) {
    if (m.role === 'assistant') {
      let message: Obj[] | undefined;
      for (const p of m.parts) {
        if (p.type === 'text') {
          if (p.text === '') {
            continue;
          }
          if (!message) {
            message = [];
            out.push({ type: 'message', role: 'assistant', content: message });
          }
          message.push({ type: 'output_text', text: p.text });
          continue;
        }
        message = undefined;
        if (p.type === 'thinking' && isReplayableReasoning(p)) {
          out.push({
            type: 'reasoning',
            summary: p.text ? [{ type: 'summary_text', text: p.text }] : [],
            encrypted_content: p.redacted,
          });
        } else if (p.type === 'tool_call') {
          out.push({
            type: 'function_call',
            call_id: p.id,
            name: p.name,
            arguments: p.arguments,
          });
        }
      }
      continue;
    }
    const later: Obj[] = [];
    for (const p of m.parts) {
      if (p.type === 'tool_result') {
        out.push({ type: 'function_call_output', call_id: p.toolCallId, output: toolOutputOut(p) });
      } else if (p.type === 'text' || p.type === 'image') {
        later.push(inputPart(p));
      }
    }
    if (later.length) {
      out.push({ type: 'message', role: 'user', content: later });
    }
  }
  return out;
}

function effortOut(r: CanonicalRequest['reasoning']): ReasoningEffort | 'none' | undefined {
  if (!r) {
    return undefined;
  }
  if (r.effort) {
    return r.effort;
  }
  if (r.budgetTokens === undefined) {
    return undefined;
  }
  return r.budgetTokens <= 0 ? 'none' : budgetToEffort(r.budgetTokens);
}

function textFormatOut(f: ResponseFormat): Obj {
  switch (f.type) {
    case 'text':
    case 'json_object':
      return { type: f.type };
    case 'json_schema': {
      const out: Obj = { type: 'json_schema', name: f.name ?? 'response', schema: f.schema };
      if (f.strict !== undefined) {
        out.strict = f.strict;
      }
      return out;
    }
  }
}

/**
 * Canonical request → a Responses API body (the upstream side, e.g. Codex). Always `store: false`
 * (the gateway keeps no state upstream either); with reasoning on, `include:
 * ["reasoning.encrypted_content"]` so the reasoning can be replayed next turn. `instructions` is
 * always present (the first system text, or an empty string, as Codex requires one); further system
 * texts lead the input as developer messages. Function tools are sent with `strict: false`, since
 * the Responses API makes them strict by default and most schemas are not strict-compatible.
 * Dropped, having no Responses field: `stop`, `topK`. While reasoning, `temperature` and `top_p`
 * are not sent (reasoning models refuse them).
 */
export function toResponsesRequest(req: CanonicalRequest): Record<string, unknown> {
  const body: Obj = {
    model: req.model,
    instructions: req.system[0]?.text ?? '',
    input: inputOut(req),
  };
  if (req.tools?.length) {
    body.tools = req.tools.map((t) => ({
      type: 'function',
      name: t.name,
      ...(t.description !== undefined ? { description: t.description } : {}),
      parameters: t.parameters,
      strict: false,
    }));
  }
  if (req.toolChoice !== undefined) {
    body.tool_choice =
      typeof req.toolChoice === 'string'
        ? req.toolChoice
        : { type: 'function', name: req.toolChoice.name };
  }
  if (req.parallelToolCalls !== undefined) {
    body.parallel_tool_calls = req.parallelToolCalls;
  }
  if (req.maxTokens !== undefined) {
    body.max_output_tokens = req.maxTokens;
  }
  const effort = effortOut(req.reasoning);
  const reasoningOn =
    effort !== 'none' && (effort !== undefined || !!req.reasoning?.includeThoughts);
  if (effort !== undefined || reasoningOn) {
    const r: Obj = {};
    if (effort !== undefined) {
      r.effort = effort;
    }
    if (reasoningOn && req.reasoning?.includeThoughts) {
      r.summary = 'auto';
    }
    body.reasoning = r;
  }
  if (!reasoningOn) {
    if (req.temperature !== undefined) {
      body.temperature = req.temperature;
    }
    if (req.topP !== undefined) {
      body.top_p = req.topP;
    }
  }
  if (req.responseFormat) {
    body.text = { format: textFormatOut(req.responseFormat) };
  }
  if (reasoningOn) {
    body.include = ['reasoning.encrypted_content'];
  }
  body.store = false;
  body.stream = req.stream;
  if (req.user !== undefined) {
    body.user = req.user;
  }
  return body;
}
