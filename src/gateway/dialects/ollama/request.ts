/**
 * Ollama chat requests (`POST /api/chat`, served by the gateway at `/v1/api/chat`) ⇄ the canonical
 * request.
 *
 * `fromOllamaRequest` is the client side: a hand-written check (no class-validator on the hot path)
 * whose failures are 400 `AppError`s naming the field in `details.param` and in the message (an
 * Ollama error body is only `{"error": message}`), then a read into the canonical form.
 * `toOllamaRequest` is the upstream side: a body a local Ollama server accepts.
 *
 * Ollama specifics handled here:
 * - `stream` defaults to **true** (absent = streaming), so the upstream body always states it.
 * - `images` are bare base64 strings without a media type: it is sniffed from the magic bytes.
 *   Ollama cannot take an image URL and the gateway does not fetch one: a URL image bound for
 *   Ollama is a 400 (`UNSUPPORTED_IMAGE_URL`), never a silent drop.
 * - Tool-call `arguments` are an object (canonical keeps JSON text); older servers give calls no
 *   id, so calls without one get `call_<n>` (n counts the calls of the conversation), and `tool`
 *   messages are matched to the unanswered calls of the last assistant turn by `tool_call_id`,
 *   then `tool_name`, then order.
 * - `think`: `true` / `'low'|'medium'|'high'` turn reasoning on, `false` is a zero budget (the
 *   canonical "off").
 *
 * Not carried (no canonical place): `keep_alive`, `options` other than temperature, top_p, top_k,
 * num_predict and stop (`seed`, `num_ctx`, penalties, mirostat…), and the position of system
 * messages among the turns (all become the canonical system prompt, in order).
 */
import { AppError } from '@/common/errors/app-error';
import {
  type CanonicalMessage,
  type CanonicalRequest,
  type CanonicalTool,
  type ImagePart,
  type Part,
  type ReasoningEffort,
  type ResponseFormat,
  type TextPart,
  type ToolCallPart,
  type ToolResultPart,
} from '@/gateway/dialects/canonical';
import {
  argumentsObject,
  isObj,
  ollamaToolCallId,
  sniffImageType,
  type Obj,
} from '@/gateway/dialects/ollama/common';
import { DATA_URL } from '@/gateway/dialects/shared/image';
import {
  invalid,
  kindOf,
  optNumber,
  optString,
  present,
  quote,
} from '@/gateway/dialects/shared/validate';

function optInteger(v: unknown, param: string): number | undefined {
  const n = optNumber(v, param);
  if (n !== undefined && !Number.isInteger(n)) {
    throw invalid(`${param} must be an integer`, param);
  }
  return n;
}

// ------------------------------------------------------------------------------------------------
// Client side: Ollama body → canonical request

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

/** One `images[j]` entry: base64 data (a `data:` URL is accepted too, its media type kept). */
function imagePart(raw: unknown, param: string): ImagePart {
  if (typeof raw !== 'string') {
    throw invalid(`${param} must be a base64 string, got ${kindOf(raw)}`, param);
  }
  const dataUrl = DATA_URL.exec(raw);
  const data = (dataUrl ? dataUrl[2] : raw).replace(/\s+/g, '');
  if (data === '' || data.length % 4 === 1 || !BASE64.test(data)) {
    throw invalid(
      /^https?:\/\//i.test(raw)
        ? `${param} must be base64 image data: Ollama takes no image URLs`
        : `${param} must be base64-encoded image data`,
      param,
    );
  }
  return {
    type: 'image',
    source: { kind: 'base64', mediaType: dataUrl ? dataUrl[1] : sniffImageType(data), data },
  };
}

function images(m: Obj, param: string): ImagePart[] {
  const raw = m.images;
  if (!present(raw)) {
    return [];
  }
  if (!Array.isArray(raw)) {
    throw invalid(`${param}.images must be an array of base64 strings`, `${param}.images`);
  }
  return raw.map((img, j) => imagePart(img, `${param}.images[${j}]`));
}

function content(m: Obj, param: string): string {
  return optString(m.content, `${param}.content`) ?? '';
}

