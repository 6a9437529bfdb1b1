import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { AppError } from '@/common/errors/app-error';
import { fromAnthropicResponse } from '@/gateway/dialects/anthropic/response';
import { EMPTY_USAGE, type CanonicalResponse, type StopReason } from '@/gateway/dialects/canonical';
import { fromOllamaResponse, toOllamaResponse } from '@/gateway/dialects/ollama/response';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Obj = Record<string, any>;

const DIALECTS = join(__dirname, '..', '..', '..', '..', 'test', 'fixtures', 'dialects');
const CASES = ['text', 'parallel-tool-calls', 'thinking', 'image-input'] as const;

function fixture(name: string, dialect = 'ollama'): Obj {
  return JSON.parse(readFileSync(join(DIALECTS, dialect, `${name}.response.json`), 'utf8')) as Obj;
}

const usage = (input: number, output: number) => ({
  ...EMPTY_USAGE,
  inputTokens: input,
  outputTokens: output,
});
const seconds = (iso: string): number => Math.floor(Date.parse(iso) / 1000);

const EXPECTED: Record<(typeof CASES)[number], CanonicalResponse> = {
  text: {
    id: '',
    model: 'qwen3:8b',
    parts: [
      { type: 'text', text: 'The capital of France is Paris — famous for the Eiffel Tower.' },
    ],
    stopReason: 'stop',
    usage: usage(48, 16),
    created: seconds('2025-07-16T16:05:01Z'),
  },
  'parallel-tool-calls': {
    id: '',
    model: 'qwen3:8b',
    parts: [
      { type: 'text', text: "I'll check the current weather and the local time in Paris." },
      {
        type: 'tool_call',
        id: 'call_7x2kq9vd',
        name: 'get_weather',
        arguments: '{"city":"Paris","unit":"celsius"}',
      },
      {
        type: 'tool_call',
        id: 'call_m4pz1ht8',
        name: 'get_time',
        arguments: '{"timezone":"Europe/Paris"}',
      },
    ],
    // Ollama says "stop" after tool calls; the calls win.
    stopReason: 'tool_calls',
    usage: usage(312, 64),
    created: seconds('2025-07-16T16:05:04Z'),
  },
  thinking: {
    id: '',
    model: 'qwen3:8b',
    parts: [
      {
        type: 'thinking',
        text: '391 is odd and its digit sum is 13, so neither 2 nor 3 divides it. Its square root is just under 20, so I only need to try primes up to 19. 391 ÷ 17 = 23 exactly, so 391 = 17 × 23 and it is composite.',
        origin: 'ollama',
      },
      { type: 'text', text: 'No — 391 is not prime, because 391 = 17 × 23.' },
    ],
    stopReason: 'stop',
    usage: usage(23, 118),
    created: seconds('2025-07-16T16:05:06Z'),
  },
  'image-input': {
    id: '',
    model: 'qwen2.5vl:7b',
    parts: [
      {
        type: 'text',
        text: 'The first image shows a red square and the second shows a blue circle, both on a white background.',
      },
    ],
    stopReason: 'stop',
    usage: usage(1214, 23),
    created: seconds('2025-07-16T16:05:09Z'),
  },
};

/**
 * What the canonical form carries of an Ollama body: everything but the durations (written as 0)
 * and the sub-second part of `created_at`.
 */
function semantics(body: Obj): Obj {
  return {
    ...body,
    created_at: new Date(seconds(body.created_at as string) * 1000).toISOString(),
    total_duration: 0,
    load_duration: 0,
    prompt_eval_duration: 0,
    eval_duration: 0,
  };
}

function chat(extra: Obj = {}, message: Obj = { role: 'assistant', content: 'hi' }): Obj {
  return {
    model: 'qwen3:8b',
    created_at: '2025-07-16T16:05:01.8Z',
    message,
    done: true,
    done_reason: 'stop',
    prompt_eval_count: 3,
    eval_count: 2,
    ...extra,
  };
}

function canonical(extra: Partial<CanonicalResponse> = {}): CanonicalResponse {
  return { id: '', model: 'm', parts: [], stopReason: 'stop', usage: { ...EMPTY_USAGE }, ...extra };
}

