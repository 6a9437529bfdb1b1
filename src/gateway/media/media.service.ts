import { Injectable } from '@nestjs/common';
import type { Dispatcher } from 'undici';
import { AppError } from '@/common/errors/app-error';
import { ChatService } from '@/gateway/chat/chat.service';
import type { HotRequest } from '@/gateway/http/hot-request';
import { PricingService } from '@/pricing/pricing.service';
import { imagePrice } from '@/pricing/pricing.table';
import {
  findProvider,
  type EmbeddingService,
  type ImageProtocol,
  type TranscriptionProtocol,
} from '@/providers/registry';
import { authHeaders, joinUrl, type RoutableConnection } from '@/providers/routing-table';
import { UpstreamHttp } from '@/upstream/upstream-http.service';
import {
  embeddingsAnswer,
  embeddingsSummary,
  embeddingsUpstreamBody,
  estimateEmbeddingTokens,
  parseEmbeddingsRequest,
} from './embeddings';
import {
  imagePriceKey,
  imagesAnswer,
  imagesFromAnswer,
  imagesUpstreamCall,
  parseImagesRequest,
  type ImageDatum,
} from './images';
import { UpstreamStatusError, type MediaAnswer, type OperationCall } from './operation';
import {
  assemblyAiSubmit,
  assertFormatSupported,
  deepgramQuery,
  fromAssemblyAi,
  fromDeepgram,
  fromOpenAiTranscript,
  openAiTranscriptionBody,
  parseTranscriptionForm,
  transcriptionAnswer,
  transcriptionUsage,
  type Transcript,
  type TranscriptionRequest,
} from './transcription';
import { invalidUpstream, isRecord } from './validate';

/** AssemblyAI is polled from this interval, growing to POLL_MAX_MS. */
const POLL_FIRST_MS = 250;
const POLL_MAX_MS = 3_000;

/** Where a connection serves a capability: a node's own endpoint, else the provider's path. */
function serviceUrl(conn: RoutableConnection, path: string): string {
  return conn.apiType !== 'chat' ? conn.chatUrl : joinUrl(conn.baseUrl, path);
}

/** The embedding quirks of a connection's provider (nodes: OpenAI-compatible, floats). */
function embeddingService(conn: RoutableConnection): EmbeddingService {
  return (
    findProvider(conn.provider)?.embeddings ?? { path: '/embeddings', flavor: 'float', models: [] }
  );
}

function imageService(conn: RoutableConnection): { protocol: ImageProtocol; path: string } {
  return findProvider(conn.provider)?.images ?? { protocol: 'openai', path: '/images/generations' };
}

function transcriptionService(conn: RoutableConnection): {
  protocol: TranscriptionProtocol;
  path: string;
} {
  return (
    findProvider(conn.provider)?.transcription ?? {
      protocol: 'openai',
      path: '/audio/transcriptions',
    }
  );
}

/** The JSON of a successful answer; an HTTP failure becomes an UpstreamStatusError. */
async function jsonOf(res: Dispatcher.ResponseData, provider: string): Promise<unknown> {
  const text = await res.body.text();
  if (res.statusCode >= 400) {
    throw new UpstreamStatusError(res.statusCode, text, res.headers);
  }
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw invalidUpstream(provider, 'a body that is not valid JSON');
  }
}

function sleep(ms: number, signal: OperationCall['signal']): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) {
      resolve();
      return;
    }
    const done = (): void => {
      clearTimeout(t);
      signal.off('abort', done);
      resolve();
    };
    const t = setTimeout(done, ms);
    signal.once('abort', done);
  });
}

/**
 * The media surfaces of the client API (reference §2.5–2.7): `POST /v1/embeddings`,
 * `/v1/images/generations` and `/v1/audio/transcriptions`. Each request is validated here (a 400
 * naming the field before any upstream call), then runs through the chat pipeline's routing as an
 * `Operation` whose upstream exchange speaks the provider's native API.
 */
@Injectable()
export class MediaService {
  constructor(
    private readonly chat: ChatService,
    private readonly upstream: UpstreamHttp,
    private readonly pricing: PricingService,
  ) {}

