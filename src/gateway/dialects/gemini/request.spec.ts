import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { AppError } from '@/common/errors/app-error';
import {
  effortToBudget,
  type CanonicalRequest,
  type CanonicalTool,
} from '@/gateway/dialects/canonical';
import { fromGeminiRequest, geminiPath, toGeminiRequest } from '@/gateway/dialects/gemini/request';
import { prng, thrown } from '@/gateway/dialects/shared/chunking.testing';

// Fixture JSON is read and mutated field by field; typing every wire shape here adds nothing.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Obj = Record<string, any>;

const FIXTURES = join(__dirname, '..', '..', '..', '..', 'test', 'fixtures', 'dialects', 'gemini');
const CASES = ['text', 'parallel-tool-calls', 'thinking', 'image-input'] as const;
const MODEL = 'gemini-2.5-flash';

function fixture(name: string): Obj {
  return JSON.parse(readFileSync(join(FIXTURES, `${name}.request.json`), 'utf8')) as Obj;
}

/** The first function call's thoughtSignature, exactly as the response fixture's bytes hold it. */
function rawSignature(): string {
  const text = readFileSync(join(FIXTURES, 'parallel-tool-calls.response.json'), 'utf8');
  const m = /"thoughtSignature": "([^"]+)"/.exec(text);
  if (!m) {
    throw new Error('no thoughtSignature in parallel-tool-calls.response.json');
  }
  return m[1];
}

