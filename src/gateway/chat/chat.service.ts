import { Injectable } from '@nestjs/common';
import { EventEmitter } from 'node:events';
import type { Readable } from 'node:stream';
import { AppError, type ErrorCategory } from '@/common/errors/app-error';
import type { Principal } from '@/common/guards/api-key.auth';
import { MetricsService } from '@/common/metrics/metrics.service';
import { Env } from '@/config/env.schema';
import {
  EMPTY_USAGE,
  type CanonicalRequest,
  type CanonicalUsage,
} from '@/gateway/dialects/canonical';
import {
  ANTHROPIC,
  GEMINI,
  OLLAMA,
  OPENAI_CHAT,
  RESPONSES,
  upstreamCodec,
  type DialectCodec,
} from '@/gateway/dialects/codecs';
import { fromOpenAiUsage } from '@/gateway/dialects/openai-chat/common';
import { sendJson, type HotRequest } from '@/gateway/http/hot-request';
import { AccountSelector, retryAfterMs } from '@/gateway/routing/account-selector';
import { isModelAllowed } from '@/gateway/routing/model-allowlist';
import { resolveModel, type ResolvedModel } from '@/gateway/routing/model-resolver';
import { Heartbeats } from '@/gateway/streaming/heartbeat';
import { extractUsage } from '@/gateway/streaming/openai-sse-tap';
import {
  OpenAiPassPipe,
  TranslatePipe,
  WatchPassPipe,
  type StreamPipe,
} from '@/gateway/streaming/stream-pipes';
import { ProvidersService, upstreamMessage } from '@/providers/providers.service';
import type { RoutableConnection } from '@/providers/routing-table';
import { UpstreamHttp, transportError } from '@/upstream/upstream-http.service';
import { UsageService, type UsageEvent } from '@/usage/usage.service';
import { parseChatRequest } from './openai-chat.request';

/** The client dialects the chat pipeline serves. */
export type ChatSurface = 'openai-chat' | 'anthropic' | 'ollama' | 'responses' | 'gemini';

const CLIENT_CODECS: Record<ChatSurface, DialectCodec> = {
  'openai-chat': OPENAI_CHAT,
  anthropic: ANTHROPIC,
  ollama: OLLAMA,
  responses: RESPONSES,
  gemini: GEMINI,
};

/** Content type of a streamed answer per client dialect. */
const STREAM_CONTENT_TYPE: Record<ChatSurface, string> = {
  'openai-chat': 'text/event-stream; charset=utf-8',
  anthropic: 'text/event-stream; charset=utf-8',
  ollama: 'application/x-ndjson',
  responses: 'text/event-stream; charset=utf-8',
  gemini: 'text/event-stream; charset=utf-8',
};

type Attempt = { done: true } | { done: false; retryable: boolean; error: AppError };

/**
 * Aborts the upstream request when the client leaves. undici accepts an EventEmitter as `signal`;
 * this is much lighter than an AbortController (EventTarget) made for every request.
 */
class ClientGone extends EventEmitter {
  aborted = false;
  abort(): void {
    if (!this.aborted) {
      this.aborted = true;
      this.emit('abort');
    }
  }
}

/** What the client asked, in its own dialect. */
interface ClientCall {
  surface: ChatSurface;
  model: string;
  stream: boolean;
  /** OpenAI clients: a usage chunk in the stream was asked for. */
  includeUsage: boolean;
  /** The parsed body, this request's own (mutated in place for pass-through). */
  body: Record<string, unknown>;
  /** The canonical form, read when the request must be translated. */
  canonical?: CanonicalRequest;
}

interface Ctx {
  h: HotRequest;
  principal: Principal;
  call: ClientCall;
  resolved: ResolvedModel;
  abort: ClientGone;
}

function categoryFor(status: number): ErrorCategory {
  if (status === 401) {
    return 'UNAUTHENTICATED';
  }
  if (status === 403) {
    return 'FORBIDDEN';
  }
  if (status === 404) {
    return 'NOT_FOUND';
  }
  if (status === 429) {
    return 'RATE_LIMITED';
  }
  if (status === 504 || status === 408) {
    return 'UPSTREAM_TIMEOUT';
  }
  if (status >= 500) {
    return 'UPSTREAM_ERROR';
  }
  return 'INVALID_INPUT';
}

function ledgerUsage(
  u: CanonicalUsage,
): Pick<
  UsageEvent,
  'tokensInput' | 'tokensOutput' | 'tokensCacheRead' | 'tokensCacheCreation' | 'tokensReasoning'
