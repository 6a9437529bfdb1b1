/**
 * Anthropic Messages streams (`event: <type>\ndata: {…}\n\n`) ⇄ canonical stream events.
 *
 * Grammar (docs.anthropic.com/en/api/messages-streaming): `message_start`, then per content block
 * `content_block_start` (index 0, 1, 2… in output order) → `content_block_delta`… →
 * `content_block_stop`, one block at a time; then `message_delta` (stop reason, cumulative usage)
 * and `message_stop`. `ping` may appear anywhere; `error` ends a failed stream.
 */
import {
  fromAnthropicStopReason,
  anthropicMessageId,
  toAnthropicStopReason,
} from '@/gateway/dialects/anthropic/response';
import { anthropicToolId } from '@/gateway/dialects/anthropic/request';
import {
  EMPTY_USAGE,
  type CanonicalUsage,
  type StopReason,
  type StreamDecoder,
  type StreamEncoder,
  type StreamEvent,
} from '@/gateway/dialects/canonical';
import { isObj, str, optNum, type Obj } from '@/gateway/dialects/shared/values';
import { SseReader } from '@/gateway/dialects/shared/sse';

export const STREAM_ENDED_EARLY = 'upstream stream ended before completion';

type BlockKind = 'text' | 'thinking' | 'tool' | 'ignored';

// ------------------------------------------------------------------------------------------------
// Decoder: upstream Anthropic SSE bytes → canonical events

/**
 * Decodes an Anthropic SSE stream, whatever the chunking (UTF-8 characters split across chunks,
 * CRLF split across chunks). Never throws: a malformed event becomes an `error` event.
 */
export class AnthropicStreamDecoder implements StreamDecoder {
  private readonly sse = new SseReader<StreamEvent[]>((name, data, out) => {
    this.dispatch(name, data, out);
    return this.done;
  });
  private done = false;

  private id = '';
  private model = '';
  private usage: CanonicalUsage = { ...EMPTY_USAGE };
  private stopReason: StopReason = 'stop';
  private stopSequence: string | undefined;
  /** Anthropic block index → canonical index and kind. */
  private readonly blocks = new Map<number, { index: number; kind: BlockKind }>();
  private nextIndex = 0;

  push(chunk: Buffer): StreamEvent[] {
    if (this.done) {
      return [];
    }
    const out: StreamEvent[] = [];
    this.sse.push(chunk, out);
    return out;
  }

  end(): StreamEvent[] {
    if (this.done) {
      return [];
    }
    const out: StreamEvent[] = [];
    this.sse.end(out); // a last event without its blank line included
    if (!this.done) {
      this.done = true;
      out.push({ type: 'error', message: STREAM_ENDED_EARLY });
    }
    return out;
  }

  private dispatch(name: string, data: string, out: StreamEvent[]): void {
    if (data === '' || this.done) {
      return;
    }
    let payload: unknown;
    try {
      payload = JSON.parse(data);
    } catch {
      this.fail(out, `malformed upstream event ${JSON.stringify(name || 'message')}`);
      return;
    }
    if (!isObj(payload)) {
      this.fail(out, 'malformed upstream event');
      return;
    }
    try {
      this.event(typeof payload.type === 'string' ? payload.type : name, payload, out);
    } catch (e) {
      this.fail(out, `undecodable upstream event: ${e instanceof Error ? e.message : String(e)}`);
    }
  }

  private fail(out: StreamEvent[], message: string, errorType?: string): void {
    const event: StreamEvent = { type: 'error', message };
    if (errorType !== undefined) {
      event.errorType = errorType;
    }
    out.push(event);
    this.done = true;
  }