/** State across messages: call numbering and the calls still waiting for a result. */
interface ReadState {
  calls: number;
  /** Unanswered calls of the last assistant message, in order. */
  pending: { id: string; name: string }[];
  /** Call id → name, for results that name an earlier call by id. */
  names: Map<string, string>;
}

function toolCalls(raw: unknown, param: string, state: ReadState): ToolCallPart[] {
  if (!present(raw)) {
    return [];
  }
  if (!Array.isArray(raw)) {
    throw invalid(`${param} must be an array`, param);
  }
  return raw.map((tc, k) => {
    const p = `${param}[${k}]`;
    if (!isObj(tc)) {
      throw invalid(`${p} must be an object`, p);
    }
    const fn = tc.function;
    if (!isObj(fn)) {
      throw invalid(`${p}.function must be an object`, `${p}.function`);
    }
    if (typeof fn.name !== 'string' || fn.name === '') {
      throw invalid(`${p}.function.name must be a non-empty string`, `${p}.function.name`);
    }
    const args = fn.arguments;
    if (present(args) && !isObj(args)) {
      throw invalid(
        `${p}.function.arguments must be an object (Ollama sends arguments as JSON objects), got ${kindOf(args)}`,
        `${p}.function.arguments`,
      );
    }
    const id = optString(tc.id, `${p}.id`);
    const n = state.calls++;
    return {
      type: 'tool_call',
      id: id || ollamaToolCallId(n),
      name: fn.name,
      arguments: JSON.stringify(args ?? {}),
    };
  });
}

/** The call a `tool` message answers: by `tool_call_id`, else `tool_name`, else order. */
function answeredCall(m: Obj, param: string, state: ReadState): { id: string; name?: string } {
  const byId = optString(m.tool_call_id, `${param}.tool_call_id`);
  const byName = optString(m.tool_name, `${param}.tool_name`);
  const take = (i: number): { id: string; name: string } => state.pending.splice(i, 1)[0];
  if (byId) {
    const i = state.pending.findIndex((c) => c.id === byId);
    if (i >= 0) {
      return take(i);
    }
    const name = state.names.get(byId) ?? byName;
    return name !== undefined ? { id: byId, name } : { id: byId };
  }
  if (byName) {
    const i = state.pending.findIndex((c) => c.name === byName);
    if (i >= 0) {
      return take(i);
    }
  }
  if (state.pending.length > 0) {
    return take(0);
  }
  throw invalid(
    `${param} is a tool result, but the assistant message before it has no unanswered tool call`,
    param,
  );
}

const ROLES = 'system, user, assistant, tool';

function messages(raw: unknown[], system: TextPart[]): CanonicalMessage[] {
  const out: CanonicalMessage[] = [];
  const state: ReadState = { calls: 0, pending: [], names: new Map() };
  raw.forEach((m, i) => {
    const param = `messages[${i}]`;
    if (!isObj(m)) {
      throw invalid(`${param} must be an object`, param);
    }
    const role = m.role;
    if (typeof role !== 'string') {
      throw invalid(`${param}.role is required: one of ${ROLES}`, `${param}.role`);
    }
    if (role !== 'system' && role !== 'user' && role !== 'assistant' && role !== 'tool') {
      throw invalid(
        `${param}.role ${quote(role)} is not supported (expected one of ${ROLES})`,
        `${param}.role`,
      );
    }
    const text = content(m, param);
    const imgs = images(m, param);
    const thinking = optString(m.thinking, `${param}.thinking`);
    if (role !== 'assistant' && Array.isArray(m.tool_calls) && m.tool_calls.length > 0) {
      throw invalid(
        `${param}.tool_calls is only allowed on assistant messages`,
        `${param}.tool_calls`,
      );
    }
    switch (role) {
      case 'system':
        if (imgs.length > 0) {
          throw invalid(`${param}.images is not supported on system messages`, `${param}.images`);
        }
        if (text !== '') {
          system.push({ type: 'text', text });
        }
        return;
      case 'user': {
        const parts: Part[] = text !== '' || imgs.length === 0 ? [{ type: 'text', text }] : [];
        parts.push(...imgs);
        out.push({ role: 'user', parts });
        return;
      }
      case 'assistant': {
        const parts: Part[] = [];
        if (thinking) {
          parts.push({ type: 'thinking', text: thinking, origin: 'ollama' });
        }
        if (text !== '') {
          parts.push({ type: 'text', text });
        }
        parts.push(...imgs);
        const calls = toolCalls(m.tool_calls, `${param}.tool_calls`, state);
        for (const call of calls) {
          state.names.set(call.id, call.name);
        }
        state.pending = calls.map((c) => ({ id: c.id, name: c.name }));
        parts.push(...calls);
        out.push({ role: 'assistant', parts });
        return;
      }
      case 'tool': {
        const call = answeredCall(m, param, state);
        const result: ToolResultPart = {
          type: 'tool_result',
          toolCallId: call.id,
          content: [...(text !== '' ? [{ type: 'text' as const, text }] : []), ...imgs],
        };
        if (call.name !== undefined) {
          result.name = call.name;
        }
        // Consecutive tool messages answer one assistant turn: one canonical message holds them.
        const last = out.at(-1);
        if (last?.role === 'tool') {
          last.parts.push(result);
        } else {
          out.push({ role: 'tool', parts: [result] });
        }
        return;
      }
    }
  });
  return out;
}