> {
  return {
    tokensInput: u.inputTokens,
    tokensOutput: u.outputTokens,
    tokensCacheRead: u.cacheReadTokens,
    tokensCacheCreation: u.cacheCreationTokens,
    tokensReasoning: u.reasoningTokens,
  };
}

/** The client's request read in its dialect: validation errors are 4xx in that dialect. */
function readCall(surface: ChatSurface, h: HotRequest): ClientCall {
  if (surface === 'openai-chat') {
    const c = parseChatRequest(h.body, h.headers.accept);
    return {
      surface,
      model: c.model,
      stream: c.stream,
      includeUsage: c.clientWantsStreamUsage,
      body: c.body,
    };
  }
  const canonical = CLIENT_CODECS[surface].fromRequest(h.body, {
    model: h.params.model,
    stream: h.params.stream === 'true',
  });
  return {
    surface,
    model: canonical.model,
    stream: canonical.stream,
    includeUsage: false,
    body: h.body as Record<string, unknown>,
    canonical,
  };
}

/**
 * The chat pipeline for every client dialect it serves (OpenAI Chat, Anthropic Messages): resolve
 * `prefix/model`, pick an account (fill-first, skipping accounts cooling down), call the upstream
 * once per account with an abort signal tied to the client socket. Same dialect on both sides:
 * the body and the stream bytes pass through (only `model` is rewritten); different dialects: the
 * request, the answer and the stream are translated through the canonical form. Retryable failures
 * (429, 5xx, 401/403, network, timeout) move to the next account before any byte reaches the client;
 * a stream that fails after its first byte ends with the client dialect's error event. Every
 * attempt is recorded in the usage ledger off the request path.
 */
@Injectable()
export class ChatService {
  private readonly heartbeats: Heartbeats;

  constructor(
    private readonly providers: ProvidersService,
    private readonly selector: AccountSelector,
    private readonly upstream: UpstreamHttp,
    private readonly usage: UsageService,
    private readonly metrics: MetricsService,
    env: Env,
  ) {
    this.heartbeats = new Heartbeats(env.SSE_HEARTBEAT_MS);
  }

  async handle(h: HotRequest, surface: ChatSurface = 'openai-chat'): Promise<void> {
    const principal = h.principal;
    let provider = 'none';
    try {
      const call = readCall(surface, h);
      const table = this.providers.routing();
      const resolved = resolveModel(call.model, table);
      provider = resolved.target.id;
      if (!isModelAllowed(principal.allowedModels, call.model, resolved.qualified)) {
        throw AppError.forbidden(
          `Model "${call.model}" is not allowed for this API key`,
          'MODEL_NOT_ALLOWED',
        );
      }
      let candidates = table.connections.get(resolved.target.id);
      if (principal.allowedConnections.length && candidates) {
        const allowed = new Set(principal.allowedConnections);
        candidates = candidates.filter((c) => allowed.has(c.id));
      }
      const kind = candidates?.[0];
      if (kind && kind.apiType !== 'chat') {
        throw new AppError(
          'UNSUPPORTED_PROVIDER',
          'INVALID_INPUT',
          `Provider "${resolved.target.alias}" is a ${kind.apiType} endpoint, not a chat endpoint`,
          { param: 'model' },
        );
      }
      const pinnedHeader = h.headers['x-omniroute-connection'];
      const pinned = typeof pinnedHeader === 'string' && pinnedHeader ? pinnedHeader : undefined;
      const abort = new ClientGone();
      h.res.once('close', () => {
        if (!h.res.writableFinished) {
          abort.abort();
        }
      });
      const ctx: Ctx = { h, principal, call, resolved, abort };
      const tried = new Set<string>();
      let lastError: AppError | undefined;
      for (;;) {
        const pick = this.selector.pick(candidates, tried, pinned);
        if (!pick.ok) {
          throw this.exhausted(ctx, pick, lastError, pinned);
        }
        tried.add(pick.connection.id);
        const attempt = await this.attempt(ctx, pick.connection);
        if (attempt.done) {
          return;
        }
        lastError = attempt.error;
        if (abort.aborted) {
          throw new AppError('CLIENT_CLOSED', 'CLIENT_CLOSED', 'Client disconnected');
        }
        if (!attempt.retryable) {
          throw lastError;
        }
      }
    } catch (e) {
      this.observe(surface, provider, e instanceof AppError ? e.status : 500, h.startedAt);
      throw e;
    }
  }

  private observe(surface: ChatSurface, provider: string, status: number, startedAt: number): void {
    this.metrics.recordRequest(surface, provider, status, (performance.now() - startedAt) / 1000);
  }

