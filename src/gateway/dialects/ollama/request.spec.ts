import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { AppError } from '@/common/errors/app-error';
import type { CanonicalRequest, CanonicalTool } from '@/gateway/dialects/canonical';
import { fromOllamaRequest, toOllamaRequest } from '@/gateway/dialects/ollama/request';
import { fromOpenAiChatRequest } from '@/gateway/dialects/openai-chat/request';
import { prng, thrown } from '@/gateway/dialects/shared/chunking.testing';

// Fixture JSON is read and mutated field by field; typing every wire shape here adds nothing.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Obj = Record<string, any>;

const DIALECTS = join(__dirname, '..', '..', '..', '..', 'test', 'fixtures', 'dialects');
const CASES = ['text', 'parallel-tool-calls', 'thinking', 'image-input'] as const;

function fixture(name: string, dialect = 'ollama'): Obj {
  return JSON.parse(readFileSync(join(DIALECTS, dialect, `${name}.request.json`), 'utf8')) as Obj;
}

const RED_SQUARE_PNG =
  'iVBORw0KGgoAAAANSUhEUgAAABAAAAAQCAIAAACQkWg2AAAAHElEQVR42mP4TyJgoKOGO3JyeNCohuGjYdAkPgDPRz+r5YFUNwAAAABJRU5ErkJggg==';
const BLUE_CIRCLE_PNG =
  'iVBORw0KGgoAAAANSUhEUgAAABAAAAAQCAIAAACQkWg2AAAANUlEQVR42mP4TyJgoIIGOZs7cERAA7JSXNoYCKpG00OuBvyqkfUMXg20DyVyIo6cpEGT1AoAei42D3eghTgAAAAASUVORK5CYII=';

const b64 = (bytes: number[] | string): string =>
  (typeof bytes === 'string' ? Buffer.from(bytes, 'latin1') : Buffer.from(bytes)).toString(
    'base64',
  );
const JPEG = b64([0xff, 0xd8, 0xff, 0xe0, 0x00, 0x10, 0x4a, 0x46, 0x49, 0x46, 0x00, 0x01]);
const GIF = b64('GIF89a\x10\x00\x10\x00\x80\x00');
const WEBP = b64('RIFF\x24\x00\x00\x00WEBPVP8 ');
const UNKNOWN = b64('just some bytes!');

