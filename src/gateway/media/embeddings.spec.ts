import { caughtAppError } from '@/common/errors/app-error.testing';
import { mediaFixture } from './media.testing';
import {
  embeddingsAnswer,
  embeddingsSummary,
  embeddingsUpstreamBody,
  estimateEmbeddingTokens,
  floatsToBase64,
  parseEmbeddingsRequest,
  type EmbeddingsRequest,
} from './embeddings';

const fixture = mediaFixture;
const caught = caughtAppError;

/** The little-endian float32 values of an OpenAI base64 embedding. */
function decodeFloat32(b64: string): number[] {
  const bytes = Buffer.from(b64, 'base64');
  const copy = new Uint8Array(bytes.length);
  copy.set(bytes);
  const view = new DataView(copy.buffer);
  const out: number[] = [];
  for (let i = 0; i < copy.length; i += 4) {
    out.push(view.getFloat32(i, true));
  }
  return out;
}

function req(over: Partial<EmbeddingsRequest> = {}): EmbeddingsRequest {
  return {
    model: 'openai/text-embedding-3-small',
    input: 'The food was delicious and the waiter...',
    encodingFormat: undefined,
    dimensions: undefined,
    extra: {},
    ...over,
  };
}

describe(parseEmbeddingsRequest.name, () => {
  it('reads a full OpenAI request and keeps unknown fields as extras', () => {
    const r = parseEmbeddingsRequest({
      model: ' openai/text-embedding-3-small ',
      input: ['first text', 'second text'],
      encoding_format: 'base64',
      dimensions: 256,
      user: 'user-1234',
      input_type: 'passage',
    });
    expect(r).toEqual({
      model: 'openai/text-embedding-3-small',
      input: ['first text', 'second text'],
      encodingFormat: 'base64',
      dimensions: 256,
      extra: { user: 'user-1234', input_type: 'passage' },
    });
  });

  it('takes a single string, a token array and an array of token arrays', () => {
    expect(parseEmbeddingsRequest({ model: 'm', input: 'hello' }).input).toBe('hello');
    expect(parseEmbeddingsRequest({ model: 'm', input: [9906, 1917] }).input).toEqual([9906, 1917]);
    expect(parseEmbeddingsRequest({ model: 'm', input: [[9906], [1917, 0]] }).input).toEqual([
      [9906],
      [1917, 0],
    ]);
  });

  it('leaves encoding_format and dimensions undefined when absent', () => {
    const r = parseEmbeddingsRequest({ model: 'm', input: 'x' });
    expect(r.encodingFormat).toBeUndefined();
    expect(r.dimensions).toBeUndefined();
    expect(r.extra).toEqual({});
  });

  it('accepts dimensions sent as a digit string', () => {
    expect(parseEmbeddingsRequest({ model: 'm', input: 'x', dimensions: '512' }).dimensions).toBe(
      512,
    );
  });

  it('refuses a body that is not a JSON object', () => {
    for (const body of [null, 'text', [1, 2], 42]) {
      const e = caught(() => parseEmbeddingsRequest(body));
      expect(e.code).toBe('INVALID_BODY');
      expect(e.status).toBe(400);
    }
  });

  it('refuses a missing or blank model, naming the param', () => {
    for (const model of [undefined, '', '   ', 7]) {
      const e = caught(() => parseEmbeddingsRequest({ model, input: 'x' }));
      expect(e.code).toBe('MISSING_MODEL');
      expect(e.status).toBe(400);
      expect(e.details).toEqual({ param: 'model' });
    }
  });

  it.each([
    ['missing', undefined, /missing/],
    ['an empty string', '', /must not be empty/],
    ['an empty array', [], /empty array/],
    ['an empty string item', ['ok', ''], /empty strings/],
    ['a number', 5, /must be a string/],
    ['an object', { text: 'x' }, /must be a string/],
    ['a mixed array', ['ok', 1], /non-negative integers/],
    ['negative tokens', [1, -2], /non-negative integers/],
    ['fractional tokens', [1.5], /non-negative integers/],
    ['an empty token array', [[]], /non-negative integers/],
  ])('refuses input that is %s', (_what, input, message) => {
    const e = caught(() => parseEmbeddingsRequest({ model: 'm', input }));
    expect(e.status).toBe(400);
    expect(e.code).toBe('INVALID_INPUT_FIELD');
    expect(e.details).toEqual({ param: 'input' });
    expect(e.message).toMatch(message);
  });

  it('refuses more than 2048 inputs and takes exactly 2048', () => {
    const many = Array.from({ length: 2049 }, (_, i) => `text ${i}`);
    const e = caught(() => parseEmbeddingsRequest({ model: 'm', input: many }));
    expect(e.details).toEqual({ param: 'input' });
    expect(e.message).toMatch(/2048/);
    expect(parseEmbeddingsRequest({ model: 'm', input: many.slice(1) }).input).toHaveLength(2048);
  });

  it('refuses an unknown encoding_format', () => {
    for (const encoding_format of ['binary', 'FLOAT', 1]) {
      const e = caught(() => parseEmbeddingsRequest({ model: 'm', input: 'x', encoding_format }));
      expect(e.status).toBe(400);
      expect(e.code).toBe('INVALID_INPUT_FIELD');
      expect(e.details).toEqual({ param: 'encoding_format' });
    }
  });

  it('refuses dimensions that are not a positive integer up to 65536', () => {
    for (const dimensions of [0, -1, 1.5, 65537, 'abc', true]) {
      const e = caught(() => parseEmbeddingsRequest({ model: 'm', input: 'x', dimensions }));
      expect(e.status).toBe(400);
      expect(e.details).toEqual({ param: 'dimensions' });
    }
    expect(parseEmbeddingsRequest({ model: 'm', input: 'x', dimensions: 65536 }).dimensions).toBe(
      65536,
    );
  });
});

