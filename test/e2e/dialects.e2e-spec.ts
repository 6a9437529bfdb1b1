import Anthropic from '@anthropic-ai/sdk';
import { GoogleGenAI } from '@google/genai';
import { Ollama } from 'ollama';
import OpenAI from 'openai';
import { UsageService } from '../../src/usage/usage.service';
import { queryDb } from '../support/db';
import {
  startFixtureUpstream,
  readFixture,
  type FixtureUpstream,
} from '../support/fixture-upstream';
import { useGateway } from '../support/fixtures';
import { admin } from '../support/gateway-client';

const ANSWER = 'The capital of France is Paris — famous for the Eiffel Tower.';
const WEATHER = { city: 'Paris', unit: 'celsius' };
const TIME = { timezone: 'Europe/Paris' };

function fixtureJson(dialect: 'anthropic' | 'openai-chat', file: string): Record<string, unknown> {
  return JSON.parse(readFixture(dialect, file).toString('utf8')) as Record<string, unknown>;
}

/** The client request of a fixture case, aimed at a gateway model. */
function anthropicRequest(
  model: string,
  fixtureCase: string,
): Anthropic.MessageCreateParamsNonStreaming {
  const body = fixtureJson('anthropic', `${fixtureCase}.request.json`);
  delete body.stream;
  return { ...body, model } as unknown as Anthropic.MessageCreateParamsNonStreaming;
}

function openAiRequest(
  model: string,
  fixtureCase: string,
): OpenAI.ChatCompletionCreateParamsNonStreaming {
  const body = fixtureJson('openai-chat', `${fixtureCase}.request.json`);
  delete body.stream;
  delete body.stream_options;
  return { ...body, model } as unknown as OpenAI.ChatCompletionCreateParamsNonStreaming;
}

