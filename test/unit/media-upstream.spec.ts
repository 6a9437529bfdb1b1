import {
  makeWav,
  MEDIA_MODELS,
  type MediaUpstream,
  startMediaUpstream,
  TINY_PNG,
  wavDuration,
} from '../support/media-upstream';

const KEY = 'sk-media-test';
const BEARER = { authorization: `Bearer ${KEY}` };

interface Answer {
  status: number;
  headers: Headers;
  bytes: Buffer;
  text: string;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- test helper: assert freely on bodies
  json: any;
}

async function call(up: MediaUpstream, path: string, init: RequestInit = {}): Promise<Answer> {
  const res = await fetch(`${up.url}${path}`, init);
  const bytes = Buffer.from(await res.arrayBuffer());
  const text = bytes.toString('utf8');
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.status, headers: res.headers, bytes, text, json };
}

function post(
  up: MediaUpstream,
  path: string,
  body: unknown,
  headers: Record<string, string> = BEARER,
): Promise<Answer> {
  return call(up, path, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
  });
}

function decodeFloat32(b64: string): number[] {
  const buf = Buffer.from(b64, 'base64');
  const out: number[] = [];
  for (let i = 0; i < buf.length; i += 4) {
    out.push(buf.readFloatLE(i));
  }
  return out;
}

function audioForm(
  model: string,
  file: Buffer,
  extra: Record<string, string | string[]> = {},
  filename = 'clip.wav',
): FormData {
  const form = new FormData();
  form.append('file', new Blob([file], { type: 'audio/wav' }), filename);
  form.append('model', model);
  for (const [k, v] of Object.entries(extra)) {
    for (const item of Array.isArray(v) ? v : [v]) {
      form.append(k, item);
    }
  }
  return form;
}

function transcribe(
  up: MediaUpstream,
  flavor: string,
  form: FormData,
  headers: Record<string, string> = BEARER,
): Promise<Answer> {
  return call(up, `/${flavor}/v1/audio/transcriptions`, { method: 'POST', headers, body: form });
}

let up: MediaUpstream;

beforeAll(async () => {
  up = await startMediaUpstream({ apiKey: KEY });
});

afterAll(async () => {
  await up.close();
});

beforeEach(() => up.reset());

describe('WAV and PNG helpers', () => {
  it('makeWav / wavDuration round-trip', () => {
    const wav = makeWav(1.5);
    expect(wav.toString('ascii', 0, 4)).toBe('RIFF');
    expect(wav.toString('ascii', 8, 12)).toBe('WAVE');
    expect(wav.length).toBe(44 + 1.5 * 8000 * 2);
    expect(wavDuration(wav)).toBe(1.5);
    expect(wavDuration(makeWav(0.25, 16000))).toBe(0.25);
    expect(wavDuration(makeWav(0))).toBe(0);
    // samples are a sine, not silence
    expect(wav.readInt16LE(44 + 2 * 5)).not.toBe(0);
  });

  it('wavDuration rejects what is not RIFF/WAVE', () => {
    expect(wavDuration(Buffer.alloc(0))).toBeUndefined();
    expect(wavDuration(Buffer.from('not a wav file at all'))).toBeUndefined();
    expect(wavDuration(TINY_PNG)).toBeUndefined();
    // truncated data chunk: counts the bytes present
    expect(wavDuration(makeWav(1).subarray(0, 44 + 8000))).toBe(0.5);
  });

  it('TINY_PNG is a 1x1 PNG', () => {
    expect(TINY_PNG.subarray(0, 8)).toEqual(
      Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    );
    expect(TINY_PNG.toString('ascii', 12, 16)).toBe('IHDR');
    expect(TINY_PNG.readUInt32BE(16)).toBe(1);
    expect(TINY_PNG.readUInt32BE(20)).toBe(1);
    expect(TINY_PNG.toString('ascii', TINY_PNG.length - 8, TINY_PNG.length - 4)).toBe('IEND');
  });
});