describe(estimateEmbeddingTokens.name, () => {
  it('counts a text as a quarter of its characters, rounded up', () => {
    expect(estimateEmbeddingTokens('abcd')).toBe(1);
    expect(estimateEmbeddingTokens('abcde')).toBe(2);
  });

  it('sums the items of an array of texts', () => {
    expect(estimateEmbeddingTokens(['abcdefgh', 'x'])).toBe(3);
  });

  it('counts tokens one by one', () => {
    expect(estimateEmbeddingTokens([101, 102, 103])).toBe(3);
    expect(estimateEmbeddingTokens([[101, 102], [103]])).toBe(3);
  });
});

describe(embeddingsSummary.name, () => {
  it('is the text or the first text, cut at 200 characters', () => {
    expect(embeddingsSummary('hello')).toBe('hello');
    expect(embeddingsSummary(['first', 'second'])).toBe('first');
    expect(embeddingsSummary('y'.repeat(500))).toBe('y'.repeat(200));
  });

  it('is null for token input', () => {
    expect(embeddingsSummary([1, 2, 3])).toBeNull();
    expect(embeddingsSummary([[1], [2]])).toBeNull();
  });
});

describe(embeddingsUpstreamBody.name, () => {
  it('openai: passes encoding_format and dimensions through and never re-encodes', () => {
    const r = embeddingsUpstreamBody(
      req({ encodingFormat: 'base64', dimensions: 256, extra: { user: 'u-1' } }),
      'openai',
      'text-embedding-3-small',
    );
    expect(r).toEqual({
      body: {
        user: 'u-1',
        model: 'text-embedding-3-small',
        input: 'The food was delicious and the waiter...',
        encoding_format: 'base64',
        dimensions: 256,
      },
      encodeBase64: false,
    });
  });

  it('openai: sends no encoding_format or dimensions the client did not ask for', () => {
    const { body } = embeddingsUpstreamBody(req(), 'openai', 'text-embedding-3-small');
    expect(body).toEqual({
      model: 'text-embedding-3-small',
      input: 'The food was delicious and the waiter...',
    });
  });

  it('openai: the upstream model replaces the client model, even one passed in extras', () => {
    const { body } = embeddingsUpstreamBody(
      req({ extra: { model: 'evil', input: 'evil' } }),
      'openai',
      'text-embedding-3-large',
    );
    expect(body.model).toBe('text-embedding-3-large');
    expect(body.input).toBe('The food was delicious and the waiter...');
  });

  it('mistral: output_dimension instead of dimensions, floats upstream, base64 by the gateway', () => {
    const r = embeddingsUpstreamBody(
      req({ input: ['a', 'b'], encodingFormat: 'base64', dimensions: 512 }),
      'mistral',
      'codestral-embed',
    );
    expect(r).toEqual({
      body: { model: 'codestral-embed', input: ['a', 'b'], output_dimension: 512 },
      encodeBase64: true,
    });
    expect(r.body).not.toHaveProperty('encoding_format');
    expect(r.body).not.toHaveProperty('dimensions');
  });

  it('mistral: no re-encoding when the client wants floats', () => {
    const r = embeddingsUpstreamBody(req({ encodingFormat: 'float' }), 'mistral', 'mistral-embed');
    expect(r).toEqual({
      body: { model: 'mistral-embed', input: 'The food was delicious and the waiter...' },
      encodeBase64: false,
    });
  });

  it('float: always asks for floats and encodes base64 itself', () => {
    const r = embeddingsUpstreamBody(
      req({ encodingFormat: 'base64', dimensions: 64 }),
      'float',
      'nomic-ai/nomic-embed-text-v1.5',
    );
    expect(r).toEqual({
      body: {
        model: 'nomic-ai/nomic-embed-text-v1.5',
        input: 'The food was delicious and the waiter...',
        encoding_format: 'float',
        dimensions: 64,
      },
      encodeBase64: true,
    });
    expect(r.body).not.toHaveProperty('input_type');
    expect(embeddingsUpstreamBody(req(), 'float', 'x').encodeBase64).toBe(false);
  });

  it('nvidia: defaults input_type to query and keeps the client one', () => {
    const def = embeddingsUpstreamBody(req(), 'nvidia', 'nvidia/nv-embedqa-e5-v5');
    expect(def.body).toEqual({
      model: 'nvidia/nv-embedqa-e5-v5',
      input: 'The food was delicious and the waiter...',
      encoding_format: 'float',
      input_type: 'query',
    });
    const passage = embeddingsUpstreamBody(
      req({ extra: { input_type: 'passage', truncate: 'END' } }),
      'nvidia',
      'nvidia/nv-embedqa-e5-v5',
    );
    expect(passage.body.input_type).toBe('passage');
    expect(passage.body.truncate).toBe('END');
  });
});