const WEATHER_TOOL: CanonicalTool = {
  name: 'get_weather',
  description: 'Get the current weather for a city.',
  parameters: {
    type: 'object',
    properties: {
      city: { type: 'string', description: 'City name, e.g. Paris' },
      unit: { type: 'string', enum: ['celsius', 'fahrenheit'], description: 'Temperature unit' },
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
    model: 'qwen3:8b',
    system: [{ type: 'text', text: 'You are a concise geography assistant.' }],
    messages: [
      { role: 'user', parts: [{ type: 'text', text: 'Hi!' }] },
      { role: 'assistant', parts: [{ type: 'text', text: 'Hello! What would you like to know?' }] },
      { role: 'user', parts: [{ type: 'text', text: 'What is the capital of France?' }] },
    ],
    stream: true,
    temperature: 0.2,
    maxTokens: 1024,
    reasoning: { budgetTokens: 0 },
  },
  'parallel-tool-calls': {
    model: 'qwen3:8b',
    system: [
      {
        type: 'text',
        text: 'You are a helpful assistant. Call tools in parallel when the calls are independent.',
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
    stream: true,
    tools: [WEATHER_TOOL, TIME_TOOL],
    temperature: 0.2,
    reasoning: { budgetTokens: 0 },
  },
  thinking: {
    model: 'qwen3:8b',
    system: [],
    messages: [
      {
        role: 'user',
        parts: [{ type: 'text', text: 'Is 391 a prime number? Answer in one sentence.' }],
      },
    ],
    stream: true,
    maxTokens: 4096,
    reasoning: { includeThoughts: true },
  },
  'image-input': {
    model: 'qwen2.5vl:7b',
    system: [],
    messages: [
      {
        role: 'user',
        parts: [
          { type: 'text', text: 'What shape and colour is in each of these two images?' },
          {
            type: 'image',
            source: { kind: 'base64', mediaType: 'image/png', data: RED_SQUARE_PNG },
          },
          {
            type: 'image',
            source: { kind: 'base64', mediaType: 'image/png', data: BLUE_CIRCLE_PNG },
          },
        ],
      },
    ],
    stream: true,
    temperature: 0.2,
  },
};

/** The fields of an Ollama body the canonical form carries (`keep_alive` has no place). */
function semantics(body: Obj): Obj {
  const { keep_alive: _keepAlive, ...rest } = body;
  return rest;
}

const user = (content: string, extra: Obj = {}): Obj => ({ role: 'user', content, ...extra });

function minimal(extra: Obj = {}): Obj {
  return { model: 'qwen3:8b', messages: [user('Hi')], ...extra };
}

function canonical(extra: Partial<CanonicalRequest> = {}): CanonicalRequest {
  return {
    model: 'qwen3:8b',
    system: [],
    messages: [{ role: 'user', parts: [{ type: 'text', text: 'Hi' }] }],
    stream: false,
    ...extra,
  };
}

describe(fromOllamaRequest.name, () => {
  describe.each(CASES)('golden fixture %s', (name) => {
    it('reads into the expected canonical request', () => {
      expect(fromOllamaRequest(fixture(name))).toStrictEqual(EXPECTED[name]);
    });

    it('round-trips through toOllamaRequest with the same meaning', () => {
      const body = fixture(name);
      const req = fromOllamaRequest(body);
      const out = toOllamaRequest(req);
      expect(out).toStrictEqual(semantics(body));
      expect(fromOllamaRequest(out)).toStrictEqual(req);
    });
  });

  it('streams when stream is absent, as Ollama does, and not when it is false', () => {
    expect(fromOllamaRequest(minimal()).stream).toBe(true);
    expect(fromOllamaRequest(minimal({ stream: null })).stream).toBe(true);
    expect(fromOllamaRequest(minimal({ stream: false })).stream).toBe(false);
  });

  it.each([
    ['PNG', RED_SQUARE_PNG, 'image/png'],
    ['JPEG', JPEG, 'image/jpeg'],
    ['GIF', GIF, 'image/gif'],
    ['WEBP', WEBP, 'image/webp'],
    ['unrecognised', UNKNOWN, 'image/png'],
  ])('sniffs the media type of a %s image from its magic bytes', (_kind, data, mediaType) => {
    const req = fromOllamaRequest(minimal({ messages: [user('Look', { images: [data] })] }));
    expect(req.messages[0].parts).toStrictEqual([
      { type: 'text', text: 'Look' },
      { type: 'image', source: { kind: 'base64', mediaType, data } },
    ]);
  });

  it('accepts an image given as a data: URL, keeping its media type, and an image-only message', () => {
    const req = fromOllamaRequest(
      minimal({ messages: [user('', { images: [`data:image/jpeg;base64,${JPEG}`] })] }),
    );
    expect(req.messages[0].parts).toStrictEqual([
      { type: 'image', source: { kind: 'base64', mediaType: 'image/jpeg', data: JPEG } },
    ]);
  });

  it('reads a tool loop: thinking, ids made up in order, results matched by name, then by order', () => {
    const req = fromOllamaRequest(
      minimal({
        messages: [
          user('Weather and time in Paris?'),
          {
            role: 'assistant',
            content: '',
            thinking: 'Two independent lookups.',
            tool_calls: [
              { function: { name: 'get_weather', arguments: { city: 'Paris', unit: 'celsius' } } },
              { function: { index: 1, name: 'get_time', arguments: { timezone: 'Europe/Paris' } } },
            ],
          },
          // Answered out of order: tool_name says which call each result belongs to.
          { role: 'tool', tool_name: 'get_time', content: '14:05' },
          { role: 'tool', content: '{"temp":21}' },
          { role: 'assistant', content: 'It is 21 °C and 14:05.' },
          user('And in Tokyo?'),
          {
            role: 'assistant',
            tool_calls: [{ id: 'call_keep', function: { name: 'get_time', arguments: {} } }],
          },
          { role: 'tool', tool_call_id: 'call_keep', content: '21:05' },
        ],
      }),
    );
    expect(req.messages).toStrictEqual([
      { role: 'user', parts: [{ type: 'text', text: 'Weather and time in Paris?' }] },
      {
        role: 'assistant',
        parts: [
          { type: 'thinking', text: 'Two independent lookups.', origin: 'ollama' },
          {
            type: 'tool_call',
            id: 'call_0',
            name: 'get_weather',
            arguments: '{"city":"Paris","unit":"celsius"}',
          },
          {
            type: 'tool_call',
            id: 'call_1',
            name: 'get_time',
            arguments: '{"timezone":"Europe/Paris"}',
          },
        ],
      },
      {
        role: 'tool',
        parts: [
          {
            type: 'tool_result',
            toolCallId: 'call_1',
            name: 'get_time',
            content: [{ type: 'text', text: '14:05' }],
          },
          {
            type: 'tool_result',
            toolCallId: 'call_0',
            name: 'get_weather',
            content: [{ type: 'text', text: '{"temp":21}' }],
          },
        ],
      },
      { role: 'assistant', parts: [{ type: 'text', text: 'It is 21 °C and 14:05.' }] },
      { role: 'user', parts: [{ type: 'text', text: 'And in Tokyo?' }] },
      {
        role: 'assistant',
        parts: [{ type: 'tool_call', id: 'call_keep', name: 'get_time', arguments: '{}' }],
      },
      {
        role: 'tool',
        parts: [
          {
            type: 'tool_result',
            toolCallId: 'call_keep',
            name: 'get_time',
            content: [{ type: 'text', text: '21:05' }],
          },
        ],
      },
    ]);
  });

  it('gives the same ids to the same body every time', () => {
    const body = minimal({
      messages: [
        user('x'),
        { role: 'assistant', tool_calls: [{ function: { name: 'f', arguments: {} } }] },
        { role: 'tool', content: 'r' },
      ],
    });
    expect(fromOllamaRequest(body)).toStrictEqual(fromOllamaRequest(structuredClone(body)));
  });

  it('sends a tool loop back to Ollama with argument objects, tool_name and the call ids', () => {
    const body = minimal({
      messages: [
        user('Weather?'),
        {
          role: 'assistant',
          content: 'Checking.',
          thinking: 'Call it.',
          tool_calls: [
            { id: 'call_a', function: { name: 'get_weather', arguments: { city: 'Paris' } } },
          ],
        },
        { role: 'tool', content: 'Sunny', tool_name: 'get_weather', tool_call_id: 'call_a' },
        user('Thanks'),
      ],
      stream: false,
    });
    expect(toOllamaRequest(fromOllamaRequest(body))).toStrictEqual(body);
  });

  it('reads every option, format and think value', () => {
    const req = fromOllamaRequest(
      minimal({
        options: {
          temperature: 0,
          top_p: 0.9,
          top_k: 40,
          num_predict: 99,
          stop: ['END', '###'],
          seed: 7,
          num_ctx: 8192,
        },
        format: { type: 'object', properties: { a: { type: 'string' } } },
        think: 'high',
      }),
    );
    expect(req).toMatchObject({
      temperature: 0,
      topP: 0.9,
      topK: 40,
      maxTokens: 99,
      stop: ['END', '###'],
      responseFormat: {
        type: 'json_schema',
        schema: { type: 'object', properties: { a: { type: 'string' } } },
      },
      reasoning: { effort: 'high', includeThoughts: true },
    });
    expect(fromOllamaRequest(minimal({ format: 'json' })).responseFormat).toEqual({
      type: 'json_object',
    });
    expect(fromOllamaRequest(minimal({ format: '' }))).not.toHaveProperty('responseFormat');
    expect(fromOllamaRequest(minimal({ options: { stop: 'END' } })).stop).toEqual(['END']);
    // -1 (unlimited) and -2 (fill the context) are not a maximum.
    expect(fromOllamaRequest(minimal({ options: { num_predict: -1 } }))).not.toHaveProperty(
      'maxTokens',
    );
    expect(fromOllamaRequest(minimal({ think: 'low' })).reasoning).toEqual({
      effort: 'low',
      includeThoughts: true,
    });
  });

  it('makes every system message part of the system prompt, in order, skipping empty ones', () => {
    const req = fromOllamaRequest(
      minimal({
        messages: [
          { role: 'system', content: 'Rule one.' },
          user('Go.'),
          { role: 'system', content: '' },
          { role: 'system', content: 'Rule two.' },
        ],
      }),
    );
    expect(req.system.map((p) => p.text)).toEqual(['Rule one.', 'Rule two.']);
    expect(req.messages.map((m) => m.role)).toEqual(['user']);
  });

  describe('malformed bodies', () => {
    const withMessage = (m: unknown): Obj => minimal({ messages: [m] });
    const assistantCall = (tc: unknown): Obj =>
      withMessage({ role: 'assistant', content: '', tool_calls: [tc] });
    const cases: [string, unknown, string][] = [
      ['a non-object body (null)', null, 'body'],
      ['a non-object body (array)', [minimal()], 'body'],
      ['a non-object body (string)', 'hello', 'body'],
      ['a missing model', { messages: [user('x')] }, 'model'],
      ['a model that is not a string', minimal({ model: 7 }), 'model'],
      ['missing messages', { model: 'qwen3:8b' }, 'messages'],
      ['messages that are not an array', minimal({ messages: 'Hi' }), 'messages'],
      ['messages that are an object', minimal({ messages: { role: 'user' } }), 'messages'],
      ['empty messages', minimal({ messages: [] }), 'messages'],
      ['a message that is not an object', withMessage('Hi'), 'messages[0]'],
      ['a message without role', withMessage({ content: 'Hi' }), 'messages[0].role'],
      [
        'the role wizard',
        minimal({ messages: [user('a'), { role: 'wizard', content: 'b' }] }),
        'messages[1].role',
      ],
      [
        'content that is a number',
        withMessage({ role: 'user', content: 5 }),
        'messages[0].content',
      ],
      [
        'content that is an array of parts',
        withMessage({ role: 'user', content: [{ type: 'text', text: 'x' }] }),
        'messages[0].content',
      ],
      [
        'images that are not an array',
        withMessage(user('x', { images: RED_SQUARE_PNG })),
        'messages[0].images',
      ],
      [
        'images holding a number',
        withMessage(user('x', { images: [RED_SQUARE_PNG, 42] })),
        'messages[0].images[1]',
      ],
      [
        'images holding an object',
        withMessage(user('x', { images: [{ data: RED_SQUARE_PNG }] })),
        'messages[0].images[0]',
      ],
      [
        'an image given by URL',
        withMessage(user('x', { images: ['https://example.com/images/red-square.png'] })),
        'messages[0].images[0]',
      ],
      ['an empty image', withMessage(user('x', { images: [''] })), 'messages[0].images[0]'],
      [
        'images on a system message',
        withMessage({ role: 'system', content: 's', images: [RED_SQUARE_PNG] }),
        'messages[0].images',
      ],
      [
        'thinking that is not a string',
        withMessage({ role: 'assistant', content: '', thinking: ['a'] }),
        'messages[0].thinking',
      ],
      [
        'tool_calls that are not an array',
        withMessage({ role: 'assistant', content: '', tool_calls: {} }),
        'messages[0].tool_calls',
      ],
      ['a tool call that is not an object', assistantCall('f'), 'messages[0].tool_calls[0]'],
      [
        'a tool call without function',
        assistantCall({ name: 'f', arguments: {} }),
        'messages[0].tool_calls[0].function',
      ],
      [
        'a tool call without a name',
        assistantCall({ function: { arguments: {} } }),
        'messages[0].tool_calls[0].function.name',
      ],
      [
        'tool call arguments as a JSON string',
        assistantCall({ function: { name: 'f', arguments: '{"city":"Paris"}' } }),
        'messages[0].tool_calls[0].function.arguments',
      ],
      [
        'tool call arguments as an array',
        assistantCall({ function: { name: 'f', arguments: ['Paris'] } }),
        'messages[0].tool_calls[0].function.arguments',
      ],
      [
        'tool_calls on a user message',
        withMessage(user('x', { tool_calls: [{ function: { name: 'f', arguments: {} } }] })),
        'messages[0].tool_calls',
      ],
      [
        'a tool result without a call to answer',
        minimal({ messages: [user('x'), { role: 'tool', content: 'r' }] }),
        'messages[1]',
      ],
      [
        'a numeric tool_name',
        minimal({
          messages: [
            { role: 'assistant', tool_calls: [{ function: { name: 'f', arguments: {} } }] },
            { role: 'tool', content: 'r', tool_name: 1 },
          ],
        }),
        'messages[1].tool_name',
      ],
      ['tools that are not an array', minimal({ tools: { type: 'function' } }), 'tools'],
      [
        'a tool of another type',
        minimal({ tools: [{ type: 'retrieval', function: { name: 'f' } }] }),
        'tools[0].type',
      ],
      [
        'a tool without function name',
        minimal({ tools: [{ type: 'function', function: { parameters: {} } }] }),
        'tools[0].function.name',
      ],
      [
        'tool parameters that are a string',
        minimal({ tools: [{ type: 'function', function: { name: 'f', parameters: '{}' } }] }),
        'tools[0].function.parameters',
      ],
      ['options that are a string', minimal({ options: 'fast' }), 'options'],
      [
        'options.temperature "hot"',
        minimal({ options: { temperature: 'hot' } }),
        'options.temperature',
      ],
      ['a string options.top_p', minimal({ options: { top_p: '0.9' } }), 'options.top_p'],
      ['a fractional options.top_k', minimal({ options: { top_k: 1.5 } }), 'options.top_k'],
      ['a negative options.top_k', minimal({ options: { top_k: -1 } }), 'options.top_k'],
      [
        'a fractional options.num_predict',
        minimal({ options: { num_predict: 10.5 } }),
        'options.num_predict',
      ],
      ['options.stop with a number', minimal({ options: { stop: ['a', 1] } }), 'options.stop'],
      ['an unknown format', minimal({ format: 'yaml' }), 'format'],
      ['a numeric format', minimal({ format: 1 }), 'format'],
      ['an unknown think level', minimal({ think: 'extreme' }), 'think'],
      ['a numeric think', minimal({ think: 1 }), 'think'],
      ['a non-boolean stream', minimal({ stream: 'yes' }), 'stream'],
    ];

    it.each(cases)('rejects %s with a 400 naming the field', (_title, body, param) => {
      const e = thrown(() => fromOllamaRequest(body));
      expect(e).toBeInstanceOf(AppError);
      const err = e as AppError;
      expect(err.status).toBe(400);
      expect(err.details).toEqual({ param });
      if (param !== 'body') {
        // Ollama's error body is only {"error": message}: the message must name the field.
        expect(err.message).toContain(param);
      }
    });

    it('answers any mutation of the fixtures with a canonical request or a 400, never a TypeError', () => {
      const junk: unknown[] = [
        null,
        0,
        -1,
        1.5,
        '',
        'x',
        true,
        [],
        {},
        [null],
        [{}],
        { type: 'x' },
      ];
      const rand = prng(20250716);
      let rejected = 0;
      for (const name of CASES) {
        const original = fixture(name);
        for (let i = 0; i < 300; i++) {
          const body = structuredClone(original);
          // Walk to a random node and replace one of its fields (or an array item) with junk.
          let node: Obj = body;
          for (;;) {
            const keys = Object.keys(node);
            const key = keys[Math.floor(rand() * keys.length)];
            const child = node[key];
            if (child !== null && typeof child === 'object' && rand() < 0.7) {
              node = child as Obj;
              continue;
            }
            node[key] = junk[Math.floor(rand() * junk.length)];
            break;
          }
          try {
            toOllamaRequest(fromOllamaRequest(body));
          } catch (e) {
            expect(e).toBeInstanceOf(AppError);
            expect((e as AppError).status).toBe(400);
            rejected++;
          }
        }
      }
      expect(rejected).toBeGreaterThan(100);
    });
  });
});

describe(toOllamaRequest.name, () => {
  it('always states stream, since an Ollama body without it streams', () => {
    expect(toOllamaRequest(canonical({ stream: false })).stream).toBe(false);
    expect(toOllamaRequest(canonical({ stream: true })).stream).toBe(true);
  });

  it('refuses an image given by URL with a 400 that says Ollama needs base64', () => {
    const req = fromOpenAiChatRequest(fixture('image-input', 'openai-chat'));
    const e = thrown(() => toOllamaRequest(req));
    expect(e).toBeInstanceOf(AppError);
    const err = e as AppError;
    expect(err.status).toBe(400);
    expect(err.code).toBe('UNSUPPORTED_IMAGE_URL');
    expect(err.message).toContain('base64');
    expect(err.message).toContain('https://example.com/images/red-square.png');
    expect(err.details).toEqual({ param: 'messages' });
  });

  it('refuses an image URL inside a tool result too', () => {
    const e = thrown(() =>
      toOllamaRequest(
        canonical({
          messages: [
            {
              role: 'assistant',
              parts: [{ type: 'tool_call', id: 'c', name: 'shot', arguments: '{}' }],
            },
            {
              role: 'tool',
              parts: [
                {
                  type: 'tool_result',
                  toolCallId: 'c',
                  content: [{ type: 'image', source: { kind: 'url', url: 'https://x/y.png' } }],
                },
              ],
            },
          ],
        }),
      ),
    );
    expect((e as AppError).code).toBe('UNSUPPORTED_IMAGE_URL');
  });

  it('sends an OpenAI tool loop as Ollama messages: argument objects, tool_name, user text after', () => {
    const req = fromOpenAiChatRequest({
      model: 'gpt-4o',
      messages: [
        { role: 'system', content: 'Be brief.' },
        { role: 'developer', content: 'Use tools.' },
        { role: 'user', content: 'Weather?' },
        {
          role: 'assistant',
          content: null,
          reasoning_content: 'foreign reasoning',
          tool_calls: [
            {
              id: 'call_A',
              type: 'function',
              function: { name: 'get_weather', arguments: '{"city":' },
            },
            {
              id: 'call_B',
              type: 'function',
              function: { name: 'get_time', arguments: '{"tz":"UTC"}' },
            },
          ],
        },
        { role: 'tool', tool_call_id: 'call_A', content: 'Sunny' },
        { role: 'tool', tool_call_id: 'call_B', content: [{ type: 'text', text: '12:00' }] },
        {
          role: 'user',
          content: [
            { type: 'text', text: 'And this?' },
            { type: 'text', text: 'Second line.' },
            { type: 'image_url', image_url: { url: `data:image/png;base64,${BLUE_CIRCLE_PNG}` } },
          ],
        },
      ],
      stream: true,
    });
    expect(toOllamaRequest(req).messages).toStrictEqual([
      { role: 'system', content: 'Be brief.' },
      { role: 'system', content: 'Use tools.' },
      { role: 'user', content: 'Weather?' },
      {
        role: 'assistant',
        content: '',
        tool_calls: [
          // Arguments that are not valid JSON become {} (Ollama wants an object).
          { id: 'call_A', function: { name: 'get_weather', arguments: {} } },
          { id: 'call_B', function: { name: 'get_time', arguments: { tz: 'UTC' } } },
        ],
      },
      { role: 'tool', content: 'Sunny', tool_name: 'get_weather', tool_call_id: 'call_A' },
      { role: 'tool', content: '12:00', tool_name: 'get_time', tool_call_id: 'call_B' },
      { role: 'user', content: 'And this?\nSecond line.', images: [BLUE_CIRCLE_PNG] },
    ]);
  });

  it('maps reasoning to think: zero budget off, effort as a level, a budget or thoughts on as true', () => {
    const think = (reasoning: CanonicalRequest['reasoning']): unknown =>
      toOllamaRequest(canonical({ reasoning })).think;
    expect(think({ budgetTokens: 0 })).toBe(false);
    expect(think({ effort: 'medium' })).toBe('medium');
    expect(think({ effort: 'minimal' })).toBe('low');
    expect(think({ budgetTokens: 2048, includeThoughts: true })).toBe(true);
    expect(think({ includeThoughts: true })).toBe(true);
    expect(think(undefined)).toBeUndefined();
    expect(think({ includeThoughts: false })).toBeUndefined();
  });

  it('maps response formats, sampling and stop sequences to format and options', () => {
    const body = toOllamaRequest(
      canonical({
        responseFormat: { type: 'json_schema', name: 'x', schema: { type: 'object' } },
        temperature: 0.5,
        topP: 0.8,
        topK: 20,
        maxTokens: 300,
        stop: ['END'],
        user: 'user-42',
        parallelToolCalls: false,
      }),
    );
    expect(body).toStrictEqual({
      model: 'qwen3:8b',
      messages: [{ role: 'user', content: 'Hi' }],
      format: { type: 'object' },
      stream: false,
      options: { temperature: 0.5, top_p: 0.8, top_k: 20, num_predict: 300, stop: ['END'] },
    });
    expect(toOllamaRequest(canonical({ responseFormat: { type: 'json_object' } })).format).toBe(
      'json',
    );
    expect(toOllamaRequest(canonical({ responseFormat: { type: 'text' } }))).not.toHaveProperty(
      'format',
    );
  });

  it('sends no tools when tool_choice is none, and all of them otherwise', () => {
    const tools = [WEATHER_TOOL, TIME_TOOL];
    expect(toOllamaRequest(canonical({ tools, toolChoice: 'none' }))).not.toHaveProperty('tools');
    expect(
      (toOllamaRequest(canonical({ tools, toolChoice: { name: 'get_time' } })).tools as Obj[])
        .length,
    ).toBe(2);
  });

  it('keeps only Ollama thinking in the history it sends to Ollama', () => {
    const body = toOllamaRequest(
      canonical({
        messages: [
          { role: 'user', parts: [{ type: 'text', text: 'q' }] },
          {
            role: 'assistant',
            parts: [
              { type: 'thinking', text: 'signed', signature: 'c2ln', origin: 'anthropic' },
              { type: 'thinking', text: 'mine', origin: 'ollama' },
              { type: 'text', text: 'a' },
            ],
          },
        ],
      }),
    );
    expect((body.messages as Obj[])[1]).toStrictEqual({
      role: 'assistant',
      content: 'a',
      thinking: 'mine',
    });
  });
});
