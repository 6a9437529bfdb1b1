'use strict';
/**
 * A mock OpenAI-compatible upstream (Chat Completions) for e2e tests and the benchmark.
 *
 * Plain CommonJS on `node:http`, no build step: `require()` it from jest (types in mock-upstream.d.ts)
 * or run it standalone: `node test/support/mock-upstream.js --port 18080`.
 *
 *   POST /v1/chat/completions   chat.completion JSON, or SSE chat.completion.chunk events (stream:true)
 *   GET  /v1/models             OpenAI model list
 *
 * Every request needs `Authorization: Bearer <key>` (the exact key when the `apiKey` option is set).
 * Faults are picked per request by the model name (`fail-500`, `hang`, ... also as `<prefix>/fail-500`)
 * or server-wide with setFault(); the model name wins. The `/v1` prefix is optional on both routes.
 * Besides the named faults (FAULTS), `fail-<status>` answers any 4xx/5xx status and `flaky-<n>` fails
 * the first n requests for that model name with 500 (see mock-upstream.d.ts `MockFault`).
 *
 * The success path is the benchmark's "direct" target: response parts are pre-serialized, bodies are
 * only recorded when `record` is on, and keep-alive is on.
 */
const http = require('node:http');

const DEFAULT_REPLY = 'Hello from mock upstream';
const DEFAULT_MODELS = ['gpt-4o-mini', 'gpt-4o', 'gpt-4.1-mini', 'o3-mini'];
const FAULTS = Object.freeze([
  'fail-500',
  'fail-429',
  'fail-400',
  'fail-quota',
  'fail-banned',
  'reset',
  'hang',
  'slow-first-token',
  'midstream-error',
  'midstream-error-event',
]);
const FAULT_SET = new Set(FAULTS);
/** `fail-<status>` (any 4xx/5xx) and `flaky-<n>` (n >= 1) besides the named faults. */
const FAIL_STATUS_RE = /^fail-([45]\d\d)$/;
const FLAKY_RE = /^flaky-([1-9]\d*)$/;

function isFault(name) {
  return FAULT_SET.has(name) || FAIL_STATUS_RE.test(name) || FLAKY_RE.test(name);
}
const MODEL_CREATED = 1715367049;

/** `{"error":{...}}` as sent by OpenAI (type/code per status as in the reference §1.3). */
function errorBody(message, type, code, param) {
  return JSON.stringify({ error: { message, type, param: param ?? null, code: code ?? null } });
}

const ERR_500 = errorBody(
  'The server had an error while processing your request. (mock fail-500)',
  'server_error',
  'internal_server_error',
);
const ERR_429 = errorBody(
  'Rate limit reached for requests. Please try again in 2s. (mock fail-429)',
  'rate_limit_error',
  'rate_limit_exceeded',
);
const ERR_QUOTA = errorBody(
  'You exceeded your current quota, please check your plan and billing details. (mock fail-quota)',
  'insufficient_quota',
  'insufficient_quota',
);
const ERR_BANNED = errorBody(
  'Your account has been deactivated, please check your email for more information. (mock fail-banned)',
  'invalid_request_error',
  'account_deactivated',
);
/** OpenAI-style `type` and `code` of a `fail-<status>` error. */
const STATUS_ERRORS = {
  400: ['invalid_request_error', 'bad_request'],
  401: ['invalid_request_error', 'invalid_api_key'],
  402: ['billing_error', 'payment_required'],
  403: ['permission_error', 'forbidden'],
  404: ['invalid_request_error', 'model_not_found'],
  406: ['invalid_request_error', 'model_not_supported'],
  408: ['server_error', 'request_timeout'],
  409: ['invalid_request_error', 'conflict'],
  413: ['invalid_request_error', 'request_too_large'],
  422: ['invalid_request_error', 'unprocessable_entity'],
  429: ['rate_limit_error', 'rate_limit_exceeded'],
  500: ['server_error', 'internal_server_error'],
  502: ['server_error', 'bad_gateway'],
  503: ['server_error', 'service_unavailable'],
  504: ['server_error', 'gateway_timeout'],
  529: ['overloaded_error', 'overloaded'],
};

/** The error body of `fail-<status>`: names the status and the fault. */
function statusErrorBody(status) {
  const [type, code] = STATUS_ERRORS[status] ?? [
    status >= 500 ? 'server_error' : 'invalid_request_error',
    null,
  ];
  const phrase = http.STATUS_CODES[status] ?? (status === 529 ? 'Overloaded' : 'Error');
  return errorBody(`Upstream answered ${status} ${phrase}. (mock fail-${status})`, type, code);
}

