/**
 * Gemini `streamGenerateContent?alt=sse` streams ⇄ canonical stream events.
 *
 * Framing: `data: {GenerateContentResponse}` events separated by `\r\n\r\n`, no terminator. Each
 * chunk carries a piece of the first candidate's parts, cumulative `usageMetadata`, `modelVersion`
 * and `responseId`; the stream is complete when a chunk carries a `finishReason`. Function calls
 * arrive whole, one per part (parallel calls in the same chunk). A failure is a chunk holding
 * `{"error": {code, message, status}}` (Gemini has no SSE error event).
 */
import type {
  CanonicalUsage,
  StopReason,
  StreamDecoder,
  StreamEncoder,
  StreamEvent,
} from '@/gateway/dialects/canonical';
import { SseReader } from '@/gateway/dialects/shared/sse';
import {
  fromFinishReason,
  fromGeminiUsage,
  functionCallOut,
  geminiErrorBody,
  isFinish,
  isObj,
  str,
  syntheticCallId,
  toFinishReason,
  toGeminiPromptUsage,
  toGeminiUsage,
  type Obj,
} from '@/gateway/dialects/gemini/common';
import { blockReason, firstCandidate } from '@/gateway/dialects/gemini/response';

export const STREAM_ENDED_EARLY = 'upstream stream ended before completion';

// ------------------------------------------------------------------------------------------------
// Decoder: upstream Gemini SSE bytes → canonical events

/**
 * Decodes a Gemini SSE stream, whatever the chunking (a UTF-8 character or a CRLF split across
 * chunks). Never throws: a malformed chunk or an error chunk becomes an `error` event, a stream
 * that ends without a `finishReason` ends with one.
 *
 * Blocks: consecutive text parts form one text block, consecutive thought parts one thinking block
 * (closed once a signature arrives on it). A `thoughtSignature` on a plain part closes the open
 * block and comes as an empty thinking block of its own (`thinking_start`, `thinking_signature`,
 * `block_stop`). A function call is `tool_call_start` (its `id`, or `call_<n>`), one
 * `tool_call_delta` with the whole arguments, its signature as a `thinking_signature` on the call's
 * own block index (the canonical events have no other slot for it), then `block_stop`.
 */
export class GeminiStreamDecoder implements StreamDecoder {
  private readonly sse = new SseReader<StreamEvent[]>((name, data, out) => {
    this.dispatch(name, data, out);
    return this.done;
  });

  private started = false;
  /** `message_stop` or `error` was emitted: nothing follows. */
  private done = false;
  private nextIndex = 0;
  private open: { kind: 'text' | 'thinking'; index: number } | undefined;
  private calls = 0;
  private usage: CanonicalUsage | undefined;

  push(chunk: Buffer): StreamEvent[] {
    const out: StreamEvent[] = [];
    if (this.done) {
      return out;
    }
    this.guard(out, () => {
      this.sse.push(chunk, out);
    });
    return out;
  }

  end(): StreamEvent[] {
    const out: StreamEvent[] = [];
    if (this.done) {
      return out;
    }
    this.guard(out, () => {
      this.sse.end(out); // a last event without its blank line included
      this.fail(out, STREAM_ENDED_EARLY);
    });
    return out;
  }

  private guard(out: StreamEvent[], fn: () => void): void {
    try {
      fn();
    } catch (e) {
      // Never throw into the pipeline: a bug here ends the stream with an error event.
      this.fail(out, `could not read the upstream stream: ${(e as Error).message}`);
    }
  }

  private dispatch(_name: string, data: string, out: StreamEvent[]): void {
    if (data === '' || this.done || data.trim() === '[DONE]') {
      return;
    }
    let payload: unknown;
    try {
      payload = JSON.parse(data);
    } catch {
      this.fail(out, 'malformed upstream chunk');
      return;
    }
    if (!isObj(payload)) {
      this.fail(out, 'malformed upstream chunk');
      return;
    }
    this.chunk(payload, out);
  }