describe('auth', () => {
  it('OpenAI-style flavors need Bearer <key>', async () => {
    for (const flavor of ['openai', 'together', 'nebius', 'nvidia', 'groq']) {
      const missing = await call(up, `/${flavor}/v1/models`);
      expect(missing.status).toBe(401);
      expect(missing.json.error).toMatchObject({
        type: 'invalid_request_error',
        code: 'invalid_api_key',
      });
      expect(typeof missing.json.error.message).toBe('string');
      const wrong = await call(up, `/${flavor}/v1/models`, {
        headers: { authorization: 'Bearer sk-wrong' },
      });
      expect(wrong.status).toBe(401);
      expect(wrong.json.error.code).toBe('invalid_api_key');
      const ok = await call(up, `/${flavor}/v1/models`, { headers: BEARER });
      expect(ok.status).toBe(200);
    }
  });

  it('xai, mistral and fireworks answer 401 in their own shapes', async () => {
    const xai = await call(up, '/xai/v1/models', { headers: { authorization: 'Bearer nope' } });
    expect(xai.status).toBe(401);
    expect(typeof xai.json.code).toBe('string');
    expect(typeof xai.json.error).toBe('string');

    const mistral = await call(up, '/mistral/v1/models');
    expect(mistral.status).toBe(401);
    expect(mistral.json).toMatchObject({ object: 'error', code: 'invalid_api_key' });

    const fw = await call(up, '/fireworks/inference/v1/models', {
      headers: { authorization: `Token ${KEY}` },
    });
    expect(fw.status).toBe(401);
    expect(fw.json.error).toMatchObject({ object: 'error', code: 'invalid_api_key' });
    expect((await call(up, '/fireworks/inference/v1/models', { headers: BEARER })).status).toBe(
      200,
    );
  });

  it('deepgram needs Token <key>', async () => {
    for (const authorization of [undefined, `Bearer ${KEY}`, 'Token sk-wrong']) {
      const a = await call(up, '/deepgram/v1/models', {
        headers: authorization ? { authorization } : {},
      });
      expect(a.status).toBe(401);
      expect(a.json).toEqual({
        err_code: 'INVALID_AUTH',
        err_msg: 'Invalid credentials.',
        request_id: expect.any(String),
      });
    }
    const ok = await call(up, '/deepgram/v1/models', {
      headers: { authorization: `Token ${KEY}` },
    });
    expect(ok.status).toBe(200);
    expect(ok.json.stt[0]).toMatchObject({ name: 'nova-3', canonical_name: 'nova-3' });
    expect(ok.json.tts).toEqual([]);
  });

  it('assemblyai needs the raw key', async () => {
    for (const authorization of [undefined, `Bearer ${KEY}`, 'sk-wrong']) {
      const a = await call(up, '/assemblyai/v2/transcript?limit=1', {
        headers: authorization ? { authorization } : {},
      });
      expect(a.status).toBe(401);
      expect(a.json).toEqual({ error: 'Authentication error, API token missing/invalid' });
    }
    const ok = await call(up, '/assemblyai/v2/transcript?limit=1', {
      headers: { authorization: KEY },
    });
    expect(ok.status).toBe(200);
    expect(ok.json).toMatchObject({
      page_details: { limit: 1, result_count: 0 },
      transcripts: [],
    });
  });

  it('uses sk-media by default', async () => {
    const other = await startMediaUpstream();
    try {
      const a = await call(other, '/openai/v1/models', {
        headers: { authorization: 'Bearer sk-media' },
      });
      expect(a.status).toBe(200);
    } finally {
      await other.close();
    }
  });
});

describe('model lists and unknown routes', () => {
  it('lists models per flavor', async () => {
    for (const flavor of ['openai', 'xai', 'together', 'mistral', 'nebius', 'nvidia', 'groq']) {
      const a = await call(up, `/${flavor}/v1/models`, { headers: BEARER });
      expect(a.status).toBe(200);
      expect(a.json.object).toBe('list');
      expect(a.json.data.map((m: { id: string }) => m.id)).toEqual(
        MEDIA_MODELS[flavor as keyof typeof MEDIA_MODELS],
      );
    }
    const fw = await call(up, '/fireworks/inference/v1/models', { headers: BEARER });
    expect(fw.json.data[0]).toMatchObject({ object: 'model' });
  });

  it('answers 404 in the flavor shape', async () => {
    const a = await call(up, '/openai/v1/nope', { headers: BEARER });
    expect(a.status).toBe(404);
    expect(a.json.error.type).toBe('invalid_request_error');
    const dg = await call(up, '/deepgram/v1/nope', { headers: { authorization: `Token ${KEY}` } });
    expect(dg.status).toBe(404);
    expect(dg.json.err_code).toBe('NOT_FOUND');
    const aai = await call(up, '/assemblyai/v2/nope', { headers: { authorization: KEY } });
    expect(aai.status).toBe(404);
    expect(typeof aai.json.error).toBe('string');
    const none = await call(up, '/nowhere/v1/models');
    expect(none.status).toBe(404);
    expect(none.json.error).toBeDefined();
    // xai has no embeddings route
    const xai = await post(up, '/xai/v1/embeddings', { model: 'x', input: 'a' });
    expect(xai.status).toBe(404);
    expect(typeof xai.json.code).toBe('string');
  });
});