const ERR_400 = errorBody(
  "Invalid value for 'messages'. (mock fail-400)",
  'invalid_request_error',
  'bad_request',
  'messages',
);
const ERR_STREAM_EVENT = JSON.stringify({
  error: {
    message: 'The upstream stream was interrupted. (mock midstream-error-event)',
    type: 'server_error',
    param: null,
    code: 'internal_server_error',
  },
});

const SSE_HEADERS = Object.freeze({
  'content-type': 'text/event-stream; charset=utf-8',
  'cache-control': 'no-cache',
});

/** Splits the reply into word-sized pieces (leading space kept, like tokenizers), or exactly `n`. */
function splitReply(text, n) {
  const words = text.split(/(?=\s)/).filter((w) => w.length > 0);
  if (words.length === 0) {
    return [text];
  }
  if (n === undefined || n === null) {
    return words;
  }
  const count = Math.max(1, Math.floor(Number(n)) || 1);
  if (count <= words.length) {
    const out = [];
    for (let i = 0; i < count; i++) {
      const from = Math.floor((i * words.length) / count);
      const to = Math.floor(((i + 1) * words.length) / count);
      out.push(words.slice(from, to).join(''));
    }
    return out;
  }
  const chars = Array.from(text);
  const pieces = Math.min(count, chars.length);
  const out = [];
  for (let i = 0; i < pieces; i++) {
    const from = Math.floor((i * chars.length) / pieces);
    const to = Math.floor(((i + 1) * chars.length) / pieces);
    out.push(chars.slice(from, to).join(''));
  }
  return out;
}

/** Characters of all message contents (string or text parts) / 4, rounded up, at least 1. */
function countPromptTokens(messages) {
  let chars = 0;
  if (Array.isArray(messages)) {
    for (const m of messages) {
      const c = m && m.content;
      if (typeof c === 'string') {
        chars += c.length;
      } else if (Array.isArray(c)) {
        for (const part of c) {
          if (part && typeof part.text === 'string') {
            chars += part.text.length;
          }
        }
      }
    }
  }
  return Math.max(1, Math.ceil(chars / 4));
}

function faultOfModel(model) {
  if (typeof model !== 'string') {
    return null;
  }
  if (isFault(model)) {
    return model;
  }
  const slash = model.lastIndexOf('/');
  if (slash !== -1 && isFault(model.slice(slash + 1))) {
    return model.slice(slash + 1);
  }
  return null;
}

function assertFault(fault) {
  if (fault !== null && fault !== undefined && (typeof fault !== 'string' || !isFault(fault))) {
    throw new Error(
      `unknown mock fault "${fault}" (known: ${FAULTS.join(', ')}, fail-<4xx|5xx>, flaky-<n>, or null)`,
    );
  }
  return fault ?? null;
}

/** `retryAfterSec`: a number >= 0, or null for no Retry-After header. */
function retryAfterOption(value, fallback) {
  if (value === undefined) {
    return fallback;
  }
  if (value === null) {
    return null;
  }
  const n = Number(value);
  if (!Number.isFinite(n) || n < 0) {
    throw new Error('mock upstream option retryAfterSec must be a number >= 0 or null');
  }
  return n;
}

function nonNegative(value, fallback, name) {
  if (value === undefined || value === null) {
    return fallback;
  }
  const n = Number(value);
  if (!Number.isFinite(n) || n < 0) {
    throw new Error(`mock upstream option ${name} must be a number >= 0`);
  }
  return n;
}

/**
 * Starts the mock on `host:port` (127.0.0.1, random port by default).
 * @param {import('./mock-upstream').MockUpstreamOptions} [opts]
 * @returns {Promise<import('./mock-upstream').MockUpstream>}
 */
