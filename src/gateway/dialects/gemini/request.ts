/**
 * Gemini `generateContent` requests (`POST /v1beta/models/{model}:generateContent` and
 * `:streamGenerateContent?alt=sse`) ⇄ the canonical request.
 *
 * `fromGeminiRequest` is the client side: a hand-written check (no class-validator on the hot path)
 * whose failures are 400 `AppError`s naming the field in `details.param`, then a read into the
 * canonical form. The model and the stream flag are in the URL, not the body, so the surface passes
 * them in. Gemini's REST API takes both camelCase and snake_case field names (its docs' curl
 * examples use `system_instruction`, `inline_data`, `mime_type`…): both are read.
 *
 * `toGeminiRequest` is the upstream side: the body only (the model and `:streamGenerateContent`
 * go in the URL, see `geminiPath`), tool schemas cleaned by `sanitizeGeminiSchema`, only Gemini's
 * own thinking sent back, signatures byte for byte.
 */
import {
  effortToBudget,
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
import {
  imagePartOut,
  isObj,
  modelPartsOut,
  syntheticCallId,
  type Obj,
} from '@/gateway/dialects/gemini/common';
import { fromGeminiSchema, sanitizeGeminiSchema } from '@/gateway/dialects/gemini/schema';
import {
  invalid,
  kindOf,
  optionalBoolean,
  optionalNumber,
  optionalObject,
  optionalString,
  present,
} from '@/gateway/dialects/shared/validate';

const snake = (camel: string): string => camel.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);

/** A field by its camelCase name or its snake_case spelling, with the name the client used. */
function field(o: Obj, camel: string, param: string): { value: unknown; param: string } {
  if (present(o[camel])) {
    return { value: o[camel], param: `${param}${camel}` };
  }
  const alt = snake(camel);
  return { value: o[alt], param: `${param}${present(o[alt]) ? alt : camel}` };
}

function optNumber(o: Obj, camel: string, prefix: string): number | undefined {
  const { value, param } = field(o, camel, prefix);
  return optionalNumber(value, param);
}

function optInteger(o: Obj, camel: string, prefix: string, min: number): number | undefined {
  const v = optNumber(o, camel, prefix);
  if (v !== undefined && (!Number.isInteger(v) || v < min)) {
    const param = field(o, camel, prefix).param;
    throw invalid(`${param}: an integer of at least ${min} is required`, param);
  }
  return v;
}

function optBoolean(o: Obj, camel: string, prefix: string): boolean | undefined {
  const { value, param } = field(o, camel, prefix);
  return optionalBoolean(value, param);
}

function optString(o: Obj, camel: string, prefix: string): string | undefined {
  const { value, param } = field(o, camel, prefix);
  return optionalString(value, param);
}

function optObject(o: Obj, camel: string, prefix: string): Obj | undefined {
  const { value, param } = field(o, camel, prefix);
  return optionalObject(value, param);
}

function requireString(o: Obj, camel: string, prefix: string): string {
  const v = optString(o, camel, prefix);
  if (v === undefined || v === '') {
    const param = field(o, camel, prefix).param;
    throw invalid(`${param}: a non-empty string is required`, param);
  }
  return v;
}

// ------------------------------------------------------------------------------------------------
// Client side: Gemini body → canonical request

export interface FromGeminiOptions {
  /** The client called `:streamGenerateContent`. */
  stream?: boolean;
}

/**
 * Validates a Gemini `GenerateContentRequest` body and reads it into the canonical form, for the
 * `model` of the URL. Fields with no canonical place (`safetySettings`, `cachedContent`, `labels`,
 * `seed`, penalties, `responseModalities`…) are ignored; what the canonical form cannot express and
 * the client relies on (several candidates, non-function tools, non-image media, other response
 * MIME types) is refused with a 400 rather than silently answered differently.
 */
