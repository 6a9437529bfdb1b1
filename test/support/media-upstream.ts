/**
 * A fake upstream speaking the NATIVE APIs of the embedding / image / speech-to-text providers the
 * gateway routes to, for e2e tests. One server plays every provider: each route lives under a
 * per-provider prefix (a connection's base URL is e.g. `${url}/openai/v1`).
 *
 *   GET  /{openai|xai|together|mistral|nebius|nvidia|groq}/v1/models   OpenAI model list
 *   GET  /fireworks/inference/v1/models                                 OpenAI model list
 *   POST /{openai|together|mistral|nebius|nvidia}/v1/embeddings         embeddings
 *   POST /fireworks/inference/v1/embeddings                             embeddings
 *   POST /{openai|xai|together}/v1/images/generations                   images, native body each
 *   POST /fireworks/inference/v1/workflows/accounts/{acct}/models/{model}/text_to_image
 *   POST /{openai|groq|nvidia}/v1/audio/transcriptions                  multipart STT
 *   POST /deepgram/v1/listen?model=...                                  raw audio (or JSON {url})
 *   GET  /deepgram/v1/models                                            {stt:[...], tts:[]}
 *   POST /assemblyai/v2/upload                                          raw audio → {upload_url}
 *   POST /assemblyai/v2/transcript                                      submit (JSON)
 *   GET  /assemblyai/v2/transcript/{id}                                 poll
 *   GET  /assemblyai/v2/transcript?limit=n                              list
 *   GET  /assemblyai/files/{id}                                         the uploaded bytes (no auth)
 *
 * Auth: Bearer `<apiKey>` for the OpenAI-style flavors and fireworks, `Token <apiKey>` for
 * deepgram, the raw key in `authorization` for assemblyai; wrong/missing → 401 in the flavor's
 * error shape (see `errorPayload`). Anything unrouted → 404 in the flavor's shape.
 *
 * Faults, picked by the model name or its last `/` segment (deepgram: the `model` query param;
 * assemblyai: `speech_model` of the submit body; fireworks images: the `{model}` path segment):
 * - `fail-<status>` (4xx/5xx): that status, the flavor's error shape; 429 adds `retry-after: 1`.
 * - `flaky-<n>`: the first n requests with that exact model name (counted server-wide, whatever the
 *   flavor) answer 500; later ones succeed.
 * - `hang`: no answer until the client goes away or `close()`.
 * - assemblyai only, `error-transcript`: the transcript ends with `status:'error'`.
 *
 * Outputs are deterministic (vectors from a hash of the input, ids from per-server counters); only
 * `created` timestamps follow the clock. Used from jest:
 * `import { startMediaUpstream } from '../support/media-upstream';`
 */
import { createHash } from 'node:crypto';
import {
  STATUS_CODES,
  type IncomingHttpHeaders,
  type IncomingMessage,
  type ServerResponse,
} from 'node:http';
import { listenLoopback } from './loopback-server';

export interface MediaUpstreamOptions {
  /** The key every authenticated route needs. Default `'sk-media'`. */
  apiKey?: string;
  /** AssemblyAI: polls answered `queued`/`processing` before `completed`. Default 2. */
  pollsBeforeDone?: number;
}

export interface MediaRecorded {
  method: string;
  /** Path without the query, e.g. `/openai/v1/embeddings`. */
  path: string;
  /** Query parameters (last value wins when repeated). */
  query: Record<string, string>;
  headers: IncomingHttpHeaders;
  /** The parsed body when it was JSON. */
  json?: unknown;
  raw: Buffer;
  /** `multipart/form-data` bodies: field values (repeated names joined with `,`) and file metadata. */
  multipart?: {
    fields: Record<string, string>;
    files: Record<string, { filename: string; contentType: string; size: number }>;
  };
}

export interface MediaUpstream {
  /** `http://127.0.0.1:PORT` */
  url: string;
  /** Every request received (rejected and hung ones included), oldest first. Same array across `reset()`. */
  requests: MediaRecorded[];
  /** Clears `requests`, the flaky counters, the AssemblyAI uploads/transcripts and the id counters. */
  reset(): void;
  /** Number of recorded requests whose path starts with `pathPrefix`. */
  hits(pathPrefix: string): number;
  /** Stops listening and destroys every socket (hung ones included). Idempotent. */
  close(): Promise<void>;
}

export const MEDIA_FLAVORS = [
  'openai',
  'xai',
  'together',
  'mistral',
  'nebius',
  'nvidia',
  'fireworks',
  'deepgram',
  'assemblyai',
  'groq',
] as const;
export type MediaFlavor = (typeof MEDIA_FLAVORS)[number];

/** A valid 1x1 RGBA PNG. */
export const TINY_PNG: Buffer = Buffer.from(
  'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==',
  'base64',
);

/** Default ids of each flavor's model list. */
export const MEDIA_MODELS: Readonly<Record<MediaFlavor, readonly string[]>> = {
  openai: [
    'text-embedding-3-small',
    'text-embedding-3-large',
    'dall-e-3',
    'gpt-image-1',
    'whisper-1',
    'gpt-4o-transcribe',
  ],
  xai: ['grok-2-image-1212', 'grok-2-image'],
  together: [
    'BAAI/bge-large-en-v1.5',
    'togethercomputer/m2-bert-80M-8k-retrieval',
    'black-forest-labs/FLUX.1-schnell',
  ],
  mistral: ['mistral-embed', 'codestral-embed'],
  nebius: ['BAAI/bge-en-icl', 'Qwen/Qwen3-Embedding-8B'],
  nvidia: ['nvidia/nv-embedqa-e5-v5', 'nvidia/llama-3.2-nv-embedqa-1b-v2', 'baai/bge-m3'],
  fireworks: [
    'accounts/fireworks/models/nomic-embed-text-v1.5',
    'accounts/fireworks/models/flux-1-schnell-fp8',
  ],
  deepgram: ['nova-3', 'nova-2'],
  assemblyai: ['universal', 'slam-1'],
  groq: ['whisper-large-v3', 'whisper-large-v3-turbo'],
};

// ------------------------------------------------------------------------------------------------
// WAV helpers