  private exhausted(
    ctx: Ctx,
    pick: { reason: 'no-connections' | 'all-cooling' | 'pinned-missing'; retryAfterMs?: number },
    lastError: AppError | undefined,
    pinned?: string,
  ): AppError {
    const p = ctx.resolved.target.alias;
    if (pick.reason === 'pinned-missing' && !lastError) {
      return AppError.invalid(
        `Connection ${pinned} is not an active connection of provider ${p}`,
        { param: 'x-omniroute-connection' },
        'CONNECTION_NOT_FOUND',
      );
    }
    if (pick.reason === 'no-connections') {
      return new AppError('NO_CREDENTIALS', 'INVALID_INPUT', `No credentials for provider: ${p}`, {
        param: 'model',
      });
    }
    const secs =
      pick.retryAfterMs !== undefined
        ? Math.max(1, Math.ceil(pick.retryAfterMs / 1000))
        : undefined;
    if (lastError) {
      if (secs && !lastError.headers?.['retry-after']) {
        return new AppError(
          lastError.code,
          lastError.category,
          lastError.message,
          lastError.details,
          lastError.status,
          { ...lastError.headers, 'retry-after': String(secs) },
        );
      }
      return lastError;
    }
    return new AppError(
      'ALL_ACCOUNTS_COOLING_DOWN',
      'RATE_LIMITED',
      `All accounts for provider ${p} are cooling down after upstream errors${secs ? ` (retry in ${secs}s)` : ''}`,
      { provider: p, retryAfterSeconds: secs },
      429,
      secs ? { 'retry-after': String(secs) } : undefined,
    );
  }

  private usageBase(
    ctx: Ctx,
    conn: RoutableConnection,
  ): Pick<
    UsageEvent,
    | 'requestId'
    | 'apiKeyId'
    | 'apiKeyName'
    | 'surface'
    | 'provider'
    | 'model'
    | 'connectionId'
    | 'stream'
  > {
    return {
      requestId: ctx.h.id,
      apiKeyId: ctx.principal.id,
      apiKeyName: ctx.principal.name,
      surface: ctx.call.surface,
      provider: conn.provider,
      model: ctx.resolved.upstreamModel,
      connectionId: conn.id,
      stream: ctx.call.stream,
    };
  }

  /** The upstream body: the client's own with `model` rewritten, or a translation. */
  private upstreamBody(ctx: Ctx, codec: DialectCodec): string {
    const { call, resolved } = ctx;
    if (codec.id === call.surface) {
      const body = call.body;
      if (!codec.modelInUrl) {
        body.model = resolved.upstreamModel;
      }
      if (call.surface === 'openai-chat' && call.stream && !call.includeUsage) {
        // metering: ask for the usage chunk (hidden from a client that did not ask for it)
        body.stream_options = { ...(body.stream_options ?? {}), include_usage: true };
      }
      return JSON.stringify(body);
    }
    call.canonical ??= CLIENT_CODECS[call.surface].fromRequest(call.body);
    return JSON.stringify(
      codec.toRequest({ ...call.canonical, model: resolved.upstreamModel, stream: call.stream }),
    );
  }

