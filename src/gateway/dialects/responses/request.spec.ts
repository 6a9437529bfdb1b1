import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { AppError } from '@/common/errors/app-error';
import type { CanonicalRequest, CanonicalTool } from '@/gateway/dialects/canonical';
import { fromResponsesRequest, toResponsesRequest } from '@/gateway/dialects/responses/request';
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
  'responses',
);
const CASES = ['text', 'parallel-tool-calls', 'thinking', 'image-input'] as const;

function fixture(name: string): Obj {
  return JSON.parse(readFileSync(join(FIXTURES, `${name}.request.json`), 'utf8')) as Obj;
}

const BLUE_CIRCLE_PNG =
  'iVBORw0KGgoAAAANSUhEUgAAABAAAAAQCAIAAACQkWg2AAAANUlEQVR42mP4TyJgoIIGOZs7cERAA7JSXNoYCKpG00OuBvyqkfUMXg20DyVyIo6cpEGT1AoAei42D3eghTgAAAAASUVORK5CYII=';

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
    model: 'gpt-4.1',
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
    model: 'gpt-4.1',
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
    tools: [WEATHER_TOOL, TIME_TOOL],
    toolChoice: 'auto',
    parallelToolCalls: true,
    stream: true,
  },
  thinking: {
    model: 'o4-mini',
    system: [],
    messages: [
      {
        role: 'user',
        parts: [{ type: 'text', text: 'Is 391 a prime number? Answer in one sentence.' }],
      },
    ],
    maxTokens: 4096,
    reasoning: { effort: 'medium', includeThoughts: true },
    stream: true,
  },
  'image-input': {
    model: 'gpt-4.1',
    system: [],
    messages: [
      {
        role: 'user',
        parts: [
          { type: 'text', text: 'What shape and colour is in each of these two images?' },
          {
            type: 'image',
            source: { kind: 'url', url: 'https://example.com/images/red-square.png' },
            detail: 'auto',
          },
          {
            type: 'image',
            source: { kind: 'base64', mediaType: 'image/png', data: BLUE_CIRCLE_PNG },
            detail: 'low',
          },
        ],
      },
    ],
    maxTokens: 1024,
    stream: true,
  },
};

const ENCRYPTED =
  'gAAAAABod5_2QnHqixfKhqpH9dvuBimqm18Y7NEi1DVd9vLglAtw23U4Edon1NCg7_KjYrK1VTfeXLveYYDuzbfrMwycpgHdfw2ONwOyWGBIxbCXPZl6eu7S_5rNe6ub5FQEC2r8CSremi2aWp3j4Nzbe83JBxQ5urVnymbt_HjXa4Xank-etGqPQzt_THMm1jajJddZvI8RrEA4fyC3c66DVW2fwy0OvGiY9zTmLetIsFIWhacW4hYREGapj8O-yYd2hZpVeT1Vbk-UeiCcvUQDgp2qxGljN5vl9A3datU4IPKl3RUmXP9GCWscMbrvK-GZx3vuX5ylo0bUR7f4o3UI6OKozjRA5_acLyZOIcse9znTzoleH_09KjvwORUKoG8X5KfO9COyCHBZw351JCPCu8Lu1HQvNAjucbMRs1mObu8s3GjDBfvyzpfDD6MxJSkKyi52s0Kdj2Zyl7ylbl48egsr9hDG0i9yjfQKtJ6C61dlMC9K1b6ydVigkoBwH3laLvSt0xX0px8kS7nM-RRnc_7yPsdWszRGNZ3jbd01WpTyVfA8tWwulM';