  private chunk(c: Obj, out: StreamEvent[]): void {
    if (isObj(c.error)) {
      const message = str(c.error.message) || 'upstream error';
      const status = str(c.error.status);
      this.fail(out, message, status || undefined);
      return;
    }
    if (isObj(c.usageMetadata)) {
      this.usage = fromGeminiUsage(c.usageMetadata);
    }
    if (!this.started) {
      this.started = true;
      const start: StreamEvent = {
        type: 'message_start',
        id: str(c.responseId),
        model: str(c.modelVersion),
      };
      if (this.usage) {
        start.usage = {
          inputTokens: this.usage.inputTokens,
          cacheReadTokens: this.usage.cacheReadTokens,
        };
      }
      out.push(start);
    }
    const candidate = firstCandidate(c);
    if (candidate) {
      const content = isObj(candidate.content) ? candidate.content : {};
      if (Array.isArray(content.parts)) {
        for (const part of content.parts as unknown[]) {
          if (isObj(part)) {
            this.part(part, out);
          }
        }
      }
      if (isFinish(candidate.finishReason)) {
        this.complete(out, fromFinishReason(candidate.finishReason, this.calls > 0));
      }
    } else if (blockReason(c) !== undefined) {
      this.complete(out, 'content_filter');
    }
  }

  private part(p: Obj, out: StreamEvent[]): void {
    const signature = str(p.thoughtSignature);
    if (isObj(p.functionCall)) {
      const fc = p.functionCall;
      this.close(out);
      const index = this.nextIndex++;
      const id = str(fc.id) || syntheticCallId(this.calls);
      this.calls++;
      out.push({ type: 'tool_call_start', index, id, name: str(fc.name) });
      out.push({
        type: 'tool_call_delta',
        index,
        argumentsDelta: JSON.stringify(isObj(fc.args) ? fc.args : {}),
      });
      if (signature) {
        out.push({ type: 'thinking_signature', index, signature });
      }
      out.push({ type: 'block_stop', index });
      return;
    }
    const text = typeof p.text === 'string' ? p.text : undefined;
    if (text !== undefined && p.thought === true) {
      const index = this.block('thinking', out);
      if (text !== '') {
        out.push({ type: 'thinking_delta', index, text });
      }
      if (signature) {
        out.push({ type: 'thinking_signature', index, signature });
        this.close(out);
      }
      return;
    }
    if (text) {
      out.push({ type: 'text_delta', index: this.block('text', out), text });
    }
    if (signature) {
      // A signature on a plain part (the answer, or an empty last part): a block of its own.
      this.close(out);
      const index = this.nextIndex++;
      out.push({ type: 'thinking_start', index });
      out.push({ type: 'thinking_signature', index, signature });
      out.push({ type: 'block_stop', index });
    }
    // Images the model made, executable code…: no canonical stream event.
  }

  /** The open block of this kind, or a new one (closing the open block of another kind). */
  private block(kind: 'text' | 'thinking', out: StreamEvent[]): number {
    if (this.open?.kind === kind) {
      return this.open.index;
    }
    this.close(out);
    const index = this.nextIndex++;
    this.open = { kind, index };
    out.push(kind === 'text' ? { type: 'text_start', index } : { type: 'thinking_start', index });
    return index;
  }

  private close(out: StreamEvent[]): void {
    if (this.open) {
      out.push({ type: 'block_stop', index: this.open.index });
      this.open = undefined;
    }
  }

  private complete(out: StreamEvent[], stopReason: StopReason): void {
    this.close(out);
    this.done = true;
    const stop: StreamEvent = { type: 'message_stop', stopReason };
    if (this.usage) {
      stop.usage = this.usage;
    }
    out.push(stop);
  }

  private fail(out: StreamEvent[], message: string, errorType?: string): void {
    if (this.done) {
      return;
    }
    this.done = true;
    const event: StreamEvent = { type: 'error', message };
    if (errorType !== undefined) {
      event.errorType = errorType;
    }
    out.push(event);
  }
}

// ------------------------------------------------------------------------------------------------
// Encoder: canonical events → Gemini SSE for the client

export interface GeminiStreamEncoderOptions {
  /** `responseId` when the canonical stream has no `message_start`. */
  id?: string;
  /** `modelVersion` when the canonical stream has no `message_start`. */
  model?: string;
}

interface EncBlock {
  kind: 'text' | 'thinking' | 'redacted' | 'tool';
  /** Thinking: deltas written so far. */
  deltas: number;
  /** Tool call: what is buffered until its `block_stop`. */
  id?: string;
  name?: string;
  args?: string;
  signature?: string;
  written?: boolean;
}

/**
 * Encodes canonical events as a Gemini SSE stream: each text or thinking delta is a chunk with one
 * part (`{text}` / `{text, thought: true}`); a tool call is buffered until its block stops (its
 * argument deltas may interleave with other calls') and written whole as a `functionCall` part; a
 * thinking signature is an empty part carrying `thoughtSignature`. The last chunk has the
 * `finishReason` and the final `usageMetadata`. A failure, or a generation that stopped with an
 * error, ends with an `{"error": …}` chunk instead, never a finish reason.
 */
