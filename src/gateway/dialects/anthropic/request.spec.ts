import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { AppError } from '@/common/errors/app-error';
import {
  DEFAULT_MAX_TOKENS,
  DEFAULT_MAX_TOKENS_WITH_TOOLS,
  MAX_TOKENS_CAP,
  fromAnthropicRequest,
  toAnthropicRequest,
} from '@/gateway/dialects/anthropic/request';
import {
  effortToBudget,
  type CanonicalRequest,
  type CanonicalTool,
  type Part,
} from '@/gateway/dialects/canonical';

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

function fixture(name: string): Obj {
  return JSON.parse(readFileSync(join(FIXTURES, name), 'utf8')) as Obj;
}

const RED_SQUARE_URL = 'https://example.com/images/red-square.png';
const BLUE_CIRCLE_PNG =
  'iVBORw0KGgoAAAANSUhEUgAAABAAAAAQCAIAAACQkWg2AAAANUlEQVR42mP4TyJgoIIGOZs7cERAA7JSXNoYCKpG00OuBvyqkfUMXg20DyVyIo6cpEGT1AoAei42D3eghTgAAAAASUVORK5CYII=';

const WEATHER_TOOL: CanonicalTool = {
  name: 'get_weather',
  description: 'Get the current weather for a city.',
  parameters: {
    type: 'object',
    properties: {
      city: { type: 'string', description: 'City name, e.g. Paris' },
      unit: {
        type: 'string',
        enum: ['celsius', 'fahrenheit'],
        description: 'Temperature unit',
      },
    },
    required: ['city'],
  },
};
const TIME_TOOL: CanonicalTool = {
  name: 'get_time',
  description: 'Get the current local time in an IANA timezone.',
  parameters: {
    type: 'object',
    properties: {
      timezone: { type: 'string', description: 'IANA timezone name, e.g. Europe/Paris' },
    },
    required: ['timezone'],
  },
};

/** What each golden request must read as. */
const EXPECTED: Record<(typeof CASES)[number], CanonicalRequest> = {
  text: {
    model: 'claude-sonnet-4-5',
    system: [{ type: 'text', text: 'You are a concise geography assistant.' }],
    messages: [
      { role: 'user', parts: [{ type: 'text', text: 'Hi!' }] },
      { role: 'assistant', parts: [{ type: 'text', text: 'Hello! What would you like to know?' }] },
      { role: 'user', parts: [{ type: 'text', text: 'What is the capital of France?' }] },
    ],
    maxTokens: 1024,
    temperature: 0.2,
    stream: true,
  },
  'parallel-tool-calls': {
    model: 'claude-sonnet-4-5',
    system: [
      {
        type: 'text',
        text: 'You are a helpful assistant. Call tools in parallel when the calls are independent.',
        cacheControl: { type: 'ephemeral' },
      },
    ],
    messages: [
      {
        role: 'user',
        parts: [
          {
            type: 'text',
            text: "What's the weather in Paris right now, and what time is it there?",
          },
        ],
      },
    ],
    tools: [WEATHER_TOOL, TIME_TOOL],
    toolChoice: 'auto',
    parallelToolCalls: true,
    maxTokens: 1024,
    stream: true,
  },
  thinking: {
    model: 'claude-sonnet-4-5',
    system: [],
    messages: [
      {
        role: 'user',
        parts: [{ type: 'text', text: 'Is 391 a prime number? Answer in one sentence.' }],
      },
    ],
    maxTokens: 4096,
    reasoning: { budgetTokens: 2048, includeThoughts: true },
    stream: true,
  },
  'image-input': {
    model: 'claude-sonnet-4-5',
    system: [],
    messages: [
      {
        role: 'user',
        parts: [
          { type: 'text', text: 'What shape and colour is in each of these two images?' },
          { type: 'image', source: { kind: 'url', url: RED_SQUARE_URL } },
          {
            type: 'image',
            source: { kind: 'base64', mediaType: 'image/png', data: BLUE_CIRCLE_PNG },
          },
        ],
      },
    ],
    maxTokens: 1024,
    stream: true,
  },
};