export function fromGeminiRequest(
  body: unknown,
  model: string,
  opts: FromGeminiOptions = {},
): CanonicalRequest {
  if (typeof model !== 'string' || model.replace(/^models\//, '') === '') {
    throw invalid('model: a model name is required in the URL', 'model');
  }
  if (!isObj(body)) {
    throw invalid(`Request body must be a JSON object, got ${kindOf(body)}`, 'body');
  }
  const contents = body.contents;
  if (!present(contents)) {
    throw invalid('contents: required', 'contents');
  }
  if (!Array.isArray(contents)) {
    throw invalid(`contents: an array of Content is required, got ${kindOf(contents)}`, 'contents');
  }
  if (contents.length === 0) {
    throw invalid('contents: at least one Content is required', 'contents');
  }

  const req: CanonicalRequest = {
    model: model.replace(/^models\//, ''),
    system: readSystem(body),
    messages: readContents(contents),
    stream: opts.stream ?? false,
  };

  const tools = readTools(body);
  if (tools.length > 0) {
    req.tools = tools;
  }
  const toolConfig = optObject(body, 'toolConfig', '');
  if (toolConfig) {
    const choice = readToolChoice(toolConfig, field(body, 'toolConfig', '').param);
    if (choice !== undefined) {
      req.toolChoice = choice;
    }
  }
  const config = optObject(body, 'generationConfig', '');
  if (config) {
    readGenerationConfig(config, `${field(body, 'generationConfig', '').param}.`, req);
  }
  return req;
}

function readSystem(body: Obj): TextPart[] {
  const { value, param } = field(body, 'systemInstruction', '');
  if (!present(value)) {
    return [];
  }
  if (typeof value === 'string') {
    // Not the documented shape, but what some clients send.
    return value === '' ? [] : [{ type: 'text', text: value }];
  }
  if (!isObj(value)) {
    throw invalid(`${param}: a Content object is required, got ${kindOf(value)}`, param);
  }
  const parts = value.parts;
  if (!Array.isArray(parts)) {
    throw invalid(`${param}.parts: an array is required`, `${param}.parts`);
  }
  return parts.flatMap((raw: unknown, i): TextPart[] => {
    const p = `${param}.parts[${i}]`;
    if (!isObj(raw)) {
      throw invalid(`${p}: a Part object is required`, p);
    }
    if (typeof raw.text !== 'string') {
      throw invalid(`${p}.text: system instructions take text parts only`, `${p}.text`);
    }
    return raw.text === '' ? [] : [{ type: 'text', text: raw.text }];
  });
}

type WireRole = 'user' | 'model';

interface PendingCall {
  id: string;
  name: string;
}

/**
 * `contents` → canonical messages. A user turn's `functionResponse` parts become `tool` messages
 * (consecutive ones together), in place. Function calls without an id get `call_<n>`, n counting
 * the calls of the whole conversation; a response without an id answers the first call of the
 * preceding model turn with its name that is not answered yet.
 */
function readContents(contents: unknown[]): CanonicalMessage[] {
  const out: CanonicalMessage[] = [];
  let calls = 0;
  let pending: PendingCall[] = [];
  contents.forEach((raw: unknown, i) => {
    const param = `contents[${i}]`;
    if (!isObj(raw)) {
      throw invalid(`${param}: a Content object is required, got ${kindOf(raw)}`, param);
    }
    const role = readRole(raw.role, `${param}.role`);
    const parts = raw.parts;
    if (!Array.isArray(parts)) {
      throw invalid(`${param}.parts: an array of Part is required`, `${param}.parts`);
    }
    if (role === 'model') {
      const msg: CanonicalMessage = { role: 'assistant', parts: [] };
      pending = [];
      parts.forEach((part: unknown, j) => {
        for (const p of readPart(part, `${param}.parts[${j}]`, 'model')) {
          if (p.type === 'tool_call') {
            if (p.id === '') {
              p.id = syntheticCallId(calls);
            }
            calls++;
            pending.push({ id: p.id, name: p.name });
          }
          msg.parts.push(p);
        }
      });
      out.push(msg);
      return;
    }
    let current: CanonicalMessage | undefined;
    parts.forEach((part: unknown, j) => {
      for (const p of readPart(part, `${param}.parts[${j}]`, 'user')) {
        if (p.type === 'tool_result') {
          if (p.toolCallId === '') {
            const k = pending.findIndex((c) => c.name === p.name);
            p.toolCallId = k >= 0 ? pending.splice(k, 1)[0].id : syntheticCallId(calls++);
          } else {
            pending = pending.filter((c) => c.id !== p.toolCallId);
          }
        }
        const role = p.type === 'tool_result' ? 'tool' : 'user';
        if (current?.role !== role) {
          current = { role, parts: [] };
          out.push(current);
        }
        current.parts.push(p);
      }
    });
    if (parts.length === 0) {
      out.push({ role: 'user', parts: [] });
    }
  });
  return out;
}

function readRole(role: unknown, param: string): WireRole {
  // Gemini takes a missing role as the user; `function` is the role older clients give responses.
  if (!present(role) || role === '' || role === 'user' || role === 'function') {
    return 'user';
  }
  if (role === 'model') {
    return 'model';
  }
  throw invalid(
    `${param}: must be "user" or "model", got ${JSON.stringify(role) ?? kindOf(role)}`,
    param,
  );
}

const PART_FIELDS = 'text, inlineData, fileData, functionCall or functionResponse';

/** One Gemini part → canonical parts (none for code-execution parts, two for a signed text). */
function readPart(raw: unknown, param: string, role: WireRole): Part[] {
  if (!isObj(raw)) {
    throw invalid(`${param}: a Part object is required, got ${kindOf(raw)}`, param);
  }
  const signature = optString(raw, 'thoughtSignature', `${param}.`);
  const thought = optBoolean(raw, 'thought', `${param}.`) === true;

  if (present(raw.text)) {
    const text = optString(raw, 'text', `${param}.`)!;
    if (role === 'user') {
      return [{ type: 'text', text }];
    }
    if (thought) {
      const part: ThinkingPart = { type: 'thinking', text, origin: 'gemini' };
      if (signature) {
        part.signature = signature;
      }
      return [part];
    }
    const parts: Part[] = [{ type: 'text', text }];
    if (signature) {
      parts.push({ type: 'thinking', text: '', signature, origin: 'gemini' });
    }
    return parts;
  }

  const inline = optObject(raw, 'inlineData', `${param}.`);
  if (inline) {
    const p = `${field(raw, 'inlineData', `${param}.`).param}.`;
    const mimeType = requireString(inline, 'mimeType', p);
    requireImage(mimeType, field(inline, 'mimeType', p).param);
    const image: ImagePart = {
      type: 'image',
      source: { kind: 'base64', mediaType: mimeType, data: requireString(inline, 'data', p) },
    };
    return [image];
  }

  const file = optObject(raw, 'fileData', `${param}.`);
  if (file) {
    const p = `${field(raw, 'fileData', `${param}.`).param}.`;
    const mimeType = optString(file, 'mimeType', p);
    if (mimeType !== undefined) {
      requireImage(mimeType, field(file, 'mimeType', p).param);
    }
    const image: ImagePart = {
      type: 'image',
      source: { kind: 'url', url: requireString(file, 'fileUri', p) },
    };
    return [image];
  }

  const call = optObject(raw, 'functionCall', `${param}.`);
  if (call) {
    const p = field(raw, 'functionCall', `${param}.`).param;
    if (role !== 'model') {
      throw invalid(`${p}: function calls belong in "model" turns`, p);
    }
    const args = optObject(call, 'args', `${p}.`) ?? {};
    const part: ToolCallPart = {
      type: 'tool_call',
      id: optString(call, 'id', `${p}.`) ?? '',
      name: requireString(call, 'name', `${p}.`),
      arguments: JSON.stringify(args),
    };
    if (signature) {
      part.signature = signature;
    }
    return [part];
  }

  const response = optObject(raw, 'functionResponse', `${param}.`);
  if (response) {
    const p = field(raw, 'functionResponse', `${param}.`).param;
    if (role !== 'user') {
      throw invalid(`${p}: function responses belong in "user" turns`, p);
    }
    const value = optObject(response, 'response', `${p}.`) ?? {};
    const result: ToolResultPart = {
      type: 'tool_result',
      toolCallId: optString(response, 'id', `${p}.`) ?? '',
      name: requireString(response, 'name', `${p}.`),
      content: [{ type: 'text', text: JSON.stringify(value) }],
    };
    // Gemini's convention: an `error` key (and no `output`) reports a failed call.
    if ('error' in value && !('output' in value)) {
      result.isError = true;
    }
    return [result];
  }

  if (
    present(field(raw, 'executableCode', '').value) ||
    present(field(raw, 'codeExecutionResult', '').value)
  ) {
    // History of Gemini's own code-execution tool: nothing another provider could use.
    return [];
  }
  if (signature && role === 'model') {
    // A part that carries only a signature.
    return [{ type: 'thinking', text: '', signature, origin: 'gemini' }];
  }
  throw invalid(`${param}: a part needs one of ${PART_FIELDS}`, param);
}

function requireImage(mimeType: string, param: string): void {
  if (!/^image\//i.test(mimeType)) {
    throw invalid(
      `${param}: only images can be translated for this model, got ${JSON.stringify(mimeType)}`,
      param,
    );
  }
}

const OTHER_TOOLS = [
  'googleSearch',
  'googleSearchRetrieval',
  'codeExecution',
  'urlContext',
  'retrieval',
  'fileSearch',
  'googleMaps',
  'computerUse',
  'enterpriseWebSearch',
];

function readTools(body: Obj): CanonicalTool[] {
  const { value, param } = field(body, 'tools', '');
  if (!present(value)) {
    return [];
  }
  if (!Array.isArray(value)) {
    throw invalid(`${param}: an array of Tool is required, got ${kindOf(value)}`, param);
  }
  return value.flatMap((tool: unknown, i): CanonicalTool[] => {
    const tp = `${param}[${i}]`;
    if (!isObj(tool)) {
      throw invalid(`${tp}: a Tool object is required`, tp);
    }
    for (const other of OTHER_TOOLS) {
      const f = field(tool, other, `${tp}.`);
      if (present(f.value)) {
        throw invalid(
          `${f.param}: only functionDeclarations tools can be translated for this model`,
          f.param,
        );
      }
    }
    const decls = field(tool, 'functionDeclarations', `${tp}.`);
    if (!present(decls.value)) {
      return [];
    }
    if (!Array.isArray(decls.value)) {
      throw invalid(`${decls.param}: an array is required`, decls.param);
    }
    return decls.value.map((d: unknown, j) => {
      const dp = `${decls.param}[${j}]`;
      if (!isObj(d)) {
        throw invalid(`${dp}: a FunctionDeclaration object is required`, dp);
      }
      const out: CanonicalTool = {
        name: requireString(d, 'name', `${dp}.`),
        parameters: { type: 'object', properties: {} },
      };
      const description = optString(d, 'description', `${dp}.`);
      if (description !== undefined) {
        out.description = description;
      }
      // `parametersJsonSchema` is already JSON Schema; `parameters` is Gemini's OpenAPI subset.
      const jsonSchema = optObject(d, 'parametersJsonSchema', `${dp}.`);
      const schema = optObject(d, 'parameters', `${dp}.`);
      if (jsonSchema) {
        out.parameters = jsonSchema;
      } else if (schema) {
        out.parameters = fromGeminiSchema(schema);
      }
      return out;
    });
  });
}

function readToolChoice(config: Obj, prefix: string): ToolChoice | undefined {
  const fc = optObject(config, 'functionCallingConfig', `${prefix}.`);
  if (!fc) {
    return undefined;
  }
  const fp = `${field(config, 'functionCallingConfig', `${prefix}.`).param}.`;
  const mode = optString(fc, 'mode', fp);
  const names = field(fc, 'allowedFunctionNames', fp);
  let allowed: string[] = [];
  if (present(names.value)) {
    if (
      !Array.isArray(names.value) ||
      !names.value.every((n): n is string => typeof n === 'string')
    ) {
      throw invalid(`${names.param}: an array of strings is required`, names.param);
    }
    allowed = names.value;
  }
  switch (mode?.toUpperCase()) {
    case undefined:
    case 'MODE_UNSPECIFIED':
      return undefined;
    case 'AUTO':
    case 'VALIDATED':
      return 'auto';
    case 'NONE':
      return 'none';
    case 'ANY':
      // One allowed name is a forced tool; several cannot be said canonically: any tool.
      return allowed.length === 1 ? { name: allowed[0] } : 'required';
    default: {
      const param = field(fc, 'mode', fp).param;
      throw invalid(`${param}: must be one of AUTO, ANY, NONE, VALIDATED`, param);
    }
  }
}

const LEVELS: Record<string, ReasoningEffort> = {
  MINIMAL: 'minimal',
  LOW: 'low',
  MEDIUM: 'medium',
  HIGH: 'high',
};

function readGenerationConfig(c: Obj, prefix: string, req: CanonicalRequest): void {
  const candidates = optInteger(c, 'candidateCount', prefix, 1);
  if (candidates !== undefined && candidates !== 1) {
    const param = field(c, 'candidateCount', prefix).param;
    throw invalid(`${param}: must be 1: the gateway returns a single candidate`, param);
  }
  const maxTokens = optInteger(c, 'maxOutputTokens', prefix, 1);
  if (maxTokens !== undefined) {
    req.maxTokens = maxTokens;
  }
  const temperature = optNumber(c, 'temperature', prefix);
  if (temperature !== undefined) {
    req.temperature = temperature;
  }
  const topP = optNumber(c, 'topP', prefix);
  if (topP !== undefined) {
    req.topP = topP;
  }
  const topK = optInteger(c, 'topK', prefix, 0);
  if (topK !== undefined) {
    req.topK = topK;
  }
  const stop = field(c, 'stopSequences', prefix);
  const sequences = stop.value;
  if (present(sequences)) {
    if (!Array.isArray(sequences) || !sequences.every((s): s is string => typeof s === 'string')) {
      throw invalid(`${stop.param}: an array of strings is required`, stop.param);
    }
    if (sequences.length > 0) {
      req.stop = sequences;
    }
  }
  const format = readResponseFormat(c, prefix);
  if (format) {
    req.responseFormat = format;
  }
  const thinking = optObject(c, 'thinkingConfig', prefix);
  if (thinking) {
    const reasoning = readThinking(thinking, `${field(c, 'thinkingConfig', prefix).param}.`);
    if (reasoning) {
      req.reasoning = reasoning;
    }
  }
}

function readResponseFormat(c: Obj, prefix: string): ResponseFormat | undefined {
  const mime = optString(c, 'responseMimeType', prefix);
  const jsonSchema = optObject(c, 'responseJsonSchema', prefix);
  const schema = optObject(c, 'responseSchema', prefix);
  const resolved = jsonSchema ?? (schema ? fromGeminiSchema(schema) : undefined);
  switch (mime?.toLowerCase()) {
    case undefined:
      // A schema without the JSON MIME type: Gemini would refuse it; JSON is what was meant.
      return resolved ? { type: 'json_schema', schema: resolved } : undefined;
    case 'application/json':
      return resolved ? { type: 'json_schema', schema: resolved } : { type: 'json_object' };
    case 'text/plain':
      return { type: 'text' };
    default: {
      const param = field(c, 'responseMimeType', prefix).param;
      throw invalid(
        `${param}: only application/json and text/plain can be translated for this model`,
        param,
      );
    }
  }
}

function readThinking(t: Obj, prefix: string): CanonicalRequest['reasoning'] {
  const out: NonNullable<CanonicalRequest['reasoning']> = {};
  // -1 is "dynamic" (the model decides), 0 turns thinking off: both kept as they are.
  const budget = optInteger(t, 'thinkingBudget', prefix, -1);
  if (budget !== undefined) {
    out.budgetTokens = budget;
  }
  const level = optString(t, 'thinkingLevel', prefix);
  if (level !== undefined && budget === undefined) {
    const effort = LEVELS[level.toUpperCase()];
    if (effort === undefined) {
      const param = field(t, 'thinkingLevel', prefix).param;
      throw invalid(`${param}: must be one of MINIMAL, LOW, MEDIUM, HIGH`, param);
    }
    out.effort = effort;
  }
  const include = optBoolean(t, 'includeThoughts', prefix);
  if (include !== undefined) {
    out.includeThoughts = include;
  }
  return Object.keys(out).length > 0 ? out : undefined;
}

// ------------------------------------------------------------------------------------------------
// Upstream side: canonical request → Gemini body

/** The upstream path for a model: `:streamGenerateContent?alt=sse` when streaming. */
export function geminiPath(model: string, stream: boolean): string {
  const name = encodeURIComponent(model.replace(/^models\//, ''));
  return stream
    ? `/v1beta/models/${name}:streamGenerateContent?alt=sse`
    : `/v1beta/models/${name}:generateContent`;
}

/** Largest `thinkingBudget` Gemini 2.5 takes: Flash and Flash-Lite, else Pro. */
function maxThinkingBudget(model: string): number {
  return /flash/i.test(model) ? 24576 : 32768;
}

function thinkingConfigOut(req: CanonicalRequest): Obj | undefined {
  const r = req.reasoning;
  if (!r) {
    return undefined;
  }
  const out: Obj = {};
  let budget = r.budgetTokens ?? (r.effort !== undefined ? effortToBudget(r.effort) : undefined);
  if (budget !== undefined) {
    budget = budget < 0 ? -1 : Math.min(Math.floor(budget), maxThinkingBudget(req.model));
    out.thinkingBudget = budget;
  }
  if (r.includeThoughts !== undefined) {
    out.includeThoughts = r.includeThoughts;
  }
  return Object.keys(out).length > 0 ? out : undefined;
}

/**
 * A tool result → `functionResponse.response`, which must be an object: result text that is a JSON
 * object is sent as that object; anything else goes under `output` (or `error` for a failed call),
 * the keys Gemini documents.
 */
function responseOut(p: ToolResultPart): Obj {
  const text = p.content
    .filter((c): c is TextPart => c.type === 'text')
    .map((c) => c.text)
    .join('');
  let value: unknown = text;
  try {
    value = JSON.parse(text);
  } catch {
    // plain text
  }
  if (isObj(value) && (!p.isError || 'error' in value)) {
    return value;
  }
  return { [p.isError ? 'error' : 'output']: value };
}

/** A user or tool message → Gemini user-turn parts; function responses first. */
function userPartsOut(parts: Part[], names: Map<string, string>): Obj[] {
  const responses: Obj[] = [];
  const rest: Obj[] = [];
  for (const p of parts) {
    switch (p.type) {
      case 'tool_result':
        responses.push({
          functionResponse: {
            name: p.name ?? names.get(p.toolCallId) ?? p.toolCallId,
            response: responseOut(p),
          },
        });
        // Images a tool returned travel next to its response.
        rest.push(...p.content.filter((c): c is ImagePart => c.type === 'image').map(imagePartOut));
        break;
      case 'text':
        if (p.text !== '') {
          rest.push({ text: p.text });
        }
        break;
      case 'image':
        rest.push(imagePartOut(p));
        break;
      case 'thinking':
      case 'tool_call':
        break;
    }
  }
  return [...responses, ...rest];
}

function contentsOut(messages: CanonicalMessage[]): Obj[] {
  const out: { role: WireRole; parts: Obj[] }[] = [];
  /** Tool-call id → name, for results that do not carry the name. */
  const names = new Map<string, string>();
  for (const m of messages) {
    const role: WireRole = m.role === 'assistant' ? 'model' : 'user';
    let parts: Obj[];
    if (role === 'model') {
      for (const p of m.parts) {
        if (p.type === 'tool_call') {
          names.set(p.id, p.name);
        }
      }
      // Upstream: no made-up ids (Gemini pairs calls and responses by name and order).
      parts = modelPartsOut(m.parts, { thinking: 'drop', ids: false });
    } else {
      parts = userPartsOut(m.parts, names);
    }
    if (parts.length === 0) {
      continue;
    }
    const last = out.at(-1);
    if (last && last.role === role) {
      last.parts.push(...parts);
    } else {
      out.push({ role, parts });
    }
  }
  // Function responses open their user turn, right after the model turn that called.
  for (const c of out) {
    if (c.role === 'user' && c.parts.some((p) => 'functionResponse' in p)) {
      c.parts = [
        ...c.parts.filter((p) => 'functionResponse' in p),
        ...c.parts.filter((p) => !('functionResponse' in p)),
      ];
    }
  }
  return out;
}

function toolConfigOut(choice: ToolChoice): Obj {
  if (typeof choice === 'object') {
    return { functionCallingConfig: { mode: 'ANY', allowedFunctionNames: [choice.name] } };
  }
  const mode = choice === 'auto' ? 'AUTO' : choice === 'required' ? 'ANY' : 'NONE';
  return { functionCallingConfig: { mode } };
}

/** Tool parameters for Gemini: the sanitised schema, always an object schema at the top. */
function parametersOut(t: CanonicalTool): Obj {
  const schema = sanitizeGeminiSchema(t.parameters);
  if (schema.type === undefined && schema.anyOf === undefined) {
    return { type: 'object', properties: {}, ...schema };
  }
  return schema;
}

function responseFormatOut(f: ResponseFormat, config: Obj): void {
  switch (f.type) {
    case 'text':
      config.responseMimeType = 'text/plain';
      return;
    case 'json_object':
      config.responseMimeType = 'application/json';
      return;
    case 'json_schema':
      config.responseMimeType = 'application/json';
      config.responseSchema = sanitizeGeminiSchema(f.schema);
      return;
  }
}

/**
 * Builds the Gemini `GenerateContentRequest` body for a canonical request. Not sent, having no
 * Gemini field: `parallelToolCalls`, `user`, the image `detail`. Thinking from other providers is
 * dropped; Gemini's own (origin `gemini`) goes back with its `thoughtSignature` untouched.
 */
export function toGeminiRequest(req: CanonicalRequest): Record<string, unknown> {
  const body: Obj = { contents: contentsOut(req.messages) };
  const system = req.system.filter((p) => p.text !== '');
  if (system.length > 0) {
    body.systemInstruction = { parts: system.map((p) => ({ text: p.text })) };
  }
  if (req.tools?.length) {
    body.tools = [
      {
        functionDeclarations: req.tools.map((t) => {
          const decl: Obj = { name: t.name };
          if (t.description !== undefined) {
            decl.description = t.description;
          }
          decl.parameters = parametersOut(t);
          return decl;
        }),
      },
    ];
    if (req.toolChoice !== undefined) {
      body.toolConfig = toolConfigOut(req.toolChoice);
    }
  }
  const config: Obj = {};
  if (req.maxTokens !== undefined) {
    config.maxOutputTokens = req.maxTokens;
  }
  if (req.temperature !== undefined) {
    config.temperature = req.temperature;
  }
  if (req.topP !== undefined) {
    config.topP = req.topP;
  }
  if (req.topK !== undefined) {
    config.topK = req.topK;
  }
  if (req.stop?.length) {
    config.stopSequences = req.stop;
  }
  if (req.responseFormat) {
    responseFormatOut(req.responseFormat, config);
  }
  const thinking = thinkingConfigOut(req);
  if (thinking) {
    config.thinkingConfig = thinking;
  }
  if (Object.keys(config).length > 0) {
    body.generationConfig = config;
  }
  return body;
}
