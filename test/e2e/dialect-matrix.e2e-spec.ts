import Anthropic from '@anthropic-ai/sdk';
import { GoogleGenAI } from '@google/genai';
import { Ollama } from 'ollama';
import OpenAI from 'openai';
import { startFixtureUpstream, type FixtureUpstream } from '../support/fixture-upstream';
import { useGateway } from '../support/fixtures';
import { admin } from '../support/gateway-client';

/**
 * Every official client SDK × every upstream dialect: a streamed parallel tool call whose
 * arguments must arrive intact (issue 3 "Done when"). The upstream serves the golden
 * `parallel-tool-calls` fixture of its own protocol.
 */
const WEATHER = { city: 'Paris', unit: 'celsius' };
const TIME = { timezone: 'Europe/Paris' };
const EXPECTED = [
  ['get_weather', WEATHER],
  ['get_time', TIME],
];
const PROMPT = "What's the weather in Paris right now, and what time is it there?";
const PARAMS = {
  type: 'object',
  properties: { city: { type: 'string' }, unit: { type: 'string' }, timezone: { type: 'string' } },
};

/** Upstream dialect → the model prefix routed to it (set up in beforeAll). */
const UPSTREAMS = [
  ['OpenAI Chat', 'mx-oai'],
  ['Anthropic', 'mx-ant'],
  ['Responses', 'mx-rsp'],
  ['Gemini', 'gemini'],
  ['Ollama', 'ollama'],
] as const;

type Calls = [string, unknown][];

describe('every client SDK × every upstream dialect: streamed parallel tool calls', () => {
  const { gw } = useGateway({ mock: false });
  let up: FixtureUpstream;

  beforeAll(async () => {
    up = await startFixtureUpstream({ apiKey: 'sk-upstream' });
    for (const [prefix, type, apiType] of [
      ['mx-oai', 'openai-compatible', 'chat'],
      ['mx-ant', 'anthropic-compatible', 'chat'],
      ['mx-rsp', 'openai-compatible', 'responses'],
    ] as const) {
      const { node } = await admin<{ node: { id: string } }>(gw, 'POST', '/api/provider-nodes', {
        name: prefix,
        prefix,
        type,
        apiType,
        baseUrl: up.baseUrl,
      });
      await admin(gw, 'POST', '/api/providers', {
        provider: node.id,
        name: 'a',
        apiKey: 'sk-upstream',
      });
    }
    await admin(gw, 'POST', '/api/providers', {
      provider: 'gemini',
      name: 'mx',
      apiKey: 'sk-upstream',
      providerSpecificData: { baseUrl: `${up.url}/v1beta` },
    });
    await admin(gw, 'POST', '/api/providers', {
      provider: 'ollama',
      name: 'mx',
      providerSpecificData: { baseUrl: up.url },
    });
  });
  afterAll(async () => {
    await up?.close();
  });

  const clients: [string, (model: string) => Promise<Calls>][] = [
    [
      'openai (chat.completions)',
      async (model) => {
        const openai = new OpenAI({ apiKey: gw.adminKey, baseURL: `${gw.url}/v1`, maxRetries: 0 });
        const stream = await openai.chat.completions.create({
          model,
          stream: true,
          messages: [{ role: 'user', content: PROMPT }],
          tools: ['get_weather', 'get_time'].map((name) => ({
            type: 'function' as const,
            function: { name, parameters: PARAMS },
          })),
        });
        const byIndex = new Map<number, { name: string; args: string }>();
        for await (const chunk of stream) {
          for (const tc of chunk.choices[0]?.delta?.tool_calls ?? []) {
            const cur = byIndex.get(tc.index) ?? { name: '', args: '' };
            cur.name += tc.function?.name ?? '';
            cur.args += tc.function?.arguments ?? '';
            byIndex.set(tc.index, cur);
          }
        }
        return [...byIndex.values()].map((c) => [c.name, JSON.parse(c.args) as unknown]);
      },
    ],
    [
      'openai (responses)',
      async (model) => {
        const openai = new OpenAI({ apiKey: gw.adminKey, baseURL: `${gw.url}/v1`, maxRetries: 0 });
        const final = await openai.responses
          .stream({
            model,
            input: PROMPT,
            tools: ['get_weather', 'get_time'].map((name) => ({
              type: 'function' as const,
              name,
              parameters: PARAMS,
              strict: false,
            })),
          })
          .finalResponse();
        return final.output.flatMap((o) =>
          o.type === 'function_call'
            ? [[o.name, JSON.parse(o.arguments) as unknown] as [string, unknown]]
            : [],
        );
      },
    ],
    [
      '@anthropic-ai/sdk (messages.stream)',
      async (model) => {
        const anthropic = new Anthropic({ apiKey: gw.adminKey, baseURL: gw.url, maxRetries: 0 });
        const final = await anthropic.messages
          .stream({
            model,
            max_tokens: 1024,
            messages: [{ role: 'user', content: PROMPT }],
            tools: ['get_weather', 'get_time'].map((name) => ({
              name,
              input_schema: PARAMS as Anthropic.Tool.InputSchema,
            })),
          })
          .finalMessage();
        return final.content.flatMap((b) =>
          b.type === 'tool_use' ? [[b.name, b.input] as [string, unknown]] : [],
        );
      },
    ],
    [
      '@google/genai (generateContentStream)',
      async (model) => {
        const ai = new GoogleGenAI({ apiKey: gw.adminKey, httpOptions: { baseUrl: gw.url } });
        const stream = await ai.models.generateContentStream({
          model,
          contents: PROMPT,
          config: {
            tools: [
              {
                functionDeclarations: ['get_weather', 'get_time'].map((name) => ({
                  name,
                  parametersJsonSchema: PARAMS,
                })),
              },
            ],
          },
        });
        const calls: Calls = [];
        for await (const chunk of stream) {
          for (const c of chunk.functionCalls ?? []) {
            calls.push([c.name ?? '', c.args]);
          }
        }
        return calls;
      },
    ],
    [
      'ollama (chat, stream)',
      async (model) => {
        const ollama = new Ollama({
          host: gw.url,
          headers: { authorization: `Bearer ${gw.adminKey}` },
        });
        const stream = await ollama.chat({
          model,
          stream: true,
          messages: [{ role: 'user', content: PROMPT }],
          tools: ['get_weather', 'get_time'].map((name) => ({
            type: 'function',
            function: { name, parameters: PARAMS as never },
          })),
        });
        const calls: Calls = [];
        for await (const part of stream) {
          for (const c of part.message.tool_calls ?? []) {
            calls.push([c.function.name, c.function.arguments]);
          }
        }
        return calls;
      },
    ],
  ];

  describe.each(clients)('%s', (_client, run) => {
    it.each(UPSTREAMS)('→ %s upstream: both calls, arguments intact', async (_upstream, prefix) => {
      await expect(run(`${prefix}/parallel-tool-calls`)).resolves.toEqual(EXPECTED);
    });
  });
});
