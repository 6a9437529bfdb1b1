/**
 * OpenAI Responses streams (`event: <type>\ndata: {…, "sequence_number": n}\n\n`) ⇄ canonical
 * stream events.
 *
 * Grammar (developers.openai.com/docs/guides/streaming-responses, the openai-node types):
 * `response.created`, `response.in_progress`, then per output item, one after another,
 * `response.output_item.added` → the item's own events → `response.output_item.done`:
 *   message:       `content_part.added` → `output_text.delta`… → `output_text.done` →
 *                  `content_part.done`
 *   function_call: `function_call_arguments.delta`… → `function_call_arguments.done`
 *   reasoning:     (`reasoning_summary_part.added` → `reasoning_summary_text.delta`… →
 *                  `reasoning_summary_text.done` → `reasoning_summary_part.done`) per summary part
 * and finally `response.completed` (or `response.incomplete`) carrying the whole response; a failed
 * stream ends with `error` and/or `response.failed`. No `[DONE]`.
 *
 * Reasoning `encrypted_content` is NOT carried in the canonical stream. Stream events have no
 * `origin`, and the two places that could hold it are read by other encoders as their own:
 * `thinking_signature` becomes an Anthropic `signature_delta`, `thinking_start.redacted` an
 * Anthropic `redacted_thinking` block (which would also hide the summary text). An Anthropic client
 * would then send OpenAI's blob back to Anthropic, which refuses it. The blob only matters to a
 * Responses client, and Responses → Responses streams pass through untouched; the non-stream side
 * keeps it (`ThinkingPart.redacted`, origin `responses`).
 */
import {
  EMPTY_USAGE,
  type CanonicalUsage,
  type StopReason,
  type StreamDecoder,
  type StreamEncoder,
  type StreamEvent,
} from '@/gateway/dialects/canonical';
import { SseReader } from '@/gateway/dialects/shared/sse';
import { optNum } from '@/gateway/dialects/shared/values';
import {
  fromResponsesStatus,
  fromResponsesUsage,
  isObj,
  itemId,
  responsesId,
  STOPPED_WITH_ERROR,
  str,
  SUMMARY_SEPARATOR,
  toResponsesStatus,
  toResponsesUsage,
  type Obj,
} from '@/gateway/dialects/responses/common';
import {
  functionCallItem,
  messageItem,
  messageText,
  reasoningItem,
  reasoningThinking,
  responseObject,
} from '@/gateway/dialects/responses/response';

export const STREAM_ENDED_EARLY = 'upstream stream ended before completion';

// ------------------------------------------------------------------------------------------------
// Decoder: upstream Responses SSE bytes → canonical events

type ItemKind = 'text' | 'thinking' | 'tool' | 'ignored';

interface DecItem {
  kind: ItemKind;
  /** Canonical block index (-1 for ignored items). */
  index: number;
  open: boolean;
  /** Text, summary text or arguments passed on so far. */
  sent: string;
  /** Reasoning: the summary part being streamed (-1 before the first). */
  summaryIndex: number;
}

/**
 * Decodes a Responses SSE stream, whatever the chunking (UTF-8 characters and CRLF split across
 * chunks). Items are keyed by `output_index`: a message opens a text block, a function call a
 * tool-call block (id = `call_id`), a reasoning item a thinking block; other items (built-in tool
 * calls) are skipped with their events. `output_item.done` closes the block, first passing on
 * whatever its final text / arguments hold beyond the deltas (for servers that send whole items).
 * Reasoning summary parts are joined with a blank line, as on the non-stream side.
 * `response.completed` / `response.incomplete` end the stream with `message_stop`; `error` and
 * `response.failed` with `error`. Never throws: a malformed event becomes an `error` event.
 */
export class ResponsesStreamDecoder implements StreamDecoder {
  private readonly sse = new SseReader<StreamEvent[]>((name, data, out) => {
    this.dispatch(name, data, out);
    return this.done;
  });
  private done = false;

