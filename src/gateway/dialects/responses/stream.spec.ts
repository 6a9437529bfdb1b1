import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ResponseStream } from 'openai/lib/responses/ResponseStream';
import type { ResponseStreamEvent } from 'openai/resources/responses/responses';
import { Stream } from 'openai/streaming';
import type { CanonicalUsage, StreamEvent } from '@/gateway/dialects/canonical';
import {
  ResponsesStreamDecoder,
  ResponsesStreamEncoder,
  STREAM_ENDED_EARLY,
} from '@/gateway/dialects/responses/stream';
import { byteByByte, prng, randomCuts, splitAt } from '@/gateway/dialects/shared/chunking.testing';

// Wire JSON is read and checked field by field; typing every event shape here adds nothing.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Obj = Record<string, any>;

const FIXTURES = join(
  __dirname,
  '..',
  '..',
  '..',
  '..',
  'test',
  'fixtures',
  'dialects',
  'responses',
);
const CASES = ['text', 'parallel-tool-calls', 'thinking', 'image-input'] as const;

const streamBytes = (name: string): Buffer => readFileSync(join(FIXTURES, `${name}.stream.sse`));
const responseJson = (name: string): Obj =>
  JSON.parse(readFileSync(join(FIXTURES, `${name}.response.json`), 'utf8')) as Obj;

// ------------------------------------------------------------------------------------------------
// Chunking

function decode(chunks: Buffer[]): StreamEvent[] {
  const decoder = new ResponsesStreamDecoder();
  const out: StreamEvent[] = [];
  for (const c of chunks) {
    out.push(...decoder.push(c));
  }
  out.push(...decoder.end());
  return out;
}

const decodeText = (text: string): StreamEvent[] => decode([Buffer.from(text, 'utf8')]);

const CREATED = 1752681735;

function encode(
  events: StreamEvent[],
  encoder = new ResponsesStreamEncoder({ created: CREATED }),
): string {
  return events.map((e) => encoder.encode(e)).join('');
}

// ------------------------------------------------------------------------------------------------
// Rebuilding a response from events

interface Rebuilt {
  id?: string;
  model?: string;
  parts: Obj[];
  stopReason?: string;
  usage?: CanonicalUsage;
  error?: { message: string; errorType?: string };
}

/** Reassembles canonical events, asserting the canonical block discipline along the way. */
function rebuild(events: StreamEvent[]): Rebuilt {
  const out: Rebuilt = { parts: [] };
  const blocks = new Map<number, { part: Obj; args: string; stopped: boolean }>();
  const block = (index: number, type: string) => {
    const b = blocks.get(index);
    if (!b || b.stopped || b.part.type !== type) {
      throw new Error(`event for block ${index} (${type}) outside an open block of that type`);
    }
    return b;
  };
  const open = (index: number, part: Obj) => {
    if (index !== blocks.size) {
      throw new Error(`block ${index} started out of order`);
    }
    blocks.set(index, { part, args: '', stopped: false });
    out.parts.push(part);
  };
  for (const e of events) {
    if (out.error || out.stopReason) {
      throw new Error(`event ${e.type} after the end of the stream`);
    }
    switch (e.type) {
      case 'message_start':
        out.id = e.id;
        out.model = e.model;
        break;
      case 'text_start':
        open(e.index, { type: 'text', text: '' });
        break;
      case 'thinking_start':
        open(e.index, { type: 'thinking', text: '' });
        break;
      case 'tool_call_start':
        open(e.index, { type: 'tool_call', id: e.id, name: e.name });
        break;
      case 'text_delta':
        block(e.index, 'text').part.text += e.text;
        break;
      case 'thinking_delta':
        block(e.index, 'thinking').part.text += e.text;
        break;
      case 'thinking_signature':
        throw new Error('no signature expected from a Responses stream');
      case 'tool_call_delta':
        block(e.index, 'tool_call').args += e.argumentsDelta;
        break;
      case 'block_stop': {
        const b = blocks.get(e.index);
        if (!b || b.stopped) {
          throw new Error(`block_stop for block ${e.index} that is not open`);
        }
        b.stopped = true;
        if (b.part.type === 'tool_call') {
          b.part.input = JSON.parse(b.args);
        }
        break;
      }
      case 'message_stop':
        if ([...blocks.values()].some((b) => !b.stopped)) {
          throw new Error('message_stop with a block still open');
        }
        out.stopReason = e.stopReason;
        out.usage = e.usage;
        break;
      case 'error':
        out.error = { message: e.message, errorType: e.errorType };
        break;
    }
  }
  return out;
}

/** The same shape as `rebuild`, read straight from a non-stream response fixture. */
function fromFixture(body: Obj): Rebuilt {
  const u = body.usage as Obj;
  const cached = u.input_tokens_details.cached_tokens as number;
  const parts = (body.output as Obj[]).map((item) => {
    switch (item.type) {
      case 'reasoning':
        return {
          type: 'thinking',
          text: (item.summary as Obj[]).map((s) => s.text as string).join('\n\n'),
        };
      case 'message':
        return { type: 'text', text: (item.content as Obj[]).map((c) => c.text).join('') };
      default:
        return {
          type: 'tool_call',
          id: item.call_id,
          name: item.name,
          input: JSON.parse(item.arguments as string),
        };
    }
  });
  return {
    model: body.model as string,
    parts,
    stopReason: parts.some((p) => p.type === 'tool_call') ? 'tool_calls' : 'stop',
    usage: {
      inputTokens: (u.input_tokens as number) - cached,
      outputTokens: u.output_tokens as number,
      cacheReadTokens: cached,
      cacheCreationTokens: 0,
      reasoningTokens: u.output_tokens_details.reasoning_tokens as number,
    },
  };
}

