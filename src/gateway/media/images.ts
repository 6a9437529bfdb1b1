import { AppError } from '@/common/errors/app-error';
import type { ImageProtocol } from '@/providers/registry';
import type { MediaUsage } from './operation';
import {
  invalidUpstream,
  isRecord,
  oneOf,
  optionalString,
  positiveInt,
  requireModel,
} from './validate';

/** `POST /v1/images/generations`, validated (reference §2.6; OpenAI's request shape). */
export interface ImagesRequest {
  model: string;
  prompt: string;
  n: number;
  size: string | undefined;
  quality: string | undefined;
  responseFormat: 'url' | 'b64_json';
  style: string | undefined;
  /** Every other field, passed through to OpenAI-protocol upstreams only. */
  extra: Record<string, unknown>;
}

const MAX_IMAGES = 10;
const SIZE_RE = /^(\d{2,5})x(\d{2,5})$/;
const QUALITIES = ['standard', 'hd', 'low', 'medium', 'high', 'auto'] as const;

export function parseImagesRequest(body: unknown): ImagesRequest {
  if (!isRecord(body)) {
    throw AppError.invalid('Request body must be a JSON object', {}, 'INVALID_BODY');
  }
  const { model, prompt, n, size, quality, response_format, style, ...extra } = body;
  const m = requireModel(model);
  if (typeof prompt !== 'string' || !prompt.trim()) {
    throw AppError.invalid(
      prompt === undefined ? "Missing 'prompt'" : "Invalid 'prompt': must be a non-empty string",
      { param: 'prompt' },
      'INVALID_INPUT_FIELD',
    );
  }
  const s = optionalString(size, 'size');
  if (s !== undefined && s !== 'auto' && !SIZE_RE.test(s)) {
    throw AppError.invalid(
      "Invalid 'size': use '<width>x<height>' (e.g. '1024x1024') or 'auto'",
      { param: 'size' },
      'INVALID_INPUT_FIELD',
    );
  }
  return {
    model: m,
    prompt,
    n: n === undefined || n === null ? 1 : positiveInt(n, 'n', MAX_IMAGES),
    size: s,
    quality: oneOf(quality, 'quality', QUALITIES),
    responseFormat:
      oneOf(response_format, 'response_format', ['url', 'b64_json'] as const) ?? 'url',
    style: optionalString(style, 'style'),
    extra,
  };
}

/** The pricing key of a request: `<size>/<quality>` (`1024x1024/standard` by default). */
export function imagePriceKey(req: ImagesRequest): string {
  return `${req.size && req.size !== 'auto' ? req.size : '1024x1024'}/${req.quality ?? 'standard'}`;
}

/** One upstream call of an image protocol. */
export interface ImageUpstreamCall {
  /** Replaces `{model}` in the provider's path. */
  path: string;
  body: Record<string, unknown>;
  accept: string;
  /** Fireworks makes one image per call: the executor repeats it n times. */
  repeat: number;
}

function dims(size: string | undefined): { width: number; height: number } {
  const m = size ? SIZE_RE.exec(size) : null;
  return m ? { width: Number(m[1]), height: Number(m[2]) } : { width: 1024, height: 1024 };
}

/** Fireworks FLUX takes an aspect ratio: the closest it supports to the requested size. */
const FIREWORKS_RATIOS = ['1:1', '21:9', '16:9', '3:2', '5:4', '4:5', '2:3', '9:16', '9:21'];
export function aspectRatio(size: string | undefined): string {
  const { width, height } = dims(size);
  const want = width / height;
  let best = '1:1';
  let bestDiff = Infinity;
  for (const r of FIREWORKS_RATIOS) {
    const [a, b] = r.split(':').map(Number);
    const diff = Math.abs(Math.log(a / b) - Math.log(want));
    if (diff < bestDiff) {
      best = r;
      bestDiff = diff;
    }
  }
  return best;
}

/** gpt-image models answer base64 only and refuse `response_format`. */
function base64Only(model: string): boolean {
  return model.startsWith('gpt-image');
}

