import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { AppError } from '@/common/errors/app-error';
import type { CanonicalRequest, ImagePart } from '@/gateway/dialects/canonical';
import { fromOpenAiChatRequest, toOpenAiChatRequest } from '@/gateway/dialects/openai-chat/request';
import { prng, thrown } from '@/gateway/dialects/shared/chunking.testing';

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
  return JSON.parse(readFileSync(join(FIXTURES, `${name}.request.json`), 'utf8')) as Obj;
}

const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

describe(fromOpenAiChatRequest.name, () => {
  it('reads the text fixture: system prompt, alternating turns, sampling and stream flags', () => {
    const req = fromOpenAiChatRequest(fixture('text'));
    expect(req).toEqual<CanonicalRequest>({
      model: 'gpt-4o',
      system: [{ type: 'text', text: 'You are a concise geography assistant.' }],
      messages: [
        { role: 'user', parts: [{ type: 'text', text: 'Hi!' }] },
        {
          role: 'assistant',
          parts: [{ type: 'text', text: 'Hello! What would you like to know?' }],
        },
        { role: 'user', parts: [{ type: 'text', text: 'What is the capital of France?' }] },
      ],
      temperature: 0.2,
      maxTokens: 256,
      stream: true,
    });
  });

  it('reads the parallel-tool-calls fixture: tools with their JSON Schema, tool_choice, parallel flag', () => {
    const body = fixture('parallel-tool-calls');
    const req = fromOpenAiChatRequest(body);
    expect(req.system).toEqual([
      {
        type: 'text',
        text: 'You are a helpful assistant. Call tools in parallel when the calls are independent.',
      },
    ]);
    expect(req.messages).toEqual([
      {
        role: 'user',
        parts: [
          {
            type: 'text',
            text: "What's the weather in Paris right now, and what time is it there?",
          },
        ],
      },
    ]);
    expect(req.tools).toEqual([
      {
        name: 'get_weather',
        description: 'Get the current weather for a city.',
        parameters: body.tools[0].function.parameters,
      },
      {
        name: 'get_time',
        description: 'Get the current local time in an IANA timezone.',
        parameters: body.tools[1].function.parameters,
      },
    ]);
    expect(req.tools?.[0].parameters).toMatchObject({ required: ['city'] });
    expect(req.toolChoice).toBe('auto');
    expect(req.parallelToolCalls).toBe(true);
    expect(req.stream).toBe(true);
  });

  it('reads the thinking fixture: reasoning_effort becomes the canonical effort', () => {
    const req = fromOpenAiChatRequest(fixture('thinking'));
    expect(req.model).toBe('o4-mini');
    expect(req.system).toEqual([]);
    expect(req.reasoning).toEqual({ effort: 'medium' });
    expect(req.maxTokens).toBe(4096);
    expect(req.messages).toEqual([
      {
        role: 'user',
        parts: [{ type: 'text', text: 'Is 391 a prime number? Answer in one sentence.' }],
      },
    ]);
  });

  it('reads the image-input fixture: an https image by URL and a data: URL split into media type and base64', () => {
    const body = fixture('image-input');
    const req = fromOpenAiChatRequest(body);
    expect(req.messages).toHaveLength(1);
    const [text, byUrl, inline] = req.messages[0].parts;
    expect(text).toEqual({
      type: 'text',
      text: 'What shape and colour is in each of these two images?',
    });
    expect(byUrl).toEqual<ImagePart>({
      type: 'image',
      source: { kind: 'url', url: 'https://example.com/images/red-square.png' },
      detail: 'auto',
    });
    const dataUrl = body.messages[0].content[2].image_url.url as string;
    expect(inline).toEqual<ImagePart>({
      type: 'image',
      source: { kind: 'base64', mediaType: 'image/png', data: dataUrl.split(',')[1] },
      detail: 'low',
    });
    const data = (inline as ImagePart).source as { data: string };
    expect(Buffer.from(data.data, 'base64').subarray(0, 8)).toEqual(PNG_SIGNATURE);
  });

  it('maps developer messages to system and keeps several system texts in order', () => {
    const req = fromOpenAiChatRequest({
      model: 'm',
      messages: [
        { role: 'developer', content: 'Rule one.' },
        { role: 'system', content: [{ type: 'text', text: 'Rule two.' }] },
        { role: 'user', content: 'Go.' },
      ],
    });
    expect(req.system.map((p) => p.text)).toEqual(['Rule one.', 'Rule two.']);
    expect(req.messages.map((m) => m.role)).toEqual(['user']);
    expect(req.stream).toBe(false);
  });

  it('reads an assistant turn with reasoning_content, text and tool calls whose arguments stay verbatim', () => {
    const args = '{ "city" : "Paris",  "unit":"celsius" }';
    const req = fromOpenAiChatRequest({
      model: 'deepseek-reasoner',
      messages: [
        { role: 'user', content: 'Weather?' },
        {
          role: 'assistant',
          content: 'Checking.',
          reasoning_content: 'The user wants the weather.',
          tool_calls: [
            { id: 'call_a', type: 'function', function: { name: 'get_weather', arguments: args } },
            { id: 'call_b', type: 'function', function: { name: 'get_time', arguments: '{}' } },
          ],
        },
        { role: 'tool', tool_call_id: 'call_a', content: '18°C' },
        { role: 'tool', tool_call_id: 'call_b', content: [{ type: 'text', text: '14:05' }] },
        { role: 'user', content: 'Thanks.' },
      ],
    });
    expect(req.messages.map((m) => m.role)).toEqual(['user', 'assistant', 'tool', 'user']);
    expect(req.messages[1].parts).toEqual([
      { type: 'thinking', text: 'The user wants the weather.', origin: 'openai-chat' },
      { type: 'text', text: 'Checking.' },
      { type: 'tool_call', id: 'call_a', name: 'get_weather', arguments: args },
      { type: 'tool_call', id: 'call_b', name: 'get_time', arguments: '{}' },
    ]);
    // Consecutive tool messages answer one turn: one canonical message, names looked up by call id.
    expect(req.messages[2].parts).toEqual([
      {
        type: 'tool_result',
        toolCallId: 'call_a',
        name: 'get_weather',
        content: [{ type: 'text', text: '18°C' }],
      },
      {
        type: 'tool_result',
        toolCallId: 'call_b',
        name: 'get_time',
        content: [{ type: 'text', text: '14:05' }],
      },
    ]);
  });

  it('reads an assistant turn with only tool calls (content null) as tool-call parts only', () => {
    const req = fromOpenAiChatRequest({
      model: 'm',
      messages: [
        { role: 'user', content: 'x' },
        {
          role: 'assistant',
          content: null,
          tool_calls: [{ id: 'c1', type: 'function', function: { name: 'f', arguments: '{}' } }],
        },
      ],
    });
    expect(req.messages[1].parts).toEqual([
      { type: 'tool_call', id: 'c1', name: 'f', arguments: '{}' },
    ]);
  });

  it('reads tool_choice by name, stop as a string, max_tokens, user and every response_format', () => {
    const base = { model: 'm', messages: [{ role: 'user', content: 'x' }] };
    const req = fromOpenAiChatRequest({
      ...base,
      tool_choice: { type: 'function', function: { name: 'get_time' } },
      stop: 'END',
      max_tokens: 99,
      top_p: 0.9,
      user: 'user-42',
      response_format: {
        type: 'json_schema',
        json_schema: { name: 'answer', schema: { type: 'object' }, strict: true },
      },
    });
    expect(req.toolChoice).toEqual({ name: 'get_time' });
    expect(req.stop).toEqual(['END']);
    expect(req.maxTokens).toBe(99);
    expect(req.topP).toBe(0.9);
    expect(req.user).toBe('user-42');
    expect(req.responseFormat).toEqual({
      type: 'json_schema',
      name: 'answer',
      schema: { type: 'object' },
      strict: true,
    });
    expect(
      fromOpenAiChatRequest({ ...base, response_format: { type: 'json_object' } }).responseFormat,
    ).toEqual({ type: 'json_object' });
    expect(fromOpenAiChatRequest({ ...base, stop: ['a', 'b'] }).stop).toEqual(['a', 'b']);
    expect(
      fromOpenAiChatRequest({ ...base, max_tokens: 10, max_completion_tokens: 20 }).maxTokens,
    ).toBe(20);
  });

  it('reads reasoning_effort none as a zero budget and clamps xhigh to high', () => {
    const base = { model: 'm', messages: [{ role: 'user', content: 'x' }] };
    expect(fromOpenAiChatRequest({ ...base, reasoning_effort: 'none' }).reasoning).toEqual({
      budgetTokens: 0,
    });
    expect(fromOpenAiChatRequest({ ...base, reasoning_effort: 'xhigh' }).reasoning).toEqual({
      effort: 'high',
    });
  });

  describe('malformed bodies', () => {
    const ok = { model: 'gpt-4o', messages: [{ role: 'user', content: 'Hi' }] };
    const cases: [string, unknown, string][] = [
      ['a non-object body (null)', null, 'body'],
      ['a non-object body (array)', [ok], 'body'],
      ['a non-object body (string)', 'hello', 'body'],
      ['a missing model', { messages: ok.messages }, 'model'],
      ['a model that is not a string', { ...ok, model: 7 }, 'model'],
      ['missing messages', { model: 'gpt-4o' }, 'messages'],
      ['messages that are not an array', { ...ok, messages: 'Hi' }, 'messages'],
      ['a message that is not an object', { ...ok, messages: ['Hi'] }, 'messages[0]'],
      ['a message without role', { ...ok, messages: [{ content: 'Hi' }] }, 'messages[0].role'],
      [
        'an unknown role',
        {
          ...ok,
          messages: [
            { role: 'user', content: 'a' },
            { role: 'wizard', content: 'b' },
          ],
        },
        'messages[1].role',
      ],
      [
        'an unknown content part type',
        {
          ...ok,
          messages: [
            {
              role: 'user',
              content: [
                { type: 'text', text: 'a' },
                { type: 'audio_blob', data: 'AAAA' },
              ],
            },
          ],
        },
        'messages[0].content[1].type',
      ],
      [
        'content that is a number',
        { ...ok, messages: [{ role: 'user', content: 5 }] },
        'messages[0].content',
      ],
      [
        'an image with a non-https URL',
        {
          ...ok,
          messages: [
            { role: 'user', content: [{ type: 'image_url', image_url: { url: 'ftp://x/y.png' } }] },
          ],
        },
        'messages[0].content[0].image_url.url',
      ],
      [
        'a tool message without tool_call_id',
        { ...ok, messages: [{ role: 'tool', content: 'r' }] },
        'messages[0].tool_call_id',
      ],
      [
        'tool call arguments that are not a string',
        {
          ...ok,
          messages: [
            {
              role: 'assistant',
              tool_calls: [{ id: 'c', type: 'function', function: { name: 'f', arguments: {} } }],
            },
          ],
        },
        'messages[0].tool_calls[0].function.arguments',
      ],
      ['tools that are not an array', { ...ok, tools: { type: 'function' } }, 'tools'],
      [
        'a tool without function name',
        { ...ok, tools: [{ type: 'function', function: { parameters: {} } }] },
        'tools[0].function.name',
      ],
      ['an unknown tool_choice', { ...ok, tool_choice: 'sometimes' }, 'tool_choice'],
      ['a temperature that is a string', { ...ok, temperature: 'hot' }, 'temperature'],
      ['a stop list with a number', { ...ok, stop: ['a', 1] }, 'stop'],
      ['a fractional max_tokens', { ...ok, max_tokens: 1.5 }, 'max_tokens'],
      ['a non-boolean stream', { ...ok, stream: 'yes' }, 'stream'],
      ['an unknown reasoning_effort', { ...ok, reasoning_effort: 'extreme' }, 'reasoning_effort'],
      [
        'an unknown response_format type',
        { ...ok, response_format: { type: 'yaml' } },
        'response_format.type',
      ],
      ['n greater than 1', { ...ok, n: 3 }, 'n'],
    ];

    it.each(cases)('rejects %s with a 400 naming the field', (_title, body, param) => {
      const e = thrown(() => fromOpenAiChatRequest(body));
      expect(e).toBeInstanceOf(AppError);
      const err = e as AppError;
      expect(err.status).toBe(400);
      expect(err.details).toEqual({ param });
      if (param !== 'body') {
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
            fromOpenAiChatRequest(body);
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

describe(toOpenAiChatRequest.name, () => {
  it.each(CASES)('keeps the semantics of the %s fixture through a round trip', (name) => {
    const body = fixture(name);
    const canonical = fromOpenAiChatRequest(body);
    const out = toOpenAiChatRequest(canonical);
    expect(fromOpenAiChatRequest(out)).toEqual(canonical);
    // Field by field against the original body.
    expect(out.model).toBe(body.model);
    expect(out.messages).toEqual(body.messages);
    expect(out.max_tokens).toBe(body.max_completion_tokens ?? body.max_tokens);
    expect(out.stream).toBe(true);
    expect(out.stream_options).toEqual({ include_usage: true });
    expect(out.temperature).toBe(body.temperature);
    expect(out.reasoning_effort).toBe(body.reasoning_effort);
    expect(out.tool_choice).toBe(body.tool_choice);
    expect(out.parallel_tool_calls).toBe(body.parallel_tool_calls);
    // `strict` on a function has no canonical field: everything else of each tool survives.
    const tools = (body.tools as Obj[] | undefined)?.map((t) => {
      const { strict: _strict, ...fn } = t.function as Obj;
      return { ...t, function: fn };
    });
    expect(out.tools).toEqual(tools);
  });

  it('omits stream fields for a non-stream request', () => {
    const out = toOpenAiChatRequest({
      model: 'm',
      system: [],
      messages: [{ role: 'user', parts: [{ type: 'text', text: 'x' }] }],
      stream: false,
    });
    expect(out).toEqual({ model: 'm', messages: [{ role: 'user', content: 'x' }] });
  });

  it('keeps reasoning_content from this dialect and drops thinking from another provider', () => {
    const out = toOpenAiChatRequest({
      model: 'm',
      system: [],
      messages: [
        { role: 'user', parts: [{ type: 'text', text: 'q' }] },
        {
          role: 'assistant',
          parts: [
            { type: 'thinking', text: 'signed', signature: 'EqQBCkYIBxgCKkB', origin: 'anthropic' },
            { type: 'thinking', text: '', redacted: 'EmwKAhgBEgy', origin: 'anthropic' },
            { type: 'text', text: 'a' },
          ],
        },
        { role: 'user', parts: [{ type: 'text', text: 'q2' }] },
        {
          role: 'assistant',
          parts: [
            { type: 'thinking', text: 'mine', origin: 'openai-chat' },
            { type: 'text', text: 'b' },
          ],
        },
      ],
      stream: false,
    });
    const messages = out.messages as Obj[];
    expect(messages[1]).toEqual({ role: 'assistant', content: 'a' });
    expect(messages[3]).toEqual({ role: 'assistant', content: 'b', reasoning_content: 'mine' });
  });

  it('writes tool results first as tool messages, with images moved to the user message after them', () => {
    const out = toOpenAiChatRequest({
      model: 'm',
      system: [
        { type: 'text', text: 'A' },
        { type: 'text', text: 'B' },
      ],
      messages: [
        { role: 'user', parts: [{ type: 'text', text: 'q' }] },
        {
          role: 'assistant',
          parts: [
            { type: 'tool_call', id: 'toolu_1', name: 'shot', arguments: '{"x": 1}' },
            { type: 'tool_call', id: 'toolu_2', name: 'calc', arguments: '{}' },
          ],
        },
        {
          role: 'user',
          parts: [
            {
              type: 'tool_result',
              toolCallId: 'toolu_1',
              content: [
                { type: 'text', text: 'here' },
                { type: 'image', source: { kind: 'base64', mediaType: 'image/png', data: 'iVBO' } },
              ],
            },
            { type: 'tool_result', toolCallId: 'toolu_2', content: [{ type: 'text', text: '42' }] },
            { type: 'text', text: 'And now?' },
          ],
        },
      ],
      stream: false,
    });
    expect(out.messages).toEqual([
      {
        role: 'system',
        content: [
          { type: 'text', text: 'A' },
          { type: 'text', text: 'B' },
        ],
      },
      { role: 'user', content: 'q' },
      {
        role: 'assistant',
        content: null,
        tool_calls: [
          { id: 'toolu_1', type: 'function', function: { name: 'shot', arguments: '{"x": 1}' } },
          { id: 'toolu_2', type: 'function', function: { name: 'calc', arguments: '{}' } },
        ],
      },
      { role: 'tool', tool_call_id: 'toolu_1', content: 'here' },
      { role: 'tool', tool_call_id: 'toolu_2', content: '42' },
      {
        role: 'user',
        content: [
          { type: 'image_url', image_url: { url: 'data:image/png;base64,iVBO' } },
          { type: 'text', text: 'And now?' },
        ],
      },
    ]);
  });

  it('turns a thinking budget into reasoning_effort, an explicit effort winning', () => {
    const base: CanonicalRequest = { model: 'm', system: [], messages: [], stream: false };
    expect(
      toOpenAiChatRequest({ ...base, reasoning: { budgetTokens: 2048 } }).reasoning_effort,
    ).toBe('low');
    expect(
      toOpenAiChatRequest({ ...base, reasoning: { budgetTokens: 32000 } }).reasoning_effort,
    ).toBe('high');
    expect(
      toOpenAiChatRequest({ ...base, reasoning: { effort: 'minimal', budgetTokens: 32000 } })
        .reasoning_effort,
    ).toBe('minimal');
    // thinking off: no reasoning_effort at all (non-reasoning models reject the field)
    expect(toOpenAiChatRequest({ ...base, reasoning: { budgetTokens: 0 } })).not.toHaveProperty(
      'reasoning_effort',
    );
    expect(
      toOpenAiChatRequest({ ...base, reasoning: { includeThoughts: true } }),
    ).not.toHaveProperty('reasoning_effort');
  });

  it('writes tool_choice by name, response_format json_schema with a default name, stop and user', () => {
    const out = toOpenAiChatRequest({
      model: 'm',
      system: [],
      messages: [],
      tools: [{ name: 'f', parameters: { type: 'object', properties: {} } }],
      toolChoice: { name: 'f' },
      stop: ['END'],
      topP: 0.5,
      topK: 40,
      user: 'u1',
      responseFormat: { type: 'json_schema', schema: { type: 'object' } },
      stream: false,
    });
    expect(out.tool_choice).toEqual({ type: 'function', function: { name: 'f' } });
    expect(out.response_format).toEqual({
      type: 'json_schema',
      json_schema: { name: 'response', schema: { type: 'object' } },
    });
    expect(out.stop).toEqual(['END']);
    expect(out.top_p).toBe(0.5);
    expect(out).not.toHaveProperty('top_k');
    expect(out.user).toBe('u1');
    // parallel_tool_calls is only sent with tools (OpenAI rejects it otherwise).
    expect(out).not.toHaveProperty('parallel_tool_calls');
  });
});