  private started = false;
  private readonly items = new Map<number, DecItem>();
  private nextIndex = 0;
  private sawToolCall = false;

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
      this.fail(out, STREAM_ENDED_EARLY);
    }
    return out;
  }

  private dispatch(name: string, data: string, out: StreamEvent[]): void {
    if (data === '' || this.done || data.trim() === '[DONE]') {
      return; // no [DONE] in this dialect; a compatible server that sends one still must complete
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
    if (errorType) {
      event.errorType = errorType;
    }
    out.push(event);
    this.done = true;
  }

  private event(type: string, p: Obj, out: StreamEvent[]): void {
    const outputIndex = optNum(p.output_index) ?? -1;
    switch (type) {
      case 'response.created':
      case 'response.in_progress':
      case 'response.queued':
        this.start(out, p.response);
        return;
      case 'response.output_item.added':
        this.start(out);
        if (isObj(p.item)) {
          this.openItem(outputIndex, p.item, out);
        }
        return;
      case 'response.output_text.delta':
      case 'response.refusal.delta':
        this.delta(outputIndex, 'text', str(p.delta), out);
        return;
      case 'response.function_call_arguments.delta':
        this.delta(outputIndex, 'tool', str(p.delta), out);
        return;
      case 'response.function_call_arguments.done': {
        const item = this.items.get(outputIndex);
        if (item?.kind === 'tool' && typeof p.arguments === 'string') {
          this.catchUp(item, p.arguments, out);
        }
        return;
      }
      case 'response.reasoning_summary_part.added':
      case 'response.reasoning_summary_text.delta': {
        const item = this.block(outputIndex, 'thinking', out);
        const k = optNum(p.summary_index) ?? 0;
        if (item && k !== item.summaryIndex) {
          if (item.summaryIndex >= 0) {
            this.emit(item, SUMMARY_SEPARATOR, out);
          }
          item.summaryIndex = k;
        }
        if (type === 'response.reasoning_summary_text.delta') {
          this.delta(outputIndex, 'thinking', str(p.delta), out);
        }
        return;
      }
      case 'response.reasoning_text.delta':
        this.delta(outputIndex, 'thinking', str(p.delta), out);
        return;
      case 'response.output_item.done':
        this.start(out);
        if (isObj(p.item)) {
          this.itemDone(outputIndex, p.item, out);
        }
        return;
      case 'response.completed':
      case 'response.incomplete':
        this.complete(type, isObj(p.response) ? p.response : {}, out);
        return;
      case 'response.failed': {
        const response = isObj(p.response) ? p.response : {};
        const err = isObj(response.error) ? response.error : {};
        this.fail(out, str(err.message) || 'upstream response failed', str(err.code));
        return;
      }
      case 'error': {
        // `{type: "error", code, message, param}`; some compatible servers nest an `error` object.
        const err = isObj(p.error) ? p.error : p;
        const code = str(err.code) || (err.type === 'error' ? '' : str(err.type));
        this.fail(out, str(err.message) || 'upstream error', code);
        return;
      }
      default:
        // content_part.*, output_text.done, reasoning_summary_*.done, built-in tool progress…
        return;
    }
  }

  private start(out: StreamEvent[], response?: unknown): void {
    if (this.started) {
      return;
    }
    this.started = true;
    const r = isObj(response) ? response : {};
    out.push({ type: 'message_start', id: str(r.id), model: str(r.model) });
  }

  private openItem(outputIndex: number, item: Obj, out: StreamEvent[]): DecItem {
    const existing = this.items.get(outputIndex);
    if (existing) {
      return existing; // a repeated added
    }
    const kind: ItemKind =
      item.type === 'message'
        ? 'text'
        : item.type === 'function_call'
          ? 'tool'
          : item.type === 'reasoning'
            ? 'thinking'
            : 'ignored';
    const state: DecItem = {
      kind,
      index: kind === 'ignored' ? -1 : this.nextIndex++,
      open: kind !== 'ignored',
      sent: '',
      summaryIndex: -1,
    };
    this.items.set(outputIndex, state);
    switch (kind) {
      case 'text':
        out.push({ type: 'text_start', index: state.index });
        break;
      case 'thinking':
        out.push({ type: 'thinking_start', index: state.index });
        break;
      case 'tool':
        this.sawToolCall = true;
        out.push({
          type: 'tool_call_start',
          index: state.index,
          id: str(item.call_id) || str(item.id) || `call_${state.index}`,
          name: str(item.name),
        });
        if (typeof item.arguments === 'string' && item.arguments !== '') {
          this.emit(state, item.arguments, out);
        }
        break;
      case 'ignored':
        break;
    }
    return state;
  }

  /**
   * The open block of this output item, opening a text or thinking block for deltas whose item
   * was never announced (a tool call cannot be opened without its id and name).
   */
  private block(outputIndex: number, kind: ItemKind, out: StreamEvent[]): DecItem | undefined {
    let item = this.items.get(outputIndex);
    if (!item && kind !== 'tool') {
      this.start(out);
      item = this.openItem(outputIndex, { type: kind === 'text' ? 'message' : 'reasoning' }, out);
    }
    return item && item.open && item.kind === kind ? item : undefined;
  }

  private delta(outputIndex: number, kind: ItemKind, piece: string, out: StreamEvent[]): void {
    const item = this.block(outputIndex, kind, out);
    if (item && piece !== '') {
      this.emit(item, piece, out);
    }
  }

  private emit(item: DecItem, piece: string, out: StreamEvent[]): void {
    item.sent += piece;
    switch (item.kind) {
      case 'text':
        out.push({ type: 'text_delta', index: item.index, text: piece });
        return;
      case 'thinking':
        out.push({ type: 'thinking_delta', index: item.index, text: piece });
        return;
      case 'tool':
        out.push({ type: 'tool_call_delta', index: item.index, argumentsDelta: piece });
        return;
      case 'ignored':
        return;
    }
  }

  /** Passes on the part of the final value the deltas did not carry (none when they differ). */
  private catchUp(item: DecItem, final: string, out: StreamEvent[]): void {
    if (item.open && final.length > item.sent.length && final.startsWith(item.sent)) {
      this.emit(item, final.slice(item.sent.length), out);
    }
  }

  private itemDone(outputIndex: number, item: Obj, out: StreamEvent[]): void {
    const state = this.items.get(outputIndex) ?? this.openItem(outputIndex, item, out);
    if (!state.open) {
      return;
    }
    switch (state.kind) {
      case 'text':
        this.catchUp(state, messageText(item), out);
        break;
      case 'thinking':
        this.catchUp(state, reasoningThinking(item).text, out);
        break;
      case 'tool':
        if (typeof item.arguments === 'string') {
          this.catchUp(state, item.arguments, out);
        }
        break;
      case 'ignored':
        return;
    }
    state.open = false;
    out.push({ type: 'block_stop', index: state.index });
  }

  private complete(type: string, response: Obj, out: StreamEvent[]): void {
    this.start(out, response);
    const open = [...this.items.values()].filter((i) => i.open).sort((a, b) => a.index - b.index);
    for (const item of open) {
      item.open = false;
      out.push({ type: 'block_stop', index: item.index });
    }
    const stopReason: StopReason = fromResponsesStatus(
      type === 'response.incomplete' ? 'incomplete' : 'completed',
      response.incomplete_details,
      this.sawToolCall,
    );
    const event: StreamEvent = { type: 'message_stop', stopReason };
    if (isObj(response.usage)) {
      event.usage = fromResponsesUsage(response.usage);
    }
    out.push(event);
    this.done = true;
  }
}

