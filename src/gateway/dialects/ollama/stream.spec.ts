import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { AnthropicStreamDecoder } from '@/gateway/dialects/anthropic/stream';
import { fromAnthropicResponse } from '@/gateway/dialects/anthropic/response';
import type {
  CanonicalResponse,
  CanonicalUsage,
  StopReason,
  StreamDecoder,
  StreamEvent,
} from '@/gateway/dialects/canonical';
import { fromOllamaResponse } from '@/gateway/dialects/ollama/response';
import {
  OllamaStreamDecoder,
  OllamaStreamEncoder,
  STREAM_ENDED_EARLY,
} from '@/gateway/dialects/ollama/stream';
import { fromOpenAiChatResponse } from '@/gateway/dialects/openai-chat/response';
import { OpenAiChatStreamDecoder } from '@/gateway/dialects/openai-chat/stream';
import { prng } from '@/gateway/dialects/shared/chunking.testing';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Obj = Record<string, any>;

const DIALECTS = join(__dirname, '..', '..', '..', '..', 'test', 'fixtures', 'dialects');
const CASES = ['text', 'parallel-tool-calls', 'thinking', 'image-input'] as const;

const ndjson = (name: string): Buffer =>
  readFileSync(join(DIALECTS, 'ollama', `${name}.stream.ndjson`));
const response = (name: string, dialect = 'ollama'): Obj =>
  JSON.parse(readFileSync(join(DIALECTS, dialect, `${name}.response.json`), 'utf8')) as Obj;

/** Decodes `bytes` pushed in pieces cut at `cuts` (byte offsets). */
function decode(
  bytes: Buffer,
  cuts: number[] = [],
  decoder: StreamDecoder = new OllamaStreamDecoder(),
): StreamEvent[] {
  const events: StreamEvent[] = [];
  let start = 0;
  for (const cut of [...cuts].sort((a, b) => a - b)) {
    events.push(...decoder.push(bytes.subarray(start, cut)));
    start = cut;
  }
  events.push(...decoder.push(bytes.subarray(start)));
  events.push(...decoder.end());
  return events;
}

const decodeText = (text: string): StreamEvent[] => decode(Buffer.from(text, 'utf8'));

function randomCuts(length: number, seed: number): number[] {
  const rand = prng(seed);
  const count = 1 + Math.floor(rand() * 40);
  return Array.from({ length: count }, () => Math.floor(rand() * (length + 1)));
}

const everyByte = (length: number): number[] => Array.from({ length: length - 1 }, (_, i) => i + 1);

interface Rebuilt {
  model: string;
  text: string;
  thinking: string;
  calls: { id: string; name: string; args: string }[];
  stopReason?: StopReason;
  usage?: CanonicalUsage;
  errors: string[];
}

/** What a client would rebuild from the events: deltas concatenated per block index. */
function rebuild(events: StreamEvent[]): Rebuilt {
  const r: Rebuilt = { model: '', text: '', thinking: '', calls: [], errors: [] };
  const calls = new Map<number, { id: string; name: string; args: string }>();
  for (const e of events) {
    switch (e.type) {
      case 'message_start':
        r.model = e.model;
        break;
      case 'text_delta':
        r.text += e.text;
        break;
      case 'thinking_delta':
        r.thinking += e.text;
        break;
      case 'tool_call_start':
        calls.set(e.index, { id: e.id, name: e.name, args: '' });
        break;
      case 'tool_call_delta':
        calls.get(e.index)!.args += e.argumentsDelta;
        break;
      case 'message_stop':
        r.stopReason = e.stopReason;
        r.usage = e.usage;
        break;
      case 'error':
        r.errors.push(e.message);
        break;
      case 'text_start':
      case 'thinking_start':
      case 'thinking_signature':
      case 'block_stop':
        break;
    }
  }
  r.calls = [...calls.entries()].sort(([a], [b]) => a - b).map(([, c]) => c);
  return r;
}