  embeddings(h: HotRequest): Promise<void> {
    const req = parseEmbeddingsRequest(h.body);
    return this.chat.handleOperation(h, {
      surface: 'embeddings',
      capability: 'embeddings',
      model: req.model,
      estimatedInputTokens: estimateEmbeddingTokens(req.input),
      summary: embeddingsSummary(req.input),
      // embeddings are deterministic: the exact-match cache serves repeats (per key, per body)
      cacheBody: h.body as Record<string, unknown>,
      execute: async (x) => {
        const svc = embeddingService(x.conn);
        const { body, encodeBase64 } = embeddingsUpstreamBody(req, svc.flavor, x.upstreamModel);
        const res = await this.post(x, serviceUrl(x.conn, svc.path), JSON.stringify(body));
        const out = embeddingsAnswer(await jsonOf(res, x.conn.provider), {
          encodeBase64,
          model: x.upstreamModel,
          provider: x.conn.provider,
        });
        return {
          body: JSON.stringify(out.body),
          contentType: 'application/json',
          usage: out.usage,
        };
      },
    });
  }

  images(h: HotRequest): Promise<void> {
    const req = parseImagesRequest(h.body);
    const key = imagePriceKey(req);
    return this.chat.handleOperation(h, {
      surface: 'images',
      capability: 'images',
      model: req.model,
      estimatedInputTokens: Math.ceil(req.prompt.length / 4),
      estimatedUsd: (provider, model) => {
        const price = this.pricing.priceOf(provider, model);
        return price ? req.n * imagePrice(price, key) : undefined;
      },
      summary: req.prompt.slice(0, 200),
      execute: async (x) => {
        const svc = imageService(x.conn);
        const call = imagesUpstreamCall(req, svc.protocol, x.upstreamModel, svc.path);
        const url = serviceUrl(x.conn, call.path);
        const body = JSON.stringify(call.body);
        const answers = await Promise.all(
          Array.from({ length: call.repeat }, async () =>
            imagesFromAnswer(
              svc.protocol,
              await jsonOf(await this.post(x, url, body), x.conn.provider),
              req.responseFormat,
              x.conn.provider,
            ),
          ),
        );
        const data: ImageDatum[] = answers.flatMap((a) => a.data);
        const out = imagesAnswer(
          data,
          {
            input: answers.reduce((n, a) => n + a.inputTokens, 0),
            output: answers.reduce((n, a) => n + a.outputTokens, 0),
          },
          req,
        );
        return {
          body: JSON.stringify(out.body),
          contentType: 'application/json',
          usage: out.usage,
        };
      },
    });
  }

  async transcription(h: HotRequest): Promise<void> {
    const raw = h.body;
    if (!Buffer.isBuffer(raw) || raw.length === 0) {
      throw AppError.invalid(
        'Send the audio as multipart/form-data with a file field and a model field',
        {},
        'INVALID_MULTIPART',
      );
    }
    const req = await parseTranscriptionForm(raw, String(h.headers['content-type'] ?? ''));
    h.body = undefined; // the parsed copy is all that is kept
    return this.chat.handleOperation(h, {
      surface: 'transcription',
      capability: 'transcription',
      model: req.model,
      estimatedInputTokens: 0,
      summary: `${req.file.name} (${req.file.bytes.length} bytes)`,
      execute: async (x) => {
        const svc = transcriptionService(x.conn);
        assertFormatSupported(svc.protocol, req.responseFormat, x.conn.provider);
        const t =
          svc.protocol === 'deepgram'
            ? await this.deepgram(x, svc.path, req)
            : svc.protocol === 'assemblyai'
              ? await this.assemblyAi(x, req)
              : await this.openAiTranscription(x, svc.path, req);
        return 'passThrough' in t ? t.passThrough : transcriptionAnswer(t, req);
      },
    });
  }

  private post(
    x: OperationCall,
    url: string,
    body: string | Buffer,
    headers: Record<string, string> = x.conn.requestHeaders.json,
  ): Promise<Dispatcher.ResponseData> {
    return this.upstream.request({
      url,
      headers,
      body,
      signal: x.signal,
      headersTimeout: x.headersTimeout,
      bodyTimeout: x.bodyTimeout,
    });
  }