describe('embeddings', () => {
  const PATHS: Array<[string, string, Record<string, unknown>]> = [
    ['openai', '/openai/v1/embeddings', { model: 'text-embedding-3-small' }],
    ['together', '/together/v1/embeddings', { model: 'BAAI/bge-large-en-v1.5' }],
    ['nebius', '/nebius/v1/embeddings', { model: 'BAAI/bge-en-icl' }],
    ['nvidia', '/nvidia/v1/embeddings', { model: 'baai/bge-m3' }],
    [
      'fireworks',
      '/fireworks/inference/v1/embeddings',
      { model: 'accounts/fireworks/models/nomic-embed-text-v1.5' },
    ],
  ];

  it.each(PATHS)('%s: float and base64 agree', async (_flavor, path, base) => {
    const float = await post(up, path, { ...base, input: ['hello world', 'abc'], dimensions: 5 });
    expect(float.status).toBe(200);
    expect(float.json).toMatchObject({
      object: 'list',
      model: base.model,
      usage: { prompt_tokens: 3 + 1, total_tokens: 4 },
    });
    expect(float.json.data).toHaveLength(2);
    const [a, b] = float.json.data as Array<{ object: string; index: number; embedding: number[] }>;
    expect(a).toMatchObject({ object: 'embedding', index: 0 });
    expect(b.index).toBe(1);
    expect(a.embedding).toHaveLength(5);
    for (const v of [...a.embedding, ...b.embedding]) {
      expect(v).toBeGreaterThanOrEqual(-1);
      expect(v).toBeLessThanOrEqual(1);
    }
    expect(a.embedding).not.toEqual(b.embedding);

    const b64 = await post(up, path, {
      ...base,
      input: ['hello world', 'abc'],
      dimensions: 5,
      encoding_format: 'base64',
    });
    expect(b64.status).toBe(200);
    expect(typeof b64.json.data[0].embedding).toBe('string');
    expect(decodeFloat32(b64.json.data[0].embedding as string)).toEqual(a.embedding);
    expect(decodeFloat32(b64.json.data[1].embedding as string)).toEqual(b.embedding);
  });

  it('is deterministic, 8 dims by default, and counts token arrays', async () => {
    const one = await post(up, '/openai/v1/embeddings', { model: 'm', input: 'hello world' });
    const two = await post(up, '/nebius/v1/embeddings', { model: 'other', input: ['hello world'] });
    expect(one.json.data[0].embedding).toHaveLength(8);
    expect(one.json.data[0].embedding).toEqual(two.json.data[0].embedding);
    expect(one.json.usage.prompt_tokens).toBe(3);

    const tokens = await post(up, '/openai/v1/embeddings', { model: 'm', input: [1, 2, 3] });
    expect(tokens.json.data).toHaveLength(1);
    expect(tokens.json.usage.prompt_tokens).toBe(3);
    const multi = await post(up, '/openai/v1/embeddings', {
      model: 'm',
      input: [
        [1, 2],
        [3, 4, 5],
      ],
    });
    expect(multi.json.data).toHaveLength(2);
    expect(multi.json.usage.prompt_tokens).toBe(5);
  });

  it('rejects missing or empty input and bad dimensions', async () => {
    for (const input of [undefined, '', [], [''], [{}]]) {
      const a = await post(up, '/openai/v1/embeddings', { model: 'm', input });
      expect(a.status).toBe(400);
      expect(a.json.error.type).toBe('invalid_request_error');
    }
    const dims = await post(up, '/openai/v1/embeddings', { model: 'm', input: 'a', dimensions: 0 });
    expect(dims.status).toBe(400);
    const noModel = await post(up, '/openai/v1/embeddings', { input: 'a' });
    expect(noModel.status).toBe(400);
  });

  it('mistral: output_dimension, and 422 for dimensions / base64', async () => {
    const ok = await post(up, '/mistral/v1/embeddings', {
      model: 'mistral-embed',
      input: ['x'],
      output_dimension: 4,
    });
    expect(ok.status).toBe(200);
    expect(ok.json.data[0].embedding).toHaveLength(4);

    const dims = await post(up, '/mistral/v1/embeddings', {
      model: 'mistral-embed',
      input: ['x'],
      dimensions: 4,
    });
    expect(dims.status).toBe(422);
    expect(dims.json).toMatchObject({
      object: 'error',
      message: 'Extra inputs are not permitted: dimensions',
      type: 'invalid_request_error',
    });
    const b64 = await post(up, '/mistral/v1/embeddings', {
      model: 'mistral-embed',
      input: ['x'],
      encoding_format: 'base64',
    });
    expect(b64.status).toBe(422);
    expect(b64.json).toMatchObject({ object: 'error', type: 'invalid_request_error' });
  });

  it('nvidia: input_type is required for embedqa / nv-embed models', async () => {
    for (const model of ['nvidia/nv-embedqa-e5-v5', 'nvidia/nv-embed-v1']) {
      const missing = await post(up, '/nvidia/v1/embeddings', { model, input: 'q' });
      expect(missing.status).toBe(400);
      expect(missing.json.error.message).toBe("'input_type' parameter is required");
      const ok = await post(up, '/nvidia/v1/embeddings', {
        model,
        input: 'q',
        input_type: 'query',
      });
      expect(ok.status).toBe(200);
    }
    const bad = await post(up, '/nvidia/v1/embeddings', {
      model: 'nvidia/nv-embedqa-e5-v5',
      input: 'q',
      input_type: 'document',
    });
    expect(bad.status).toBe(400);
  });

  it('records the request', async () => {
    await post(up, '/openai/v1/embeddings', { model: 'm', input: 'a' });
    expect(up.hits('/openai/')).toBe(1);
    expect(up.hits('/openai/v1/embeddings')).toBe(1);
    expect(up.hits('/together/')).toBe(0);
    const r = up.requests[0];
    expect(r).toMatchObject({ method: 'POST', path: '/openai/v1/embeddings', query: {} });
    expect(r.json).toEqual({ model: 'm', input: 'a' });
    expect(r.headers.authorization).toBe(`Bearer ${KEY}`);
    expect(r.raw.toString()).toBe(JSON.stringify({ model: 'm', input: 'a' }));
  });
});

