import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  AnthropicStreamDecoder,
  AnthropicStreamEncoder,
  STREAM_ENDED_EARLY,
} from '@/gateway/dialects/anthropic/stream';
import { type CanonicalUsage, type StreamEvent } from '@/gateway/dialects/canonical';
import { byteByByte, prng, randomCuts, splitAt } from '@/gateway/dialects/shared/chunking.testing';

type Obj = Record<string, unknown>;

const FIXTURES = join(
  __dirname,
  '..',
  '..',
  '..',
  '..',
  'test',
  'fixtures',
  'dialects',
  'anthropic',
);
const CASES = ['text', 'parallel-tool-calls', 'thinking', 'image-input'] as const;
const STREAMS = [...CASES, 'error'] as const;

const bytes = (name: string): Buffer => readFileSync(join(FIXTURES, name));
const streamBytes = (name: (typeof STREAMS)[number]): Buffer => bytes(`${name}.stream.sse`);
const responseJson = (name: string): Obj =>
  JSON.parse(readFileSync(join(FIXTURES, `${name}.response.json`), 'utf8')) as Obj;

// ------------------------------------------------------------------------------------------------
// Chunking

function decode(chunks: Buffer[]): StreamEvent[] {
  const decoder = new AnthropicStreamDecoder();
  const out: StreamEvent[] = [];
  for (const c of chunks) {
    out.push(...decoder.push(c));
  }
  out.push(...decoder.end());
  return out;
}

function encode(events: StreamEvent[], encoder = new AnthropicStreamEncoder()): string {
  return events.map((e) => encoder.encode(e)).join('');
}

// ------------------------------------------------------------------------------------------------
// Rebuilding a message from events

interface Rebuilt {
  id?: string;
  model?: string;
  parts: Obj[];
  stopReason?: string;
  stopSequence?: string;
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
  const append = (part: Obj, key: string, piece: string) => {
    part[key] = (part[key] as string) + piece;
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
        open(
          e.index,
          e.redacted !== undefined
            ? { type: 'thinking', redacted: e.redacted }
            : { type: 'thinking', text: '', signature: '' },
        );
        break;
      case 'tool_call_start':
        open(e.index, { type: 'tool_call', id: e.id, name: e.name });
        break;
      case 'text_delta':
        append(block(e.index, 'text').part, 'text', e.text);
        break;
      case 'thinking_delta':
        append(block(e.index, 'thinking').part, 'text', e.text);
        break;
      case 'thinking_signature':
        append(block(e.index, 'thinking').part, 'signature', e.signature);
        break;
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
        out.stopSequence = e.stopSequence;
        out.usage = e.usage;
        break;
      case 'error':
        out.error = { message: e.message, errorType: e.errorType };
        break;
    }
  }
  return out;
}

const STOP: Record<string, string> = { end_turn: 'stop', tool_use: 'tool_calls' };

/** The same shape as `rebuild`, read straight from a non-stream response fixture. */
function fromFixture(body: Obj): Rebuilt {
  const u = body.usage as Obj;
  return {
    model: body.model as string,
    parts: (body.content as Obj[]).map((b) => {
      switch (b.type) {
        case 'text':
          return { type: 'text', text: b.text };
        case 'thinking':
          return { type: 'thinking', text: b.thinking, signature: b.signature };
        case 'redacted_thinking':
          return { type: 'thinking', redacted: b.data };
        default:
          return { type: 'tool_call', id: b.id, name: b.name, input: b.input };
      }
    }),
    stopReason: STOP[body.stop_reason as string],
    stopSequence: undefined,
    usage: {
      inputTokens: u.input_tokens as number,
      outputTokens: u.output_tokens as number,
      cacheReadTokens: u.cache_read_input_tokens as number,
      cacheCreationTokens: u.cache_creation_input_tokens as number,
      reasoningTokens: 0,
    },
  };
}

// ------------------------------------------------------------------------------------------------
// The Anthropic SSE grammar

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
      expect(lines[0]).toMatch(/^event: [a-z_]+$/);
      expect(lines[1]).toMatch(/^data: \{/);
      return { event: lines[0].slice(7), data: JSON.parse(lines[1].slice(6)) as Obj };
    });
}