describe('Anthropic and OpenAI dialects through one gateway', () => {
  const { gw } = useGateway({ mock: false });
  let up: FixtureUpstream;
  let anthropic: Anthropic;
  let openai: OpenAI;

  beforeAll(async () => {
    up = await startFixtureUpstream({ apiKey: 'sk-upstream' });
    const { node: ant } = await admin<{ node: { id: string } }>(gw, 'POST', '/api/provider-nodes', {
      name: 'anthropic fixtures',
      prefix: 'ant',
      type: 'anthropic-compatible',
      baseUrl: up.baseUrl,
    });
    await admin(gw, 'POST', '/api/providers', {
      provider: ant.id,
      name: 'a',
      apiKey: 'sk-upstream',
    });
    const { node: oai } = await admin<{ node: { id: string } }>(gw, 'POST', '/api/provider-nodes', {
      name: 'openai fixtures',
      prefix: 'oai',
      baseUrl: up.baseUrl,
    });
    await admin(gw, 'POST', '/api/providers', {
      provider: oai.id,
      name: 'a',
      apiKey: 'sk-upstream',
    });
    // Separate nodes for the fault tests: a failing account cools down, which must not leak.
    for (const [prefix, type] of [
      ['antfail', 'anthropic-compatible'],
      ['oaifail', 'openai-compatible'],
    ] as const) {
      const { node } = await admin<{ node: { id: string } }>(gw, 'POST', '/api/provider-nodes', {
        name: prefix,
        prefix,
        type,
        baseUrl: up.baseUrl,
      });
      await admin(gw, 'POST', '/api/providers', {
        provider: node.id,
        name: 'a',
        apiKey: 'sk-upstream',
      });
    }
    const { node: rsp } = await admin<{ node: { id: string } }>(gw, 'POST', '/api/provider-nodes', {
      name: 'responses fixtures',
      prefix: 'rsp',
      apiType: 'responses',
      baseUrl: up.baseUrl,
    });
    await admin(gw, 'POST', '/api/providers', {
      provider: rsp.id,
      name: 'a',
      apiKey: 'sk-upstream',
    });
    await admin(gw, 'POST', '/api/providers', {
      provider: 'gemini',
      name: 'fixtures',
      apiKey: 'sk-upstream',
      providerSpecificData: { baseUrl: `${up.url}/v1beta` },
    });
    await admin(gw, 'POST', '/api/providers', {
      provider: 'ollama',
      name: 'local',
      providerSpecificData: { baseUrl: up.url },
    });
    anthropic = new Anthropic({ apiKey: gw.adminKey, baseURL: gw.url, maxRetries: 0 });
    openai = new OpenAI({ apiKey: gw.adminKey, baseURL: `${gw.url}/v1`, maxRetries: 0 });
  });
  afterAll(async () => {
    await up?.close();
  });
  beforeEach(() => up.reset());

  describe('Anthropic client → Anthropic upstream (pass-through)', () => {
    it('forwards the body with only the model rewritten and returns the upstream bytes untouched', async () => {
      const res = await fetch(`${gw.url}/v1/messages`, {
        method: 'POST',
        headers: {
          'x-api-key': gw.adminKey,
          'content-type': 'application/json',
          'anthropic-version': '2023-06-01',
        },
        body: JSON.stringify(anthropicRequest('ant/parallel-tool-calls', 'parallel-tool-calls')),
      });
      expect(res.status).toBe(200);
      expect(
        Buffer.from(await res.arrayBuffer()).equals(
          readFixture('anthropic', 'parallel-tool-calls.response.json'),
        ),
      ).toBe(true);
      const sent = up.lastRequest()!;
      expect(sent.url).toBe('/v1/messages');
      expect(sent.headers['x-api-key']).toBe('sk-upstream');
      expect(sent.body.model).toBe('parallel-tool-calls');
      expect(sent.body.system[0].cache_control).toEqual({ type: 'ephemeral' }); // untouched
    });

    it('streams the upstream SSE bytes untouched to the official SDK', async () => {
      const stream = anthropic.messages.stream({
        ...anthropicRequest('ant/parallel-tool-calls', 'parallel-tool-calls'),
      });
      const final = await stream.finalMessage();
      const tools = final.content.filter((b): b is Anthropic.ToolUseBlock => b.type === 'tool_use');
      expect(tools.map((t) => [t.name, t.input])).toEqual([
        ['get_weather', WEATHER],
        ['get_time', TIME],
      ]);
      const raw = await fetch(`${gw.url}/v1/messages`, {
        method: 'POST',
        headers: { 'x-api-key': gw.adminKey, 'content-type': 'application/json' },
        body: JSON.stringify({ ...anthropicRequest('ant/thinking', 'thinking'), stream: true }),
      });
      expect(
        Buffer.from(await raw.arrayBuffer()).equals(
          readFixture('anthropic', 'thinking.stream.sse'),
        ),
      ).toBe(true);
    });

    it('records the usage the upstream reported, cache tokens apart', async () => {
      await anthropic.messages.create(
        anthropicRequest('ant/parallel-tool-calls', 'parallel-tool-calls'),
        {
          headers: { 'x-request-id': 'ant-usage-1' },
        },
      );
      await gw.app.get(UsageService).flush();
      const [row] = await queryDb(gw.dbUrl, 'SELECT * FROM usage_records WHERE request_id = $1', [
        'ant-usage-1',
      ]);
      const usage = fixtureJson('anthropic', 'parallel-tool-calls.response.json').usage as Record<
        string,
        number
      >;
      expect(row).toMatchObject({
        surface: 'anthropic',
        tokens_input: usage.input_tokens,
        tokens_output: usage.output_tokens,
        tokens_cache_read: usage.cache_read_input_tokens,
        tokens_cache_creation: usage.cache_creation_input_tokens,
      });
    });
  });

  describe('Anthropic client → OpenAI upstream (translated)', () => {
    it('answers a non-stream message in the Anthropic shape', async () => {
      const msg = await anthropic.messages.create(anthropicRequest('oai/text', 'text'));
      expect(msg.type).toBe('message');
      expect(msg.role).toBe('assistant');
      expect(msg.content).toEqual([expect.objectContaining({ type: 'text', text: ANSWER })]);
      expect(msg.stop_reason).toBe('end_turn');
      const sent = up.lastRequest()!;
      expect(sent.url).toBe('/v1/chat/completions');
      expect(sent.headers.authorization).toBe('Bearer sk-upstream');
      expect(sent.body.messages[0]).toEqual({
        role: 'system',
        content: expect.stringContaining('geography'),
      });
    });

    it('streams parallel tool calls whose arguments arrive intact', async () => {
      const stream = anthropic.messages.stream(
        anthropicRequest('oai/parallel-tool-calls', 'parallel-tool-calls'),
      );
      const final = await stream.finalMessage();
      const tools = final.content.filter((b): b is Anthropic.ToolUseBlock => b.type === 'tool_use');
      expect(tools.map((t) => [t.name, t.input])).toEqual([
        ['get_weather', WEATHER],
        ['get_time', TIME],
      ]);
      expect(final.stop_reason).toBe('tool_use');
    });

    it('renders an upstream 429 in the Anthropic error shape with its status', async () => {
      await expect(
        anthropic.messages.create(anthropicRequest('oaifail/fail-429', 'text')),
      ).rejects.toMatchObject({
        status: 429,
        error: { type: 'error', error: { type: 'rate_limit_error' } },
      });
    });
  });

  describe('OpenAI client → Anthropic upstream (translated)', () => {
    it('answers a non-stream completion in the OpenAI shape', async () => {
      const r = await openai.chat.completions.create(openAiRequest('ant/text', 'text'));
      expect(r.object).toBe('chat.completion');
      expect(r.choices[0].message.content).toBe(ANSWER);
      expect(r.choices[0].finish_reason).toBe('stop');
      const sent = up.lastRequest()!;
      expect(sent.url).toBe('/v1/messages');
      expect(sent.headers['anthropic-version']).toBe('2023-06-01');
      expect(typeof sent.body.max_tokens).toBe('number');
    });

    it('streams parallel tool calls with their argument deltas in order', async () => {
      const stream = await openai.chat.completions.create({
        ...openAiRequest('ant/parallel-tool-calls', 'parallel-tool-calls'),
        stream: true,
      });
      const args = new Map<number, { name: string; args: string }>();
      let finish: string | null = null;
      for await (const chunk of stream) {
        for (const tc of chunk.choices[0]?.delta?.tool_calls ?? []) {
          const cur = args.get(tc.index) ?? { name: '', args: '' };
          cur.name += tc.function?.name ?? '';
          cur.args += tc.function?.arguments ?? '';
          args.set(tc.index, cur);
        }
        finish = chunk.choices[0]?.finish_reason ?? finish;
      }
      expect([...args.values()].map((a) => [a.name, JSON.parse(a.args) as unknown])).toEqual([
        ['get_weather', WEATHER],
        ['get_time', TIME],
      ]);
      expect(finish).toBe('tool_calls');
    });

    it('ends a stream whose upstream fails mid-way with an error the SDK raises', async () => {
      const stream = await openai.chat.completions.create({
        ...openAiRequest('antfail/midstream-error', 'text'),
        stream: true,
      });
      await expect(
        (async () => {
          for await (const _ of stream) {
            /* consume */
          }
        })(),
      ).rejects.toThrow();
    });
  });

  describe('OpenAI Responses', () => {
    it('answers responses.create from an OpenAI Chat upstream', async () => {
      const r = await openai.responses.create({
        model: 'oai/text',
        input: 'What is the capital of France?',
      });
      expect(r.object).toBe('response');
      expect(r.status).toBe('completed');
      expect(r.output_text).toBe(ANSWER);
      expect(up.lastRequest()!.url).toBe('/v1/chat/completions');
    });

    it('streams parallel function calls from an Anthropic upstream to the Responses stream helper', async () => {
      const stream = openai.responses.stream({
        model: 'ant/parallel-tool-calls',
        input: "What's the weather in Paris right now, and what time is it there?",
        tools: [
          {
            type: 'function',
            name: 'get_weather',
            parameters: { type: 'object', properties: {} },
            strict: false,
          },
          {
            type: 'function',
            name: 'get_time',
            parameters: { type: 'object', properties: {} },
            strict: false,
          },
        ],
      });
      const final = await stream.finalResponse();
      const calls = final.output.flatMap((o) => (o.type === 'function_call' ? [o] : []));
      expect(calls.map((c) => [c.name, JSON.parse(c.arguments) as unknown])).toEqual([
        ['get_weather', WEATHER],
        ['get_time', TIME],
      ]);
    });

    it('serves Codex CLI at /codex/responses and passes a Responses upstream stream through untouched', async () => {
      const res = await fetch(`${gw.url}/codex/responses`, {
        method: 'POST',
        headers: { authorization: `Bearer ${gw.adminKey}`, 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'rsp/thinking', input: 'Is 391 prime?', stream: true }),
      });
      expect(res.status).toBe(200);
      expect(
        Buffer.from(await res.arrayBuffer()).equals(
          readFixture('responses', 'thinking.stream.sse'),
        ),
      ).toBe(true);
      expect(up.lastRequest()!.url).toBe('/v1/responses');
    });

    it('answers an OpenAI Chat client from a Responses upstream', async () => {
      const r = await openai.chat.completions.create({
        model: 'rsp/text',
        messages: [{ role: 'user', content: 'capital?' }],
      });
      expect(r.choices[0].message.content).toBe(ANSWER);
      const sent = up.lastRequest()!;
      expect(sent.url).toBe('/v1/responses');
      expect(sent.body.store).toBe(false);
    });

    it('refuses previous_response_id with a clear 400 (the gateway stores no responses)', async () => {
      await expect(
        openai.responses.create({
          model: 'oai/text',
          input: 'hi',
          previous_response_id: 'resp_123',
        }),
      ).rejects.toMatchObject({ status: 400 });
      expect(up.count).toBe(0);
    });
  });

  describe('Gemini', () => {
    const genai = (): GoogleGenAI =>
      new GoogleGenAI({ apiKey: gw.adminKey, httpOptions: { baseUrl: gw.url } });

    it('answers generateContent from an OpenAI upstream', async () => {
      const r = await genai().models.generateContent({
        model: 'oai/text',
        contents: 'What is the capital of France?',
      });
      expect(r.text).toBe(ANSWER);
      expect(up.lastRequest()!.url).toBe('/v1/chat/completions');
    });

    it('streams parallel function calls from an Anthropic upstream to generateContentStream', async () => {
      const stream = await genai().models.generateContentStream({
        model: 'ant/parallel-tool-calls',
        contents: "What's the weather in Paris right now, and what time is it there?",
        config: {
          tools: [
            {
              functionDeclarations: [
                { name: 'get_weather', parameters: { type: 'OBJECT' as never, properties: {} } },
                { name: 'get_time', parameters: { type: 'OBJECT' as never, properties: {} } },
              ],
            },
          ],
        },
      });
      const calls: [string | undefined, unknown][] = [];
      for await (const chunk of stream) {
        for (const c of chunk.functionCalls ?? []) {
          calls.push([c.name, c.args]);
        }
      }
      expect(calls).toEqual([
        ['get_weather', WEATHER],
        ['get_time', TIME],
      ]);
    });

    it('passes a Gemini upstream stream through untouched (model in the URL, key in x-goog-api-key)', async () => {
      const res = await fetch(
        `${gw.url}/v1beta/models/gemini/thinking:streamGenerateContent?alt=sse`,
        {
          method: 'POST',
          headers: { 'x-goog-api-key': gw.adminKey, 'content-type': 'application/json' },
          body: JSON.stringify({
            contents: [{ role: 'user', parts: [{ text: 'Is 391 prime?' }] }],
          }),
        },
      );
      expect(res.status).toBe(200);
      expect(
        Buffer.from(await res.arrayBuffer()).equals(readFixture('gemini', 'thinking.stream.sse')),
      ).toBe(true);
      const sent = up.lastRequest()!;
      expect(sent.url).toBe('/v1beta/models/thinking:streamGenerateContent?alt=sse');
      expect(sent.headers['x-goog-api-key']).toBe('sk-upstream');
      expect(sent.body).not.toHaveProperty('model');
    });

    it('answers an OpenAI client from the Gemini upstream', async () => {
      const r = await openai.chat.completions.create({
        model: 'gemini/text',
        messages: [{ role: 'user', content: 'capital?' }],
      });
      expect(r.choices[0].message.content).toBe(ANSWER);
      expect(up.lastRequest()!.url).toBe('/v1beta/models/text:generateContent');
    });

    it("lists models in Gemini's shape and answers errors in Gemini's shape", async () => {
      const list = await fetch(`${gw.url}/v1beta/models`, {
        headers: { 'x-goog-api-key': gw.adminKey },
      });
      const models = ((await list.json()) as { models: { name: string }[] }).models.map(
        (m) => m.name,
      );
      expect(models).toContain('models/oai/text');
      const res = await fetch(`${gw.url}/api/v1beta/models/oai/text:generateContent`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ contents: [] }),
      });
      expect(res.status).toBe(401);
      const err = (await res.json()) as { error: { code: number; status: string } };
      expect(err.error).toMatchObject({ code: 401, status: 'UNAUTHENTICATED' });
      const bad = await fetch(`${gw.url}/v1beta/models/oai/text:generateContent`, {
        method: 'POST',
        headers: { 'x-goog-api-key': gw.adminKey, 'content-type': 'application/json' },
        body: JSON.stringify({ contents: 'nope' }),
      });
      expect(bad.status).toBe(400);
      expect(((await bad.json()) as { error: { status: string } }).error.status).toBe(
        'INVALID_ARGUMENT',
      );
    });
  });

  describe('models served only by the Responses API', () => {
    it('sends a Chat client request for such a model to /responses and answers in Chat shape', async () => {
      const { node } = await admin<{ node: { id: string } }>(gw, 'POST', '/api/provider-nodes', {
        name: 'responses-only models',
        prefix: 'rmod',
        baseUrl: up.baseUrl,
      });
      await admin(gw, 'POST', '/api/providers', {
        provider: node.id,
        name: 'a',
        apiKey: 'sk-upstream',
        providerSpecificData: { responsesModels: ['text'] },
      });
      const r = await openai.chat.completions.create({
        model: 'rmod/text',
        messages: [{ role: 'user', content: 'capital?' }],
      });
      expect(r.choices[0].message.content).toBe(ANSWER);
      expect(up.lastRequest()!.url).toBe('/v1/responses');
      await openai.chat.completions.create({
        model: 'rmod/thinking',
        messages: [{ role: 'user', content: 'prime?' }],
      });
      expect(up.lastRequest()!.url).toBe('/v1/chat/completions'); // other models: Chat Completions
    });
  });

  describe('Ollama', () => {
    const client = (): Ollama =>
      new Ollama({ host: gw.url, headers: { authorization: `Bearer ${gw.adminKey}` } });

    it('answers an Ollama client from an OpenAI upstream (non-stream)', async () => {
      const r = await client().chat({
        model: 'oai/text',
        messages: [{ role: 'user', content: 'capital?' }],
        stream: false,
      });
      expect(r.message.content).toBe(ANSWER);
      expect(r.done).toBe(true);
    });

    it('streams parallel tool calls from an Anthropic upstream to an Ollama client as NDJSON', async () => {
      const stream = await client().chat({
        model: 'ant/parallel-tool-calls',
        messages: [{ role: 'user', content: 'weather and time?' }],
        stream: true,
      });
      const calls: [string, unknown][] = [];
      let done = false;
      for await (const part of stream) {
        for (const c of part.message.tool_calls ?? []) {
          calls.push([c.function.name, c.function.arguments]);
        }
        done ||= part.done;
      }
      expect(calls).toEqual([
        ['get_weather', WEATHER],
        ['get_time', TIME],
      ]);
      expect(done).toBe(true);
    });

    it('passes an Ollama upstream stream through untouched to an Ollama client', async () => {
      const res = await fetch(`${gw.url}/api/chat`, {
        method: 'POST',
        headers: { authorization: `Bearer ${gw.adminKey}`, 'content-type': 'application/json' },
        body: JSON.stringify({
          model: 'ollama/thinking',
          messages: [{ role: 'user', content: 'Is 391 prime?' }],
          think: true,
        }),
      });
      expect(res.headers.get('content-type')).toContain('application/x-ndjson');
      expect(
        Buffer.from(await res.arrayBuffer()).equals(
          readFixture('ollama', 'thinking.stream.ndjson'),
        ),
      ).toBe(true);
      expect(up.lastRequest()!.url).toBe('/api/chat');
    });

    it('answers an OpenAI client from an Ollama upstream, streamed and not', async () => {
      const r = await openai.chat.completions.create({
        model: 'ollama/text',
        messages: [{ role: 'user', content: 'capital?' }],
      });
      expect(r.choices[0].message.content).toBe(ANSWER);
      const stream = await openai.chat.completions.create({
        model: 'ollama/text',
        messages: [{ role: 'user', content: 'capital?' }],
        stream: true,
      });
      let text = '';
      for await (const c of stream) {
        text += c.choices[0]?.delta?.content ?? '';
      }
      expect(text).toBe(ANSWER);
      expect(up.lastRequest()!.body.stream).toBe(true);
    });

    it("lists the catalogue at /api/tags and rejects a bad body in Ollama's error shape", async () => {
      const tags = await client().list();
      expect(tags.models.map((m) => m.name)).toEqual(expect.arrayContaining(['oai/text']));
      const res = await fetch(`${gw.url}/api/chat`, {
        method: 'POST',
        headers: { authorization: `Bearer ${gw.adminKey}`, 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'oai/text', messages: 'hi' }),
      });
      expect(res.status).toBe(400);
      expect(typeof ((await res.json()) as { error: unknown }).error).toBe('string');
    });
  });

  describe('/v1/messages/count_tokens', () => {
    it('asks an Anthropic upstream and says so', async () => {
      const r = await anthropic.messages.countTokens({
        model: 'ant/text',
        messages: [{ role: 'user', content: 'Hi there' }],
      });
      expect(r).toMatchObject({ input_tokens: 321 });
      expect(up.lastRequest()!.url).toBe('/v1/messages/count_tokens');
      expect(up.lastRequest()!.body.model).toBe('text');
    });

    it('estimates characters / 4 for other upstreams, and rejects empty messages in Anthropic shape', async () => {
      const res = await fetch(`${gw.url}/v1/messages/count_tokens`, {
        method: 'POST',
        headers: { 'x-api-key': gw.adminKey, 'content-type': 'application/json' },
        body: JSON.stringify({
          model: 'oai/text',
          system: 'abcd',
          messages: [{ role: 'user', content: 'efghijkl' }],
        }),
      });
      expect(await res.json()).toEqual({ input_tokens: 3, source: 'estimated' });
      const bad = await fetch(`${gw.url}/v1/messages/count_tokens`, {
        method: 'POST',
        headers: { 'x-api-key': gw.adminKey, 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'ant/text', messages: [] }),
      });
      expect(bad.status).toBe(400);
      expect(((await bad.json()) as { type: string }).type).toBe('error');
    });
  });

  describe('bad input on /v1/messages gets the Anthropic error shape', () => {
    const post = (
      body: unknown,
      headers: Record<string, string> = { 'x-api-key': gw.adminKey },
    ): Promise<Response> =>
      fetch(`${gw.url}/v1/messages`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...headers },
        body: typeof body === 'string' ? body : JSON.stringify(body),
      });

    it.each([
      [
        'no credentials',
        { model: 'ant/text', max_tokens: 10, messages: [{ role: 'user', content: 'hi' }] },
        {},
        401,
        'authentication_error',
      ],
      ['malformed JSON', '{"model":', undefined, 400, 'invalid_request_error'],
      [
        'a missing max_tokens',
        { model: 'ant/text', messages: [{ role: 'user', content: 'hi' }] },
        undefined,
        400,
        'invalid_request_error',
      ],
      [
        'an unknown content block type',
        {
          model: 'ant/text',
          max_tokens: 5,
          messages: [{ role: 'user', content: [{ type: 'hologram' }] }],
        },
        undefined,
        400,
        'invalid_request_error',
      ],
      [
        'an unknown model',
        { model: 'nope/x', max_tokens: 5, messages: [{ role: 'user', content: 'hi' }] },
        undefined,
        404,
        'not_found_error',
      ],
    ])('rejects %s', async (_name, body, headers, status, type) => {
      const res = await post(body, headers);
      expect(res.status).toBe(status);
      const j = (await res.json()) as { type: string; error: { type: string; message: string } };
      expect(j.type).toBe('error');
      expect(j.error.type).toBe(type);
      expect(j.error.message.length).toBeGreaterThan(3);
      expect(up.count).toBe(0);
    });
  });
});