describe('images', () => {
  it('openai dall-e-3: url with revised_prompt; n > 1 rejected', async () => {
    const a = await post(up, '/openai/v1/images/generations', {
      model: 'dall-e-3',
      prompt: 'a cat',
      size: '1024x1024',
      quality: 'hd',
      style: 'vivid',
    });
    expect(a.status).toBe(200);
    expect(typeof a.json.created).toBe('number');
    expect(a.json.data).toEqual([
      { url: 'https://images.mock/openai/0.png', revised_prompt: expect.any(String) },
    ]);
    const n2 = await post(up, '/openai/v1/images/generations', {
      model: 'dall-e-3',
      prompt: 'a cat',
      n: 2,
    });
    expect(n2.status).toBe(400);
    expect(n2.json.error.type).toBe('invalid_request_error');

    const b64 = await post(up, '/openai/v1/images/generations', {
      model: 'dall-e-2',
      prompt: 'a cat',
      n: 2,
      response_format: 'b64_json',
    });
    expect(b64.json.data).toHaveLength(2);
    expect(Buffer.from(b64.json.data[1].b64_json as string, 'base64')).toEqual(TINY_PNG);

    const empty = await post(up, '/openai/v1/images/generations', {
      model: 'dall-e-2',
      prompt: '',
    });
    expect(empty.status).toBe(400);
  });

  it('openai gpt-image: always b64_json with usage; rejects response_format', async () => {
    const a = await post(up, '/openai/v1/images/generations', {
      model: 'gpt-image-1',
      prompt: 'a dog on a skateboard',
      n: 2,
    });
    expect(a.status).toBe(200);
    expect(a.json.data).toHaveLength(2);
    expect(Buffer.from(a.json.data[0].b64_json as string, 'base64')).toEqual(TINY_PNG);
    expect(a.json.usage).toMatchObject({
      input_tokens: expect.any(Number),
      output_tokens: expect.any(Number),
    });
    expect(a.json.usage.total_tokens).toBe(a.json.usage.input_tokens + a.json.usage.output_tokens);

    const bad = await post(up, '/openai/v1/images/generations', {
      model: 'gpt-image-1',
      prompt: 'x',
      response_format: 'url',
    });
    expect(bad.status).toBe(400);
    expect(bad.json.error.message).toBe("Unknown parameter: 'response_format'.");
  });

  it('xai: native success; size/quality/style rejected', async () => {
    const a = await post(up, '/xai/v1/images/generations', {
      model: 'grok-2-image',
      prompt: 'a cat',
      n: 2,
    });
    expect(a.status).toBe(200);
    expect(a.json.data.map((d: { url: string }) => d.url)).toEqual([
      'https://images.mock/xai/0.png',
      'https://images.mock/xai/1.png',
    ]);
    const b64 = await post(up, '/xai/v1/images/generations', {
      model: 'grok-2-image',
      prompt: 'a cat',
      response_format: 'b64_json',
    });
    expect(Buffer.from(b64.json.data[0].b64_json as string, 'base64')).toEqual(TINY_PNG);

    const bad = await post(up, '/xai/v1/images/generations', {
      model: 'grok-2-image',
      prompt: 'a cat',
      quality: 'hd',
      size: '1024x1024',
    });
    expect(bad.status).toBe(400);
    expect(bad.json).toEqual({
      code: 'Client specified an invalid argument',
      error: 'Argument not supported: size',
    });
  });

  it('together: native success; size and b64_json rejected', async () => {
    const a = await post(up, '/together/v1/images/generations', {
      model: 'black-forest-labs/FLUX.1-schnell',
      prompt: 'a cat',
      width: 512,
      height: 512,
      steps: 4,
      n: 2,
      response_format: 'base64',
      seed: 7,
    });
    expect(a.status).toBe(200);
    expect(a.json).toMatchObject({
      id: expect.any(String),
      model: 'black-forest-labs/FLUX.1-schnell',
      object: 'list',
    });
    expect(a.json.data.map((d: { index: number }) => d.index)).toEqual([0, 1]);
    expect(Buffer.from(a.json.data[0].b64_json as string, 'base64')).toEqual(TINY_PNG);
    const url = await post(up, '/together/v1/images/generations', {
      model: 'black-forest-labs/FLUX.1-schnell',
      prompt: 'a cat',
    });
    expect(url.json.data).toEqual([
      expect.objectContaining({ index: 0, url: 'https://images.mock/together/0.png' }),
    ]);

    for (const extra of [
      { size: '512x512' },
      { quality: 'hd' },
      { response_format: 'b64_json' },
      { width: 1.5 },
    ]) {
      const bad = await post(up, '/together/v1/images/generations', {
        model: 'black-forest-labs/FLUX.1-schnell',
        prompt: 'a cat',
        ...extra,
      });
      expect(bad.status).toBe(400);
      expect(bad.json.error).toMatchObject({ type: 'invalid_request_error' });
    }
  });

  describe('fireworks text_to_image', () => {
    const PATH =
      '/fireworks/inference/v1/workflows/accounts/fireworks/models/flux-1-schnell-fp8/text_to_image';

    it('answers binary images per Accept', async () => {
      for (const accept of ['image/jpeg', 'image/png']) {
        const a = await post(
          up,
          PATH,
          { prompt: 'a cat', aspect_ratio: '16:9', seed: 3 },
          { ...BEARER, accept },
        );
        expect(a.status).toBe(200);
        expect(a.headers.get('content-type')).toBe(accept);
        expect(a.bytes).toEqual(TINY_PNG);
        expect(a.headers.get('seed')).toBe('3');
      }
    });

    it('answers JSON for Accept: application/json', async () => {
      const a = await post(
        up,
        PATH,
        { prompt: 'a cat', guidance_scale: 3.5, num_inference_steps: 4 },
        { ...BEARER, accept: 'application/json' },
      );
      expect(a.status).toBe(200);
      expect(a.json).toEqual({
        id: expect.any(String),
        base64: [`data:image/png;base64,${TINY_PNG.toString('base64')}`],
        finishReason: 'SUCCESS',
        seed: expect.any(Number),
      });
    });

    it('rejects unknown fields and bad aspect ratios', async () => {
      for (const extra of [
        { size: '1024x1024' },
        { n: 1 },
        { model: 'x' },
        { aspect_ratio: '7:3' },
      ]) {
        const a = await post(
          up,
          PATH,
          { prompt: 'a cat', ...extra },
          { ...BEARER, accept: 'image/jpeg' },
        );
        expect(a.status).toBe(400);
        expect(a.json.error).toMatchObject({ object: 'error', type: 'invalid_request_error' });
        expect(typeof a.json.error.message).toBe('string');
      }
      const noPrompt = await post(up, PATH, {}, BEARER);
      expect(noPrompt.status).toBe(400);
    });
  });
});