function tools(raw: unknown): CanonicalTool[] | undefined {
  if (!present(raw)) {
    return undefined;
  }
  if (!Array.isArray(raw)) {
    throw invalid('tools must be an array', 'tools');
  }
  return raw.map((t, i) => {
    const p = `tools[${i}]`;
    if (!isObj(t)) {
      throw invalid(`${p} must be an object`, p);
    }
    if (present(t.type) && t.type !== 'function') {
      throw invalid(
        `${p}.type ${quote(t.type)} is not supported (expected "function")`,
        `${p}.type`,
      );
    }
    const fn = t.function;
    if (!isObj(fn)) {
      throw invalid(`${p}.function must be an object`, `${p}.function`);
    }
    if (typeof fn.name !== 'string' || fn.name === '') {
      throw invalid(`${p}.function.name must be a non-empty string`, `${p}.function.name`);
    }
    const tool: CanonicalTool = { name: fn.name, parameters: { type: 'object', properties: {} } };
    const description = optString(fn.description, `${p}.function.description`);
    if (description !== undefined) {
      tool.description = description;
    }
    if (present(fn.parameters)) {
      if (!isObj(fn.parameters)) {
        throw invalid(
          `${p}.function.parameters must be a JSON Schema object`,
          `${p}.function.parameters`,
        );
      }
      tool.parameters = fn.parameters;
    }
    return tool;
  });
}

/** `options` → the sampling fields of the canonical request (other options are not carried). */
function readOptions(raw: unknown, req: CanonicalRequest): void {
  if (!present(raw)) {
    return;
  }
  if (!isObj(raw)) {
    throw invalid(`options must be an object, got ${kindOf(raw)}`, 'options');
  }
  const temperature = optNumber(raw.temperature, 'options.temperature');
  if (temperature !== undefined) {
    req.temperature = temperature;
  }
  const topP = optNumber(raw.top_p, 'options.top_p');
  if (topP !== undefined) {
    req.topP = topP;
  }
  const topK = optInteger(raw.top_k, 'options.top_k');
  if (topK !== undefined) {
    if (topK < 0) {
      throw invalid('options.top_k must be a non-negative integer', 'options.top_k');
    }
    req.topK = topK;
  }
  // -1 (no limit) and -2 (fill the context) are Ollama's "no max": no canonical maxTokens.
  const numPredict = optInteger(raw.num_predict, 'options.num_predict');
  if (numPredict !== undefined && numPredict > 0) {
    req.maxTokens = numPredict;
  }
  const stop = raw.stop;
  if (present(stop)) {
    const list = typeof stop === 'string' ? [stop] : stop;
    if (!Array.isArray(list) || !list.every((s): s is string => typeof s === 'string')) {
      throw invalid('options.stop must be an array of strings', 'options.stop');
    }
    if (list.length > 0) {
      req.stop = list;
    }
  }
}

