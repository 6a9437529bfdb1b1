import { openAiType } from '@/common/errors/render';
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
  fromOpenAiUsage,
  isObj,
  toFinishReason,
  toOpenAiUsage,
  type Obj,
} from '@/gateway/dialects/openai-chat/common';

/** OpenAI Chat Completions SSE streams (`data: {chat.completion.chunk}` … `data: [DONE]`) ⇄ events. */

const INCOMPLETE = 'upstream stream ended before completion';

interface ToolState {
  /** Canonical block index. */
  block: number;
  id: string;
}

/**
 * Upstream SSE bytes → canonical stream events, for any chunking of the bytes (a UTF-8 sequence or
 * a `\r\n` split across chunks included). One event per block boundary: a text or thinking block
 * stays open while its deltas continue and is closed when another block starts; tool calls are
 * keyed by their OpenAI `index`. `message_stop` is emitted once, when both `finish_reason` and the
 * usage (in the same or a later chunk) are known, or at `[DONE]` / the end of the bytes, whichever
 * comes first.
 *
 * Interleaved parallel calls (deltas for index 0 after index 1 started, which OpenAI itself does
 * not do) keep their pieces: a late piece is emitted as a `tool_call_delta` of the earlier call's
 * block, although that block was already closed when the next call started.
 */
export class OpenAiChatStreamDecoder implements StreamDecoder {
  private readonly sse = new SseReader<StreamEvent[]>((name, data, out) => {
    this.dispatch(name, data, out);
    return this.finished;
  });

  private started = false;
  /** `message_stop` or `error` was emitted: nothing follows. */
  private finished = false;
  private nextBlock = 0;
  private open: { kind: 'text' | 'thinking' | 'tool'; index: number } | undefined;
  private readonly tools = new Map<number, ToolState>();
  private sawToolCall = false;
  private finishReason: StopReason | undefined;
  private usage: CanonicalUsage | undefined;

  push(chunk: Buffer): StreamEvent[] {
    const out: StreamEvent[] = [];
    this.guard(out, () => {
      this.sse.push(chunk, out);
    });
    return out;
  }

