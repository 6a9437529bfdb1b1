import { Injectable } from '@nestjs/common';
import { EventEmitter } from 'node:events';
import type { Readable } from 'node:stream';
import { CacheService } from '@/cache/cache.service';
import { IdempotencyService } from '@/cache/idempotency.service';
import {
  SemanticCache,
  conversationText,
  type SemanticProbe,
} from '@/cache/semantic-cache.service';
import { AppError, type ErrorCategory } from '@/common/errors/app-error';
import { ResponseRecorder, replay, type RecordedResponse } from '@/common/http/response-recorder';
import type { Combo } from '@/combos/combo.types';
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
import {
  UpstreamStatusError,
  type MediaSurface,
  type MediaUsage,
  type Operation,
} from '@/gateway/media/operation';
import { sendJson, type HotRequest } from '@/gateway/http/hot-request';
import { AccountSelector } from '@/gateway/routing/account-selector';
import {
  allTargetsFailed,
  annotate,
  deadlineExceeded,
  earliestRetry,
  type AttemptNote,
} from '@/gateway/routing/attempt-log';
import {
  RouterService,
  type PlannedTarget,
  type RoutePlan,
} from '@/gateway/routing/router.service';
import { Heartbeats, type Beat } from '@/gateway/streaming/heartbeat';
import { extractUsage } from '@/gateway/streaming/openai-sse-tap';
import {
  OpenAiPassPipe,
  TranslatePipe,
  WatchPassPipe,
  type StreamPipe,
} from '@/gateway/streaming/stream-pipes';
import { PolicyService, type Reservation } from '@/policies/policy.service';
import { PricingService } from '@/pricing/pricing.service';
import { upstreamMessage } from '@/providers/providers.service';
import type { RoutableConnection } from '@/providers/routing-table';
import { CircuitBreakers } from '@/resilience/breakers.service';
import { classifyFailure, type FailureClass, type FailureInput } from '@/resilience/classify';
import { Cooldowns } from '@/resilience/cooldowns.service';
import { LatencyStats } from '@/resilience/latency-stats.service';
import { RateLimiter } from '@/resilience/rate-limiter.service';
import { ResilienceService } from '@/resilience/resilience.service';
import { SessionsService } from '@/sessions/sessions.service';
import { TelemetryService } from '@/telemetry/telemetry.service';
import type { ResilienceSettings } from '@/resilience/resilience.settings';
import { retryAfterMs } from '@/resilience/retry-hints';
import { UpstreamHttp, transportError } from '@/upstream/upstream-http.service';
import { UsageService, type UsageEvent } from '@/usage/usage.service';
import { Deadlines, type Deadline } from './deadlines';
import { parseChatRequest } from './openai-chat.request';

/** The client dialects the chat pipeline serves. */
export type ChatSurface = 'openai-chat' | 'anthropic' | 'ollama' | 'responses' | 'gemini';
/** Every surface the pipeline routes: the chat dialects and the media operations. */
export type Surface = ChatSurface | MediaSurface;

const CLIENT_CODECS: Record<ChatSurface, DialectCodec> = {
  'openai-chat': OPENAI_CHAT,
  anthropic: ANTHROPIC,
  ollama: OLLAMA,
  responses: RESPONSES,
  gemini: GEMINI,
};

/** The codec of a chat call's client dialect (media calls never reach the chat paths). */
function clientCodec(call: ClientCall): DialectCodec {
  return CLIENT_CODECS[call.surface as ChatSurface];
}

/** Content type of a streamed answer per client dialect. */
const STREAM_CONTENT_TYPE: Record<ChatSurface, string> = {
  'openai-chat': 'text/event-stream; charset=utf-8',
  anthropic: 'text/event-stream; charset=utf-8',
  ollama: 'application/x-ndjson',
  responses: 'text/event-stream; charset=utf-8',
  gemini: 'text/event-stream; charset=utf-8',
};

/** One upstream call's result: served, or failed before anything reached the client. */
type Attempt =
  { done: true } | { done: false; error: AppError; failure: FailureInput; retryHintMs?: number };

/**
 * Aborts the upstream request when the client leaves or the total timeout runs out. undici accepts
 * an EventEmitter as `signal`; this is much lighter than an AbortController (EventTarget) made for
 * every request.
 */
class RequestAbort extends EventEmitter {
  aborted = false;
  cause: 'client' | 'deadline' | undefined;
  abort(cause: 'client' | 'deadline'): void {
    if (!this.aborted) {
      this.aborted = true;
      this.cause = cause;
      this.emit('abort');
    }
  }
}

/** What the client asked, in its own dialect. */
interface ClientCall {
  surface: Surface;
  /** A media request (embeddings, images, transcription): its own upstream exchange. */
  op?: Operation;
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
  plan: RoutePlan;
  abort: RequestAbort;
  settings: ResilienceSettings;
  /** performance.now() after which the request gives up. */
  deadline: number;
  totalMs: number;
  /** `x-omniroute-connection`: one account, cooldowns and breaker ignored. */
  forced?: string;
  notes: AttemptNote[];
  attempts: number;
  /** The last failure of a single-model request (its answer when nothing else serves). */
  lastError?: AppError;
  /** Stream headers (and heartbeats) already sent: later attempts write into the same stream. */
  committed: boolean;
  beat?: Beat;
  /** The key's budget/TPM reservation, settled with the real cost when the request ends. */
  reservation?: Reservation;
  /** Time in the gateway before the first upstream call. */
  overheadMs?: number;
  /** What served the request (or the stream that failed after its first event). */
  outcome?: {
    target: PlannedTarget;
    conn: RoutableConnection;
    usage: CanonicalUsage;
    cost: number;
    ttftMs: number;
    status?: number;
    errorCode?: string | null;
    /** Images made and audio seconds heard (media requests). */
    media?: MediaUsage;
  };
  /** An explicit session (header or body id): its account affinity is kept. */
  session?: string;
  /** The account that last served this session, tried first when usable. */
  sticky?: string;
  /** Releases or answers this request's idempotency key (set while it runs). */
  finish?: (rec: RecordedResponse | undefined) => Promise<void>;
  /** `X-OmniRoute-Progress: true` on a stream: progress comments every PROGRESS_INTERVAL_MS. */
  progress?: { timer?: NodeJS.Timeout; events: number; startedAt: number };
  /**
   * The stream went out with a 200 status line but did not complete (upstream failure after the
   * first event, deadline, client gone): not an answer to keep for idempotent replays.
   */
  incomplete?: boolean;
}

/** Recorded answers (idempotency replays, cache entries) larger than this are not kept. */
const RECORD_MAX_BYTES = 8 * 1024 * 1024;
/** A duplicate waits at most this long for the first request's answer. */
const IDEMPOTENT_WAIT_MAX_MS = 60_000;