describe('OpenAI-compatible transcription', () => {
  const wav = makeWav(1.5);

  it('json (default) with duration usage, and records the multipart', async () => {
    const a = await transcribe(up, 'openai', audioForm('whisper-1', wav, { language: 'en' }));
    expect(a.status).toBe(200);
    expect(a.json).toEqual({
      text: 'Mock transcript of clip.wav.',
      usage: { type: 'duration', seconds: 2 },
    });
    const r = up.requests[0];
    expect(r.path).toBe('/openai/v1/audio/transcriptions');
    expect(r.multipart).toEqual({
      fields: { model: 'whisper-1', language: 'en' },
      files: { file: { filename: 'clip.wav', contentType: 'audio/wav', size: wav.length } },
    });
  });

  it('text', async () => {
    const a = await transcribe(
      up,
      'openai',
      audioForm('gpt-4o-transcribe', wav, { response_format: 'text' }),
    );
    expect(a.status).toBe(200);
    expect(a.headers.get('content-type')).toMatch(/^text\/plain/);
    expect(a.text).toBe('Mock transcript of clip.wav.\n');
  });

  it('verbose_json for whisper models only', async () => {
    const a = await transcribe(
      up,
      'openai',
      audioForm('whisper-1', wav, {
        response_format: 'verbose_json',
        'timestamp_granularities[]': ['word', 'segment'],
      }),
    );
    expect(a.status).toBe(200);
    expect(a.json).toMatchObject({
      task: 'transcribe',
      language: 'english',
      duration: 1.5,
      text: 'Mock transcript of clip.wav.',
      segments: [{ id: 0, start: 0, end: 1.5, text: 'Mock transcript of clip.wav.' }],
    });
    expect(a.json.words).toHaveLength(4);
    expect(up.requests[0].multipart?.fields['timestamp_granularities[]']).toBe('word,segment');

    const bad = await transcribe(
      up,
      'openai',
      audioForm('gpt-4o-transcribe', wav, { response_format: 'verbose_json' }),
    );
    expect(bad.status).toBe(400);
    expect(bad.json.error.message).toContain(
      "response_format 'verbose_json' is not compatible with model",
    );
  });

  it('srt and vtt', async () => {
    const srt = await transcribe(
      up,
      'openai',
      audioForm('whisper-1', wav, { response_format: 'srt' }),
    );
    expect(srt.text).toBe('1\n00:00:00,000 --> 00:00:01,500\nMock transcript of clip.wav.\n\n');
    const vtt = await transcribe(
      up,
      'openai',
      audioForm('whisper-1', wav, { response_format: 'vtt' }),
    );
    expect(vtt.text).toBe(
      'WEBVTT\n\n00:00:00.000 --> 00:00:01.500\nMock transcript of clip.wav.\n\n',
    );
  });

  it('groq and nvidia are served like openai; non-WAV counts 1 s', async () => {
    const groq = await transcribe(
      up,
      'groq',
      audioForm('whisper-large-v3', Buffer.from('ID3 mp3-ish bytes'), {}, 'talk.mp3'),
    );
    expect(groq.json).toEqual({
      text: 'Mock transcript of talk.mp3.',
      usage: { type: 'duration', seconds: 1 },
    });
    const nv = await transcribe(up, 'nvidia', audioForm('nvidia/parakeet', wav));
    expect(nv.status).toBe(200);
  });

  it('rejects an empty or missing file, a missing model, a non-multipart body', async () => {
    const empty = await transcribe(up, 'openai', audioForm('whisper-1', Buffer.alloc(0)));
    expect(empty.status).toBe(400);
    expect(empty.json.error.type).toBe('invalid_request_error');
    const noFile = new FormData();
    noFile.append('model', 'whisper-1');
    expect((await transcribe(up, 'openai', noFile)).status).toBe(400);
    const noModel = new FormData();
    noModel.append('file', new Blob([wav]), 'a.wav');
    expect((await transcribe(up, 'openai', noModel)).status).toBe(400);
    const json = await post(up, '/openai/v1/audio/transcriptions', { model: 'whisper-1' });
    expect(json.status).toBe(400);
    const unauth = await transcribe(up, 'openai', audioForm('whisper-1', wav), {});
    expect(unauth.status).toBe(401);
  });
});