const EMPTY_BLOCK: Record<string, (b: Obj) => boolean> = {
  text: (b) => b.text === '' && Object.keys(b).length === 2,
  thinking: (b) => b.thinking === '' && b.signature === '' && Object.keys(b).length === 3,
  redacted_thinking: (b) => typeof b.data === 'string' && Object.keys(b).length === 2,
  tool_use: (b) =>
    typeof b.id === 'string' &&
    /^[A-Za-z0-9_-]+$/.test(b.id) &&
    typeof b.name === 'string' &&
    JSON.stringify(b.input) === '{}' &&
    Object.keys(b).length === 4,
};
const DELTAS: Record<string, string[]> = {
  text: ['text_delta', 'citations_delta'],
  thinking: ['thinking_delta', 'signature_delta'],
  redacted_thinking: [],
  tool_use: ['input_json_delta'],
};
const STOP_REASONS = [
  'end_turn',
  'max_tokens',
  'stop_sequence',
  'tool_use',
  'pause_turn',
  'refusal',
];

/**
 * Checks an Anthropic SSE transcript against the documented grammar: `message_start` first; blocks
 * numbered 0, 1, 2… each opened by `content_block_start` with an empty block, fed by deltas of its
 * kind and closed by `content_block_stop` before the next opens; then one `message_delta` and
 * `message_stop` last — or an `error`, after which nothing follows. Every event name equals its
 * data's `type`. Throws a descriptive Error on the first violation.
 */
function checkGrammar(text: string, ending: 'message_stop' | 'error'): void {
  const fail = (i: number, why: string): never => {
    throw new Error(`event #${i}: ${why}`);
  };
  const all = frames(text);
  let open: { index: number; kind: string } | undefined;
  let nextIndex = 0;
  let sawDelta = false;
  let last = '';
  all.forEach(({ event, data }, i) => {
    if (data.type !== event) {
      fail(i, `event name ${event} but data type ${String(data.type)}`);
    }
    if (last === 'message_stop' || last === 'error') {
      fail(i, `${event} after ${last}`);
    }
    if (i === 0 && event !== 'message_start' && event !== 'error') {
      fail(i, `${event} before message_start`);
    }
    switch (event) {
      case 'message_start': {
        const m = data.message as Obj;
        if (i !== 0) {
          fail(i, 'message_start not first');
        }
        if (m.type !== 'message' || m.role !== 'assistant' || !String(m.id).startsWith('msg_')) {
          fail(i, 'message_start.message is not an assistant message with a msg_ id');
        }
        if (!Array.isArray(m.content) || m.content.length !== 0 || m.stop_reason !== null) {
          fail(i, 'message_start.message must be empty');
        }
        if (typeof (m.usage as Obj).input_tokens !== 'number') {
          fail(i, 'message_start without input usage');
        }
        break;
      }
      case 'ping':
        break;
      case 'content_block_start': {
        const b = data.content_block as Obj;
        if (open) {
          fail(i, `block ${data.index as number} starts while block ${open.index} is open`);
        }
        if (data.index !== nextIndex) {
          fail(i, `block index ${data.index as number}, expected ${nextIndex}`);
        }
        const isEmpty = EMPTY_BLOCK[b.type as string] as ((b: Obj) => boolean) | undefined;
        if (!isEmpty?.(b)) {
          fail(i, `content_block_start with a non-empty or unknown block ${JSON.stringify(b)}`);
        }
        open = { index: nextIndex++, kind: b.type as string };
        break;
      }
      case 'content_block_delta': {
        const d = data.delta as Obj;
        if (!open || data.index !== open.index) {
          fail(i, `delta for block ${data.index as number} which is not open`);
        }
        if (!DELTAS[open!.kind].includes(d.type as string)) {
          fail(i, `${String(d.type)} in a ${open!.kind} block`);
        }
        break;
      }
      case 'content_block_stop':
        if (!open || data.index !== open.index) {
          fail(i, `stop for block ${data.index as number} which is not open`);
        }
        open = undefined;
        break;
      case 'message_delta': {
        const d = data.delta as Obj;
        if (open) {
          fail(i, `message_delta while block ${open.index} is open`);
        }
        if (sawDelta) {
          fail(i, 'second message_delta');
        }
        if (!STOP_REASONS.includes(d.stop_reason as string)) {
          fail(i, `stop_reason ${String(d.stop_reason)}`);
        }
        if (typeof (data.usage as Obj).output_tokens !== 'number') {
          fail(i, 'message_delta without usage.output_tokens');
        }
        sawDelta = true;
        break;
      }
      case 'message_stop':
        if (!sawDelta) {
          fail(i, 'message_stop without message_delta');
        }
        break;
      case 'error': {
        const err = data.error as Obj;
        if (typeof err.type !== 'string' || typeof err.message !== 'string') {
          fail(i, 'error without error.type and error.message');
        }
        break;
      }
      default:
        fail(i, `unknown event ${event}`);
    }
    last = event;
  });
  if (last !== ending) {
    throw new Error(`stream ends with ${last}, expected ${ending}`);
  }
}

