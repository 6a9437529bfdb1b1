import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { AppError } from '@/common/errors/app-error';
import type { CanonicalResponse } from '@/gateway/dialects/canonical';
import { fromResponsesResponse, toResponsesResponse } from '@/gateway/dialects/responses/response';
import { thrown } from '@/gateway/dialects/shared/chunking.testing';

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
  return JSON.parse(readFileSync(join(FIXTURES, `${name}.response.json`), 'utf8')) as Obj;
}

const SUMMARY =
  '**Checking 391 for small prime factors**\n\nI tried the primes up to 19, the largest prime below √391, and found that 17 × 23 = 391, so 391 is composite.';

const usage = (input: number, output: number, cached = 0, reasoning = 0) => ({
  inputTokens: input,
  outputTokens: output,
  cacheReadTokens: cached,
  cacheCreationTokens: 0,
  reasoningTokens: reasoning,
});

const EXPECTED: Record<(typeof CASES)[number], CanonicalResponse> = {
  text: {
    id: 'resp_68779a0c3f1c8190b5e2d4a6c8f0b1d3',
    model: 'gpt-4.1-2025-04-14',
    created: 1752681612,
    parts: [
      { type: 'text', text: 'The capital of France is Paris — famous for the Eiffel Tower.' },
    ],
    stopReason: 'stop',
    usage: usage(45, 15),
  },
  'parallel-tool-calls': {
    id: 'resp_68779b2a0c1d8190a2b4c6d8e0f1a2b3',
    model: 'gpt-4.1-2025-04-14',
    created: 1752681642,
    parts: [
      { type: 'text', text: "I'll check the current weather and the local time in Paris." },
      {
        type: 'tool_call',
        id: 'call_Qm4Rk8Tz2Xw6Vb1Ny9Lc5Hs3',
        name: 'get_weather',
        arguments: '{"city":"Paris","unit":"celsius"}',
      },
      {
        type: 'tool_call',
        id: 'call_Jd7Fp0Gu3Yh8Ko2Mt6Wa1Zq4',
        name: 'get_time',
        arguments: '{"timezone":"Europe/Paris"}',
      },
    ],
    stopReason: 'tool_calls',
    // input_tokens 1176 includes the 1024 cached ones.
    usage: usage(152, 69, 1024),
  },
  thinking: {
    id: 'resp_68779c4f7a8b8190a1c3e5f7b9d1e3f5',
    model: 'o4-mini-2025-04-16',
    created: 1752681679,
    parts: [
      {
        type: 'thinking',
        text: SUMMARY,
        redacted: '', // filled in from the fixture below
        origin: 'responses',
      },
      { type: 'text', text: 'No — 391 is not prime, because 391 = 17 × 23.' },
    ],
    stopReason: 'stop',
    usage: usage(18, 230, 0, 192),
  },
  'image-input': {
    id: 'resp_68779d75e0f18190a7c9ebfd05d7f9eb',
    model: 'gpt-4.1-2025-04-14',
    created: 1752681717,
    parts: [
      {
        type: 'text',
        text: 'The first image shows a red square and the second shows a blue circle, both on a white background.',
      },
    ],
    stopReason: 'stop',
    usage: usage(358, 22),
  },
};
(EXPECTED.thinking.parts[0] as { redacted: string }).redacted = (
  fixture('thinking').output as Obj[]
)[0].encrypted_content as string;

/** Output items without their ids (which the canonical form does not keep). */
const withoutIds = (output: Obj[]): Obj[] => output.map(({ id: _id, ...rest }) => rest);