/** A Codex-style second turn: reasoning, text and two calls, their outputs, a follow-up. */
function toolLoopBody(): Obj {
  return {
    model: 'gpt-5-codex',
    instructions: 'You are Codex.',
    input: [
      { type: 'message', role: 'developer', content: [{ type: 'input_text', text: 'Be brief.' }] },
      { role: 'user', content: 'Weather and time in Paris?' },
      {
        type: 'reasoning',
        summary: [
          { type: 'summary_text', text: '**Planning**' },
          { type: 'summary_text', text: 'Two independent calls.' },
        ],
        encrypted_content: ENCRYPTED,
      },
      {
        type: 'message',
        role: 'assistant',
        content: [{ type: 'output_text', text: 'Checking both.' }],
      },
      {
        type: 'function_call',
        id: 'fc_1',
        call_id: 'call_a',
        name: 'get_weather',
        arguments: '{"city":"Paris"}',
      },
      {
        type: 'function_call',
        call_id: 'call_b',
        name: 'get_time',
        arguments: '{"timezone":"Europe/Paris"}',
      },
      { type: 'function_call_output', call_id: 'call_a', output: '18°C, cloudy' },
      {
        type: 'function_call_output',
        call_id: 'call_b',
        output: [
          { type: 'input_text', text: '14:05' },
          { type: 'input_image', image_url: `data:image/png;base64,${BLUE_CIRCLE_PNG}` },
        ],
      },
      { type: 'message', role: 'user', content: [{ type: 'input_text', text: 'Thanks!' }] },
    ],
    tools: [
      { type: 'function', name: 'get_weather', parameters: WEATHER_TOOL.parameters, strict: true },
      { type: 'function', name: 'get_time', parameters: TIME_TOOL.parameters },
    ],
    tool_choice: { type: 'function', name: 'get_time' },
    reasoning: { effort: 'high', summary: 'detailed' },
    include: ['reasoning.encrypted_content'],
    store: false,
    stream: false,
    user: 'user-42',
  };
}