const contentFrames = (text: string): Obj[] =>
  frames(text)
    .filter((f) => f.event.startsWith('content_block_'))
    .map((f) => f.data);

// ------------------------------------------------------------------------------------------------

describe(AnthropicStreamDecoder.name, () => {
  describe.each(STREAMS)('golden stream %s', (name) => {
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

    it('gives the same events with CRLF and with lone CR line ends', () => {
      const text = streamBytes(name).toString('utf8');
      expect(decode(byteByByte(Buffer.from(text.replace(/\n/g, '\r\n'))))).toStrictEqual(whole());
      expect(decode([Buffer.from(text.replace(/\n/g, '\r'))])).toStrictEqual(whole());
    });
  });

  describe.each(CASES)('golden stream %s', (name) => {
    it('rebuilds the non-stream response: text, thinking and signature, tool input, stop, usage', () => {
      const rebuilt = rebuild(decode([streamBytes(name)]));
      const { id, ...rest } = rebuilt;
      expect(id).toMatch(/^msg_01/);
      expect(rest).toStrictEqual(fromFixture(responseJson(name)));
    });
  });

  it('decodes text.stream.sse into exactly these events', () => {
    const usage = { inputTokens: 33, cacheReadTokens: 0, cacheCreationTokens: 0 };
    expect(decode([streamBytes('text')])).toStrictEqual([
      {
        type: 'message_start',
        id: 'msg_01HcW4nJe8TqVx6RmYb2KdPs',
        model: 'claude-sonnet-4-5-20250929',
        usage: { ...usage, outputTokens: 1 },
      },
      { type: 'text_start', index: 0 },
      { type: 'text_delta', index: 0, text: 'The capital of France' },
      { type: 'text_delta', index: 0, text: ' is Paris — famous' },
      { type: 'text_delta', index: 0, text: ' for the Eiffel Tower.' },
      { type: 'block_stop', index: 0 },
      {
        type: 'message_stop',
        stopReason: 'stop',
        usage: { ...usage, outputTokens: 17, reasoningTokens: 0 },
      },
    ]);
  });

  it('passes tool argument pieces on as they arrive, the empty first piece included', () => {
    const events = decode([streamBytes('parallel-tool-calls')]);
    const tool = events.filter((e) => e.type === 'tool_call_start' || e.type === 'tool_call_delta');
    expect(tool).toStrictEqual([
      {
        type: 'tool_call_start',
        index: 1,
        id: 'toolu_01A7mK3xQpVz9RtL2wYc5HsN',
        name: 'get_weather',
      },
      { type: 'tool_call_delta', index: 1, argumentsDelta: '' },
      { type: 'tool_call_delta', index: 1, argumentsDelta: '{"city": "Par' },
      { type: 'tool_call_delta', index: 1, argumentsDelta: 'is", "unit": "cel' },
      { type: 'tool_call_delta', index: 1, argumentsDelta: 'sius"}' },
      { type: 'tool_call_start', index: 2, id: 'toolu_01Dn4Gj8TbWq6XeP1vKr3ZuF', name: 'get_time' },
      { type: 'tool_call_delta', index: 2, argumentsDelta: '' },
      { type: 'tool_call_delta', index: 2, argumentsDelta: '{"timezone": ' },
      { type: 'tool_call_delta', index: 2, argumentsDelta: '"Europe/Paris"}' },
    ]);
    expect(events[0]).toMatchObject({
      type: 'message_start',
      usage: { inputTokens: 24, cacheReadTokens: 1462 },
    });
  });

  it('reads a redacted_thinking block as a thinking start carrying the data', () => {
    const events = decode([streamBytes('thinking')]);
    expect(events).toContainEqual({
      type: 'thinking_start',
      index: 1,
      redacted: (responseJson('thinking').content as Obj[])[1].data,
    });
  });

  it('turns an error event into an error with its type, and nothing after it', () => {
    const decoder = new AnthropicStreamDecoder();
    const events = decoder.push(streamBytes('error'));
    expect(events[events.length - 1]).toStrictEqual({
      type: 'error',
      message: 'Overloaded',
      errorType: 'overloaded_error',
    });
    expect(events.some((e) => e.type === 'message_stop')).toBe(false);
    expect(decoder.push(streamBytes('text'))).toStrictEqual([]);
    expect(decoder.end()).toStrictEqual([]);
  });

  it('ends a stream cut before message_stop with an error, at every cut point, never throwing', () => {
    const buf = streamBytes('thinking');
    const stop = buf.indexOf('data: {"type":"message_stop"}');
    const complete = stop + 'data: {"type":"message_stop"}'.length;
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
    const cutBeforeStop = decode([buf.subarray(0, stop)]);
    expect(cutBeforeStop[cutBeforeStop.length - 1]).toStrictEqual({
      type: 'error',
      message: STREAM_ENDED_EARLY,
    });
    expect(decode([])).toStrictEqual([{ type: 'error', message: STREAM_ENDED_EARLY }]);
  });

  it('ignores comments, pings and unknown events, and skips blocks with no canonical place', () => {
    const sse = [
      ': keep-alive',
      '',
      'event: message_start',
      'data: {"type":"message_start","message":{"id":"msg_1","model":"m","usage":{"input_tokens":3}}}',
      '',
      'event: ping',
      'data: {"type": "ping"}',
      '',
      'event: future_event',
      'data: {"type":"future_event","x":1}',
      '',
      'event: content_block_start',
      'data: {"type":"content_block_start","index":0,"content_block":{"type":"server_tool_use","id":"srvtoolu_1","name":"web_search","input":{}}}',
      '',
      'event: content_block_delta',
      'data: {"type":"content_block_delta","index":0,"delta":{"type":"input_json_delta","partial_json":"{\\"q\\":1}"}}',
      '',
      'event: content_block_stop',
      'data: {"type":"content_block_stop","index":0}',
      '',
      'event: content_block_start',
      'data: {"type":"content_block_start","index":1,"content_block":{"type":"text","text":""}}',
      '',
      'event: content_block_delta',
      'data: {"type":"content_block_delta","index":1,"delta":{"type":"text_delta","text":"ok"}}',
      '',
      'event: content_block_stop',
      'data: {"type":"content_block_stop","index":1}',
      '',
      'event: message_delta',
      'data: {"type":"message_delta","delta":{"stop_reason":"stop_sequence","stop_sequence":"END"},"usage":{"output_tokens":2}}',
      '',
      'event: message_stop',
      'data: {"type":"message_stop"}',
      '',
      '',
    ].join('\n');
    expect(decode([Buffer.from(sse)])).toStrictEqual([
      { type: 'message_start', id: 'msg_1', model: 'm', usage: { inputTokens: 3 } },
      { type: 'text_start', index: 0 },
      { type: 'text_delta', index: 0, text: 'ok' },
      { type: 'block_stop', index: 0 },
      {
        type: 'message_stop',
        stopReason: 'stop',
        stopSequence: 'END',
        usage: {
          inputTokens: 3,
          outputTokens: 2,
          cacheReadTokens: 0,
          cacheCreationTokens: 0,
          reasoningTokens: 0,
        },
      },
    ]);
  });

  it('keeps the event name of a CRLF line split between chunks, for data without a type', () => {
    const sse = Buffer.from(
      'event: message_start\r\ndata: {"message":{"id":"msg_1","model":"m"}}\r\n\r\n' +
        'event: message_stop\r\ndata: {}\r\n\r\n',
    );
    const expected: StreamEvent[] = [
      { type: 'message_start', id: 'msg_1', model: 'm', usage: {} },
      {
        type: 'message_stop',
        stopReason: 'stop',
        usage: {
          inputTokens: 0,
          outputTokens: 0,
          cacheReadTokens: 0,
          cacheCreationTokens: 0,
          reasoningTokens: 0,
        },
      },
    ];
    expect(decode([sse])).toStrictEqual(expected);
    expect(decode(byteByByte(sse))).toStrictEqual(expected);
  });

  it('answers malformed event data with an error event instead of throwing', () => {
    const events = decode([
      Buffer.from(
        'event: message_start\ndata: {"type":"message_start",\n\nevent: ping\ndata: {}\n\n',
      ),
    ]);
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ type: 'error' });
  });
});