/** A valid PCM16 mono WAV (RIFF header + 440 Hz sine samples) of `seconds` at `sampleRate`. */
export function makeWav(seconds: number, sampleRate = 8000): Buffer {
  if (!Number.isFinite(seconds) || seconds < 0) {
    throw new Error('makeWav: seconds must be a number >= 0');
  }
  if (!Number.isInteger(sampleRate) || sampleRate <= 0) {
    throw new Error('makeWav: sampleRate must be a positive integer');
  }
  const samples = Math.round(seconds * sampleRate);
  const dataSize = samples * 2;
  const buf = Buffer.alloc(44 + dataSize);
  buf.write('RIFF', 0, 'ascii');
  buf.writeUInt32LE(36 + dataSize, 4);
  buf.write('WAVE', 8, 'ascii');
  buf.write('fmt ', 12, 'ascii');
  buf.writeUInt32LE(16, 16); // fmt chunk size
  buf.writeUInt16LE(1, 20); // PCM
  buf.writeUInt16LE(1, 22); // mono
  buf.writeUInt32LE(sampleRate, 24);
  buf.writeUInt32LE(sampleRate * 2, 28); // byte rate
  buf.writeUInt16LE(2, 32); // block align
  buf.writeUInt16LE(16, 34); // bits per sample
  buf.write('data', 36, 'ascii');
  buf.writeUInt32LE(dataSize, 40);
  for (let i = 0; i < samples; i++) {
    const v = Math.round(Math.sin((2 * Math.PI * 440 * i) / sampleRate) * 0.3 * 32767);
    buf.writeInt16LE(v, 44 + i * 2);
  }
  return buf;
}

/**
 * Duration in seconds of a RIFF/WAVE buffer (data size / byte rate; a data chunk claiming more
 * bytes than present counts what is present), or undefined when it is not one.
 */
export function wavDuration(buf: Buffer): number | undefined {
  if (
    buf.length < 12 ||
    buf.toString('ascii', 0, 4) !== 'RIFF' ||
    buf.toString('ascii', 8, 12) !== 'WAVE'
  ) {
    return undefined;
  }
  let byteRate: number | undefined;
  let pos = 12;
  while (pos + 8 <= buf.length) {
    const id = buf.toString('ascii', pos, pos + 4);
    const size = buf.readUInt32LE(pos + 4);
    const body = pos + 8;
    if (id === 'fmt ') {
      if (size < 16 || body + 16 > buf.length) {
        return undefined;
      }
      byteRate = buf.readUInt32LE(body + 8);
    } else if (id === 'data') {
      if (!byteRate) {
        return undefined;
      }
      return Math.min(size, buf.length - body) / byteRate;
    }
    pos = body + size + (size % 2);
  }
  return undefined;
}

// ------------------------------------------------------------------------------------------------
// Multipart

interface Part {
  name: string;
  filename?: string;
  contentType?: string;
  data: Buffer;
}

/** Parses a `multipart/form-data` body; undefined when it is malformed. */
function parseMultipart(raw: Buffer, contentType: string): Part[] | undefined {
  const m = /boundary=(?:"([^"]+)"|([^;\s]+))/i.exec(contentType);
  const boundaryText = m?.[1] ?? m?.[2];
  if (!boundaryText) {
    return undefined;
  }
  const boundary = Buffer.from(`--${boundaryText}`, 'latin1');
  const delimiter = Buffer.from(`\r\n--${boundaryText}`, 'latin1');
  const parts: Part[] = [];
  let pos = raw.indexOf(boundary);
  if (pos < 0) {
    return undefined;
  }
  for (;;) {
    pos += boundary.length;
    if (raw[pos] === 0x2d && raw[pos + 1] === 0x2d) {
      return parts; // closing delimiter
    }
    const lineEnd = raw.indexOf('\r\n', pos, 'latin1');
    if (lineEnd < 0) {
      return undefined;
    }
    const headerStart = lineEnd + 2;
    const headerEnd = raw.indexOf('\r\n\r\n', headerStart, 'latin1');
    if (headerEnd < 0) {
      return undefined;
    }
    const dataStart = headerEnd + 4;
    const next = raw.indexOf(delimiter, dataStart);
    if (next < 0) {
      return undefined;
    }
    const headers = raw.subarray(headerStart, headerEnd).toString('utf8').split('\r\n');
    let name: string | undefined;
    let filename: string | undefined;
    let partType: string | undefined;
    for (const line of headers) {
      const colon = line.indexOf(':');
      if (colon < 0) {
        continue;
      }
      const key = line.slice(0, colon).trim().toLowerCase();
      const value = line.slice(colon + 1).trim();
      if (key === 'content-disposition') {
        name =
          /(?:^|;)\s*name="((?:[^"\\]|\\.)*)"/i.exec(value)?.[1] ??
          /(?:^|;)\s*name=([^;\s]+)/i.exec(value)?.[1];
        const extended = /(?:^|;)\s*filename\*=(?:UTF-8)?''([^;\s]+)/i.exec(value)?.[1];
        filename =
          /(?:^|;)\s*filename="((?:[^"\\]|\\.)*)"/i.exec(value)?.[1] ??
          /(?:^|;)\s*filename=([^;\s]+)/i.exec(value)?.[1];
        if (extended !== undefined) {
          try {
            filename = decodeURIComponent(extended);
          } catch {
            filename ??= extended;
          }
        }
      } else if (key === 'content-type') {
        partType = value;
      }
    }
    if (name === undefined) {
      return undefined;
    }
    parts.push({ name, filename, contentType: partType, data: raw.subarray(dataStart, next) });
    pos = next + 2;
  }
}

// ------------------------------------------------------------------------------------------------
// Error bodies

const FAIL_STATUS_RE = /^fail-([45]\d\d)$/;
const FLAKY_RE = /^flaky-([1-9]\d*)$/;

/** The fault a model name selects (itself or its last `/` segment), or null. */
function faultOf(model: string): string | null {
  const last = model.slice(model.lastIndexOf('/') + 1);
  for (const name of [model, last]) {
    if (
      name === 'hang' ||
      name === 'error-transcript' ||
      FAIL_STATUS_RE.test(name) ||
      FLAKY_RE.test(name)
    ) {
      return name;
    }
  }
  return null;
}

const OPENAI_CODES: Record<number, [string, string | null]> = {
  400: ['invalid_request_error', null],
  401: ['invalid_request_error', 'invalid_api_key'],
  402: ['billing_error', 'payment_required'],
  403: ['permission_error', 'forbidden'],
  404: ['invalid_request_error', 'not_found'],
  409: ['invalid_request_error', 'conflict'],
  413: ['invalid_request_error', 'request_too_large'],
  422: ['invalid_request_error', 'unprocessable_entity'],
  429: ['rate_limit_error', 'rate_limit_exceeded'],
  500: ['server_error', 'internal_server_error'],
  502: ['server_error', 'bad_gateway'],
  503: ['server_error', 'service_unavailable'],
  504: ['server_error', 'gateway_timeout'],
};

