/**
 * Ollama chat streams (NDJSON: one JSON object per `\n`-terminated line) ⇄ canonical stream events.
 *
 * Grammar (ollama.com docs, `api/types.go`): every line is a chat object with `done: false` and a
 * piece of `message.content` or `message.thinking`, or whole `message.tool_calls` (arguments as
 * objects, usually one call per line); the last line has `done: true`, `done_reason` and the
 * counts (`prompt_eval_count`, `eval_count`, durations). A failure is a line `{"error": "…"}`.
 * There is no id, no start line and no terminator besides the `done` line.
 */
import { StringDecoder } from 'node:string_decoder';
import {
  EMPTY_USAGE,
  type CanonicalUsage,
  type StopReason,
  type StreamDecoder,
  type StreamEncoder,
  type StreamEvent,
} from '@/gateway/dialects/canonical';
import {
  argumentsObject,
  fromDoneReason,
  fromOllamaUsage,
  isObj,
  ollamaDoneReason,
  toOllamaMetrics,
  type Obj,
} from '@/gateway/dialects/ollama/common';
import { ollamaMessageParts } from '@/gateway/dialects/ollama/response';

export const STREAM_ENDED_EARLY = 'upstream stream ended before completion';

// ------------------------------------------------------------------------------------------------
// Decoder: upstream NDJSON bytes → canonical events

/**
 * Decodes an Ollama NDJSON stream, whatever the chunking (a UTF-8 character or a `\r\n` split
 * across chunks, a last line without its newline). Text and thinking pieces extend the open block
 * of their kind (another kind closes it); each tool call is a block of its own, opened, given its
 * whole arguments as one delta and closed at once. Calls without an id get `call_<n>`, n counting
 * the calls of the stream, as in the non-stream mapper. `message_stop` comes from the `done: true`
 * line; an `{"error"}` line, a line that is not a JSON object, or the end of the bytes before
 * `done` is an `error` event. Never throws.
 */
export class OllamaStreamDecoder implements StreamDecoder {
  private readonly utf8 = new StringDecoder('utf8');
  private buf = '';
  private started = false;
  /** `message_stop` or `error` was emitted: nothing follows. */
  private finished = false;
  private nextBlock = 0;
  private open: { kind: 'text' | 'thinking'; index: number } | undefined;
  private calls = 0;

  push(chunk: Buffer): StreamEvent[] {
    const out: StreamEvent[] = [];
    if (this.finished) {
      return out;
    }
    this.guard(out, () => {
      this.buf += this.utf8.write(chunk);
      this.lines(out, false);
    });
    return out;
  }

