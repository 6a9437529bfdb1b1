import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  AnthropicStreamDecoder,
  AnthropicStreamEncoder,
} from '@/gateway/dialects/anthropic/stream';
import type { CanonicalUsage, StreamEvent } from '@/gateway/dialects/canonical';
import {
  GeminiStreamDecoder,
  GeminiStreamEncoder,
  STREAM_ENDED_EARLY,
} from '@/gateway/dialects/gemini/stream';
import { byteByByte, prng, randomCuts, splitAt } from '@/gateway/dialects/shared/chunking.testing';

// Fixture JSON is read and compared field by field; typing every wire shape here adds nothing.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Obj = Record<string, any>;

const FIXTURES = join(__dirname, '..', '..', '..', '..', 'test', 'fixtures', 'dialects', 'gemini');
const CASES = ['text', 'parallel-tool-calls', 'thinking', 'image-input'] as const;

const streamBytes = (name: string): Buffer => readFileSync(join(FIXTURES, `${name}.stream.sse`));
const responseJson = (name: string): Obj =>
  JSON.parse(readFileSync(join(FIXTURES, `${name}.response.json`), 'utf8')) as Obj;

// ------------------------------------------------------------------------------------------------
// Chunking

function decode(chunks: Buffer[]): StreamEvent[] {
  const decoder = new GeminiStreamDecoder();
  const out: StreamEvent[] = [];
  for (const c of chunks) {
    out.push(...decoder.push(c));
  }
  out.push(...decoder.end());
  return out;
}

const decodeText = (text: string): StreamEvent[] => decode([Buffer.from(text, 'utf8')]);

function encode(events: StreamEvent[], encoder = new GeminiStreamEncoder()): string {
  return events.map((e) => encoder.encode(e)).join('');
}

/** A Gemini SSE body from chunk objects, serialised as Gemini does (CRLF, no terminator). */
const sse = (...chunks: Obj[]): string =>
  chunks.map((c) => `data: ${JSON.stringify(c)}\r\n\r\n`).join('');

const chunk = (parts: Obj[], extra: Obj = {}): Obj => ({
  candidates: [{ content: { parts, role: 'model' }, index: 0, ...extra }],
  modelVersion: 'gemini-2.5-flash',
  responseId: 'r1',
});

// ------------------------------------------------------------------------------------------------
// Rebuilding a message from events

interface Rebuilt {
  id?: string;
  model?: string;
  parts: Obj[];
  stopReason?: string;
  usage?: CanonicalUsage;
  error?: { message: string; errorType?: string };
}

/**
 * Reassembles canonical events, asserting the block discipline along the way: blocks numbered in
 * order, each event inside an open block of its kind (a signature on a tool-call block is the
 * call's signature), nothing after the end.
 */