describe(AnthropicStreamEncoder.name, () => {
  it('the grammar checker accepts every golden stream and rejects broken orders', () => {
    for (const name of CASES) {
      expect(() => checkGrammar(streamBytes(name).toString('utf8'), 'message_stop')).not.toThrow();
    }
    expect(() => checkGrammar(streamBytes('error').toString('utf8'), 'error')).not.toThrow();
    const text = streamBytes('parallel-tool-calls').toString('utf8');
    const withoutFirstStop = text.replace(
      /event: content_block_stop\ndata: \{"type":"content_block_stop","index":0 *\}\n\n/,
      '',
    );
    expect(withoutFirstStop).not.toBe(text);
    expect(() => checkGrammar(withoutFirstStop, 'message_stop')).toThrow(/starts while block 0/);
    expect(() => checkGrammar(text.replace('"index":2', '"index":3'), 'message_stop')).toThrow(
      /index 3, expected 2/,
    );
    expect(() =>
      checkGrammar(text.replace('event: message_stop\n', 'event: message_end\n'), 'message_stop'),
    ).toThrow(/event name/);
  });

  describe.each(CASES)('golden stream %s', (name) => {
    it('re-encodes the decoded events in the exact grammar, blocks as the upstream sent them', () => {
      const original = streamBytes(name).toString('utf8');
      const text = encode(decode([streamBytes(name)]));
      checkGrammar(text, 'message_stop');
      expect(contentFrames(text)).toStrictEqual(contentFrames(original));
    });

    it('decodes its own output back into the same events, however it is split', () => {
      const events = decode([streamBytes(name)]);
      const text = Buffer.from(encode(events));
      expect(decode([text])).toStrictEqual(events);
      expect(decode(byteByByte(text))).toStrictEqual(events);
      const rand = prng(42);
      for (let trial = 0; trial < 20; trial++) {
        expect(decode(splitAt(text, randomCuts(rand, text.length, 25)))).toStrictEqual(events);
      }
    });
  });

  it('re-encodes the failing stream ending with its error event, and decodes it back', () => {
    const events = decode([streamBytes('error')]);
    const text = encode(events);
    checkGrammar(text, 'error');
    expect(frames(text).pop()).toStrictEqual({
      event: 'error',
      data: { type: 'error', error: { type: 'overloaded_error', message: 'Overloaded' } },
    });
    expect(decode([Buffer.from(text)])).toStrictEqual(events);
  });

  it('fills in message_start, block starts and stops that the canonical stream left out', () => {
    const encoder = new AnthropicStreamEncoder({ id: 'chatcmpl-abc', model: 'gpt-4o' });
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
    checkGrammar(text, 'message_stop');
    const start = frames(text)[0].data.message as Obj;
    expect(start).toMatchObject({ id: 'msg_abc', model: 'gpt-4o' });
    const rebuilt = rebuild(decode([Buffer.from(text)]));
    expect(rebuilt.parts).toStrictEqual([
      { type: 'thinking', text: 'hmm', signature: '' },
      { type: 'text', text: 'Hello there' },
      { type: 'tool_call', id: 'call_1', name: 'f', input: { a: 1 } },
    ]);
    expect(rebuilt.stopReason).toBe('tool_calls');
  });

  it('keeps interleaved tool calls apart: a call that starts while another is open waits for it', () => {
    const text = encode([
      { type: 'message_start', id: 'resp_1', model: 'm' },
      { type: 'tool_call_start', index: 0, id: 'call_a', name: 'a' },
      { type: 'tool_call_start', index: 1, id: 'call_b', name: 'b' },
      { type: 'tool_call_delta', index: 1, argumentsDelta: '{"b":' },
      { type: 'tool_call_delta', index: 0, argumentsDelta: '{"a":' },
      { type: 'tool_call_delta', index: 1, argumentsDelta: '2}' },
      { type: 'text_delta', index: 2, text: 'late text' },
      { type: 'tool_call_delta', index: 0, argumentsDelta: '1}' },
      { type: 'block_stop', index: 0 },
      { type: 'block_stop', index: 1 },
      { type: 'message_stop', stopReason: 'tool_calls' },
    ]);
    checkGrammar(text, 'message_stop');
    expect(rebuild(decode([Buffer.from(text)])).parts).toStrictEqual([
      { type: 'tool_call', id: 'call_a', name: 'a', input: { a: 1 } },
      { type: 'tool_call', id: 'call_b', name: 'b', input: { b: 2 } },
      { type: 'text', text: 'late text' },
    ]);
  });

  it('streams a tool call that starts after a text block as soon as it arrives', () => {
    const encoder = new AnthropicStreamEncoder();
    encoder.encode({ type: 'message_start', id: 'msg_1', model: 'm' });
    encoder.encode({ type: 'text_delta', index: 0, text: 'Checking.' });
    const start = encoder.encode({ type: 'tool_call_start', index: 1, id: 'call_1', name: 'f' });
    expect(start).toContain(
      'event: content_block_stop\ndata: {"type":"content_block_stop","index":0}',
    );
    expect(start).toContain(
      '"content_block":{"type":"tool_use","id":"call_1","name":"f","input":{}}',
    );
    expect(encoder.encode({ type: 'tool_call_delta', index: 1, argumentsDelta: '{"x"' })).toBe(
      'event: content_block_delta\ndata: {"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":"{\\"x\\""}}\n\n',
    );
  });

  it('writes a redacted thinking block with its data and no deltas', () => {
    const text = encode([
      { type: 'message_start', id: 'msg_1', model: 'm' },
      { type: 'thinking_start', index: 0, redacted: 'UkVEQUNURUQ=' },
      { type: 'thinking_delta', index: 0, text: 'must not appear' },
      { type: 'block_stop', index: 0 },
      { type: 'message_stop', stopReason: 'stop' },
    ]);
    checkGrammar(text, 'message_stop');
    expect(contentFrames(text)).toStrictEqual([
      {
        type: 'content_block_start',
        index: 0,
        content_block: { type: 'redacted_thinking', data: 'UkVEQUNURUQ=' },
      },
      { type: 'content_block_stop', index: 0 },
    ]);
  });

  it.each([
    ['stop', undefined, 'end_turn'],
    ['stop', 'END', 'stop_sequence'],
    ['length', undefined, 'max_tokens'],
    ['tool_calls', undefined, 'tool_use'],
    ['content_filter', undefined, 'refusal'],
  ] as const)('writes stop reason %s (stop sequence %p) as %s', (reason, stopSequence, wire) => {
    const text = encode([
      { type: 'message_start', id: 'msg_1', model: 'm', usage: { inputTokens: 7 } },
      {
        type: 'message_stop',
        stopReason: reason,
        stopSequence,
        usage: {
          inputTokens: 7,
          outputTokens: 3,
          cacheReadTokens: 2,
          cacheCreationTokens: 1,
          reasoningTokens: 0,
        },
      },
    ]);
    checkGrammar(text, 'message_stop');
    const delta = frames(text).find((f) => f.event === 'message_delta')!.data;
    expect(delta).toStrictEqual({
      type: 'message_delta',
      delta: { stop_reason: wire, stop_sequence: stopSequence ?? null },
      usage: {
        input_tokens: 7,
        cache_creation_input_tokens: 1,
        cache_read_input_tokens: 2,
        output_tokens: 3,
      },
    });
  });

  it('ends a generation that stopped with an error with an error event, never a clean stop', () => {
    const text = encode([
      { type: 'message_start', id: 'msg_1', model: 'm' },
      { type: 'text_delta', index: 0, text: 'partial' },
      { type: 'message_stop', stopReason: 'error' },
    ]);
    checkGrammar(text, 'error');
    expect(text).not.toContain('message_stop');
  });

  it('writes an error event and nothing after it', () => {
    const encoder = new AnthropicStreamEncoder();
    encoder.encode({ type: 'message_start', id: 'msg_1', model: 'm' });
    encoder.encode({ type: 'text_delta', index: 0, text: 'Hi' });
    expect(
      encoder.encode({ type: 'error', message: 'Rate limited', errorType: 'rate_limit_error' }),
    ).toBe(
      'event: error\ndata: {"type":"error","error":{"type":"rate_limit_error","message":"Rate limited"}}\n\n',
    );
    expect(encoder.encode({ type: 'text_delta', index: 0, text: 'more' })).toBe('');
    expect(encoder.encode({ type: 'message_stop', stopReason: 'stop' })).toBe('');
    expect(encoder.abort('late')).toBe('');
  });

  it('aborts with an api_error event, once, and not after a completed message', () => {
    const encoder = new AnthropicStreamEncoder();
    encoder.encode({ type: 'message_start', id: 'msg_1', model: 'm' });
    expect(encoder.abort('upstream went away')).toBe(
      'event: error\ndata: {"type":"error","error":{"type":"api_error","message":"upstream went away"}}\n\n',
    );
    expect(encoder.abort('again')).toBe('');

    const done = new AnthropicStreamEncoder();
    encode(decode([streamBytes('text')]), done);
    expect(done.abort('too late')).toBe('');
  });
});