  private event(type: string, p: Obj, out: StreamEvent[]): void {
    switch (type) {
      case 'message_start': {
        const msg = isObj(p.message) ? p.message : {};
        this.id = str(msg.id);
        this.model = str(msg.model);
        const u = isObj(msg.usage) ? msg.usage : {};
        const usage: Partial<CanonicalUsage> = {};
        this.mergeUsage(u, usage);
        out.push({ type: 'message_start', id: this.id, model: this.model, usage });
        return;
      }
      case 'content_block_start':
        this.blockStart(p, out);
        return;
      case 'content_block_delta':
        this.blockDelta(p, out);
        return;
      case 'content_block_stop': {
        const block = this.blocks.get(optNum(p.index) ?? -1);
        if (block && block.kind !== 'ignored') {
          out.push({ type: 'block_stop', index: block.index });
        }
        return;
      }
      case 'message_delta': {
        const delta = isObj(p.delta) ? p.delta : {};
        if (delta.stop_reason !== undefined && delta.stop_reason !== null) {
          this.stopReason = fromAnthropicStopReason(delta.stop_reason);
        }
        if (typeof delta.stop_sequence === 'string') {
          this.stopSequence = delta.stop_sequence;
        }
        if (isObj(p.usage)) {
          this.mergeUsage(p.usage);
        }
        return;
      }
      case 'message_stop': {
        const event: StreamEvent = {
          type: 'message_stop',
          stopReason: this.stopReason,
          usage: { ...this.usage },
        };
        if (this.stopSequence !== undefined) {
          event.stopSequence = this.stopSequence;
        }
        out.push(event);
        this.done = true;
        return;
      }
      case 'error': {
        const err = isObj(p.error) ? p.error : {};
        this.fail(out, str(err.message) || 'upstream error', str(err.type) || undefined);
        return;
      }
      default:
        // ping and event types this mapper does not know
        return;
    }
  }

  /** Copies the usage fields present in `u` into the running total (and into `also`). */
  private mergeUsage(u: Obj, also?: Partial<CanonicalUsage>): void {
    const fields: [string, keyof CanonicalUsage][] = [
      ['input_tokens', 'inputTokens'],
      ['output_tokens', 'outputTokens'],
      ['cache_read_input_tokens', 'cacheReadTokens'],
      ['cache_creation_input_tokens', 'cacheCreationTokens'],
    ];
    for (const [wire, key] of fields) {
      const v = optNum(u[wire]);
      if (v !== undefined) {
        this.usage[key] = v;
        if (also) {
          also[key] = v;
        }
      }
    }
  }

  private open(wireIndex: number, kind: BlockKind): number {
    const index = kind === 'ignored' ? -1 : this.nextIndex++;
    this.blocks.set(wireIndex, { index, kind });
    return index;
  }

  private blockStart(p: Obj, out: StreamEvent[]): void {
    const wireIndex = optNum(p.index) ?? this.blocks.size;
    const block = isObj(p.content_block) ? p.content_block : {};
    switch (block.type) {
      case 'text': {
        const index = this.open(wireIndex, 'text');
        out.push({ type: 'text_start', index });
        if (str(block.text) !== '') {
          out.push({ type: 'text_delta', index, text: str(block.text) });
        }
        return;
      }
      case 'thinking': {
        const index = this.open(wireIndex, 'thinking');
        out.push({ type: 'thinking_start', index });
        if (str(block.thinking) !== '') {
          out.push({ type: 'thinking_delta', index, text: str(block.thinking) });
        }
        if (str(block.signature) !== '') {
          out.push({ type: 'thinking_signature', index, signature: str(block.signature) });
        }
        return;
      }
      case 'redacted_thinking': {
        const index = this.open(wireIndex, 'thinking');
        out.push({ type: 'thinking_start', index, redacted: str(block.data) });
        return;
      }
      case 'tool_use': {
        const index = this.open(wireIndex, 'tool');
        out.push({ type: 'tool_call_start', index, id: str(block.id), name: str(block.name) });
        if (isObj(block.input) && Object.keys(block.input).length > 0) {
          out.push({ type: 'tool_call_delta', index, argumentsDelta: JSON.stringify(block.input) });
        }
        return;
      }
      default:
        // server_tool_use, web_search_tool_result…: no canonical place, skipped with their deltas.
        this.open(wireIndex, 'ignored');
        return;
    }
  }

