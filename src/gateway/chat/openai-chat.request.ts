import { AppError } from '@/common/errors/app-error';

export interface ChatCall {
  /** The model string as the client sent it. */
  model: string;
  stream: boolean;
  /** The client asked for a usage chunk in the stream itself. */
  clientWantsStreamUsage: boolean;
  /** The parsed body, unknown fields kept; the upstream body is this with `model`/`stream` set. */
  body: Record<string, unknown>;
}

const STREAM_ALIASES_TRUE = ['streaming'];
const STREAM_ALIASES_FALSE = ['non_stream', 'disable_stream', 'disable_streaming'];

const invalid = (message: string, param: string): AppError =>
  AppError.invalid(message, { param }, 'INVALID_REQUEST');

/**
 * Checks an OpenAI Chat Completions body by hand (no class-validator on the hot path) and settles
 * stream negotiation (reference §2): `stream` in the body wins; the aliases `streaming`,
 * `non_stream`, `disable_stream(ing)` are honoured then removed; otherwise an `Accept` asking for
 * JSON only means non-stream, and anything else streams (OmniRoute's default).
 */
export function parseChatRequest(body: unknown, accept: string | undefined): ChatCall {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) {
    throw AppError.invalid('Request body must be a JSON object', {}, 'INVALID_JSON');
  }
  const b = body as Record<string, unknown>;
  const model = b.model;
  if (model === undefined || model === null || model === '') {
    throw new AppError('MISSING_MODEL', 'INVALID_INPUT', 'Missing model', { param: 'model' });
  }
  if (typeof model !== 'string') {
    throw invalid('model must be a string', 'model');
  }
  if (model.length > 300 || model.includes('../') || /[\u0000-\u001f\u007f]/.test(model)) {
    throw new AppError('INVALID_MODEL', 'INVALID_INPUT', 'Invalid model format', {
      param: 'model',
    });
  }
  const messages = b.messages;
  if (!Array.isArray(messages) || messages.length === 0) {
    throw invalid('messages must be a non-empty array', 'messages');
  }
  for (let i = 0; i < messages.length; i++) {
    const m = messages[i] as unknown;
    if (m === null || typeof m !== 'object' || Array.isArray(m)) {
      throw invalid(`messages[${i}] must be an object`, `messages[${i}]`);
    }
    const role = (m as Record<string, unknown>).role;
    if (typeof role !== 'string' || !role) {
      throw invalid(`messages[${i}].role must be a non-empty string`, `messages[${i}].role`);
    }
    const content = (m as Record<string, unknown>).content;
    if (
      content !== undefined &&
      content !== null &&
      typeof content !== 'string' &&
      !Array.isArray(content)
    ) {
      throw invalid(
        `messages[${i}].content must be a string or an array of content parts`,
        `messages[${i}].content`,
      );
    }
  }
  for (const k of [
    'temperature',
    'top_p',
    'max_tokens',
    'max_completion_tokens',
    'n',
    'presence_penalty',
    'frequency_penalty',
  ] as const) {
    const v = b[k];
    if (v !== undefined && v !== null && (typeof v !== 'number' || !Number.isFinite(v))) {
      throw invalid(`${k} must be a number`, k);
    }
  }
  if (b.tools !== undefined && b.tools !== null && !Array.isArray(b.tools)) {
    throw invalid('tools must be an array', 'tools');
  }
  if (
    b.stream_options !== undefined &&
    b.stream_options !== null &&
    (typeof b.stream_options !== 'object' || Array.isArray(b.stream_options))
  ) {
    throw invalid('stream_options must be an object', 'stream_options');
  }

  let stream: boolean | undefined;
  if (b.stream !== undefined && b.stream !== null) {
    if (typeof b.stream !== 'boolean') {
      throw invalid('stream must be a boolean', 'stream');
    }
    stream = b.stream;
  }
  for (const k of STREAM_ALIASES_TRUE) {
    if (k in b) {
      if (stream === undefined && typeof b[k] === 'boolean') {
        stream = b[k];
      }
      delete b[k];
    }
  }
  for (const k of STREAM_ALIASES_FALSE) {
    if (k in b) {
      if (stream === undefined && b[k] === true) {
        stream = false;
      }
      delete b[k];
    }
  }
  if (stream === undefined) {
    const a = (accept ?? '').toLowerCase();
    stream = !(a.includes('application/json') && !a.includes('text/event-stream'));
  }
  b.stream = stream;
  const so = b.stream_options as { include_usage?: unknown } | undefined | null;
  const clientWantsStreamUsage = Boolean(so && so.include_usage === true);
  if (!stream && 'stream_options' in b) {
    delete b.stream_options; // OpenAI rejects stream_options on non-stream requests
  }
  return { model, stream, clientWantsStreamUsage, body: b };
}
