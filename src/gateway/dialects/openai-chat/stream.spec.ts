import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ChatCompletionStream } from 'openai/lib/ChatCompletionStream';
import type { ChatCompletionChunk } from 'openai/resources/chat/completions';
import { Stream } from 'openai/streaming';
import type { CanonicalUsage, StopReason, StreamEvent } from '@/gateway/dialects/canonical';
import { fromOpenAiChatResponse } from '@/gateway/dialects/openai-chat/response';
import {
  OpenAiChatStreamDecoder,
  OpenAiChatStreamEncoder,
} from '@/gateway/dialects/openai-chat/stream';
import { prng } from '@/gateway/dialects/shared/chunking.testing';

// Fixture JSON is read and mutated field by field; typing every wire shape here adds nothing.
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
  'openai-chat',
);
const CASES = ['text', 'parallel-tool-calls', 'thinking', 'image-input'] as const;

const sse = (name: string): Buffer => readFileSync(join(FIXTURES, `${name}.stream.sse`));
const response = (name: string): Obj =>
  JSON.parse(readFileSync(join(FIXTURES, `${name}.response.json`), 'utf8')) as Obj;

/** Decodes `bytes` pushed in pieces cut at `cuts` (byte offsets). */
function decode(bytes: Buffer, cuts: number[] = []): StreamEvent[] {
  const decoder = new OpenAiChatStreamDecoder();
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

function randomCuts(length: number, count: number, seed: number): number[] {
  const rand = prng(seed);
  return Array.from({ length: count }, () => Math.floor(rand() * (length + 1)));
}

interface Rebuilt {
  id: string;
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
  const r: Rebuilt = { id: '', model: '', text: '', thinking: '', calls: [], errors: [] };
  const calls = new Map<number, { id: string; name: string; args: string }>();
  for (const e of events) {
    switch (e.type) {
      case 'message_start':
        r.id = e.id;
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
    } else if (e.type === 'text_delta' || e.type === 'thinking_delta') {
      expect(started.has(e.index) && !stopped.has(e.index)).toBe(true);
    } else if (e.type === 'tool_call_delta') {
      expect(started.has(e.index)).toBe(true);
    } else if (e.type === 'block_stop') {
      expect(started.has(e.index) && !stopped.has(e.index)).toBe(true);
      stopped.add(e.index);
    }
  }
  if (last.type === 'message_stop') {
    expect([...stopped].sort()).toEqual([...started].sort());
  }
}

/** A chunk line as OpenAI sends it. */
function chunk(delta: Obj, finish: string | null = null, extra: Obj = {}): string {
  const body = {
    id: 'chatcmpl-T',
    object: 'chat.completion.chunk',
    created: 1,
    model: 'gpt-4o',
    choices: [{ index: 0, delta, logprobs: null, finish_reason: finish }],
    ...extra,
  };
  return `data: ${JSON.stringify(body)}\n\n`;
}

const USAGE = { prompt_tokens: 10, completion_tokens: 3, total_tokens: 13 };
const usageChunk = `data: ${JSON.stringify({ id: 'chatcmpl-T', object: 'chat.completion.chunk', created: 1, model: 'gpt-4o', choices: [], usage: USAGE })}\n\n`;

describe(OpenAiChatStreamDecoder.name, () => {
  describe.each(CASES)('on the %s fixture', (name) => {
    const bytes = sse(name);
    const whole = decode(bytes);

    it('gives well-ordered events that rebuild the non-stream response', () => {
      expectWellFormed(whole);
      const got = rebuild(whole);
      const want = fromOpenAiChatResponse(response(name));
      expect(got.errors).toEqual([]);
      expect(got.text).toBe(
        want.parts.flatMap((p) => (p.type === 'text' ? [p.text] : [])).join(''),
      );
      expect(got.thinking).toBe(
        want.parts.flatMap((p) => (p.type === 'thinking' ? [p.text] : [])).join(''),
      );
      const wantCalls = want.parts.flatMap((p) => (p.type === 'tool_call' ? [p] : []));
      expect(got.calls.map((c) => c.name)).toEqual(wantCalls.map((c) => c.name));
      expect(got.calls.map((c) => JSON.parse(c.args) as unknown)).toEqual(
        wantCalls.map((c) => JSON.parse(c.arguments) as unknown),
      );
      expect(got.calls.every((c) => c.id.startsWith('call_'))).toBe(true);
      expect(got.stopReason).toBe(want.stopReason);
      expect(got.usage).toEqual(want.usage);
    });

    it('gives the same events when fed byte by byte', () => {
      const cuts = Array.from({ length: bytes.length - 1 }, (_, i) => i + 1);
      expect(decode(bytes, cuts)).toEqual(whole);
    });

    it('gives the same events for 20 seeds of 200 random split positions', () => {
      for (let seed = 1; seed <= 20; seed++) {
        expect(decode(bytes, randomCuts(bytes.length, 200, seed * 7919))).toEqual(whole);
      }
    });

    it('gives the same events with \\r\\n line ends, byte by byte', () => {
      const crlf = Buffer.from(bytes.toString('utf8').replace(/\n/g, '\r\n'), 'utf8');
      const cuts = Array.from({ length: crlf.length - 1 }, (_, i) => i + 1);
      expect(decode(crlf, cuts)).toEqual(whole);
    });

    it('ends a prefix cut before the finish chunk with an error, and one cut after it with message_stop', () => {
      // The finish chunk counts once its JSON is whole (its line end is not needed).
      const finishEnd = bytes.indexOf('\n', bytes.indexOf('"finish_reason":"'));
      const rand = prng(name.length * 1000 + 17);
      let errors = 0;
      for (let i = 0; i < 60; i++) {
        const cut = Math.floor(rand() * (bytes.length + 1));
        const events = decode(bytes.subarray(0, cut), randomCuts(cut, 10, i + 1));
        const terminal = events.filter((e) => e.type === 'message_stop' || e.type === 'error');
        expect(terminal).toHaveLength(1);
        expect(events.at(-1)).toBe(terminal[0]);
        expect(terminal[0].type).toBe(cut >= finishEnd ? 'message_stop' : 'error');
        errors += terminal[0].type === 'error' ? 1 : 0;
      }
      expect(errors).toBeGreaterThan(0);
    });
  });

  it('emits the parallel calls as blocks 1 and 2 after the text block, with raw argument pieces', () => {
    const events = decode(sse('parallel-tool-calls'));
    const starts = events.filter((e) => e.type.endsWith('_start') && e.type !== 'message_start');
    expect(starts).toEqual([
      { type: 'text_start', index: 0 },
      {
        type: 'tool_call_start',
        index: 1,
        id: 'call_Vb3mQ8xLkT2pWn7sRf4hJd9Z',
        name: 'get_weather',
      },
      { type: 'tool_call_start', index: 2, id: 'call_Ha6yN1cUe5rGq0tXo8vKm3Ls', name: 'get_time' },
    ]);
    const pieces = events.flatMap((e) =>
      e.type === 'tool_call_delta' && e.index === 1 ? [e.argumentsDelta] : [],
    );
    expect(pieces).toEqual([
      '{"',
      'city',
      '":"',
      'Paris',
      '","',
      'unit',
      '":"',
      'c',
      'elsius',
      '"}',
    ]);
    const stops = events.flatMap((e) => (e.type === 'block_stop' ? [e.index] : []));
    expect(stops).toEqual([0, 1, 2]);
    expect(events.at(-1)).toEqual({
      type: 'message_stop',
      stopReason: 'tool_calls',
      usage: {
        inputTokens: 163,
        outputTokens: 71,
        cacheReadTokens: 1024,
        cacheCreationTokens: 0,
        reasoningTokens: 0,
      },
    });
  });

  it('opens a thinking block for reasoning_content, then a text block, skipping the keep-alive comment', () => {
    const events = decode(sse('thinking'));
    expect(events[0]).toEqual({
      type: 'message_start',
      id: '7b2e4d19-0a6c-4f38-b5e1-93c8d0a27f6e',
      model: 'deepseek-reasoner',
    });
    expect(events[1]).toEqual({ type: 'thinking_start', index: 0 });
    const textStart = events.findIndex((e) => e.type === 'text_start');
    expect(events[textStart - 1]).toEqual({ type: 'block_stop', index: 0 });
    expect(events[textStart]).toEqual({ type: 'text_start', index: 1 });
  });

  it('keeps interleaved parallel tool-call pieces apart by index', () => {
    const tc = (index: number, fn: Obj, id?: string): Obj => ({
      tool_calls: [{ index, ...(id ? { id, type: 'function' } : {}), function: fn }],
    });
    const text =
      chunk({ role: 'assistant', content: null }) +
      chunk(tc(0, { name: 'a', arguments: '' }, 'call_A')) +
      chunk(tc(1, { name: 'b', arguments: '{"y"' }, 'call_B')) +
      chunk(tc(0, { arguments: '{"x":' })) +
      chunk(tc(1, { arguments: ':2}' })) +
      chunk(tc(0, { arguments: '1}' })) +
      chunk({}, 'tool_calls') +
      'data: [DONE]\n\n';
    const events = decodeText(text);
    const got = rebuild(events);
    expect(got.calls).toEqual([
      { id: 'call_A', name: 'a', args: '{"x":1}' },
      { id: 'call_B', name: 'b', args: '{"y":2}' },
    ]);
    expect(got.stopReason).toBe('tool_calls');
    expect(events.at(-1)).toEqual({ type: 'message_stop', stopReason: 'tool_calls' });
  });

  it('waits for a usage chunk that comes after finish_reason, and emits message_stop once', () => {
    const decoder = new OpenAiChatStreamDecoder();
    const first = decoder.push(Buffer.from(chunk({ content: 'Hi' }) + chunk({}, 'stop')));
    expect(first.map((e) => e.type)).toEqual([
      'message_start',
      'text_start',
      'text_delta',
      'block_stop',
    ]);
    const second = decoder.push(Buffer.from(usageChunk + 'data: [DONE]\n\n'));
    expect(second).toEqual([
      {
        type: 'message_stop',
        stopReason: 'stop',
        usage: {
          inputTokens: 10,
          outputTokens: 3,
          cacheReadTokens: 0,
          cacheCreationTokens: 0,
          reasoningTokens: 0,
        },
      },
    ]);
    expect(decoder.end()).toEqual([]);
  });

  it('takes the usage sent with or after finish_reason when a server repeats cumulative usage', () => {
    const early = { prompt_tokens: 10, completion_tokens: 1, total_tokens: 11 };
    const events = decodeText(
      chunk({ content: 'Hi' }, null, { usage: early }) +
        chunk({}, 'stop', { usage: null }) +
        usageChunk +
        'data: [DONE]\n\n',
    );
    expect(events.at(-1)).toMatchObject({ type: 'message_stop', usage: { outputTokens: 3 } });
  });

  it('reads Groq usage from x_groq.usage', () => {
    const events = decodeText(
      chunk({ content: 'Hi' }) +
        chunk({}, 'stop', { x_groq: { usage: USAGE } }) +
        'data: [DONE]\n\n',
    );
    expect(events.at(-1)).toMatchObject({ type: 'message_stop', usage: { inputTokens: 10 } });
  });

  it('emits message_stop without usage at [DONE] when the upstream sends none', () => {
    const events = decodeText(chunk({ content: 'Hi' }) + chunk({}, 'length') + 'data: [DONE]\n\n');
    expect(events.at(-1)).toEqual({ type: 'message_stop', stopReason: 'length' });
  });

  it('completes a stream that ends after finish_reason without [DONE]', () => {
    const events = decodeText(chunk({ content: 'Hi' }) + chunk({}, 'stop'));
    expect(events.at(-1)).toEqual({ type: 'message_stop', stopReason: 'stop' });
  });

  it('reads the last event even without its closing blank line', () => {
    const events = decodeText(chunk({ content: 'Hi' }) + chunk({}, 'stop') + usageChunk.trimEnd());
    expect(events.at(-1)).toMatchObject({ type: 'message_stop', usage: { inputTokens: 10 } });
  });

  it('turns an {"error":…} data event into an error event and ignores what follows', () => {
    const text =
      chunk({ content: 'Hi' }) +
      'data: {"error":{"message":"The server is overloaded","type":"server_error","code":"overloaded"}}\n\n' +
      chunk({ content: 'more' }) +
      chunk({}, 'stop') +
      'data: [DONE]\n\n';
    const events = decodeText(text);
    expect(events.map((e) => e.type)).toEqual([
      'message_start',
      'text_start',
      'text_delta',
      'error',
    ]);
    expect(events.at(-1)).toEqual({
      type: 'error',
      message: 'The server is overloaded',
      errorType: 'server_error',
    });
  });

  it('reports a stream cut before finish_reason and [DONE] as an error', () => {
    const events = decodeText(chunk({ content: 'Hi' }) + chunk({ content: ' there' }));
    expect(rebuild(events).text).toBe('Hi there');
    expect(events.at(-1)).toEqual({
      type: 'error',
      message: 'upstream stream ended before completion',
    });
  });

  it('joins the several data lines of one event, whatever the line ends and chunking', () => {
    const body = JSON.stringify({
      id: 'chatcmpl-T',
      model: 'gpt-4o',
      choices: [{ index: 0, delta: { content: 'Multi' }, finish_reason: 'stop' }],
    });
    const split = body.indexOf('"choices"');
    for (const eol of ['\n', '\r\n', '\r']) {
      const text = `data: ${body.slice(0, split)}${eol}data: ${body.slice(split)}${eol}${eol}`;
      const bytes = Buffer.from(text);
      const cuts = Array.from({ length: bytes.length - 1 }, (_, i) => i + 1);
      const events = decode(bytes, cuts);
      expect(rebuild(events).text).toBe('Multi');
      expect(events.at(-1)).toEqual({ type: 'message_stop', stopReason: 'stop' });
    }
  });

  it('reports an empty stream as an error', () => {
    expect(decode(Buffer.alloc(0))).toEqual([
      { type: 'error', message: 'upstream stream ended before completion' },
    ]);
  });

  it('never throws on arbitrary bytes', () => {
    const rand = prng(99);
    for (let i = 0; i < 200; i++) {
      const junk = Buffer.from(Array.from({ length: 200 }, () => Math.floor(rand() * 256)));
      const mixed = Buffer.concat([Buffer.from('data: {"choices":[{"delta":'), junk]);
      const events = decode(mixed, randomCuts(mixed.length, 5, i));
      expect(events.at(-1)?.type).toBe('error');
    }
  });
});

// ------------------------------------------------------------------------------------------------

interface SdkResult {
  chunks: ChatCompletionChunk[];
  text: string;
  reasoning: string;
  calls: Map<number, { id?: string; name?: string; args: string }>;
  finish: (string | null)[];
  usage: ChatCompletionChunk['usage'];
}

/** Parses SSE text the way the official SDK parses an HTTP response. */
async function readWithSdk(text: string): Promise<SdkResult> {
  const stream = Stream.fromSSEResponse<ChatCompletionChunk>(
    new Response(text),
    new AbortController(),
  );
  const r: SdkResult = {
    chunks: [],
    text: '',
    reasoning: '',
    calls: new Map(),
    finish: [],
    usage: null,
  };
  for await (const c of stream) {
    r.chunks.push(c);
    if (c.usage) {
      r.usage = c.usage;
    }
    for (const choice of c.choices) {
      const delta = choice.delta as ChatCompletionChunk.Choice.Delta & {
        reasoning_content?: string;
      };
      r.text += delta.content ?? '';
      r.reasoning += delta.reasoning_content ?? '';
      for (const tc of delta.tool_calls ?? []) {
        const call = r.calls.get(tc.index) ?? { args: '' };
        call.id ??= tc.id;
        call.name ??= tc.function?.name;
        call.args += tc.function?.arguments ?? '';
        r.calls.set(tc.index, call);
      }
      if (choice.finish_reason) {
        r.finish.push(choice.finish_reason);
      }
    }
  }
  return r;
}

const OPTIONS = { id: 'chatcmpl-gw1', model: 'gpt-4o', created: 1752681700, includeUsage: true };

function encodeAll(events: StreamEvent[], options = OPTIONS): string {
  const encoder = new OpenAiChatStreamEncoder(options);
  return events.map((e) => encoder.encode(e)).join('');
}

describe(OpenAiChatStreamEncoder.name, () => {
  it.each(CASES)(
    're-encodes the decoded %s fixture into chunks the openai SDK reads back to the same answer',
    async (name) => {
      const events = decode(sse(name));
      const text = encodeAll(events);
      const sdk = await readWithSdk(text);
      const want = rebuild(events);
      const res = fromOpenAiChatResponse(response(name));

      expect(sdk.text).toBe(want.text);
      expect(sdk.reasoning).toBe(want.thinking);
      expect(sdk.text).toBe(res.parts.flatMap((p) => (p.type === 'text' ? [p.text] : [])).join(''));
      const calls = [...sdk.calls.entries()].sort(([a], [b]) => a - b);
      expect(calls.map(([i]) => i)).toEqual(want.calls.map((_, i) => i));
      expect(calls.map(([, c]) => ({ id: c.id, name: c.name, args: c.args }))).toEqual(want.calls);
      expect(calls.map(([, c]) => JSON.parse(c.args) as unknown)).toEqual(
        res.parts.flatMap((p) => (p.type === 'tool_call' ? [JSON.parse(p.arguments)] : [])),
      );
      expect(sdk.finish).toEqual([response(name).choices[0].finish_reason]);
      expect(sdk.usage?.prompt_tokens).toBe(response(name).usage.prompt_tokens);
      expect(sdk.usage?.completion_tokens).toBe(response(name).usage.completion_tokens);
      expect(sdk.usage?.prompt_tokens_details?.cached_tokens).toBe(
        response(name).usage.prompt_tokens_details.cached_tokens,
      );
      expect(
        sdk.chunks.every((c) => c.id === OPTIONS.id && c.object === 'chat.completion.chunk'),
      ).toBe(true);
      expect(text.endsWith('data: [DONE]\n\n')).toBe(true);

      // The SDK's own accumulator (strict about roles, tool-call fields and finish_reason).
      const final = await ChatCompletionStream.fromReadableStream(
        Stream.fromSSEResponse<ChatCompletionChunk>(
          new Response(text),
          new AbortController(),
        ).toReadableStream(),
      ).finalChatCompletion();
      const message = final.choices[0].message;
      expect(message.content ?? '').toBe(want.text);
      expect(
        (message.tool_calls ?? []).map((c) => (c.type === 'function' ? c.function.arguments : '')),
      ).toEqual(want.calls.map((c) => c.args));
    },
  );

  it.each(CASES)(
    'gives back the same canonical events when its %s output is decoded again',
    (name) => {
      const events = decode(sse(name));
      const again = decodeText(encodeAll(events));
      expect(again[0]).toEqual({ type: 'message_start', id: OPTIONS.id, model: OPTIONS.model });
      expect(again.slice(1)).toEqual(events.slice(1));
    },
  );

  it('writes the role chunk first, tool_calls indexed among tool calls only, then finish, usage, [DONE]', () => {
    const text = encodeAll(decode(sse('parallel-tool-calls')));
    const frames = text.split('\n\n').filter(Boolean);
    expect(frames.at(-1)).toBe('data: [DONE]');
    const bodies = frames.slice(0, -1).map((f) => JSON.parse(f.slice('data: '.length)) as Obj);
    expect(bodies[0].choices[0].delta).toEqual({ role: 'assistant', content: '' });
    const toolFrames = bodies.filter((b) => b.choices[0]?.delta.tool_calls);
    expect(toolFrames[0].choices[0].delta.tool_calls).toEqual([
      {
        index: 0,
        id: 'call_Vb3mQ8xLkT2pWn7sRf4hJd9Z',
        type: 'function',
        function: { name: 'get_weather', arguments: '' },
      },
    ]);
    expect(toolFrames[1].choices[0].delta.tool_calls).toEqual([
      { index: 0, function: { arguments: '{"' } },
    ]);
    expect(new Set(toolFrames.map((b) => b.choices[0].delta.tool_calls[0].index))).toEqual(
      new Set([0, 1]),
    );
    const finish = bodies.at(-2)!;
    expect(finish.choices[0]).toEqual({
      index: 0,
      delta: {},
      logprobs: null,
      finish_reason: 'tool_calls',
    });
    const usage = bodies.at(-1)!;
    expect(usage.choices).toEqual([]);
    expect(usage.usage).toEqual({
      prompt_tokens: 1187,
      completion_tokens: 71,
      total_tokens: 1258,
      prompt_tokens_details: { cached_tokens: 1024 },
      completion_tokens_details: { reasoning_tokens: 0 },
    });
  });

  it('writes no usage chunk when the client did not ask for one', () => {
    const text = encodeAll(decode(sse('text')), { ...OPTIONS, includeUsage: false });
    expect(text).not.toContain('"usage"');
    expect(text.endsWith('"finish_reason":"stop"}]}\n\ndata: [DONE]\n\n')).toBe(true);
  });

  it('ends with an error chunk the SDK raises, and nothing after it', async () => {
    const encoder = new OpenAiChatStreamEncoder(OPTIONS);
    let text = '';
    text += encoder.encode({ type: 'message_start', id: 'msg_1', model: 'claude' });
    text += encoder.encode({ type: 'text_start', index: 0 });
    text += encoder.encode({ type: 'text_delta', index: 0, text: 'Hel' });
    const error = encoder.encode({
      type: 'error',
      message: 'Overloaded',
      errorType: 'overloaded_error',
    });
    text += error;
    expect(JSON.parse(error.slice('data: '.length))).toEqual({
      error: { message: 'Overloaded', type: 'server_error', param: null, code: 'overloaded_error' },
    });
    expect(encoder.encode({ type: 'text_delta', index: 0, text: 'lo' })).toBe('');
    expect(encoder.encode({ type: 'message_stop', stopReason: 'stop' })).toBe('');
    expect(encoder.abort('late')).toBe('');
    expect(text).not.toContain('[DONE]');

    const seen: string[] = [];
    await expect(
      (async () => {
        for await (const c of Stream.fromSSEResponse<ChatCompletionChunk>(
          new Response(text),
          new AbortController(),
        )) {
          seen.push(c.choices[0]?.delta.content ?? '');
        }
      })(),
    ).rejects.toThrow('Overloaded');
    expect(seen.join('')).toBe('Hel');
  });

  it('aborts a stream with the same error chunk, which the SDK raises', async () => {
    const encoder = new OpenAiChatStreamEncoder(OPTIONS);
    const text =
      encoder.encode({ type: 'message_start', id: 'x', model: 'm' }) +
      encoder.abort('upstream stream ended before completion');
    expect(text).not.toContain('[DONE]');
    expect(encoder.encode({ type: 'message_stop', stopReason: 'stop' })).toBe('');
    await expect(readWithSdk(text)).rejects.toThrow('upstream stream ended before completion');
  });

  it('carries a decoded upstream error through to the SDK', async () => {
    const events = decodeText(
      chunk({ content: 'Hi' }) + 'data: {"error":{"message":"boom","type":"server_error"}}\n\n',
    );
    await expect(readWithSdk(encodeAll(events))).rejects.toThrow('boom');
  });
});