/** The rebuilt stream against a non-stream response: same text, thinking, calls, stop, usage. */
function expectSameAnswer(got: Rebuilt, want: CanonicalResponse): void {
  expect(got.errors).toEqual([]);
  expect(got.text).toBe(want.parts.flatMap((p) => (p.type === 'text' ? [p.text] : [])).join(''));
  expect(got.thinking).toBe(
    want.parts.flatMap((p) => (p.type === 'thinking' ? [p.text] : [])).join(''),
  );
  const wantCalls = want.parts.flatMap((p) => (p.type === 'tool_call' ? [p] : []));
  expect(got.calls.map((c) => c.name)).toEqual(wantCalls.map((c) => c.name));
  expect(got.calls.map((c) => JSON.parse(c.args) as unknown)).toEqual(
    wantCalls.map((c) => JSON.parse(c.arguments) as unknown),
  );
  expect(got.stopReason).toBe(want.stopReason);
}

/** Event-order rules every decoder output must follow. */
function expectWellFormed(events: StreamEvent[]): void {
  expect(events[0].type).toBe('message_start');
  const last = events.at(-1)!;
  expect(['message_stop', 'error']).toContain(last.type);
  expect(events.filter((e) => e.type === 'message_stop' || e.type === 'error')).toHaveLength(1);
  const started = new Set<number>();
  const stopped = new Set<number>();
  let next = 0;
  for (const e of events) {
    if (e.type === 'text_start' || e.type === 'thinking_start' || e.type === 'tool_call_start') {
      expect(e.index).toBe(next++);
      started.add(e.index);
    } else if (
      e.type === 'text_delta' ||
      e.type === 'thinking_delta' ||
      e.type === 'tool_call_delta'
    ) {
      expect(started.has(e.index) && !stopped.has(e.index)).toBe(true);
    } else if (e.type === 'block_stop') {
      expect(started.has(e.index) && !stopped.has(e.index)).toBe(true);
      stopped.add(e.index);
    }
  }
  if (last.type === 'message_stop') {
    expect([...stopped].sort()).toEqual([...started].sort());
  }
}

/** A chat line as Ollama writes it. */
function line(message: Obj, extra: Obj = {}): string {
  return `${JSON.stringify({
    model: 'qwen3:8b',
    created_at: '2025-07-16T16:05:01.831770567Z',
    message: { role: 'assistant', ...message },
    done: false,
    ...extra,
  })}\n`;
}

function doneLine(reason = 'stop', extra: Obj = {}): string {
  return line(
    { content: '' },
    {
      done: true,
      done_reason: reason,
      total_duration: 5,
      load_duration: 1,
      prompt_eval_count: 10,
      prompt_eval_duration: 2,
      eval_count: 3,
      eval_duration: 2,
      ...extra,
    },
  );
}

const USAGE_10_3: CanonicalUsage = {
  inputTokens: 10,
  outputTokens: 3,
  cacheReadTokens: 0,
  cacheCreationTokens: 0,
  reasoningTokens: 0,
};

