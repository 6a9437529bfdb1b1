import { Injectable, Logger, OnModuleInit } from '@nestjs/common';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { parse as safeJsonParse } from 'secure-json-parse';
import { AppError } from '@/common/errors/app-error';
import { renderError, toAppError } from '@/common/errors/render';
import { ApiKeyAuth } from '@/common/guards/api-key.auth';
import { CorsPolicy } from '@/common/http/cors';
import { HotPathSlot } from '@/common/http/hot-path.slot';
import { requestIdFrom } from '@/common/logging/logger';
import { MetricsService } from '@/common/metrics/metrics.service';
import { Env } from '@/config/env.schema';
import { ChatService, type ChatSurface } from '@/gateway/chat/chat.service';
import { CountTokensService } from '@/gateway/chat/count-tokens.service';
import { MediaService } from '@/gateway/media/media.service';
import { ModelsService } from '@/gateway/models.service';
import { scopeModel } from '@/gateway/routing/provider-scope';
import { ProvidersService } from '@/providers/providers.service';
import { sendJson, type HotRequest } from './hot-request';

/** Client-API paths and their aliases (reference §1.1). */
export const CHAT_PATHS = ['/v1/chat/completions', '/chat/completions', '/v1/v1/chat/completions'];
export const MODELS_PATHS = ['/v1/models', '/models', '/v1/v1/models'];
export const MESSAGES_PATHS = ['/v1/messages', '/v1/v1/messages'];
export const OLLAMA_CHAT_PATHS = ['/v1/api/chat', '/api/chat'];
export const EMBEDDINGS_PATHS = ['/v1/embeddings', '/embeddings', '/v1/v1/embeddings'];
export const IMAGES_PATHS = [
  '/v1/images/generations',
  '/images/generations',
  '/v1/v1/images/generations',
];
export const TRANSCRIPTION_PATHS = [
  '/v1/audio/transcriptions',
  '/audio/transcriptions',
  '/v1/v1/audio/transcriptions',
];
/** Responses API and its aliases; `/codex/...` is Codex CLI's (reference §1.1). */
export const RESPONSES_PATHS = [
  '/v1/responses',
  '/responses',
  '/v1/v1/responses',
  '/codex/responses',
  '/codex',
];

type Route = {
  method: 'GET' | 'POST';
  /** The dialect its errors are rendered in. */
  dialect: 'openai' | 'anthropic' | 'ollama' | 'gemini';
  /** The POST body: JSON (default) or the raw multipart bytes. */
  body?: 'json' | 'multipart';
  handle: (h: HotRequest) => Promise<void> | void;
};

const GEMINI_ROUTE = /^(?:\/api)?\/v1beta\/models\/(.+):(generateContent|streamGenerateContent)$/;
/** Reference §2.11: `/v1/providers/{provider}/chat/completions|embeddings|images/generations`. */
const PROVIDER_ROUTE =
  /^\/v1\/providers\/([^/]+)\/(chat\/completions|embeddings|images\/generations)$/;

function unsupportedType(type: string, want: string): AppError {
  return new AppError(
    'UNSUPPORTED_MEDIA_TYPE',
    'INVALID_INPUT',
    `Unsupported Content-Type "${type || 'none'}": send ${want}`,
    undefined,
    415,
  );
}

function safeDecode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

/** `/a//b/` → `/a/b` (the same leniency Fastify is configured with). */
function normalisePath(url: string): { path: string; search: string } {
  const q = url.indexOf('?');
  let path = q < 0 ? url : url.slice(0, q);
  if (path.includes('//')) {
    path = path.replace(/\/{2,}/g, '/');
  }
  if (path.length > 1 && path.endsWith('/')) {
    path = path.slice(0, -1);
  }
  return { path, search: q < 0 ? '' : url.slice(q + 1) };
}

/**
 * The client API's hot path, answered at the node:http level before Fastify routes anything:
 * request id, CORS, API-key auth (the same `KeysService` lookup as the management guard), a JSON
 * body read with a size limit and Fastify's prototype-poisoning-safe parser, then the handler.
 * Errors are rendered in the OpenAI dialect. Every other request goes on to Fastify and Nest.
 *
 * Why not a Nest controller or even a Fastify route: the benchmark (`npm run bench`) showed the
 * per-request framework work (routing hooks, async-resource wrapping of the body parser, child
 * loggers, the reply pipeline) was a large share of the gateway's CPU on this path.
 */
@Injectable()
export class HotPath implements OnModuleInit {
  private readonly logger = new Logger('HotPath');
  /** By `METHOD path`. */
  private readonly routes = new Map<string, Route>();
  /** Every fixed path of the client API (CORS preflights). */
  private readonly paths = new Set<string>();
  /** The provider-scoped routes by operation (`chat/completions`, …). */
  private readonly scopedRoutes = new Map<string, Route>();
  private readonly geminiGenerate: Route = {
    method: 'POST',
    dialect: 'gemini',
    handle: (h) => this.chat.handle(h, 'gemini'),
  };
  private readonly cors: CorsPolicy;
  private readonly bodyLimit: number;

