import {
  budgetToEffort,
  type CanonicalMessage,
  type CanonicalRequest,
  type CanonicalTool,
  type ImagePart,
  type Part,
  type ReasoningEffort,
  type ResponseFormat,
  type TextPart,
  type ThinkingPart,
  type ToolCallPart,
  type ToolChoice,
  type ToolResultPart,
} from '@/gateway/dialects/canonical';
import { isObj, type Obj } from '@/gateway/dialects/openai-chat/common';
import { imageUrl, urlImagePart } from '@/gateway/dialects/shared/image';
import { invalid, present, quote } from '@/gateway/dialects/shared/validate';

/**
 * OpenAI Chat Completions requests ⇄ canonical (client side: validate + read; upstream side: write).
 * Validation is by hand (hot path): every failure is a 400 `AppError` whose `details.param` names
 * the field, as OpenAI's own `param` does.
 */

function optString(b: Obj, key: string): string | undefined {
  const v = b[key];
  if (!present(v)) {
    return undefined;
  }
  if (typeof v !== 'string') {
    throw invalid(`${key} must be a string`, key);
  }
  return v;
}

function optNumber(b: Obj, key: string): number | undefined {
  const v = b[key];
  if (!present(v)) {
    return undefined;
  }
  if (typeof v !== 'number' || !Number.isFinite(v)) {
    throw invalid(`${key} must be a number`, key);
  }
  return v;
}

function optPositiveInt(b: Obj, key: string): number | undefined {
  const v = optNumber(b, key);
  if (v !== undefined && (!Number.isInteger(v) || v < 1)) {
    throw invalid(`${key} must be a positive integer`, key);
  }
  return v;
}

function optBoolean(b: Obj, key: string): boolean | undefined {
  const v = b[key];
  if (!present(v)) {
    return undefined;
  }
  if (typeof v !== 'boolean') {
    throw invalid(`${key} must be a boolean`, key);
  }
  return v;
}

// ------------------------------------------------------------------------------------------------
// Content

function imagePart(raw: unknown, param: string): ImagePart {
  // `image_url` is an object in the spec; a bare URL string is accepted as some clients send it.
  const img = typeof raw === 'string' ? { url: raw } : raw;
  if (!isObj(img)) {
    throw invalid(`${param} must be an object with a url`, param);
  }
  const url = img.url;
  if (typeof url !== 'string' || !url) {
    throw invalid(`${param}.url must be a non-empty string`, `${param}.url`);
  }
  return urlImagePart(url, `${param}.url`, img, param);
}

type PartKind = 'text' | 'image_url' | 'refusal';

/** A content array's parts; `allowed` lists the part types this role may carry. */
function contentParts(
  content: unknown[],
  param: string,
  allowed: readonly PartKind[],
): (TextPart | ImagePart)[] {
  return content.map((raw, j) => {
    const p = `${param}[${j}]`;
    if (!isObj(raw)) {
      throw invalid(`${p} must be an object`, p);
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
    if (type === 'image_url') {
      return imagePart(raw.image_url, `${p}.image_url`);
    }
    const key = type === 'refusal' ? 'refusal' : 'text';
    const text = raw[key];
    if (typeof text !== 'string') {
      throw invalid(`${p}.${key} must be a string`, `${p}.${key}`);
    }
    return { type: 'text', text };
  });
}

/** `content` of a message: a string or an array of parts; `required` rejects null/absent. */
function content(
  m: Obj,
  param: string,
  allowed: readonly PartKind[],
  required: boolean,
): (TextPart | ImagePart)[] {
  const c = m.content;
  const p = `${param}.content`;
  if (!present(c)) {
    if (required) {
      throw invalid(`${p} is required`, p);
    }
    return [];
  }
  if (typeof c === 'string') {
    return [{ type: 'text', text: c }];
  }
  if (!Array.isArray(c)) {
    throw invalid(`${p} must be a string or an array of content parts`, p);
  }
  return contentParts(c, p, allowed);
}

function textOnly(parts: (TextPart | ImagePart)[]): TextPart[] {
  return parts.filter((p): p is TextPart => p.type === 'text');
}

function toolCalls(raw: unknown, param: string): ToolCallPart[] {
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
    if (present(tc.type) && tc.type !== 'function') {
      throw invalid(
        `${p}.type ${quote(tc.type)} is not supported (expected function)`,
        `${p}.type`,
      );
    }
    if (typeof tc.id !== 'string' || !tc.id) {
      throw invalid(`${p}.id must be a non-empty string`, `${p}.id`);
    }
    const fn = tc.function;
    if (!isObj(fn)) {
      throw invalid(`${p}.function must be an object`, `${p}.function`);
    }
    if (typeof fn.name !== 'string' || !fn.name) {
      throw invalid(`${p}.function.name must be a non-empty string`, `${p}.function.name`);
    }
    if (typeof fn.arguments !== 'string') {
      throw invalid(`${p}.function.arguments must be a string of JSON`, `${p}.function.arguments`);
    }
    return { type: 'tool_call', id: tc.id, name: fn.name, arguments: fn.arguments };
  });
}

