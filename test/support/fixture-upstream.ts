/**
 * A fake upstream that answers with the golden dialect fixtures of test/fixtures/dialects (see its
 * README.md), byte for byte, in two dialects:
 *
 *   POST /v1/chat/completions   OpenAI Chat   (`Authorization: Bearer <key>`)
 *   POST /v1/messages           Anthropic     (`x-api-key: <key>` + `anthropic-version`)
 *   GET  /v1/models             a model list valid for both dialects' listing
 *   GET  /v1/models/{id}        one entry of that list
 *
 * The case is picked by the last `/` segment of the request's `model` (`text`,
 * `parallel-tool-calls`, `thinking`, `image-input`; anything else → `text`): `stream: true` gets
 * `<case>.stream.sse`, otherwise `<case>.response.json`, unchanged (the fixture's own `model`, ids
 * and timestamps included). The same segment can name a fault instead (see `FixtureFault`).
 *
 * Used from jest with `import { startFixtureUpstream } from '../support/fixture-upstream';`.
 * Unlike mock-upstream.js it generates nothing: it is there to check that what a translator gets
 * from a real API's bytes is right.
 */
import { readFile } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import {
  type IncomingHttpHeaders,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from 'node:http';
import { join } from 'node:path';
import { listenLoopback } from './loopback-server';

/** Every dialect that has a directory under test/fixtures/dialects. */
export type FixtureDialect = 'openai-chat' | 'anthropic' | 'gemini' | 'responses' | 'ollama';
/** The dialects this server speaks. */
export type UpstreamDialect = 'openai-chat' | 'anthropic' | 'responses';

export const FIXTURE_CASES = ['text', 'parallel-tool-calls', 'thinking', 'image-input'] as const;
export type FixtureCase = (typeof FIXTURE_CASES)[number];

/**
 * Injected failures, picked by the last `/` segment of the request's model name.
 *
 * - `fail-500`: 500; OpenAI `server_error`, Anthropic `api_error`.
 * - `fail-429`: 429 + `retry-after: 1`; `rate_limit_error` in both dialects.
 * - `fail-400`: 400 `invalid_request_error`.
 * - `overloaded`: Anthropic 529 `overloaded_error`; OpenAI 503 `server_error` ("The engine is
 *   currently overloaded"), OpenAI having no 529.
 * - `midstream-error`: streams only. Anthropic: the bytes of `anthropic/error.stream.sse`; OpenAI:
 *   the first half of `text.stream.sse`'s events, then `data: {"error":{...}}`, no `[DONE]`. Both
 *   end the response normally afterwards. A non-stream request gets the `text` response.
 * - `hang`: no answer at all (no headers) until the client goes away (counted in `aborted`) or
 *   `close()`.
 */
export const FIXTURE_FAULTS = [
  'fail-500',
  'fail-429',
  'fail-400',
  'overloaded',
  'midstream-error',
  'hang',
] as const;
export type FixtureFault = (typeof FIXTURE_FAULTS)[number];

/** Default ids of `GET /v1/models`: one per case, each selecting its case. */
export const FIXTURE_MODELS: readonly string[] = FIXTURE_CASES;

export interface FixtureUpstreamOptions {
  /** When set, the key (Bearer or `x-api-key`) must match exactly, else 401. Default: any key. */
  apiKey?: string;
  /** Streams are written in pieces of this many bytes (UTF-8 characters get cut). Default: whole. */
  chunkBytes?: number;
  /** Delay between two stream pieces (ms) when `chunkBytes` is set; 0: next event-loop turn. Default 1. */
  chunkDelayMs?: number;
  /** Ids listed by `GET /v1/models`. Default `FIXTURE_MODELS`. */
  models?: string[];
}

export interface FixtureRequest {
  method: string;
  /** Path + query as received, e.g. `/v1/messages`. */
  url: string;
  headers: IncomingHttpHeaders;
  /** Parsed JSON body; the raw string when it was not JSON; undefined when empty. */
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- test helper: assert freely on bodies
  body: any;
}

export interface FixtureUpstream {
  /** `http://127.0.0.1:PORT` */
  readonly url: string;
  /** `url + '/v1'`: the base URL of an OpenAI or Anthropic client / provider node. */
  readonly baseUrl: string;
  readonly port: number;
  readonly server: Server;
  /** Every request received (rejected ones included), oldest first. Same array across `reset()`. */
  readonly requests: FixtureRequest[];
  /** Number of requests received. */
  readonly count: number;
  /** Requests whose client went away before the response was complete (not counting `close()`). */
  readonly aborted: number;
  /** Clears `requests`, `count` and `aborted`. */
  reset(): void;
  lastRequest(): FixtureRequest | undefined;
  /** Polls (every 10 ms) until `predicate` is true; rejects after `timeoutMs` (default 2000). */
  waitFor(predicate: (upstream: FixtureUpstream) => boolean, timeoutMs?: number): Promise<void>;
  /** Stops listening and destroys every socket (hung ones included). Idempotent. */
  close(): Promise<void>;
}

const FIXTURES_ROOT = join(__dirname, '..', 'fixtures', 'dialects');

/** Absolute path of `test/fixtures/dialects/<dialect>/<file>`. */
export function fixturePath(dialect: FixtureDialect, file: string): string {
  return join(FIXTURES_ROOT, dialect, file);
}

/** The exact bytes of a fixture file (a fresh Buffer on every call). */
export function readFixture(dialect: FixtureDialect, file: string): Buffer {
  return readFileSync(fixturePath(dialect, file));
}

export type ModelSelection =
  { kind: 'case'; name: FixtureCase } | { kind: 'fault'; name: FixtureFault };

/** What a model name selects: its last `/` segment as a case or fault, else the `text` case. */
export function selectByModel(model: string): ModelSelection {
  const name = model.slice(model.lastIndexOf('/') + 1);
  if ((FIXTURE_CASES as readonly string[]).includes(name)) {
    return { kind: 'case', name: name as FixtureCase };
  }
  if ((FIXTURE_FAULTS as readonly string[]).includes(name)) {
    return { kind: 'fault', name: name as FixtureFault };
  }
  return { kind: 'case', name: 'text' };
}

// ------------------------------------------------------------------------------------------------
// Error bodies, in each dialect's shape.

type ErrorKind =
  'invalid_request' | 'authentication' | 'not_found' | 'rate_limit' | 'server' | 'overloaded';

const OPENAI_TYPE: Record<ErrorKind, string> = {
  invalid_request: 'invalid_request_error',
  authentication: 'authentication_error',
  not_found: 'invalid_request_error',
  rate_limit: 'rate_limit_error',
  server: 'server_error',
  overloaded: 'server_error',
};

const ANTHROPIC_TYPE: Record<ErrorKind, string> = {
  invalid_request: 'invalid_request_error',
  authentication: 'authentication_error',
  not_found: 'not_found_error',
  rate_limit: 'rate_limit_error',
  server: 'api_error',
  overloaded: 'overloaded_error',
};

function errorBody(
  dialect: UpstreamDialect,
  kind: ErrorKind,
  message: string,
  code: string | null = null,
): string {
  if (dialect === 'anthropic') {
    return JSON.stringify({ type: 'error', error: { type: ANTHROPIC_TYPE[kind], message } });
  }
  return JSON.stringify({ error: { message, type: OPENAI_TYPE[kind], param: null, code } });
}

interface FaultAnswer {
  status: number;
  kind: ErrorKind;
  message: string;
  code?: string;
  headers?: Record<string, string>;
}

function faultAnswer(dialect: UpstreamDialect, fault: FixtureFault): FaultAnswer | null {
  const anthropic = dialect === 'anthropic';
  switch (fault) {
    case 'fail-500':
      return {
        status: 500,
        kind: 'server',
        message: anthropic
          ? 'Internal server error (fixture fail-500)'
          : 'The server had an error while processing your request. (fixture fail-500)',
        code: 'internal_server_error',
      };
    case 'fail-429':
      return {
        status: 429,
        kind: 'rate_limit',
        message: anthropic
          ? 'Number of request tokens has exceeded your per-minute rate limit (fixture fail-429)'
          : 'Rate limit reached for requests. Please try again in 1s. (fixture fail-429)',
        code: 'rate_limit_exceeded',
        headers: { 'retry-after': '1' },
      };
    case 'fail-400':
      return {
        status: 400,
        kind: 'invalid_request',
        message: anthropic
          ? 'messages: Input should be a valid list (fixture fail-400)'
          : "Invalid value for 'messages'. (fixture fail-400)",
      };
    case 'overloaded':
      return anthropic
        ? { status: 529, kind: 'overloaded', message: 'Overloaded' }
        : {
            status: 503,
            kind: 'overloaded',
            message: 'The engine is currently overloaded, please try again later. (fixture)',
          };
    case 'midstream-error':
    case 'hang':
      return null;
  }
}

const OPENAI_STREAM_ERROR = JSON.stringify({
  error: {
    message: 'The upstream stream was interrupted. (fixture midstream-error)',
    type: 'server_error',
    param: null,
    code: 'internal_server_error',
  },
});

/** First half of the OpenAI text stream's events (no `[DONE]`), then an error event. */
function openAiMidstreamError(textStream: Buffer): Buffer {
  const events = textStream
    .toString('utf8')
    .split('\n\n')
    .filter((e) => e.length > 0 && e !== 'data: [DONE]');
  const head = events.slice(0, Math.floor(events.length / 2));
  return Buffer.from(
    head.map((e) => `${e}\n\n`).join('') + `data: ${OPENAI_STREAM_ERROR}\n\n`,
    'utf8',
  );
}

const SSE_HEADERS = { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' };
const MODEL_CREATED = 1752681600;
const MODEL_CREATED_AT = new Date(MODEL_CREATED * 1000).toISOString();

interface Fixtures {
  response: Map<string, Buffer>;
  stream: Map<string, Buffer>;
  midstream: Record<UpstreamDialect, Buffer>;
}

async function loadFixtures(): Promise<Fixtures> {
  const response = new Map<string, Buffer>();
  const stream = new Map<string, Buffer>();
  const key = (d: UpstreamDialect, c: FixtureCase): string => `${d}/${c}`;
  const dialects: UpstreamDialect[] = ['openai-chat', 'anthropic', 'responses'];
  await Promise.all(
    dialects.flatMap((d) =>
      FIXTURE_CASES.map(async (c) => {
        const [r, s] = await Promise.all([
          readFile(fixturePath(d, `${c}.response.json`)),
          readFile(fixturePath(d, `${c}.stream.sse`)),
        ]);
        response.set(key(d, c), r);
        stream.set(key(d, c), s);
      }),
    ),
  );
  const anthropicError = await readFile(fixturePath('anthropic', 'error.stream.sse'));
  return {
    response,
    stream,
    midstream: {
      'openai-chat': openAiMidstreamError(stream.get(key('openai-chat', 'text'))!),
      // Responses: the first half of the text stream's events, then the connection ends (no response.completed).
      responses: Buffer.from(
        stream
          .get(key('responses', 'text'))!
          .toString('utf8')
          .split('\n\n')
          .filter(Boolean)
          .slice(0, 4)
          .map((e) => `${e}\n\n`)
          .join(''),
      ),
      anthropic: anthropicError,
    },
  };
}

function nonNegative(value: number | undefined, fallback: number, name: string): number {
  if (value === undefined) {
    return fallback;
  }
  if (!Number.isFinite(value) || value < 0) {
    throw new Error(`fixture upstream option ${name} must be a number >= 0`);
  }
  return value;
}

// ------------------------------------------------------------------------------------------------

/** Starts the fixture upstream on 127.0.0.1, random port. */
export async function startFixtureUpstream(
  opts: FixtureUpstreamOptions = {},
): Promise<FixtureUpstream> {
  const apiKey = opts.apiKey;
  const chunkBytes = opts.chunkBytes === undefined ? 0 : Math.floor(opts.chunkBytes);
  if (opts.chunkBytes !== undefined && !(chunkBytes >= 1)) {
    throw new Error('fixture upstream option chunkBytes must be >= 1');
  }
  const chunkDelayMs = nonNegative(opts.chunkDelayMs, 1, 'chunkDelayMs');
  const fixtures = await loadFixtures();
  const modelIds =
    opts.models && opts.models.length > 0 ? opts.models.slice() : [...FIXTURE_MODELS];
  const modelEntries = modelIds.map((id) => ({
    id,
    object: 'model',
    type: 'model',
    display_name: `Fixture ${id}`,
    created: MODEL_CREATED,
    created_at: MODEL_CREATED_AT,
    owned_by: 'fixture',
  }));
  const modelsBody = JSON.stringify({
    object: 'list',
    data: modelEntries,
    has_more: false,
    first_id: modelIds[0] ?? null,
    last_id: modelIds[modelIds.length - 1] ?? null,
  });

  const requests: FixtureRequest[] = [];
  const timers = new Set<() => void>();
  let count = 0;
  let aborted = 0;

  /** Cancels of the pending timers, per request and server-wide. */
  interface Ctx {
    timers: Set<() => void>;
  }

  /** `fn` after `ms` (0: on the next turn of the event loop), cancelled when the request closes. */
  function later(ctx: Ctx, ms: number, fn: () => void): void {
    const run = (): void => {
      timers.delete(cancel);
      ctx.timers.delete(cancel);
      fn();
    };
    let cancel: () => void;
    if (ms === 0) {
      const im = setImmediate(run);
      cancel = () => clearImmediate(im);
    } else {
      const t = setTimeout(run, ms);
      cancel = () => clearTimeout(t);
    }
    timers.add(cancel);
    ctx.timers.add(cancel);
  }

  function sendJson(
    res: ServerResponse,
    status: number,
    body: string | Buffer,
    headers: Record<string, string> = {},
  ): void {
    res.writeHead(status, {
      'content-type': 'application/json',
      'content-length': String(Buffer.byteLength(body)),
      ...headers,
    });
    res.end(body);
  }

  function sendError(
    res: ServerResponse,
    dialect: UpstreamDialect,
    status: number,
    kind: ErrorKind,
    message: string,
    code: string | null = null,
    headers: Record<string, string> = {},
  ): void {
    sendJson(res, status, errorBody(dialect, kind, message, code), headers);
  }

  function sendStream(res: ServerResponse, ctx: Ctx, bytes: Buffer): void {
    res.writeHead(200, SSE_HEADERS);
    if (chunkBytes === 0 || chunkBytes >= bytes.length) {
      res.end(bytes);
      return;
    }
    let offset = 0;
    const next = (): void => {
      if (res.destroyed) {
        return;
      }
      const end = Math.min(offset + chunkBytes, bytes.length);
      const piece = bytes.subarray(offset, end);
      offset = end;
      if (offset >= bytes.length) {
        res.end(piece);
        return;
      }
      res.write(piece);
      later(ctx, chunkDelayMs, next);
    };
    next();
  }

  /** 401/400 for a request that fails the dialect's auth rules; true when it was answered. */
  function rejectAuth(
    req: IncomingMessage,
    res: ServerResponse,
    dialect: UpstreamDialect,
  ): boolean {
    if (dialect !== 'anthropic') {
      const auth = req.headers.authorization;
      const m = typeof auth === 'string' ? /^Bearer\s+(\S+)\s*$/i.exec(auth) : null;
      if (!m) {
        sendError(
          res,
          dialect,
          401,
          'authentication',
          "You didn't provide an API key. You need to provide your API key in an Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).",
          'invalid_api_key',
        );
        return true;
      }
      if (apiKey !== undefined && m[1] !== apiKey) {
        sendError(
          res,
          dialect,
          401,
          'authentication',
          'Incorrect API key provided. (fixture)',
          'invalid_api_key',
        );
        return true;
      }
      return false;
    }
    const key = req.headers['x-api-key'];
    if (typeof key !== 'string' || key.length === 0) {
      sendError(res, dialect, 401, 'authentication', 'x-api-key header is required');
      return true;
    }
    if (apiKey !== undefined && key !== apiKey) {
      sendError(res, dialect, 401, 'authentication', 'invalid x-api-key');
      return true;
    }
    const version = req.headers['anthropic-version'];
    if (typeof version !== 'string' || version.length === 0) {
      sendError(res, dialect, 400, 'invalid_request', 'anthropic-version: header is required');
      return true;
    }
    return false;
  }

  function onRequest(req: IncomingMessage, res: ServerResponse): void {
    count++;
    const ctx: Ctx = { timers: new Set() };
    res.on('close', () => {
      for (const cancel of ctx.timers) {
        cancel();
        timers.delete(cancel);
      }
      ctx.timers.clear();
      if (!res.writableFinished && !loop.closing) {
        aborted++;
      }
    });
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => route(req, res, ctx, Buffer.concat(chunks)));
    req.on('error', () => {});
  }

  /**
   * Ollama (`POST /api/chat`, `GET /api/tags`): no key; streams by default as NDJSON
   * (`ollama/<case>.stream.ndjson`), `stream: false` → `<case>.response.json`; errors `{error}`.
   */
  function ollama(
    req: IncomingMessage,
    res: ServerResponse,
    ctx: Ctx,
    path: string,
    // eslint-disable-next-line @typescript-eslint/no-explicit-any -- whatever the client sent
    body: any,
    badJson: boolean,
  ): void {
    const fail = (status: number, error: string): void =>
      sendJson(res, status, JSON.stringify({ error }));
    if (path === '/api/tags') {
      sendJson(
        res,
        200,
        JSON.stringify({
          models: modelIds.map((name) => ({
            name,
            model: name,
            modified_at: MODEL_CREATED_AT,
            size: 0,
            digest: '',
            details: {},
          })),
        }),
      );
      return;
    }
    if (req.method !== 'POST' || badJson || body === null || typeof body !== 'object') {
      fail(400, 'invalid request body');
      return;
    }
    if (typeof body.model !== 'string' || !body.model) {
      fail(400, 'model is required');
      return;
    }
    const selected = selectByModel(body.model as string);
    const stream = body.stream !== false;
    let fixtureCase: FixtureCase = 'text';
    if (selected.kind === 'fault') {
      switch (selected.name) {
        case 'hang':
          return;
        case 'fail-429':
          fail(429, 'too many requests (fixture fail-429)');
          return;
        case 'fail-400':
          fail(400, 'invalid messages (fixture fail-400)');
          return;
        case 'midstream-error': {
          if (!stream) {
            break;
          }
          const lines = readFixture('ollama', 'text.stream.ndjson')
            .toString('utf8')
            .split('\n')
            .filter(Boolean);
          const head = lines.slice(0, Math.floor(lines.length / 2));
          res.writeHead(200, { 'content-type': 'application/x-ndjson' });
          res.end(
            `${head.join('\n')}\n${JSON.stringify({ error: 'model runner crashed (fixture midstream-error)' })}\n`,
          );
          return;
        }
        case 'fail-500':
        case 'overloaded':
          fail(500, `internal error (fixture ${selected.name})`);
          return;
      }
    } else {
      fixtureCase = selected.name;
    }
    if (stream) {
      const bytes = readFixture('ollama', `${fixtureCase}.stream.ndjson`);
      res.writeHead(200, { 'content-type': 'application/x-ndjson' });
      if (chunkBytes === 0 || chunkBytes >= bytes.length) {
        res.end(bytes);
        return;
      }
      let offset = 0;
      const next = (): void => {
        if (res.destroyed) {
          return;
        }
        const end = Math.min(offset + chunkBytes, bytes.length);
        const piece = bytes.subarray(offset, end);
        offset = end;
        if (offset >= bytes.length) {
          res.end(piece);
          return;
        }
        res.write(piece);
        later(ctx, chunkDelayMs, next);
      };
      next();
      return;
    }
    sendJson(res, 200, readFixture('ollama', `${fixtureCase}.response.json`));
  }

  /** Gemini (`x-goog-api-key`): the model and the stream come from the URL; errors `{error:{code,message,status}}`. */
  function gemini(
    req: IncomingMessage,
    res: ServerResponse,
    model: string,
    stream: boolean,
    badJson: boolean,
  ): void {
    const fail = (code: number, status: string, message: string): void =>
      sendJson(res, code, JSON.stringify({ error: { code, message, status } }));
    const key = req.headers['x-goog-api-key'];
    if (typeof key !== 'string' || !key || (apiKey !== undefined && key !== apiKey)) {
      fail(401, 'UNAUTHENTICATED', 'API key not valid. Please pass a valid API key. (fixture)');
      return;
    }
    if (badJson) {
      fail(400, 'INVALID_ARGUMENT', 'Invalid JSON payload received.');
      return;
    }
    const selected = selectByModel(model);
    if (selected.kind === 'fault') {
      if (selected.name === 'hang') {
        return;
      }
      if (selected.name === 'fail-429') {
        fail(429, 'RESOURCE_EXHAUSTED', 'Resource has been exhausted (fixture fail-429)');
        return;
      }
      fail(500, 'INTERNAL', `Internal error (fixture ${selected.name})`);
      return;
    }
    if (stream) {
      res.writeHead(200, SSE_HEADERS);
      res.end(readFixture('gemini', `${selected.name}.stream.sse`));
      return;
    }
    sendJson(res, 200, readFixture('gemini', `${selected.name}.response.json`));
  }

  function route(req: IncomingMessage, res: ServerResponse, ctx: Ctx, raw: Buffer): void {
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    const path = q === -1 ? url : url.slice(0, q);
    // eslint-disable-next-line @typescript-eslint/no-explicit-any -- whatever the client sent
    let body: any;
    let badJson = false;
    if (raw.length > 0) {
      try {
        body = JSON.parse(raw.toString('utf8'));
      } catch {
        badJson = true;
        body = raw.toString('utf8');
      }
    }
    requests.push({ method: req.method ?? '', url, headers: req.headers, body });

    if (req.method === 'GET' && (path === '/v1/models' || path.startsWith('/v1/models/'))) {
      // Anthropic's listing when the request looks like an Anthropic client, else OpenAI's rules.
      const dialect: UpstreamDialect =
        req.headers['x-api-key'] !== undefined || req.headers['anthropic-version'] !== undefined
          ? 'anthropic'
          : 'openai-chat';
      if (rejectAuth(req, res, dialect)) {
        return;
      }
      if (path === '/v1/models') {
        sendJson(res, 200, modelsBody);
        return;
      }
      const id = decodeURIComponent(path.slice('/v1/models/'.length));
      const entry = modelEntries.find((m) => m.id === id);
      if (entry) {
        sendJson(res, 200, JSON.stringify(entry));
      } else {
        sendError(res, dialect, 404, 'not_found', `model: ${id}`, 'model_not_found');
      }
      return;
    }

    if (path === '/api/chat' || path === '/api/tags') {
      ollama(req, res, ctx, path, body, badJson);
      return;
    }
    if (req.method === 'POST' && path === '/v1/messages/count_tokens') {
      if (!rejectAuth(req, res, 'anthropic')) {
        sendJson(res, 200, JSON.stringify({ input_tokens: 321 }));
      }
      return;
    }
    const gm = /^\/v1beta\/models\/(.+):(generateContent|streamGenerateContent)$/.exec(path);
    if (gm) {
      gemini(req, res, decodeURIComponent(gm[1]), gm[2] === 'streamGenerateContent', badJson);
      return;
    }

    let dialect: UpstreamDialect;
    if (req.method === 'POST' && path === '/v1/chat/completions') {
      dialect = 'openai-chat';
    } else if (req.method === 'POST' && path === '/v1/messages') {
      dialect = 'anthropic';
    } else if (req.method === 'POST' && path === '/v1/responses') {
      dialect = 'responses';
    } else {
      const anthropic = path.startsWith('/v1/messages');
      sendError(
        res,
        anthropic ? 'anthropic' : 'openai-chat',
        404,
        'not_found',
        `Invalid URL (${req.method} ${url})`,
        'unknown_url',
      );
      return;
    }

    if (rejectAuth(req, res, dialect)) {
      return;
    }
    if (badJson || body === null || typeof body !== 'object' || Array.isArray(body)) {
      sendError(res, dialect, 400, 'invalid_request', 'The request body is not a JSON object.');
      return;
    }
    const model: unknown = body.model;
    if (typeof model !== 'string' || model.length === 0) {
      sendError(
        res,
        dialect,
        400,
        'invalid_request',
        dialect === 'anthropic' ? 'model: Field required' : 'you must provide a model parameter',
      );
      return;
    }

    const stream = body.stream === true;
    const selected = selectByModel(model);
    let fixtureCase: FixtureCase = 'text';
    if (selected.kind === 'fault') {
      const fault = selected.name;
      if (fault === 'hang') {
        return; // the 'close' handler counts the abort
      }
      if (fault === 'midstream-error') {
        if (stream) {
          sendStream(res, ctx, fixtures.midstream[dialect]);
          return;
        }
      } else {
        const a = faultAnswer(dialect, fault);
        if (a) {
          sendError(res, dialect, a.status, a.kind, a.message, a.code ?? null, a.headers);
          return;
        }
      }
    } else {
      fixtureCase = selected.name;
    }

    const key = `${dialect}/${fixtureCase}`;
    if (stream) {
      sendStream(res, ctx, fixtures.stream.get(key)!);
    } else {
      sendJson(res, 200, fixtures.response.get(key)!);
    }
  }

  const loop = await listenLoopback(onRequest);
  const { server, port, url } = loop;

  const handle: FixtureUpstream = {
    url,
    baseUrl: `${url}/v1`,
    port,
    server,
    requests,
    get count() {
      return count;
    },
    get aborted() {
      return aborted;
    },
    reset() {
      requests.length = 0;
      count = 0;
      aborted = 0;
    },
    lastRequest: () => requests[requests.length - 1],
    async waitFor(predicate, timeoutMs = 2000) {
      const deadline = Date.now() + timeoutMs;
      while (!predicate(handle)) {
        if (Date.now() > deadline) {
          throw new Error(`fixture upstream: condition not met within ${timeoutMs} ms`);
        }
        await new Promise((r) => setTimeout(r, 10));
      }
    },
    close() {
      for (const cancel of timers) {
        cancel();
      }
      timers.clear();
      return loop.close();
    },
  };
  return handle;
}