describe('deepgram', () => {
  const DG = { authorization: `Token ${KEY}`, 'content-type': 'audio/wav' };

  it('transcribes raw audio', async () => {
    const wav = makeWav(1.5);
    const a = await call(
      up,
      '/deepgram/v1/listen?model=nova-3&smart_format=true&punctuate=true&language=en',
      {
        method: 'POST',
        headers: DG,
        body: wav,
      },
    );
    expect(a.status).toBe(200);
    expect(a.json.metadata).toMatchObject({
      request_id: expect.any(String),
      duration: 1.5,
      channels: 1,
      models: [expect.any(String)],
    });
    expect(new Date(a.json.metadata.created as string).toString()).not.toBe('Invalid Date');
    const channel = a.json.results.channels[0];
    expect(channel.detected_language).toBeUndefined();
    expect(channel.alternatives[0]).toMatchObject({
      transcript: 'Mock transcript of deepgram audio.',
      confidence: 0.99,
    });
    const words = channel.alternatives[0].words as Array<Record<string, unknown>>;
    expect(words).toHaveLength(5);
    expect(words[0]).toMatchObject({ word: 'mock', start: 0, confidence: 0.99 });
    expect(words[4].end).toBe(1.5);
    expect(up.requests[0].query).toEqual({
      model: 'nova-3',
      smart_format: 'true',
      punctuate: 'true',
      language: 'en',
    });
    expect(up.requests[0].raw).toEqual(wav);
  });

  it('detects the language on request', async () => {
    const a = await call(up, '/deepgram/v1/listen?model=nova-3&detect_language=true', {
      method: 'POST',
      headers: { ...DG, 'content-type': 'application/octet-stream' },
      body: Buffer.from('opaque audio'),
    });
    expect(a.status).toBe(200);
    expect(a.json.metadata.duration).toBe(1);
    expect(a.json.results.channels[0]).toMatchObject({
      detected_language: 'en',
      language_confidence: 0.98,
    });
  });

  it('rejects an empty body', async () => {
    const a = await call(up, '/deepgram/v1/listen?model=nova-3', { method: 'POST', headers: DG });
    expect(a.status).toBe(400);
    expect(a.json).toEqual({
      err_code: 'Bad Request',
      err_msg: 'Bad Request: failed to process audio: corrupt or unsupported data',
      request_id: expect.any(String),
    });
  });
});