  constructor(
    private readonly slot: HotPathSlot,
    private readonly auth: ApiKeyAuth,
    private readonly chat: ChatService,
    private readonly countTokens: CountTokensService,
    private readonly models: ModelsService,
    private readonly media: MediaService,
    private readonly providers: ProvidersService,
    private readonly metrics: MetricsService,
    env: Env,
  ) {
    this.cors = new CorsPolicy(env.CORS_ALLOWED_ORIGINS);
    this.bodyLimit = env.MAX_BODY_SIZE_MB * 1024 * 1024;
  }

  onModuleInit(): void {
    const chat =
      (surface: ChatSurface): Route['handle'] =>
      (h) =>
        this.chat.handle(h, surface);
    this.add(CHAT_PATHS, { method: 'POST', dialect: 'openai', handle: chat('openai-chat') });
    this.add(MESSAGES_PATHS, { method: 'POST', dialect: 'anthropic', handle: chat('anthropic') });
    this.add(['/v1/messages/count_tokens'], {
      method: 'POST',
      dialect: 'anthropic',
      handle: (h) => this.countTokens.handle(h),
    });
    this.add(RESPONSES_PATHS, { method: 'POST', dialect: 'openai', handle: chat('responses') });
    this.add(OLLAMA_CHAT_PATHS, { method: 'POST', dialect: 'ollama', handle: chat('ollama') });
    this.add(
      ['/v1beta/models', '/api/v1beta/models'],
      this.listRoute((h) => this.models.geminiModels(h.principal), 'gemini'),
    );
    this.add(
      ['/api/tags'],
      this.listRoute((h) => this.models.ollamaTags(h.principal), 'ollama'),
    );
    this.add(
      MODELS_PATHS,
      this.listRoute((h) => this.models.list(h.principal)),
    );
    this.add(EMBEDDINGS_PATHS, {
      method: 'POST',
      dialect: 'openai',
      handle: (h) => this.media.embeddings(h),
    });
    this.add(
      EMBEDDINGS_PATHS,
      this.listRoute((h) => this.models.embeddingModels(h.principal)),
    );
    this.add(IMAGES_PATHS, {
      method: 'POST',
      dialect: 'openai',
      handle: (h) => this.media.images(h),
    });
    this.add(
      IMAGES_PATHS,
      this.listRoute((h) => this.models.imageModels(h.principal)),
    );
    this.add(TRANSCRIPTION_PATHS, {
      method: 'POST',
      dialect: 'openai',
      body: 'multipart',
      handle: (h) => this.media.transcription(h),
    });
    this.scopedRoutes.set('chat/completions', this.scoped(chat('openai-chat')));
    this.scopedRoutes.set(
      'embeddings',
      this.scoped((h) => this.media.embeddings(h)),
    );
    this.scopedRoutes.set(
      'images/generations',
      this.scoped((h) => this.media.images(h)),
    );
    this.slot.handler = (req, res) => this.dispatch(req, res);
  }

  /** Registers a route for its method on every path (routes are keyed `METHOD path`). */
  private add(paths: readonly string[], route: Route): void {
    for (const p of paths) {
      this.routes.set(`${route.method} ${p}`, route);
      this.paths.add(p);
    }
  }

  /** A GET answering one model list (in the dialect of its errors). */
  private listRoute(list: (h: HotRequest) => unknown, dialect: Route['dialect'] = 'openai'): Route {
    return {
      method: 'GET',
      dialect,
      handle: (h) => {
        sendJson(h, 200, list(h));
        this.metrics.recordRequest('models', 'none', 200, (performance.now() - h.startedAt) / 1000);
      },
    };
  }

  /**
   * `/v1/providers/{provider}/...` (reference §2.11, API.md §1): the model gets the provider's
   * prefix when it has none; a model prefixed with another provider is a 400. Then the request is
   * the same as on the unscoped path.
   */
  private scoped(handle: Route['handle']): Route {
    return {
      method: 'POST',
      dialect: 'openai',
      handle: (h) => {
        const body = h.body as { model?: unknown } | undefined;
        if (
          body &&
          typeof body === 'object' &&
          !Array.isArray(body) &&
          typeof body.model === 'string'
        ) {
          body.model = scopeModel(body.model, h.params.provider, this.providers.routing());
        } else {
          // unknown provider first, then the surface's own "Missing model"
          scopeModel('', h.params.provider, this.providers.routing());
        }
        return handle(h);
      },
    };
  }