describe(floatsToBase64.name, () => {
  it('encodes little-endian float32 that decodes back', () => {
    const v = [0.5, -1, 0, 3.25, 1e-3, -123.456];
    const b64 = floatsToBase64(v);
    expect(Buffer.from(b64, 'base64')).toHaveLength(v.length * 4);
    const back = decodeFloat32(b64);
    expect(back).toEqual(v.map((x) => Math.fround(x)));
    const f32 = new Float32Array(Uint8Array.from(Buffer.from(b64, 'base64')).buffer);
    expect(Array.from(f32)).toEqual(back);
  });

  it('is the bytes OpenAI sends for the same vector', () => {
    const floats = fixture('openai-embeddings.response.json').data as { embedding: number[] }[];
    const b64 = fixture('openai-embeddings-base64.response.json').data as { embedding: string }[];
    expect(floatsToBase64(floats[0].embedding)).toBe(b64[0].embedding);
  });

  it('encodes an empty vector as an empty string', () => {
    expect(floatsToBase64([])).toBe('');
  });
});

describe(embeddingsAnswer.name, () => {
  const opts = { encodeBase64: false, model: 'openai/text-embedding-3-small', provider: 'openai' };

  it('maps an OpenAI float answer as it is', () => {
    const upstream = fixture('openai-embeddings.response.json');
    const { body, usage } = embeddingsAnswer(upstream, opts);
    expect(body).toEqual({
      object: 'list',
      data: upstream.data,
      model: 'text-embedding-3-small',
      usage: { prompt_tokens: 9, total_tokens: 9 },
    });
    expect(usage).toEqual({ inputTokens: 9, outputTokens: 0, images: 0, audioSeconds: 0 });
  });

  it('keeps an OpenAI base64 answer as it is, even when asked to encode', () => {
    const upstream = fixture('openai-embeddings-base64.response.json');
    const { body } = embeddingsAnswer(upstream, { ...opts, encodeBase64: true });
    expect((body.data as { embedding: unknown }[])[0].embedding).toBe(
      'ZicXO4DRGLw4BT273XGCPIfWxbsOf6c8v+87vApnfzo=',
    );
  });

  it('encodes a Mistral float answer to base64 and drops the extra fields', () => {
    const upstream = fixture('mistral-embeddings.response.json');
    const floats = (upstream.data as { embedding: number[] }[])[0].embedding;
    const { body, usage } = embeddingsAnswer(upstream, {
      encodeBase64: true,
      model: 'mistral/mistral-embed',
      provider: 'mistral',
    });
    expect(body).toEqual({
      object: 'list',
      data: [{ object: 'embedding', index: 0, embedding: floatsToBase64(floats) }],
      model: 'mistral-embed',
      usage: { prompt_tokens: 6, total_tokens: 6 },
    });
    const encoded = (body.data as { embedding: string }[])[0].embedding;
    expect(decodeFloat32(encoded)).toEqual(floats.map((x) => Math.fround(x)));
    expect(usage.inputTokens).toBe(6);
  });

  it('defaults index to the position, the model to the requested one and usage to 0', () => {
    const { body, usage } = embeddingsAnswer(
      { data: [{ embedding: [0.1] }, { embedding: [0.2], index: 7 }] },
      opts,
    );
    expect(body).toEqual({
      object: 'list',
      data: [
        { object: 'embedding', index: 0, embedding: [0.1] },
        { object: 'embedding', index: 7, embedding: [0.2] },
      ],
      model: 'openai/text-embedding-3-small',
      usage: { prompt_tokens: 0, total_tokens: 0 },
    });
    expect(usage.inputTokens).toBe(0);
  });

  it('uses prompt_tokens as the total when the upstream gives no total', () => {
    const { body } = embeddingsAnswer(
      { data: [{ embedding: [1] }], usage: { prompt_tokens: 4 } },
      opts,
    );
    expect(body.usage).toEqual({ prompt_tokens: 4, total_tokens: 4 });
  });

  it.each([
    ['not an object', 'oops'],
    ['null', null],
    ['without data', { object: 'list' }],
    ['with data not an array', { data: { embedding: [1] } }],
    ['an error body', { error: { message: 'Rate limit', type: 'requests' } }],
  ])('refuses an answer that is %s with a 502', (_what, upstream) => {
    const e = caught(() => embeddingsAnswer(upstream, opts));
    expect(e.code).toBe('UPSTREAM_INVALID_RESPONSE');
    expect(e.status).toBe(502);
    expect(e.message).toMatch(/openai/);
  });

  it('refuses an item without a vector with a 502 naming it', () => {
    const e = caught(() =>
      embeddingsAnswer({ data: [{ embedding: [1] }, { object: 'embedding' }] }, opts),
    );
    expect(e.code).toBe('UPSTREAM_INVALID_RESPONSE');
    expect(e.status).toBe(502);
    expect(e.message).toMatch(/embedding 1/);
  });
});