function rebuild(events: StreamEvent[]): Rebuilt {
  const out: Rebuilt = { parts: [] };
  const blocks = new Map<number, { part: Obj; args: string; stopped: boolean }>();
  const block = (index: number, ...types: string[]) => {
    const b = blocks.get(index);
    if (!b || b.stopped || !types.includes(b.part.type as string)) {
      throw new Error(`event for block ${index} (${types.join('/')}) outside an open block`);
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
      case 'thinking_signature': {
        const b = block(e.index, 'thinking', 'tool_call');
        if (b.part.signature !== undefined) {
          throw new Error(`second signature on block ${e.index}`);
        }
        b.part.signature = e.signature;
        break;
      }
      case 'tool_call_delta':
        block(e.index, 'tool_call').args += e.argumentsDelta;
        break;
      case 'block_stop': {
        const b = block(e.index, 'text', 'thinking', 'tool_call');
        b.stopped = true;
        if (b.part.type === 'tool_call') {
          b.part.args = JSON.parse(b.args);
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

/**
 * The same shape as `rebuild`, read straight from a non-stream response fixture (not through the
 * mapper under test): thoughts joined, the answer text, a signature on a plain part as an empty
 * signed thinking part after it, function calls with parsed args.
 */
function fromFixture(body: Obj): Rebuilt {
  const u = body.usageMetadata;
  const parts: Obj[] = [];
  let calls = 0;
  for (const p of body.candidates[0].content.parts as Obj[]) {
    if (p.functionCall) {
      parts.push({
        type: 'tool_call',
        id: `call_${calls++}`,
        name: p.functionCall.name,
        args: p.functionCall.args,
        ...(p.thoughtSignature ? { signature: p.thoughtSignature } : {}),
      });
    } else if (p.thought) {
      parts.push({ type: 'thinking', text: p.text });
    } else {
      parts.push({ type: 'text', text: p.text });
      if (p.thoughtSignature) {
        parts.push({ type: 'thinking', text: '', signature: p.thoughtSignature });
      }
    }
  }
  return {
    model: body.modelVersion,
    parts,
    stopReason: parts.some((p) => p.type === 'tool_call') ? 'tool_calls' : 'stop',
    usage: {
      inputTokens: u.promptTokenCount - (u.cachedContentTokenCount ?? 0),
      outputTokens: (u.candidatesTokenCount ?? 0) + (u.thoughtsTokenCount ?? 0),
      cacheReadTokens: u.cachedContentTokenCount ?? 0,
      cacheCreationTokens: 0,
      reasoningTokens: u.thoughtsTokenCount ?? 0,
    },
  };
}

// ------------------------------------------------------------------------------------------------
// Gemini framing

/** Splits an encoder's output into its chunk objects, checking Gemini's framing on the way. */
function frames(text: string): Obj[] {
  expect(text.endsWith('\r\n\r\n')).toBe(true);
  return text
    .slice(0, -4)
    .split('\r\n\r\n')
    .map((f) => {
      expect(f).toMatch(/^data: \{/);
      expect(f).not.toMatch(/[\r\n]/);
      return JSON.parse(f.slice(6)) as Obj;
    });
}

// ------------------------------------------------------------------------------------------------

describe(GeminiStreamDecoder.name, () => {
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

    it('gives the same events with LF and with lone CR line ends', () => {
      const text = streamBytes(name).toString('utf8');
      expect(text).toContain('\r\n\r\n');
      expect(decode(byteByByte(Buffer.from(text.replace(/\r\n/g, '\n'))))).toStrictEqual(whole());
      expect(decode([Buffer.from(text.replace(/\r\n/g, '\r'))])).toStrictEqual(whole());
    });

    it('rebuilds the non-stream response: text, thinking summary, signatures, tool args, stop, usage', () => {
      const { id, ...rest } = rebuild(whole());
      expect(id).toMatch(/^[A-Za-z0-9_-]{20,}$/);
      expect(rest).toStrictEqual(fromFixture(responseJson(name)));
    });
  });

  it('decodes thinking.stream.sse into exactly these events', () => {
    const signature = /"thoughtSignature": "([^"]+)"/.exec(
      streamBytes('thinking').toString('utf8'),
    )![1];
    expect(decode([streamBytes('thinking')])).toStrictEqual([
      {
        type: 'message_start',
        id: 'pM48fUv_QhL02R3UsDYw5Fl',
        model: 'gemini-2.5-flash',
        usage: { inputTokens: 13, cacheReadTokens: 0 },
      },
      { type: 'thinking_start', index: 0 },
      { type: 'thinking_delta', index: 0, text: '**Checking 391 for small prime factors**\n\n' },
      {
        type: 'thinking_delta',
        index: 0,
        text: 'I tried the primes up to 19, the largest prime below √391, and found that 17 × 23 = 391, so 391 is composite.',
      },
      { type: 'block_stop', index: 0 },
      { type: 'text_start', index: 1 },
      { type: 'text_delta', index: 1, text: 'No — 391 is not' },
      { type: 'text_delta', index: 1, text: ' prime, because 391 = 17' },
      { type: 'text_delta', index: 1, text: ' × 23.' },
      { type: 'block_stop', index: 1 },
      { type: 'thinking_start', index: 2 },
      { type: 'thinking_signature', index: 2, signature },
      { type: 'block_stop', index: 2 },
      {
        type: 'message_stop',
        stopReason: 'stop',
        usage: {
          inputTokens: 13,
          outputTokens: 233,
          cacheReadTokens: 0,
          cacheCreationTokens: 0,
          reasoningTokens: 212,
        },
      },
    ]);
  });

  it('emits each whole function call as start, one delta, its signature, stop', () => {
    const signature = /"thoughtSignature": "([^"]+)"/.exec(
      streamBytes('parallel-tool-calls').toString('utf8'),
    )![1];
    const events = decode([streamBytes('parallel-tool-calls')]);
    expect(events.slice(3)).toStrictEqual([
      { type: 'block_stop', index: 0 },
      { type: 'tool_call_start', index: 1, id: 'call_0', name: 'get_weather' },
      { type: 'tool_call_delta', index: 1, argumentsDelta: '{"city":"Paris","unit":"celsius"}' },
      { type: 'thinking_signature', index: 1, signature },
      { type: 'block_stop', index: 1 },
      { type: 'tool_call_start', index: 2, id: 'call_1', name: 'get_time' },
      { type: 'tool_call_delta', index: 2, argumentsDelta: '{"timezone":"Europe/Paris"}' },
      { type: 'block_stop', index: 2 },
      {
        type: 'message_stop',
        stopReason: 'tool_calls',
        usage: {
          inputTokens: 169,
          outputTokens: 139,
          cacheReadTokens: 1021,
          cacheCreationTokens: 0,
          reasoningTokens: 87,
        },
      },
    ]);
    expect(events[0]).toStrictEqual({
      type: 'message_start',
      id: 'nK26dSt_OfJy0P1SqBWu3Dj',
      model: 'gemini-2.5-flash',
      usage: { inputTokens: 169, cacheReadTokens: 1021 },
    });
  });

  it('keeps a call id Gemini sends, and counts made-up ids per response', () => {
    const events = decodeText(
      sse(
        chunk([{ functionCall: { id: 'fc_7', name: 'a', args: {} } }]),
        chunk([{ functionCall: { name: 'b' } }], { finishReason: 'STOP' }),
      ),
    );
    expect(events.filter((e) => e.type === 'tool_call_start')).toStrictEqual([
      { type: 'tool_call_start', index: 0, id: 'fc_7', name: 'a' },
      { type: 'tool_call_start', index: 1, id: 'call_1', name: 'b' },
    ]);
    expect(events).toContainEqual({ type: 'tool_call_delta', index: 1, argumentsDelta: '{}' });
  });

  it('closes a thought when a signature arrives on it, so later thoughts open a new block', () => {
    const events = decodeText(
      sse(
        chunk([{ text: 'one', thought: true, thoughtSignature: 'c2ln' }]),
        chunk([{ text: 'two', thought: true }], { finishReason: 'STOP' }),
      ),
    );
    expect(rebuild(events).parts).toStrictEqual([
      { type: 'thinking', text: 'one', signature: 'c2ln' },
      { type: 'thinking', text: 'two' },
    ]);
  });

  it('ends a stream cut before its finishReason with an error, at every cut point, never throwing', () => {
    const buf = streamBytes('parallel-tool-calls');
    const text = buf.toString('utf8');
    // The last chunk is complete once its closing brace is read.
    const complete = Buffer.byteLength(text.slice(0, text.lastIndexOf('}') + 1));
    for (let cut = 0; cut < buf.length; cut++) {
      const events = decode([buf.subarray(0, cut)]);
      const last = events[events.length - 1];
      if (cut >= complete) {
        expect(last.type).toBe('message_stop');
      } else {
        expect(last.type).toBe('error');
        expect(events.filter((e) => e.type === 'error')).toHaveLength(1);
      }
    }
    const cutBeforeLast = decode([buf.subarray(0, text.lastIndexOf('data: '))]);
    expect(cutBeforeLast.at(-1)).toStrictEqual({ type: 'error', message: STREAM_ENDED_EARLY });
    expect(decode([])).toStrictEqual([{ type: 'error', message: STREAM_ENDED_EARLY }]);
  });

  it("turns Gemini's error chunk into an error event with its status, and nothing after it", () => {
    const decoder = new GeminiStreamDecoder();
    const events = decoder.push(
      Buffer.from(
        sse(chunk([{ text: 'Hel' }]), {
          error: { code: 503, message: 'The model is overloaded.', status: 'UNAVAILABLE' },
        }),
      ),
    );
    expect(events.at(-1)).toStrictEqual({
      type: 'error',
      message: 'The model is overloaded.',
      errorType: 'UNAVAILABLE',
    });
    expect(events.some((e) => e.type === 'message_stop' || e.type === 'block_stop')).toBe(false);
    expect(decoder.push(streamBytes('text'))).toStrictEqual([]);
    expect(decoder.end()).toStrictEqual([]);
  });

  it('joins a chunk spread over several data lines, even with a CRLF split between two pushes', () => {
    const body = JSON.stringify(chunk([{ text: 'ok' }], { finishReason: 'STOP' }));
    const cut = body.indexOf('"parts"');
    const text = `data: ${body.slice(0, cut)}\r\ndata: ${body.slice(cut)}\r\n\r\n`;
    const expected: StreamEvent[] = [
      { type: 'message_start', id: 'r1', model: 'gemini-2.5-flash' },
      { type: 'text_start', index: 0 },
      { type: 'text_delta', index: 0, text: 'ok' },
      { type: 'block_stop', index: 0 },
      { type: 'message_stop', stopReason: 'stop' },
    ];
    expect(decodeText(text)).toStrictEqual(expected);
    expect(decode(byteByByte(Buffer.from(text)))).toStrictEqual(expected);
  });

  it('answers malformed chunk data with an error event instead of throwing', () => {
    const events = decodeText('data: {"candidates": [\r\n\r\ndata: {}\r\n\r\n');
    expect(events).toStrictEqual([{ type: 'error', message: 'malformed upstream chunk' }]);
    expect(decodeText('data: [1,2]\r\n\r\n')).toStrictEqual([
      { type: 'error', message: 'malformed upstream chunk' },
    ]);
  });

  it('ends a prompt blocked before any candidate with a content-filter stop', () => {
    expect(
      decodeText(
        sse({
          promptFeedback: { blockReason: 'PROHIBITED_CONTENT' },
          usageMetadata: { promptTokenCount: 8, totalTokenCount: 8 },
          responseId: 'r9',
          modelVersion: 'gemini-2.5-pro',
        }),
      ),
    ).toStrictEqual([
      {
        type: 'message_start',
        id: 'r9',
        model: 'gemini-2.5-pro',
        usage: { inputTokens: 8, cacheReadTokens: 0 },
      },
      {
        type: 'message_stop',
        stopReason: 'content_filter',
        usage: {
          inputTokens: 8,
          outputTokens: 0,
          cacheReadTokens: 0,
          cacheCreationTokens: 0,
          reasoningTokens: 0,
        },
      },
    ]);
  });

  it('ignores comments, a [DONE] some proxies add, images the model made, and chunks after the finish', () => {
    const events = decodeText(
      ': hello\r\n\r\n' +
        sse(
          chunk([{ inlineData: { mimeType: 'image/png', data: 'iVBO' } }, { text: 'ok' }]),
          chunk([], { finishReason: 'MAX_TOKENS' }),
          chunk([{ text: 'late' }]),
        ) +
        'data: [DONE]\r\n\r\n',
    );
    expect(events).toStrictEqual([
      { type: 'message_start', id: 'r1', model: 'gemini-2.5-flash' },
      { type: 'text_start', index: 0 },
      { type: 'text_delta', index: 0, text: 'ok' },
      { type: 'block_stop', index: 0 },
      { type: 'message_stop', stopReason: 'length' },
    ]);
  });
});