describe(OllamaStreamDecoder.name, () => {
  describe.each(CASES)('on the %s fixture', (name) => {
    const bytes = ndjson(name);
    const whole = decode(bytes);

    it('gives well-ordered events that rebuild the non-stream response', () => {
      expectWellFormed(whole);
      const got = rebuild(whole);
      const want = fromOllamaResponse(response(name));
      expectSameAnswer(got, want);
      expect(got.calls.map((c) => c.id)).toEqual(
        want.parts.flatMap((p) => (p.type === 'tool_call' ? [p.id] : [])),
      );
      expect(got.usage).toEqual(want.usage);
      expect(got.model).toBe(want.model);
      expect(whole[0]).toEqual({ type: 'message_start', id: '', model: want.model });
    });

    it('gives the same events when fed byte by byte', () => {
      expect(decode(bytes, everyByte(bytes.length))).toEqual(whole);
    });

    it('gives the same events for 200 seeded random splits', () => {
      for (let seed = 1; seed <= 200; seed++) {
        expect(decode(bytes, randomCuts(bytes.length, seed * 7919))).toEqual(whole);
      }
    });

    it('gives the same events with \\r\\n line ends, byte by byte', () => {
      const crlf = Buffer.from(bytes.toString('utf8').replace(/\n/g, '\r\n'), 'utf8');
      expect(decode(crlf, everyByte(crlf.length))).toEqual(whole);
    });

    it('reads the final line without its trailing newline', () => {
      const trimmed = Buffer.from(bytes.toString('utf8').trimEnd(), 'utf8');
      expect(decode(trimmed)).toEqual(whole);
      expect(decode(trimmed, everyByte(trimmed.length))).toEqual(whole);
    });
  });

  it('opens one block per tool call: start, the whole arguments as one delta, stop', () => {
    const events = decode(ndjson('parallel-tool-calls'));
    const tools = events.filter((e) => e.type.startsWith('tool_call') || e.type === 'block_stop');
    expect(tools).toEqual([
      { type: 'block_stop', index: 0 },
      { type: 'tool_call_start', index: 1, id: 'call_7x2kq9vd', name: 'get_weather' },
      { type: 'tool_call_delta', index: 1, argumentsDelta: '{"city":"Paris","unit":"celsius"}' },
      { type: 'block_stop', index: 1 },
      { type: 'tool_call_start', index: 2, id: 'call_m4pz1ht8', name: 'get_time' },
      { type: 'tool_call_delta', index: 2, argumentsDelta: '{"timezone":"Europe/Paris"}' },
      { type: 'block_stop', index: 2 },
    ]);
    expect(events.at(-1)).toEqual({
      type: 'message_stop',
      stopReason: 'tool_calls',
      usage: { ...USAGE_10_3, inputTokens: 312, outputTokens: 64 },
    });
  });

  it('closes the thinking block when the answer starts', () => {
    const events = decode(ndjson('thinking'));
    expect(events[1]).toEqual({ type: 'thinking_start', index: 0 });
    const textStart = events.findIndex((e) => e.type === 'text_start');
    expect(events[textStart - 1]).toEqual({ type: 'block_stop', index: 0 });
    expect(events[textStart]).toEqual({ type: 'text_start', index: 1 });
  });

  it('numbers calls without an id call_0, call_1 across lines, and several calls on one line', () => {
    const events = decodeText(
      line({ content: '', tool_calls: [{ function: { name: 'a', arguments: { x: 1 } } }] }) +
        line({
          content: '',
          tool_calls: [
            { function: { name: 'b', arguments: {} } },
            { function: { name: 'c', arguments: { y: 'ü' } } },
          ],
        }) +
        doneLine(),
    );
    expectWellFormed(events);
    expect(rebuild(events).calls).toEqual([
      { id: 'call_0', name: 'a', args: '{"x":1}' },
      { id: 'call_1', name: 'b', args: '{}' },
      { id: 'call_2', name: 'c', args: '{"y":"ü"}' },
    ]);
    expect(rebuild(events).stopReason).toBe('tool_calls');
  });

  it('reads thinking and content on the same line, and text after a tool call as a new block', () => {
    const events = decodeText(
      line({ content: 'A', thinking: 'T' }) +
        line({ content: '', tool_calls: [{ function: { name: 'f', arguments: {} } }] }) +
        line({ content: 'B' }) +
        doneLine('length'),
    );
    expectWellFormed(events);
    expect(events.map((e) => e.type)).toEqual([
      'message_start',
      'thinking_start',
      'thinking_delta',
      'block_stop',
      'text_start',
      'text_delta',
      'block_stop',
      'tool_call_start',
      'tool_call_delta',
      'block_stop',
      'text_start',
      'text_delta',
      'block_stop',
      'message_stop',
    ]);
    expect(events.at(-1)).toEqual({
      type: 'message_stop',
      stopReason: 'length',
      usage: USAGE_10_3,
    });
  });

  it('skips blank lines', () => {
    const events = decodeText(`\n${line({ content: 'Hi' })}\n  \n${doneLine()}\n`);
    expect(rebuild(events).text).toBe('Hi');
    expect(events.at(-1)?.type).toBe('message_stop');
  });

  it('turns an {"error"} line into an error event and ignores what follows', () => {
    const events = decodeText(
      line({ content: 'Hi' }) +
        '{"error":"an error was encountered while running the model: unexpected EOF"}\n' +
        line({ content: 'more' }) +
        doneLine(),
    );
    expect(events.map((e) => e.type)).toEqual([
      'message_start',
      'text_start',
      'text_delta',
      'error',
    ]);
    expect(events.at(-1)).toEqual({
      type: 'error',
      message: 'an error was encountered while running the model: unexpected EOF',
    });
  });

  it('reports an error line that comes first, without a message_start', () => {
    expect(decodeText('{"error":"model \\"x\\" not found"}\n')).toEqual([
      { type: 'error', message: 'model "x" not found' },
    ]);
  });

  it('reports a stream that ends before its done line as an error, keeping what came', () => {
    const events = decodeText(line({ content: 'Hi' }) + line({ content: ' there' }));
    expect(rebuild(events).text).toBe('Hi there');
    expect(events.at(-1)).toEqual({ type: 'error', message: STREAM_ENDED_EARLY });
  });

  it('reports a line cut in the middle at the end of the bytes as an error', () => {
    const bytes = ndjson('text');
    const cut = bytes.subarray(0, bytes.length - 20);
    const events = decode(cut);
    expect(events.at(-1)?.type).toBe('error');
    expect(events.filter((e) => e.type === 'message_stop')).toEqual([]);
  });

  it('reports a line that is not JSON, or not an object, as an error', () => {
    expect(decodeText(line({ content: 'Hi' }) + 'data: {"x":1}\n' + doneLine()).at(-1)).toEqual({
      type: 'error',
      message: 'malformed upstream line: data: {"x":1}',
    });
    expect(decodeText('[1,2]\n').at(-1)?.type).toBe('error');
  });

  it('reports an empty stream as an error', () => {
    expect(decode(Buffer.alloc(0))).toEqual([{ type: 'error', message: STREAM_ENDED_EARLY }]);
  });

  it('emits nothing after the done line, and nothing more on end()', () => {
    const decoder = new OllamaStreamDecoder();
    const events = decoder.push(Buffer.from(line({ content: 'Hi' }) + doneLine()));
    expect(events.at(-1)?.type).toBe('message_stop');
    expect(decoder.push(Buffer.from(line({ content: 'late' })))).toEqual([]);
    expect(decoder.end()).toEqual([]);
  });

  it('never throws on arbitrary bytes', () => {
    const rand = prng(99);
    for (let i = 0; i < 200; i++) {
      const junk = Buffer.from(Array.from({ length: 200 }, () => Math.floor(rand() * 256)));
      const mixed = Buffer.concat([Buffer.from(line({ content: 'ok' }).slice(0, 40)), junk]);
      const events = decode(mixed, randomCuts(mixed.length, i));
      expect(events.at(-1)?.type).toBe('error');
    }
  });
});