// ------------------------------------------------------------------------------------------------
// Encoder: canonical events → Responses SSE for the client

export interface ResponsesStreamEncoderOptions {
  /** Response id when the canonical stream has no `message_start` (else its id, as `resp_…`). */
  id?: string;
  model?: string;
  /** `created_at`, Unix seconds (default: now). */
  created?: number;
}

interface EncItem {
  kind: 'text' | 'thinking' | 'tool';
  outputIndex: number;
  id: string;
  /** Text, summary text or arguments so far. */
  text: string;
  /** Tool calls: call id and name. */
  callId: string;
  name: string;
  done: boolean;
}

/**
 * Encodes canonical events as a Responses SSE stream in the order the API uses, each event named
 * after its `type` and numbered by a strictly increasing `sequence_number` from 0:
 * `response.created` and `response.in_progress` first; an output item per block, opened with
 * `output_item.added` (+ `content_part.added` / `reasoning_summary_part.added`) when its first
 * text arrives (a block without text makes no item) or, for a tool call, at its start; deltas;
 * closed at `block_stop` with `output_text.done` → `content_part.done`,
 * `reasoning_summary_text.done` → `reasoning_summary_part.done` or
 * `function_call_arguments.done`, each with the whole text, then
 * `output_item.done`. A text or reasoning item still open when another block starts is closed
 * first, so items follow one another as the API sends them. Last comes `response.completed`
 * (`response.incomplete` for `length` / `content_filter`) with the whole response: the output items
 * and the usage (what `message_start` said, or zeros, when `message_stop` has none). An `error`
 * (or `abort()`) becomes an `error` event then `response.failed`.
 */