/** The last user message's text, shortened, for the call log (any dialect). */
function requestSummary(call: ClientCall): string | null {
  if (call.op) {
    return call.op.summary;
  }
  if (call.canonical) {
    for (let i = call.canonical.messages.length - 1; i >= 0; i--) {
      const m = call.canonical.messages[i];
      if (m.role === 'user') {
        const text = m.parts
          .map((p) => (p.type === 'text' ? p.text : ''))
          .join(' ')
          .trim();
        return text ? text.slice(0, 200) : null;
      }
    }
    return null;
  }
  const messages = call.body.messages;
  if (!Array.isArray(messages)) {
    return null;
  }
  for (let i = messages.length - 1; i >= 0; i--) {
    const m = messages[i] as { role?: unknown; content?: unknown } | null;
    if (m && m.role === 'user') {
      const c = m.content;
      const text =
        typeof c === 'string'
          ? c
          : Array.isArray(c)
            ? c
                .map((p) =>
                  p && typeof p === 'object' && typeof (p as { text?: unknown }).text === 'string'
                    ? (p as { text: string }).text
                    : '',
                )
                .join(' ')
            : '';
      return text.trim() ? text.trim().slice(0, 200) : null;
    }
  }
  return null;
}

/** A replayed answer (cache hit, idempotent duplicate) costs nothing and made no attempt. */
const REPLAYED = { 'x-omniroute-response-cost': (0).toFixed(10), 'x-omniroute-attempts': '0' };

/** The answer-length cap the client set, in any dialect (null when none). */
function maxOutputOf(call: ClientCall): number | null {
  if (call.op) {
    return 0;
  }
  if (call.canonical?.maxTokens !== undefined) {
    return call.canonical.maxTokens;
  }
  const b = call.body;
  const v = b.max_completion_tokens ?? b.max_tokens;
  return typeof v === 'number' && v > 0 ? v : null;
}

/** The sampling temperature the client asked for, in any dialect (undefined when absent). */
function temperatureOf(call: ClientCall): number | undefined {
  if (call.canonical) {
    return call.canonical.temperature;
  }
  const t = call.body.temperature;
  return typeof t === 'number' ? t : undefined;
}

/** The target being tried (resolution + the combo step it came from). */
type Target = PlannedTarget;

/** What became of one target: served, moved on, or a failure that ends the request. */
type TargetResult = 'done' | 'next' | { stop: AppError };

/**
 * A combo's request rewrites (reference §5.3): `system_message` replaces the system prompt;
 * `tool_filter_regex` keeps only the tools whose name matches (a forced choice of a dropped tool
 * falls back to `auto`). The request then goes through the canonical form even to a same-dialect
 * upstream.
 */
function applyComboRewrites(req: CanonicalRequest, combo: Combo): void {
  if (combo.system_message) {
    req.system = [{ type: 'text', text: combo.system_message }];
  }
  if (combo.tool_filter_regex && req.tools?.length) {
    let re: RegExp;
    try {
      re = new RegExp(combo.tool_filter_regex);
    } catch {
      return; // validated on save; an unparsable pattern filters nothing
    }
    req.tools = req.tools.filter((t) => re.test(t.name));
    const choice = req.toolChoice;
    if (!req.tools.length) {
      delete req.tools;
      delete req.toolChoice;
      delete req.parallelToolCalls;
    } else if (
      choice &&
      typeof choice === 'object' &&
      !req.tools.some((t) => t.name === choice.name)
    ) {
      req.toolChoice = 'auto';
    }
  }
}

/** Events in a chunk of SSE bytes (each ends with a blank line). */
function countEvents(buf: Buffer): number {
  let n = 0;
  for (let i = buf.indexOf('\n\n'); i !== -1; i = buf.indexOf('\n\n', i + 2)) {
    n++;
  }
  return n;
}

/**
 * A progress report (reference §7.4) as an SSE comment line: every SSE client, and so every
 * official SDK, skips comments, so a client that did not ask to read them never sees them.
 */
function progressComment(p: { events: number; startedAt: number }, done: boolean): string {
  const body = {
    tokens_generated: p.events,
    elapsed_ms: Math.round(performance.now() - p.startedAt),
    ...(done ? { done: true } : {}),
  };
  return `: progress ${JSON.stringify(body)}\n\n`;
}

/** The transport failure kind of an undici error (for classification). */
function transportKind(e: unknown, firstToken: boolean): NonNullable<FailureInput['transport']> {
  const code = (e as { code?: string }).code ?? '';
  if (code === 'UND_ERR_HEADERS_TIMEOUT') {
    return 'first-token-timeout';
  }
  if (code === 'UND_ERR_CONNECT_TIMEOUT') {
    return 'connect-timeout';
  }
  if (code === 'UND_ERR_BODY_TIMEOUT') {
    return firstToken ? 'first-token-timeout' : 'timeout';
  }
  return 'network';
}