  /** OpenAI-compatible speech to text; subtitles and plain text come back as the upstream sent them. */
  private async openAiTranscription(
    x: OperationCall,
    path: string,
    req: TranscriptionRequest,
  ): Promise<Transcript | { passThrough: MediaAnswer }> {
    const form = await openAiTranscriptionBody(req, x.upstreamModel);
    const res = await this.post(x, serviceUrl(x.conn, path), form.body, {
      ...authHeaders(x.conn.auth, x.conn.apiKey),
      'content-type': form.contentType,
      accept: 'application/json, text/plain',
    });
    if (form.upstreamFormat === 'json' || form.upstreamFormat === 'verbose_json') {
      return fromOpenAiTranscript(await jsonOf(res, x.conn.provider), x.conn.provider);
    }
    const text = await res.body.text();
    if (res.statusCode >= 400) {
      throw new UpstreamStatusError(res.statusCode, text, res.headers);
    }
    return {
      passThrough: {
        body: text,
        contentType:
          req.responseFormat === 'vtt' ? 'text/vtt; charset=utf-8' : 'text/plain; charset=utf-8',
        usage: transcriptionUsage({ duration: null }, req),
      },
    };
  }

  /** Deepgram: the raw audio in one POST to /listen. */
  private async deepgram(
    x: OperationCall,
    path: string,
    req: TranscriptionRequest,
  ): Promise<Transcript> {
    const url = `${serviceUrl(x.conn, path)}?${deepgramQuery(req, x.upstreamModel)}`;
    const res = await this.post(x, url, req.file.bytes, {
      ...authHeaders(x.conn.auth, x.conn.apiKey),
      'content-type': req.file.type || 'application/octet-stream',
      accept: 'application/json',
    });
    return fromDeepgram(await jsonOf(res, x.conn.provider), x.conn.provider);
  }

  /** AssemblyAI: upload the audio, submit a transcript job, poll it until it is done. */
  private async assemblyAi(x: OperationCall, req: TranscriptionRequest): Promise<Transcript> {
    const auth = authHeaders(x.conn.auth, x.conn.apiKey);
    const provider = x.conn.provider;
    const uploaded = await jsonOf(
      await this.post(x, joinUrl(x.conn.baseUrl, '/upload'), req.file.bytes, {
        ...auth,
        'content-type': 'application/octet-stream',
        accept: 'application/json',
      }),
      provider,
    );
    if (!isRecord(uploaded) || typeof uploaded.upload_url !== 'string') {
      throw invalidUpstream(provider, 'an upload answer without upload_url');
    }
    const job = await jsonOf(
      await this.post(
        x,
        joinUrl(x.conn.baseUrl, '/transcript'),
        JSON.stringify(assemblyAiSubmit(req, x.upstreamModel, uploaded.upload_url)),
      ),
      provider,
    );
    if (!isRecord(job) || typeof job.id !== 'string') {
      throw invalidUpstream(provider, 'a transcript job without an id');
    }
    const pollUrl = joinUrl(x.conn.baseUrl, `/transcript/${encodeURIComponent(job.id)}`);
    for (let wait = POLL_FIRST_MS; ; wait = Math.min(POLL_MAX_MS, Math.round(wait * 1.5))) {
      await sleep(Math.min(wait, Math.max(0, x.deadline - performance.now())), x.signal);
      if (x.signal.aborted) {
        throw new AppError('CLIENT_CLOSED', 'CLIENT_CLOSED', 'Request aborted');
      }
      const res = await this.upstream.request({
        url: pollUrl,
        method: 'GET',
        headers: { ...auth, accept: 'application/json' },
        signal: x.signal,
        headersTimeout: x.headersTimeout,
        bodyTimeout: x.bodyTimeout,
      });
      const state = await jsonOf(res, provider);
      if (!isRecord(state)) {
        throw invalidUpstream(provider, 'a transcript that is not a JSON object');
      }
      if (state.status === 'completed') {
        return fromAssemblyAi(state, provider);
      }
      if (state.status === 'error') {
        // the audio could not be transcribed: the client's input, not the account, is the problem
        throw new AppError(
          'TRANSCRIPTION_FAILED',
          'INVALID_INPUT',
          `AssemblyAI could not transcribe the audio: ${typeof state.error === 'string' ? state.error : 'unknown error'}`,
          { provider },
          422,
        );
      }
    }
  }
}
