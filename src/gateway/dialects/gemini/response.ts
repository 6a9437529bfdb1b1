/**
 * Gemini `GenerateContentResponse` bodies ⇄ the canonical response.
 *
 * `fromGeminiResponse` reads an upstream body (the first candidate); `toGeminiResponse` renders a
 * canonical response for a Gemini client: thinking text as `thought: true` parts, function calls
 * with their arguments as objects, usage as `usageMetadata`.
 */
import { AppError } from '@/common/errors/app-error';
import type { CanonicalResponse } from '@/gateway/dialects/canonical';
import {
  fromFinishReason,
  fromGeminiUsage,
  isFinish,
  isObj,
  modelPartsOut,
  ModelPartReader,
  str,
  toFinishReason,
  toGeminiUsage,
  type Obj,
} from '@/gateway/dialects/gemini/common';

function upstreamInvalid(reason: string): AppError {
  return new AppError(
    'UPSTREAM_INVALID_RESPONSE',
    'UPSTREAM_ERROR',
    `The upstream returned an invalid Gemini response: ${reason}`,
  );
}

/** The candidate a single-candidate request gets back (`index` 0, or the first). */
export function firstCandidate(body: Obj): Obj | undefined {
  const candidates = Array.isArray(body.candidates) ? (body.candidates as unknown[]) : [];
  const c = candidates.find((x) => isObj(x) && (x.index === 0 || x.index === undefined));
  return isObj(c) ? c : undefined;
}

/** The reason a prompt was blocked before any candidate (`promptFeedback.blockReason`). */
export function blockReason(body: Obj): string | undefined {
  const feedback = isObj(body.promptFeedback) ? body.promptFeedback : {};
  return isFinish(feedback.blockReason) ? feedback.blockReason : undefined;
}

/**
 * An upstream Gemini body → canonical response: the first candidate's parts (thinking, text,
 * function calls, in order; see `ModelPartReader`), its finish reason and the usage. A prompt
 * blocked before any candidate is an empty response stopped by the content filter; an `error` body
 * or one with neither candidates nor feedback is an upstream error (502).
 */
export function fromGeminiResponse(body: unknown): CanonicalResponse {
  if (!isObj(body)) {
    throw upstreamInvalid('the body is not a JSON object');
  }
  if (isObj(body.error)) {
    throw new AppError(
      'UPSTREAM_ERROR',
      'UPSTREAM_ERROR',
      str(body.error.message) || 'The upstream returned an error',
      { upstream: body.error },
    );
  }
  const candidate = firstCandidate(body);
  const blocked = blockReason(body);
  if (!candidate && blocked === undefined) {
    throw upstreamInvalid('no candidates');
  }
  const reader = new ModelPartReader();
  const content = candidate && isObj(candidate.content) ? candidate.content : {};
  if (Array.isArray(content.parts)) {
    for (const part of content.parts as unknown[]) {
      reader.read(part);
    }
  }
  return {
    id: str(body.responseId),
    model: str(body.modelVersion),
    parts: reader.parts,
    stopReason: candidate
      ? fromFinishReason(candidate.finishReason, reader.hasToolCalls)
      : 'content_filter',
    usage: fromGeminiUsage(body.usageMetadata),
  };
}

/**
 * Canonical response → a Gemini `GenerateContentResponse` for the client. Thinking text from any
 * provider is shown as thoughts; only Gemini's signatures are written; function calls carry their
 * id, which the client echoes back with the result.
 */
export function toGeminiResponse(res: CanonicalResponse): Record<string, unknown> {
  return {
    candidates: [
      {
        content: {
          parts: modelPartsOut(res.parts, { thinking: 'show', ids: true }),
          role: 'model',
        },
        finishReason: toFinishReason(res.stopReason),
        index: 0,
      },
    ],
    usageMetadata: toGeminiUsage(res.usage),
    modelVersion: res.model,
    responseId: res.id,
  };
}