  private async attempt(ctx: Ctx, conn: RoutableConnection): Promise<Attempt> {
    const { call, resolved, abort } = ctx;
    // An OpenAI-dialect model that only the Responses API serves is called there (and translated).
    const viaResponses =
      conn.dialect === 'openai' && conn.responsesModels.has(resolved.upstreamModel);
    const codec = viaResponses ? RESPONSES : upstreamCodec(conn.dialect);
    const passThrough = codec.id === call.surface;
    const t0 = performance.now();
    this.metrics.observeOverhead(call.surface, (t0 - ctx.h.startedAt) / 1000);
    const base = this.usageBase(ctx, conn);
    const fail = (
      status: number,
      error: AppError,
      retryable: boolean,
      ttft: number | null = null,
    ): Attempt => {
      this.usage.record({
        ...base,
        ...ledgerUsage(EMPTY_USAGE),
        status,
        success: false,
        latencyMs: performance.now() - t0,
        ttftMs: ttft,
        errorCode: error.code,
      });
      return { done: false, retryable, error };
    };
    let res;
    try {
      res = await this.upstream.request({
        url: viaResponses
          ? conn.responsesUrl
          : codec.upstreamUrl
            ? codec.upstreamUrl(conn.chatUrl, resolved.upstreamModel, call.stream)
            : conn.chatUrl,
        headers: call.stream ? conn.requestHeaders.stream : conn.requestHeaders.json,
        body: this.upstreamBody(ctx, codec),
        signal: abort,
      });
    } catch (e) {
      const err = transportError(e, resolved.target.alias);
      if (err.code === 'CLIENT_CLOSED') {
        return fail(499, err, false);
      }
      this.selector.fail(conn.id, 'network');
      return fail(err.status, err, true);
    }
    const ttfb = performance.now() - t0;
    this.metrics.observeTtfb(conn.provider, ttfb / 1000);

    if (res.statusCode >= 400) {
      let text = '';
      try {
        text = await res.body.text();
      } catch {
        /* body lost: the status is enough */
      }
      const status = res.statusCode;
      const retryMs = retryAfterMs(res.headers);
      const headers =
        status === 429 && retryMs !== undefined
          ? { 'retry-after': String(Math.ceil(retryMs / 1000)) }
          : undefined;
      const err = new AppError(
        'UPSTREAM_ERROR',
        categoryFor(status),
        `[${status}]: ${upstreamMessage(text)}`,
        { upstream: { status, provider: resolved.target.alias } },
        status,
        headers,
      );
      let retryable = false;
      if (status === 429) {
        this.selector.fail(conn.id, 'rate-limit', retryMs);
        retryable = true;
      } else if (status >= 500 || status === 408) {
        this.selector.fail(conn.id, 'server', retryMs);
        retryable = true;
      } else if (status === 401 || status === 403 || status === 402) {
        this.selector.fail(conn.id, 'auth');
        retryable = true;
      }
      return fail(status, err, retryable, ttfb);
    }

    const contentType = String(res.headers['content-type'] ?? '');
    if (
      call.stream &&
      (contentType.includes('text/event-stream') || contentType.includes('ndjson'))
    ) {
      const clientCodec = CLIENT_CODECS[call.surface];
      const pipe: StreamPipe = passThrough
        ? call.surface === 'openai-chat'
          ? new OpenAiPassPipe(!call.includeUsage)
          : new WatchPassPipe(
              codec.decoder(),
              clientCodec.encoder({
                id: ctx.h.id,
                model: resolved.upstreamModel,
                created: 0,
                includeUsage: false,
              }),
            )
        : new TranslatePipe(
            codec.decoder(),
            CLIENT_CODECS[call.surface].encoder({
              id: ctx.h.id,
              model: resolved.upstreamModel,
              created: Math.floor(Date.now() / 1000),
              includeUsage: call.includeUsage,
            }),
          );
      return this.pipeStream(ctx, conn, res.body, pipe, t0, ttfb, base);
    }
    let buf: Buffer;
    try {
      buf = Buffer.from(await res.body.arrayBuffer());
    } catch (e) {
      const err = transportError(e, resolved.target.alias);
      if (err.code !== 'CLIENT_CLOSED') {
        this.selector.fail(conn.id, 'network');
      }
      return fail(
        err.code === 'CLIENT_CLOSED' ? 499 : err.status,
        err,
        err.code !== 'CLIENT_CLOSED',
        ttfb,
      );
    }
    let usage: CanonicalUsage;
    let payload: Buffer;
    try {
      if (passThrough) {
        payload = buf;
        usage =
          codec.id === 'openai-chat'
            ? fromOpenAiUsage(extractUsage(buf))
            : codec.fromResponse(JSON.parse(buf.toString('utf8'))).usage;
      } else {
        const canonical = codec.fromResponse(JSON.parse(buf.toString('utf8')));
        usage = canonical.usage;
        payload = Buffer.from(JSON.stringify(CLIENT_CODECS[call.surface].toResponse(canonical)));
      }
    } catch (e) {
      const err =
        e instanceof AppError
          ? e
          : new AppError(
              'UPSTREAM_INVALID_RESPONSE',
              'UPSTREAM_ERROR',
              `Upstream ${resolved.target.alias} sent a body that is not valid JSON`,
            );
      this.selector.fail(conn.id, 'server');
      return fail(err.status, err, true, ttfb);
    }
    const latency = performance.now() - t0;
    this.selector.succeed(conn.id);
    this.usage.record({
      ...base,
      ...ledgerUsage(usage),
      status: res.statusCode,
      success: true,
      latencyMs: latency,
      ttftMs: latency,
      errorCode: null,
    });
    this.countTokens(conn.provider, usage);
    sendJson(ctx.h, res.statusCode, payload, {
      'content-type': passThrough && contentType ? contentType : 'application/json',
      'x-omniroute-provider': resolved.target.alias,
      'x-omniroute-model': resolved.upstreamModel,
      'x-omniroute-latency-ms': String(Math.round(performance.now() - ctx.h.startedAt)),
      'x-omniroute-tokens-in': String(
        usage.inputTokens + usage.cacheReadTokens + usage.cacheCreationTokens,
      ),
      'x-omniroute-tokens-out': String(usage.outputTokens),
    });
    this.observe(call.surface, conn.provider, res.statusCode, ctx.h.startedAt);
    return { done: true };
  }