describe(GeminiStreamEncoder.name, () => {
  describe.each(CASES)('golden stream %s', (name) => {
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

    it("writes Gemini's framing: one data chunk per part, the finish and usage on the last only", () => {
      const all = frames(encode(decode([streamBytes(name)])));
      const original = frames(streamBytes(name).toString('utf8'));
      all.forEach((c, i) => {
        expect(c.responseId).toBe(original[0].responseId);
        expect(c.modelVersion).toBe('gemini-2.5-flash');
        expect(c.candidates).toHaveLength(1);
        expect(c.candidates[0].content.role).toBe('model');
        expect(c.candidates[0].finishReason).toBe(i === all.length - 1 ? 'STOP' : undefined);
      });
      expect(all.at(-1)!.usageMetadata).toStrictEqual(
        (({ promptTokensDetails: _p, cacheTokensDetails: _c, ...u }) => u)(
          original.at(-1)!.usageMetadata,
        ),
      );
    });
  });

  it('buffers interleaved tool calls and writes each whole when its block stops', () => {
    const text = encode([
      { type: 'message_start', id: 'msg_1', model: 'claude-sonnet-4-5' },
      { type: 'tool_call_start', index: 0, id: 'toolu_a', name: 'a' },
      { type: 'tool_call_start', index: 1, id: 'toolu_b', name: 'b' },
      { type: 'tool_call_delta', index: 1, argumentsDelta: '{"b":' },
      { type: 'tool_call_delta', index: 0, argumentsDelta: '{"a": ' },
      { type: 'tool_call_delta', index: 1, argumentsDelta: '2}' },
      { type: 'block_stop', index: 1 },
      { type: 'text_delta', index: 2, text: 'late text' },
      { type: 'tool_call_delta', index: 0, argumentsDelta: '[1, "x"]}' },
      { type: 'block_stop', index: 0 },
      { type: 'message_stop', stopReason: 'tool_calls' },
    ]);
    expect(frames(text).map((c) => c.candidates[0].content.parts)).toStrictEqual([
      [{ functionCall: { name: 'b', args: { b: 2 }, id: 'toolu_b' } }],
      [{ text: 'late text' }],
      [{ functionCall: { name: 'a', args: { a: [1, 'x'] }, id: 'toolu_a' } }],
      [{ text: '' }],
    ]);
    expect(rebuild(decode([Buffer.from(text)])).parts).toStrictEqual([
      { type: 'tool_call', id: 'toolu_b', name: 'b', args: { b: 2 } },
      { type: 'text', text: 'late text' },
      { type: 'tool_call', id: 'toolu_a', name: 'a', args: { a: [1, 'x'] } },
    ]);
  });

  it('writes calls whose block never stopped with the last chunk', () => {
    const all = frames(
      encode([
        { type: 'tool_call_start', index: 0, id: 'call_x', name: 'f' },
        { type: 'tool_call_delta', index: 0, argumentsDelta: '{"q":"a"}' },
        { type: 'message_stop', stopReason: 'tool_calls' },
      ]),
    );
    expect(all).toHaveLength(1);
    expect(all[0].candidates[0]).toStrictEqual({
      content: {
        parts: [{ functionCall: { name: 'f', args: { q: 'a' }, id: 'call_x' } }],
        role: 'model',
      },
      finishReason: 'STOP',
      index: 0,
    });
  });

  it('writes thinking from another provider as thoughts and its signature as a signed empty thought', () => {
    const text = encode(
      [
        { type: 'thinking_start', index: 0 },
        { type: 'thinking_delta', index: 0, text: 'Let me think.' },
        { type: 'thinking_signature', index: 0, signature: 'EqQBCkYIBxgC' },
        { type: 'block_stop', index: 0 },
        { type: 'thinking_start', index: 1, redacted: 'EmwKAhgB' },
        { type: 'thinking_delta', index: 1, text: 'hidden' },
        { type: 'thinking_signature', index: 1, signature: 'nope' },
        { type: 'block_stop', index: 1 },
        { type: 'text_start', index: 2 },
        { type: 'text_delta', index: 2, text: 'Done.' },
        { type: 'text_delta', index: 2, text: '' },
        { type: 'block_stop', index: 2 },
        {
          type: 'message_stop',
          stopReason: 'length',
          usage: {
            inputTokens: 10,
            outputTokens: 20,
            cacheReadTokens: 0,
            cacheCreationTokens: 4,
            reasoningTokens: 0,
          },
        },
      ],
      new GeminiStreamEncoder({ id: 'msg_9', model: 'claude' }),
    );
    const all = frames(text);
    expect(all.map((c) => c.candidates[0].content.parts)).toStrictEqual([
      [{ text: 'Let me think.', thought: true }],
      [{ text: '', thought: true, thoughtSignature: 'EqQBCkYIBxgC' }],
      [{ text: 'Done.' }],
      [{ text: '' }],
    ]);
    expect(all.at(-1)).toStrictEqual({
      candidates: [
        { content: { parts: [{ text: '' }], role: 'model' }, finishReason: 'MAX_TOKENS', index: 0 },
      ],
      usageMetadata: { promptTokenCount: 14, candidatesTokenCount: 20, totalTokenCount: 34 },
      modelVersion: 'claude',
      responseId: 'msg_9',
    });
  });

  it('carries the prompt usage of message_start in the chunks before the last', () => {
    const all = frames(
      encode([
        {
          type: 'message_start',
          id: 'chatcmpl-1',
          model: 'gpt-4o',
          usage: { inputTokens: 5, cacheReadTokens: 3 },
        },
        { type: 'text_delta', index: 0, text: 'Hi' },
      ]),
    );
    expect(all[0].usageMetadata).toStrictEqual({
      promptTokenCount: 8,
      totalTokenCount: 8,
      cachedContentTokenCount: 3,
    });
  });

  it.each([
    ['overloaded_error', 503, 'UNAVAILABLE'],
    ['rate_limit_error', 429, 'RESOURCE_EXHAUSTED'],
    ['invalid_request_error', 400, 'INVALID_ARGUMENT'],
    ['RESOURCE_EXHAUSTED', 429, 'RESOURCE_EXHAUSTED'],
    ['server_error', 500, 'INTERNAL'],
    [undefined, 500, 'INTERNAL'],
  ])(
    'writes an error of type %s as a final error chunk %i %s, and nothing after it',
    (errorType, code, status) => {
      const encoder = new GeminiStreamEncoder();
      encoder.encode({ type: 'message_start', id: 'r', model: 'm' });
      encoder.encode({ type: 'text_delta', index: 0, text: 'Hi' });
      const text = encoder.encode({ type: 'error', message: 'Overloaded', errorType });
      expect(text).toBe(
        `data: ${JSON.stringify({ error: { code, message: 'Overloaded', status } })}\r\n\r\n`,
      );
      expect(encoder.encode({ type: 'text_delta', index: 0, text: 'more' })).toBe('');
      expect(encoder.encode({ type: 'message_stop', stopReason: 'stop' })).toBe('');
      expect(encoder.abort('late')).toBe('');
      expect(decodeText(text)).toStrictEqual([
        { type: 'error', message: 'Overloaded', errorType: status },
      ]);
    },
  );

  it('ends a generation that stopped with an error with an error chunk, never a finish reason', () => {
    const text = encode([
      { type: 'message_start', id: 'r', model: 'm' },
      { type: 'text_delta', index: 0, text: 'partial' },
      { type: 'message_stop', stopReason: 'error' },
    ]);
    const all = frames(text);
    expect(all.at(-1)).toMatchObject({ error: { code: 500, status: 'INTERNAL' } });
    expect(text).not.toContain('finishReason');
  });

  it('aborts with an INTERNAL error chunk, once, and not after a completed message', () => {
    const encoder = new GeminiStreamEncoder();
    encoder.encode({ type: 'message_start', id: 'r', model: 'm' });
    expect(encoder.abort('upstream went away')).toBe(
      'data: {"error":{"code":500,"message":"upstream went away","status":"INTERNAL"}}\r\n\r\n',
    );
    expect(encoder.abort('again')).toBe('');

    const done = new GeminiStreamEncoder();
    encode(decode([streamBytes('text')]), done);
    expect(done.abort('too late')).toBe('');
  });
});