function startMockUpstream(opts = {}) {
  const host = opts.host ?? '127.0.0.1';
  const record = opts.record !== false;
  const requests = [];
  const sockets = new Set();
  const timers = new Set();
  const stats = {
    requests: 0,
    chatCompletions: 0,
    streams: 0,
    models: 0,
    unauthorized: 0,
    faults: 0,
    aborted: 0,
    connections: 0,
  };
  let apiKey = opts.apiKey ?? null;
  let fault = assertFault(opts.fault);
  let retryAfterSec = retryAfterOption(opts.retryAfterSec, 2);
  // flaky-<n>: failures served so far, per exact model name (server-wide: per fault name).
  const flakyCounts = new Map();
  let closing = false;
  let closePromise = null;
  let seq = 0;

  // ---- pre-serialized response parts (rebuilt by configure()) ----
  let cfg;
  let tpl;
  let modelsBody;

  function build(next) {
    cfg = next;
    const pieces = splitReply(cfg.reply, cfg.chunks);
    const choice = (delta, finish) =>
      `{"index":0,"delta":${delta},"logprobs":null,"finish_reason":${finish}}`;
    tpl = {
      pieces,
      completionTokens: pieces.length,
      roleChoice: choice('{"role":"assistant","content":"","refusal":null}', 'null'),
      contentChoices: pieces.map((p) => choice(`{"content":${JSON.stringify(p)}}`, 'null')),
      finishChoice: choice('{}', '"stop"'),
      // chat.completion: `{"id":..,"object":"chat.completion","created":..,"model":..` + choicesAndUsage
      choicesPrefix:
        `,"choices":[{"index":0,"message":{"role":"assistant","content":${JSON.stringify(cfg.reply)},` +
        `"refusal":null,"annotations":[]},"logprobs":null,"finish_reason":"stop"}],"usage":{"prompt_tokens":`,
    };
    modelsBody = JSON.stringify({
      object: 'list',
      data: cfg.models.map((id) => ({
        id,
        object: 'model',
        created: MODEL_CREATED,
        owned_by: 'mock',
      })),
    });
  }

  build({
    reply: typeof opts.reply === 'string' ? opts.reply : DEFAULT_REPLY,
    chunks: opts.chunks ?? null,
    latencyMs: nonNegative(opts.latencyMs, 0, 'latencyMs'),
    slowMs: nonNegative(opts.slowMs, 2000, 'slowMs'),
    chunkDelayMs: nonNegative(opts.chunkDelayMs, 0, 'chunkDelayMs'),
    models: Array.isArray(opts.models) && opts.models.length ? opts.models.slice() : DEFAULT_MODELS,
  });

  // ---- helpers ----
  function later(ctx, ms, fn) {
    const t = setTimeout(() => {
      timers.delete(t);
      if (ctx.timers) {
        ctx.timers.delete(t);
      }
      fn();
    }, ms);
    timers.add(t);
    (ctx.timers ??= new Set()).add(t);
  }

  function killSocket(ctx, res) {
    ctx.killed = true;
    if (res.socket) {
      res.socket.destroy();
    }
  }

  function sendJson(res, status, body, extraHeaders) {
    const headers = {
      'content-type': 'application/json',
      'content-length': Buffer.byteLength(body),
    };
    if (extraHeaders) {
      Object.assign(headers, extraHeaders);
    }
    res.writeHead(status, headers);
    res.end(body);
  }

  function sendError(res, status, body, extraHeaders) {
    sendJson(res, status, body, extraHeaders);
  }

  function retryAfterHeader() {
    return retryAfterSec === null ? undefined : { 'retry-after': String(retryAfterSec) };
  }

  /** flaky-<n>: a 500 body for the first n requests of `key`, then null (a normal answer). */
  function flakyFailure(f, key) {
    const n = Number(FLAKY_RE.exec(f)[1]);
    const seen = (flakyCounts.get(key) ?? 0) + 1;
    flakyCounts.set(key, seen);
    if (seen > n) {
      return null;
    }
    return errorBody(
      `The server had an error while processing your request. (mock ${f}: failure ${seen} of ${n})`,
      'server_error',
      'internal_server_error',
    );
  }

  // ---- request handling ----
  function onRequest(req, res) {
    stats.requests++;
    const ctx = { seq: ++seq, killed: false, timers: null };
    res.on('close', () => {
      if (ctx.timers) {
        for (const t of ctx.timers) {
          clearTimeout(t);
          timers.delete(t);
        }
        ctx.timers = null;
      }
      if (!res.writableFinished && !ctx.killed && !closing) {
        stats.aborted++;
      }
    });

    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const raw = chunks.length === 1 ? chunks[0] : Buffer.concat(chunks);
      route(req, res, ctx, raw);
    });
    req.on('error', () => {});
  }

  function route(req, res, ctx, raw) {
    const q = req.url.indexOf('?');
    let path = q === -1 ? req.url : req.url.slice(0, q);
    if (path.startsWith('/v1/')) {
      path = path.slice(3);
    }

    let body;
    let badJson = false;
    if (raw.length > 0) {
      try {
        body = JSON.parse(raw.toString('utf8'));
      } catch {
        badJson = true;
        body = raw.toString('utf8');
      }
    }
    if (record) {
      requests.push({ method: req.method, url: req.url, headers: req.headers, body });
    }

    const auth = req.headers.authorization;
    const m = typeof auth === 'string' ? /^Bearer\s+(\S+)\s*$/i.exec(auth) : null;
    if (!m || (apiKey !== null && m[1] !== apiKey)) {
      stats.unauthorized++;
      const message = !m
        ? "You didn't provide an API key. You need to provide your API key in an Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY)."
        : 'Incorrect API key provided. (mock)';
      sendError(res, 401, errorBody(message, 'invalid_request_error', 'invalid_api_key'));
      return;
    }

    if (path === '/chat/completions' && req.method === 'POST') {
      stats.chatCompletions++;
      if (badJson || body === null || typeof body !== 'object') {
        sendError(
          res,
          400,
          errorBody(
            'We could not parse the JSON body of your request.',
            'invalid_request_error',
            null,
          ),
        );
        return;
      }
      if (cfg.latencyMs > 0) {
        later(ctx, cfg.latencyMs, () => chat(req, res, ctx, body));
      } else {
        chat(req, res, ctx, body);
      }
      return;
    }
    if (path === '/models' && req.method === 'GET') {
      stats.models++;
      if (cfg.latencyMs > 0) {
        later(ctx, cfg.latencyMs, () => sendJson(res, 200, modelsBody));
      } else {
        sendJson(res, 200, modelsBody);
      }
      return;
    }
    sendError(
      res,
      404,
      errorBody(`Invalid URL (${req.method} ${req.url})`, 'invalid_request_error', 'unknown_url'),
    );
  }

  function chat(req, res, ctx, body) {
    const model = body.model;
    if (typeof model !== 'string' || model.length === 0) {
      sendError(
        res,
        400,
        errorBody('you must provide a model parameter', 'invalid_request_error', null, 'model'),
      );
      return;
    }
    if (!Array.isArray(body.messages)) {
      sendError(
        res,
        400,
        errorBody(
          "Missing required parameter: 'messages'.",
          'invalid_request_error',
          null,
          'messages',
        ),
      );
      return;
    }
    const stream = body.stream === true;
    if (stream) {
      stats.streams++;
    }
    const byModel = faultOfModel(model);
    let f = byModel ?? fault;
    let flakyBody = null;
    if (f !== null && FLAKY_RE.test(f)) {
      flakyBody = flakyFailure(f, byModel !== null ? `model:${model}` : `fault:${f}`);
      f = flakyBody === null ? null : 'flaky';
    }
    if (f !== null) {
      stats.faults++;
    }
    switch (f) {
      case null:
        break;
      case 'flaky':
        return sendError(res, 500, flakyBody);
      case 'fail-500':
        return sendError(res, 500, ERR_500);
      case 'fail-429':
        return sendError(res, 429, ERR_429, retryAfterHeader());
      case 'fail-400':
        return sendError(res, 400, ERR_400);
      case 'fail-quota':
        return sendError(res, 429, ERR_QUOTA);
      case 'fail-banned':
        return sendError(res, 403, ERR_BANNED);
      case 'reset':
        return killSocket(ctx, res);
      case 'hang':
        return; // res 'close' clears timers and counts the abort
      case 'slow-first-token':
        if (!stream) {
          return later(ctx, cfg.slowMs, () => completion(res, ctx, body, model));
        }
        break;
      default: {
        const st = FAIL_STATUS_RE.exec(f);
        if (st) {
          const status = Number(st[1]);
          return sendError(
            res,
            status,
            statusErrorBody(status),
            status === 503 ? retryAfterHeader() : undefined,
          );
        }
        break;
      }
    }

    if (!stream) {
      if (f === 'midstream-error') {
        // Headers promise the whole body; half of it arrives, then the connection drops.
        const full = completionBody(ctx, body, model);
        res.writeHead(200, {
          'content-type': 'application/json',
          'content-length': Buffer.byteLength(full),
        });
        res.write(full.slice(0, full.length >> 1), () => setImmediate(() => killSocket(ctx, res)));
        return;
      }
      if (f === 'midstream-error-event') {
        // An error reported inside a 200 response.
        return sendJson(res, 200, ERR_STREAM_EVENT);
      }
      return completion(res, ctx, body, model);
    }

    const id = `chatcmpl-mock${ctx.seq.toString(36)}`;
    const head = `data: {"id":"${id}","object":"chat.completion.chunk","created":${Math.floor(
      Date.now() / 1000,
    )},"model":${JSON.stringify(model)},"system_fingerprint":null,"choices":[`;
    const tail = ']}\n\n';

    if (f === 'midstream-error' || f === 'midstream-error-event') {
      const c = tpl.contentChoices;
      let out = head + tpl.roleChoice + tail + head + c[0] + tail + head + (c[1] ?? c[0]) + tail;
      res.writeHead(200, SSE_HEADERS);
      if (f === 'midstream-error-event') {
        out += `data: ${ERR_STREAM_EVENT}\n\n`;
        res.end(out);
      } else {
        res.write(out, () => setImmediate(() => killSocket(ctx, res)));
      }
      return;
    }

    const events = [head + tpl.roleChoice + tail];
    for (const c of tpl.contentChoices) {
      events.push(head + c + tail);
    }
    events.push(head + tpl.finishChoice + tail);
    const so = body.stream_options;
    if (so && so.include_usage === true) {
      events.push(head.slice(0, -1) + '[],"usage":' + usageJson(body.messages) + '}\n\n');
    }
    events.push('data: [DONE]\n\n');

    res.writeHead(200, SSE_HEADERS);
    const firstDelay = f === 'slow-first-token' ? cfg.slowMs : 0;
    if (firstDelay === 0 && cfg.chunkDelayMs === 0) {
      res.end(events.join(''));
      return;
    }
    res.flushHeaders();
    let i = 0;
    const next = () => {
      if (res.destroyed) {
        return;
      }
      if (cfg.chunkDelayMs === 0) {
        res.end(events.slice(i).join(''));
        return;
      }
      res.write(events[i++]);
      if (i >= events.length) {
        res.end();
      } else {
        later(ctx, cfg.chunkDelayMs, next);
      }
    };
    if (firstDelay > 0) {
      later(ctx, firstDelay, next);
    } else {
      next();
    }
  }

  function usageJson(messages) {
    const p = countPromptTokens(messages);
    const c = tpl.completionTokens;
    return `{"prompt_tokens":${p},"completion_tokens":${c},"total_tokens":${p + c}}`;
  }

  function completionBody(ctx, body, model) {
    const p = countPromptTokens(body.messages);
    const c = tpl.completionTokens;
    return (
      `{"id":"chatcmpl-mock${ctx.seq.toString(36)}","object":"chat.completion","created":${Math.floor(
        Date.now() / 1000,
      )},"model":${JSON.stringify(model)}` +
      tpl.choicesPrefix +
      `${p},"completion_tokens":${c},"total_tokens":${p + c}},"system_fingerprint":null}`
    );
  }

  function completion(res, ctx, body, model) {
    if (res.destroyed) {
      return;
    }
    sendJson(res, 200, completionBody(ctx, body, model));
  }

  // ---- server ----
  const server = http.createServer({ keepAlive: true, noDelay: true }, onRequest);
  server.keepAliveTimeout = nonNegative(opts.keepAliveTimeoutMs, 30_000, 'keepAliveTimeoutMs');
  server.headersTimeout = Math.max(60_000, server.keepAliveTimeout + 1000);
  server.on('connection', (socket) => {
    stats.connections++;
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    if (closing) {
      socket.destroy();
    }
  });
  server.on('clientError', (err, socket) => {
    if (socket.writable && !socket.destroyed) {
      socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n');
    }
  });

  function close() {
    if (closePromise) {
      return closePromise;
    }
    closing = true;
    for (const t of timers) {
      clearTimeout(t);
    }
    timers.clear();
    closePromise = new Promise((resolve) => {
      server.close(() => resolve());
      for (const s of sockets) {
        s.destroy();
      }
      sockets.clear();
    });
    return closePromise;
  }

  function reset() {
    requests.length = 0;
    for (const k of Object.keys(stats)) {
      stats[k] = 0;
    }
    fault = assertFault(opts.fault);
    flakyCounts.clear();
  }

  function configure(partial = {}) {
    if ('apiKey' in partial) {
      apiKey = partial.apiKey ?? null;
    }
    if ('retryAfterSec' in partial) {
      retryAfterSec = retryAfterOption(partial.retryAfterSec, retryAfterSec);
    }
    build({
      reply: typeof partial.reply === 'string' ? partial.reply : cfg.reply,
      chunks: 'chunks' in partial ? (partial.chunks ?? null) : cfg.chunks,
      latencyMs: nonNegative(partial.latencyMs, cfg.latencyMs, 'latencyMs'),
      slowMs: nonNegative(partial.slowMs, cfg.slowMs, 'slowMs'),
      chunkDelayMs: nonNegative(partial.chunkDelayMs, cfg.chunkDelayMs, 'chunkDelayMs'),
      models:
        Array.isArray(partial.models) && partial.models.length
          ? partial.models.slice()
          : cfg.models,
    });
  }

  async function waitFor(predicate, timeoutMs = 2000) {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (predicate(handle)) {
        return;
      }
      if (Date.now() > deadline) {
        throw new Error(`mock upstream: condition not met within ${timeoutMs} ms`);
      }
      await new Promise((r) => setTimeout(r, 10));
    }
  }

  const handle = {
    url: '',
    baseUrl: '',
    port: 0,
    server,
    requests,
    get count() {
      return stats.requests;
    },
    get aborted() {
      return stats.aborted;
    },
    get fault() {
      return fault;
    },
    get retryAfterSec() {
      return retryAfterSec;
    },
    get reply() {
      return cfg.reply;
    },
    get replyChunks() {
      return tpl.pieces.slice();
    },
    setFault(next) {
      fault = assertFault(next);
    },
    configure,
    reset,
    stats: () => ({ ...stats, openConnections: sockets.size, fault }),
    lastRequest: () => requests[requests.length - 1],
    waitFor,
    close,
  };

  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, host, () => {
      server.off('error', reject);
      const addr = server.address();
      handle.port = addr.port;
      const h = host.includes(':') ? `[${host}]` : host;
      handle.url = `http://${h}:${addr.port}`;
      handle.baseUrl = `${handle.url}/v1`;
      resolve(handle);
    });
  });
}