  end(): StreamEvent[] {
    const out: StreamEvent[] = [];
    this.guard(out, () => {
      this.sse.end(out); // a last event without its blank line included
      if (this.finishReason !== undefined) {
        this.complete(out);
      } else {
        this.fail(out, INCOMPLETE);
      }
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

  /** One SSE event: its `event:` name and its `data:` lines joined by `\n`. */
  private dispatch(name: string, payload: string, out: StreamEvent[]): void {
    if (this.finished) {
      return;
    }
    if (payload.trim() === '[DONE]') {
      if (!this.started) {
        this.fail(out, INCOMPLETE);
      } else {
        this.complete(out);
      }
      return;
    }
    let parsed: unknown[];
    try {
      parsed = [JSON.parse(payload)];
    } catch {
      // Servers that forget the blank line between events: one JSON chunk per data line.
      parsed = [];
      for (const d of payload.split('\n')) {
        try {
          parsed.push(JSON.parse(d));
        } catch {
          // Not JSON: skipped. A stream cut short is still caught by the completion check.
        }
      }
    }
    for (const chunk of parsed) {
      if (isObj(chunk)) {
        this.chunk(name === 'error' && !('error' in chunk) ? { error: chunk } : chunk, out);
      }
    }
  }

  private chunk(c: Obj, out: StreamEvent[]): void {
    if (this.finished) {
      return;
    }
    if (present(c.error)) {
      const err = c.error;
      const message =
        isObj(err) && typeof err.message === 'string'
          ? err.message
          : typeof err === 'string'
            ? err
            : 'upstream error';
      const type = isObj(err) ? (err.type ?? err.code) : undefined;
      this.finished = true;
      out.push({
        type: 'error',
        message,
        ...(typeof type === 'string' && type ? { errorType: type } : {}),
      });
      return;
    }
    if (!this.started) {
      this.started = true;
      out.push({
        type: 'message_start',
        id: typeof c.id === 'string' ? c.id : '',
        model: typeof c.model === 'string' ? c.model : '',
      });
    }
    const choices = Array.isArray(c.choices) ? (c.choices as unknown[]) : [];
    const choice = choices.find((x) => isObj(x) && (x.index === 0 || x.index === undefined));
    if (isObj(choice)) {
      const delta = isObj(choice.delta) ? choice.delta : {};
      const reasoning =
        typeof delta.reasoning_content === 'string' ? delta.reasoning_content : delta.reasoning;
      if (typeof reasoning === 'string' && reasoning) {
        const index = this.block('thinking', out);
        out.push({ type: 'thinking_delta', index, text: reasoning });
      }
      if (typeof delta.content === 'string' && delta.content) {
        const index = this.block('text', out);
        out.push({ type: 'text_delta', index, text: delta.content });
      }
      if (Array.isArray(delta.tool_calls)) {
        delta.tool_calls.forEach((tc, pos) => {
          if (isObj(tc)) {
            this.toolDelta(tc, pos, out);
          }
        });
      } else if (isObj(delta.function_call)) {
        this.toolDelta({ index: 0, function: delta.function_call }, 0, out);
      }
      if (typeof choice.finish_reason === 'string' && choice.finish_reason) {
        this.finishReason = fromFinishReason(choice.finish_reason, this.sawToolCall);
        this.close(out);
      }
    }
    // Groq reports usage in `x_groq.usage`.
    const usage = isObj(c.usage) ? c.usage : isObj(c.x_groq) ? c.x_groq.usage : undefined;
    if (isObj(usage)) {
      this.usage = fromOpenAiUsage(usage);
      // Usage sent with every chunk is cumulative: only the one with or after finish_reason is final.
      if (this.finishReason !== undefined) {
        this.complete(out);
      }
    }
  }

  private toolDelta(tc: Obj, pos: number, out: StreamEvent[]): void {
    const key = typeof tc.index === 'number' ? tc.index : pos;
    const fn = isObj(tc.function) ? tc.function : {};
    const id = typeof tc.id === 'string' && tc.id ? tc.id : undefined;
    const name = typeof fn.name === 'string' && fn.name ? fn.name : undefined;
    let state = this.tools.get(key);
    // A server that reuses one index for several calls still tells them apart by id and name.
    if (state && id && name && id !== state.id) {
      state = undefined;
    }
    if (!state) {
      this.close(out);
      const block = this.nextBlock++;
      state = { block, id: id ?? `call_${block}` };
      this.tools.set(key, state);
      this.open = { kind: 'tool', index: block };
      this.sawToolCall = true;
      out.push({ type: 'tool_call_start', index: block, id: state.id, name: name ?? '' });
    }
    const args =
      typeof fn.arguments === 'string'
        ? fn.arguments
        : isObj(fn.arguments)
          ? JSON.stringify(fn.arguments)
          : '';
    if (args) {
      out.push({ type: 'tool_call_delta', index: state.block, argumentsDelta: args });
    }
  }

  /** The open block of this kind, or a new one (closing the open block of another kind). */
  private block(kind: 'text' | 'thinking', out: StreamEvent[]): number {
    if (this.open?.kind === kind) {
      return this.open.index;
    }
    this.close(out);
    const index = this.nextBlock++;
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

  private complete(out: StreamEvent[]): void {
    if (this.finished) {
      return;
    }
    this.close(out);
    this.finished = true;
    const stopReason = this.finishReason ?? (this.sawToolCall ? 'tool_calls' : 'stop');
    out.push({
      type: 'message_stop',
      stopReason,
      ...(this.usage ? { usage: this.usage } : {}),
    });
  }

  private fail(out: StreamEvent[], message: string): void {
    if (this.finished) {
      return;
    }
    this.finished = true;
    out.push({ type: 'error', message });
  }
}

function present(v: unknown): boolean {
  return v !== undefined && v !== null;
}

// ------------------------------------------------------------------------------------------------

export interface OpenAiChatStreamEncoderOptions {
  /** `chatcmpl-…` id repeated in every chunk. */
  id: string;
  model: string;
  /** Unix seconds. */
  created: number;
  /** The client sent `stream_options.include_usage`: a usage chunk (`choices: []`) before `[DONE]`. */
  includeUsage?: boolean;
}

/**
 * Canonical events → OpenAI `chat.completion.chunk` SSE text, in the order the API sends them: a
 * role chunk, content / `reasoning_content` / `tool_calls` deltas, a `finish_reason` chunk, the
 * usage chunk when asked for, `[DONE]`. Errors are an `{"error":…}` data event with nothing after
 * (no `[DONE]`), which the OpenAI SDKs raise as an error.
 */
export class OpenAiChatStreamEncoder implements StreamEncoder {
  private started = false;
  private finished = false;
  /** Canonical block index → OpenAI tool index (which counts tool calls only). */
  private readonly toolIndex = new Map<number, number>();

  constructor(private readonly opts: OpenAiChatStreamEncoderOptions) {}

  encode(event: StreamEvent): string {
    if (this.finished) {
      return '';
    }
    switch (event.type) {
      case 'message_start':
      case 'text_start':
      case 'thinking_start':
      case 'thinking_signature':
      case 'block_stop':
        return this.start();
      case 'text_delta':
        return event.text ? this.start() + this.chunk({ content: event.text }) : this.start();
      case 'thinking_delta':
        return event.text
          ? this.start() + this.chunk({ reasoning_content: event.text })
          : this.start();
      case 'tool_call_start': {
        const index = this.toolIndex.size;
        this.toolIndex.set(event.index, index);
        return (
          this.start() +
          this.chunk({
            tool_calls: [
              {
                index,
                id: event.id,
                type: 'function',
                function: { name: event.name, arguments: '' },
              },
            ],
          })
        );
      }
      case 'tool_call_delta': {
        const index = this.toolIndex.get(event.index);
        if (index === undefined || !event.argumentsDelta) {
          return '';
        }
        return this.chunk({
          tool_calls: [{ index, function: { arguments: event.argumentsDelta } }],
        });
      }
      case 'message_stop': {
        let text = this.start() + this.chunk({}, toFinishReason(event.stopReason));
        if (this.opts.includeUsage && event.usage) {
          text += this.frame({ ...this.head(), choices: [], usage: toOpenAiUsage(event.usage) });
        }
        this.finished = true;
        return `${text}data: [DONE]\n\n`;
      }
      case 'error':
        return this.error(event.message, event.errorType);
    }
  }

  abort(message: string): string {
    return this.finished ? '' : this.error(message, undefined);
  }

  private error(message: string, code: string | undefined): string {
    this.finished = true;
    return this.frame({
      error: { message, type: openAiType(500), param: null, code: code ?? 'upstream_error' },
    });
  }

  private head(): Obj {
    return {
      id: this.opts.id,
      object: 'chat.completion.chunk',
      created: this.opts.created,
      model: this.opts.model,
    };
  }

  /** The first chunk (`role`), once. */
  private start(): string {
    if (this.started) {
      return '';
    }
    this.started = true;
    return this.chunk({ role: 'assistant', content: '' });
  }

  private chunk(delta: Obj, finishReason: string | null = null): string {
    return this.frame({
      ...this.head(),
      choices: [{ index: 0, delta, logprobs: null, finish_reason: finishReason }],
      ...(this.opts.includeUsage ? { usage: null } : {}),
    });
  }

  private frame(body: Obj): string {
    return `data: ${JSON.stringify(body)}\n\n`;
  }
}