/** Anthropic's shorthands spelled out: a string system or content is one text block. */
function normalise(body: Obj): Obj {
  const out: Obj = { ...body };
  if (typeof out.system === 'string') {
    out.system = [{ type: 'text', text: out.system }];
  }
  out.messages = (out.messages as Obj[]).map((m) =>
    typeof m.content === 'string' ? { ...m, content: [{ type: 'text', text: m.content }] } : m,
  );
  return out;
}

function minimal(extra: Obj = {}): Obj {
  return {
    model: 'claude-sonnet-4-5',
    max_tokens: 1024,
    messages: [{ role: 'user', content: 'Hi' }],
    ...extra,
  };
}

function canonical(extra: Partial<CanonicalRequest> = {}): CanonicalRequest {
  return {
    model: 'claude-sonnet-4-5',
    system: [],
    messages: [{ role: 'user', parts: [{ type: 'text', text: 'Hi' }] }],
    stream: false,
    ...extra,
  };
}

/** Runs `fromAnthropicRequest` expecting a validation failure; returns the AppError. */
function rejection(body: unknown): AppError {
  try {
    fromAnthropicRequest(body);
  } catch (e) {
    expect(e).toBeInstanceOf(AppError);
    return e as AppError;
  }
  throw new Error('fromAnthropicRequest accepted the body');
}