module.exports = {
  startMockUpstream,
  splitReply,
  countPromptTokens,
  DEFAULT_REPLY,
  DEFAULT_MODELS,
  FAULTS,
};

// ---- standalone: node test/support/mock-upstream.js --port 18080 [options] ----
if (require.main === module) {
  const usage = `usage: node test/support/mock-upstream.js [--port N] [--host H] [--api-key K]
    [--latency-ms N] [--slow-ms N] [--chunk-delay-ms N] [--reply TEXT] [--chunks N]
    [--retry-after-sec N|none]
    [--fault ${FAULTS.join('|')}|fail-<4xx|5xx>|flaky-<n>] [--record]`;
  const args = process.argv.slice(2);
  const o = { port: 0, record: false };
  const num = (name, v) => {
    const n = Number(v);
    if (v === undefined || !Number.isFinite(n) || n < 0) {
      console.error(`${name} needs a number >= 0\n${usage}`);
      process.exit(2);
    }
    return n;
  };
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    const v = args[i + 1];
    switch (a) {
      case '--port':
        o.port = num(a, v);
        i++;
        break;
      case '--host':
        o.host = v;
        i++;
        break;
      case '--api-key':
        o.apiKey = v;
        i++;
        break;
      case '--latency-ms':
        o.latencyMs = num(a, v);
        i++;
        break;
      case '--slow-ms':
        o.slowMs = num(a, v);
        i++;
        break;
      case '--chunk-delay-ms':
        o.chunkDelayMs = num(a, v);
        i++;
        break;
      case '--reply':
        o.reply = v ?? '';
        i++;
        break;
      case '--chunks':
        o.chunks = num(a, v);
        i++;
        break;
      case '--fault':
        o.fault = v;
        i++;
        break;
      case '--retry-after-sec':
        o.retryAfterSec = v === 'none' ? null : num(a, v);
        i++;
        break;
      case '--record':
        o.record = true;
        break;
      case '-h':
      case '--help':
        console.log(usage);
        process.exit(0);
        break;
      default:
        console.error(`unknown argument ${a}\n${usage}`);
        process.exit(2);
    }
  }
  startMockUpstream(o).then(
    (mock) => {
      console.log(mock.url);
      console.error(
        `mock upstream listening; OpenAI base URL ${mock.baseUrl}` +
          (o.apiKey ? ' (api key required)' : ' (any bearer accepted)') +
          '; Ctrl-C to stop',
      );
      const stop = () => {
        mock.close().then(() => process.exit(0));
      };
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
    },
    (err) => {
      console.error(`mock upstream failed to start: ${err.message}`);
      process.exit(1);
    },
  );
}