describe(fromOllamaResponse.name, () => {
  describe.each(CASES)('golden fixture %s', (name) => {
    it('reads into the expected canonical response', () => {
      expect(fromOllamaResponse(fixture(name))).toStrictEqual(EXPECTED[name]);
    });

    it('round-trips through toOllamaResponse with the same meaning', () => {
      const body = fixture(name);
      const out = toOllamaResponse(fromOllamaResponse(body));
      expect(out).toStrictEqual(semantics(body));
      // Ollama's field order, as the fixture (and the server) writes it.
      expect(Object.keys(out)).toEqual(Object.keys(body));
    });
  });

  it.each<[unknown, boolean, StopReason]>([
    ['stop', false, 'stop'],
    ['stop', true, 'tool_calls'],
    ['length', false, 'length'],
    ['length', true, 'length'],
    ['load', false, 'stop'],
    ['unload', false, 'stop'],
    [undefined, false, 'stop'],
    [undefined, true, 'tool_calls'],
  ])('reads done_reason %p (tool calls: %p) as %s', (reason, withCalls, want) => {
    const message = {
      role: 'assistant',
      content: '',
      ...(withCalls ? { tool_calls: [{ function: { name: 'f', arguments: {} } }] } : {}),
    };
    expect(fromOllamaResponse(chat({ done_reason: reason }, message)).stopReason).toBe(want);
  });

  it('numbers calls without an id call_0, call_1 and keeps string arguments verbatim', () => {
    const res = fromOllamaResponse(
      chat(
        {},
        {
          role: 'assistant',
          content: '',
          tool_calls: [
            { function: { name: 'a', arguments: { x: [1, { y: null }] } } },
            { function: { name: 'b', arguments: '{"raw": true}' } },
            { function: { name: 'c' } },
            'junk',
          ],
        },
      ),
    );
    expect(res.parts).toStrictEqual([
      { type: 'tool_call', id: 'call_0', name: 'a', arguments: '{"x":[1,{"y":null}]}' },
      { type: 'tool_call', id: 'call_1', name: 'b', arguments: '{"raw": true}' },
      { type: 'tool_call', id: 'call_2', name: 'c', arguments: '{}' },
    ]);
  });

  it('reads missing counts as zero and an unparsable created_at as no created time', () => {
    const res = fromOllamaResponse({
      model: 'm',
      created_at: 'yesterday',
      message: { role: 'assistant', content: 'x' },
      done: true,
    });
    expect(res.usage).toStrictEqual(EMPTY_USAGE);
    expect(res).not.toHaveProperty('created');
  });

  it.each([null, 'text', [], { model: 'm', done: true }, { message: 'hi' }])(
    'answers an upstream error (502), not a TypeError, for the body %p',
    (body) => {
      let caught: unknown;
      try {
        fromOllamaResponse(body);
      } catch (e) {
        caught = e;
      }
      expect(caught).toBeInstanceOf(AppError);
      expect((caught as AppError).status).toBe(502);
    },
  );

  it('turns an {"error"} body into a 502 carrying the message', () => {
    let caught: unknown;
    try {
      fromOllamaResponse({ error: 'model "qwen9" not found, try pulling it first' });
    } catch (e) {
      caught = e;
    }
    expect(caught).toBeInstanceOf(AppError);
    expect((caught as AppError).status).toBe(502);
    expect((caught as AppError).message).toContain('model "qwen9" not found');
  });
});

describe(toOllamaResponse.name, () => {
  it('renders an Anthropic answer: its thinking as message.thinking, tool inputs as objects', () => {
    const body = toOllamaResponse(
      fromAnthropicResponse(fixture('parallel-tool-calls', 'anthropic')),
    );
    expect(body.message).toStrictEqual({
      role: 'assistant',
      content: "I'll check the current weather and the local time in Paris.",
      tool_calls: [
        {
          id: 'toolu_01A7mK3xQpVz9RtL2wYc5HsN',
          function: {
            index: 0,
            name: 'get_weather',
            arguments: { city: 'Paris', unit: 'celsius' },
          },
        },
        {
          id: 'toolu_01Dn4Gj8TbWq6XeP1vKr3ZuF',
          function: { index: 1, name: 'get_time', arguments: { timezone: 'Europe/Paris' } },
        },
      ],
    });
    expect(body.done_reason).toBe('stop');
    // Ollama's prompt count is the whole prompt: cache reads are part of it.
    expect(body.prompt_eval_count).toBe(24 + 1462);
    expect(body.eval_count).toBe(118);

    const thinking = toOllamaResponse(fromAnthropicResponse(fixture('thinking', 'anthropic')));
    expect((thinking.message as Obj).thinking).toMatch(/^391 is odd/);
  });

  it('writes arguments that are not a JSON object as {}', () => {
    const body = toOllamaResponse(
      canonical({
        stopReason: 'tool_calls',
        parts: [
          { type: 'tool_call', id: 'c1', name: 'f', arguments: '{"a":' },
          { type: 'tool_call', id: 'c2', name: 'g', arguments: '[1,2]' },
        ],
      }),
    );
    expect((body.message as Obj).tool_calls).toStrictEqual([
      { id: 'c1', function: { index: 0, name: 'f', arguments: {} } },
      { id: 'c2', function: { index: 1, name: 'g', arguments: {} } },
    ]);
  });

  it.each<[StopReason, string]>([
    ['stop', 'stop'],
    ['tool_calls', 'stop'],
    ['length', 'length'],
    ['content_filter', 'content_filter'],
    ['error', 'error'],
  ])('writes stop reason %s as done_reason %s, which reads back the same', (reason, wire) => {
    const body = toOllamaResponse(canonical({ stopReason: reason }));
    expect(body.done).toBe(true);
    expect(body.done_reason).toBe(wire);
    if (reason !== 'tool_calls') {
      expect(fromOllamaResponse(body).stopReason).toBe(reason);
    }
  });

  it('writes created_at from the created time, or the current time', () => {
    expect(toOllamaResponse(canonical({ created: 1752681901 })).created_at).toBe(
      '2025-07-16T16:05:01.000Z',
    );
    const before = Date.now();
    const now = Date.parse(toOllamaResponse(canonical()).created_at as string);
    expect(now).toBeGreaterThanOrEqual(before - 1000);
    expect(now).toBeLessThanOrEqual(Date.now() + 1000);
  });
});
