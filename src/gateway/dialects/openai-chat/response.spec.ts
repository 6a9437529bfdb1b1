import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { AppError } from '@/common/errors/app-error';
import type { CanonicalResponse } from '@/gateway/dialects/canonical';
import {
  fromOpenAiChatResponse,
  toOpenAiChatResponse,
} from '@/gateway/dialects/openai-chat/response';

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

function fixture(name: string): Obj {
  return JSON.parse(readFileSync(join(FIXTURES, `${name}.response.json`), 'utf8')) as Obj;
}

const REASONING =
  '391 is odd and its digit sum is 13, so neither 2 nor 3 divides it. Its square root is just under 20, so I only need to try primes up to 19. 391 ÷ 17 = 23 exactly, so 391 = 17 × 23 and it is composite.';

describe(fromOpenAiChatResponse.name, () => {
  it('reads the text fixture: answer text, stop, usage without cache', () => {
    expect(fromOpenAiChatResponse(fixture('text'))).toEqual<CanonicalResponse>({
      id: 'chatcmpl-BuQ7aT2kXv9mLp3RzN8cYh1JdWe4F',
      model: 'gpt-4o-2024-08-06',
      created: 1752681603,
      parts: [
        { type: 'text', text: 'The capital of France is Paris — famous for the Eiffel Tower.' },
      ],
      stopReason: 'stop',
      usage: {
        inputTokens: 41,
        outputTokens: 15,
        cacheReadTokens: 0,
        cacheCreationTokens: 0,
        reasoningTokens: 0,
      },
    });
  });

  it('reads the parallel-tool-calls fixture: text, then both calls with exact argument strings; cached tokens leave the input count', () => {
    const res = fromOpenAiChatResponse(fixture('parallel-tool-calls'));
    expect(res.parts).toEqual([
      { type: 'text', text: "I'll check the current weather and the local time in Paris." },
      {
        type: 'tool_call',
        id: 'call_Vb3mQ8xLkT2pWn7sRf4hJd9Z',
        name: 'get_weather',
        arguments: '{"city":"Paris","unit":"celsius"}',
      },
      {
        type: 'tool_call',
        id: 'call_Ha6yN1cUe5rGq0tXo8vKm3Ls',
        name: 'get_time',
        arguments: '{"timezone":"Europe/Paris"}',
      },
    ]);
    expect(res.stopReason).toBe('tool_calls');
    // prompt_tokens 1187 includes the 1024 cached ones.
    expect(res.usage).toEqual({
      inputTokens: 163,
      outputTokens: 71,
      cacheReadTokens: 1024,
      cacheCreationTokens: 0,
      reasoningTokens: 0,
    });
  });

  it('reads the thinking fixture: reasoning_content first as this dialect’s thinking, reasoning tokens counted', () => {
    const res = fromOpenAiChatResponse(fixture('thinking'));
    expect(res.parts).toEqual([
      { type: 'thinking', text: REASONING, origin: 'openai-chat' },
      { type: 'text', text: 'No — 391 is not prime, because 391 = 17 × 23.' },
    ]);
    expect(res.stopReason).toBe('stop');
    expect(res.usage).toEqual({
      inputTokens: 19,
      outputTokens: 96,
      cacheReadTokens: 0,
      cacheCreationTokens: 0,
      reasoningTokens: 74,
    });
  });

  it('reads the image-input fixture', () => {
    const res = fromOpenAiChatResponse(fixture('image-input'));
    expect(res.parts).toEqual([
      {
        type: 'text',
        text: 'The first image shows a red square and the second shows a blue circle, both on a white background.',
      },
    ]);
    expect(res.usage.inputTokens).toBe(353);
    expect(res.usage.outputTokens).toBe(22);
  });

  it.each([
    ['stop', 'stop'],
    ['length', 'length'],
    ['tool_calls', 'tool_calls'],
    ['function_call', 'tool_calls'],
    ['content_filter', 'content_filter'],
  ])('maps finish_reason %s to %s', (finish, stop) => {
    const body = fixture('text');
    body.choices[0].finish_reason = finish;
    expect(fromOpenAiChatResponse(body).stopReason).toBe(stop);
  });

  it('reports tool_calls when a compatible server says stop for a message with tool calls', () => {
    const body = fixture('parallel-tool-calls');
    body.choices[0].finish_reason = 'stop';
    expect(fromOpenAiChatResponse(body).stopReason).toBe('tool_calls');
  });

  it('uses DeepSeek prompt_cache_hit_tokens when cached_tokens is absent', () => {
    const body = fixture('thinking');
    body.usage = { prompt_tokens: 100, completion_tokens: 5, prompt_cache_hit_tokens: 64 };
    expect(fromOpenAiChatResponse(body).usage).toMatchObject({
      inputTokens: 36,
      cacheReadTokens: 64,
    });
  });

  it.each([
    ['null', null],
    ['an array', []],
    ['no choices', { id: 'x', choices: [] }],
    ['a choice without message', { id: 'x', choices: [{ index: 0 }] }],
  ])('answers an upstream body with %s with a 502 AppError, not a TypeError', (_t, body) => {
    let caught: unknown;
    try {
      fromOpenAiChatResponse(body);
    } catch (e) {
      caught = e;
    }
    expect(caught).toBeInstanceOf(AppError);
    expect((caught as AppError).status).toBe(502);
  });
});