describe(fromAnthropicRequest.name, () => {
  describe.each(CASES)('golden fixture %s', (name) => {
    it('reads into the expected canonical request', () => {
      expect(fromAnthropicRequest(fixture(`${name}.request.json`))).toStrictEqual(EXPECTED[name]);
    });

    it('round-trips through toAnthropicRequest with the same meaning', () => {
      const body = fixture(`${name}.request.json`);
      expect(toAnthropicRequest(fromAnthropicRequest(body))).toStrictEqual(normalise(body));
    });
  });

  it('splits tool results out of a user turn into tool messages, in order, with their names', () => {
    const req = fromAnthropicRequest(
      minimal({
        messages: [
          { role: 'user', content: 'Weather and time in Paris?' },
          {
            role: 'assistant',
            content: [
              { type: 'thinking', thinking: 'Two tools.', signature: 'c2ln+/=' },
              { type: 'redacted_thinking', data: 'cmVkYWN0ZWQ=' },
              { type: 'text', text: 'Checking.' },
              { type: 'tool_use', id: 'toolu_A', name: 'get_weather', input: { city: 'Paris' } },
              { type: 'tool_use', id: 'toolu_B', name: 'get_time', input: {} },
            ],
          },
          {
            role: 'user',
            content: [
              { type: 'tool_result', tool_use_id: 'toolu_A', content: 'Sunny, 21 °C' },
              {
                type: 'tool_result',
                tool_use_id: 'toolu_B',
                content: [{ type: 'text', text: 'clock down' }],
                is_error: true,
              },
              { type: 'text', text: 'Thanks!', cache_control: { type: 'ephemeral' } },
            ],
          },
        ],
      }),
    );
    expect(req.messages).toStrictEqual([
      { role: 'user', parts: [{ type: 'text', text: 'Weather and time in Paris?' }] },
      {
        role: 'assistant',
        parts: [
          { type: 'thinking', text: 'Two tools.', signature: 'c2ln+/=', origin: 'anthropic' },
          { type: 'thinking', text: '', redacted: 'cmVkYWN0ZWQ=', origin: 'anthropic' },
          { type: 'text', text: 'Checking.' },
          { type: 'tool_call', id: 'toolu_A', name: 'get_weather', arguments: '{"city":"Paris"}' },
          { type: 'tool_call', id: 'toolu_B', name: 'get_time', arguments: '{}' },
        ],
      },
      {
        role: 'tool',
        parts: [
          {
            type: 'tool_result',
            toolCallId: 'toolu_A',
            name: 'get_weather',
            content: [{ type: 'text', text: 'Sunny, 21 °C' }],
          },
        ],
      },
      {
        role: 'tool',
        parts: [
          {
            type: 'tool_result',
            toolCallId: 'toolu_B',
            name: 'get_time',
            content: [{ type: 'text', text: 'clock down' }],
            isError: true,
          },
        ],
      },
      {
        role: 'user',
        parts: [{ type: 'text', text: 'Thanks!', cacheControl: { type: 'ephemeral' } }],
      },
    ]);
  });

  it('sends a tool conversation back to Anthropic as it came', () => {
    const body = minimal({
      messages: [
        { role: 'user', content: [{ type: 'text', text: 'Weather?' }] },
        {
          role: 'assistant',
          content: [
            { type: 'thinking', thinking: 'Call it.', signature: 'c2ln+/=' },
            { type: 'tool_use', id: 'toolu_A', name: 'get_weather', input: { city: 'Paris' } },
          ],
        },
        {
          role: 'user',
          content: [
            {
              type: 'tool_result',
              tool_use_id: 'toolu_A',
              content: [{ type: 'text', text: 'Sunny' }],
            },
            { type: 'text', text: 'And tomorrow?' },
          ],
        },
      ],
      tools: [{ name: 'get_weather', input_schema: { type: 'object' } }],
      stream: false,
    });
    expect(toAnthropicRequest(fromAnthropicRequest(body))).toStrictEqual(body);
  });

  it('reads sampling, stop sequences, metadata.user_id and every tool_choice', () => {
    const req = fromAnthropicRequest(
      minimal({
        top_p: 0.9,
        top_k: 40,
        stop_sequences: ['END'],
        metadata: { user_id: 'user-42' },
        tools: [{ name: 'get_time', input_schema: { type: 'object' } }],
        tool_choice: { type: 'tool', name: 'get_time', disable_parallel_tool_use: true },
      }),
    );
    expect(req).toMatchObject({
      topP: 0.9,
      topK: 40,
      stop: ['END'],
      user: 'user-42',
      toolChoice: { name: 'get_time' },
      parallelToolCalls: false,
    });
    expect(fromAnthropicRequest(minimal({ tool_choice: { type: 'any' } })).toolChoice).toBe(
      'required',
    );
    expect(fromAnthropicRequest(minimal({ tool_choice: { type: 'none' } })).toolChoice).toBe(
      'none',
    );
    expect(fromAnthropicRequest(minimal({ tool_choice: { type: 'auto' } }))).not.toHaveProperty(
      'parallelToolCalls',
    );
  });

  it('reads disabled thinking as no reasoning and adaptive thinking as reasoning without a budget', () => {
    expect(fromAnthropicRequest(minimal({ thinking: { type: 'disabled' } }))).not.toHaveProperty(
      'reasoning',
    );
    expect(fromAnthropicRequest(minimal({ thinking: { type: 'adaptive' } })).reasoning).toEqual({
      includeThoughts: true,
    });
  });

  it('keeps cache_control on system text blocks and an empty string system as no system', () => {
    expect(fromAnthropicRequest(minimal({ system: '' })).system).toStrictEqual([]);
    expect(
      fromAnthropicRequest(
        minimal({
          system: [
            { type: 'text', text: 'A' },
            { type: 'text', text: 'B', cache_control: { type: 'ephemeral', ttl: '1h' } },
          ],
        }),
      ).system,
    ).toStrictEqual([
      { type: 'text', text: 'A' },
      { type: 'text', text: 'B', cacheControl: { type: 'ephemeral', ttl: '1h' } },
    ]);
  });

  describe('rejects a malformed body with a 400 naming the field', () => {
    const block = (b: unknown, role = 'user'): Obj =>
      minimal({ messages: [{ role, content: [b] }] });
    const cases: [string, unknown, string][] = [
      ['a null body', null, 'body'],
      ['an array body', [], 'body'],
      ['a string body', 'hello', 'body'],
      ['a missing model', { max_tokens: 1, messages: [{ role: 'user', content: 'x' }] }, 'model'],
      ['a numeric model', minimal({ model: 42 }), 'model'],
      ['an empty model', minimal({ model: '' }), 'model'],
      ['missing messages', minimal({ messages: undefined }), 'messages'],
      ['empty messages', minimal({ messages: [] }), 'messages'],
      ['messages as a string', minimal({ messages: 'hi' }), 'messages'],
      ['a message that is not an object', minimal({ messages: ['hi'] }), 'messages[0]'],
      [
        'a system role',
        minimal({ messages: [{ role: 'system', content: 'x' }] }),
        'messages[0].role',
      ],
      ['a tool role', minimal({ messages: [{ role: 'tool', content: 'x' }] }), 'messages[0].role'],
      ['a missing role', minimal({ messages: [{ content: 'x' }] }), 'messages[0].role'],
      [
        'numeric content',
        minimal({ messages: [{ role: 'user', content: 42 }] }),
        'messages[0].content',
      ],
      [
        'object content',
        minimal({ messages: [{ role: 'user', content: { type: 'text', text: 'x' } }] }),
        'messages[0].content',
      ],
      ['missing content', minimal({ messages: [{ role: 'user' }] }), 'messages[0].content'],
      ['a hologram content block', block({ type: 'hologram' }), 'messages[0].content[0].type'],
      ['a content block without type', block({ text: 'x' }), 'messages[0].content[0].type'],
      ['a null content block', block(null), 'messages[0].content[0]'],
      ['a text block without text', block({ type: 'text' }), 'messages[0].content[0].text'],
      [
        'a text block with a string cache_control',
        block({ type: 'text', text: 'x', cache_control: 'ephemeral' }),
        'messages[0].content[0].cache_control',
      ],
      ['an image without source', block({ type: 'image' }), 'messages[0].content[0].source'],
      [
        'an image with a file source',
        block({ type: 'image', source: { type: 'file', file_id: 'file_1' } }),
        'messages[0].content[0].source.type',
      ],
      [
        'a base64 image without media_type',
        block({ type: 'image', source: { type: 'base64', data: 'AAAA' } }),
        'messages[0].content[0].source.media_type',
      ],
      [
        'a url image without url',
        block({ type: 'image', source: { type: 'url' } }),
        'messages[0].content[0].source.url',
      ],
      [
        'tool_use in a user message',
        block({ type: 'tool_use', id: 't', name: 'f', input: {} }),
        'messages[0].content[0].type',
      ],
      [
        'tool_result in an assistant message',
        block({ type: 'tool_result', tool_use_id: 't' }, 'assistant'),
        'messages[0].content[0].type',
      ],
      [
        'tool_use without id',
        block({ type: 'tool_use', name: 'f', input: {} }, 'assistant'),
        'messages[0].content[0].id',
      ],
      [
        'tool_use with string input',
        block({ type: 'tool_use', id: 't', name: 'f', input: '{}' }, 'assistant'),
        'messages[0].content[0].input',
      ],
      [
        'tool_result without tool_use_id',
        block({ type: 'tool_result', content: 'x' }),
        'messages[0].content[0].tool_use_id',
      ],
      [
        'tool_result with numeric content',
        block({ type: 'tool_result', tool_use_id: 't', content: 42 }),
        'messages[0].content[0].content',
      ],
      [
        'tool_result with a hologram inside',
        block({ type: 'tool_result', tool_use_id: 't', content: [{ type: 'hologram' }] }),
        'messages[0].content[0].content[0].type',
      ],
      [
        'tool_result with a string is_error',
        block({ type: 'tool_result', tool_use_id: 't', is_error: 'yes' }),
        'messages[0].content[0].is_error',
      ],
      [
        'thinking without text',
        block({ type: 'thinking', signature: 's' }, 'assistant'),
        'messages[0].content[0].thinking',
      ],
      [
        'redacted_thinking without data',
        block({ type: 'redacted_thinking' }, 'assistant'),
        'messages[0].content[0].data',
      ],
      ['missing max_tokens', minimal({ max_tokens: undefined }), 'max_tokens'],
      ['zero max_tokens', minimal({ max_tokens: 0 }), 'max_tokens'],
      ['negative max_tokens', minimal({ max_tokens: -5 }), 'max_tokens'],
      ['fractional max_tokens', minimal({ max_tokens: 1.5 }), 'max_tokens'],
      ['string max_tokens', minimal({ max_tokens: '1024' }), 'max_tokens'],
      ['tools as an object', minimal({ tools: { name: 'f' } }), 'tools'],
      ['a tool without name', minimal({ tools: [{ input_schema: {} }] }), 'tools[0].name'],
      ['a tool without input_schema', minimal({ tools: [{ name: 'f' }] }), 'tools[0].input_schema'],
      [
        'a tool with a string input_schema',
        minimal({ tools: [{ name: 'f', input_schema: '{}' }] }),
        'tools[0].input_schema',
      ],
      [
        'a server tool',
        minimal({ tools: [{ type: 'web_search_20250305', name: 'web_search' }] }),
        'tools[0].type',
      ],
      ['a string temperature', minimal({ temperature: '0.2' }), 'temperature'],
      ['a NaN-like temperature', minimal({ temperature: {} }), 'temperature'],
      ['a string top_p', minimal({ top_p: 'high' }), 'top_p'],
      ['a fractional top_k', minimal({ top_k: 1.5 }), 'top_k'],
      ['a string top_k', minimal({ top_k: '40' }), 'top_k'],
      ['a string stop_sequences', minimal({ stop_sequences: 'END' }), 'stop_sequences'],
      ['numeric stop_sequences', minimal({ stop_sequences: [1] }), 'stop_sequences'],
      ['a string stream', minimal({ stream: 'yes' }), 'stream'],
      ['a string thinking', minimal({ thinking: 'on' }), 'thinking'],
      [
        'thinking without budget',
        minimal({ thinking: { type: 'enabled' } }),
        'thinking.budget_tokens',
      ],
      [
        'thinking with a string budget',
        minimal({ thinking: { type: 'enabled', budget_tokens: '2048' } }),
        'thinking.budget_tokens',
      ],
      ['an unknown thinking type', minimal({ thinking: { type: 'maybe' } }), 'thinking.type'],
      ['a string tool_choice', minimal({ tool_choice: 'auto' }), 'tool_choice'],
      [
        'an unknown tool_choice type',
        minimal({ tool_choice: { type: 'some' } }),
        'tool_choice.type',
      ],
      [
        'tool_choice tool without name',
        minimal({ tool_choice: { type: 'tool' } }),
        'tool_choice.name',
      ],
      [
        'a string disable_parallel_tool_use',
        minimal({ tool_choice: { type: 'auto', disable_parallel_tool_use: 'no' } }),
        'tool_choice.disable_parallel_tool_use',
      ],
      ['a numeric system', minimal({ system: 42 }), 'system'],
      ['an image block in system', minimal({ system: [{ type: 'image' }] }), 'system[0].type'],
      ['a string metadata', minimal({ metadata: 'x' }), 'metadata'],
      ['a numeric metadata.user_id', minimal({ metadata: { user_id: 5 } }), 'metadata.user_id'],
    ];

    it.each(cases)('%s', (_title, body, param) => {
      const err = rejection(body);
      expect(err.status).toBe(400);
      expect(err.details).toEqual({ param });
      expect(err.message).toContain(param);
    });
  });
});