export class ResponsesStreamEncoder implements StreamEncoder {
  private seq = 0;
  private started = false;
  private finished = false;
  private id = '';
  private model = '';
  private readonly created: number;
  /** Canonical block index → item (once opened) or 'pending' (started, no text yet). */
  private readonly blocks = new Map<number, EncItem | 'pending'>();
  private readonly items: EncItem[] = [];
  private startUsage: Partial<CanonicalUsage> = {};

  constructor(private readonly opts: ResponsesStreamEncoderOptions = {}) {
    this.created = opts.created ?? Math.floor(Date.now() / 1000);
  }

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
        return this.start(event.id, event.model);
      case 'text_start':
      case 'thinking_start':
        // `thinking_start.redacted` is another provider's data: never shown as encrypted_content.
        return this.start() + this.begin(event.index);
      case 'thinking_signature':
        return this.start();
      case 'text_delta':
        return this.start() + this.textDelta(event.index, 'text', event.text);
      case 'thinking_delta':
        return this.start() + this.textDelta(event.index, 'thinking', event.text);
      case 'tool_call_start': {
        const existing = this.blocks.get(event.index);
        if (existing !== undefined && existing !== 'pending' && !existing.done) {
          return ''; // a repeated start
        }
        let out = this.start() + this.begin(event.index);
        const item = this.open(event.index, 'tool');
        item.callId = event.id;
        item.name = event.name;
        out += this.frame('response.output_item.added', {
          output_index: item.outputIndex,
          item: functionCallItem(
            item.id,
            { type: 'tool_call', id: item.callId, name: item.name, arguments: '' },
            'in_progress',
          ),
        });
        return out;
      }
      case 'tool_call_delta': {
        const item = this.blocks.get(event.index);
        if (item === undefined || item === 'pending' || item.kind !== 'tool' || item.done) {
          return ''; // arguments for an unknown call: no id or name to write an item with
        }
        if (event.argumentsDelta === '') {
          return '';
        }
        item.text += event.argumentsDelta;
        return this.frame('response.function_call_arguments.delta', {
          item_id: item.id,
          output_index: item.outputIndex,
          delta: event.argumentsDelta,
        });
      }
      case 'block_stop': {
        const item = this.blocks.get(event.index);
        if (item === 'pending') {
          this.blocks.delete(event.index); // a block without text: no item
          return '';
        }
        return item ? this.close(item) : '';
      }
      case 'message_stop':
        return this.stop(event.stopReason, event.usage);
      case 'error':
        return this.fail(event.errorType ?? 'server_error', event.message);
    }
  }

  abort(message: string): string {
    return this.finished ? '' : this.fail('server_error', message);
  }

  private frame(type: string, data: Obj): string {
    const body = { type, ...data, sequence_number: this.seq++ };
    return `event: ${type}\ndata: ${JSON.stringify(body)}\n\n`;
  }

  private snapshot(status: string, extra: Obj = {}): Obj {
    return responseObject(this.id, this.created, this.model, status, [], extra);
  }

  private start(id?: string, model?: string): string {
    if (this.started) {
      return '';
    }
    this.started = true;
    this.id = responsesId(id || this.opts.id || '');
    this.model = model || this.opts.model || '';
    return (
      this.frame('response.created', { response: this.snapshot('in_progress') }) +
      this.frame('response.in_progress', { response: this.snapshot('in_progress') })
    );
  }

  /** A block starts: text and reasoning items still open are done (items follow one another). */
  private begin(index: number): string {
    let out = '';
    const existing = this.blocks.get(index);
    for (const item of this.items) {
      if (!item.done && item.kind !== 'tool' && item !== existing) {
        out += this.close(item);
      }
    }
    if (existing === undefined || (existing !== 'pending' && existing.done)) {
      this.blocks.set(index, 'pending');
    }
    return out;
  }

  private open(index: number, kind: EncItem['kind']): EncItem {
    const outputIndex = this.items.length;
    const prefix = kind === 'text' ? 'msg' : kind === 'thinking' ? 'rs' : 'fc';
    const item: EncItem = {
      kind,
      outputIndex,
      id: itemId(prefix, this.id, outputIndex),
      text: '',
      callId: '',
      name: '',
      done: false,
    };
    this.items.push(item);
    this.blocks.set(index, item);
    return item;
  }

  private textDelta(index: number, kind: 'text' | 'thinking', text: string): string {
    if (text === '') {
      return '';
    }
    let out = '';
    let item = this.blocks.get(index);
    if (item !== undefined && item !== 'pending' && item.kind !== kind) {
      return ''; // e.g. text for a tool-call block: nothing valid to write
    }
    if (item === undefined || item === 'pending' || item.done) {
      // First text of the block (or more after it was closed): a new item.
      if (item !== 'pending') {
        out += this.begin(index);
      }
      item = this.open(index, kind);
      out += this.frame('response.output_item.added', {
        output_index: item.outputIndex,
        item:
          kind === 'text'
            ? {
                id: item.id,
                type: 'message',
                status: 'in_progress',
                content: [],
                role: 'assistant',
              }
            : { id: item.id, type: 'reasoning', summary: [] },
      });
      out +=
        kind === 'text'
          ? this.frame('response.content_part.added', {
              item_id: item.id,
              output_index: item.outputIndex,
              content_index: 0,
              part: { type: 'output_text', annotations: [], logprobs: [], text: '' },
            })
          : this.frame('response.reasoning_summary_part.added', {
              item_id: item.id,
              output_index: item.outputIndex,
              summary_index: 0,
              part: { type: 'summary_text', text: '' },
            });
    }
    item.text += text;
    return (
      out +
      (kind === 'text'
        ? this.frame('response.output_text.delta', {
            item_id: item.id,
            output_index: item.outputIndex,
            content_index: 0,
            delta: text,
            logprobs: [],
          })
        : this.frame('response.reasoning_summary_text.delta', {
            item_id: item.id,
            output_index: item.outputIndex,
            summary_index: 0,
            delta: text,
          }))
    );
  }

  /** The item's closing events, with its whole text / arguments. */
  private close(item: EncItem): string {
    if (item.done) {
      return '';
    }
    item.done = true;
    const ref = { item_id: item.id, output_index: item.outputIndex };
    switch (item.kind) {
      case 'text':
        return (
          this.frame('response.output_text.done', {
            ...ref,
            content_index: 0,
            text: item.text,
            logprobs: [],
          }) +
          this.frame('response.content_part.done', {
            ...ref,
            content_index: 0,
            part: { type: 'output_text', annotations: [], logprobs: [], text: item.text },
          }) +
          this.frame('response.output_item.done', {
            output_index: item.outputIndex,
            item: this.doneItem(item),
          })
        );
      case 'thinking':
        return (
          this.frame('response.reasoning_summary_text.done', {
            ...ref,
            summary_index: 0,
            text: item.text,
          }) +
          this.frame('response.reasoning_summary_part.done', {
            ...ref,
            summary_index: 0,
            part: { type: 'summary_text', text: item.text },
          }) +
          this.frame('response.output_item.done', {
            output_index: item.outputIndex,
            item: this.doneItem(item),
          })
        );
      case 'tool':
        return (
          this.frame('response.function_call_arguments.done', {
            ...ref,
            name: item.name,
            arguments: item.text,
          }) +
          this.frame('response.output_item.done', {
            output_index: item.outputIndex,
            item: this.doneItem(item),
          })
        );
    }
  }

  private doneItem(item: EncItem): Obj {
    switch (item.kind) {
      case 'text':
        return messageItem(item.id, item.text, 'completed');
      case 'thinking':
        return reasoningItem(item.id, { type: 'thinking', text: item.text });
      case 'tool':
        return functionCallItem(
          item.id,
          { type: 'tool_call', id: item.callId, name: item.name, arguments: item.text },
          'completed',
        );
    }
  }

  private stop(reason: StopReason, usage: CanonicalUsage | undefined): string {
    let out = this.start();
    for (const item of this.items) {
      out += this.close(item);
    }
    if (reason === 'error') {
      // Never close a failed generation as if it had completed.
      return out + this.fail(STOPPED_WITH_ERROR.code, STOPPED_WITH_ERROR.message);
    }
    this.finished = true;
    const output = this.items.map((item) => this.doneItem(item));
    const { status, incomplete_details } = toResponsesStatus(reason);
    return (
      out +
      this.frame(status === 'completed' ? 'response.completed' : 'response.incomplete', {
        response: responseObject(this.id, this.created, this.model, status, output, {
          incomplete_details,
          usage: toResponsesUsage(usage ?? { ...EMPTY_USAGE, ...this.startUsage }),
        }),
      })
    );
  }

  private fail(code: string, message: string): string {
    const out = this.start();
    this.finished = true;
    const output = this.items.filter((i) => i.done).map((item) => this.doneItem(item));
    return (
      out +
      this.frame('error', { code, message, param: null }) +
      this.frame('response.failed', {
        response: responseObject(this.id, this.created, this.model, 'failed', output, {
          error: { code, message },
        }),
      })
    );
  }
}