describe('assemblyai', () => {
  const AAI = { authorization: KEY };

  async function upload(bytes: Buffer): Promise<string> {
    const a = await call(up, '/assemblyai/v2/upload', {
      method: 'POST',
      headers: { ...AAI, 'content-type': 'application/octet-stream' },
      body: bytes,
    });
    expect(a.status).toBe(200);
    return a.json.upload_url as string;
  }

  async function poll(id: string): Promise<Answer> {
    return call(up, `/assemblyai/v2/transcript/${id}`, { headers: AAI });
  }

  it('upload → submit → poll', async () => {
    const wav = makeWav(1.5);
    const uploadUrl = await upload(wav);
    expect(uploadUrl.startsWith(`${up.url}/assemblyai/files/`)).toBe(true);
    const file = await call(up, uploadUrl.slice(up.url.length));
    expect(file.bytes).toEqual(wav);

    const submit = await post(
      up,
      '/assemblyai/v2/transcript',
      { audio_url: uploadUrl, speech_model: 'universal', language_code: 'en_us' },
      AAI,
    );
    expect(submit.status).toBe(200);
    expect(submit.json).toMatchObject({
      id: expect.any(String),
      status: 'queued',
      audio_url: uploadUrl,
      speech_model: 'universal',
    });
    const id = submit.json.id as string;
    expect((await poll(id)).json.status).toBe('queued');
    expect((await poll(id)).json.status).toBe('processing');
    const done = await poll(id);
    expect(done.status).toBe(200);
    expect(done.json).toMatchObject({
      id,
      status: 'completed',
      text: 'Mock transcript of assemblyai audio.',
      audio_duration: 2,
      language_code: 'en_us',
      confidence: 0.97,
    });
    expect(done.json.words).toHaveLength(5);
    expect(done.json.words[4].end).toBe(1500);
    expect((await poll(id)).json.status).toBe('completed');

    const list = await call(up, '/assemblyai/v2/transcript?limit=1', { headers: AAI });
    expect(list.json.page_details).toMatchObject({ limit: 1, result_count: 1 });
  });

  it('pollsBeforeDone: 0 completes at once', async () => {
    const fast = await startMediaUpstream({ apiKey: KEY, pollsBeforeDone: 0 });
    try {
      const up2 = await call(fast, '/assemblyai/v2/upload', {
        method: 'POST',
        headers: AAI,
        body: makeWav(0.5),
      });
      const submit = await post(
        fast,
        '/assemblyai/v2/transcript',
        { audio_url: up2.json.upload_url },
        AAI,
      );
      const done = await call(fast, `/assemblyai/v2/transcript/${submit.json.id}`, {
        headers: AAI,
      });
      expect(done.json).toMatchObject({ status: 'completed', audio_duration: 1 });
    } finally {
      await fast.close();
    }
  });

  it('foreign audio_url and error-transcript end with status error', async () => {
    const foreign = await post(
      up,
      '/assemblyai/v2/transcript',
      { audio_url: 'https://example.com/a.wav' },
      AAI,
    );
    expect(foreign.status).toBe(200);
    const fid = foreign.json.id as string;
    await poll(fid);
    await poll(fid);
    const f = await poll(fid);
    expect(f.json.status).toBe('error');
    expect(typeof f.json.error).toBe('string');

    const uploadUrl = await upload(makeWav(1));
    const bad = await post(
      up,
      '/assemblyai/v2/transcript',
      { audio_url: uploadUrl, speech_model: 'error-transcript' },
      AAI,
    );
    const bid = bad.json.id as string;
    await poll(bid);
    await poll(bid);
    expect((await poll(bid)).json).toMatchObject({
      status: 'error',
      error: 'mock transcription failed',
    });
  });

  it('rejects empty uploads, a missing audio_url, and unknown ids', async () => {
    const empty = await call(up, '/assemblyai/v2/upload', { method: 'POST', headers: AAI });
    expect(empty.status).toBe(400);
    expect(typeof empty.json.error).toBe('string');
    const missing = await post(up, '/assemblyai/v2/transcript', {}, AAI);
    expect(missing.status).toBe(400);
    const unknown = await poll('nope');
    expect(unknown.status).toBe(404);
    expect(unknown.json).toEqual({ error: 'Transcript not found' });
  });
});