/** Gemini takes type names in any case: compare them upper-cased, as the fixtures write them. */
function upperTypes<T>(v: T): T {
  return JSON.parse(
    JSON.stringify(v, (k, x: unknown) =>
      k === 'type' && typeof x === 'string' ? x.toUpperCase() : x,
    ),
  ) as T;
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

/** What each golden request must read as (streamed, as the fixtures are). */
const EXPECTED: Record<(typeof CASES)[number], CanonicalRequest> = {
  text: {
    model: MODEL,
    system: [{ type: 'text', text: 'You are a concise geography assistant.' }],
    messages: [
      { role: 'user', parts: [{ type: 'text', text: 'Hi!' }] },
      { role: 'assistant', parts: [{ type: 'text', text: 'Hello! What would you like to know?' }] },
      { role: 'user', parts: [{ type: 'text', text: 'What is the capital of France?' }] },
    ],
    temperature: 0.2,
    maxTokens: 1024,
    stream: true,
  },
  'parallel-tool-calls': {
    model: MODEL,
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
    maxTokens: 1024,
    stream: true,
  },
  thinking: {
    model: MODEL,
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
    model: MODEL,
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

const read = (body: unknown, opts = { stream: false }): CanonicalRequest =>
  fromGeminiRequest(body, MODEL, opts);

function canonical(extra: Partial<CanonicalRequest> = {}): CanonicalRequest {
  return {
    model: MODEL,
    system: [],
    messages: [{ role: 'user', parts: [{ type: 'text', text: 'Hi' }] }],
    stream: false,
    ...extra,
  };
}

/** A conversation with a tool loop: a signed parallel call, both answered, a final answer. */
function toolLoop(): Obj {
  return {
    contents: [
      { role: 'user', parts: [{ text: 'Weather and time in Paris?' }] },
      {
        role: 'model',
        parts: [
          { text: 'Checking both.', thought: true, thoughtSignature: 'c2lnLXRob3VnaHQ=' },
          { text: 'One moment.' },
          {
            functionCall: { name: 'get_weather', args: { city: 'Paris' } },
            thoughtSignature: rawSignature(),
          },
          { functionCall: { name: 'get_time', args: { timezone: 'Europe/Paris' } } },
        ],
      },
      {
        role: 'user',
        parts: [
          { functionResponse: { name: 'get_time', response: { time: '14:05' } } },
          { functionResponse: { name: 'get_weather', response: { temp: 21, sky: 'sunny' } } },
          { text: 'Thanks! And tomorrow?' },
        ],
      },
      {
        role: 'model',
        parts: [{ text: 'Sunny again.', thoughtSignature: 'c2lnLXRleHQ=' }],
      },
      { role: 'user', parts: [{ text: 'Great.' }] },
    ],
  };
}

describe(fromGeminiRequest.name, () => {
  describe.each(CASES)('golden fixture %s', (name) => {
    it('reads into the expected canonical request', () => {
      expect(fromGeminiRequest(fixture(name), MODEL, { stream: true })).toStrictEqual(
        EXPECTED[name],
      );
    });

    it('round-trips through toGeminiRequest with the same meaning', () => {
      const body = fixture(name);
      const req = fromGeminiRequest(body, MODEL, { stream: true });
      const out = toGeminiRequest(req);
      expect(upperTypes(out)).toStrictEqual(body);
      expect(fromGeminiRequest(out, MODEL, { stream: true })).toStrictEqual(req);
    });
  });

  it('takes the model from the URL argument, without a models/ prefix, and streams only when told', () => {
    const body = fixture('text');
    expect(fromGeminiRequest(body, `models/${MODEL}`).model).toBe(MODEL);
    expect(fromGeminiRequest(body, MODEL).stream).toBe(false);
    expect(fromGeminiRequest(body, MODEL, { stream: true }).stream).toBe(true);
  });

  it('reads a tool loop: thoughts, signatures, call ids made up in order, responses matched by name', () => {
    const req = read(toolLoop());
    expect(req.messages).toStrictEqual([
      { role: 'user', parts: [{ type: 'text', text: 'Weather and time in Paris?' }] },
      {
        role: 'assistant',
        parts: [
          {
            type: 'thinking',
            text: 'Checking both.',
            signature: 'c2lnLXRob3VnaHQ=',
            origin: 'gemini',
          },
          { type: 'text', text: 'One moment.' },
          {
            type: 'tool_call',
            id: 'call_0',
            name: 'get_weather',
            arguments: '{"city":"Paris"}',
            signature: rawSignature(),
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
            content: [{ type: 'text', text: '{"time":"14:05"}' }],
          },
          {
            type: 'tool_result',
            toolCallId: 'call_0',
            name: 'get_weather',
            content: [{ type: 'text', text: '{"temp":21,"sky":"sunny"}' }],
          },
        ],
      },
      { role: 'user', parts: [{ type: 'text', text: 'Thanks! And tomorrow?' }] },
      {
        role: 'assistant',
        parts: [
          { type: 'text', text: 'Sunny again.' },
          { type: 'thinking', text: '', signature: 'c2lnLXRleHQ=', origin: 'gemini' },
        ],
      },
      { role: 'user', parts: [{ type: 'text', text: 'Great.' }] },
    ]);
  });

  it('sends the tool loop back to Gemini part for part, signatures byte for byte', () => {
    const body = toolLoop();
    const out = toGeminiRequest(read(body));
    expect(out.contents).toStrictEqual(body.contents);
    expect(JSON.stringify(out)).toContain(`"thoughtSignature":"${rawSignature()}"`);
  });

  it('reuses the ids a client sends, and pairs responses by id', () => {
    const req = read({
      contents: [
        { role: 'user', parts: [{ text: 'q' }] },
        {
          role: 'model',
          parts: [
            { functionCall: { id: 'call_abc', name: 'f', args: {} } },
            { functionCall: { id: 'call_def', name: 'f', args: { x: 1 } } },
          ],
        },
        {
          role: 'user',
          parts: [
            { functionResponse: { id: 'call_def', name: 'f', response: { r: 2 } } },
            { functionResponse: { name: 'f', response: { r: 1 } } },
          ],
        },
      ],
    });
    expect(req.messages[1].parts.map((p) => (p.type === 'tool_call' ? p.id : ''))).toStrictEqual([
      'call_abc',
      'call_def',
    ]);
    expect(
      req.messages[2].parts.map((p) => (p.type === 'tool_result' ? p.toolCallId : '')),
    ).toStrictEqual(['call_def', 'call_abc']);
  });

  it("reads Gemini's error convention in a function response as a failed call", () => {
    const req = read({
      contents: [
        { role: 'model', parts: [{ functionCall: { name: 'f' } }] },
        { role: 'user', parts: [{ functionResponse: { name: 'f', response: { error: 'boom' } } }] },
      ],
    });
    expect(req.messages[1].parts[0]).toStrictEqual({
      type: 'tool_result',
      toolCallId: 'call_0',
      name: 'f',
      content: [{ type: 'text', text: '{"error":"boom"}' }],
      isError: true,
    });
  });

  it('accepts the snake_case field names of the REST docs', () => {
    const req = read({
      system_instruction: { parts: [{ text: 'Be brief.' }] },
      contents: [
        {
          parts: [
            { text: 'What is this?' },
            { inline_data: { mime_type: 'image/jpeg', data: 'AAAA' } },
            { file_data: { mime_type: 'image/png', file_uri: RED_SQUARE_URL } },
          ],
        },
      ],
      tools: [
        {
          function_declarations: [
            { name: 'f', parameters: { type: 'OBJECT', properties: { a: { type: 'NUMBER' } } } },
          ],
        },
      ],
      tool_config: { function_calling_config: { mode: 'ANY', allowed_function_names: ['f'] } },
      generation_config: {
        max_output_tokens: 100,
        top_p: 0.9,
        top_k: 40,
        stop_sequences: ['END'],
        response_mime_type: 'application/json',
        thinking_config: { thinking_budget: 0 },
      },
    });
    expect(req).toStrictEqual(
      canonical({
        system: [{ type: 'text', text: 'Be brief.' }],
        messages: [
          {
            role: 'user',
            parts: [
              { type: 'text', text: 'What is this?' },
              { type: 'image', source: { kind: 'base64', mediaType: 'image/jpeg', data: 'AAAA' } },
              { type: 'image', source: { kind: 'url', url: RED_SQUARE_URL } },
            ],
          },
        ],
        tools: [
          { name: 'f', parameters: { type: 'object', properties: { a: { type: 'number' } } } },
        ],
        toolChoice: { name: 'f' },
        maxTokens: 100,
        topP: 0.9,
        topK: 40,
        stop: ['END'],
        responseFormat: { type: 'json_object' },
        reasoning: { budgetTokens: 0 },
      }),
    );
  });

  it.each([
    [{ mode: 'AUTO' }, 'auto'],
    [{ mode: 'VALIDATED' }, 'auto'],
    [{ mode: 'NONE' }, 'none'],
    [{ mode: 'ANY' }, 'required'],
    [{ mode: 'ANY', allowedFunctionNames: ['get_time'] }, { name: 'get_time' }],
    [{ mode: 'ANY', allowedFunctionNames: ['get_time', 'get_weather'] }, 'required'],
    [{ mode: 'MODE_UNSPECIFIED' }, undefined],
    [{}, undefined],
  ])('reads functionCallingConfig %j as tool choice %j', (fc, choice) => {
    const req = read({
      ...fixture('parallel-tool-calls'),
      toolConfig: { functionCallingConfig: fc },
    });
    expect(req.toolChoice).toStrictEqual(choice);
  });

  it('reads parametersJsonSchema as it is', () => {
    const schema = { type: 'object', properties: { a: { type: ['string', 'null'] } } };
    const req = read({
      contents: [{ parts: [{ text: 'x' }] }],
      tools: [
        { functionDeclarations: [{ name: 'f', parametersJsonSchema: schema }, { name: 'g' }] },
      ],
    });
    expect(req.tools).toStrictEqual([
      { name: 'f', parameters: schema },
      { name: 'g', parameters: { type: 'object', properties: {} } },
    ]);
  });

  it.each([
    [{ responseMimeType: 'text/plain' }, { type: 'text' }],
    [{ responseMimeType: 'application/json' }, { type: 'json_object' }],
    [
      {
        responseMimeType: 'application/json',
        responseSchema: { type: 'ARRAY', items: { type: 'STRING' } },
      },
      { type: 'json_schema', schema: { type: 'array', items: { type: 'string' } } },
    ],
    [
      {
        responseMimeType: 'application/json',
        responseJsonSchema: { type: 'object', additionalProperties: false },
      },
      { type: 'json_schema', schema: { type: 'object', additionalProperties: false } },
    ],
  ])('reads response format %j', (config, format) => {
    expect(
      read({ contents: [{ parts: [{ text: 'x' }] }], generationConfig: config }).responseFormat,
    ).toStrictEqual(format);
  });

  it.each([
    [{ thinkingBudget: -1 }, { budgetTokens: -1 }],
    [
      { thinkingBudget: 0, includeThoughts: false },
      { budgetTokens: 0, includeThoughts: false },
    ],
    [
      { thinkingLevel: 'low', includeThoughts: true },
      { effort: 'low', includeThoughts: true },
    ],
    [{ thinkingLevel: 'HIGH' }, { effort: 'high' }],
    [{}, undefined],
  ])('reads thinkingConfig %j as reasoning %j', (thinkingConfig, reasoning) => {
    expect(
      read({ contents: [{ parts: [{ text: 'x' }] }], generationConfig: { thinkingConfig } })
        .reasoning,
    ).toStrictEqual(reasoning);
  });

  it('skips code-execution history and ignores fields with no canonical place', () => {
    const req = read({
      contents: [
        { role: 'user', parts: [{ text: 'Run it' }] },
        {
          role: 'model',
          parts: [
            { executableCode: { language: 'PYTHON', code: 'print(1)' } },
            { codeExecutionResult: { outcome: 'OUTCOME_OK', output: '1' } },
            { text: 'It printed 1.' },
          ],
        },
      ],
      safetySettings: [{ category: 'HARM_CATEGORY_HARASSMENT', threshold: 'BLOCK_NONE' }],
      cachedContent: 'cachedContents/abc',
      generationConfig: { seed: 7, presencePenalty: 0.5, responseModalities: ['TEXT'] },
    });
    expect(req).toStrictEqual(
      canonical({
        messages: [
          { role: 'user', parts: [{ type: 'text', text: 'Run it' }] },
          { role: 'assistant', parts: [{ type: 'text', text: 'It printed 1.' }] },
        ],
      }),
    );
  });

  describe('malformed bodies', () => {
    const ok = { contents: [{ role: 'user', parts: [{ text: 'Hi' }] }] };
    const withPart = (part: unknown, role = 'user') => ({ contents: [{ role, parts: [part] }] });
    const cases: [string, unknown, string][] = [
      ['a body that is not an object', 'hello', 'body'],
      ['a body that is an array', [ok], 'body'],
      ['a null body', null, 'body'],
      ['missing contents', {}, 'contents'],
      ['contents that is not an array', { contents: { role: 'user' } }, 'contents'],
      ['empty contents', { contents: [] }, 'contents'],
      ['a Content that is not an object', { contents: ['Hi'] }, 'contents[0]'],
      ['a Content without parts', { contents: [{ role: 'user' }] }, 'contents[0].parts'],
      ['parts that is a string', { contents: [{ parts: 'Hi' }] }, 'contents[0].parts'],
      [
        'role wizard',
        { contents: [{ role: 'wizard', parts: [{ text: 'x' }] }] },
        'contents[0].role',
      ],
      ['a numeric role', { contents: [{ role: 1, parts: [{ text: 'x' }] }] }, 'contents[0].role'],
      ['a part with no known field', withPart({ foo: 'bar' }), 'contents[0].parts[0]'],
      ['an empty part', withPart({}), 'contents[0].parts[0]'],
      ['a part that is a string', withPart('Hi'), 'contents[0].parts[0]'],
      ['a numeric text', withPart({ text: 42 }), 'contents[0].parts[0].text'],
      [
        'inlineData without data',
        withPart({ inlineData: { mimeType: 'image/png' } }),
        'contents[0].parts[0].inlineData.data',
      ],
      [
        'inlineData that is a PDF',
        withPart({ inlineData: { mimeType: 'application/pdf', data: 'JVBE' } }),
        'contents[0].parts[0].inlineData.mimeType',
      ],
      [
        'fileData without fileUri',
        withPart({ fileData: { mimeType: 'image/png' } }),
        'contents[0].parts[0].fileData.fileUri',
      ],
      [
        'a functionCall in a user turn',
        withPart({ functionCall: { name: 'f', args: {} } }),
        'contents[0].parts[0].functionCall',
      ],
      [
        'a functionCall without name',
        withPart({ functionCall: { args: {} } }, 'model'),
        'contents[0].parts[0].functionCall.name',
      ],
      [
        'functionCall args that are a string',
        withPart({ functionCall: { name: 'f', args: '{}' } }, 'model'),
        'contents[0].parts[0].functionCall.args',
      ],
      [
        'a functionResponse in a model turn',
        withPart({ functionResponse: { name: 'f', response: {} } }, 'model'),
        'contents[0].parts[0].functionResponse',
      ],
      [
        'a functionResponse whose response is a string',
        withPart({ functionResponse: { name: 'f', response: 'ok' } }),
        'contents[0].parts[0].functionResponse.response',
      ],
      [
        'a non-boolean thought',
        withPart({ text: 'x', thought: 'yes' }),
        'contents[0].parts[0].thought',
      ],
      [
        'a systemInstruction with an image',
        {
          ...ok,
          systemInstruction: { parts: [{ inlineData: { mimeType: 'image/png', data: 'A' } }] },
        },
        'systemInstruction.parts[0].text',
      ],
      ['tools that are an object', { ...ok, tools: { functionDeclarations: [] } }, 'tools'],
      ['a googleSearch tool', { ...ok, tools: [{ googleSearch: {} }] }, 'tools[0].googleSearch'],
      [
        'a function declaration without name',
        { ...ok, tools: [{ functionDeclarations: [{ description: 'x' }] }] },
        'tools[0].functionDeclarations[0].name',
      ],
      [
        'parameters that are a string',
        { ...ok, tools: [{ functionDeclarations: [{ name: 'f', parameters: 'OBJECT' }] }] },
        'tools[0].functionDeclarations[0].parameters',
      ],
      [
        'an unknown function calling mode',
        { ...ok, toolConfig: { functionCallingConfig: { mode: 'SOMETIMES' } } },
        'toolConfig.functionCallingConfig.mode',
      ],
      [
        'allowedFunctionNames with a number',
        {
          ...ok,
          toolConfig: { functionCallingConfig: { mode: 'ANY', allowedFunctionNames: [1] } },
        },
        'toolConfig.functionCallingConfig.allowedFunctionNames',
      ],
      ['a generationConfig that is an array', { ...ok, generationConfig: [] }, 'generationConfig'],
      [
        "temperature 'hot'",
        { ...ok, generationConfig: { temperature: 'hot' } },
        'generationConfig.temperature',
      ],
      [
        'a fractional maxOutputTokens',
        { ...ok, generationConfig: { maxOutputTokens: 1.5 } },
        'generationConfig.maxOutputTokens',
      ],
      ['a negative topK', { ...ok, generationConfig: { topK: -3 } }, 'generationConfig.topK'],
      [
        'stopSequences with a number',
        { ...ok, generationConfig: { stopSequences: ['a', 1] } },
        'generationConfig.stopSequences',
      ],
      [
        'two candidates',
        { ...ok, generationConfig: { candidateCount: 2 } },
        'generationConfig.candidateCount',
      ],
      [
        'an enum response MIME type',
        { ...ok, generationConfig: { responseMimeType: 'text/x.enum' } },
        'generationConfig.responseMimeType',
      ],
      [
        'a thinking budget below -1',
        { ...ok, generationConfig: { thinkingConfig: { thinkingBudget: -5 } } },
        'generationConfig.thinkingConfig.thinkingBudget',
      ],
      [
        'an unknown thinking level',
        { ...ok, generationConfig: { thinkingConfig: { thinkingLevel: 'EXTREME' } } },
        'generationConfig.thinkingConfig.thinkingLevel',
      ],
      [
        'a snake_case temperature that is a string (named as sent)',
        { ...ok, generation_config: { temperature: 'hot' } },
        'generation_config.temperature',
      ],
    ];

    it.each(cases)('rejects %s with a 400 naming the field', (_title, body, param) => {
      const e = thrown(() => read(body));
      expect(e).toBeInstanceOf(AppError);
      const err = e as AppError;
      expect(err.status).toBe(400);
      expect(err.details).toStrictEqual({ param });
      if (param !== 'body') {
        expect(err.message).toContain(param);
      }
    });

    it('rejects a missing model with a 400 naming it', () => {
      const e = thrown(() => fromGeminiRequest(ok, ''));
      expect(e).toBeInstanceOf(AppError);
      expect((e as AppError).details).toStrictEqual({ param: 'model' });
    });

    it('answers any mutation of the fixtures with a canonical request or a 400, never a TypeError', () => {
      const junk: unknown[] = [null, 0, -1, 1.5, '', 'x', true, [], {}, [null], [{}], { text: 1 }];
      const rand = prng(20250716);
      let rejected = 0;
      for (const name of [...CASES, 'tool-loop']) {
        const original = name === 'tool-loop' ? toolLoop() : fixture(name);
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
            const req = read(body);
            // Whatever was accepted can be written for Gemini again.
            toGeminiRequest(req);
          } catch (e) {
            expect(e).toBeInstanceOf(AppError);
            expect((e as AppError).status).toBe(400);
            expect(typeof (e as AppError).details?.param).toBe('string');
            rejected++;
          }
        }
      }
      expect(rejected).toBeGreaterThan(100);
    });
  });
});

describe(toGeminiRequest.name, () => {
  it('writes a request from another dialect: system, merged turns, tool results by name, images', () => {
    const out = toGeminiRequest(
      canonical({
        system: [
          { type: 'text', text: 'Be brief.' },
          { type: 'text', text: '' },
          { type: 'text', text: 'Use tools.', cacheControl: { type: 'ephemeral' } },
        ],
        messages: [
          {
            role: 'user',
            parts: [
              { type: 'text', text: 'Look:' },
              { type: 'image', source: { kind: 'url', url: 'https://x.test/a.JPG?v=2' } },
              { type: 'image', source: { kind: 'url', url: 'data:image/gif;base64,R0lG' } },
              {
                type: 'image',
                source: { kind: 'url', url: 'https://x.test/photo' },
                detail: 'low',
              },
            ],
          },
          { role: 'user', parts: [{ type: 'text', text: 'And the weather?' }] },
          {
            role: 'assistant',
            parts: [
              { type: 'thinking', text: 'Claude thought', signature: 'EqQB', origin: 'anthropic' },
              { type: 'thinking', text: '', redacted: 'EmwK', origin: 'anthropic' },
              { type: 'thinking', text: 'unsigned, unknown origin' },
              { type: 'thinking', text: 'OpenAI reasoning', origin: 'openai-chat' },
              { type: 'text', text: '' },
              {
                type: 'tool_call',
                id: 'toolu_1',
                name: 'get_weather',
                arguments: '{"city":"Paris"}',
              },
              { type: 'tool_call', id: 'toolu_2', name: 'snap', arguments: 'not json' },
            ],
          },
          {
            role: 'tool',
            parts: [
              {
                type: 'tool_result',
                toolCallId: 'toolu_1',
                content: [{ type: 'text', text: '{"temp":21}' }],
              },
            ],
          },
          {
            role: 'tool',
            parts: [
              {
                type: 'tool_result',
                toolCallId: 'toolu_2',
                name: 'snap',
                content: [
                  { type: 'text', text: 'camera offline' },
                  {
                    type: 'image',
                    source: { kind: 'base64', mediaType: 'image/png', data: 'iVBO' },
                  },
                ],
                isError: true,
              },
            ],
          },
          { role: 'user', parts: [{ type: 'text', text: 'Thanks' }] },
        ],
      }),
    );
    expect(out).toStrictEqual({
      systemInstruction: { parts: [{ text: 'Be brief.' }, { text: 'Use tools.' }] },
      contents: [
        {
          role: 'user',
          parts: [
            { text: 'Look:' },
            { fileData: { mimeType: 'image/jpeg', fileUri: 'https://x.test/a.JPG?v=2' } },
            { inlineData: { mimeType: 'image/gif', data: 'R0lG' } },
            { fileData: { mimeType: 'image/jpeg', fileUri: 'https://x.test/photo' } },
            { text: 'And the weather?' },
          ],
        },
        {
          role: 'model',
          parts: [
            { functionCall: { name: 'get_weather', args: { city: 'Paris' } } },
            { functionCall: { name: 'snap', args: {} } },
          ],
        },
        {
          role: 'user',
          parts: [
            { functionResponse: { name: 'get_weather', response: { temp: 21 } } },
            { functionResponse: { name: 'snap', response: { error: 'camera offline' } } },
            { inlineData: { mimeType: 'image/png', data: 'iVBO' } },
            { text: 'Thanks' },
          ],
        },
      ],
    });
  });

  it('wraps results that are not a JSON object under output, and failed calls under error', () => {
    const result = (text: string, isError = false): unknown =>
      (
        toGeminiRequest(
          canonical({
            messages: [
              {
                role: 'assistant',
                parts: [{ type: 'tool_call', id: 'c', name: 'f', arguments: '{}' }],
              },
              {
                role: 'tool',
                parts: [
                  {
                    type: 'tool_result',
                    toolCallId: 'c',
                    content: [{ type: 'text', text }],
                    isError,
                  },
                ],
              },
            ],
          }),
        ) as Obj
      ).contents[1].parts[0].functionResponse.response;
    expect(result('Sunny, 21 °C')).toStrictEqual({ output: 'Sunny, 21 °C' });
    expect(result('[1,2]')).toStrictEqual({ output: [1, 2] });
    expect(result('42')).toStrictEqual({ output: 42 });
    expect(result('')).toStrictEqual({ output: '' });
    expect(result('{"ok":true}')).toStrictEqual({ ok: true });
    expect(result('{"code":5}', true)).toStrictEqual({ error: { code: 5 } });
    expect(result('{"error":"boom"}', true)).toStrictEqual({ error: 'boom' });
    expect(result('no such city', true)).toStrictEqual({ error: 'no such city' });
  });

  it('cleans tool schemas to the Gemini subset and gives parameterless tools an empty object', () => {
    const out = toGeminiRequest(
      canonical({
        tools: [
          {
            name: 'read_file',
            description: 'Read a file',
            parameters: {
              $schema: 'http://json-schema.org/draft-07/schema#',
              type: 'object',
              additionalProperties: false,
              $defs: { Enc: { type: 'string', enum: ['utf8', 'base64'] } },
              properties: {
                path: { type: 'string', format: 'uri' },
                encoding: { $ref: '#/$defs/Enc', default: 'utf8' },
                limit: { type: ['integer', 'null'] },
              },
              required: ['path', 'nope'],
            },
          },
          { name: 'now', parameters: {} },
        ],
        toolChoice: { name: 'read_file' },
      }),
    );
    expect(out.tools).toStrictEqual([
      {
        functionDeclarations: [
          {
            name: 'read_file',
            description: 'Read a file',
            parameters: {
              type: 'object',
              properties: {
                path: { type: 'string' },
                encoding: { type: 'string', enum: ['utf8', 'base64'] },
                limit: { type: 'integer', nullable: true },
              },
              required: ['path'],
            },
          },
          { name: 'now', parameters: { type: 'object', properties: {} } },
        ],
      },
    ]);
    expect(out.toolConfig).toStrictEqual({
      functionCallingConfig: { mode: 'ANY', allowedFunctionNames: ['read_file'] },
    });
  });

  it.each([
    ['auto', 'AUTO'],
    ['required', 'ANY'],
    ['none', 'NONE'],
  ] as const)('writes tool choice %s as mode %s, and none without tools', (choice, mode) => {
    const withTools = toGeminiRequest(canonical({ tools: [TIME_TOOL], toolChoice: choice }));
    expect(withTools.toolConfig).toStrictEqual({ functionCallingConfig: { mode } });
    expect(toGeminiRequest(canonical({ toolChoice: choice })).toolConfig).toBeUndefined();
  });

  it('writes generation settings, the response format and a sanitised response schema', () => {
    const out = toGeminiRequest(
      canonical({
        maxTokens: 500,
        temperature: 1.3,
        topP: 0.8,
        topK: 20,
        stop: ['###'],
        responseFormat: {
          type: 'json_schema',
          name: 'answer',
          strict: true,
          schema: {
            type: 'object',
            additionalProperties: false,
            properties: { answer: { type: 'string' } },
            required: ['answer'],
          },
        },
        parallelToolCalls: false,
        user: 'u-1',
      }),
    );
    expect(out.generationConfig).toStrictEqual({
      maxOutputTokens: 500,
      temperature: 1.3,
      topP: 0.8,
      topK: 20,
      stopSequences: ['###'],
      responseMimeType: 'application/json',
      responseSchema: {
        type: 'object',
        properties: { answer: { type: 'string' } },
        required: ['answer'],
      },
    });
    expect(Object.keys(out).sort()).toStrictEqual(['contents', 'generationConfig']);
    expect(
      toGeminiRequest(canonical({ responseFormat: { type: 'json_object' } })).generationConfig,
    ).toStrictEqual({ responseMimeType: 'application/json' });
    expect(
      toGeminiRequest(canonical({ responseFormat: { type: 'text' } })).generationConfig,
    ).toStrictEqual({ responseMimeType: 'text/plain' });
    expect(toGeminiRequest(canonical()).generationConfig).toBeUndefined();
  });

  it.each([
    [{ effort: 'low' }, MODEL, { thinkingBudget: effortToBudget('low') }],
    [
      { effort: 'high', includeThoughts: true },
      MODEL,
      { thinkingBudget: 24576, includeThoughts: true },
    ],
    [{ budgetTokens: 60000 }, MODEL, { thinkingBudget: 24576 }],
    [{ budgetTokens: 60000 }, 'gemini-2.5-pro', { thinkingBudget: 32768 }],
    [{ budgetTokens: 0 }, MODEL, { thinkingBudget: 0 }],
    [{ budgetTokens: -1 }, MODEL, { thinkingBudget: -1 }],
    [{ includeThoughts: true }, MODEL, { includeThoughts: true }],
    [{}, MODEL, undefined],
  ] as const)('writes reasoning %j for %s as thinkingConfig %j', (reasoning, model, config) => {
    const out = toGeminiRequest(canonical({ model, reasoning: { ...reasoning } })) as Obj;
    expect(out.generationConfig?.thinkingConfig).toStrictEqual(config);
  });

  it('puts a loose Gemini signature on the next part when no part comes before it', () => {
    const out = toGeminiRequest(
      canonical({
        messages: [
          {
            role: 'assistant',
            parts: [
              { type: 'thinking', text: '', signature: 'c2ln', origin: 'gemini' },
              { type: 'text', text: 'Answer.' },
              { type: 'thinking', text: '', signature: 'bm9uZQ==', origin: 'gemini' },
            ],
          },
        ],
      }),
    );
    // The second signature has no free part left (Gemini refuses empty text parts): dropped.
    expect(out.contents).toStrictEqual([
      { role: 'model', parts: [{ text: 'Answer.', thoughtSignature: 'c2ln' }] },
    ]);
  });

  it('leaves out messages with nothing Gemini can take', () => {
    const out = toGeminiRequest(
      canonical({
        messages: [
          { role: 'user', parts: [{ type: 'text', text: 'q' }] },
          { role: 'assistant', parts: [{ type: 'thinking', text: 'x', origin: 'anthropic' }] },
          { role: 'user', parts: [{ type: 'text', text: '' }] },
        ],
      }),
    );
    expect(out.contents).toStrictEqual([{ role: 'user', parts: [{ text: 'q' }] }]);
  });
});

describe(geminiPath.name, () => {
  it('builds the generate and stream paths for a model', () => {
    expect(geminiPath('models/gemini-2.5-flash', false)).toBe(
      '/v1beta/models/gemini-2.5-flash:generateContent',
    );
    expect(geminiPath('gemini-2.5-flash', true)).toBe(
      '/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse',
    );
  });
});