  private countTokens(provider: string, u: CanonicalUsage): void {
    const input = u.inputTokens + u.cacheReadTokens + u.cacheCreationTokens;
    if (input) {
      this.metrics.tokens.inc({ provider, direction: 'input' }, input);
    }
    if (u.outputTokens) {
      this.metrics.tokens.inc({ provider, direction: 'output' }, u.outputTokens);
    }
  }

  /** Streams upstream SSE to the client with backpressure, heartbeats and a terminal error event. */
  private async pipeStream(
    ctx: Ctx,
    conn: RoutableConnection,
    body: Readable,
    pipe: StreamPipe,
    t0: number,
    ttfb: number,
    base: ReturnType<ChatService['usageBase']>,
  ): Promise<Attempt> {
    const { h, abort, resolved } = ctx;
    const raw = h.res;
    raw.writeHead(200, {
      ...h.baseHeaders,
      'content-type': STREAM_CONTENT_TYPE[ctx.call.surface],
      'cache-control': 'no-cache',
      connection: 'keep-alive',
      'x-accel-buffering': 'no',
      'x-omniroute-provider': resolved.target.alias,
      'x-omniroute-model': resolved.upstreamModel,
    });
    // SSE comment heartbeats; an NDJSON stream (Ollama) has no comment syntax, so none there.
    const beat = ctx.call.surface === 'ollama' ? undefined : this.heartbeats.add(raw);
    let firstChunkAt: number | null = null;
    // Bytes for the client are gathered for one event-loop turn and written together: when the
    // upstream sends a burst (or the whole answer at once), headers, events and the end go out in
    // one write instead of one per chunk.
    let pending: Buffer[] = [];
    let flushScheduled = false;
    let paused = false;
    const resume = (): void => {
      paused = false;
      body.resume();
    };
    const flush = (): void => {
      flushScheduled = false;
      if (!pending.length || raw.writableEnded) {
        pending = [];
        return;
      }
      const out = pending.length === 1 ? pending[0] : Buffer.concat(pending);
      pending = [];
      if (beat) {
        beat.lastWrite = Date.now();
      }
      if (!raw.write(out) && !paused) {
        paused = true;
        body.pause();
        raw.once('drain', resume);
      }
    };
    const failure = await new Promise<AppError | undefined>((resolve) => {
      const done = (err?: unknown): void => {
        body.off('data', onData);
        raw.off('drain', resume);
        resolve(err === undefined ? undefined : transportError(err, resolved.target.alias));
      };
      const onData = (chunk: Buffer): void => {
        firstChunkAt ??= performance.now();
        const out = pipe.push(chunk);
        if (out && out.length) {
          pending.push(out);
          if (!flushScheduled) {
            flushScheduled = true;
            setImmediate(flush);
          }
        }
      };
      body.on('data', onData);
      body.once('end', () => done());
      body.once('error', done);
    });
    if (beat) {
      this.heartbeats.remove(beat);
    }
    const { tail, outcome } = pipe.finish(abort.aborted ? undefined : failure);
    let status = 200;
    let errorCode: string | null = null;
    if (abort.aborted) {
      status = 499;
      errorCode = 'CLIENT_CLOSED';
    } else if (!outcome.completed) {
      status = failure?.status ?? 502;
      errorCode = outcome.errorCode;
      this.selector.fail(conn.id, 'server');
    } else {
      this.selector.succeed(conn.id);
    }
    if (tail && !abort.aborted) {
      pending.push(tail);
    }
    if (!raw.writableEnded) {
      raw.end(pending.length ? Buffer.concat(pending) : undefined);
    }
    pending = [];
    this.countTokens(conn.provider, outcome.usage);
    this.usage.record({
      ...base,
      ...ledgerUsage(outcome.usage),
      status,
      success: status === 200,
      latencyMs: performance.now() - t0,
      ttftMs: firstChunkAt !== null ? firstChunkAt - t0 : ttfb,
      errorCode,
    });
    this.observe(ctx.call.surface, conn.provider, status, h.startedAt);
    return { done: true };
  }
}