export class GeminiStreamEncoder implements StreamEncoder {
  private finished = false;
  private id: string;
  private model: string;
  private startUsage: Partial<CanonicalUsage> | undefined;
  private readonly blocks = new Map<number, EncBlock>();

  constructor(opts: GeminiStreamEncoderOptions = {}) {
    this.id = opts.id ?? '';
    this.model = opts.model ?? '';
  }

  encode(event: StreamEvent): string {
    if (this.finished) {
      return '';
    }
    switch (event.type) {
      case 'message_start':
        this.id = event.id || this.id;
        this.model = event.model || this.model;
        this.startUsage = event.usage;
        return '';
      case 'text_start':
        this.blocks.set(event.index, { kind: 'text', deltas: 0 });
        return '';
      case 'thinking_start':
        this.blocks.set(event.index, {
          kind: event.redacted !== undefined ? 'redacted' : 'thinking',
          deltas: 0,
        });
        return '';
      case 'text_delta':
        return event.text === '' ? '' : this.chunk([{ text: event.text }]);
      case 'thinking_delta': {
        const block = this.blocks.get(event.index);
        if (block?.kind === 'redacted' || event.text === '') {
          return '';
        }
        if (block) {
          block.deltas++;
        }
        return this.chunk([{ text: event.text, thought: true }]);
      }
      case 'thinking_signature': {
        const block = this.blocks.get(event.index);
        if (block?.kind === 'tool') {
          block.signature = event.signature;
          return '';
        }
        if (block?.kind === 'redacted') {
          return '';
        }
        // After thought text it closes the thought; alone, it is Gemini's empty signed part.
        return this.chunk([
          block && block.deltas > 0
            ? { text: '', thought: true, thoughtSignature: event.signature }
            : { text: '', thoughtSignature: event.signature },
        ]);
      }
      case 'tool_call_start':
        this.blocks.set(event.index, {
          kind: 'tool',
          deltas: 0,
          id: event.id,
          name: event.name,
          args: '',
        });
        return '';
      case 'tool_call_delta': {
        const block = this.blocks.get(event.index);
        if (block?.kind === 'tool' && !block.written) {
          block.args += event.argumentsDelta;
        }
        return '';
      }
      case 'block_stop': {
        const block = this.blocks.get(event.index);
        if (block?.kind !== 'tool' || block.written) {
          return '';
        }
        return this.chunk([this.callPart(block)]);
      }
      case 'message_stop':
        return this.messageStop(event.stopReason, event.usage);
      case 'error':
        return this.error(event.message, event.errorType);
    }
  }

  abort(message: string): string {
    return this.finished ? '' : this.error(message, undefined);
  }

  private callPart(block: EncBlock): Obj {
    block.written = true;
    return functionCallOut(
      {
        type: 'tool_call',
        id: block.id ?? '',
        name: block.name ?? '',
        arguments: block.args ?? '',
        ...(block.signature !== undefined ? { signature: block.signature } : {}),
      },
      true,
    );
  }

  private messageStop(reason: StopReason, usage: CanonicalUsage | undefined): string {
    if (reason === 'error') {
      // Never close a failed generation as if it had completed.
      return this.error('The upstream ended the response with an error', undefined);
    }
    // Calls whose block never stopped are written with the last chunk.
    const parts = [...this.blocks.values()]
      .filter((b) => b.kind === 'tool' && !b.written)
      .map((b) => this.callPart(b));
    this.finished = true;
    return this.chunk(parts.length > 0 ? parts : [{ text: '' }], toFinishReason(reason), usage);
  }

  private chunk(parts: Obj[], finishReason?: string, usage?: CanonicalUsage): string {
    const candidate: Obj = { content: { parts, role: 'model' } };
    if (finishReason !== undefined) {
      candidate.finishReason = finishReason;
    }
    candidate.index = 0;
    const body: Obj = { candidates: [candidate] };
    if (usage) {
      body.usageMetadata = toGeminiUsage(usage);
    } else if (this.startUsage) {
      body.usageMetadata = toGeminiPromptUsage(this.startUsage);
    }
    body.modelVersion = this.model;
    body.responseId = this.id;
    return frame(body);
  }

  private error(message: string, errorType: string | undefined): string {
    this.finished = true;
    return frame(geminiErrorBody(message, errorType));
  }
}

function frame(body: Obj): string {
  return `data: ${JSON.stringify(body)}\r\n\r\n`;
}
