import { createHash } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';

export type SessionSource = 'header' | 'fingerprint';

export interface ResolvedSession {
  id: string;
  source: SessionSource;
}

/** Client-chosen session ids, first present wins (node lower-cases header names). */
export const SESSION_HEADERS = [
  'x-session-id',
  'x-omniroute-session-id',
  'x-claude-code-session-id',
  'x-codex-session-id',
  'session_id',
  'conversation_id',
] as const;

/** The longest id kept as sent (`ext:` + value); longer or unprintable values are hashed. */
const MAX_ID_LENGTH = 64;
const EXT = 'ext:';
/** Printable ASCII: the id is echoed in a response header and used in key-value store keys. */
const PRINTABLE = /^[\x20-\x7e]+$/;

function sha256(s: string): string {
  return createHash('sha256').update(s).digest('hex');
}

/** `ext:<value>`, or `ext:<sha256(value)[:32]>` when that would be longer than 64 characters. */
export function externalId(raw: string): string {
  return EXT.length + raw.length <= MAX_ID_LENGTH && PRINTABLE.test(raw)
    ? EXT + raw
    : EXT + sha256(raw).slice(0, 32);
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** A non-empty trimmed string, else undefined. */
function nonEmpty(v: unknown): string | undefined {
  if (Array.isArray(v)) {
    v = v[0]; // a repeated header
  }
  if (typeof v !== 'string') {
    return undefined;
  }
  const t = v.trim();
  return t ? t : undefined;
}

/**
 * The text of a message's content in any dialect: a string, or parts/blocks carrying `text`
 * (OpenAI `text`, Anthropic `text` blocks, Responses `input_text`, Gemini `parts[].text`).
 */
function textOf(content: unknown): string {
  if (typeof content === 'string') {
    return content;
  }
  if (!Array.isArray(content)) {
    return '';
  }
  const out: string[] = [];
  for (const part of content) {
    if (typeof part === 'string') {
      out.push(part);
    } else if (isObject(part) && typeof part.text === 'string') {
      out.push(part.text);
    }
  }
  return out.join('\n');
}

function arrayOf(v: unknown): unknown[] {
  return Array.isArray(v) ? v : [];
}

/** The first item of `list` whose role is one of `roles` (items without a role count as `user`). */
function firstWithRole(
  list: unknown,
  roles: readonly string[],
  missingRole?: string,
): Record<string, unknown> | undefined {
  for (const m of arrayOf(list)) {
    if (!isObject(m)) {
      continue;
    }
    const role = typeof m.role === 'string' ? m.role : missingRole;
    if (role !== undefined && roles.includes(role)) {
      return m;
    }
  }
  return undefined;
}

const SYSTEM_ROLES = ['system', 'developer'] as const;

/** The system prompt: OpenAI first system/developer message, Anthropic, Responses, Gemini. */
export function systemText(body: Record<string, unknown>): string {
  const first = firstWithRole(body.messages, SYSTEM_ROLES);
  if (first) {
    return textOf(first.content);
  }
  if (body.system !== undefined) {
    return textOf(body.system);
  }
  if (typeof body.instructions === 'string') {
    return body.instructions;
  }
  const inputSystem = firstWithRole(body.input, SYSTEM_ROLES);
  if (inputSystem) {
    return textOf(inputSystem.content);
  }
  const gemini = body.systemInstruction ?? body.system_instruction;
  if (isObject(gemini)) {
    return textOf(gemini.parts);
  }
  return typeof gemini === 'string' ? gemini : '';
}

/** The first user message: OpenAI/Anthropic `messages`, Responses `input`, Gemini `contents`. */
export function firstUserText(body: Record<string, unknown>): string {
  const message = firstWithRole(body.messages, ['user']);
  if (message) {
    return textOf(message.content);
  }
  if (typeof body.input === 'string') {
    return body.input;
  }
  const item = firstWithRole(body.input, ['user']);
  if (item) {
    return textOf(item.content);
  }
  const content = firstWithRole(body.contents, ['user'], 'user');
  if (content) {
    return textOf(content.parts);
  }
  return '';
}

/** Tool names: OpenAI `function.name`, Anthropic/Responses `name`, Gemini declarations. */
export function toolNames(body: Record<string, unknown>): string[] {
  const names: string[] = [];
  for (const t of arrayOf(body.tools)) {
    if (!isObject(t)) {
      continue;
    }
    if (isObject(t.function) && typeof t.function.name === 'string') {
      names.push(t.function.name);
    } else if (typeof t.name === 'string') {
      names.push(t.name);
    }
    for (const d of arrayOf(t.functionDeclarations ?? t.function_declarations)) {
      if (isObject(d) && typeof d.name === 'string') {
        names.push(d.name);
      }
    }
  }
  return names.sort();
}

/**
 * `fp:` + the first 16 hex digits of the SHA-256 of `[model, system text, first user message text,
 * sorted tool names joined with ',']` (as JSON). The same conversation keeps the same id while it
 * grows.
 */
export function fingerprint(body: unknown, model: string): string {
  let sys = '';
  let user0 = '';
  let tools = '';
  if (isObject(body)) {
    try {
      sys = systemText(body);
      user0 = firstUserText(body);
      tools = toolNames(body).join(',');
    } catch {
      /* an odd body: fingerprint what was read */
    }
  }
  // One hash over an unambiguous encoding of the four parts (OmniRoute hashes each part, then
  // the joined digests: five hashes per request on the hot path for the same information).
  return `fp:${sha256(JSON.stringify([model, sys, user0, tools])).slice(0, 16)}`;
}

/**
 * The session of a request: a client-sent id (headers, then body `metadata.session_id` or
 * `prompt_cache_key`; `ext:`-prefixed, source `header`) or the conversation's fingerprint.
 * Synchronous and free of I/O; never throws.
 */
export function resolveSession(
  headers: IncomingHttpHeaders,
  body: unknown,
  model: string,
): ResolvedSession {
  for (const name of SESSION_HEADERS) {
    const v = nonEmpty(headers[name]);
    if (v) {
      return { id: externalId(v), source: 'header' };
    }
  }
  if (isObject(body)) {
    try {
      const v =
        nonEmpty(isObject(body.metadata) ? body.metadata.session_id : undefined) ??
        nonEmpty(body.prompt_cache_key);
      if (v) {
        return { id: externalId(v), source: 'header' };
      }
    } catch {
      /* an odd body: fingerprint it */
    }
  }
  return { id: fingerprint(body, typeof model === 'string' ? model : ''), source: 'fingerprint' };
}