function openAiTypeCode(status: number): [string, string | null] {
  return OPENAI_CODES[status] ?? [status >= 500 ? 'server_error' : 'invalid_request_error', null];
}

/** xAI's `code` strings (gRPC status descriptions). */
function xaiCode(status: number): string {
  switch (status) {
    case 401:
      return 'The request does not have valid authentication credentials for the operation.';
    case 403:
      return 'The caller does not have permission to execute the specified operation.';
    case 404:
      return 'Some requested entity was not found.';
    case 429:
      return 'Some resource has been exhausted.';
    case 503:
      return 'The service is currently unavailable.';
    default:
      return status >= 500 ? 'Internal error' : 'Client specified an invalid argument';
  }
}

function deepgramCode(status: number): string {
  switch (status) {
    case 400:
      return 'Bad Request';
    case 401:
      return 'INVALID_AUTH';
    case 402:
      return 'ASR_PAYMENT_REQUIRED';
    case 403:
      return 'INSUFFICIENT_PERMISSIONS';
    case 404:
      return 'NOT_FOUND';
    case 429:
      return 'TOO_MANY_REQUESTS';
    default:
      return status >= 500 ? 'INTERNAL_SERVER_ERROR' : 'Bad Request';
  }
}

interface ErrorExtra {
  type?: string;
  code?: string | null;
  param?: string | null;
  /** Deepgram's `err_code` (default: from the status). */
  dgCode?: string;
}

/**
 * The error body of a flavor:
 * - openai, groq, together, nebius, nvidia (and unknown prefixes): `{error:{message,type,param,code}}`
 * - fireworks: `{error:{object:'error',type,code,message}}`
 * - mistral: `{object:'error',message,type,param,code}`
 * - xai: `{code,error}` (code: a gRPC status description)
 * - deepgram: `{err_code,err_msg,request_id}`
 * - assemblyai: `{error}`
 */
function errorPayload(
  flavor: MediaFlavor | null,
  status: number,
  message: string,
  requestId: string,
  extra: ErrorExtra = {},
): unknown {
  const [defType, defCode] = openAiTypeCode(status);
  const type = extra.type ?? defType;
  const code = extra.code !== undefined ? extra.code : defCode;
  switch (flavor) {
    case 'xai':
      return { code: xaiCode(status), error: message };
    case 'deepgram':
      return {
        err_code: extra.dgCode ?? deepgramCode(status),
        err_msg: message,
        request_id: requestId,
      };
    case 'assemblyai':
      return { error: message };
    case 'mistral':
      return { object: 'error', message, type, param: extra.param ?? null, code };
    case 'fireworks':
      return { error: { object: 'error', type, code, message } };
    case 'openai':
    case 'groq':
    case 'together':
    case 'nebius':
    case 'nvidia':
    case null:
      return { error: { message, type, param: extra.param ?? null, code } };
  }
}

// ------------------------------------------------------------------------------------------------
// Deterministic outputs

/** `dim` float32-exact values in [-1, 1] from a hash of `key`. */
function vectorOf(key: string, dim: number): number[] {
  const out: number[] = [];
  for (let block = 0; out.length < dim; block++) {
    const h = createHash('sha256').update(`${key}#${block}`).digest();
    for (let i = 0; i + 4 <= h.length && out.length < dim; i += 4) {
      out.push(Math.fround((h.readUInt32LE(i) / 0xffffffff) * 2 - 1));
    }
  }
  return out;
}

function float32Base64(values: number[]): string {
  const f = new Float32Array(values);
  return Buffer.from(f.buffer, f.byteOffset, f.byteLength).toString('base64');
}

function mockUuid(n: number, tag = 0): string {
  return `00000000-0000-4${tag.toString(16).padStart(3, '0')}-8000-${n.toString(16).padStart(12, '0')}`;
}

const DEEPGRAM_MODEL_UUID = '2187e11a-3532-4498-b076-81fa530bdd49';
const MODEL_CREATED = 1715367049;
const IMAGE_ASPECT_RATIOS = ['1:1', '21:9', '16:9', '3:2', '5:4', '4:5', '2:3', '9:16', '9:21'];
const FIREWORKS_IMAGE_FIELDS = new Set([
  'prompt',
  'aspect_ratio',
  'guidance_scale',
  'num_inference_steps',
  'seed',
]);

interface TimedWord {
  word: string;
  start: number;
  end: number;
}

/** The words of `text` spread evenly over `duration` seconds. */
function timedWords(text: string, duration: number): TimedWord[] {
  const words = text.split(/\s+/).filter(Boolean);
  const step = duration / Math.max(1, words.length);
  return words.map((word, i) => ({
    word,
    start: Math.round(i * step * 1000) / 1000,
    end: Math.round((i + 1) * step * 1000) / 1000,
  }));
}

function subtitleTime(seconds: number, sep: ',' | '.'): string {
  const ms = Math.round(seconds * 1000);
  const h = Math.floor(ms / 3_600_000);
  const m = Math.floor((ms % 3_600_000) / 60_000);
  const s = Math.floor((ms % 60_000) / 1000);
  const pad = (n: number, w = 2): string => String(n).padStart(w, '0');
  return `${pad(h)}:${pad(m)}:${pad(s)}${sep}${pad(ms % 1000, 3)}`;
}

type Obj = Record<string, unknown>;