function sleep(ms: number, abort: RequestAbort): Promise<void> {
  return new Promise((resolve) => {
    if (abort.aborted) {
      resolve();
      return;
    }
    const done = (): void => {
      clearTimeout(t);
      abort.off('abort', done);
      resolve();
    };
    const t = setTimeout(done, ms);
    abort.once('abort', done);
  });
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

/** An upstream's HTTP failure as the client's error (its status, message and Retry-After). */
function upstreamStatusError(
  status: number,
  text: string,
  headers: FailureInput['headers'],
  provider: string,
): AppError {
  const retryMs = retryAfterMs(headers ?? {});
  return new AppError(
    'UPSTREAM_ERROR',
    categoryFor(status),
    `[${status}]: ${upstreamMessage(text)}`,
    { upstream: { status, provider } },
    status,
    (status === 429 || status === 503) && retryMs !== undefined
      ? { 'retry-after': String(Math.max(1, Math.ceil(retryMs / 1000))) }
      : undefined,
  );
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
 * The chat pipeline for every client dialect it serves. The model names one `prefix/model` or a
 * combo; the router orders the combo's targets by its strategy. For each target: the provider's
 * circuit breaker, then its accounts by the rotation strategy (skipping cooling, locked and
 * over-limit ones), one upstream call per account with an abort signal tied to the client socket
 * and the total timeout. A failure is classified (reference §5.5): transient ones are retried on
 * the same account with backoff (only before the first byte), then the account cools down, the
 * breaker counts, and the request moves to the next account, then the next target; a plain 400
 * ends it. When everything is cooling down the request waits (bounded) or fails fast with 429/503,
 * `Retry-After` and the attempt log in the body. Same dialect on both sides: the body and stream
 * bytes pass through (only `model` is rewritten); otherwise request, answer and stream are
 * translated through the canonical form. A stream commits to the client at the upstream's first
 * event, so a slow or failing start still falls back; after that a failure ends with the dialect's
 * error event. Every attempt is recorded in the usage ledger off the request path.
 */
@Injectable()
export class ChatService {
  private readonly heartbeats: Heartbeats;
  private readonly heartbeatMs: number;
  private readonly progressMs: number;
  private readonly deadlines = new Deadlines();

  constructor(
    private readonly router: RouterService,
    private readonly selector: AccountSelector,
    private readonly upstream: UpstreamHttp,
    private readonly usage: UsageService,
    private readonly metrics: MetricsService,
    private readonly resilience: ResilienceService,
    private readonly breakers: CircuitBreakers,
    private readonly cooldowns: Cooldowns,
    private readonly limiter: RateLimiter,
    private readonly latency: LatencyStats,
    private readonly cache: CacheService,
    private readonly semantic: SemanticCache,
    private readonly idempotency: IdempotencyService,
    private readonly sessions: SessionsService,
    private readonly pricing: PricingService,
    private readonly telemetry: TelemetryService,
    private readonly policies: PolicyService,
    env: Env,
  ) {
    this.heartbeats = new Heartbeats(env.SSE_HEARTBEAT_MS);
    this.heartbeatMs = env.SSE_HEARTBEAT_MS;
    this.progressMs = env.PROGRESS_INTERVAL_MS;
    resilience.onChange((s) => upstream.setConnectTimeout(s.timeouts.connectMs));
  }

  /** A chat request in one of the client dialects. */
  handle(h: HotRequest, surface: ChatSurface = 'openai-chat'): Promise<void> {
    return this.run(h, surface, () => readCall(surface, h));
  }

  /** A media request (embeddings, images, transcription) through the same routing and metering. */
  handleOperation(h: HotRequest, op: Operation): Promise<void> {
    return this.run(h, op.surface, () => ({
      surface: op.surface,
      model: op.model,
      stream: false,
      includeUsage: false,
      body: op.cacheBody ?? {},
      op,
    }));
  }

  private async run(h: HotRequest, surface: Surface, read: () => ClientCall): Promise<void> {
    const principal = h.principal;
    let provider = 'none';
    let deadline: Deadline | undefined;
    let active: Ctx | undefined;
    this.telemetry.begin();
    try {
      const call = read();
      const op = call.op;
      const plan = this.router.plan(call.model, principal, op?.capability ?? 'chat');
      provider = plan.combo ? 'combo' : plan.targets[0].resolved.target.id;
      const settings = this.resilience.current();
      const totalMs = plan.combo?.config.timeoutMs ?? settings.timeouts.totalMs;
      const pinnedHeader = h.headers['x-omniroute-connection'];
      const abort = new RequestAbort();
      h.res.once('close', () => {
        if (!h.res.writableFinished) {
          abort.abort('client');
        }
      });
      deadline = this.deadlines.add(h.startedAt + totalMs, () => abort.abort('deadline'));
      const ctx: Ctx = {
        h,
        principal,
        call,
        plan,
        abort,
        settings,
        deadline: h.startedAt + totalMs,
        totalMs,
        forced: typeof pinnedHeader === 'string' && pinnedHeader ? pinnedHeader : undefined,
        notes: plan.unresolved.map((u) => ({
          target: u.model,
          step: u.stepId,
          outcome: 'skipped' as const,
          reason: 'unresolvable',
          message: u.reason,
        })),
        attempts: 0,
        committed: false,
      };
      active = ctx;
      // Sessions (reference §7.5, chat only): the id goes on every answer; a key's maxSessions
      // is enforced (awaited, atomic across replicas), otherwise the activity is recorded in the
      // background.
      if (!op) {
        const session = this.sessions.resolve(h.headers, call.body, call.model);
        h.baseHeaders['x-omniroute-session-id'] = session.id;
        const maxSessions = principal.maxSessions ?? null;
        if (maxSessions) {
          const t = await this.sessions.touch(
            session.id,
            principal.id,
            maxSessions,
            session.source,
          );
          if (!t.ok) {
            throw t.error;
          }
        } else {
          this.sessions.touchLater(session.id, principal.id, session.source);
        }
        if (session.source === 'header') {
          ctx.session = session.id;
          ctx.sticky = this.sessions.affinity(session.id);
        }
      }
      // Key policy: schedule, RPM/RPD/TPM and the budget reservation (settled at the end).
      const single = plan.combo ? undefined : plan.targets[0]?.resolved;
      ctx.reservation = await this.policies.admit(principal, {
        model: call.model,
        estimatedInputTokens: op
          ? op.estimatedInputTokens
          : Math.ceil(
              (h.raw.headers['content-length'] ? Number(h.raw.headers['content-length']) : 4096) /
                4,
            ),
        maxOutputTokens: maxOutputOf(call),
        provider: single?.target.id,
        upstreamModel: single?.upstreamModel,
        estimatedUsd:
          op?.estimatedUsd && single
            ? op.estimatedUsd(single.target.id, single.upstreamModel)
            : undefined,
      });
      // Idempotency, then the response cache (API.md §1 pipeline order), around the routing.
      const idemKey = this.idempotency.keyOf(h.headers);
      let finish: ((rec: RecordedResponse | undefined) => Promise<void>) | undefined;
      if (idemKey) {
        const o = await this.idempotency.begin(
          principal.id,
          idemKey,
          h.id,
          totalMs + 5_000,
          Math.min(totalMs, IDEMPOTENT_WAIT_MAX_MS),
        );
        if (o.kind === 'replay') {
          replay(h.res, o.rec, h.baseHeaders, { ...REPLAYED, 'x-omniroute-idempotent': 'true' });
          // no upstream call: the whole time was spent in the gateway
          this.observe(
            surface,
            provider,
            o.rec.status,
            h.startedAt,
            call.model,
            null,
            performance.now() - h.startedAt,
          );
          this.logCall(h, surface, ctx, o.rec.status, { replay: true });
          return;
        }
        if (o.kind === 'run') {
          finish = o.finish;
        }
      }
      active.finish = finish;
      // media requests: only those with a cache identity (embeddings) are cached
      const cacheable = !op || op.cacheBody !== undefined;
      const cacheKey = cacheable
        ? this.cache.keyFor(h.headers, principal.id, {
            surface,
            model: call.model,
            stream: call.stream,
            body: call.body,
            temperature: op ? 0 : temperatureOf(call),
          })
        : undefined;
      let probe: SemanticProbe | undefined;
      if (cacheKey) {
        // semantic mode (chat only): an exact miss may be answered by a similar conversation
        const semantic = !op && this.semantic.enabled();
        let hit = await this.cache.get(cacheKey.key, !semantic);
        let match: Record<string, string> = {};
        if (!hit && semantic) {
          probe = await this.semantic.probe(
            h.headers,
            h.query,
            this.semantic.scopeOf(principal.id, surface, call.model, call.body),
            conversationText(surface, call.body),
          );
          if (probe.hit) {
            hit = probe.hit.rec;
            this.cache.semanticHit(hit);
            match = {
              'x-omniroute-cache-match': `semantic; similarity=${probe.hit.similarity.toFixed(4)}`,
            };
          } else {
            this.cache.miss();
          }
        }
        if (hit) {
          replay(h.res, hit, h.baseHeaders, { ...REPLAYED, 'x-omniroute-cache': 'HIT', ...match });
          this.observe(
            surface,
            provider,
            hit.status,
            h.startedAt,
            call.model,
            null,
            performance.now() - h.startedAt,
          );
          this.logCall(h, surface, ctx, hit.status, { cacheSource: 'cache' });
          active.finish = undefined;
          await finish?.(hit);
          return;
        }
        h.baseHeaders['x-omniroute-cache'] = 'MISS';
      } else if (!call.stream && cacheable) {
        this.cache.bypass();
      }
      const recorder =
        cacheKey?.writable || finish ? new ResponseRecorder(h.res, RECORD_MAX_BYTES) : undefined;
      await this.route(ctx);
      const rec = active.incomplete ? undefined : recorder?.result();
      if (cacheKey?.writable && rec) {
        this.cache.set(cacheKey.key, rec);
        if (probe) {
          this.semantic.remember(probe, cacheKey.key);
        }
      }
      active.finish = undefined;
      await finish?.(rec);
      this.logCall(h, surface, ctx, ctx.outcome?.status ?? 200);
    } catch (e) {
      if (active?.finish) {
        await active.finish(undefined);
      }
      if (active?.beat) {
        this.heartbeats.remove(active.beat);
      }
      if (active?.progress) {
        clearInterval(active.progress.timer);
      }
      if (active?.committed && e instanceof AppError && !active.call.op) {
        this.endCommittedStream(h, surface as ChatSurface, annotate(e, active.notes));
      }
      this.observe(
        surface,
        provider,
        e instanceof AppError ? e.status : 500,
        h.startedAt,
        active?.call.model,
        null,
        active?.overheadMs ?? null,
      );
      const err = e instanceof AppError ? e : undefined;
      this.logCall(h, surface, active, err?.status ?? 500, {
        error: err,
        model:
          typeof (h.body as { model?: unknown } | undefined)?.model === 'string'
            ? (h.body as { model: string }).model
            : h.params.model,
      });
      throw e;
    } finally {
      if (active?.reservation) {
        const u = active.outcome?.usage;
        this.policies.settle(active.reservation, {
          costUsd: active.outcome?.cost ?? 0,
          tokens: u
            ? u.inputTokens + u.cacheReadTokens + u.cacheCreationTokens + u.outputTokens
            : 0,
        });
      }
      this.telemetry.end();
      if (deadline) {
        this.deadlines.remove(deadline);
      }
    }
  }

  /** Tries the plan's targets in strategy order, waiting for a cooldown when allowed. */
  private async route(ctx: Ctx): Promise<void> {
    const { plan, settings, abort } = ctx;
    const wait = settings.waitForCooldown;
    for (let round = 0; ; round++) {
      const targets = await this.router.order(plan);
      for (const target of targets) {
        const r = await this.tryTarget(ctx, target);
        if (r === 'done') {
          return;
        }
        if (r !== 'next') {
          throw annotate(r.stop, ctx.notes);
        }
        this.checkAbort(ctx);
      }
      const retry = earliestRetry(ctx.notes);
      const left = ctx.deadline - performance.now();
      if (
        wait.enabled &&
        round < wait.maxRetries &&
        retry !== undefined &&
        retry <= wait.maxRetryWaitSec * 1000 &&
        retry < left &&
        !ctx.forced
      ) {
        await sleep(retry + 5, abort);
        this.checkAbort(ctx);
        continue;
      }
      throw this.exhausted(ctx, ctx.lastError);
    }
  }

  private checkAbort(ctx: Ctx): void {
    if (ctx.abort.cause === 'client') {
      throw new AppError('CLIENT_CLOSED', 'CLIENT_CLOSED', 'Client disconnected');
    }
    if (ctx.abort.cause === 'deadline' || performance.now() >= ctx.deadline) {
      throw deadlineExceeded(ctx.totalMs, ctx.notes);
    }
  }

  private exhausted(ctx: Ctx, lastError: AppError | undefined): AppError {
    const { plan, notes } = ctx;
    if (plan.combo) {
      return allTargetsFailed(`Combo "${plan.combo.name}"`, notes);
    }
    const target = plan.targets[0];
    const p = target.resolved.target.alias;
    if (lastError) {
      return annotate(lastError, notes);
    }
    if (ctx.forced) {
      return AppError.invalid(
        `Connection ${ctx.forced} is not an active connection of provider ${p}`,
        { param: 'x-omniroute-connection' },
        'CONNECTION_NOT_FOUND',
      );
    }
    if (!target.candidates?.length) {
      return new AppError('NO_CREDENTIALS', 'INVALID_INPUT', `No credentials for provider: ${p}`, {
        param: 'model',
      });
    }
    const breaker = notes.find((n) => n.reason === 'circuit-open');
    const retry = earliestRetry(notes);
    const secs = retry === undefined ? undefined : Math.max(1, Math.ceil(retry / 1000));
    if (breaker) {
      return new AppError(
        'PROVIDER_CIRCUIT_OPEN',
        'UNAVAILABLE',
        `Provider ${p} is failing; its circuit breaker is open${secs ? ` (retry in ${secs}s)` : ''}`,
        { provider: p, attempts: notes, retryAfterSeconds: secs },
        503,
        {
          'x-omniroute-provider-breaker': 'open',
          ...(secs ? { 'retry-after': String(secs) } : {}),
        },
      );
    }
    const permanent = notes.length > 0 && notes.every((n) => n.reason === 'permanent');
    if (permanent) {
      return new AppError(
        'ALL_ACCOUNTS_UNAVAILABLE',
        'UNAVAILABLE',
        `Every account of provider ${p} is disabled after a permanent upstream error (${[
          ...new Set(notes.map((n) => n.message ?? n.reason)),
        ].join(', ')}); fix or re-test the connection`,
        { provider: p, attempts: notes },
        503,
      );
    }
    const limited = notes.every((n) => n.status === 429 || n.reason === 'rate-limited');
    return new AppError(
      'ALL_ACCOUNTS_COOLING_DOWN',
      limited ? 'RATE_LIMITED' : 'UNAVAILABLE',
      `All accounts for provider ${p} are cooling down after upstream errors${secs ? ` (retry in ${secs}s)` : ''}`,
      { provider: p, retryAfterSeconds: secs, attempts: notes },
      limited ? 429 : 503,
      secs ? { 'retry-after': String(secs) } : undefined,
    );
  }

  /** Every usable account of one target, in rotation order, until one serves the request. */
  private async tryTarget(ctx: Ctx, target: Target): Promise<TargetResult> {
    const { resolved } = target;
    const providerId = resolved.target.id;
    const settings = ctx.settings;
    const label = resolved.qualified;
    const authType = target.candidates?.[0]?.authType ?? 'apikey';
    const breakerProfile = this.resilience.breakerProfile(authType);
    if (!ctx.forced && target.candidates?.length) {
      const gate = this.breakers.gate(providerId, breakerProfile.resetTimeoutMs);
      let skip = !gate.allow;
      if (gate.allow && gate.probe) {
        skip = !(await this.breakers.probe(
          providerId,
          breakerProfile.resetTimeoutMs,
          // a probe that never reports back (its request died) is re-granted after this long
          Math.min(settings.timeouts.firstTokenMs, 30_000),
        ));
      }
      if (skip) {
        const g = this.breakers.gate(providerId, breakerProfile.resetTimeoutMs);
        ctx.notes.push({
          target: label,
          step: target.stepId ?? undefined,
          outcome: 'skipped',
          reason: 'circuit-open',
          message: `circuit breaker of ${resolved.target.alias} is ${g.allow ? 'half_open' : g.state}`,
          retryAfterMs: g.allow ? 1000 : g.retryAfterMs,
        });
        this.metrics.fallbacks.inc({ surface: ctx.call.surface, reason: 'circuit-open' });
        return 'next';
      }
    }
    const tried = new Set<string>();
    for (;;) {
      const pick = await this.selector.pick({
        providerId,
        model: resolved.upstreamModel,
        candidates: target.candidates,
        tried,
        strategy: this.resilience.accountStrategy(providerId, resolved.target.alias),
        stickyLimit: settings.accountRotation.stickyRoundRobinLimit,
        forced: ctx.forced ?? target.stepConnection ?? undefined,
        preferred: ctx.sticky,
      });
      if (!pick.ok) {
        for (const s of pick.skipped) {
          ctx.notes.push({
            target: label,
            step: target.stepId ?? undefined,
            connectionId: s.connectionId,
            connectionName: s.connectionName,
            outcome: 'skipped',
            reason: s.reason,
            status: s.status,
            message: s.detail,
            retryAfterMs: s.retryAfterMs,
          });
        }
        if (pick.reason !== 'no-connections' || ctx.plan.combo) {
          this.metrics.fallbacks.inc({ surface: ctx.call.surface, reason: pick.reason });
        }
        return 'next';
      }
      const conn = pick.connection;
      tried.add(conn.id);
      const profile = this.resilience.cooldownProfile(conn.authType);
      let outcome: Attempt;
      let cls: FailureClass;
      for (let retry = 0; ; retry++) {
        outcome = ctx.call.op
          ? await this.opAttempt(ctx, ctx.call.op, target, conn)
          : await this.attempt(ctx, target, conn);
        if (outcome.done) {
          return 'done';
        }
        if (ctx.abort.aborted) {
          if (ctx.abort.cause === 'deadline') {
            // the attempt the total timeout cut short belongs in the 504's attempt log too
            ctx.notes.push({
              target: label,
              step: target.stepId ?? undefined,
              connectionId: conn.id,
              connectionName: conn.name,
              outcome: 'failed',
              reason: 'timeout',
              status: 504,
              message: outcome.error.message.slice(0, 300),
            });
          }
          this.checkAbort(ctx);
        }
        cls = classifyFailure({
          ...outcome.failure,
          perModelQuota: conn.perModelQuota,
          useUpstreamRetryHints: profile.useUpstreamRetryHints,
        });
        const delay = Math.min(
          settings.retries.retryDelayMs * 2 ** retry,
          settings.retries.maxRetryDelayMs,
        );
        if (
          cls.retrySame &&
          retry < settings.retries.maxRetries &&
          performance.now() + delay < ctx.deadline
        ) {
          ctx.notes.push(this.failureNote(target, conn, outcome, cls));
          this.metrics.retries.inc({ provider: conn.provider });
          await sleep(delay, ctx.abort);
          this.checkAbort(ctx);
          continue;
        }
        break;
      }
      const note = this.failureNote(target, conn, outcome, cls);
      ctx.notes.push(note);
      if (cls.cooldown && !ctx.forced) {
        const rec = await this.cooldowns.fail(
          conn.id,
          resolved.upstreamModel,
          cls.cooldown,
          cls.reason,
          outcome.failure.status,
          profile,
        );
        note.retryAfterMs = cls.permanent ? undefined : Math.max(0, rec.until - Date.now());
      }
      if (cls.breaker) {
        await this.breakers.failure(providerId, breakerProfile.failureThreshold);
      }
      if (!cls.fallback) {
        return { stop: outcome.error };
      }
      ctx.lastError = outcome.error;
      this.metrics.fallbacks.inc({ surface: ctx.call.surface, reason: cls.reason });
      if (ctx.forced || target.stepConnection) {
        return 'next';
      }
      if (cls.breaker && !this.breakers.gate(providerId, breakerProfile.resetTimeoutMs).allow) {
        return 'next'; // the provider's breaker just opened: its other accounts wait too
      }
    }
  }

  private failureNote(
    target: Target,
    conn: RoutableConnection,
    outcome: Extract<Attempt, { done: false }>,
    cls: FailureClass,
  ): AttemptNote {
    return {
      target: target.resolved.qualified,
      step: target.stepId ?? undefined,
      connectionId: conn.id,
      connectionName: conn.name,
      outcome: 'failed',
      reason: cls.reason,
      status: outcome.failure.status || outcome.error.status,
      message: outcome.error.message.slice(0, 300),
    };
  }

  /** One answered request: Prometheus series and the telemetry sample. */
  private observe(
    surface: Surface,
    provider: string,
    status: number,
    startedAt: number,
    model?: string,
    ttfbMs: number | null = null,
    overheadMs: number | null = null,
  ): void {
    const totalMs = performance.now() - startedAt;
    this.metrics.recordRequest(surface, provider, status, totalMs / 1000, model);
    this.telemetry.record({ provider, surface, status, totalMs, ttfbMs, overheadMs });
  }

  private usageBase(
    ctx: Ctx,
    target: Target,
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
    | 'combo'
    | 'attempt'
  > {
    return {
      requestId: ctx.h.id,
      apiKeyId: ctx.principal.id,
      apiKeyName: ctx.principal.name,
      surface: ctx.call.surface,
      provider: conn.provider,
      model: target.resolved.upstreamModel,
      connectionId: conn.id,
      stream: ctx.call.stream,
      combo: ctx.plan.combo?.name ?? null,
      attempt: ctx.attempts,
    };
  }

  /** Headers naming what served the answer. */
  private metaHeaders(ctx: Ctx, target: Target, conn: RoutableConnection): Record<string, string> {
    const out: Record<string, string> = {
      'x-omniroute-provider': target.resolved.target.alias,
      'x-omniroute-model': target.resolved.upstreamModel,
      'x-omniroute-connection': conn.id,
      'x-omniroute-attempts': String(ctx.attempts),
    };
    if (ctx.plan.combo) {
      out['x-omniroute-combo'] = ctx.plan.combo.name;
      out['x-omniroute-combo-target'] = target.resolved.qualified;
      if (target.stepId) {
        out['x-omniroute-combo-step'] = target.stepId;
      }
    }
    return out;
  }

  /** The upstream body: the client's own with `model` rewritten, or a translation. */
  private upstreamBody(ctx: Ctx, target: Target, codec: DialectCodec): string {
    const { call } = ctx;
    const upstreamModel = target.resolved.upstreamModel;
    const combo = ctx.plan.combo;
    const rewrite = Boolean(combo && (combo.system_message || combo.tool_filter_regex));
    if (codec.id === call.surface && !rewrite) {
      const body = call.body;
      if (!codec.modelInUrl) {
        body.model = upstreamModel;
      }
      if (call.surface === 'openai-chat' && call.stream && !call.includeUsage) {
        // metering: ask for the usage chunk (hidden from a client that did not ask for it)
        body.stream_options = { ...(body.stream_options ?? {}), include_usage: true };
      }
      return JSON.stringify(body);
    }
    call.canonical ??= clientCodec(call).fromRequest(call.body);
    const req: CanonicalRequest = { ...call.canonical, model: upstreamModel, stream: call.stream };
    if (combo && rewrite) {
      applyComboRewrites(req, combo);
    }
    return JSON.stringify(codec.toRequest(req));
  }

  /** A served answer: clears the account's and provider's failure state and feeds the stats. */
  /** USD of an attempt's usage from the pricing table (0 for an unpriced model). */
  private costOf(target: Target, conn: RoutableConnection, u: CanonicalUsage): number {
    const price = this.pricing.priceOf(
      conn.provider,
      target.resolved.upstreamModel,
      target.resolved.target.alias,
    );
    return price
      ? this.pricing.cost(price, {
          input: u.inputTokens,
          output: u.outputTokens,
          cacheRead: u.cacheReadTokens,
          cacheCreation: u.cacheCreationTokens,
          reasoning: u.reasoningTokens,
        })
      : 0;
  }

  /** The request's `call_logs` row (off the request path, like the usage rows). */
  private logCall(
    h: HotRequest,
    surface: Surface,
    ctx: Ctx | undefined,
    status: number,
    extra: { error?: AppError; cacheSource?: 'cache'; replay?: boolean; model?: string } = {},
  ): void {
    const o = ctx?.outcome;
    const u = o?.usage ?? EMPTY_USAGE;
    const err = extra.error;
    const principal = h.principal;
    this.usage.recordCall({
      requestId: h.id,
      method: h.method,
      path: h.path,
      surface,
      status,
      success: status >= 200 && status < 300 && (!o?.status || o.status === 200),
      stream: ctx?.call.stream ?? false,
      requestedModel: ctx?.call.model ?? extra.model ?? null,
      provider: o?.conn.provider ?? null,
      model: o?.target.resolved.upstreamModel ?? null,
      connectionId: o?.conn.id ?? null,
      account: o?.conn.name ?? null,
      apiKeyId: principal?.id ?? null,
      apiKeyName: principal?.name ?? null,
      comboName: ctx?.plan.combo?.name ?? null,
      comboStepId: o?.target.stepId ?? null,
      attempts: ctx?.attempts ?? 0,
      cacheSource: extra.cacheSource ?? (o ? 'upstream' : null),
      idempotentReplay: extra.replay ?? false,
      sessionId: h.baseHeaders['x-omniroute-session-id'] ?? null,
      tokensInput: u.inputTokens,
      tokensOutput: u.outputTokens,
      tokensCacheRead: u.cacheReadTokens,
      tokensCacheCreation: u.cacheCreationTokens,
      tokensReasoning: u.reasoningTokens,
      costUsd: o?.cost ?? 0,
      images: o?.media?.images ?? 0,
      audioSeconds: o?.media?.audioSeconds ?? 0,
      durationMs: performance.now() - h.startedAt,
      ttftMs: o?.ttftMs ?? null,
      errorCode: err?.code ?? o?.errorCode ?? null,
      errorSummary: err ? err.message.slice(0, 500) : null,
      requestSummary: ctx && !principal?.noLog ? requestSummary(ctx.call) : null,
    });
  }

  private served(
    ctx: Ctx,
    target: Target,
    conn: RoutableConnection,
    usage: CanonicalUsage,
    latencyMs: number,
  ): void {
    if (ctx.session) {
      this.sessions.bind(ctx.session, conn.id);
    }
    this.cooldowns.succeed(conn.id, target.resolved.upstreamModel);
    this.breakers.success(conn.provider);
    this.latency.record(target.resolved.qualified, latencyMs);
    const limits = this.limiter.limitsOf(conn);
    if (limits && limits.tpm > 0) {
      this.limiter.addTokens(
        conn.id,
        usage.inputTokens + usage.cacheReadTokens + usage.cacheCreationTokens + usage.outputTokens,
      );
    }
    this.countTokens(ctx, target, conn, usage);
    if (ctx.attempts > 1) {
      this.metrics.fallbacks.inc({ surface: ctx.call.surface, reason: 'served' });
    }
  }

  private async attempt(ctx: Ctx, target: Target, conn: RoutableConnection): Promise<Attempt> {
    const { call, abort } = ctx;
    const { resolved } = target;
    ctx.attempts++;
    // An OpenAI-dialect model that only the Responses API serves is called there (and translated).
    const viaResponses =
      conn.dialect === 'openai' && conn.responsesModels.has(resolved.upstreamModel);
    const codec = viaResponses ? RESPONSES : upstreamCodec(conn.dialect);
    const passThrough = codec.id === call.surface;
    const t0 = performance.now();
    if (ctx.attempts === 1) {
      ctx.overheadMs = t0 - ctx.h.startedAt;
      this.metrics.observeOverhead(call.surface, ctx.overheadMs / 1000);
    }
    const base = this.usageBase(ctx, target, conn);
    const fail = this.failer(base, t0);
    // The total timeout is the request's own deadline timer. undici's timers are coarse (~0.5 s
    // ticks, start backdated a tick): capped at exactly the time left they race the deadline and
    // may turn a total timeout into a first-token/idle failure (which also cools the account).
    const left = Math.max(1, ctx.deadline - t0) + 1000;
    const timeouts = ctx.settings.timeouts;
    let res;
    try {
      res = await this.upstream.request({
        url: viaResponses
          ? conn.responsesUrl
          : codec.upstreamUrl
            ? codec.upstreamUrl(conn.chatUrl, resolved.upstreamModel, call.stream)
            : conn.chatUrl,
        headers: call.stream ? conn.requestHeaders.stream : conn.requestHeaders.json,
        body: this.upstreamBody(ctx, target, codec),
        signal: abort,
        headersTimeout: Math.min(timeouts.firstTokenMs, left),
        bodyTimeout: Math.min(timeouts.streamIdleMs, left),
      });
    } catch (e) {
      if (abort.aborted) {
        return this.abortedAttempt(ctx, fail);
      }
      const err = transportError(e, resolved.target.alias);
      const transport = transportKind(e, true);
      return fail(err.status, err, { status: 0, transport });
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
      const err = upstreamStatusError(status, text, res.headers, resolved.target.alias);
      return fail(status, err, { status, text, headers: res.headers }, ttfb);
    }

    const contentType = String(res.headers['content-type'] ?? '');
    if (
      call.stream &&
      (contentType.includes('text/event-stream') || contentType.includes('ndjson'))
    ) {
      const codecOut = clientCodec(call);
      const pipe: StreamPipe = passThrough
        ? call.surface === 'openai-chat'
          ? new OpenAiPassPipe(!call.includeUsage)
          : new WatchPassPipe(
              codec.decoder(),
              codecOut.encoder({
                id: ctx.h.id,
                model: resolved.upstreamModel,
                created: 0,
                includeUsage: false,
              }),
            )
        : new TranslatePipe(
            codec.decoder(),
            codecOut.encoder({
              id: ctx.h.id,
              model: resolved.upstreamModel,
              created: Math.floor(Date.now() / 1000),
              includeUsage: call.includeUsage,
            }),
          );
      return this.pipeStream(ctx, target, conn, res.body, pipe, t0, ttfb, base, fail);
    }
    let buf: Buffer;
    try {
      buf = Buffer.from(await res.body.arrayBuffer());
    } catch (e) {
      if (abort.aborted) {
        return this.abortedAttempt(ctx, fail);
      }
      const err = transportError(e, resolved.target.alias);
      return fail(err.status, err, { status: 0, transport: transportKind(e, false) }, ttfb);
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
        payload = Buffer.from(JSON.stringify(clientCodec(call).toResponse(canonical)));
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
      return fail(err.status, err, { status: 0, transport: 'invalid-response' }, ttfb);
    }
    const latency = performance.now() - t0;
    const cost = this.costOf(target, conn, usage);
    this.usage.record({
      ...base,
      ...ledgerUsage(usage),
      status: res.statusCode,
      success: true,
      latencyMs: latency,
      ttftMs: latency,
      errorCode: null,
      costUsd: cost,
    });
    ctx.outcome = { target, conn, usage, cost, ttftMs: latency };
    this.served(ctx, target, conn, usage, latency);
    sendJson(ctx.h, res.statusCode, payload, {
      'content-type': passThrough && contentType ? contentType : 'application/json',
      ...this.metaHeaders(ctx, target, conn),
      'x-omniroute-latency-ms': String(Math.round(performance.now() - ctx.h.startedAt)),
      'x-omniroute-tokens-in': String(
        usage.inputTokens + usage.cacheReadTokens + usage.cacheCreationTokens,
      ),
      'x-omniroute-tokens-out': String(usage.outputTokens),
      'x-omniroute-response-cost': cost.toFixed(10),
    });
    this.observe(
      call.surface,
      conn.provider,
      res.statusCode,
      ctx.h.startedAt,
      resolved.qualified,
      ttfb,
      ctx.overheadMs ?? null,
    );
    return { done: true };
  }

  /** Records a failed attempt in the ledger and returns it (for the fallback loop). */
  private failer(
    base: ReturnType<ChatService['usageBase']>,
    t0: number,
  ): (status: number, error: AppError, failure: FailureInput, ttft?: number | null) => Attempt {
    return (status, error, failure, ttft = null) => {
      this.usage.record({
        ...base,
        ...ledgerUsage(EMPTY_USAGE),
        status,
        success: false,
        latencyMs: performance.now() - t0,
        ttftMs: ttft,
        errorCode: error.code,
      });
      return { done: false, error, failure };
    };
  }

  /**
   * One account's exchange of a media request (embeddings, images, transcription): the operation
   * talks to the upstream in its native protocol and answers in OpenAI's shape; failures are
   * classified and fall back exactly like a chat attempt's.
   */
  private async opAttempt(
    ctx: Ctx,
    op: Operation,
    target: Target,
    conn: RoutableConnection,
  ): Promise<Attempt> {
    const { abort } = ctx;
    const { resolved } = target;
    const alias = resolved.target.alias;
    ctx.attempts++;
    const t0 = performance.now();
    if (ctx.attempts === 1) {
      ctx.overheadMs = t0 - ctx.h.startedAt;
      this.metrics.observeOverhead(op.surface, ctx.overheadMs / 1000);
    }
    const base = this.usageBase(ctx, target, conn);
    const fail = this.failer(base, t0);
    const left = Math.max(1, ctx.deadline - t0) + 1000;
    const timeouts = ctx.settings.timeouts;
    let answer;
    try {
      answer = await op.execute({
        conn,
        upstreamModel: resolved.upstreamModel,
        signal: abort,
        headersTimeout: Math.min(timeouts.firstTokenMs, left),
        bodyTimeout: Math.min(timeouts.streamIdleMs, left),
        deadline: ctx.deadline,
      });
    } catch (e) {
      if (abort.aborted) {
        return this.abortedAttempt(ctx, fail);
      }
      const ttfb = performance.now() - t0;
      if (e instanceof UpstreamStatusError) {
        const err = upstreamStatusError(e.status, e.text, e.headers, alias);
        return fail(e.status, err, { status: e.status, text: e.text, headers: e.headers }, ttfb);
      }
      if (e instanceof AppError) {
        // an answer the gateway cannot read (5xx), or a request this provider cannot serve (4xx)
        return fail(
          e.status,
          e,
          e.status >= 500
            ? { status: 0, transport: 'invalid-response' }
            : { status: e.status, text: e.message },
          ttfb,
        );
      }
      const err = transportError(e, alias);
      return fail(err.status, err, { status: 0, transport: transportKind(e, true) });
    }
    const latency = performance.now() - t0;
    const m = answer.usage;
    const usage: CanonicalUsage = {
      ...EMPTY_USAGE,
      inputTokens: m.inputTokens,
      outputTokens: m.outputTokens,
    };
    const cost = this.mediaCost(target, conn, m);
    this.usage.record({
      ...base,
      ...ledgerUsage(usage),
      images: m.images,
      audioSeconds: m.audioSeconds,
      status: 200,
      success: true,
      latencyMs: latency,
      ttftMs: latency,
      errorCode: null,
      costUsd: cost,
    });
    ctx.outcome = { target, conn, usage, cost, ttftMs: latency, media: m };
    this.served(ctx, target, conn, usage, latency);
    sendJson(ctx.h, 200, typeof answer.body === 'string' ? Buffer.from(answer.body) : answer.body, {
      'content-type': answer.contentType,
      ...this.metaHeaders(ctx, target, conn),
      'x-omniroute-latency-ms': String(Math.round(performance.now() - ctx.h.startedAt)),
      'x-omniroute-tokens-in': String(usage.inputTokens),
      'x-omniroute-tokens-out': String(usage.outputTokens),
      'x-omniroute-response-cost': cost.toFixed(10),
    });
    this.observe(
      op.surface,
      conn.provider,
      200,
      ctx.h.startedAt,
      resolved.qualified,
      latency,
      ctx.overheadMs ?? null,
    );
    return { done: true };
  }

  /** USD of a media answer: tokens, images by size/quality, audio seconds. */
  private mediaCost(target: Target, conn: RoutableConnection, m: MediaUsage): number {
    const price = this.pricing.priceOf(
      conn.provider,
      target.resolved.upstreamModel,
      target.resolved.target.alias,
    );
    return price ? this.pricing.mediaCost(price, m) : 0;
  }

  private countTokens(ctx: Ctx, target: Target, conn: RoutableConnection, u: CanonicalUsage): void {
    this.metrics.recordUsage({
      provider: conn.provider,
      model: target.resolved.qualified,
      key: ctx.principal.name ?? null,
      input: u.inputTokens,
      output: u.outputTokens,
      cacheRead: u.cacheReadTokens,
      cacheCreation: u.cacheCreationTokens,
      reasoning: u.reasoningTokens,
      costUsd: ctx.outcome?.cost ?? 0,
    });
  }

  /** An attempt cut short by the client leaving (499) or by the total timeout (504). */
  private abortedAttempt(
    ctx: Ctx,
    fail: (status: number, error: AppError, failure: FailureInput) => Attempt,
  ): Attempt {
    if (ctx.abort.cause === 'client') {
      return fail(499, new AppError('CLIENT_CLOSED', 'CLIENT_CLOSED', 'Client disconnected'), {
        status: 0,
        transport: 'timeout',
      });
    }
    return fail(
      504,
      new AppError(
        'UPSTREAM_TIMEOUT',
        'UPSTREAM_TIMEOUT',
        `No answer within the total timeout of ${ctx.totalMs} ms`,
      ),
      { status: 0, transport: 'timeout' },
    );
  }

  /** Sends the stream's status line and headers (once per request) and starts heartbeats. */
  private commitStream(ctx: Ctx, target: Target, conn: RoutableConnection): void {
    const raw = ctx.h.res;
    if (ctx.committed || raw.headersSent) {
      ctx.committed = true;
      return;
    }
    ctx.committed = true;
    // Progress comments: SSE dialects only (an NDJSON stream has no line a client would skip).
    const progress =
      ctx.h.headers['x-omniroute-progress'] === 'true' && ctx.call.surface !== 'ollama';
    raw.writeHead(200, {
      ...ctx.h.baseHeaders,
      'content-type': STREAM_CONTENT_TYPE[ctx.call.surface as ChatSurface],
      'cache-control': 'no-cache',
      connection: 'keep-alive',
      'x-accel-buffering': 'no',
      ...this.metaHeaders(ctx, target, conn),
      ...(progress ? { 'x-omniroute-progress': 'enabled' } : {}),
    });
    if (progress) {
      const p: NonNullable<Ctx['progress']> = { events: 0, startedAt: performance.now() };
      p.timer = setInterval(() => {
        if (!raw.writableEnded) {
          raw.write(progressComment(p, false));
        }
      }, this.progressMs);
      p.timer.unref();
      ctx.progress = p;
    }
    // SSE comment heartbeats; an NDJSON stream (Ollama) has no comment syntax, so none there.
    if (ctx.call.surface !== 'ollama') {
      ctx.beat = this.heartbeats.add(raw);
    }
  }

  /**
   * Streams upstream events to the client with backpressure, heartbeats and a terminal error
   * event. Nothing is committed before the upstream's first event (or, during a long silence, only
   * the headers and heartbeat comments), so a stream that is slow to start, fails or ends empty
   * still falls back to the next account or target; after the first event a failure ends the
   * stream with the client dialect's error event.
   */
  private async pipeStream(
    ctx: Ctx,
    target: Target,
    conn: RoutableConnection,
    body: Readable,
    pipe: StreamPipe,
    t0: number,
    ttfb: number,
    base: ReturnType<ChatService['usageBase']>,
    fail: (status: number, error: AppError, failure: FailureInput, ttft?: number | null) => Attempt,
  ): Promise<Attempt> {
    const { h, abort } = ctx;
    const resolved = target.resolved;
    const raw = h.res;
    const timeouts = ctx.settings.timeouts;
    let firstChunkAt: number | null = null;
    let firstTokenTimedOut = false;
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
      if (ctx.beat) {
        ctx.beat.lastWrite = Date.now();
      }
      if (!raw.write(out) && !paused) {
        paused = true;
        body.pause();
        raw.once('drain', resume);
      }
    };
    const firstMs = Math.max(
      1,
      Math.min(timeouts.firstTokenMs - ttfb, ctx.deadline - performance.now()),
    );
    // Silent for a while: send the headers and heartbeats (still no event, still able to fall back).
    const graceMs = Math.min(this.heartbeatMs, firstMs);
    // One timer per stream: at the grace point it commits, then waits out the rest of firstMs.
    const firstTokenTimeout = (): void => {
      firstTokenTimedOut = true;
      body.destroy(new Error('first token timeout'));
    };
    let firstTimer =
      graceMs < firstMs
        ? setTimeout(() => {
            this.commitStream(ctx, target, conn);
            firstTimer = setTimeout(firstTokenTimeout, firstMs - graceMs);
          }, graceMs)
        : setTimeout(firstTokenTimeout, firstMs);
    const failure = await new Promise<unknown>((resolve) => {
      const done = (err?: unknown): void => {
        body.off('data', onData);
        raw.off('drain', resume);
        resolve(err);
      };
      const onData = (chunk: Buffer): void => {
        if (firstChunkAt === null) {
          firstChunkAt = performance.now();
          clearTimeout(firstTimer);
          this.commitStream(ctx, target, conn);
        }
        const out = pipe.push(chunk);
        if (out && out.length) {
          if (ctx.progress) {
            ctx.progress.events += countEvents(out);
          }
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
    clearTimeout(firstTimer);
    if (firstChunkAt === null) {
      // Nothing reached the client: an ordinary failed attempt (the caller may fall back).
      if (abort.aborted) {
        return this.abortedAttempt(ctx, fail);
      }
      if (firstTokenTimedOut) {
        const err = new AppError(
          'UPSTREAM_TIMEOUT',
          'UPSTREAM_TIMEOUT',
          `Upstream ${resolved.target.alias} sent no stream event within ${timeouts.firstTokenMs} ms`,
        );
        return fail(504, err, { status: 0, transport: 'first-token-timeout' }, ttfb);
      }
      if (failure !== undefined) {
        const err = transportError(failure, resolved.target.alias);
        return fail(err.status, err, { status: 0, transport: transportKind(failure, true) }, ttfb);
      }
      const err = new AppError(
        'UPSTREAM_INVALID_RESPONSE',
        'UPSTREAM_ERROR',
        `Upstream ${resolved.target.alias} ended the stream without an event`,
      );
      return fail(502, err, { status: 0, transport: 'invalid-response' }, ttfb);
    }
    if (ctx.beat) {
      this.heartbeats.remove(ctx.beat);
      ctx.beat = undefined;
    }
    const clientGone = abort.cause === 'client';
    const deadline = abort.cause === 'deadline';
    const { tail, outcome } = pipe.finish(
      clientGone
        ? undefined
        : deadline
          ? deadlineExceeded(ctx.totalMs, ctx.notes)
          : failure === undefined
            ? undefined
            : transportError(failure, resolved.target.alias),
    );
    let status = 200;
    let errorCode: string | null = null;
    ctx.incomplete = clientGone || !outcome.completed;
    if (clientGone) {
      status = 499;
      errorCode = 'CLIENT_CLOSED';
    } else if (!outcome.completed) {
      status = deadline
        ? 504
        : failure === undefined
          ? 502
          : transportError(failure, resolved.target.alias).status;
      errorCode = deadline ? 'REQUEST_TIMEOUT' : outcome.errorCode;
      if (!deadline) {
        void this.cooldowns.fail(
          conn.id,
          resolved.upstreamModel,
          { scope: 'connection', mode: 'backoff' },
          'stream_error',
          status,
          this.resilience.cooldownProfile(conn.authType),
        );
        void this.breakers.failure(
          conn.provider,
          this.resilience.breakerProfile(conn.authType).failureThreshold,
        );
      }
    }
    if (tail && !clientGone) {
      pending.push(tail);
    }
    if (ctx.progress) {
      clearInterval(ctx.progress.timer);
      if (!clientGone) {
        pending.push(Buffer.from(progressComment(ctx.progress, true)));
      }
      ctx.progress = undefined;
    }
    if (!raw.writableEnded) {
      raw.end(pending.length ? Buffer.concat(pending) : undefined);
    }
    pending = [];
    const latency = performance.now() - t0;
    const ttft: number = firstChunkAt - t0;
    const cost = this.costOf(target, conn, outcome.usage);
    ctx.outcome = { target, conn, usage: outcome.usage, cost, ttftMs: ttft, status, errorCode };
    if (status === 200) {
      this.served(ctx, target, conn, outcome.usage, ttft);
    } else {
      this.countTokens(ctx, target, conn, outcome.usage);
    }
    this.usage.record({
      ...base,
      ...ledgerUsage(outcome.usage),
      status,
      success: status === 200,
      latencyMs: latency,
      ttftMs: ttft,
      errorCode,
      costUsd: cost,
    });
    this.observe(ctx.call.surface, conn.provider, status, h.startedAt, resolved.qualified, ttft);
    return { done: true };
  }

  /**
   * A request whose stream was committed (headers and heartbeats sent during a long silence) but
   * that ended without any upstream event: the error goes out as the dialect's error event.
   */
  endCommittedStream(h: HotRequest, surface: ChatSurface, err: AppError): boolean {
    if (!h.res.headersSent || h.res.writableEnded) {
      return false;
    }
    const pipe = new TranslatePipe(
      OPENAI_CHAT.decoder(),
      CLIENT_CODECS[surface].encoder({
        id: h.id,
        model: 'unknown',
        created: Math.floor(Date.now() / 1000),
        includeUsage: false,
      }),
    );
    const { tail } = pipe.finish(err);
    h.res.end(tail ?? undefined);
    return true;
  }
}