function readFormat(raw: unknown): ResponseFormat | undefined {
  if (!present(raw) || raw === '') {
    return undefined;
  }
  if (raw === 'json') {
    return { type: 'json_object' };
  }
  if (isObj(raw)) {
    return { type: 'json_schema', schema: raw };
  }
  throw invalid('format must be "json" or a JSON Schema object', 'format');
}

const THINK_LEVELS: readonly string[] = ['low', 'medium', 'high'];

function readThink(raw: unknown): CanonicalRequest['reasoning'] {
  if (!present(raw)) {
    return undefined;
  }
  if (raw === true) {
    return { includeThoughts: true };
  }
  if (raw === false) {
    return { budgetTokens: 0 };
  }
  if (typeof raw === 'string' && THINK_LEVELS.includes(raw)) {
    return { effort: raw as ReasoningEffort, includeThoughts: true };
  }
  throw invalid('think must be true, false, "low", "medium" or "high"', 'think');
}

/**
 * Validates an Ollama `/api/chat` body and reads it into the canonical form. Throws
 * `AppError.invalid` (400, `details.param` = the field) for anything malformed; never a TypeError.
 */
export function fromOllamaRequest(body: unknown): CanonicalRequest {
  if (!isObj(body)) {
    throw invalid(`Request body must be a JSON object, got ${kindOf(body)}`, 'body');
  }
  const model = body.model;
  if (typeof model !== 'string' || model === '') {
    throw invalid('model is required: a non-empty string', 'model');
  }
  if (!Array.isArray(body.messages)) {
    throw invalid(
      present(body.messages) ? 'messages must be an array' : 'messages is required',
      'messages',
    );
  }
  if (body.messages.length === 0) {
    // Ollama answers an empty chat by loading the model; a gateway has no such request to forward.
    throw invalid('messages must contain at least one message', 'messages');
  }
  const stream = body.stream;
  if (present(stream) && typeof stream !== 'boolean') {
    throw invalid(`stream must be a boolean, got ${kindOf(stream)}`, 'stream');
  }
  const system: TextPart[] = [];
  const req: CanonicalRequest = {
    model,
    system,
    messages: messages(body.messages, system),
    // Ollama streams unless told not to.
    stream: stream !== false,
  };
  const t = tools(body.tools);
  if (t?.length) {
    req.tools = t;
  }
  readOptions(body.options, req);
  const format = readFormat(body.format);
  if (format) {
    req.responseFormat = format;
  }
  const reasoning = readThink(body.think);
  if (reasoning) {
    req.reasoning = reasoning;
  }
  return req;
}

// ------------------------------------------------------------------------------------------------
// Upstream side: canonical request → Ollama body

/** Ollama takes base64 only: a URL image cannot reach it (the gateway fetches nothing). */
function imageData(p: ImagePart): string {
  if (p.source.kind === 'base64') {
    return p.source.data;
  }
  throw AppError.invalid(
    `An Ollama upstream only accepts images as base64 data, and the gateway does not download image URLs (${quote(p.source.url)}). Send the image inline (base64 / a data: URL) instead.`,
    { param: 'messages' },
    'UNSUPPORTED_IMAGE_URL',
  );
}

/** Text and images of a part list as one Ollama message body (texts joined by a newline). */
function textAndImages(parts: (TextPart | ImagePart)[]): { content: string; images?: string[] } {
  const texts = parts.filter((p): p is TextPart => p.type === 'text').map((p) => p.text);
  const imgs = parts.filter((p): p is ImagePart => p.type === 'image').map(imageData);
  return imgs.length > 0
    ? { content: texts.join('\n'), images: imgs }
    : { content: texts.join('\n') };
}

/**
 * Canonical messages → Ollama messages. Tool results become `tool` messages (placed first in
 * their turn) with `tool_name` and `tool_call_id` (servers that do not know the id ignore it);
 * thinking goes back only when Ollama produced it.
 */