  private blockDelta(p: Obj, out: StreamEvent[]): void {
    const wireIndex = optNum(p.index) ?? -1;
    const delta = isObj(p.delta) ? p.delta : {};
    let block = this.blocks.get(wireIndex);
    const implicit = (kind: 'text' | 'thinking'): { index: number; kind: BlockKind } => {
      // A delta without its content_block_start: open the block it implies.
      const index = this.open(wireIndex, kind);
      out.push(kind === 'text' ? { type: 'text_start', index } : { type: 'thinking_start', index });
      return { index, kind };
    };
    switch (delta.type) {
      case 'text_delta':
        block ??= implicit('text');
        if (block.kind === 'text') {
          out.push({ type: 'text_delta', index: block.index, text: str(delta.text) });
        }
        return;
      case 'thinking_delta':
        block ??= implicit('thinking');
        if (block.kind === 'thinking') {
          out.push({ type: 'thinking_delta', index: block.index, text: str(delta.thinking) });
        }
        return;
      case 'signature_delta':
        block ??= implicit('thinking');
        if (block.kind === 'thinking') {
          out.push({
            type: 'thinking_signature',
            index: block.index,
            signature: str(delta.signature),
          });
        }
        return;
      case 'input_json_delta':
        if (block?.kind === 'tool') {
          out.push({
            type: 'tool_call_delta',
            index: block.index,
            argumentsDelta: str(delta.partial_json),
          });
        }
        return;
      default:
        // citations_delta and unknown deltas
        return;
    }
  }
}

// ------------------------------------------------------------------------------------------------
// Encoder: canonical events → Anthropic SSE for the client

type EncKind = 'text' | 'thinking' | 'redacted' | 'tool';

interface EncBlock {
  kind: EncKind;
  /** The `content_block` of `content_block_start`. */
  start: Obj;
  /** Deltas waiting for the block to be written (it is queued behind another block). */
  pending: Obj[];
  /** Anthropic index once written. */
  wire?: number;
  /** A `block_stop` (or the end of the message) arrived. */
  stopped: boolean;
  closed: boolean;
}

function sse(type: string, data: Obj): string {
  return `event: ${type}\ndata: ${JSON.stringify({ type, ...data })}\n\n`;
}

function errorEvent(errorType: string, message: string): string {
  return sse('error', { error: { type: errorType, message } });
}

/**
 * Encodes canonical events as an Anthropic SSE stream in the exact grammar: blocks are written one
 * at a time and numbered 0, 1, 2… in output order. Missing `message_start`, `*_start` or
 * `block_stop` events are filled in. A text or thinking block is closed when another block starts;
 * a tool_use block stays open until its `block_stop` (its arguments may still come), and blocks that
 * start meanwhile are held back and written after it.
 */
export class AnthropicStreamEncoder implements StreamEncoder {
  private started = false;
  private finished = false;
  private nextWire = 0;
  private current: EncBlock | undefined;
  private readonly queue: EncBlock[] = [];
  private readonly blocks = new Map<number, EncBlock>();
  private startUsage: Partial<CanonicalUsage> = {};

  /** `fallback` names the message when the canonical stream has no `message_start`. */
  constructor(private readonly fallback: { id?: string; model?: string } = {}) {}

  encode(event: StreamEvent): string {
    if (this.finished) {
      return '';
    }
    switch (event.type) {
      case 'message_start':
        if (this.started) {
          return '';
        }
        this.startUsage = event.usage ?? {};
        return this.messageStart(event.id, event.model);
      case 'text_start':
        return (
          this.ensureStarted() + this.startBlock(event.index, 'text', { type: 'text', text: '' })
        );
      case 'thinking_start':
        return (
          this.ensureStarted() +
          (event.redacted !== undefined
            ? this.startBlock(event.index, 'redacted', {
                type: 'redacted_thinking',
                data: event.redacted,
              })
            : this.startBlock(event.index, 'thinking', {
                type: 'thinking',
                thinking: '',
                signature: '',
              }))
        );
      case 'tool_call_start':
        return (
          this.ensureStarted() +
          this.startBlock(event.index, 'tool', {
            type: 'tool_use',
            id: anthropicToolId(event.id),
            name: event.name,
            input: {},
          })
        );
      case 'text_delta':
        return (
          this.ensureStarted() +
          this.delta(event.index, 'text', { type: 'text_delta', text: event.text })
        );
      case 'thinking_delta':
        return (
          this.ensureStarted() +
          this.delta(event.index, 'thinking', { type: 'thinking_delta', thinking: event.text })
        );
      case 'thinking_signature':
        return (
          this.ensureStarted() +
          this.delta(event.index, 'thinking', {
            type: 'signature_delta',
            signature: event.signature,
          })
        );
      case 'tool_call_delta':
        return (
          this.ensureStarted() +
          this.delta(event.index, 'tool', {
            type: 'input_json_delta',
            partial_json: event.argumentsDelta,
          })
        );
      case 'block_stop': {
        const block = this.blocks.get(event.index);
        if (!block || block.stopped) {
          return '';
        }
        block.stopped = true;
        return this.pump();
      }
      case 'message_stop':
        return this.messageStop(event.stopReason, event.stopSequence, event.usage);
      case 'error':
        this.finished = true;
        return errorEvent(event.errorType ?? 'api_error', event.message);
    }
  }