// ------------------------------------------------------------------------------------------------
// The Responses SSE grammar

interface Frame {
  event: string;
  data: Obj;
}

function frames(text: string): Frame[] {
  expect(text.endsWith('\n\n')).toBe(true);
  return text
    .slice(0, -2)
    .split('\n\n')
    .map((f) => {
      const lines = f.split('\n');
      expect(lines).toHaveLength(2);
      expect(lines[0]).toMatch(/^event: [a-z_.]+$/);
      expect(lines[1]).toMatch(/^data: \{/);
      return { event: lines[0].slice(7), data: JSON.parse(lines[1].slice(6)) as Obj };
    });
}

interface GItem {
  type: string;
  id: string;
  name?: string;
  acc: string;
  parts: { acc: string; done: boolean }[];
  done?: Obj;
}

const TERMINAL = ['response.completed', 'response.incomplete', 'response.failed'];

/**
 * Checks a Responses SSE transcript against the grammar the API follows: every event name equals
 * its data's `type`; `sequence_number` is 0, 1, 2…; `response.created` then
 * `response.in_progress` first; items announced by `output_item.added` with output_index 0, 1,
 * 2…, then their parts, deltas and `*.done` events (each done with the whole accumulated text or
 * arguments), then `output_item.done` after all of that; one terminal event last:
 * `response.completed` / `response.incomplete` (every item done, `response.output` = the done
 * items, usage present) or, after an `error` event, `response.failed`. Throws a descriptive Error
 * on the first violation.
 */
function checkGrammar(
  text: string,
  ending: 'response.completed' | 'response.incomplete' | 'response.failed',
): void {
  const fail = (i: number, why: string): never => {
    throw new Error(`event #${i}: ${why}`);
  };
  const items: GItem[] = [];
  let last = '';
  let sawError = false;
  const item = (i: number, d: Obj, type: string): GItem => {
    const it = items[d.output_index as number] as GItem | undefined;
    if (!it) {
      return fail(
        i,
        `${d.type as string} for output ${String(d.output_index)} before its output_item.added`,
      );
    }
    if (it.done) {
      return fail(
        i,
        `${d.type as string} for output ${d.output_index as number} after its output_item.done`,
      );
    }
    if (it.type !== type) {
      return fail(i, `${d.type as string} on a ${it.type} item`);
    }
    if (d.item_id !== it.id) {
      return fail(i, `item_id ${String(d.item_id)} is not ${it.id}`);
    }
    return it;
  };
  const part = (i: number, it: GItem, k: unknown) => {
    const p = it.parts[k as number];
    if (!p || p.done) {
      return fail(i, `part ${String(k)} of ${it.id} is not open`);
    }
    return p;
  };
  frames(text).forEach(({ event, data: d }, i) => {
    if (d.type !== event) {
      fail(i, `event name ${event} but data type ${String(d.type)}`);
    }
    if (d.sequence_number !== i) {
      fail(i, `sequence_number ${String(d.sequence_number)}, expected ${i}`);
    }
    if (TERMINAL.includes(last)) {
      fail(i, `${event} after ${last}`);
    }
    if (i === 0 && event !== 'response.created') {
      fail(i, `${event} before response.created`);
    }
    if (i === 1 && event !== 'response.in_progress') {
      fail(i, `${event} instead of response.in_progress`);
    }
    if (sawError && event !== 'response.failed') {
      fail(i, `${event} after error`);
    }
    switch (event) {
      case 'response.created':
      case 'response.in_progress':
        if (i > 1 || d.response.status !== 'in_progress' || d.response.output.length !== 0) {
          fail(i, `${event} must open the stream with an empty in-progress response`);
        }
        if (!String(d.response.id).startsWith('resp_') || d.response.object !== 'response') {
          fail(i, `${event} without a resp_ response`);
        }
        break;
      case 'response.output_item.added': {
        const it = d.item as Obj;
        if (d.output_index !== items.length) {
          fail(i, `output_index ${d.output_index as number}, expected ${items.length}`);
        }
        if (!['message', 'function_call', 'reasoning'].includes(it.type as string)) {
          fail(i, `unknown item type ${String(it.type)}`);
        }
        if (typeof it.id !== 'string' || it.id === '') {
          fail(i, 'item without id');
        }
        if (it.type === 'function_call' && (!it.call_id || !it.name || it.arguments !== '')) {
          fail(i, 'function_call added without call_id and name, or with arguments');
        }
        items.push({
          type: it.type as string,
          id: it.id as string,
          name: it.name as string,
          acc: '',
          parts: [],
        });
        break;
      }
      case 'response.content_part.added':
      case 'response.reasoning_summary_part.added': {
        const it = item(i, d, event === 'response.content_part.added' ? 'message' : 'reasoning');
        const k = event === 'response.content_part.added' ? d.content_index : d.summary_index;
        if (k !== it.parts.length || d.part.text !== '') {
          fail(i, `part ${String(k)} added out of order or not empty`);
        }
        it.parts.push({ acc: '', done: false });
        break;
      }
      case 'response.output_text.delta':
        part(i, item(i, d, 'message'), d.content_index).acc += d.delta as string;
        break;
      case 'response.reasoning_summary_text.delta':
        part(i, item(i, d, 'reasoning'), d.summary_index).acc += d.delta as string;
        break;
      case 'response.output_text.done':
      case 'response.reasoning_summary_text.done': {
        const msg = event === 'response.output_text.done';
        const p = part(
          i,
          item(i, d, msg ? 'message' : 'reasoning'),
          msg ? d.content_index : d.summary_index,
        );
        if (d.text !== p.acc) {
          fail(i, `${event} text differs from its deltas`);
        }
        break;
      }
      case 'response.content_part.done':
      case 'response.reasoning_summary_part.done': {
        const msg = event === 'response.content_part.done';
        const p = part(
          i,
          item(i, d, msg ? 'message' : 'reasoning'),
          msg ? d.content_index : d.summary_index,
        );
        if (d.part.text !== p.acc) {
          fail(i, `${event} part text differs from its deltas`);
        }
        p.done = true;
        break;
      }
      case 'response.function_call_arguments.delta':
        item(i, d, 'function_call').acc += d.delta as string;
        break;
      case 'response.function_call_arguments.done': {
        const it = item(i, d, 'function_call');
        if (d.arguments !== it.acc || d.name !== it.name) {
          fail(i, 'function_call_arguments.done differs from its deltas');
        }
        break;
      }
      case 'response.output_item.done': {
        const it = items[d.output_index as number] as GItem | undefined;
        if (!it || it.done) {
          fail(i, `output_item.done for output ${String(d.output_index)} which is not open`);
        }
        const doneItem = d.item as Obj;
        if (doneItem.id !== it!.id || doneItem.type !== it!.type) {
          fail(i, 'output_item.done for another item');
        }
        if (it!.parts.some((p) => !p.done)) {
          fail(i, 'output_item.done before its parts are done');
        }
        const texts = it!.parts.map((p) => p.acc);
        if (
          it!.type === 'message' &&
          (doneItem.content as Obj[]).map((c) => c.text).join('|') !== texts.join('|')
        ) {
          fail(i, 'message item text differs from its deltas');
        }
        if (
          it!.type === 'reasoning' &&
          (doneItem.summary as Obj[]).map((c) => c.text).join('|') !== texts.join('|')
        ) {
          fail(i, 'reasoning item summary differs from its deltas');
        }
        if (it!.type === 'function_call' && doneItem.arguments !== it!.acc) {
          fail(i, 'function_call item arguments differ from its deltas');
        }
        it!.done = doneItem;
        break;
      }
      case 'response.completed':
      case 'response.incomplete': {
        const r = d.response as Obj;
        if (items.some((it) => !it.done)) {
          fail(i, `${event} with an item still open`);
        }
        if (r.status !== (event === 'response.completed' ? 'completed' : 'incomplete')) {
          fail(i, `${event} with status ${String(r.status)}`);
        }
        expect(r.output).toEqual(items.map((it) => it.done));
        if (
          typeof r.usage?.input_tokens !== 'number' ||
          typeof r.usage?.output_tokens !== 'number'
        ) {
          fail(i, `${event} without usage`);
        }
        break;
      }
      case 'error':
        if (typeof d.message !== 'string' || !('code' in d)) {
          fail(i, 'error without code and message');
        }
        sawError = true;
        break;
      case 'response.failed':
        if (d.response.status !== 'failed' || typeof d.response.error?.message !== 'string') {
          fail(i, 'response.failed without a failed status and its error');
        }
        break;
      default:
        fail(i, `unknown event ${event}`);
    }
    last = event;
  });
  if (last !== ending) {
    throw new Error(`stream ends with ${last}, expected ${ending}`);
  }
}

const eventTypes = (text: string): string[] => frames(text).map((f) => f.event);

/** Parses SSE text the way the official SDK parses an HTTP response. */
async function readWithSdk(text: string): Promise<ResponseStreamEvent[]> {
  const out: ResponseStreamEvent[] = [];
  for await (const e of Stream.fromSSEResponse<ResponseStreamEvent>(
    new Response(text),
    new AbortController(),
  )) {
    out.push(e);
  }
  return out;
}

// ------------------------------------------------------------------------------------------------

describe(ResponsesStreamDecoder.name, () => {
  describe.each(CASES)('golden stream %s', (name) => {
    const whole = () => decode([streamBytes(name)]);

    it('gives the same events byte by byte as whole', () => {
      expect(decode(byteByByte(streamBytes(name)))).toStrictEqual(whole());
    });

    it('gives the same events at 200 seeded random split points', () => {
      const buf = streamBytes(name);
      expect(decode(splitAt(buf, randomCuts(prng(200), buf.length, 200)))).toStrictEqual(whole());
    });

    it('gives the same events over 200 seeded random chunkings', () => {
      const rand = prng(name.length * 7919);
      const buf = streamBytes(name);
      const expected = whole();
      for (let trial = 0; trial < 200; trial++) {
        const cuts = randomCuts(rand, buf.length, 1 + Math.floor(rand() * 40));
        expect(decode(splitAt(buf, cuts))).toStrictEqual(expected);
      }
    });

    it('gives the same events with CRLF, lone CR line ends and keep-alive comments', () => {
      const text = streamBytes(name).toString('utf8');
      expect(decode(byteByByte(Buffer.from(text.replace(/\n/g, '\r\n'))))).toStrictEqual(whole());
      expect(decode([Buffer.from(text.replace(/\n/g, '\r'))])).toStrictEqual(whole());
      const withComments = text.replace(/\n\n/g, '\n\n: keep-alive\n\n');
      expect(withComments).not.toBe(text);
      expect(decode(byteByByte(Buffer.from(withComments)))).toStrictEqual(whole());
    });

    it('rebuilds the non-stream response: text, reasoning summary, tool args, stop, usage', () => {
      const { id, ...rest } = rebuild(whole());
      expect(id).toMatch(/^resp_/);
      expect(rest).toStrictEqual(fromFixture(responseJson(name)));
    });
  });

  it('decodes text.stream.sse into message_start, one text block and message_stop with usage', () => {
    const events = decode([streamBytes('text')]);
    expect(events[0]).toStrictEqual({
      type: 'message_start',
      id: 'resp_68779a1a2b3c81908d4e6f80a1b2c3d4',
      model: 'gpt-4.1-2025-04-14',
    });
    expect(events[1]).toStrictEqual({ type: 'text_start', index: 0 });
    expect(events.slice(2, -2).every((e) => e.type === 'text_delta' && e.index === 0)).toBe(true);
    expect(events.slice(-2)).toStrictEqual([
      { type: 'block_stop', index: 0 },
      {
        type: 'message_stop',
        stopReason: 'stop',
        usage: rebuild(events).usage,
      },
    ]);
  });

  it('passes tool argument pieces on as they arrive, keyed by output_index, ids from call_id', () => {
    const events = decode([streamBytes('parallel-tool-calls')]);
    const starts = events.filter((e) => e.type === 'tool_call_start');
    expect(starts).toStrictEqual([
      {
        type: 'tool_call_start',
        index: 1,
        id: 'call_Qm4Rk8Tz2Xw6Vb1Ny9Lc5Hs3',
        name: 'get_weather',
      },
      { type: 'tool_call_start', index: 2, id: 'call_Jd7Fp0Gu3Yh8Ko2Mt6Wa1Zq4', name: 'get_time' },
    ]);
    const wire = frames(streamBytes('parallel-tool-calls').toString('utf8'))
      .filter((f) => f.event === 'response.function_call_arguments.delta')
      .map((f) => ({ index: f.data.output_index as number, piece: f.data.delta as string }));
    const pieces = events
      .filter((e) => e.type === 'tool_call_delta')
      .map((e) => ({ index: e.index, piece: e.argumentsDelta }));
    expect(pieces).toStrictEqual(wire);
    expect(pieces.length).toBeGreaterThan(10);
  });

  it('carries no encrypted_content in the stream: no signature, no redacted start', () => {
    const events = decode([streamBytes('thinking')]);
    expect(events).toContainEqual({ type: 'thinking_start', index: 0 });
    expect(events.some((e) => e.type === 'thinking_signature')).toBe(false);
    expect(JSON.stringify(events)).not.toContain('gAAAAAB');
  });

  it('joins reasoning summary parts with a blank line, as the non-stream side does', () => {
    const sse = [
      'event: response.created',
      'data: {"type":"response.created","response":{"id":"resp_1","model":"o4-mini","output":[]}}',
      '',
      'data: {"type":"response.output_item.added","output_index":0,"item":{"id":"rs_1","type":"reasoning","summary":[]}}',
      '',
      'data: {"type":"response.reasoning_summary_part.added","output_index":0,"summary_index":0,"part":{"type":"summary_text","text":""}}',
      '',
      'data: {"type":"response.reasoning_summary_text.delta","output_index":0,"summary_index":0,"delta":"A"}',
      '',
      'data: {"type":"response.reasoning_summary_part.added","output_index":0,"summary_index":1,"part":{"type":"summary_text","text":""}}',
      '',
      'data: {"type":"response.reasoning_summary_text.delta","output_index":0,"summary_index":1,"delta":"B"}',
      '',
      'data: {"type":"response.output_item.done","output_index":0,"item":{"id":"rs_1","type":"reasoning","summary":[{"type":"summary_text","text":"A"},{"type":"summary_text","text":"B"}]}}',
      '',
      'data: {"type":"response.completed","response":{"id":"resp_1","status":"completed","output":[]}}',
      '',
      '',
    ].join('\n');
    expect(decodeText(sse)).toStrictEqual([
      { type: 'message_start', id: 'resp_1', model: 'o4-mini' },
      { type: 'thinking_start', index: 0 },
      { type: 'thinking_delta', index: 0, text: 'A' },
      { type: 'thinking_delta', index: 0, text: '\n\n' },
      { type: 'thinking_delta', index: 0, text: 'B' },
      { type: 'block_stop', index: 0 },
      { type: 'message_stop', stopReason: 'stop' },
    ]);
  });

  it('passes on whole items from a server that sends no deltas, and items never announced', () => {
    const sse = [
      'data: {"type":"response.output_item.done","output_index":0,"item":{"type":"message","content":[{"type":"output_text","text":"Hi"}]}}',
      '',
      'data: {"type":"response.output_item.added","output_index":1,"item":{"type":"function_call","call_id":"call_1","name":"f","arguments":""}}',
      '',
      'data: {"type":"response.function_call_arguments.delta","output_index":1,"delta":"{\\"a\\""}',
      '',
      'data: {"type":"response.function_call_arguments.done","output_index":1,"arguments":"{\\"a\\":1}"}',
      '',
      'data: {"type":"response.output_item.done","output_index":1,"item":{"type":"function_call","call_id":"call_1","name":"f","arguments":"{\\"a\\":1}"}}',
      '',
      'data: {"type":"response.output_text.delta","output_index":2,"content_index":0,"delta":"late"}',
      '',
      'data: {"type":"response.completed","response":{"status":"completed","output":[],"usage":{"input_tokens":5,"input_tokens_details":{"cached_tokens":2},"output_tokens":3,"output_tokens_details":{"reasoning_tokens":1},"total_tokens":8}}}',
      '',
    ].join('\n');
    expect(decodeText(sse)).toStrictEqual([
      { type: 'message_start', id: '', model: '' },
      { type: 'text_start', index: 0 },
      { type: 'text_delta', index: 0, text: 'Hi' },
      { type: 'block_stop', index: 0 },
      { type: 'tool_call_start', index: 1, id: 'call_1', name: 'f' },
      { type: 'tool_call_delta', index: 1, argumentsDelta: '{"a"' },
      { type: 'tool_call_delta', index: 1, argumentsDelta: ':1}' },
      { type: 'block_stop', index: 1 },
      { type: 'text_start', index: 2 },
      { type: 'text_delta', index: 2, text: 'late' },
      { type: 'block_stop', index: 2 },
      {
        type: 'message_stop',
        stopReason: 'tool_calls',
        usage: {
          inputTokens: 3,
          outputTokens: 3,
          cacheReadTokens: 2,
          cacheCreationTokens: 0,
          reasoningTokens: 1,
        },
      },
    ]);
  });

  it('skips built-in tool items and their events', () => {
    const sse = [
      'data: {"type":"response.created","response":{"id":"resp_1","model":"m"}}',
      '',
      'data: {"type":"response.output_item.added","output_index":0,"item":{"id":"ws_1","type":"web_search_call","status":"in_progress"}}',
      '',
      'data: {"type":"response.web_search_call.searching","output_index":0,"item_id":"ws_1"}',
      '',
      'data: {"type":"response.output_item.done","output_index":0,"item":{"id":"ws_1","type":"web_search_call","status":"completed"}}',
      '',
      'data: {"type":"response.output_item.added","output_index":1,"item":{"id":"msg_1","type":"message","content":[]}}',
      '',
      'data: {"type":"response.output_text.delta","output_index":1,"content_index":0,"delta":"Found it."}',
      '',
      'data: {"type":"response.completed","response":{"status":"completed"}}',
      '',
    ].join('\n');
    expect(rebuild(decodeText(sse)).parts).toStrictEqual([{ type: 'text', text: 'Found it.' }]);
  });

  it.each([
    ['max_output_tokens', 'length'],
    ['content_filter', 'content_filter'],
  ])('ends a response.incomplete with reason %s as %s', (reason, stop) => {
    const text = streamBytes('text')
      .toString('utf8')
      .replace(/response\.completed/g, 'response.incomplete')
      .replace(/"status":"completed","background"/, '"status":"incomplete","background"')
      .replace(
        /"incomplete_details":null,"instructions":"You are a concise geography assistant.","max_output_tokens":1024,"max_tool_calls":null,"model":"gpt-4.1-2025-04-14","output":\[\{/,
        (m) =>
          m.replace('"incomplete_details":null', `"incomplete_details":{"reason":"${reason}"}`),
      );
    expect(text).toContain(`{"reason":"${reason}"}`);
    const events = decodeText(text);
    expect(events.at(-1)).toMatchObject({ type: 'message_stop', stopReason: stop });
  });

  it('turns an error event into an error with its code, and nothing after it', () => {
    const decoder = new ResponsesStreamDecoder();
    const head = streamBytes('text').toString('utf8').split('\n\n').slice(0, 6).join('\n\n');
    const events = decoder.push(
      Buffer.from(
        `${head}\n\nevent: error\ndata: {"type":"error","code":"server_error","message":"The server had an error","param":null,"sequence_number":6}\n\n` +
          'event: response.failed\ndata: {"type":"response.failed","response":{"status":"failed","error":{"code":"server_error","message":"again"}},"sequence_number":7}\n\n',
      ),
    );
    expect(events.at(-1)).toStrictEqual({
      type: 'error',
      message: 'The server had an error',
      errorType: 'server_error',
    });
    expect(events.filter((e) => e.type === 'error')).toHaveLength(1);
    expect(events.some((e) => e.type === 'message_stop')).toBe(false);
    expect(decoder.push(streamBytes('text'))).toStrictEqual([]);
    expect(decoder.end()).toStrictEqual([]);
  });

  it('turns response.failed into an error with the response error', () => {
    const events = decodeText(
      'event: response.failed\ndata: {"type":"response.failed","response":{"id":"resp_1","status":"failed","error":{"code":"rate_limit_exceeded","message":"Slow down"}}}\n\n',
    );
    expect(events).toStrictEqual([
      { type: 'error', message: 'Slow down', errorType: 'rate_limit_exceeded' },
    ]);
  });

  it('ends a stream cut before response.completed with an error, at every cut point, never throwing', () => {
    const buf = streamBytes('parallel-tool-calls');
    const marker = 'event: response.completed\n';
    const completedAt = buf.indexOf(marker);
    // The completed event counts once its data line is whole (a last event may lack its blank line).
    const complete = buf.length - 2;
    for (let cut = 0; cut < buf.length; cut++) {
      const events = decode([buf.subarray(0, cut)]);
      const lastEvent = events[events.length - 1];
      if (cut >= complete) {
        expect(lastEvent.type).toBe('message_stop');
      } else {
        expect(lastEvent.type).toBe('error');
        expect(events.filter((e) => e.type === 'error')).toHaveLength(1);
      }
    }
    const beforeCompleted = decode([buf.subarray(0, completedAt)]);
    expect(beforeCompleted.at(-1)).toStrictEqual({ type: 'error', message: STREAM_ENDED_EARLY });
    expect(decode([])).toStrictEqual([{ type: 'error', message: STREAM_ENDED_EARLY }]);
    expect(decodeText('data: [DONE]\n\n')).toStrictEqual([
      { type: 'error', message: STREAM_ENDED_EARLY },
    ]);
  });

  it('keeps the event name of a CRLF line split between chunks, for data without a type', () => {
    const sse = Buffer.from(
      'event: response.created\r\ndata: {"response":{"id":"resp_1","model":"m"}}\r\n\r\n' +
        'event: response.output_item.added\r\ndata: {"output_index":0,"item":{"type":"message"}}\r\n\r\n' +
        'event: response.output_text.delta\r\ndata: {"output_index":0,"delta":"ok"}\r\n\r\n' +
        'event: response.completed\r\ndata: {"response":{"status":"completed"}}\r\n\r\n',
    );
    const expected: StreamEvent[] = [
      { type: 'message_start', id: 'resp_1', model: 'm' },
      { type: 'text_start', index: 0 },
      { type: 'text_delta', index: 0, text: 'ok' },
      { type: 'block_stop', index: 0 },
      { type: 'message_stop', stopReason: 'stop' },
    ];
    expect(decode([sse])).toStrictEqual(expected);
    expect(decode(byteByByte(sse))).toStrictEqual(expected);
  });

  it('answers malformed event data with an error event instead of throwing', () => {
    const events = decodeText(
      'event: response.created\ndata: {"type":"response.created",\n\nevent: response.in_progress\ndata: {}\n\n',
    );
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ type: 'error' });
    expect(decodeText('data: [1,2]\n\n')).toMatchObject([{ type: 'error' }]);
  });
});

describe(ResponsesStreamEncoder.name, () => {
  it('the grammar checker accepts every golden stream and rejects broken orders', () => {
    for (const name of CASES) {
      expect(() =>
        checkGrammar(streamBytes(name).toString('utf8'), 'response.completed'),
      ).not.toThrow();
    }
    const text = streamBytes('parallel-tool-calls').toString('utf8');
    const firstDone = /event: response\.output_item\.done\ndata: [^\n]*\n\n/.exec(text)!;
    const withoutFirstDone = text.replace(firstDone[0], '');
    expect(() => checkGrammar(withoutFirstDone, 'response.completed')).toThrow(/sequence_number/);
    const renumbered = frames(withoutFirstDone)
      .map(
        (f, i) =>
          `event: ${f.event}\ndata: ${JSON.stringify({ ...f.data, sequence_number: i })}\n\n`,
      )
      .join('');
    expect(() => checkGrammar(renumbered, 'response.completed')).toThrow(
      /item still open|differs|expected/,
    );
    expect(() =>
      checkGrammar(
        text.replace('"output_index":2,"item"', '"output_index":3,"item"'),
        'response.completed',
      ),
    ).toThrow(/output_index 3, expected 2/);
    expect(() =>
      checkGrammar(
        text.replace('event: response.completed\n', 'event: response.done\n'),
        'response.completed',
      ),
    ).toThrow(/event name/);
    expect(() =>
      checkGrammar(text.replace('"delta":"Paris"', '"delta":"London"'), 'response.completed'),
    ).toThrow(/differ/);
  });

  describe.each(CASES)('golden stream %s', (name) => {
    const events = () => decode([streamBytes(name)]);

    it('re-encodes the decoded events in the exact grammar and event order of the API', () => {
      const original = streamBytes(name).toString('utf8');
      const text = encode(events());
      checkGrammar(text, 'response.completed');
      expect(eventTypes(text)).toStrictEqual(eventTypes(original));
    });

    it('ends with response.completed carrying the whole response: output items and usage', () => {
      const original = frames(streamBytes(name).toString('utf8')).at(-1)!.data.response as Obj;
      const done = frames(encode(events())).at(-1)!.data.response as Obj;
      expect(done).toMatchObject({
        id: original.id,
        object: 'response',
        created_at: CREATED,
        status: 'completed',
        model: original.model,
        usage: original.usage,
        error: null,
        incomplete_details: null,
      });
      // Item ids are the gateway's own; encrypted_content is not carried by the canonical stream.
      const strip = (items: Obj[]) =>
        items.map(({ id: _id, encrypted_content: _e, ...rest }) => rest);
      expect(strip(done.output as Obj[])).toEqual(strip(original.output as Obj[]));
    });

    it('decodes its own output back into the same events, however it is split', () => {
      const decoded = events();
      const text = Buffer.from(encode(decoded));
      expect(decode([text])).toStrictEqual(decoded);
      expect(decode(byteByByte(text))).toStrictEqual(decoded);
      const rand = prng(42);
      for (let trial = 0; trial < 20; trial++) {
        expect(decode(splitAt(text, randomCuts(rand, text.length, 25)))).toStrictEqual(decoded);
      }
    });

    it('is read by the official openai SDK: same event types, and its accumulator rebuilds the response', async () => {
      const text = encode(events());
      const sdkEvents = await readWithSdk(text);
      expect(sdkEvents.map((e) => e.type)).toStrictEqual(eventTypes(text));

      const final = await ResponseStream.fromReadableStream(
        Stream.fromSSEResponse<ResponseStreamEvent>(
          new Response(text),
          new AbortController(),
        ).toReadableStream(),
      ).finalResponse();
      const want = fromFixture(responseJson(name));
      expect(final.output_text).toBe(
        want.parts
          .filter((p) => p.type === 'text')
          .map((p) => p.text as string)
          .join(''),
      );
      expect(
        final.output.flatMap((o) =>
          o.type === 'function_call'
            ? [{ name: o.name, input: JSON.parse(o.arguments) as unknown }]
            : [],
        ),
      ).toEqual(
        want.parts
          .filter((p) => p.type === 'tool_call')
          .map((p) => ({ name: p.name, input: p.input })),
      );
    });
  });

  it('numbers every event from 0, strictly increasing, across a whole stream', () => {
    const text = encode(decode([streamBytes('thinking')]));
    const seqs = frames(text).map((f) => f.data.sequence_number as number);
    expect(seqs).toStrictEqual(seqs.map((_, i) => i));
  });

  it('fills in response.created, item starts and stops that the canonical stream left out', () => {
    const encoder = new ResponsesStreamEncoder({ id: 'chatcmpl-abc', model: 'gpt-4o', created: 7 });
    const text = encode(
      [
        { type: 'thinking_delta', index: 0, text: 'hmm' },
        { type: 'text_delta', index: 1, text: 'Hello' },
        { type: 'text_delta', index: 1, text: ' there' },
        { type: 'tool_call_start', index: 2, id: 'call_1', name: 'f' },
        { type: 'tool_call_delta', index: 2, argumentsDelta: '{"a":' },
        { type: 'tool_call_delta', index: 2, argumentsDelta: '1}' },
        { type: 'message_stop', stopReason: 'tool_calls' },
      ],
      encoder,
    );
    checkGrammar(text, 'response.completed');
    const created = frames(text)[0].data.response as Obj;
    expect(created).toMatchObject({ id: 'resp_abc', model: 'gpt-4o', created_at: 7 });
    const rebuilt = rebuild(decodeText(text));
    expect(rebuilt.parts).toStrictEqual([
      { type: 'thinking', text: 'hmm' },
      { type: 'text', text: 'Hello there' },
      { type: 'tool_call', id: 'call_1', name: 'f', input: { a: 1 } },
    ]);
    expect(rebuilt.stopReason).toBe('tool_calls');
  });

  it('closes a text item when the next block starts, keeps tool calls apart, makes no item for an empty block', () => {
    const text = encode([
      { type: 'message_start', id: 'resp_1', model: 'm' },
      { type: 'thinking_start', index: 0, redacted: 'QU5USFJPUElD' },
      { type: 'thinking_signature', index: 0, signature: 'sig' },
      { type: 'block_stop', index: 0 },
      { type: 'text_start', index: 1 },
      { type: 'text_delta', index: 1, text: 'Calling.' },
      { type: 'tool_call_start', index: 2, id: 'call_a', name: 'a' },
      { type: 'tool_call_start', index: 3, id: 'call_b', name: 'b' },
      { type: 'tool_call_delta', index: 3, argumentsDelta: '{"b":' },
      { type: 'tool_call_delta', index: 2, argumentsDelta: '{"a":1}' },
      { type: 'tool_call_delta', index: 3, argumentsDelta: '2}' },
      { type: 'block_stop', index: 2 },
      { type: 'block_stop', index: 3 },
      { type: 'block_stop', index: 1 },
      {
        type: 'message_stop',
        stopReason: 'tool_calls',
        usage: {
          inputTokens: 1,
          outputTokens: 2,
          cacheReadTokens: 0,
          cacheCreationTokens: 0,
          reasoningTokens: 0,
        },
      },
    ]);
    checkGrammar(text, 'response.completed');
    // Another provider's signature or redacted data never shows up as encrypted_content.
    expect(text).not.toContain('QU5USFJPUElD');
    expect(text).not.toContain('encrypted_content');
    const types = eventTypes(text);
    expect(types.indexOf('response.output_item.done')).toBeLessThan(
      types.indexOf('response.function_call_arguments.delta'),
    );
    expect(rebuild(decodeText(text)).parts).toStrictEqual([
      { type: 'text', text: 'Calling.' },
      { type: 'tool_call', id: 'call_a', name: 'a', input: { a: 1 } },
      { type: 'tool_call', id: 'call_b', name: 'b', input: { b: 2 } },
    ]);
  });

  it.each([
    ['length', 'response.incomplete', { reason: 'max_output_tokens' }],
    ['content_filter', 'response.incomplete', { reason: 'content_filter' }],
    ['stop', 'response.completed', null],
  ] as const)('writes stop reason %s as %s', (reason, event, details) => {
    const text = encode([
      { type: 'message_start', id: 'resp_1', model: 'm' },
      { type: 'text_delta', index: 0, text: 'partial' },
      {
        type: 'message_stop',
        stopReason: reason,
        usage: {
          inputTokens: 7,
          outputTokens: 3,
          cacheReadTokens: 2,
          cacheCreationTokens: 1,
          reasoningTokens: 1,
        },
      },
    ]);
    checkGrammar(text, event);
    const last = frames(text).at(-1)!.data.response as Obj;
    expect(last.incomplete_details).toEqual(details);
    expect(last.usage).toEqual({
      input_tokens: 10,
      input_tokens_details: { cached_tokens: 2 },
      output_tokens: 3,
      output_tokens_details: { reasoning_tokens: 1 },
      total_tokens: 13,
    });
    expect(decodeText(text).at(-1)).toMatchObject({ type: 'message_stop', stopReason: reason });
  });

  it('ends a generation that stopped with an error with error and response.failed, never completed', () => {
    const text = encode([
      { type: 'message_start', id: 'resp_1', model: 'm' },
      { type: 'text_delta', index: 0, text: 'partial' },
      { type: 'message_stop', stopReason: 'error' },
    ]);
    checkGrammar(text, 'response.failed');
    expect(text).not.toContain('response.completed');
  });

  it('writes an error event then response.failed, and nothing after it', async () => {
    const encoder = new ResponsesStreamEncoder({ created: 1 });
    let text = encoder.encode({ type: 'message_start', id: 'resp_1', model: 'm' });
    text += encoder.encode({ type: 'text_delta', index: 0, text: 'Hel' });
    const tail = encoder.encode({
      type: 'error',
      message: 'Overloaded',
      errorType: 'overloaded_error',
    });
    text += tail;
    checkGrammar(text, 'response.failed');
    expect(frames(tail).map((f) => f.data)).toStrictEqual([
      {
        type: 'error',
        code: 'overloaded_error',
        message: 'Overloaded',
        param: null,
        sequence_number: 5,
      },
      {
        type: 'response.failed',
        response: expect.objectContaining({
          id: 'resp_1',
          status: 'failed',
          error: { code: 'overloaded_error', message: 'Overloaded' },
        }) as Obj,
        sequence_number: 6,
      },
    ]);
    expect(encoder.encode({ type: 'text_delta', index: 0, text: 'more' })).toBe('');
    expect(encoder.encode({ type: 'message_stop', stopReason: 'stop' })).toBe('');
    expect(encoder.abort('late')).toBe('');
    // The SDK yields both events (neither carries a top-level `error` field it would throw on).
    expect((await readWithSdk(text)).map((e) => e.type).slice(-2)).toStrictEqual([
      'error',
      'response.failed',
    ]);
    expect(decodeText(text).at(-1)).toStrictEqual({
      type: 'error',
      message: 'Overloaded',
      errorType: 'overloaded_error',
    });
  });

  it('aborts with error and response.failed, once, and not after a completed response', () => {
    const encoder = new ResponsesStreamEncoder({ created: 1 });
    const head = encoder.encode({ type: 'message_start', id: 'resp_1', model: 'm' });
    const aborted = encoder.abort('upstream went away');
    checkGrammar(head + aborted, 'response.failed');
    expect(frames(aborted)[0].data).toMatchObject({
      type: 'error',
      code: 'server_error',
      message: 'upstream went away',
    });
    expect(encoder.abort('again')).toBe('');

    const fresh = new ResponsesStreamEncoder({ id: 'resp_x', created: 1 });
    const only = fresh.abort('nothing came');
    checkGrammar(only, 'response.failed');

    const done = new ResponsesStreamEncoder();
    encode(decode([streamBytes('text')]), done);
    expect(done.abort('too late')).toBe('');
  });
});
