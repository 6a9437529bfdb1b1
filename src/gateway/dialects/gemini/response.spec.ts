import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { AppError } from '@/common/errors/app-error';
import { EMPTY_USAGE, type CanonicalResponse } from '@/gateway/dialects/canonical';
import { fromGeminiResponse, toGeminiResponse } from '@/gateway/dialects/gemini/response';

// Fixture JSON is read and compared field by field; typing every wire shape here adds nothing.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Obj = Record<string, any>;

const FIXTURES = join(__dirname, '..', '..', '..', '..', 'test', 'fixtures', 'dialects', 'gemini');
const CASES = ['text', 'parallel-tool-calls', 'thinking', 'image-input'] as const;

function raw(name: string): string {
  return readFileSync(join(FIXTURES, name), 'utf8');
}
function fixture(name: string): Obj {
  return JSON.parse(raw(name)) as Obj;
}

/** The n-th thoughtSignature exactly as the bytes of a response fixture hold it. */
function rawSignature(name: string): string {
  const m = /"thoughtSignature": "([^"]+)"/.exec(raw(`${name}.response.json`));
  if (!m) {
    throw new Error(`no thoughtSignature in ${name}.response.json`);
  }
  return m[1];
}

const MODEL = 'gemini-2.5-flash';

/** Canonical usage from Gemini's counts: input excludes the cache, output includes thoughts. */
const usage = (prompt: number, candidates: number, thoughts: number, cached = 0) => ({
  inputTokens: prompt - cached,
  outputTokens: candidates + thoughts,
  cacheReadTokens: cached,
  cacheCreationTokens: 0,
  reasoningTokens: thoughts,
});

const EXPECTED: Record<(typeof CASES)[number], () => CanonicalResponse> = {
  text: () => ({
    id: 'kX93aPq_LcGv7M8PnYTr0Ag',
    model: MODEL,
    parts: [
      { type: 'text', text: 'The capital of France is Paris — famous for the Eiffel Tower.' },
    ],
    stopReason: 'stop',
    usage: usage(27, 14, 41),
  }),
  'parallel-tool-calls': () => ({
    id: 'mJ15cRs_NeIx9O0RpAVt2Ci',
    model: MODEL,
    parts: [
      { type: 'text', text: "I'll check the current weather and the local time in Paris." },
      {
        type: 'tool_call',
        id: 'call_0',
        name: 'get_weather',
        arguments: '{"city":"Paris","unit":"celsius"}',
        signature: rawSignature('parallel-tool-calls'),
      },
      {
        type: 'tool_call',
        id: 'call_1',
        name: 'get_time',
        arguments: '{"timezone":"Europe/Paris"}',
      },
    ],
    stopReason: 'tool_calls',
    usage: usage(1190, 52, 87, 1021),
  }),
  thinking: () => ({
    id: 'oL37eTu_PgKz1Q2TrCXv4Ek',
    model: MODEL,
    parts: [
      {
        type: 'thinking',
        text: '**Checking 391 for small prime factors**\n\nI tried the primes up to 19, the largest prime below √391, and found that 17 × 23 = 391, so 391 is composite.',
        origin: 'gemini',
      },
      { type: 'text', text: 'No — 391 is not prime, because 391 = 17 × 23.' },
      { type: 'thinking', text: '', signature: rawSignature('thinking'), origin: 'gemini' },
    ],
    stopReason: 'stop',
    usage: usage(13, 21, 212),
  }),
  'image-input': () => ({
    id: 'qN59gVw_RiM13S4VtEZx6Gm',
    model: MODEL,
    parts: [
      {
        type: 'text',
        text: 'The first image shows a red square and the second shows a blue circle, both on a white background.',
      },
    ],
    stopReason: 'stop',
    usage: usage(528, 21, 64),
  }),
};