  private dispatch(req: IncomingMessage, res: ServerResponse): boolean {
    const { path, search } = normalisePath(req.url ?? '/');
    let route = this.routes.get(`${req.method} ${path}`);
    let params: Record<string, string> = {};
    let ours = route !== undefined || this.paths.has(path);
    if (!route) {
      // Gemini: /v1beta/models/{model}:generateContent | :streamGenerateContent (also under /api)
      const m = GEMINI_ROUTE.exec(path);
      const p = m ? null : PROVIDER_ROUTE.exec(path);
      if (m) {
        route = this.geminiGenerate;
        params = { model: safeDecode(m[1]), stream: String(m[2] === 'streamGenerateContent') };
      } else if (p) {
        route = this.scopedRoutes.get(p[2]);
        params = { provider: safeDecode(p[1]) };
      }
      ours ||= route !== undefined;
    }
    const cors = ours ? this.cors.headersFor(req.headers.origin) : undefined;
    if (req.method === 'OPTIONS' && cors) {
      res.writeHead(204, cors);
      res.end();
      return true;
    }
    if (!route || req.method !== route.method) {
      return false; // Fastify answers 404/405 in the right shape
    }
    const id = requestIdFrom(req.headers['x-request-id']);
    if (this.slot.closing) {
      const r = renderError(
        new AppError('SHUTTING_DOWN', 'UNAVAILABLE', 'Server is shutting down'),
        route.dialect,
        id,
      );
      sendJson({ res, baseHeaders: { 'x-request-id': id } }, r.status, r.body, {
        connection: 'close',
      });
      return true;
    }
    const baseHeaders: Record<string, string> = {
      'x-request-id': id,
      'x-content-type-options': 'nosniff',
      ...cors,
    };
    const h: HotRequest = {
      id,
      method: route.method,
      path,
      query: search ? new URLSearchParams(search) : null,
      params,
      headers: req.headers,
      body: undefined,
      principal: null as never,
      raw: req,
      res,
      startedAt: performance.now(),
      baseHeaders,
    };
    void this.run(h, route);
    return true;
  }

  private async run(h: HotRequest, route: Route): Promise<void> {
    try {
      h.principal = await this.auth.authenticate(h.headers, h.query);
      if (route.method === 'POST') {
        h.body = route.body === 'multipart' ? await this.readMultipart(h) : await this.readJson(h);
      }
      await route.handle(h);
    } catch (e) {
      this.fail(h, e, route.dialect);
    }
  }

  private fail(h: HotRequest, e: unknown, dialect: Route['dialect']): void {
    const err = toAppError(e);
    if (err.code === 'INTERNAL') {
      this.logger.error(
        { msg: `${h.method} ${h.path}: ${(e as Error)?.message}`, requestId: h.id },
        (e as Error)?.stack,
      );
    } else if (err.status >= 500) {
      this.logger.warn({
        msg: `${h.method} ${h.path} → ${err.status} ${err.code}`,
        requestId: h.id,
        status: err.status,
      });
    }
    if (h.res.headersSent) {
      h.res.end();
      return;
    }
    const r = renderError(err, dialect, h.id);
    sendJson(h, r.status, r.body, r.headers);
    if (err.status === 413 || err.code === 'UNSUPPORTED_MEDIA_TYPE') {
      // The rest of an unread body must not be taken for the next request on this connection.
      h.res.once('finish', () => h.raw.destroy());
    }
  }

  /** Reads and parses a JSON body (size-limited); an empty body is `undefined`. */
  private async readJson(h: HotRequest): Promise<unknown> {
    const type = (h.headers['content-type'] ?? '').toLowerCase();
    if (!type.startsWith('application/json') && !/^application\/[a-z0-9.+-]*\+json/.test(type)) {
      throw unsupportedType(type, 'application/json');
    }
    const raw = await this.readBody(h);
    if (raw.length === 0) {
      return undefined;
    }
    try {
      return safeJsonParse(raw.toString('utf8'), undefined, {
        protoAction: 'error',
        constructorAction: 'error',
      });
    } catch (e) {
      throw new AppError(
        'INVALID_JSON',
        'INVALID_INPUT',
        `Invalid JSON body: ${(e as Error).message}`,
      );
    }
  }

  /** The raw bytes of a multipart/form-data body (size-limited; parsed by the handler). */
  private readMultipart(h: HotRequest): Promise<Buffer> {
    const type = (h.headers['content-type'] ?? '').toLowerCase();
    if (!type.startsWith('multipart/form-data')) {
      return Promise.reject(unsupportedType(type, 'multipart/form-data'));
    }
    return this.readBody(h);
  }

  /** The whole body, refused with 413 past MAX_BODY_SIZE_MB (declared or streamed). */
  private readBody(h: HotRequest): Promise<Buffer> {
    const declared = Number(h.headers['content-length'] ?? 0);
    if (declared > this.bodyLimit) {
      return Promise.reject(this.tooLarge());
    }
    return new Promise((resolve, reject) => {
      const chunks: Buffer[] = [];
      let size = 0;
      const req = h.raw;
      const onData = (c: Buffer): void => {
        size += c.length;
        if (size > this.bodyLimit) {
          req.off('data', onData);
          reject(this.tooLarge());
          return;
        }
        chunks.push(c);
      };
      req.on('data', onData);
      req.once('error', reject);
      req.once('end', () => {
        if (size > this.bodyLimit) {
          return;
        }
        resolve(chunks.length === 1 ? chunks[0] : Buffer.concat(chunks, size));
      });
    });
  }

  private tooLarge(): AppError {
    return new AppError(
      'PAYLOAD_TOO_LARGE',
      'PAYLOAD_TOO_LARGE',
      `Request body too large. Maximum allowed: ${this.bodyLimit / 1024 / 1024} MB`,
    );
  }
}