function isObj(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function isPosInt(v: unknown): v is number {
  return typeof v === 'number' && Number.isInteger(v) && v > 0;
}

/** An embeddings `input` as a list of items (strings or token arrays), or an error message. */
function embeddingItems(input: unknown): Array<string | number[]> | string {
  const isTokens = (v: unknown): v is number[] =>
    Array.isArray(v) &&
    v.length > 0 &&
    v.every((t) => typeof t === 'number' && Number.isInteger(t));
  if (input === undefined || input === null) {
    return "'input' is a required property";
  }
  if (typeof input === 'string') {
    return input.length > 0 ? [input] : "'input' must not be empty";
  }
  if (!Array.isArray(input)) {
    return "'input' must be a string, an array of strings or an array of token arrays";
  }
  if (input.length === 0) {
    return "'input' must not be empty";
  }
  if (isTokens(input)) {
    return [input];
  }
  const items: Array<string | number[]> = [];
  for (const item of input) {
    if (typeof item === 'string' && item.length > 0) {
      items.push(item);
    } else if (isTokens(item)) {
      items.push(item);
    } else {
      return "'input' items must be non-empty strings or token arrays";
    }
  }
  return items;
}

// ------------------------------------------------------------------------------------------------

interface Upload {
  bytes: Buffer;
}

interface Transcript {
  id: string;
  audioUrl: string;
  speechModel: string | null;
  languageCode: string | null;
  languageDetection: boolean;
  polls: number;
  /** Seconds, or undefined when the audio is not one of our uploads. */
  duration: number | undefined;
  failed: boolean;
}

interface Ctx {
  req: IncomingMessage;
  res: ServerResponse;
  method: string;
  flavor: MediaFlavor | null;
  /** Path after the flavor prefix (fireworks: after `/fireworks/inference`), e.g. `/v1/embeddings`. */
  sub: string;
  query: Record<string, string>;
  raw: Buffer;
  json: unknown;
  badJson: boolean;
  parts?: Part[];
  requestId: string;
}

const OPENAI_LIKE: ReadonlySet<MediaFlavor> = new Set<MediaFlavor>([
  'openai',
  'xai',
  'together',
  'mistral',
  'nebius',
  'nvidia',
  'groq',
]);
const EMBED_FLAVORS: ReadonlySet<MediaFlavor> = new Set<MediaFlavor>([
  'openai',
  'together',
  'mistral',
  'nebius',
  'nvidia',
  'fireworks',
]);
const IMAGE_FLAVORS: ReadonlySet<MediaFlavor> = new Set<MediaFlavor>(['openai', 'xai', 'together']);
const STT_FLAVORS: ReadonlySet<MediaFlavor> = new Set<MediaFlavor>(['openai', 'groq', 'nvidia']);

/** Starts the media upstream on 127.0.0.1, random port. */
export async function startMediaUpstream(opts: MediaUpstreamOptions = {}): Promise<MediaUpstream> {
  const apiKey = opts.apiKey ?? 'sk-media';
  const pollsBeforeDone = opts.pollsBeforeDone ?? 2;
  if (!Number.isInteger(pollsBeforeDone) || pollsBeforeDone < 0) {
    throw new Error('media upstream option pollsBeforeDone must be an integer >= 0');
  }
  const requests: MediaRecorded[] = [];
  const flaky = new Map<string, number>();
  const uploads = new Map<string, Upload>();
  const transcripts = new Map<string, Transcript>();
  let seq = 0;
  let url = '';

  function send(
    res: ServerResponse,
    status: number,
    body: string | Buffer,
    contentType: string,
    headers: Record<string, string> = {},
  ): void {
    res.writeHead(status, {
      'content-type': contentType,
      'content-length': String(Buffer.byteLength(body)),
      ...headers,
    });
    res.end(body);
  }

  function sendJson(
    res: ServerResponse,
    status: number,
    body: unknown,
    headers: Record<string, string> = {},
  ): void {
    send(res, status, JSON.stringify(body), 'application/json', headers);
  }

  function fail(
    ctx: Ctx,
    status: number,
    message: string,
    extra: ErrorExtra = {},
    headers: Record<string, string> = {},
  ): void {
    const h = { ...headers };
    if (ctx.flavor === 'deepgram') {
      h['dg-request-id'] = ctx.requestId;
    }
    sendJson(ctx.res, status, errorPayload(ctx.flavor, status, message, ctx.requestId, extra), h);
  }

  /** Answers a fault selected by `model`; true when the request was taken care of. */
  function applyFault(ctx: Ctx, model: string): boolean {
    const fault = faultOf(model);
    if (fault === null || fault === 'error-transcript') {
      return false;
    }
    if (fault === 'hang') {
      return true;
    }
    const fs = FAIL_STATUS_RE.exec(fault);
    if (fs) {
      const status = Number(fs[1]);
      const phrase = STATUS_CODES[status] ?? 'Error';
      fail(
        ctx,
        status,
        `Upstream answered ${status} ${phrase}. (media ${fault})`,
        {},
        status === 429 ? { 'retry-after': '1' } : {},
      );
      return true;
    }
    const fl = FLAKY_RE.exec(fault);
    if (fl) {
      const n = Number(fl[1]);
      const seen = (flaky.get(model) ?? 0) + 1;
      flaky.set(model, seen);
      if (seen <= n) {
        fail(
          ctx,
          500,
          `The server had an error while processing your request. (media ${fault}: failure ${seen} of ${n})`,
        );
        return true;
      }
    }
    return false;
  }

  /** 401 unless the request carries the flavor's credentials; true when it was rejected. */
  function rejectAuth(ctx: Ctx): boolean {
    const auth = ctx.req.headers.authorization;
    const flavor = ctx.flavor;
    if (flavor === null) {
      return false;
    }
    if (flavor === 'deepgram') {
      const m = typeof auth === 'string' ? /^Token\s+(\S+)\s*$/i.exec(auth) : null;
      if (m?.[1] === apiKey) {
        return false;
      }
      fail(ctx, 401, 'Invalid credentials.', { dgCode: 'INVALID_AUTH' });
      return true;
    }
    if (flavor === 'assemblyai') {
      if (auth === apiKey) {
        return false;
      }
      fail(ctx, 401, 'Authentication error, API token missing/invalid');
      return true;
    }
    const m = typeof auth === 'string' ? /^Bearer\s+(\S+)\s*$/i.exec(auth) : null;
    if (m?.[1] === apiKey) {
      return false;
    }
    const message = m
      ? 'Incorrect API key provided. (media)'
      : "You didn't provide an API key. You need to provide your API key in an Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).";
    fail(ctx, 401, message, { type: 'invalid_request_error', code: 'invalid_api_key' });
    return true;
  }

  function notFound(ctx: Ctx): void {
    fail(ctx, 404, `Invalid URL (${ctx.method} ${ctx.req.url ?? '/'})`, { code: 'unknown_url' });
  }

  /** The JSON object body, or undefined after answering 400 when there is none. */
  function requireObject(ctx: Ctx): Obj | undefined {
    if (ctx.badJson || !isObj(ctx.json)) {
      fail(ctx, 400, 'The request body is not a valid JSON object.');
      return undefined;
    }
    return ctx.json;
  }

  // ---- models -----------------------------------------------------------------------------------

  function models(ctx: Ctx, flavor: MediaFlavor): void {
    sendJson(ctx.res, 200, {
      object: 'list',
      data: MEDIA_MODELS[flavor].map((id) => ({
        id,
        object: 'model',
        created: MODEL_CREATED,
        owned_by: flavor,
      })),
    });
  }

  // ---- embeddings -------------------------------------------------------------------------------

  function embeddings(ctx: Ctx, flavor: MediaFlavor): void {
    const body = requireObject(ctx);
    if (!body) {
      return;
    }
    const model = body.model;
    if (typeof model !== 'string' || model.length === 0) {
      fail(ctx, flavor === 'mistral' ? 422 : 400, 'you must provide a model parameter');
      return;
    }
    if (applyFault(ctx, model)) {
      return;
    }
    if (flavor === 'mistral') {
      if (body.dimensions !== undefined) {
        fail(ctx, 422, 'Extra inputs are not permitted: dimensions');
        return;
      }
      if (body.encoding_format === 'base64') {
        fail(ctx, 422, "Input should be 'float': encoding_format");
        return;
      }
    }
    const items = embeddingItems(body.input);
    if (typeof items === 'string') {
      fail(ctx, flavor === 'mistral' ? 422 : 400, items, { param: 'input' });
      return;
    }
    const format = body.encoding_format ?? 'float';
    if (format !== 'float' && format !== 'base64') {
      fail(ctx, 400, "'encoding_format' must be one of 'float', 'base64'", {
        param: 'encoding_format',
      });
      return;
    }
    const dimField = flavor === 'mistral' ? 'output_dimension' : 'dimensions';
    const dimValue = body[dimField];
    if (dimValue !== undefined && dimValue !== null && !isPosInt(dimValue)) {
      fail(ctx, flavor === 'mistral' ? 422 : 400, `'${dimField}' must be a positive integer`, {
        param: dimField,
      });
      return;
    }
    if (flavor === 'nvidia') {
      const inputType = body.input_type;
      if (inputType === undefined && /embedqa|nv-embed/i.test(model)) {
        fail(ctx, 400, "'input_type' parameter is required", { param: 'input_type' });
        return;
      }
      if (inputType !== undefined && inputType !== 'query' && inputType !== 'passage') {
        fail(ctx, 400, "'input_type' must be one of 'query', 'passage'", { param: 'input_type' });
        return;
      }
    }
    const dim = isPosInt(dimValue) ? dimValue : 8;
    let promptTokens = 0;
    const data = items.map((item, index) => {
      const key = typeof item === 'string' ? `s:${item}` : `t:${item.join(',')}`;
      promptTokens += typeof item === 'string' ? Math.ceil(item.length / 4) : item.length;
      const vector = vectorOf(key, dim);
      return {
        object: 'embedding',
        index,
        embedding: format === 'base64' ? float32Base64(vector) : vector,
      };
    });
    sendJson(ctx.res, 200, {
      ...(flavor === 'mistral' ? { id: `emb-${mockUuid(++seq).slice(-12)}` } : {}),
      object: 'list',
      data,
      model,
      usage: { prompt_tokens: promptTokens, total_tokens: promptTokens },
    });
  }

  // ---- images -----------------------------------------------------------------------------------

  function images(ctx: Ctx, flavor: MediaFlavor): void {
    const body = requireObject(ctx);
    if (!body) {
      return;
    }
    const model = body.model;
    if (typeof model !== 'string' || model.length === 0) {
      fail(ctx, 400, 'you must provide a model parameter', { param: 'model' });
      return;
    }
    if (applyFault(ctx, model)) {
      return;
    }
    const prompt = body.prompt;
    if (typeof prompt !== 'string' || prompt.length === 0) {
      fail(ctx, 400, "'prompt' is a required property and must be a non-empty string", {
        param: 'prompt',
      });
      return;
    }
    const n = body.n ?? 1;
    if (!isPosInt(n) || n > 10) {
      fail(ctx, 400, "'n' must be an integer between 1 and 10", { param: 'n' });
      return;
    }
    const format = body.response_format;
    const created = Math.floor(Date.now() / 1000);
    const b64 = TINY_PNG.toString('base64');

    if (flavor === 'together') {
      for (const bad of ['size', 'quality']) {
        if (body[bad] !== undefined) {
          fail(ctx, 400, `Unknown parameter: '${bad}'. Use 'width' and 'height'.`, { param: bad });
          return;
        }
      }
      if (format !== undefined && format !== 'url' && format !== 'base64') {
        fail(
          ctx,
          400,
          `Invalid response_format ${JSON.stringify(format)}: must be 'url' or 'base64'`,
          {
            param: 'response_format',
          },
        );
        return;
      }
      for (const k of ['width', 'height', 'steps']) {
        if (body[k] !== undefined && !isPosInt(body[k])) {
          fail(ctx, 400, `'${k}' must be a positive integer`, { param: k });
          return;
        }
      }
      sendJson(ctx.res, 200, {
        id: `img-mock-${++seq}`,
        model,
        object: 'list',
        data: Array.from({ length: n }, (_, index) =>
          format === 'base64'
            ? { index, b64_json: b64, type: null, timings: { inference: 0.1 } }
            : { index, url: `https://images.mock/together/${index}.png`, type: null },
        ),
      });
      return;
    }

    if (flavor === 'xai') {
      for (const bad of ['size', 'quality', 'style']) {
        if (body[bad] !== undefined) {
          fail(ctx, 400, `Argument not supported: ${bad}`);
          return;
        }
      }
      if (format !== undefined && format !== 'url' && format !== 'b64_json') {
        fail(ctx, 400, `Invalid response_format: ${JSON.stringify(format)}`);
        return;
      }
      sendJson(ctx.res, 200, {
        created,
        data: Array.from({ length: n }, (_, i) =>
          format === 'b64_json'
            ? { b64_json: b64, revised_prompt: `A mock image of: ${prompt}` }
            : {
                url: `https://images.mock/xai/${i}.png`,
                revised_prompt: `A mock image of: ${prompt}`,
              },
        ),
      });
      return;
    }

    // openai
    const gptImage = model.startsWith('gpt-image');
    if (gptImage && format !== undefined) {
      fail(ctx, 400, "Unknown parameter: 'response_format'.", {
        param: 'response_format',
        code: 'unknown_parameter',
      });
      return;
    }
    if (format !== undefined && format !== 'url' && format !== 'b64_json') {
      fail(
        ctx,
        400,
        `Invalid value: ${JSON.stringify(format)}. Supported values are: 'url' and 'b64_json'.`,
        {
          param: 'response_format',
          code: 'invalid_value',
        },
      );
      return;
    }
    if (model === 'dall-e-3' && n > 1) {
      fail(ctx, 400, 'You must provide n=1 for this model.', { param: 'n' });
      return;
    }
    for (const k of ['size', 'quality', 'style']) {
      if (body[k] !== undefined && typeof body[k] !== 'string') {
        fail(ctx, 400, `Invalid type for '${k}': expected a string.`, { param: k });
        return;
      }
    }
    if (gptImage) {
      const input = Math.ceil(prompt.length / 4);
      const output = 272 * n;
      sendJson(ctx.res, 200, {
        created,
        data: Array.from({ length: n }, () => ({ b64_json: b64 })),
        usage: {
          input_tokens: input,
          output_tokens: output,
          total_tokens: input + output,
          input_tokens_details: { text_tokens: input, image_tokens: 0 },
        },
      });
      return;
    }
    const revised = model === 'dall-e-3' ? { revised_prompt: `A mock image of: ${prompt}` } : {};
    sendJson(ctx.res, 200, {
      created,
      data: Array.from({ length: n }, (_, i) =>
        format === 'b64_json'
          ? { b64_json: b64, ...revised }
          : { url: `https://images.mock/openai/${i}.png`, ...revised },
      ),
    });
  }

  function fireworksImage(ctx: Ctx, model: string): void {
    if (applyFault(ctx, model)) {
      return;
    }
    const body = requireObject(ctx);
    if (!body) {
      return;
    }
    for (const key of Object.keys(body)) {
      if (!FIREWORKS_IMAGE_FIELDS.has(key)) {
        fail(ctx, 400, `Extra inputs are not permitted: ${key}`, { code: null });
        return;
      }
    }
    if (typeof body.prompt !== 'string' || body.prompt.length === 0) {
      fail(ctx, 400, "'prompt' is required", { code: null });
      return;
    }
    if (
      body.aspect_ratio !== undefined &&
      !IMAGE_ASPECT_RATIOS.includes(body.aspect_ratio as string)
    ) {
      fail(ctx, 400, `aspect_ratio must be one of ${IMAGE_ASPECT_RATIOS.join(', ')}`, {
        code: null,
      });
      return;
    }
    for (const k of ['guidance_scale', 'num_inference_steps', 'seed']) {
      if (body[k] !== undefined && typeof body[k] !== 'number') {
        fail(ctx, 400, `'${k}' must be a number`, { code: null });
        return;
      }
    }
    const seed =
      typeof body.seed === 'number'
        ? body.seed
        : createHash('sha256').update(body.prompt).digest().readUInt32LE(0);
    const accept = (ctx.req.headers.accept ?? '').toLowerCase();
    const at = (t: string): number => {
      const i = accept.indexOf(t);
      return i < 0 ? Infinity : i;
    };
    const pick = [
      ['application/json', at('application/json')],
      ['image/png', at('image/png')],
      ['image/jpeg', at('image/jpeg')],
    ] as const;
    const best = [...pick].sort((a, b) => a[1] - b[1])[0];
    const kind =
      best[1] !== Infinity
        ? best[0]
        : accept === '' || accept.includes('*/*') || accept.includes('image/*')
          ? 'image/jpeg'
          : null;
    if (kind === null) {
      fail(ctx, 400, `Unsupported Accept header: ${accept}`, { code: null });
      return;
    }
    const headers = { 'finish-reason': 'SUCCESS', seed: String(seed) };
    if (kind === 'application/json') {
      sendJson(
        ctx.res,
        200,
        {
          id: mockUuid(++seq, 1),
          base64: [`data:image/png;base64,${TINY_PNG.toString('base64')}`],
          finishReason: 'SUCCESS',
          seed,
        },
        headers,
      );
      return;
    }
    send(ctx.res, 200, TINY_PNG, kind, headers);
  }

  // ---- OpenAI-compatible transcription ----------------------------------------------------------

  function transcriptions(ctx: Ctx): void {
    const parts = ctx.parts;
    if (!parts) {
      fail(
        ctx,
        400,
        "Invalid Content-Type header; expected 'multipart/form-data' with a boundary.",
      );
      return;
    }
    const field = (name: string): string | undefined => {
      const p = parts.find((x) => x.name === name && x.filename === undefined);
      return p?.data.toString('utf8');
    };
    const model = field('model');
    if (!model) {
      fail(ctx, 400, 'you must provide a model parameter', { param: 'model' });
      return;
    }
    if (applyFault(ctx, model)) {
      return;
    }
    const file = parts.find((p) => p.name === 'file');
    if (!file) {
      fail(ctx, 400, "'file' is a required property", { param: 'file' });
      return;
    }
    if (file.data.length === 0) {
      fail(ctx, 400, 'The audio file could not be decoded or its format is not supported.', {
        param: 'file',
        code: 'invalid_value',
      });
      return;
    }
    const format = field('response_format') ?? 'json';
    if (!['json', 'text', 'verbose_json', 'srt', 'vtt'].includes(format)) {
      fail(
        ctx,
        400,
        `Invalid value: '${format}'. Supported values are: 'json', 'text', 'srt', 'verbose_json', and 'vtt'.`,
        {
          param: 'response_format',
          code: 'invalid_value',
        },
      );
      return;
    }
    if (format === 'verbose_json' && !model.includes('whisper')) {
      fail(ctx, 400, `response_format 'verbose_json' is not compatible with model '${model}'`, {
        param: 'response_format',
        code: 'unsupported_value',
      });
      return;
    }
    const filename = file.filename ?? 'audio';
    const text = `Mock transcript of ${filename}.`;
    const duration = wavDuration(file.data) ?? 1;
    switch (format) {
      case 'text':
        send(ctx.res, 200, `${text}\n`, 'text/plain; charset=utf-8');
        return;
      case 'srt':
        send(
          ctx.res,
          200,
          `1\n${subtitleTime(0, ',')} --> ${subtitleTime(duration, ',')}\n${text}\n\n`,
          'text/plain; charset=utf-8',
        );
        return;
      case 'vtt':
        send(
          ctx.res,
          200,
          `WEBVTT\n\n${subtitleTime(0, '.')} --> ${subtitleTime(duration, '.')}\n${text}\n\n`,
          'text/plain; charset=utf-8',
        );
        return;
      case 'verbose_json': {
        const granularities = parts
          .filter(
            (p) => p.name === 'timestamp_granularities[]' || p.name === 'timestamp_granularities',
          )
          .map((p) => p.data.toString('utf8'));
        sendJson(ctx.res, 200, {
          task: 'transcribe',
          language: 'english',
          duration,
          text,
          ...(granularities.includes('word') ? { words: timedWords(text, duration) } : {}),
          segments: [
            {
              id: 0,
              seek: 0,
              start: 0,
              end: duration,
              text,
              tokens: [],
              temperature: 0,
              avg_logprob: -0.1,
              compression_ratio: 1,
              no_speech_prob: 0.01,
            },
          ],
          usage: { type: 'duration', seconds: Math.ceil(duration) },
        });
        return;
      }
      default:
        sendJson(ctx.res, 200, { text, usage: { type: 'duration', seconds: Math.ceil(duration) } });
    }
  }

  // ---- Deepgram ---------------------------------------------------------------------------------

  function deepgramListen(ctx: Ctx): void {
    const model = ctx.query.model ?? 'base';
    if (applyFault(ctx, model)) {
      return;
    }
    const contentType = (ctx.req.headers['content-type'] ?? '').toLowerCase();
    let duration: number;
    if (contentType.includes('application/json')) {
      if (!isObj(ctx.json) || typeof ctx.json.url !== 'string' || ctx.json.url.length === 0) {
        fail(ctx, 400, 'Bad Request: the JSON body must contain a url', { dgCode: 'Bad Request' });
        return;
      }
      duration = 1;
    } else {
      if (ctx.raw.length === 0) {
        fail(ctx, 400, 'Bad Request: failed to process audio: corrupt or unsupported data', {
          dgCode: 'Bad Request',
        });
        return;
      }
      duration = wavDuration(ctx.raw) ?? 1;
    }
    const text = 'Mock transcript of deepgram audio.';
    const formatted = ctx.query.smart_format === 'true' || ctx.query.punctuate === 'true';
    const words = timedWords(text, duration).map((w) => ({
      word: w.word.toLowerCase().replace(/[.,]/g, ''),
      start: w.start,
      end: w.end,
      confidence: 0.99,
      ...(formatted ? { punctuated_word: w.word } : {}),
    }));
    const detect = ctx.query.detect_language === 'true';
    sendJson(
      ctx.res,
      200,
      {
        metadata: {
          transaction_key: 'deprecated',
          request_id: ctx.requestId,
          sha256: createHash('sha256').update(ctx.raw).digest('hex'),
          created: new Date().toISOString(),
          duration,
          channels: 1,
          models: [DEEPGRAM_MODEL_UUID],
          model_info: {
            [DEEPGRAM_MODEL_UUID]: {
              name: `${model}-general`,
              version: '2025-01-01.0',
              arch: model,
            },
          },
        },
        results: {
          channels: [
            {
              ...(detect ? { detected_language: 'en', language_confidence: 0.98 } : {}),
              alternatives: [
                {
                  transcript: formatted ? text : text.toLowerCase().replace(/[.,]/g, ''),
                  confidence: 0.99,
                  words,
                },
              ],
            },
          ],
        },
      },
      { 'dg-request-id': ctx.requestId },
    );
  }

  function deepgramModels(ctx: Ctx): void {
    sendJson(ctx.res, 200, {
      stt: MEDIA_MODELS.deepgram.map((name, i) => ({
        name,
        canonical_name: name,
        architecture: name,
        languages: ['en', 'en-US', 'es', 'fr', 'de'],
        version: '2025-01-01.0',
        uuid: mockUuid(i + 1, 2),
        batch: true,
        streaming: true,
        formatted_output: true,
      })),
      tts: [],
    });
  }

  // ---- AssemblyAI -------------------------------------------------------------------------------

  function transcriptBody(t: Transcript): Obj {
    const base: Obj = {
      id: t.id,
      audio_url: t.audioUrl,
      speech_model: t.speechModel,
      language_code: t.languageCode,
      language_detection: t.languageDetection,
      text: null,
      words: null,
      utterances: null,
      confidence: null,
      audio_duration: null,
      punctuate: true,
      format_text: true,
    };
    t.polls++;
    if (t.polls <= pollsBeforeDone) {
      return { ...base, status: t.polls === 1 ? 'queued' : 'processing' };
    }
    if (t.failed) {
      return { ...base, status: 'error', error: 'mock transcription failed' };
    }
    if (t.duration === undefined) {
      return {
        ...base,
        status: 'error',
        error: `Download error, unable to download ${t.audioUrl}. Please make sure the file exists and is accessible from the internet.`,
      };
    }
    const text = 'Mock transcript of assemblyai audio.';
    const durationMs = t.duration * 1000;
    return {
      ...base,
      status: 'completed',
      text,
      audio_duration: Math.max(1, Math.ceil(t.duration)),
      language_code: t.languageCode ?? 'en_us',
      ...(t.languageDetection ? { language_confidence: 0.98 } : {}),
      confidence: 0.97,
      words: timedWords(text, durationMs / 1000).map((w) => ({
        text: w.word,
        start: Math.round(w.start * 1000),
        end: Math.round(w.end * 1000),
        confidence: 0.97,
        speaker: null,
      })),
    };
  }

  function assemblyAi(ctx: Ctx): void {
    const { method, sub } = ctx;
    if (method === 'POST' && sub === '/v2/upload') {
      if (ctx.raw.length === 0) {
        fail(ctx, 400, 'Upload failed, please try again. The request body is empty.');
        return;
      }
      const id = `${(++seq).toString(16).padStart(8, '0')}-mock-upload`;
      uploads.set(id, { bytes: Buffer.from(ctx.raw) });
      sendJson(ctx.res, 200, { upload_url: `${url}/assemblyai/files/${id}` });
      return;
    }
    if (method === 'POST' && sub === '/v2/transcript') {
      const body = requireObject(ctx);
      if (!body) {
        return;
      }
      const speechModel = typeof body.speech_model === 'string' ? body.speech_model : null;
      if (speechModel !== null && applyFault(ctx, speechModel)) {
        return;
      }
      if (typeof body.audio_url !== 'string' || body.audio_url.length === 0) {
        fail(ctx, 400, 'audio_url is required');
        return;
      }
      const prefix = `${url}/assemblyai/files/`;
      const upload = body.audio_url.startsWith(prefix)
        ? uploads.get(body.audio_url.slice(prefix.length))
        : undefined;
      const t: Transcript = {
        id: mockUuid(++seq, 3),
        audioUrl: body.audio_url,
        speechModel,
        languageCode: typeof body.language_code === 'string' ? body.language_code : null,
        languageDetection: body.language_detection === true,
        polls: 0,
        duration: upload ? (wavDuration(upload.bytes) ?? 1) : undefined,
        failed: speechModel !== null && faultOf(speechModel) === 'error-transcript',
      };
      transcripts.set(t.id, t);
      sendJson(ctx.res, 200, {
        id: t.id,
        status: 'queued',
        audio_url: t.audioUrl,
        speech_model: t.speechModel,
        language_code: t.languageCode,
        language_detection: t.languageDetection,
        text: null,
        words: null,
        audio_duration: null,
        confidence: null,
      });
      return;
    }
    if (method === 'GET' && sub === '/v2/transcript') {
      const limit = Math.max(1, Math.min(200, Number(ctx.query.limit ?? 10) || 10));
      const list = [...transcripts.values()].reverse().slice(0, limit);
      sendJson(ctx.res, 200, {
        page_details: {
          limit,
          result_count: list.length,
          current_url: `${url}/assemblyai/v2/transcript?limit=${limit}`,
          prev_url: null,
          next_url: null,
        },
        transcripts: list.map((t) => ({
          id: t.id,
          resource_url: `${url}/assemblyai/v2/transcript/${t.id}`,
          status:
            t.polls > pollsBeforeDone
              ? t.failed || t.duration === undefined
                ? 'error'
                : 'completed'
              : 'queued',
          created: new Date().toISOString(),
          audio_url: t.audioUrl,
        })),
      });
      return;
    }
    const tm = /^\/v2\/transcript\/([^/]+)$/.exec(sub);
    if (method === 'GET' && tm) {
      const t = transcripts.get(decodeURIComponent(tm[1]));
      if (!t) {
        fail(ctx, 404, 'Transcript not found');
        return;
      }
      sendJson(ctx.res, 200, transcriptBody(t));
      return;
    }
    notFound(ctx);
  }

  // ---- routing ----------------------------------------------------------------------------------

  function route(ctx: Ctx): void {
    const { flavor, method, sub } = ctx;
    if (flavor === null) {
      notFound(ctx);
      return;
    }
    // The uploaded files are public (AssemblyAI's own CDN URLs are too).
    if (flavor === 'assemblyai' && method === 'GET' && sub.startsWith('/files/')) {
      const upload = uploads.get(decodeURIComponent(sub.slice('/files/'.length)));
      if (upload) {
        send(ctx.res, 200, upload.bytes, 'application/octet-stream');
      } else {
        fail(ctx, 404, 'File not found');
      }
      return;
    }
    if (rejectAuth(ctx)) {
      return;
    }
    if (flavor === 'assemblyai') {
      assemblyAi(ctx);
      return;
    }
    if (flavor === 'deepgram') {
      if (method === 'POST' && sub === '/v1/listen') {
        deepgramListen(ctx);
      } else if (method === 'GET' && sub === '/v1/models') {
        deepgramModels(ctx);
      } else {
        notFound(ctx);
      }
      return;
    }
    if (
      method === 'GET' &&
      sub === '/v1/models' &&
      (OPENAI_LIKE.has(flavor) || flavor === 'fireworks')
    ) {
      models(ctx, flavor);
      return;
    }
    if (method === 'POST' && sub === '/v1/embeddings' && EMBED_FLAVORS.has(flavor)) {
      embeddings(ctx, flavor);
      return;
    }
    if (method === 'POST' && sub === '/v1/images/generations' && IMAGE_FLAVORS.has(flavor)) {
      images(ctx, flavor);
      return;
    }
    if (method === 'POST' && sub === '/v1/audio/transcriptions' && STT_FLAVORS.has(flavor)) {
      transcriptions(ctx);
      return;
    }
    const fw = /^\/v1\/workflows\/accounts\/[^/]+\/models\/([^/]+)\/text_to_image$/.exec(sub);
    if (method === 'POST' && flavor === 'fireworks' && fw) {
      fireworksImage(ctx, decodeURIComponent(fw[1]));
      return;
    }
    notFound(ctx);
  }

  function onRequest(req: IncomingMessage, res: ServerResponse): void {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('error', () => {});
    req.on('end', () => {
      const raw = Buffer.concat(chunks);
      const u = new URL(req.url ?? '/', 'http://127.0.0.1');
      const path = u.pathname;
      const query = Object.fromEntries(u.searchParams);
      const contentType = String(req.headers['content-type'] ?? '').toLowerCase();
      const record: MediaRecorded = {
        method: req.method ?? '',
        path,
        query,
        headers: req.headers,
        raw,
      };
      let json: unknown;
      let badJson = false;
      let parts: Part[] | undefined;
      if (contentType.startsWith('multipart/form-data')) {
        parts = parseMultipart(raw, String(req.headers['content-type']));
        if (parts) {
          const fields: Record<string, string> = {};
          const files: NonNullable<MediaRecorded['multipart']>['files'] = {};
          for (const p of parts) {
            if (p.filename !== undefined) {
              files[p.name] = {
                filename: p.filename,
                contentType: p.contentType ?? 'application/octet-stream',
                size: p.data.length,
              };
            } else {
              const v = p.data.toString('utf8');
              fields[p.name] = p.name in fields ? `${fields[p.name]},${v}` : v;
            }
          }
          record.multipart = { fields, files };
        }
      } else if (
        raw.length > 0 &&
        (contentType.includes('json') || contentType === '' || contentType.startsWith('text/'))
      ) {
        try {
          json = JSON.parse(raw.toString('utf8'));
          record.json = json;
        } catch {
          badJson = true;
        }
      }
      requests.push(record);

      const m = /^\/([a-z]+)(\/.*)?$/.exec(path);
      const flavor: MediaFlavor | null =
        m && (MEDIA_FLAVORS as readonly string[]).includes(m[1]) ? (m[1] as MediaFlavor) : null;
      let sub = m?.[2] ?? '/';
      if (flavor === 'fireworks') {
        if (sub.startsWith('/inference/')) {
          sub = sub.slice('/inference'.length);
        } else {
          sub = `/unrouted${sub}`;
        }
      }
      if (flavor === null) {
        sub = path;
      }
      const ctx: Ctx = {
        req,
        res,
        method: req.method ?? '',
        flavor,
        sub,
        query,
        raw,
        json,
        badJson,
        parts,
        requestId: mockUuid(++seq, 4),
      };
      try {
        route(ctx);
      } catch (err) {
        if (!res.headersSent) {
          fail(ctx, 500, `media upstream crashed: ${(err as Error).message}`);
        } else {
          res.destroy();
        }
      }
    });
  }

  const loop = await listenLoopback(onRequest);
  url = loop.url;

  return {
    url,
    requests,
    reset() {
      requests.length = 0;
      flaky.clear();
      uploads.clear();
      transcripts.clear();
      seq = 0;
    },
    hits(pathPrefix: string): number {
      return requests.filter((r) => r.path.startsWith(pathPrefix)).length;
    },
    close() {
      return loop.close();
    },
  };
}