/** What `toGeminiResponse` can say again of a fixture: no per-modality token details. */
function withoutDetails(body: Obj): Obj {
  const { promptTokensDetails: _p, cacheTokensDetails: _c, ...usageMetadata } = body.usageMetadata;
  return { ...body, usageMetadata };
}

function upstreamRejection(body: unknown): AppError {
  try {
    fromGeminiResponse(body);
  } catch (e) {
    expect(e).toBeInstanceOf(AppError);
    return e as AppError;
  }
  throw new Error('fromGeminiResponse accepted the body');
}

describe(fromGeminiResponse.name, () => {
  describe.each(CASES)('golden fixture %s', (name) => {
    it('reads into the expected canonical response', () => {
      expect(fromGeminiResponse(fixture(`${name}.response.json`))).toStrictEqual(EXPECTED[name]());
    });

    it('renders back to the same body through toGeminiResponse (function calls gain their id)', () => {
      const body = fixture(`${name}.response.json`);
      const out = toGeminiResponse(fromGeminiResponse(body));
      const expected = withoutDetails(body);
      expected.candidates[0].content.parts.forEach((p: Obj, i: number, all: Obj[]) => {
        if (p.functionCall) {
          const n = all.slice(0, i).filter((q) => q.functionCall).length;
          p.functionCall = { ...p.functionCall, id: `call_${n}` };
        }
      });
      expect(out).toStrictEqual(expected);
      expect(fromGeminiResponse(out)).toStrictEqual(EXPECTED[name]());
    });
  });

  it('keeps the signatures byte for byte', () => {
    for (const name of ['parallel-tool-calls', 'thinking']) {
      const out = JSON.stringify(
        toGeminiResponse(fromGeminiResponse(fixture(`${name}.response.json`))),
      );
      expect(out).toContain(`"thoughtSignature":"${rawSignature(name)}"`);
    }
  });

  it('joins consecutive texts and thoughts as a stream of the same answer would', () => {
    const res = fromGeminiResponse({
      candidates: [
        {
          content: {
            role: 'model',
            parts: [
              { text: 'a', thought: true },
              { text: 'b', thought: true, thoughtSignature: 'c2ln' },
              { text: 'c', thought: true },
              { text: 'Hello' },
              { text: ', world' },
              { inlineData: { mimeType: 'image/png', data: 'iVBO' } },
              { functionCall: { id: 'fc_9', name: 'f', args: { x: [1] } } },
              { functionCall: { name: 'g' } },
              { thoughtSignature: 'b25seQ==' },
            ],
          },
          finishReason: 'STOP',
        },
      ],
    });
    expect(res.parts).toStrictEqual([
      { type: 'thinking', text: 'ab', signature: 'c2ln', origin: 'gemini' },
      { type: 'thinking', text: 'c', origin: 'gemini' },
      { type: 'text', text: 'Hello, world' },
      { type: 'tool_call', id: 'fc_9', name: 'f', arguments: '{"x":[1]}' },
      { type: 'tool_call', id: 'call_1', name: 'g', arguments: '{}' },
      { type: 'thinking', text: '', signature: 'b25seQ==', origin: 'gemini' },
    ]);
    expect(res.stopReason).toBe('tool_calls');
    expect(res.usage).toStrictEqual(EMPTY_USAGE);
  });

  it.each([
    ['STOP', 'stop'],
    ['MAX_TOKENS', 'length'],
    ['SAFETY', 'content_filter'],
    ['RECITATION', 'content_filter'],
    ['PROHIBITED_CONTENT', 'content_filter'],
    ['MALFORMED_FUNCTION_CALL', 'error'],
    ['OTHER', 'stop'],
    [undefined, 'stop'],
  ])('reads finishReason %s as %s', (finishReason, stopReason) => {
    const res = fromGeminiResponse({
      candidates: [{ content: { parts: [{ text: 'x' }], role: 'model' }, finishReason }],
    });
    expect(res.stopReason).toBe(stopReason);
  });

  it('reads a prompt blocked before any candidate as an empty content-filtered response', () => {
    const res = fromGeminiResponse({
      promptFeedback: { blockReason: 'SAFETY' },
      usageMetadata: { promptTokenCount: 9, totalTokenCount: 9 },
      responseId: 'r1',
      modelVersion: MODEL,
    });
    expect(res).toStrictEqual({
      id: 'r1',
      model: MODEL,
      parts: [],
      stopReason: 'content_filter',
      usage: usage(9, 0, 0),
    });
  });

  it('reads a candidate without content (stopped by safety) as empty', () => {
    expect(
      fromGeminiResponse({ candidates: [{ finishReason: 'SAFETY', index: 0 }] }).parts,
    ).toEqual([]);
  });

  it.each([
    ['a string', 'oops'],
    ['null', null],
    ['an array', []],
    ['no candidates', { usageMetadata: {} }],
    ['candidates that are not objects', { candidates: ['x'] }],
  ])('answers %s with a 502 upstream error', (_title, body) => {
    const err = upstreamRejection(body);
    expect(err.status).toBe(502);
    expect(err.code).toBe('UPSTREAM_INVALID_RESPONSE');
  });

  it("turns Gemini's error body into a 502 carrying its message", () => {
    const err = upstreamRejection({
      error: { code: 429, message: 'Resource has been exhausted', status: 'RESOURCE_EXHAUSTED' },
    });
    expect(err.status).toBe(502);
    expect(err.message).toBe('Resource has been exhausted');
  });
});

