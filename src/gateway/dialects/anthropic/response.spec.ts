import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { AppError } from '@/common/errors/app-error';
import {
  anthropicMessageId,
  fromAnthropicResponse,
  toAnthropicResponse,
} from '@/gateway/dialects/anthropic/response';
import { EMPTY_USAGE, type CanonicalResponse, type StopReason } from '@/gateway/dialects/canonical';

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

function raw(name: string): string {
  return readFileSync(join(FIXTURES, name), 'utf8');
}
function fixture(name: string): Obj {
  return JSON.parse(raw(name)) as Obj;
}

/** The thinking signature exactly as the bytes of thinking.response.json hold it. */
function rawSignature(): string {
  const m = /"signature": "([^"]+)"/.exec(raw('thinking.response.json'));
  if (!m) {
    throw new Error('no signature in thinking.response.json');
  }
  return m[1];
}
function rawRedacted(): string {
  const m = /"data": "([^"]+)"/.exec(raw('thinking.response.json'));
  if (!m) {
    throw new Error('no redacted data in thinking.response.json');
  }
  return m[1];
}

const MODEL = 'claude-sonnet-4-5-20250929';
const usage = (input: number, output: number, cacheRead = 0) => ({
  inputTokens: input,
  outputTokens: output,
  cacheReadTokens: cacheRead,
  cacheCreationTokens: 0,
  reasoningTokens: 0,
});

const EXPECTED: Record<(typeof CASES)[number], () => CanonicalResponse> = {
  text: () => ({
    id: 'msg_01XkR7bqYw3NvT2hLpZs9mQa',
    model: MODEL,
    parts: [
      { type: 'text', text: 'The capital of France is Paris — famous for the Eiffel Tower.' },
    ],
    stopReason: 'stop',
    usage: usage(33, 17),
  }),
  'parallel-tool-calls': () => ({
    id: 'msg_01Pz2Vx9KcQm4TrW7nLb5YdE',
    model: MODEL,
    parts: [
      { type: 'text', text: "I'll check the current weather and the local time in Paris." },
      {
        type: 'tool_call',
        id: 'toolu_01A7mK3xQpVz9RtL2wYc5HsN',
        name: 'get_weather',
        arguments: '{"city":"Paris","unit":"celsius"}',
      },
      {
        type: 'tool_call',
        id: 'toolu_01Dn4Gj8TbWq6XeP1vKr3ZuF',
        name: 'get_time',
        arguments: '{"timezone":"Europe/Paris"}',
      },
    ],
    stopReason: 'tool_calls',
    usage: usage(24, 118, 1462),
  }),
  thinking: () => ({
    id: 'msg_01Tg8Wm2ZqRx5LcV9bNk3JpY',
    model: MODEL,
    parts: [
      {
        type: 'thinking',
        text: '391 is odd and its digit sum is 13, so neither 2 nor 3 divides it. Its square root is just under 20, so I only need to try primes up to 19. 391 ÷ 17 = 23 exactly, so 391 = 17 × 23 and it is composite.',
        signature: rawSignature(),
        origin: 'anthropic',
      },
      { type: 'thinking', text: '', redacted: rawRedacted(), origin: 'anthropic' },
      { type: 'text', text: 'No — 391 is not prime, because 391 = 17 × 23.' },
    ],
    stopReason: 'stop',
    usage: usage(52, 164),
  }),
  'image-input': () => ({
    id: 'msg_01Wc6Ln4YtQz8KbX2vRm7HsJ',
    model: MODEL,
    parts: [
      {
        type: 'text',
        text: 'The first image shows a red square and the second shows a blue circle, both on a white background.',
      },
    ],
    stopReason: 'stop',
    usage: usage(118, 25),
  }),
};

/** The fields of an Anthropic message an SDK reads (cache_creation/service_tier details aside). */
function messageSemantics(body: Obj): Obj {
  const u = body.usage as Obj;
  return {
    id: body.id,
    type: body.type,
    role: body.role,
    model: body.model,
    content: body.content,
    stop_reason: body.stop_reason,
    stop_sequence: body.stop_sequence,
    usage: {
      input_tokens: u.input_tokens,
      output_tokens: u.output_tokens,
      cache_creation_input_tokens: u.cache_creation_input_tokens,
      cache_read_input_tokens: u.cache_read_input_tokens,
    },
  };
}

function message(extra: Obj = {}): Obj {
  return {
    id: 'msg_1',
    type: 'message',
    role: 'assistant',
    model: 'm',
    content: [{ type: 'text', text: 'hi' }],
    stop_reason: 'end_turn',
    stop_sequence: null,
    usage: { input_tokens: 1, output_tokens: 2 },
    ...extra,
  };
}

function canonical(extra: Partial<CanonicalResponse> = {}): CanonicalResponse {
  return {
    id: 'msg_1',
    model: 'm',
    parts: [],
    stopReason: 'stop',
    usage: { ...EMPTY_USAGE },
    ...extra,
  };
}