describe(fromResponsesResponse.name, () => {
  it.each(CASES)('reads the %s fixture: parts in order, stop reason, usage', (name) => {
    expect(fromResponsesResponse(fixture(name))).toStrictEqual(EXPECTED[name]);
  });

  it('keeps encrypted_content byte for byte as redacted thinking from this dialect', () => {
    const body = fixture('thinking');
    const part = fromResponsesResponse(body).parts[0];
    expect(part).toMatchObject({ type: 'thinking', origin: 'responses' });
    expect(part.type === 'thinking' && part.redacted).toBe(
      (body.output as Obj[])[0].encrypted_content,
    );
  });

  it.each([
    ['max_output_tokens', 'length'],
    ['content_filter', 'content_filter'],
    [undefined, 'length'],
  ])('reads an incomplete response (reason %p) as %s', (reason, stop) => {
    const body = fixture('text');
    body.status = 'incomplete';
    body.incomplete_details = reason === undefined ? null : { reason };
    expect(fromResponsesResponse(body).stopReason).toBe(stop);
  });

  it('joins several summary parts, falls back to raw reasoning content, and skips built-in tool items', () => {
    const res = fromResponsesResponse({
      id: 'resp_1',
      model: 'gpt-oss-120b',
      status: 'completed',
      output: [
        {
          type: 'reasoning',
          summary: [
            { type: 'summary_text', text: 'A' },
            { type: 'summary_text', text: 'B' },
          ],
        },
        { type: 'reasoning', summary: [], content: [{ type: 'reasoning_text', text: 'raw' }] },
        { type: 'reasoning', summary: [] },
        { type: 'web_search_call', id: 'ws_1', status: 'completed' },
        {
          type: 'message',
          content: [
            { type: 'output_text', text: 'Hi ' },
            { type: 'refusal', refusal: 'but no.' },
          ],
        },
      ],
    });
    expect(res.parts).toStrictEqual([
      { type: 'thinking', text: 'A\n\nB', origin: 'responses' },
      { type: 'thinking', text: 'raw', origin: 'responses' },
      { type: 'text', text: 'Hi but no.' },
    ]);
    expect(res.usage).toEqual(usage(0, 0));
  });

  it('answers a failed response with a 502 carrying the upstream message', () => {
    const body = fixture('text');
    body.status = 'failed';
    body.error = { code: 'server_error', message: 'The model crashed' };
    const err = thrown(() => fromResponsesResponse(body)) as AppError;
    expect(err).toBeInstanceOf(AppError);
    expect(err.status).toBe(502);
    expect(err.message).toBe('The model crashed');
  });

  it.each([
    ['a string', 'nope'],
    ['an object without output', { id: 'resp_1', object: 'response' }],
    ['an unfinished response', { id: 'resp_1', status: 'in_progress', output: [] }],
    ['an error envelope', { error: { message: 'bad key', type: 'invalid_request_error' } }],
  ])('answers %s with a 502, never a TypeError', (_title, body) => {
    const err = thrown(() => fromResponsesResponse(body)) as AppError;
    expect(err).toBeInstanceOf(AppError);
    expect(err.status).toBe(502);
  });
});

describe(toResponsesResponse.name, () => {
  it.each(CASES)('writes the %s response back as the API sends it (ids aside)', (name) => {
    const body = fixture(name);
    const out = toResponsesResponse(fromResponsesResponse(body));
    expect(out).toMatchObject({
      id: body.id,
      object: 'response',
      created_at: body.created_at,
      status: 'completed',
      error: null,
      incomplete_details: null,
      model: body.model,
      usage: body.usage,
    });
    expect(withoutIds(out.output as Obj[])).toEqual(withoutIds(body.output as Obj[]));
    expect(fromResponsesResponse(out)).toStrictEqual(fromResponsesResponse(body));
  });

  it('gives output items stable, well-formed ids and a resp_ id for a foreign response id', () => {
    const res: CanonicalResponse = {
      id: 'chatcmpl-abc123',
      model: 'gpt-4o',
      created: 1,
      parts: [
        { type: 'thinking', text: 'hmm', signature: 'sig', origin: 'anthropic' },
        { type: 'text', text: 'Calling.' },
        { type: 'tool_call', id: 'toolu_1', name: 'f', arguments: '{}' },
      ],
      stopReason: 'tool_calls',
      usage: usage(10, 5, 3),
    };
    const out = toResponsesResponse(res);
    expect(out.id).toBe('resp_abc123');
    expect((out.output as Obj[]).map((i) => i.id)).toEqual([
      'rs_abc123_0',
      'msg_abc123_1',
      'fc_abc123_2',
    ]);
    expect(toResponsesResponse(res)).toEqual(out);
    // Another provider's signed thinking shows its text only: no encrypted_content to replay.
    expect((out.output as Obj[])[0]).toStrictEqual({
      id: 'rs_abc123_0',
      type: 'reasoning',
      summary: [{ type: 'summary_text', text: 'hmm' }],
    });
    expect((out.output as Obj[])[2]).toMatchObject({ call_id: 'toolu_1', status: 'completed' });
    expect(out.usage).toEqual({
      input_tokens: 13,
      input_tokens_details: { cached_tokens: 3 },
      output_tokens: 5,
      output_tokens_details: { reasoning_tokens: 0 },
      total_tokens: 18,
    });
  });

  it('leaves out thinking with nothing to show (redacted by another provider)', () => {
    const out = toResponsesResponse({
      id: 'msg_1',
      model: 'claude',
      parts: [
        { type: 'thinking', text: '', redacted: 'UkVE', origin: 'anthropic' },
        { type: 'text', text: 'Hi' },
      ],
      stopReason: 'stop',
      usage: usage(1, 1),
    });
    expect((out.output as Obj[]).map((i) => i.type)).toEqual(['message']);
  });

  it.each([
    ['length', 'incomplete', { reason: 'max_output_tokens' }, null],
    ['content_filter', 'incomplete', { reason: 'content_filter' }, null],
    ['error', 'failed', null, { code: 'server_error' }],
    ['stop', 'completed', null, null],
  ] as const)('writes stop reason %s as status %s', (reason, status, details, error) => {
    const out = toResponsesResponse({
      id: 'resp_1',
      model: 'm',
      parts: [{ type: 'text', text: 'x' }],
      stopReason: reason,
      usage: usage(1, 1),
    });
    expect(out.status).toBe(status);
    expect(out.incomplete_details).toEqual(details);
    if (error) {
      expect(out.error).toMatchObject(error);
    } else {
      expect(out.error).toBeNull();
    }
  });
});