describe('Gemini streams across dialects', () => {
  const anthropicFixture = (name: string): Buffer =>
    readFileSync(join(FIXTURES, '..', 'anthropic', name));

  function anthropicEvents(bytes: Buffer): StreamEvent[] {
    const decoder = new AnthropicStreamDecoder();
    return [...decoder.push(bytes), ...decoder.end()];
  }

  it('gives a Gemini client the Anthropic parallel tool calls whole, arguments intact', () => {
    const upstream = anthropicEvents(anthropicFixture('parallel-tool-calls.stream.sse'));
    // The Anthropic arguments arrive in several pieces per call.
    expect(upstream.filter((e) => e.type === 'tool_call_delta').length).toBeGreaterThan(2);
    const text = encode(upstream);
    const calls = frames(text)
      .flatMap((c) => c.candidates[0].content.parts as Obj[])
      .filter((p) => p.functionCall);
    const body = JSON.parse(
      anthropicFixture('parallel-tool-calls.response.json').toString('utf8'),
    ) as Obj;
    const uses = (body.content as Obj[]).filter((b) => b.type === 'tool_use');
    expect(calls).toStrictEqual(
      uses.map((u) => ({ functionCall: { name: u.name, args: u.input, id: expect.any(String) } })),
    );
    const rebuilt = rebuild(decode(byteByByte(Buffer.from(text))));
    expect(rebuilt.stopReason).toBe('tool_calls');
    expect(rebuilt.usage).toMatchObject({ outputTokens: 118, cacheReadTokens: 1462 });
  });

  it('gives an Anthropic client the Gemini answer; the call signature has no Anthropic slot', () => {
    for (const name of CASES) {
      const events = decode([streamBytes(name)]);
      const encoder = new AnthropicStreamEncoder();
      const text = events.map((e) => encoder.encode(e)).join('');
      const back = anthropicEvents(Buffer.from(text));
      const parts = rebuild(back).parts;
      const expected = fromFixture(responseJson(name)).parts.map((p) => {
        const { signature: _s, ...rest } = p;
        return p.type === 'tool_call' ? { ...rest, id: expect.any(String) } : p;
      });
      expect(parts).toStrictEqual(expected);
    }
  });
});