describe(fromResponsesRequest.name, () => {
  it.each(CASES)('reads the %s fixture into the expected canonical request', (name) => {
    expect(fromResponsesRequest(fixture(name))).toStrictEqual(EXPECTED[name]);
  });

  it('reads a string input as one user message', () => {
    expect(
      fromResponsesRequest({ model: 'gpt-4.1', input: 'Hello', instructions: 'Be kind.' }),
    ).toStrictEqual<CanonicalRequest>({
      model: 'gpt-4.1',
      system: [{ type: 'text', text: 'Be kind.' }],
      messages: [{ role: 'user', parts: [{ type: 'text', text: 'Hello' }] }],
      stream: false,
    });
  });

  it('reads a tool loop: developer text to system, one assistant turn with reasoning, text and calls, outputs with names', () => {
    const req = fromResponsesRequest(toolLoopBody());
    expect(req.system).toEqual([
      { type: 'text', text: 'You are Codex.' },
      { type: 'text', text: 'Be brief.' },
    ]);
    expect(req.messages).toStrictEqual([
      { role: 'user', parts: [{ type: 'text', text: 'Weather and time in Paris?' }] },
      {
        role: 'assistant',
        parts: [
          {
            type: 'thinking',
            text: '**Planning**\n\nTwo independent calls.',
            redacted: ENCRYPTED,
            origin: 'responses',
          },
          { type: 'text', text: 'Checking both.' },
          {
            type: 'tool_call',
            id: 'call_a',
            name: 'get_weather',
            arguments: '{"city":"Paris"}',
          },
          {
            type: 'tool_call',
            id: 'call_b',
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
            toolCallId: 'call_a',
            name: 'get_weather',
            content: [{ type: 'text', text: '18°C, cloudy' }],
          },
          {
            type: 'tool_result',
            toolCallId: 'call_b',
            name: 'get_time',
            content: [
              { type: 'text', text: '14:05' },
              {
                type: 'image',
                source: { kind: 'base64', mediaType: 'image/png', data: BLUE_CIRCLE_PNG },
              },
            ],
          },
        ],
      },
      { role: 'user', parts: [{ type: 'text', text: 'Thanks!' }] },
    ]);
    expect(req.toolChoice).toEqual({ name: 'get_time' });
    expect(req.reasoning).toEqual({ effort: 'high', includeThoughts: true });
    expect(req.user).toBe('user-42');
    expect(req.stream).toBe(false);
    expect(req.tools?.map((t) => t.name)).toEqual(['get_weather', 'get_time']);
  });

  it('keeps encrypted_content byte for byte and drops a bare reasoning reference', () => {
    const req = fromResponsesRequest({
      model: 'o4-mini',
      input: [
        { role: 'user', content: 'Hi' },
        { type: 'reasoning', id: 'rs_only_an_id', summary: [] },
        { type: 'reasoning', summary: [], encrypted_content: ENCRYPTED },
        { type: 'message', role: 'assistant', content: [{ type: 'refusal', refusal: 'No.' }] },
      ],
    });
    expect(req.messages[1]).toStrictEqual({
      role: 'assistant',
      parts: [
        { type: 'thinking', text: '', redacted: ENCRYPTED, origin: 'responses' },
        { type: 'text', text: 'No.' },
      ],
    });
  });

  it('reads reasoning effort none as a zero budget, xhigh as high, and a summary alone as visible thoughts', () => {
    const read = (reasoning: unknown) =>
      fromResponsesRequest({ model: 'm', input: 'x', reasoning }).reasoning;
    expect(read({ effort: 'none' })).toEqual({ budgetTokens: 0 });
    expect(read({ effort: 'xhigh', summary: null })).toEqual({ effort: 'high' });
    expect(read({ summary: 'concise' })).toEqual({ includeThoughts: true });
    expect(read({ effort: null, summary: null })).toBeUndefined();
  });

  it('reads text.format as the response format', () => {
    const read = (format: unknown) =>
      fromResponsesRequest({ model: 'm', input: 'x', text: { format, verbosity: 'low' } })
        .responseFormat;
    expect(read({ type: 'text' })).toEqual({ type: 'text' });
    expect(read({ type: 'json_object' })).toEqual({ type: 'json_object' });
    expect(
      read({ type: 'json_schema', name: 'city', schema: { type: 'object' }, strict: true }),
    ).toEqual({ type: 'json_schema', name: 'city', schema: { type: 'object' }, strict: true });
  });

  it('accepts store: true and ignores it (nothing is stored)', () => {
    expect(fromResponsesRequest({ model: 'm', input: 'x', store: true })).toStrictEqual(
      fromResponsesRequest({ model: 'm', input: 'x' }),
    );
  });

  describe('malformed and stateful bodies', () => {
    const ok = { model: 'gpt-4.1', input: 'Hi' };
    const cases: [string, unknown, string][] = [
      ['a non-object body (null)', null, 'body'],
      ['a non-object body (array)', [ok], 'body'],
      ['a non-object body (string)', 'hello', 'body'],
      ['a missing model', { input: 'Hi' }, 'model'],
      ['a model that is not a string', { ...ok, model: 7 }, 'model'],
      ['a missing input', { model: 'gpt-4.1' }, 'input'],
      ['an input that is a number', { ...ok, input: 42 }, 'input'],
      ['an input that is an object', { ...ok, input: { role: 'user', content: 'Hi' } }, 'input'],
      ['an empty input list', { ...ok, input: [] }, 'input'],
      ['an item that is not an object', { ...ok, input: ['Hi'] }, 'input[0]'],
      [
        'an item of type hologram',
        {
          ...ok,
          input: [
            { role: 'user', content: 'a' },
            { type: 'hologram', data: 'x' },
          ],
        },
        'input[1].type',
      ],
      ['an item without type or role', { ...ok, input: [{ content: 'Hi' }] }, 'input[0].type'],
      [
        'an unknown role',
        { ...ok, input: [{ type: 'message', role: 'wizard', content: 'x' }] },
        'input[0].role',
      ],
      [
        'message content that is a number',
        { ...ok, input: [{ role: 'user', content: 5 }] },
        'input[0].content',
      ],
      [
        'an unknown content part',
        { ...ok, input: [{ role: 'user', content: [{ type: 'input_audio', data: 'x' }] }] },
        'input[0].content[0].type',
      ],
      [
        'an image in an assistant message',
        {
          ...ok,
          input: [
            {
              role: 'assistant',
              content: [{ type: 'input_image', image_url: 'https://x.test/a.png' }],
            },
          ],
        },
        'input[0].content[0].type',
      ],
      [
        'an image by file id',
        { ...ok, input: [{ role: 'user', content: [{ type: 'input_image', file_id: 'file-1' }] }] },
        'input[0].content[0].file_id',
      ],
      [
        'an image with an ftp URL',
        {
          ...ok,
          input: [{ role: 'user', content: [{ type: 'input_image', image_url: 'ftp://x/y.png' }] }],
        },
        'input[0].content[0].image_url',
      ],
      [
        'a text part without text',
        { ...ok, input: [{ role: 'user', content: [{ type: 'input_text', text: 3 }] }] },
        'input[0].content[0].text',
      ],
      [
        'a function call without call_id',
        { ...ok, input: [{ type: 'function_call', name: 'f', arguments: '{}' }] },
        'input[0].call_id',
      ],
      [
        'function call arguments that are an object',
        { ...ok, input: [{ type: 'function_call', call_id: 'c', name: 'f', arguments: {} }] },
        'input[0].arguments',
      ],
      [
        'a function call output that is a number',
        { ...ok, input: [{ type: 'function_call_output', call_id: 'c', output: 1 }] },
        'input[0].output',
      ],
      [
        'a reasoning summary that is a string',
        { ...ok, input: [{ type: 'reasoning', summary: 'thought' }] },
        'input[0].summary',
      ],
      [
        'encrypted_content that is a number',
        { ...ok, input: [{ type: 'reasoning', summary: [], encrypted_content: 1 }] },
        'input[0].encrypted_content',
      ],
      [
        'an item_reference',
        { ...ok, input: [{ type: 'item_reference', id: 'msg_1' }] },
        'input[0].type',
      ],
      ['previous_response_id', { ...ok, previous_response_id: 'resp_123' }, 'previous_response_id'],
      ['a conversation', { ...ok, conversation: 'conv_1' }, 'conversation'],
      ['a stored prompt', { ...ok, prompt: { id: 'pmpt_1' } }, 'prompt'],
      ['a background run', { ...ok, background: true }, 'background'],
      ['a temperature that is a string', { ...ok, temperature: 'hot' }, 'temperature'],
      ['a fractional max_output_tokens', { ...ok, max_output_tokens: 1.5 }, 'max_output_tokens'],
      ['a non-boolean stream', { ...ok, stream: 'yes' }, 'stream'],
      ['a non-boolean store', { ...ok, store: 'no' }, 'store'],
      ['instructions that are not a string', { ...ok, instructions: ['x'] }, 'instructions'],
      ['tools that are not an array', { ...ok, tools: { type: 'function' } }, 'tools'],
      ['a function tool without name', { ...ok, tools: [{ type: 'function' }] }, 'tools[0].name'],
      [
        'a function tool whose parameters are a string',
        { ...ok, tools: [{ type: 'function', name: 'f', parameters: '{}' }] },
        'tools[0].parameters',
      ],
      ['an unknown tool_choice', { ...ok, tool_choice: 'sometimes' }, 'tool_choice'],
      [
        'a function tool_choice without name',
        { ...ok, tool_choice: { type: 'function' } },
        'tool_choice.name',
      ],
      ['reasoning that is a string', { ...ok, reasoning: 'high' }, 'reasoning'],
      ['an unknown reasoning effort', { ...ok, reasoning: { effort: 'max' } }, 'reasoning.effort'],
      ['an unknown summary', { ...ok, reasoning: { summary: 'long' } }, 'reasoning.summary'],
      ['an unknown text format', { ...ok, text: { format: { type: 'yaml' } } }, 'text.format.type'],
      [
        'a json_schema format without schema',
        { ...ok, text: { format: { type: 'json_schema', name: 'x' } } },
        'text.format.schema',
      ],
      ['a user that is a number', { ...ok, user: 42 }, 'user'],
    ];

    it.each(cases)('rejects %s with a 400 naming the field', (_title, body, param) => {
      const e = thrown(() => fromResponsesRequest(body));
      expect(e).toBeInstanceOf(AppError);
      const err = e as AppError;
      expect(err.status).toBe(400);
      expect(err.details).toEqual({ param });
      if (param !== 'body') {
        expect(err.message).toContain(param);
      }
    });

    it('says that previous_response_id needs stored responses, which the gateway does not keep', () => {
      const err = thrown(() =>
        fromResponsesRequest({ model: 'm', input: 'x', previous_response_id: 'resp_1' }),
      ) as AppError;
      expect(err.message).toMatch(/does not store responses/);
      expect(err.message).toMatch(/whole conversation in input/);
      expect(err.code).toBe('UNSUPPORTED_FEATURE');
    });

    it('leaves built-in (hosted) tools out and keeps the function tools (what Codex CLI sends)', () => {
      const req = fromResponsesRequest({
        model: 'm',
        input: 'x',
        tools: [
          { type: 'function', name: 'shell', parameters: { type: 'object', properties: {} } },
          { type: 'web_search' },
          {
            type: 'namespace',
            name: 'multi_agent_v1',
            tools: [{ type: 'function', name: 'spawn' }],
          },
        ],
        tool_choice: { type: 'web_search_preview' },
      });
      expect(req.tools?.map((t) => t.name)).toEqual(['shell']);
      expect(req.toolChoice).toBe('auto');
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
            fromResponsesRequest(body);
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

describe(toResponsesRequest.name, () => {
  it.each(CASES)('keeps the semantics of the %s fixture through a round trip', (name) => {
    const body = fixture(name);
    const canonical = fromResponsesRequest(body);
    const out = toResponsesRequest(canonical);
    expect(fromResponsesRequest(out)).toStrictEqual(canonical);
    // Field by field against the original body.
    expect(out.model).toBe(body.model);
    expect(out.instructions).toBe(body.instructions ?? '');
    expect(out.input).toEqual(body.input);
    expect(out.tools).toEqual(body.tools);
    expect(out.tool_choice).toBe(body.tool_choice);
    expect(out.parallel_tool_calls).toBe(body.parallel_tool_calls);
    expect(out.max_output_tokens).toBe(body.max_output_tokens);
    expect(out.temperature).toBe(body.temperature);
    expect(out.reasoning).toEqual(body.reasoning);
    expect(out.include).toEqual(body.include);
    expect(out.store).toBe(false);
    expect(out.stream).toBe(true);
  });

  it('keeps a Codex tool loop through a round trip, encrypted_content byte for byte, item ids left out', () => {
    const canonical = fromResponsesRequest(toolLoopBody());
    const out = toResponsesRequest(canonical);
    expect(fromResponsesRequest(out)).toStrictEqual(canonical);
    const input = out.input as Obj[];
    expect(input.map((i) => i.role ?? i.type)).toEqual([
      'developer',
      'user',
      'reasoning',
      'assistant',
      'function_call',
      'function_call',
      'function_call_output',
      'function_call_output',
      'user',
    ]);
    expect(input[2]).toStrictEqual({
      type: 'reasoning',
      summary: [{ type: 'summary_text', text: '**Planning**\n\nTwo independent calls.' }],
      encrypted_content: ENCRYPTED,
    });
    expect(input.every((i) => !('id' in i))).toBe(true);
    expect(input[7].output).toEqual([
      { type: 'input_text', text: '14:05' },
      { type: 'input_image', image_url: `data:image/png;base64,${BLUE_CIRCLE_PNG}` },
    ]);
    expect(out.instructions).toBe('You are Codex.');
    expect(out.tool_choice).toEqual({ type: 'function', name: 'get_time' });
    expect(out.reasoning).toEqual({ effort: 'high', summary: 'auto' });
    expect(out.include).toEqual(['reasoning.encrypted_content']);
    expect(out.user).toBe('user-42');
    expect(out.stream).toBe(false);
    // Strict mode is off for every tool: the API would otherwise reject non-strict schemas.
    expect((out.tools as Obj[]).map((t) => t.strict)).toEqual([false, false]);
  });

  it('replays only its own reasoning with encrypted content; other thinking is dropped', () => {
    const out = toResponsesRequest({
      model: 'gpt-5',
      system: [],
      messages: [
        { role: 'user', parts: [{ type: 'text', text: 'Q' }] },
        {
          role: 'assistant',
          parts: [
            { type: 'thinking', text: 'anthropic', signature: 'sig', origin: 'anthropic' },
            { type: 'thinking', text: 'no blob', origin: 'responses' },
            { type: 'thinking', text: 'gemini', signature: 'ts', origin: 'gemini' },
            { type: 'thinking', text: '', redacted: ENCRYPTED, origin: 'responses' },
            { type: 'text', text: 'A' },
          ],
        },
      ],
      stream: false,
    });
    expect(out.input).toStrictEqual([
      { type: 'message', role: 'user', content: [{ type: 'input_text', text: 'Q' }] },
      { type: 'reasoning', summary: [], encrypted_content: ENCRYPTED },
      { type: 'message', role: 'assistant', content: [{ type: 'output_text', text: 'A' }] },
    ]);
  });

  it('turns a budget into an effort, zero into effort none without include, and drops sampling while reasoning', () => {
    const base: CanonicalRequest = {
      model: 'gpt-5',
      system: [],
      messages: [{ role: 'user', parts: [{ type: 'text', text: 'Q' }] }],
      temperature: 0.5,
      topP: 0.9,
      stream: true,
    };
    const budget = toResponsesRequest({ ...base, reasoning: { budgetTokens: 2048 } });
    expect(budget.reasoning).toEqual({ effort: 'low' });
    expect(budget.include).toEqual(['reasoning.encrypted_content']);
    expect(budget.temperature).toBeUndefined();
    expect(budget.top_p).toBeUndefined();

    const off = toResponsesRequest({
      ...base,
      reasoning: { budgetTokens: 0, includeThoughts: true },
    });
    expect(off.reasoning).toEqual({ effort: 'none' });
    expect(off.include).toBeUndefined();
    expect(off.temperature).toBe(0.5);
    expect(off.top_p).toBe(0.9);

    const adaptive = toResponsesRequest({ ...base, reasoning: { includeThoughts: true } });
    expect(adaptive.reasoning).toEqual({ summary: 'auto' });
    expect(adaptive.include).toEqual(['reasoning.encrypted_content']);

    const none = toResponsesRequest(base);
    expect(none.reasoning).toBeUndefined();
    expect(none.include).toBeUndefined();
    expect(none.store).toBe(false);
    expect(none.instructions).toBe('');
  });

  it('writes tool results before the rest of their turn, and json_schema formats with a default name', () => {
    const out = toResponsesRequest({
      model: 'm',
      system: [],
      messages: [
        {
          role: 'user',
          parts: [
            { type: 'text', text: 'and also this' },
            { type: 'tool_result', toolCallId: 'toolu_1', content: [], isError: true },
          ],
        },
      ],
      responseFormat: { type: 'json_schema', schema: { type: 'object' } },
      stop: ['END'],
      topK: 5,
      stream: false,
    });
    expect(out.input).toStrictEqual([
      { type: 'function_call_output', call_id: 'toolu_1', output: '' },
      { type: 'message', role: 'user', content: [{ type: 'input_text', text: 'and also this' }] },
    ]);
    expect(out.text).toEqual({
      format: { type: 'json_schema', name: 'response', schema: { type: 'object' } },
    });
    // No Responses field for these.
    expect(out).not.toHaveProperty('stop');
    expect(out).not.toHaveProperty('top_k');
  });
});