describe(fromAnthropicResponse.name, () => {
  describe.each(CASES)('golden fixture %s', (name) => {
    it('reads into the expected canonical response', () => {
      expect(fromAnthropicResponse(fixture(`${name}.response.json`))).toStrictEqual(
        EXPECTED[name](),
      );
    });

    it('round-trips through toAnthropicResponse with the same meaning', () => {
      const body = fixture(`${name}.response.json`);
      expect(toAnthropicResponse(fromAnthropicResponse(body))).toStrictEqual(
        messageSemantics(body),
      );
    });
  });

  it('keeps the thinking signature byte for byte', () => {
    const res = fromAnthropicResponse(fixture('thinking.response.json'));
    const thinking = res.parts[0];
    expect(thinking.type === 'thinking' && thinking.signature).toBe(rawSignature());
    expect(rawSignature()).toMatch(/^ErUBCkYI[A-Za-z0-9+/]{300,}QKuEdG$/);
  });

  it.each<[string, StopReason]>([
    ['end_turn', 'stop'],
    ['stop_sequence', 'stop'],
    ['pause_turn', 'stop'],
    ['max_tokens', 'length'],
    ['model_context_window_exceeded', 'length'],
    ['tool_use', 'tool_calls'],
    ['refusal', 'content_filter'],
  ])('maps stop_reason %s to %s', (wire, canonicalReason) => {
    expect(fromAnthropicResponse(message({ stop_reason: wire })).stopReason).toBe(canonicalReason);
  });

  it('keeps the stop sequence that ended the message', () => {
    const res = fromAnthropicResponse(
      message({ stop_reason: 'stop_sequence', stop_sequence: 'END' }),
    );
    expect(res.stopSequence).toBe('END');
  });

  it('reads cache writes apart from fresh input', () => {
    const res = fromAnthropicResponse(
      message({
        usage: {
          input_tokens: 10,
          output_tokens: 5,
          cache_creation_input_tokens: 700,
          cache_read_input_tokens: 300,
        },
      }),
    );
    expect(res.usage).toStrictEqual({
      inputTokens: 10,
      outputTokens: 5,
      cacheReadTokens: 300,
      cacheCreationTokens: 700,
      reasoningTokens: 0,
    });
  });

  it('skips blocks it has no canonical place for, keeping the order of the rest', () => {
    const res = fromAnthropicResponse(
      message({
        content: [
          { type: 'server_tool_use', id: 'srvtoolu_1', name: 'web_search', input: {} },
          { type: 'text', text: 'a' },
          { type: 'web_search_tool_result', tool_use_id: 'srvtoolu_1', content: [] },
          { type: 'text', text: 'b' },
        ],
      }),
    );
    expect(res.parts).toStrictEqual([
      { type: 'text', text: 'a' },
      { type: 'text', text: 'b' },
    ]);
  });

  it.each([null, 'text', [], { type: 'message' }])(
    'answers an upstream error, not a TypeError, for the body %p',
    (body) => {
      expect(() => fromAnthropicResponse(body)).toThrow(AppError);
      try {
        fromAnthropicResponse(body);
      } catch (e) {
        expect((e as AppError).status).toBe(502);
      }
    },
  );
});

describe(toAnthropicResponse.name, () => {
  it('renders an OpenAI-style id as a msg_ id and keeps msg_ ids', () => {
    expect(toAnthropicResponse(canonical({ id: 'chatcmpl-B9MHDbslfk' })).id).toBe('msg_B9MHDbslfk');
    expect(toAnthropicResponse(canonical({ id: 'msg_01Abc' })).id).toBe('msg_01Abc');
    expect(anthropicMessageId('')).toMatch(/^msg_[0-9a-f]{24}$/);
  });

  it('drops unsigned and foreign thinking and keeps signed and redacted Anthropic thinking', () => {
    const body = toAnthropicResponse(
      canonical({
        parts: [
          { type: 'thinking', text: 'deepseek', origin: 'openai-chat' },
          { type: 'thinking', text: 'gemini', signature: 'Z2Vt', origin: 'gemini' },
          { type: 'thinking', text: 'unsigned', origin: 'anthropic' },
          { type: 'thinking', text: 'signed', signature: 'c2ln+/=', origin: 'anthropic' },
          { type: 'thinking', text: '', redacted: 'UkVE', origin: 'anthropic' },
          { type: 'text', text: 'answer' },
        ],
      }),
    );
    expect(body.content).toStrictEqual([
      { type: 'thinking', thinking: 'signed', signature: 'c2ln+/=' },
      { type: 'redacted_thinking', data: 'UkVE' },
      { type: 'text', text: 'answer' },
    ]);
  });

  it('parses tool arguments into input, an empty object when they are not a JSON object', () => {
    const body = toAnthropicResponse(
      canonical({
        stopReason: 'tool_calls',
        parts: [
          { type: 'tool_call', id: 'call_1', name: 'f', arguments: '{"a":[1,{"b":null}]}' },
          { type: 'tool_call', id: 'call_2', name: 'g', arguments: '{"a":' },
        ],
      }),
    );
    expect(body.content).toStrictEqual([
      { type: 'tool_use', id: 'call_1', name: 'f', input: { a: [1, { b: null }] } },
      { type: 'tool_use', id: 'call_2', name: 'g', input: {} },
    ]);
    expect(body.stop_reason).toBe('tool_use');
  });

  it.each<[StopReason, string | undefined, string]>([
    ['stop', undefined, 'end_turn'],
    ['stop', 'END', 'stop_sequence'],
    ['length', undefined, 'max_tokens'],
    ['tool_calls', undefined, 'tool_use'],
    ['content_filter', undefined, 'refusal'],
  ])('writes stop reason %s (stop sequence %p) as %s', (reason, stopSequence, wire) => {
    const body = toAnthropicResponse(canonical({ stopReason: reason, stopSequence }));
    expect(body.stop_reason).toBe(wire);
    expect(body.stop_sequence).toBe(stopSequence ?? null);
  });

  it('writes all four usage counters', () => {
    const body = toAnthropicResponse(
      canonical({
        usage: {
          inputTokens: 1,
          outputTokens: 2,
          cacheReadTokens: 3,
          cacheCreationTokens: 4,
          reasoningTokens: 1,
        },
      }),
    );
    expect(body.usage).toStrictEqual({
      input_tokens: 1,
      output_tokens: 2,
      cache_creation_input_tokens: 4,
      cache_read_input_tokens: 3,
    });
  });
});