describe('faults', () => {
  it('fail-<status> answers that status in the flavor shape', async () => {
    const openai = await post(up, '/openai/v1/embeddings', { model: 'x/fail-503', input: 'a' });
    expect(openai.status).toBe(503);
    expect(openai.json.error.type).toBe('server_error');
    expect(openai.json.error.message).toContain('fail-503');

    const limited = await post(up, '/together/v1/images/generations', {
      model: 'fail-429',
      prompt: 'a',
    });
    expect(limited.status).toBe(429);
    expect(limited.headers.get('retry-after')).toBe('1');
    expect(limited.json.error.type).toBe('rate_limit_error');

    const xai = await post(up, '/xai/v1/images/generations', { model: 'fail-500', prompt: 'a' });
    expect(xai.status).toBe(500);
    expect(xai.json).toEqual({ code: expect.any(String), error: expect.any(String) });

    const mistral = await post(up, '/mistral/v1/embeddings', { model: 'fail-400', input: 'a' });
    expect(mistral.status).toBe(400);
    expect(mistral.json.object).toBe('error');

    const dg = await call(up, '/deepgram/v1/listen?model=fail-429', {
      method: 'POST',
      headers: { authorization: `Token ${KEY}`, 'content-type': 'audio/wav' },
      body: makeWav(0.1),
    });
    expect(dg.status).toBe(429);
    expect(dg.headers.get('retry-after')).toBe('1');
    expect(dg.json).toMatchObject({
      err_code: 'TOO_MANY_REQUESTS',
      request_id: expect.any(String),
    });

    const aai = await post(
      up,
      '/assemblyai/v2/transcript',
      { audio_url: 'https://example.com/a.wav', speech_model: 'fail-502' },
      { authorization: KEY },
    );
    expect(aai.status).toBe(502);
    expect(typeof aai.json.error).toBe('string');

    const fw = await post(
      up,
      '/fireworks/inference/v1/workflows/accounts/fireworks/models/fail-500/text_to_image',
      { prompt: 'a' },
    );
    expect(fw.status).toBe(500);
    expect(fw.json.error.object).toBe('error');

    const stt = await transcribe(up, 'groq', audioForm('fail-401', makeWav(0.1)));
    expect(stt.status).toBe(401);
  });

  it('flaky-<n> fails the first n requests per model name', async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 4; i++) {
      statuses.push(
        (await post(up, '/openai/v1/embeddings', { model: 'flaky-2', input: 'a' })).status,
      );
    }
    expect(statuses).toEqual([500, 500, 200, 200]);
    // another model name has its own count
    const other = await post(up, '/openai/v1/embeddings', { model: 'org/flaky-2', input: 'a' });
    expect(other.status).toBe(500);
    // reset() clears the counts
    up.reset();
    const again = await post(up, '/openai/v1/embeddings', { model: 'flaky-2', input: 'a' });
    expect(again.status).toBe(500);
    expect(again.json.error.type).toBe('server_error');
  });

  it('hang never answers; close() still resolves quickly', async () => {
    const own = await startMediaUpstream({ apiKey: KEY });
    const ac = new AbortController();
    const timer = setTimeout(() => ac.abort(), 200);
    const started = Date.now();
    await expect(
      fetch(`${own.url}/openai/v1/embeddings`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...BEARER },
        body: JSON.stringify({ model: 'hang', input: 'a' }),
        signal: ac.signal,
      }),
    ).rejects.toThrow();
    clearTimeout(timer);
    expect(Date.now() - started).toBeGreaterThanOrEqual(150);
    expect(own.hits('/openai/v1/embeddings')).toBe(1);

    // a second hung request, still pending when close() runs
    const pending = fetch(`${own.url}/deepgram/v1/listen?model=hang`, {
      method: 'POST',
      headers: { authorization: `Token ${KEY}` },
      body: makeWav(0.1),
    }).then(
      () => 'answered',
      () => 'failed',
    );
    while (own.hits('/deepgram/') === 0) {
      await new Promise((r) => setTimeout(r, 5));
    }
    const closing = Date.now();
    await own.close();
    expect(Date.now() - closing).toBeLessThan(1000);
    expect(await pending).toBe('failed');
    await own.close(); // idempotent
  });
});