describe(toOpenAiChatResponse.name, () => {
  it.each(CASES)('keeps the semantics of the %s fixture through a round trip', (name) => {
    const body = fixture(name);
    const out = toOpenAiChatResponse(fromOpenAiChatResponse(body)) as Obj;
    expect(out.object).toBe('chat.completion');
    expect(out.id).toMatch(/^chatcmpl-/);
    if ((body.id as string).startsWith('chatcmpl-')) {
      expect(out.id).toBe(body.id);
    }
    expect(out.created).toBe(body.created);
    expect(out.model).toBe(body.model);
    expect(out.choices).toHaveLength(1);
    const [choice] = out.choices as Obj[];
    const want = body.choices[0] as Obj;
    expect(choice.index).toBe(0);
    expect(choice.finish_reason).toBe(want.finish_reason);
    expect(choice.logprobs).toBeNull();
    expect(choice.message.role).toBe('assistant');
    expect(choice.message.content).toBe(want.message.content);
    expect(choice.message.tool_calls).toEqual(want.message.tool_calls);
    expect(choice.message.reasoning_content).toBe(want.message.reasoning_content);
    expect(out.usage).toEqual({
      prompt_tokens: body.usage.prompt_tokens,
      completion_tokens: body.usage.completion_tokens,
      total_tokens: body.usage.total_tokens,
      prompt_tokens_details: { cached_tokens: body.usage.prompt_tokens_details.cached_tokens },
      completion_tokens_details: {
        reasoning_tokens: body.usage.completion_tokens_details.reasoning_tokens,
      },
    });
  });

  it('counts cache reads and writes back into prompt_tokens and gives a non-chatcmpl id that prefix', () => {
    const out = toOpenAiChatResponse({
      id: 'msg_01XFDUDYJgAACzvnptvVoYEL',
      model: 'claude-sonnet-4',
      parts: [
        { type: 'thinking', text: 'hmm', signature: 'EqQBCkYI', origin: 'anthropic' },
        { type: 'thinking', text: '', redacted: 'EmwKAhgB', origin: 'anthropic' },
        { type: 'text', text: 'Hello' },
        { type: 'text', text: ' there' },
      ],
      stopReason: 'length',
      usage: {
        inputTokens: 10,
        outputTokens: 5,
        cacheReadTokens: 100,
        cacheCreationTokens: 50,
        reasoningTokens: 2,
      },
    }) as Obj;
    expect(out.id).toBe('chatcmpl-msg_01XFDUDYJgAACzvnptvVoYEL');
    expect(typeof out.created).toBe('number');
    expect(out.choices[0]).toEqual({
      index: 0,
      message: {
        role: 'assistant',
        content: 'Hello there',
        refusal: null,
        reasoning_content: 'hmm',
      },
      logprobs: null,
      finish_reason: 'length',
    });
    expect(out.usage).toEqual({
      prompt_tokens: 160,
      completion_tokens: 5,
      total_tokens: 165,
      prompt_tokens_details: { cached_tokens: 100 },
      completion_tokens_details: { reasoning_tokens: 2 },
    });
  });

  it('writes content null when the answer is only tool calls', () => {
    const out = toOpenAiChatResponse({
      id: 'chatcmpl-1',
      model: 'm',
      parts: [{ type: 'tool_call', id: 'toolu_1', name: 'f', arguments: '{"a": 1}' }],
      stopReason: 'tool_calls',
      usage: {
        inputTokens: 1,
        outputTokens: 1,
        cacheReadTokens: 0,
        cacheCreationTokens: 0,
        reasoningTokens: 0,
      },
    }) as Obj;
    expect(out.choices[0].message).toEqual({
      role: 'assistant',
      content: null,
      refusal: null,
      tool_calls: [
        { id: 'toolu_1', type: 'function', function: { name: 'f', arguments: '{"a": 1}' } },
      ],
    });
    expect(out.choices[0].finish_reason).toBe('tool_calls');
  });
});