  end(): StreamEvent[] {
    const out: StreamEvent[] = [];
    if (this.finished) {
      return out;
    }
    this.guard(out, () => {
      this.buf += this.utf8.end();
      this.lines(out, true);
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

  private lines(out: StreamEvent[], final: boolean): void {
    const buf = this.buf;
    let start = 0;
    for (let nl = buf.indexOf('\n'); nl >= 0 && !this.finished; nl = buf.indexOf('\n', start)) {
      this.line(buf.slice(start, nl), out);
      start = nl + 1;
    }
    this.buf = this.finished ? '' : buf.slice(start);
    if (final && !this.finished && this.buf !== '') {
      const last = this.buf;
      this.buf = '';
      this.line(last, out);
    }
  }

  private line(raw: string, out: StreamEvent[]): void {
    const text = raw.trim(); // `\r` of a CRLF line end, blank lines
    if (text === '') {
      return;
    }
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch {
      this.fail(
        out,
        `malformed upstream line: ${text.length > 60 ? `${text.slice(0, 57)}...` : text}`,
      );
      return;
    }
    if (!isObj(value)) {
      this.fail(out, 'malformed upstream line: not a JSON object');
      return;
    }
    this.object(value, out);
  }

  private object(o: Obj, out: StreamEvent[]): void {
    if (o.error !== undefined && o.error !== null) {
      const err = o.error;
      const message = typeof err === 'string' ? err : isObj(err) ? err.message : undefined;
      this.fail(out, typeof message === 'string' && message ? message : 'upstream error');
      return;
    }
    if (!this.started) {
      this.started = true;
      out.push({
        type: 'message_start',
        id: '',
        model: typeof o.model === 'string' ? o.model : '',
      });
    }
    const message = isObj(o.message) ? o.message : {};
    for (const part of ollamaMessageParts(message, this.calls)) {
      if (part.type === 'tool_call') {
        this.close(out);
        const index = this.nextBlock++;
        this.calls++;
        out.push(
          { type: 'tool_call_start', index, id: part.id, name: part.name },
          { type: 'tool_call_delta', index, argumentsDelta: part.arguments },
          { type: 'block_stop', index },
        );
      } else {
        const index = this.block(part.type, out);
        out.push(
          part.type === 'text'
            ? { type: 'text_delta', index, text: part.text }
            : { type: 'thinking_delta', index, text: part.text },
        );
      }
    }
    if (o.done === true) {
      this.close(out);
      this.finished = true;
      out.push({
        type: 'message_stop',
        stopReason: fromDoneReason(o.done_reason, this.calls > 0),
        usage: fromOllamaUsage(o),
      });
    }
  }

  /** The open block of this kind, or a new one (closing the open block of the other kind). */
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

  private fail(out: StreamEvent[], message: string): void {
    if (this.finished) {
      return;
    }
    this.finished = true;
    out.push({ type: 'error', message });
  }
}

// ------------------------------------------------------------------------------------------------
// Encoder: canonical events → Ollama NDJSON for the client

export interface OllamaStreamEncoderOptions {
  /** The model name written on every line (the client's); else the `message_start` model. */
  model?: string;
  /** Clock for `created_at` (tests pin it). */
  now?: () => Date;
}

interface PendingCall {
  id: string;
  name: string;
  args: string;
  /** Position among the tool calls of the message (Ollama `function.index`). */
  order: number;
}

/**
 * Canonical events → Ollama NDJSON lines: a line per text or thinking delta, a line per tool call
 * written whole when its block stops (argument deltas are buffered per block, so interleaved calls
 * stay apart; calls never stopped are written at `message_stop`), then the `done: true` line with
 * `done_reason` and the counts of the usage. Errors are an `{"error": "…"}` line with nothing
 * after, which Ollama clients raise; so is a `message_stop` whose reason is `error` (never closed
 * as if it had completed).
 */
export class OllamaStreamEncoder implements StreamEncoder {
  private finished = false;
  private model: string;
  private readonly now: () => Date;
  private readonly calls = new Map<number, PendingCall>();
  private callCount = 0;
  private startUsage: Partial<CanonicalUsage> = {};

  constructor(opts: OllamaStreamEncoderOptions = {}) {
    this.model = opts.model ?? '';
    this.now = opts.now ?? (() => new Date());
  }

  encode(event: StreamEvent): string {
    if (this.finished) {
      return '';
    }
    switch (event.type) {
      case 'message_start':
        if (this.model === '') {
          this.model = event.model;
        }
        this.startUsage = event.usage ?? {};
        return '';
      case 'text_start':
      case 'thinking_start':
      case 'thinking_signature':
        return '';
      case 'text_delta':
        return event.text ? this.line({ role: 'assistant', content: event.text }) : '';
      case 'thinking_delta':
        return event.text
          ? this.line({ role: 'assistant', content: '', thinking: event.text })
          : '';
      case 'tool_call_start':
        if (!this.calls.has(event.index)) {
          this.calls.set(event.index, {
            id: event.id,
            name: event.name,
            args: '',
            order: this.callCount++,
          });
        }
        return '';
      case 'tool_call_delta': {
        const call = this.calls.get(event.index);
        if (call) {
          call.args += event.argumentsDelta;
        }
        return '';
      }
      case 'block_stop': {
        const call = this.calls.get(event.index);
        if (!call) {
          return '';
        }
        this.calls.delete(event.index);
        return this.toolLine(call);
      }
      case 'message_stop':
        return this.stop(event.stopReason, event.usage);
      case 'error':
        return this.error(event.message);
    }
  }

  abort(message: string): string {
    return this.finished ? '' : this.error(message);
  }

  private stop(reason: StopReason, usage: CanonicalUsage | undefined): string {
    let out = '';
    for (const call of [...this.calls.values()].sort((a, b) => a.order - b.order)) {
      out += this.toolLine(call);
    }
    this.calls.clear();
    if (reason === 'error') {
      return out + this.error('The upstream ended the response with an error');
    }
    this.finished = true;
    const u = usage ?? { ...EMPTY_USAGE, ...this.startUsage };
    return (
      out +
      this.frame({
        model: this.model,
        created_at: this.now().toISOString(),
        message: { role: 'assistant', content: '' },
        done: true,
        done_reason: ollamaDoneReason(reason),
        ...toOllamaMetrics(u),
      })
    );
  }

  private toolLine(call: PendingCall): string {
    return this.line({
      role: 'assistant',
      content: '',
      tool_calls: [
        {
          id: call.id,
          function: { index: call.order, name: call.name, arguments: argumentsObject(call.args) },
        },
      ],
    });
  }

  private line(message: Obj): string {
    return this.frame({
      model: this.model,
      created_at: this.now().toISOString(),
      message,
      done: false,
    });
  }

  private error(message: string): string {
    this.finished = true;
    return this.frame({ error: message });
  }

  private frame(body: Obj): string {
    return `${JSON.stringify(body)}\n`;
  }
}