function messagesOut(req: CanonicalRequest): Obj[] {
  const out: Obj[] = req.system.map((p) => ({ role: 'system', content: p.text }));
  const names = new Map<string, string>();
  for (const m of req.messages) {
    if (m.role === 'assistant') {
      let text = '';
      let thinking = '';
      const imgs: string[] = [];
      const calls: Obj[] = [];
      for (const p of m.parts) {
        if (p.type === 'text') {
          text += p.text;
        } else if (p.type === 'thinking' && p.origin === 'ollama' && p.text) {
          thinking += p.text;
        } else if (p.type === 'image') {
          imgs.push(imageData(p));
        } else if (p.type === 'tool_call') {
          names.set(p.id, p.name);
          calls.push({
            id: p.id,
            function: { name: p.name, arguments: argumentsObject(p.arguments) },
          });
        }
      }
      const msg: Obj = { role: 'assistant', content: text };
      if (thinking) {
        msg.thinking = thinking;
      }
      if (imgs.length > 0) {
        msg.images = imgs;
      }
      if (calls.length > 0) {
        msg.tool_calls = calls;
      }
      out.push(msg);
      continue;
    }
    const rest: (TextPart | ImagePart)[] = [];
    for (const p of m.parts) {
      if (p.type === 'tool_result') {
        const name = p.name ?? names.get(p.toolCallId);
        out.push({
          role: 'tool',
          ...textAndImages(p.content),
          ...(name !== undefined ? { tool_name: name } : {}),
          tool_call_id: p.toolCallId,
        });
      } else if (p.type === 'text' || p.type === 'image') {
        rest.push(p);
      }
    }
    if (rest.length > 0) {
      out.push({ role: 'user', ...textAndImages(rest) });
    }
  }
  return out;
}

/**
 * Canonical reasoning → `think`: a zero budget is `false`; an effort is its level (`minimal` →
 * `low`; levels are understood by models such as gpt-oss, others take them as "on"); a budget or
 * "thoughts on" is `true`.
 */
function thinkOut(r: CanonicalRequest['reasoning']): boolean | string | undefined {
  if (!r) {
    return undefined;
  }
  if (r.budgetTokens !== undefined && r.budgetTokens === 0) {
    return false;
  }
  if (r.effort !== undefined) {
    return r.effort === 'minimal' ? 'low' : r.effort;
  }
  if (r.budgetTokens !== undefined || r.includeThoughts) {
    return true;
  }
  return undefined;
}

/**
 * Builds the Ollama `/api/chat` body for a canonical request. Ollama has no `tool_choice`: `none`
 * sends no tools, a forced or required tool cannot be expressed (the tools are sent, the model
 * chooses). `parallelToolCalls` and `user` have no Ollama field. Throws a 400
 * (`UNSUPPORTED_IMAGE_URL`) for an image given by URL.
 */
export function toOllamaRequest(req: CanonicalRequest): Record<string, unknown> {
  const body: Obj = { model: req.model, messages: messagesOut(req) };
  if (req.tools?.length && req.toolChoice !== 'none') {
    body.tools = req.tools.map((t) => ({
      type: 'function',
      function: {
        name: t.name,
        ...(t.description !== undefined ? { description: t.description } : {}),
        parameters: t.parameters,
      },
    }));
  }
  if (req.responseFormat?.type === 'json_object') {
    body.format = 'json';
  } else if (req.responseFormat?.type === 'json_schema') {
    body.format = req.responseFormat.schema;
  }
  const think = thinkOut(req.reasoning);
  if (think !== undefined) {
    body.think = think;
  }
  // Always explicit: an Ollama body without `stream` streams.
  body.stream = req.stream;
  const options: Obj = {};
  if (req.temperature !== undefined) {
    options.temperature = req.temperature;
  }
  if (req.topP !== undefined) {
    options.top_p = req.topP;
  }
  if (req.topK !== undefined) {
    options.top_k = req.topK;
  }
  if (req.maxTokens !== undefined) {
    options.num_predict = req.maxTokens;
  }
  if (req.stop?.length) {
    options.stop = req.stop;
  }
  if (Object.keys(options).length > 0) {
    body.options = options;
  }
  return body;
}