describe(toGeminiResponse.name, () => {
  it('shows thinking from any provider as thoughts, writing only Gemini signatures', () => {
    const out = toGeminiResponse({
      id: 'msg_01',
      model: 'claude-sonnet-4-5',
      parts: [
        { type: 'thinking', text: 'Claude thinks', signature: 'EqQB', origin: 'anthropic' },
        { type: 'thinking', text: '', redacted: 'EmwK', origin: 'anthropic' },
        { type: 'text', text: 'Calling.' },
        { type: 'tool_call', id: 'toolu_1', name: 'f', arguments: '{"a":1}' },
        { type: 'tool_call', id: 'toolu_2', name: 'g', arguments: '' },
      ],
      stopReason: 'tool_calls',
      usage: {
        inputTokens: 10,
        outputTokens: 30,
        cacheReadTokens: 5,
        cacheCreationTokens: 2,
        reasoningTokens: 12,
      },
    });
    expect(out).toStrictEqual({
      candidates: [
        {
          content: {
            parts: [
              { text: 'Claude thinks', thought: true },
              { text: 'Calling.' },
              { functionCall: { name: 'f', args: { a: 1 }, id: 'toolu_1' } },
              { functionCall: { name: 'g', args: {}, id: 'toolu_2' } },
            ],
            role: 'model',
          },
          finishReason: 'STOP',
          index: 0,
        },
      ],
      usageMetadata: {
        promptTokenCount: 17,
        candidatesTokenCount: 18,
        totalTokenCount: 47,
        cachedContentTokenCount: 5,
        thoughtsTokenCount: 12,
      },
      modelVersion: 'claude-sonnet-4-5',
      responseId: 'msg_01',
    });
  });

  it.each([
    ['stop', 'STOP'],
    ['tool_calls', 'STOP'],
    ['length', 'MAX_TOKENS'],
    ['content_filter', 'SAFETY'],
    ['error', 'OTHER'],
  ] as const)('writes stop reason %s as finishReason %s', (stopReason, finishReason) => {
    const out = toGeminiResponse({
      id: 'r',
      model: 'm',
      parts: [],
      stopReason,
      usage: EMPTY_USAGE,
    });
    expect(out.candidates).toStrictEqual([
      { content: { parts: [], role: 'model' }, finishReason, index: 0 },
    ]);
    expect(out.usageMetadata).toStrictEqual({
      promptTokenCount: 0,
      candidatesTokenCount: 0,
      totalTokenCount: 0,
    });
  });
});