/** The request in the provider's native form. */
export function imagesUpstreamCall(
  req: ImagesRequest,
  protocol: ImageProtocol,
  upstreamModel: string,
  path: string,
): ImageUpstreamCall {
  switch (protocol) {
    case 'openai': {
      const body: Record<string, unknown> = {
        ...req.extra,
        model: upstreamModel,
        prompt: req.prompt,
        n: req.n,
      };
      if (req.size) {
        body.size = req.size;
      }
      if (req.quality) {
        body.quality = req.quality;
      }
      if (req.style) {
        body.style = req.style;
      }
      if (!base64Only(upstreamModel)) {
        body.response_format = req.responseFormat;
      }
      return { path, body, accept: 'application/json', repeat: 1 };
    }
    case 'xai':
      // Grok's image API takes no size, quality or style (it answers 400 to them)
      return {
        path,
        body: {
          model: upstreamModel,
          prompt: req.prompt,
          n: req.n,
          response_format: req.responseFormat,
        },
        accept: 'application/json',
        repeat: 1,
      };
    case 'together':
      return {
        path,
        body: {
          model: upstreamModel,
          prompt: req.prompt,
          n: req.n,
          ...dims(req.size),
          response_format: req.responseFormat === 'b64_json' ? 'base64' : 'url',
          ...(typeof req.extra.steps === 'number' ? { steps: req.extra.steps } : {}),
          ...(typeof req.extra.seed === 'number' ? { seed: req.extra.seed } : {}),
        },
        accept: 'application/json',
        repeat: 1,
      };
    case 'fireworks':
      return {
        path: path.replace('{model}', encodeURIComponent(upstreamModel)),
        body: {
          prompt: req.prompt,
          aspect_ratio: aspectRatio(req.size),
          ...(typeof req.extra.seed === 'number' ? { seed: req.extra.seed } : {}),
          ...(typeof req.extra.guidance_scale === 'number'
            ? { guidance_scale: req.extra.guidance_scale }
            : {}),
          ...(typeof req.extra.num_inference_steps === 'number'
            ? { num_inference_steps: req.extra.num_inference_steps }
            : {}),
        },
        accept: 'application/json',
        repeat: req.n,
      };
  }
}

export interface ImageDatum {
  url?: string;
  b64_json?: string;
  revised_prompt?: string;
}

/** `data:image/png;base64,xxx` → `{ mime, b64 }`; a bare base64 string → png. */
function splitDataUrl(s: string): { mime: string; b64: string } {
  const m = /^data:([^;,]+);base64,(.*)$/s.exec(s);
  return m ? { mime: m[1], b64: m[2] } : { mime: 'image/png', b64: s };
}

/**
 * One image in the form the client asked for. A provider that only answers base64 (Fireworks,
 * gpt-image) gets a `data:` URL when the client asked for `url`; one that only answers a URL keeps
 * it (the gateway does not download images).
 */
function datum(
  src: { url?: unknown; b64?: unknown; revised?: unknown },
  want: ImagesRequest['responseFormat'],
): ImageDatum | undefined {
  const out: ImageDatum = {};
  if (typeof src.b64 === 'string' && src.b64) {
    const { mime, b64 } = splitDataUrl(src.b64);
    if (want === 'b64_json') {
      out.b64_json = b64;
    } else {
      out.url = `data:${mime};base64,${b64}`;
    }
  } else if (typeof src.url === 'string' && src.url) {
    out.url = src.url;
  } else {
    return undefined;
  }
  if (typeof src.revised === 'string') {
    out.revised_prompt = src.revised;
  }
  return out;
}

/** One upstream answer's images (several for OpenAI/xAI/Together, one per Fireworks call). */
export function imagesFromAnswer(
  protocol: ImageProtocol,
  upstream: unknown,
  want: ImagesRequest['responseFormat'],
  provider: string,
): { data: ImageDatum[]; inputTokens: number; outputTokens: number } {
  if (!isRecord(upstream)) {
    throw invalidUpstream(provider, 'an image answer that is not a JSON object');
  }
  const out: ImageDatum[] = [];
  if (protocol === 'fireworks') {
    const list = Array.isArray(upstream.base64) ? upstream.base64 : [];
    for (const b of list) {
      const d = datum({ b64: b }, want);
      if (d) {
        out.push(d);
      }
    }
  } else if (Array.isArray(upstream.data)) {
    for (const item of upstream.data) {
      if (isRecord(item)) {
        const d = datum({ url: item.url, b64: item.b64_json, revised: item.revised_prompt }, want);
        if (d) {
          out.push(d);
        }
      }
    }
  }
  if (!out.length) {
    throw invalidUpstream(provider, 'an image answer without any image');
  }
  const u = isRecord(upstream.usage) ? upstream.usage : {};
  return {
    data: out,
    inputTokens: typeof u.input_tokens === 'number' ? u.input_tokens : 0,
    outputTokens: typeof u.output_tokens === 'number' ? u.output_tokens : 0,
  };
}

/** The client's answer (OpenAI's shape) and what it used. */
export function imagesAnswer(
  data: ImageDatum[],
  tokens: { input: number; output: number },
  req: ImagesRequest,
): { body: Record<string, unknown>; usage: MediaUsage } {
  return {
    body: {
      created: Math.floor(Date.now() / 1000),
      data,
      ...(tokens.input || tokens.output
        ? {
            usage: {
              input_tokens: tokens.input,
              output_tokens: tokens.output,
              total_tokens: tokens.input + tokens.output,
            },
          }
        : {}),
    },
    usage: {
      inputTokens: tokens.input,
      outputTokens: tokens.output,
      images: data.length,
      imageKey: imagePriceKey(req),
      audioSeconds: 0,
    },
  };
}