// ------------------------------------------------------------------------------------------------

const NOW = new Date('2025-07-16T16:05:01.000Z');

function encodeAll(events: StreamEvent[], model = 'qwen3:8b'): string {
  const encoder = new OllamaStreamEncoder({ model, now: () => NOW });
  return events.map((e) => encoder.encode(e)).join('');
}

/** An Ollama line without what the canonical events do not carry (times, durations). */
function lineSemantics(text: string): Obj {
  const o = JSON.parse(text) as Obj;
  delete o.created_at;
  for (const k of ['total_duration', 'load_duration', 'prompt_eval_duration', 'eval_duration']) {
    if (k in o) {
      o[k] = 0;
    }
  }
  return o;
}

const lines = (text: string): string[] => text.split('\n').filter((l) => l !== '');

describe(OllamaStreamEncoder.name, () => {
  describe.each(CASES)('on the decoded %s fixture', (name) => {
    const events = decode(ndjson(name));
    const model = response(name).model as string;

    it('writes the fixture stream again, line for line (times and durations aside)', () => {
      const text = encodeAll(events, model);
      expect(text.endsWith('\n')).toBe(true);
      expect(lines(text).map(lineSemantics)).toEqual(
        lines(ndjson(name).toString('utf8')).map(lineSemantics),
      );
    });

    it('gives back the same canonical events when its output is decoded again', () => {
      expect(decodeText(encodeAll(events, model))).toEqual(events);
    });
  });

  it('writes every line with the model of its options and the clock time', () => {
    const text = encodeAll(decode(ndjson('text')), 'my-alias');
    for (const l of lines(text)) {
      expect(JSON.parse(l)).toMatchObject({
        model: 'my-alias',
        created_at: '2025-07-16T16:05:01.000Z',
      });
    }
  });

  it('takes the model of message_start when its options name none', () => {
    const encoder = new OllamaStreamEncoder({ now: () => NOW });
    encoder.encode({ type: 'message_start', id: 'msg_1', model: 'claude-sonnet-4-5' });
    expect(JSON.parse(encoder.encode({ type: 'text_delta', index: 0, text: 'x' }))).toMatchObject({
      model: 'claude-sonnet-4-5',
    });
  });

  it('re-encodes an Anthropic stream: argument pieces buffered into whole calls', () => {
    const bytes = readFileSync(join(DIALECTS, 'anthropic', 'parallel-tool-calls.stream.sse'));
    const events = decode(bytes, [], new AnthropicStreamDecoder());
    const text = encodeAll(events);
    const toolLines = lines(text)
      .map((l) => JSON.parse(l) as Obj)
      .filter((o) => o.message?.tool_calls);
    expect(toolLines.map((o) => o.message.tool_calls)).toEqual([
      [
        {
          id: 'toolu_01A7mK3xQpVz9RtL2wYc5HsN',
          function: {
            index: 0,
            name: 'get_weather',
            arguments: { city: 'Paris', unit: 'celsius' },
          },
        },
      ],
      [
        {
          id: 'toolu_01Dn4Gj8TbWq6XeP1vKr3ZuF',
          function: { index: 1, name: 'get_time', arguments: { timezone: 'Europe/Paris' } },
        },
      ],
    ]);
    const got = rebuild(decodeText(text));
    const want = fromAnthropicResponse(response('parallel-tool-calls', 'anthropic'));
    expectSameAnswer(got, want);
    expect(JSON.parse(lines(text).at(-1)!)).toMatchObject({ done: true, done_reason: 'stop' });
  });

  it('re-encodes an OpenAI stream with reasoning into thinking lines then content lines', () => {
    const bytes = readFileSync(join(DIALECTS, 'openai-chat', 'thinking.stream.sse'));
    const text = encodeAll(decode(bytes, [], new OpenAiChatStreamDecoder()));
    const got = rebuild(decodeText(text));
    expectSameAnswer(got, fromOpenAiChatResponse(response('thinking', 'openai-chat')));
  });

  it('keeps interleaved argument deltas of parallel calls apart and writes each call at its stop', () => {
    const encoder = new OllamaStreamEncoder({ model: 'm', now: () => NOW });
    const out: string[] = [];
    const events: StreamEvent[] = [
      { type: 'message_start', id: 'x', model: 'm' },
      { type: 'tool_call_start', index: 0, id: 'call_A', name: 'a' },
      { type: 'tool_call_start', index: 1, id: 'call_B', name: 'b' },
      { type: 'tool_call_delta', index: 0, argumentsDelta: '{"x":' },
      { type: 'tool_call_delta', index: 1, argumentsDelta: '{"y"' },
      { type: 'tool_call_delta', index: 0, argumentsDelta: '1}' },
      { type: 'tool_call_delta', index: 1, argumentsDelta: ':2}' },
      { type: 'block_stop', index: 1 },
      { type: 'tool_call_start', index: 2, id: 'call_C', name: 'c' },
      { type: 'tool_call_delta', index: 2, argumentsDelta: '{"broken' },
      { type: 'message_stop', stopReason: 'tool_calls', usage: USAGE_10_3 },
    ];
    for (const e of events) {
      out.push(encoder.encode(e));
    }
    // Nothing is written until a call's block stops (or the message does).
    expect(out.slice(0, 7).join('')).toBe('');
    const calls = lines(out.join('')).flatMap(
      (l) => (JSON.parse(l) as Obj).message?.tool_calls ?? [],
    );
    expect(calls).toEqual([
      { id: 'call_B', function: { index: 1, name: 'b', arguments: { y: 2 } } },
      { id: 'call_A', function: { index: 0, name: 'a', arguments: { x: 1 } } },
      // Arguments that never became a JSON object are written as {}.
      { id: 'call_C', function: { index: 2, name: 'c', arguments: {} } },
    ]);
    expect(JSON.parse(lines(out.join('')).at(-1)!)).toEqual({
      model: 'm',
      created_at: NOW.toISOString(),
      message: { role: 'assistant', content: '' },
      done: true,
      done_reason: 'stop',
      total_duration: 0,
      load_duration: 0,
      prompt_eval_count: 10,
      prompt_eval_duration: 0,
      eval_count: 3,
      eval_duration: 0,
    });
  });

  it('counts the message_start usage when message_stop brings none', () => {
    const text = encodeAll([
      { type: 'message_start', id: 'x', model: 'm', usage: { inputTokens: 7 } },
      { type: 'text_delta', index: 0, text: 'Hi' },
      { type: 'message_stop', stopReason: 'length' },
    ]);
    expect(JSON.parse(lines(text).at(-1)!)).toMatchObject({
      done: true,
      done_reason: 'length',
      prompt_eval_count: 7,
      eval_count: 0,
    });
  });

  it('writes an error line and nothing after it', () => {
    const encoder = new OllamaStreamEncoder({ model: 'm', now: () => NOW });
    encoder.encode({ type: 'message_start', id: 'x', model: 'm' });
    expect(encoder.encode({ type: 'text_delta', index: 0, text: 'Hel' })).not.toBe('');
    expect(
      encoder.encode({ type: 'error', message: 'Overloaded', errorType: 'overloaded_error' }),
    ).toBe('{"error":"Overloaded"}\n');
    expect(encoder.encode({ type: 'text_delta', index: 0, text: 'lo' })).toBe('');
    expect(encoder.encode({ type: 'message_stop', stopReason: 'stop' })).toBe('');
    expect(encoder.abort('late')).toBe('');
  });

  it('aborts with an error line, once, and not after a completed message', () => {
    const encoder = new OllamaStreamEncoder({ model: 'm', now: () => NOW });
    encoder.encode({ type: 'text_delta', index: 0, text: 'Hi' });
    expect(encoder.abort(STREAM_ENDED_EARLY)).toBe(
      '{"error":"upstream stream ended before completion"}\n',
    );
    expect(encoder.abort('again')).toBe('');

    const done = new OllamaStreamEncoder({ model: 'm', now: () => NOW });
    for (const e of decode(ndjson('text'))) {
      done.encode(e);
    }
    expect(done.abort('too late')).toBe('');
  });

  it('never closes a generation that stopped with an error as done', () => {
    const text = encodeAll([
      { type: 'message_start', id: 'x', model: 'm' },
      { type: 'text_delta', index: 0, text: 'partial' },
      { type: 'message_stop', stopReason: 'error' },
    ]);
    expect(text).not.toContain('"done":true');
    expect(decodeText(text).at(-1)).toEqual({
      type: 'error',
      message: 'The upstream ended the response with an error',
    });
  });

  it('carries a decoded upstream error through as an error line', () => {
    const events = decodeText(line({ content: 'Hi' }) + '{"error":"boom"}\n');
    const text = encodeAll(events);
    expect(lines(text).at(-1)).toBe('{"error":"boom"}');
  });
});