const ROLES = 'system, developer, user, assistant, tool';

function messages(raw: unknown[], system: TextPart[]): CanonicalMessage[] {
  const out: CanonicalMessage[] = [];
  /** Tool names by call id, so tool results can carry the name (Gemini needs it). */
  const names = new Map<string, string>();
  raw.forEach((m, i) => {
    const param = `messages[${i}]`;
    if (!isObj(m)) {
      throw invalid(`${param} must be an object`, param);
    }
    const role = m.role;
    if (!present(role)) {
      throw invalid(`${param}.role is required`, `${param}.role`);
    }
    if (typeof role !== 'string') {
      throw invalid(`${param}.role must be a string`, `${param}.role`);
    }
    switch (role) {
      case 'system':
      case 'developer':
        system.push(...textOnly(content(m, param, ['text'], true)));
        return;
      case 'user':
        out.push({ role: 'user', parts: content(m, param, ['text', 'image_url'], true) });
        return;
      case 'assistant': {
        const parts: Part[] = [];
        const reasoning = m.reasoning_content;
        if (present(reasoning) && typeof reasoning !== 'string') {
          throw invalid(
            `${param}.reasoning_content must be a string`,
            `${param}.reasoning_content`,
          );
        }
        if (typeof reasoning === 'string' && reasoning) {
          const thinking: ThinkingPart = {
            type: 'thinking',
            text: reasoning,
            origin: 'openai-chat',
          };
          parts.push(thinking);
        }
        parts.push(
          ...textOnly(content(m, param, ['text', 'refusal'], false)).filter((p) => p.text !== ''),
        );
        for (const call of toolCalls(m.tool_calls, `${param}.tool_calls`)) {
          names.set(call.id, call.name);
          parts.push(call);
        }
        out.push({ role: 'assistant', parts });
        return;
      }
      case 'tool': {
        const id = m.tool_call_id;
        if (typeof id !== 'string' || !id) {
          throw invalid(
            `${param}.tool_call_id must be a non-empty string`,
            `${param}.tool_call_id`,
          );
        }
        const result: ToolResultPart = {
          type: 'tool_result',
          toolCallId: id,
          content: content(m, param, ['text'], true),
        };
        const name = names.get(id);
        if (name !== undefined) {
          result.name = name;
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
      default:
        throw invalid(
          `${param}.role ${quote(role)} is not supported (expected one of ${ROLES})`,
          `${param}.role`,
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
    throw invalid('tools must be an array', 'tools');
  }
  return raw.map((t, i) => {
    const p = `tools[${i}]`;
    if (!isObj(t)) {
      throw invalid(`${p} must be an object`, p);
    }
    if (t.type !== 'function') {
      throw invalid(`${p}.type must be "function"`, `${p}.type`);
    }
    const fn = t.function;
    if (!isObj(fn)) {
      throw invalid(`${p}.function must be an object`, `${p}.function`);
    }
    if (!present(fn.name)) {
      throw invalid(`${p}.function.name is required`, `${p}.function.name`);
    }
    if (typeof fn.name !== 'string' || !fn.name) {
      throw invalid(`${p}.function.name must be a non-empty string`, `${p}.function.name`);
    }
    const tool: CanonicalTool = { name: fn.name, parameters: { type: 'object', properties: {} } };
    if (present(fn.description)) {
      if (typeof fn.description !== 'string') {
        throw invalid(`${p}.function.description must be a string`, `${p}.function.description`);
      }
      tool.description = fn.description;
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

function toolChoice(raw: unknown): ToolChoice | undefined {
  if (!present(raw)) {
    return undefined;
  }
  if (raw === 'auto' || raw === 'none' || raw === 'required') {
    return raw;
  }
  if (isObj(raw) && raw.type === 'function') {
    const fn = raw.function;
    if (!isObj(fn) || typeof fn.name !== 'string' || !fn.name) {
      throw invalid(
        'tool_choice.function.name must be a non-empty string',
        'tool_choice.function.name',
      );
    }
    return { name: fn.name };
  }
  throw invalid(
    'tool_choice must be "auto", "none", "required" or {"type":"function","function":{"name":…}}',
    'tool_choice',
  );
}

function stop(raw: unknown): string[] | undefined {
  if (!present(raw)) {
    return undefined;
  }
  if (typeof raw === 'string') {
    return [raw];
  }
  if (Array.isArray(raw) && raw.every((s) => typeof s === 'string')) {
    return raw;
  }
  throw invalid('stop must be a string or an array of strings', 'stop');
}

/**
 * `reasoning_effort` → canonical. `none` (reasoning off) has no canonical effort: it becomes a zero
 * budget. `xhigh`/`max` are clamped to `high`, the canonical maximum.
 */
function reasoning(raw: unknown): CanonicalRequest['reasoning'] {
  if (!present(raw)) {
    return undefined;
  }
  switch (raw) {
    case 'minimal':
    case 'low':
    case 'medium':
    case 'high':
      return { effort: raw };
    case 'xhigh':
    case 'max':
      return { effort: 'high' };
    case 'none':
      return { budgetTokens: 0 };
    default:
      throw invalid(
        'reasoning_effort must be one of none, minimal, low, medium, high, xhigh',
        'reasoning_effort',
      );
  }
}

function responseFormat(raw: unknown): ResponseFormat | undefined {
  if (!present(raw)) {
    return undefined;
  }
  if (!isObj(raw)) {
    throw invalid('response_format must be an object', 'response_format');
  }
  switch (raw.type) {
    case 'text':
      return { type: 'text' };
    case 'json_object':
      return { type: 'json_object' };
    case 'json_schema': {
      const js = raw.json_schema;
      if (!isObj(js)) {
        throw invalid(
          'response_format.json_schema must be an object',
          'response_format.json_schema',
        );
      }
      const format: ResponseFormat = { type: 'json_schema', schema: {} };
      if (present(js.name)) {
        if (typeof js.name !== 'string') {
          throw invalid(
            'response_format.json_schema.name must be a string',
            'response_format.json_schema.name',
          );
        }
        format.name = js.name;
      }
      if (present(js.schema)) {
        if (!isObj(js.schema)) {
          throw invalid(
            'response_format.json_schema.schema must be an object',
            'response_format.json_schema.schema',
          );
        }
        format.schema = js.schema;
      }
      if (present(js.strict)) {
        if (typeof js.strict !== 'boolean') {
          throw invalid(
            'response_format.json_schema.strict must be a boolean',
            'response_format.json_schema.strict',
          );
        }
        format.strict = js.strict;
      }
      return format;
    }
    default:
      throw invalid(
        'response_format.type must be one of text, json_object, json_schema',
        'response_format.type',
      );
  }
}

// ------------------------------------------------------------------------------------------------
// In

/**
 * An OpenAI Chat Completions body → canonical request. Fields the canonical form has no place for
 * (`n` = 1, `seed`, penalties, `logprobs`, `metadata`, `stream_options`, message `name`, …) are
 * ignored; `n` > 1 is refused, since only one choice ever comes back.
 */
export function fromOpenAiChatRequest(body: unknown): CanonicalRequest {
  if (!isObj(body)) {
    throw invalid('Request body must be a JSON object', 'body');
  }
  const model = body.model;
  if (!present(model) || model === '') {
    throw invalid('model is required', 'model');
  }
  if (typeof model !== 'string') {
    throw invalid('model must be a string', 'model');
  }
  if (!present(body.messages)) {
    throw invalid('messages is required', 'messages');
  }
  if (!Array.isArray(body.messages)) {
    throw invalid('messages must be an array', 'messages');
  }
  if (body.messages.length === 0) {
    throw invalid('messages must contain at least one message', 'messages');
  }
  const system: TextPart[] = [];
  const req: CanonicalRequest = {
    model,
    system,
    messages: messages(body.messages, system),
    stream: optBoolean(body, 'stream') ?? false,
  };

  const n = optNumber(body, 'n');
  if (n !== undefined && n !== 1) {
    throw invalid('n must be 1: the gateway returns a single choice', 'n');
  }
  const t = tools(body.tools);
  if (t?.length) {
    req.tools = t;
  }
  const choice = toolChoice(body.tool_choice);
  if (choice !== undefined) {
    req.toolChoice = choice;
  }
  const parallel = optBoolean(body, 'parallel_tool_calls');
  if (parallel !== undefined) {
    req.parallelToolCalls = parallel;
  }
  const maxCompletion = optPositiveInt(body, 'max_completion_tokens');
  const maxTokens = optPositiveInt(body, 'max_tokens');
  if (maxCompletion !== undefined || maxTokens !== undefined) {
    req.maxTokens = maxCompletion ?? maxTokens;
  }
  const temperature = optNumber(body, 'temperature');
  if (temperature !== undefined) {
    req.temperature = temperature;
  }
  const topP = optNumber(body, 'top_p');
  if (topP !== undefined) {
    req.topP = topP;
  }
  // Not OpenAI's, but many OpenAI-compatible servers take it and the canonical form has it.
  const topK = optPositiveInt(body, 'top_k');
  if (topK !== undefined) {
    req.topK = topK;
  }
  const s = stop(body.stop);
  if (s?.length) {
    req.stop = s;
  }
  const r = reasoning(body.reasoning_effort);
  if (r) {
    req.reasoning = r;
  }
  const format = responseFormat(body.response_format);
  if (format) {
    req.responseFormat = format;
  }
  const user = optString(body, 'user');
  if (user !== undefined) {
    req.user = user;
  }
  return req;
}

// ------------------------------------------------------------------------------------------------
// Out

function imageOut(p: ImagePart): Obj {
  const url = imageUrl(p);
  return { type: 'image_url', image_url: p.detail ? { url, detail: p.detail } : { url } };
}

/** User content: a plain string for a single text part (accepted everywhere), else parts. */
function userContent(parts: (TextPart | ImagePart)[]): string | Obj[] {
  if (parts.length === 1 && parts[0].type === 'text') {
    return parts[0].text;
  }
  return parts.map((p) => (p.type === 'text' ? { type: 'text', text: p.text } : imageOut(p)));
}

/**
 * Canonical messages → OpenAI messages. Tool results become `tool` messages placed first (they
 * must follow the assistant's calls); OpenAI tool messages carry no images, so images from tool
 * results move into the user message that follows them. Thinking is kept only when it came from
 * this dialect (`reasoning_content`); other providers' thinking is dropped.
 */
function messagesOut(req: CanonicalRequest): Obj[] {
  const out: Obj[] = [];
  if (req.system.length) {
    out.push({
      role: 'system',
      content:
        req.system.length === 1
          ? req.system[0].text
          : req.system.map((p) => ({ type: 'text', text: p.text })),
    });
  }
  for (const m of req.messages) {
    if (m.role === 'assistant') {
      let text = '';
      let reasoningText = '';
      const calls: Obj[] = [];
      for (const p of m.parts) {
        if (p.type === 'text') {
          text += p.text;
        } else if (p.type === 'thinking' && p.origin === 'openai-chat' && p.text) {
          reasoningText += p.text;
        } else if (p.type === 'tool_call') {
          calls.push({
            id: p.id,
            type: 'function',
            function: { name: p.name, arguments: p.arguments },
          });
        }
      }
      const msg: Obj = { role: 'assistant', content: text || (calls.length ? null : '') };
      if (calls.length) {
        msg.tool_calls = calls;
      }
      if (reasoningText) {
        msg.reasoning_content = reasoningText;
      }
      out.push(msg);
      continue;
    }
    const user: (TextPart | ImagePart)[] = [];
    const later: (TextPart | ImagePart)[] = [];
    for (const p of m.parts) {
      if (p.type === 'tool_result') {
        const texts = p.content.filter((c): c is TextPart => c.type === 'text');
        user.push(...p.content.filter((c): c is ImagePart => c.type === 'image'));
        out.push({
          role: 'tool',
          tool_call_id: p.toolCallId,
          content:
            texts.length <= 1
              ? (texts[0]?.text ?? '')
              : texts.map((c) => ({ type: 'text', text: c.text })),
        });
      } else if (p.type === 'text' || p.type === 'image') {
        later.push(p);
      }
    }
    user.push(...later);
    if (user.length) {
      out.push({ role: 'user', content: userContent(user) });
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
  // A zero budget (thinking off) sends no reasoning_effort: non-reasoning models reject the field.
  return r.budgetTokens <= 0 ? undefined : budgetToEffort(r.budgetTokens);
}

function responseFormatOut(f: ResponseFormat): Obj {
  switch (f.type) {
    case 'text':
    case 'json_object':
      return { type: f.type };
    case 'json_schema': {
      const js: Obj = { name: f.name ?? 'response', schema: f.schema };
      if (f.strict !== undefined) {
        js.strict = f.strict;
      }
      return { type: 'json_schema', json_schema: js };
    }
  }
}

/** Canonical request → an OpenAI Chat Completions body (the upstream side). */
export function toOpenAiChatRequest(req: CanonicalRequest): Record<string, unknown> {
  const body: Obj = { model: req.model, messages: messagesOut(req) };
  if (req.tools?.length) {
    body.tools = req.tools.map((t) => ({
      type: 'function',
      function: {
        name: t.name,
        ...(t.description !== undefined ? { description: t.description } : {}),
        parameters: t.parameters,
      },
    }));
    if (req.parallelToolCalls !== undefined) {
      body.parallel_tool_calls = req.parallelToolCalls;
    }
  }
  if (req.toolChoice !== undefined) {
    body.tool_choice =
      typeof req.toolChoice === 'string'
        ? req.toolChoice
        : { type: 'function', function: { name: req.toolChoice.name } };
  }
  if (req.maxTokens !== undefined) {
    body.max_tokens = req.maxTokens;
  }
  if (req.temperature !== undefined) {
    body.temperature = req.temperature;
  }
  if (req.topP !== undefined) {
    body.top_p = req.topP;
  }
  if (req.stop?.length) {
    body.stop = req.stop;
  }
  const effort = effortOut(req.reasoning);
  if (effort !== undefined) {
    body.reasoning_effort = effort;
  }
  if (req.responseFormat) {
    body.response_format = responseFormatOut(req.responseFormat);
  }
  if (req.stream) {
    body.stream = true;
    body.stream_options = { include_usage: true };
  }
  if (req.user !== undefined) {
    body.user = req.user;
  }
  return body;
}