  abort(message: string): string {
    if (this.finished) {
      return '';
    }
    this.finished = true;
    return errorEvent('api_error', message);
  }

  private messageStart(id: string, model: string): string {
    this.started = true;
    const u = this.startUsage;
    return sse('message_start', {
      message: {
        id: anthropicMessageId(id),
        type: 'message',
        role: 'assistant',
        model,
        content: [],
        stop_reason: null,
        stop_sequence: null,
        usage: {
          input_tokens: u.inputTokens ?? 0,
          cache_creation_input_tokens: u.cacheCreationTokens ?? 0,
          cache_read_input_tokens: u.cacheReadTokens ?? 0,
          output_tokens: u.outputTokens ?? 0,
        },
      },
    });
  }

  private ensureStarted(): string {
    return this.started ? '' : this.messageStart(this.fallback.id ?? '', this.fallback.model ?? '');
  }

  private startBlock(index: number, kind: EncKind, start: Obj): string {
    const existing = this.blocks.get(index);
    if (existing && !existing.closed) {
      return ''; // a repeated start
    }
    const block: EncBlock = { kind, start, pending: [], stopped: false, closed: false };
    this.blocks.set(index, block);
    this.queue.push(block);
    return this.pump();
  }

  private delta(index: number, kind: 'text' | 'thinking' | 'tool', delta: Obj): string {
    let block = this.blocks.get(index);
    let out = '';
    if (!block || block.closed) {
      if (kind === 'tool') {
        return ''; // arguments for an unknown call: no id or name to write a tool_use with
      }
      // A delta without a start, or more text after its block was closed: a new block.
      out +=
        kind === 'text'
          ? this.startBlock(index, 'text', { type: 'text', text: '' })
          : this.startBlock(index, 'thinking', { type: 'thinking', thinking: '', signature: '' });
      block = this.blocks.get(index)!;
    }
    if (block.kind !== kind) {
      return out; // e.g. a thinking delta on a redacted block: nothing valid to write
    }
    if (block === this.current) {
      return out + this.writeDelta(block, delta);
    }
    block.pending.push(delta);
    return out;
  }

  private writeDelta(block: EncBlock, delta: Obj): string {
    return sse('content_block_delta', { index: block.wire, delta });
  }

  /** Writes what can be written: closes the current block when allowed, opens queued ones. */
  private pump(): string {
    let out = '';
    for (;;) {
      const cur = this.current;
      if (cur) {
        const yields = this.queue.length > 0 && cur.kind !== 'tool';
        if (!cur.stopped && !yields) {
          return out;
        }
        out += sse('content_block_stop', { index: cur.wire });
        cur.closed = true;
        cur.stopped = true;
        this.current = undefined;
        continue;
      }
      const next = this.queue.shift();
      if (!next) {
        return out;
      }
      next.wire = this.nextWire++;
      this.current = next;
      out += sse('content_block_start', { index: next.wire, content_block: next.start });
      for (const d of next.pending) {
        out += this.writeDelta(next, d);
      }
      next.pending = [];
    }
  }

  private messageStop(
    reason: StopReason,
    stopSequence: string | undefined,
    usage: CanonicalUsage | undefined,
  ): string {
    let out = this.ensureStarted();
    for (const b of this.blocks.values()) {
      b.stopped = true;
    }
    out += this.pump();
    this.finished = true;
    if (reason === 'error') {
      // Never close a failed generation as if it had completed.
      return out + errorEvent('api_error', 'The upstream ended the response with an error');
    }
    const u = usage ?? {
      ...EMPTY_USAGE,
      ...this.startUsage,
    };
    out += sse('message_delta', {
      delta: {
        stop_reason: toAnthropicStopReason(reason, stopSequence),
        stop_sequence: stopSequence ?? null,
      },
      usage: {
        input_tokens: u.inputTokens,
        cache_creation_input_tokens: u.cacheCreationTokens,
        cache_read_input_tokens: u.cacheReadTokens,
        output_tokens: u.outputTokens,
      },
    });
    return out + sse('message_stop', {});
  }
}