describe(toAnthropicRequest.name, () => {
  it('defaults max_tokens to 64000, or 32000 with tools, and caps it', () => {
    expect(toAnthropicRequest(canonical()).max_tokens).toBe(DEFAULT_MAX_TOKENS);
    expect(DEFAULT_MAX_TOKENS).toBe(64000);
    expect(toAnthropicRequest(canonical({ tools: [WEATHER_TOOL] })).max_tokens).toBe(
      DEFAULT_MAX_TOKENS_WITH_TOOLS,
    );
    expect(DEFAULT_MAX_TOKENS_WITH_TOOLS).toBe(32000);
    expect(toAnthropicRequest(canonical({ maxTokens: 500 })).max_tokens).toBe(500);
    expect(toAnthropicRequest(canonical({ maxTokens: 10_000_000 })).max_tokens).toBe(
      MAX_TOKENS_CAP,
    );
  });

  it('merges consecutive same-role messages and puts tool results first in their user turn', () => {
    const body = toAnthropicRequest(
      canonical({
        messages: [
          { role: 'user', parts: [{ type: 'text', text: 'a' }] },
          { role: 'user', parts: [{ type: 'text', text: 'b' }] },
          {
            role: 'assistant',
            parts: [{ type: 'tool_call', id: 'call_1', name: 'f', arguments: '{"x":1}' }],
          },
          {
            role: 'assistant',
            parts: [{ type: 'tool_call', id: 'call_2', name: 'g', arguments: '' }],
          },
          { role: 'user', parts: [{ type: 'text', text: 'note before results' }] },
          {
            role: 'tool',
            parts: [
              {
                type: 'tool_result',
                toolCallId: 'call_1',
                content: [{ type: 'text', text: 'r1' }],
              },
            ],
          },
          {
            role: 'tool',
            parts: [{ type: 'tool_result', toolCallId: 'call_2', content: [], isError: true }],
          },
        ],
      }),
    );
    expect(body.messages).toStrictEqual([
      {
        role: 'user',
        content: [
          { type: 'text', text: 'a' },
          { type: 'text', text: 'b' },
        ],
      },
      {
        role: 'assistant',
        content: [
          { type: 'tool_use', id: 'call_1', name: 'f', input: { x: 1 } },
          { type: 'tool_use', id: 'call_2', name: 'g', input: {} },
        ],
      },
      {
        role: 'user',
        content: [
          { type: 'tool_result', tool_use_id: 'call_1', content: [{ type: 'text', text: 'r1' }] },
          { type: 'tool_result', tool_use_id: 'call_2', is_error: true },
          { type: 'text', text: 'note before results' },
        ],
      },
    ]);
  });

  it('sends invalid or non-object tool arguments as an empty input instead of throwing', () => {
    const body = toAnthropicRequest(
      canonical({
        messages: [
          { role: 'user', parts: [{ type: 'text', text: 'go' }] },
          {
            role: 'assistant',
            parts: [
              { type: 'tool_call', id: 'call_1', name: 'f', arguments: '{"city": "Par' },
              { type: 'tool_call', id: 'call_2', name: 'f', arguments: '[1,2]' },
            ],
          },
        ],
      }),
    );
    const assistant = (body.messages as Obj[])[1];
    expect(assistant.content).toStrictEqual([
      { type: 'tool_use', id: 'call_1', name: 'f', input: {} },
      { type: 'tool_use', id: 'call_2', name: 'f', input: {} },
    ]);
  });

  it('makes tool ids Anthropic-safe the same way in tool_use and tool_result', () => {
    const body = toAnthropicRequest(
      canonical({
        messages: [
          { role: 'user', parts: [{ type: 'text', text: 'go' }] },
          {
            role: 'assistant',
            parts: [{ type: 'tool_call', id: 'fn:get.weather#0', name: 'f', arguments: '{}' }],
          },
          {
            role: 'tool',
            parts: [{ type: 'tool_result', toolCallId: 'fn:get.weather#0', content: [] }],
          },
        ],
      }),
    );
    const [, assistant, user] = body.messages as { content: Obj[] }[];
    expect(assistant.content[0].id).toBe('fn_get_weather_0');
    expect(user.content[0].tool_use_id).toBe('fn_get_weather_0');
  });

  it('keeps only Anthropic thinking that is signed or redacted, signature byte for byte', () => {
    const signature = 'EqQBCgIYAhIM1gbcDa9GJwZA2b3hGgxBdjrkzLoky3dl1pkiMOYds+/=';
    const body = toAnthropicRequest(
      canonical({
        messages: [
          { role: 'user', parts: [{ type: 'text', text: 'q' }] },
          {
            role: 'assistant',
            parts: [
              { type: 'thinking', text: 'signed', signature, origin: 'anthropic' },
              { type: 'thinking', text: '', redacted: 'REDACTED==', origin: 'anthropic' },
              { type: 'thinking', text: 'unsigned', origin: 'anthropic' },
              { type: 'thinking', text: 'gemini', signature: 'Z2VtaW5p', origin: 'gemini' },
              { type: 'thinking', text: 'deepseek', origin: 'openai-chat' },
              { type: 'text', text: 'answer' },
            ],
          },
          {
            role: 'assistant',
            parts: [{ type: 'thinking', text: 'only foreign', origin: 'gemini' }],
          },
        ],
      }),
    );
    expect(body.messages).toStrictEqual([
      { role: 'user', content: [{ type: 'text', text: 'q' }] },
      {
        role: 'assistant',
        content: [
          { type: 'thinking', thinking: 'signed', signature },
          { type: 'redacted_thinking', data: 'REDACTED==' },
          { type: 'text', text: 'answer' },
        ],
      },
    ]);
  });

  it('writes images as base64 and url sources', () => {
    const body = toAnthropicRequest(
      canonical({
        messages: [
          {
            role: 'user',
            parts: [
              { type: 'image', source: { kind: 'url', url: RED_SQUARE_URL }, detail: 'high' },
              { type: 'image', source: { kind: 'base64', mediaType: 'image/png', data: 'AAAA' } },
            ],
          },
        ],
      }),
    );
    expect((body.messages as Obj[])[0].content).toStrictEqual([
      { type: 'image', source: { type: 'url', url: RED_SQUARE_URL } },
      { type: 'image', source: { type: 'base64', media_type: 'image/png', data: 'AAAA' } },
    ]);
  });

  it('turns a reasoning effort into a thinking budget and drops temperature and top_k', () => {
    const body = toAnthropicRequest(
      canonical({
        maxTokens: 32000,
        temperature: 0.7,
        topK: 5,
        topP: 0.5,
        reasoning: { effort: 'high' },
      }),
    );
    expect(body.thinking).toStrictEqual({ type: 'enabled', budget_tokens: effortToBudget('high') });
    expect(body).not.toHaveProperty('temperature');
    expect(body).not.toHaveProperty('top_k');
    expect(body).not.toHaveProperty('top_p');
    expect(body.max_tokens).toBe(32000);
  });

  it('raises max_tokens above the thinking budget when it would not exceed it', () => {
    const body = toAnthropicRequest(
      canonical({ maxTokens: 1000, reasoning: { budgetTokens: 4000 } }),
    );
    expect(body.thinking).toStrictEqual({ type: 'enabled', budget_tokens: 4000 });
    expect(body.max_tokens).toBeGreaterThan(4000);
  });

  it('sends no thinking for a zero budget and keeps sampling then', () => {
    const body = toAnthropicRequest(
      canonical({ temperature: 1.7, topK: 5, reasoning: { budgetTokens: 0 } }),
    );
    expect(body).not.toHaveProperty('thinking');
    expect(body.temperature).toBe(1);
    expect(body.top_k).toBe(5);
  });

  it('maps tool_choice and parallel tool calls back, and sends no tool_choice without tools', () => {
    const tools = [WEATHER_TOOL];
    expect(toAnthropicRequest(canonical({ tools, toolChoice: 'required' })).tool_choice).toEqual({
      type: 'any',
    });
    expect(toAnthropicRequest(canonical({ tools, toolChoice: 'none' })).tool_choice).toEqual({
      type: 'none',
    });
    expect(
      toAnthropicRequest(canonical({ tools, toolChoice: { name: 'get_weather' } })).tool_choice,
    ).toEqual({ type: 'tool', name: 'get_weather' });
    expect(toAnthropicRequest(canonical({ tools, parallelToolCalls: false })).tool_choice).toEqual({
      type: 'auto',
      disable_parallel_tool_use: true,
    });
    expect(toAnthropicRequest(canonical({ toolChoice: 'required' }))).not.toHaveProperty(
      'tool_choice',
    );
  });

  it('keeps a forced tool choice and drops thinking, which Anthropic refuses together', () => {
    const body = toAnthropicRequest(
      canonical({ tools: [WEATHER_TOOL], toolChoice: 'required', reasoning: { effort: 'low' } }),
    );
    expect(body.tool_choice).toEqual({ type: 'any' });
    expect(body).not.toHaveProperty('thinking');
  });

  it('sends no thinking when the last assistant tool turn has no signed thinking to open with', () => {
    const loop = (assistantParts: Part[]): CanonicalRequest =>
      canonical({
        reasoning: { effort: 'low' },
        temperature: 0.5,
        tools: [WEATHER_TOOL],
        messages: [
          { role: 'user', parts: [{ type: 'text', text: 'Weather?' }] },
          { role: 'assistant', parts: assistantParts },
          {
            role: 'tool',
            parts: [{ type: 'tool_result', toolCallId: 'call_1', content: [] }],
          },
        ],
      });
    const call: Part = { type: 'tool_call', id: 'call_1', name: 'get_weather', arguments: '{}' };
    const foreign = toAnthropicRequest(
      loop([{ type: 'thinking', text: 'from DeepSeek', origin: 'openai-chat' }, call]),
    );
    expect(foreign).not.toHaveProperty('thinking');
    expect(foreign.temperature).toBe(0.5);
    const signed = toAnthropicRequest(
      loop([{ type: 'thinking', text: 't', signature: 'c2ln', origin: 'anthropic' }, call]),
    );
    expect(signed.thinking).toEqual({ type: 'enabled', budget_tokens: effortToBudget('low') });
  });

  it('leaves response_format out without touching the system prompt', () => {
    const body = toAnthropicRequest(
      canonical({
        system: [{ type: 'text', text: 'Be brief.' }],
        responseFormat: { type: 'json_schema', schema: { type: 'object' } },
      }),
    );
    expect(body.system).toStrictEqual([{ type: 'text', text: 'Be brief.' }]);
    expect(JSON.stringify(body)).not.toMatch(/json_schema|response_format|output_config/);
  });

  it('writes stop sequences, the end user and a schema without type as an object schema', () => {
    const body = toAnthropicRequest(
      canonical({
        stop: ['END'],
        user: 'user-42',
        tools: [{ name: 'ping', parameters: {} }],
      }),
    );
    expect(body.stop_sequences).toEqual(['END']);
    expect(body.metadata).toEqual({ user_id: 'user-42' });
    expect(body.tools).toEqual([{ name: 'ping', input_schema: { type: 'object' } }]);
  });

  it('drops empty text blocks and messages left empty', () => {
    const body = toAnthropicRequest(
      canonical({
        system: [{ type: 'text', text: '' }],
        messages: [
          { role: 'user', parts: [{ type: 'text', text: 'hi' }] },
          { role: 'assistant', parts: [{ type: 'text', text: '' }] },
          { role: 'user', parts: [{ type: 'text', text: 'again' }] },
        ],
      }),
    );
    expect(body).not.toHaveProperty('system');
    expect(body.messages).toStrictEqual([
      {
        role: 'user',
        content: [
          { type: 'text', text: 'hi' },
          { type: 'text', text: 'again' },
        ],
      },
    ]);
  });
});
