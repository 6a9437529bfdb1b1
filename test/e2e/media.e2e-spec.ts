/**
 * Embeddings, image generation and speech to text (issue 7) through the official `openai` SDK,
 * against a mock that speaks each provider's native API (test/support/media-upstream.ts):
 * OpenAI, Nebius, Mistral, Together, Fireworks, NVIDIA, an embeddings node, xAI, Groq, Deepgram
 * and AssemblyAI. Also: usage and cost in the ledger, provider-scoped routes, the model lists,
 * aliases, the catalogue, combos/fallback/cache/idempotency on media requests, and bad input.
 */
import OpenAI, { toFile } from 'openai';
import { UsageService } from '../../src/usage/usage.service';
import { queryDb } from '../support/db';
import { useGateway } from '../support/fixtures';
import { admin, call, type OpenAiError } from '../support/gateway-client';
import {
  TINY_PNG,
  makeWav,
  startMediaUpstream,
  type MediaUpstream,
} from '../support/media-upstream';

const KEY = 'sk-media';

/** Built-in providers pointed at the mock (base URL relative to the mock's origin). */
const PROVIDERS: Record<string, string> = {
  openai: '/openai/v1',
  nebius: '/nebius/v1',
  mistral: '/mistral/v1',
  together: '/together/v1',
  fireworks: '/fireworks/inference/v1',
  nvidia: '/nvidia/v1',
  xai: '/xai/v1',
  groq: '/groq/v1',
  deepgram: '/deepgram/v1',
  assemblyai: '/assemblyai/v2',
};

interface ModelEntry {
  id: string;
  type: string;
  owned_by: string;
  dimensions?: number | null;
  supported_sizes?: string[];
  subtype?: string;
}

describe('media endpoints (embeddings, images, transcriptions)', () => {
  const { gw } = useGateway({ mock: false });
  let media: MediaUpstream;
  let client: OpenAI;
  let nodePrefix: string;

  beforeAll(async () => {
    media = await startMediaUpstream({ apiKey: KEY, pollsBeforeDone: 1 });
    for (const [provider, path] of Object.entries(PROVIDERS)) {
      await admin(gw, 'POST', '/api/providers', {
        provider,
        name: `${provider}-main`,
        apiKey: KEY,
        providerSpecificData: { baseUrl: `${media.url}${path}` },
      });
    }
    nodePrefix = 'localemb';
    const { node } = await admin<{ node: { id: string } }>(gw, 'POST', '/api/provider-nodes', {
      name: 'Local embeddings',
      prefix: nodePrefix,
      baseUrl: `${media.url}/openai/v1`,
      apiType: 'embeddings',
    });
    await admin(gw, 'POST', '/api/providers', { provider: node.id, name: 'emb', apiKey: KEY });
    client = new OpenAI({ apiKey: gw.adminKey, baseURL: `${gw.url}/v1`, maxRetries: 0 });
  });

  afterAll(async () => {
    await media?.close();
  });

  beforeEach(() => media.reset());

  /** The mock's own float vectors for one input (what the gateway must hand back). */
  async function direct(path: string, body: Record<string, unknown>): Promise<number[][]> {
    const r = await fetch(`${media.url}${path}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' },
      body: JSON.stringify({ ...body, encoding_format: 'float' }),
    });
    const j = (await r.json()) as { data: { embedding: number[] }[] };
    return j.data.map((d) => d.embedding);
  }

  async function ledger(surface: string): Promise<Record<string, unknown>[]> {
    await gw.app.get(UsageService).flush();
    return queryDb(
      gw.dbUrl,
      `SELECT provider, model, status, success, tokens_input, images, audio_seconds, cost_usd::float8 AS cost
         FROM usage_records WHERE surface = $1 ORDER BY created_at`,
      [surface],
    );
  }

  describe('POST /v1/embeddings', () => {
    it.each([
      ['openai', 'text-embedding-3-small', '/openai/v1/embeddings'],
      ['nebius', 'BAAI/bge-en-icl', '/nebius/v1/embeddings'],
      ['mistral', 'mistral-embed', '/mistral/v1/embeddings'],
      ['together', 'BAAI/bge-large-en-v1.5', '/together/v1/embeddings'],
      ['fireworks', 'nomic-ai/nomic-embed-text-v1.5', '/fireworks/inference/v1/embeddings'],
      ['nvidia', 'nvidia/nv-embedqa-e5-v5', '/nvidia/v1/embeddings'],
    ])('%s: the SDK gets the upstream vectors (base64 on the wire)', async (p, model, path) => {
      const input = ['hello world', 'second text'];
      const res = await client.embeddings.create({ model: `${p}/${model}`, input });
      expect(res.object).toBe('list');
      expect(res.data).toHaveLength(2);
      const want = await direct(path, {
        model,
        input,
        ...(p === 'nvidia' ? { input_type: 'query' } : {}),
      });
      for (const [i, d] of res.data.entries()) {
        expect(d.index).toBe(i);
        expect(d.embedding).toHaveLength(8);
        d.embedding.forEach((v, j) => expect(v).toBeCloseTo(want[i][j], 6));
      }
      expect(res.usage.prompt_tokens).toBeGreaterThan(0);
      // the native request: base64 only to OpenAI; Mistral gets no encoding_format at all
      const sent = media.requests.find((r) => r.path === path)?.json as
        Record<string, unknown> | undefined;
      expect(sent).toBeDefined();
      expect(sent!.model).toBe(model);
      if (p === 'openai') {
        expect(sent!.encoding_format).toBe('base64');
      } else if (p === 'mistral') {
        expect(sent!.encoding_format).toBeUndefined();
      } else {
        expect(sent!.encoding_format).toBe('float');
      }
      if (p === 'nvidia') {
        expect(sent!.input_type).toBe('query');
      }
    });

    it('an embeddings node (OpenAI-compatible, apiType embeddings) serves its models', async () => {
      const res = await client.embeddings.create({
        model: `${nodePrefix}/any-embedder`,
        input: 'one',
        encoding_format: 'float',
      });
      expect(res.data[0].embedding).toHaveLength(8);
      expect(media.hits('/openai/v1/embeddings')).toBe(1);
    });

    it('dimensions reach the provider in its own field (Mistral: output_dimension)', async () => {
      const a = await client.embeddings.create({
        model: 'openai/text-embedding-3-small',
        input: 'x',
        dimensions: 4,
      });
      expect(a.data[0].embedding).toHaveLength(4);
      const b = await client.embeddings.create({
        model: 'mistral/codestral-embed',
        input: 'x',
        dimensions: 5,
      });
      expect(b.data[0].embedding).toHaveLength(5);
      const sent = media.requests.find((r) => r.path === '/mistral/v1/embeddings')?.json as Record<
        string,
        unknown
      >;
      expect(sent.output_dimension).toBe(5);
      expect(sent.dimensions).toBeUndefined();
    });

    it('encoding_format float answers plain arrays; token-array input is accepted', async () => {
      const r = await call(gw, 'POST', '/v1/embeddings', {
        body: {
          model: 'together/BAAI/bge-large-en-v1.5',
          input: [[1, 2, 3]],
          encoding_format: 'float',
        },
      });
      expect(r.status).toBe(200);
      const j = r.json as { data: { embedding: unknown }[]; usage: { prompt_tokens: number } };
      expect(Array.isArray(j.data[0].embedding)).toBe(true);
      expect(j.usage.prompt_tokens).toBe(3);
      expect(r.headers.get('x-omniroute-provider')).toBe('together');
    });

    it('records usage with tokens and cost, and the response cost header', async () => {
      const r = await call(gw, 'POST', '/v1/embeddings', {
        body: { model: 'openai/text-embedding-3-large', input: 'a'.repeat(400) },
        headers: { 'x-omniroute-no-cache': 'true' },
      });
      expect(r.status).toBe(200);
      const rows = (await ledger('embeddings')).filter((x) => x.model === 'text-embedding-3-large');
      expect(rows).toHaveLength(1);
      expect(rows[0]).toMatchObject({
        provider: 'openai',
        status: 200,
        success: true,
        tokens_input: 100,
      });
      expect(rows[0].cost).toBeCloseTo((100 * 0.13) / 1e6, 12);
      expect(Number(r.headers.get('x-omniroute-response-cost'))).toBeCloseTo(
        (100 * 0.13) / 1e6,
        10,
      );
    });

    it('caches embeddings per key: the second identical call is a HIT with no upstream call', async () => {
      const body = { model: 'openai/text-embedding-3-small', input: `cache-me-${Date.now()}` };
      const a = await call(gw, 'POST', '/v1/embeddings', { body });
      const b = await call(gw, 'POST', '/v1/embeddings', { body });
      expect(a.headers.get('x-omniroute-cache')).toBe('MISS');
      expect(b.headers.get('x-omniroute-cache')).toBe('HIT');
      expect(b.json).toEqual(a.json);
      expect(media.hits('/openai/v1/embeddings')).toBe(1);
    });

    it('GET /v1/embeddings lists the embedding models with their dimensions', async () => {
      const r = await call(gw, 'GET', '/v1/embeddings');
      expect(r.status).toBe(200);
      const data = (r.json as { data: ModelEntry[] }).data;
      expect(data.every((m) => m.type === 'embedding')).toBe(true);
      expect(data.find((m) => m.id === 'openai/text-embedding-3-small')?.dimensions).toBe(1536);
      expect(data.map((m) => m.id)).toEqual(
        expect.arrayContaining([
          'mistral/mistral-embed',
          'nvidia/nvidia/nv-embedqa-e5-v5',
          'nebius/BAAI/bge-en-icl',
        ]),
      );
      expect(data.some((m) => m.id.startsWith('deepgram/'))).toBe(false);
    });
  });

  describe('POST /v1/images/generations', () => {
    it('OpenAI dall-e-3: url answer, native body passed through', async () => {
      const res = await client.images.generate({
        model: 'openai/dall-e-3',
        prompt: 'a lighthouse',
        size: '1792x1024',
        quality: 'hd',
      });
      expect(res.data).toHaveLength(1);
      expect(res.data?.[0].url).toMatch(/^https:\/\/images\.mock\//);
      const sent = media.requests.find((r) => r.path === '/openai/v1/images/generations')?.json;
      expect(sent).toMatchObject({
        model: 'dall-e-3',
        prompt: 'a lighthouse',
        size: '1792x1024',
        quality: 'hd',
        response_format: 'url',
      });
    });

    it('OpenAI gpt-image-1: no response_format upstream, base64 back, usage tokens billed', async () => {
      const res = await client.images.generate({
        model: 'openai/gpt-image-1',
        prompt: 'a cat',
        n: 2,
      });
      expect(res.data).toHaveLength(2);
      // asked for a URL (the default), got a data: URL of the PNG
      expect(res.data?.[0].url).toBe(`data:image/png;base64,${TINY_PNG.toString('base64')}`);
      const sent = media.requests.find((r) => r.path === '/openai/v1/images/generations')
        ?.json as Record<string, unknown>;
      expect(sent.response_format).toBeUndefined();
      const b64 = await client.images.generate({
        model: 'openai/gpt-image-1',
        prompt: 'a cat',
        response_format: 'b64_json',
      });
      expect(b64.data?.[0].b64_json).toBe(TINY_PNG.toString('base64'));
    });

    it('xAI: size/quality/style are not sent (Grok refuses them)', async () => {
      const res = await client.images.generate({
        model: 'xai/grok-2-image',
        prompt: 'a fox',
        size: '1024x1024',
        n: 2,
      });
      expect(res.data).toHaveLength(2);
      const sent = media.requests.find((r) => r.path === '/xai/v1/images/generations')
        ?.json as Record<string, unknown>;
      expect(sent).toEqual({
        model: 'grok-2-image',
        prompt: 'a fox',
        n: 2,
        response_format: 'url',
      });
    });

    it('Together FLUX: size → width/height, b64_json → base64', async () => {
      const res = await client.images.generate({
        model: 'together/black-forest-labs/FLUX.1-schnell',
        prompt: 'a boat',
        size: '1024x768',
        response_format: 'b64_json',
      });
      expect(res.data?.[0].b64_json).toBe(TINY_PNG.toString('base64'));
      const sent = media.requests.find((r) => r.path === '/together/v1/images/generations')?.json;
      expect(sent).toMatchObject({ width: 1024, height: 768, response_format: 'base64' });
    });

    it('Fireworks FLUX: one workflow call per image, aspect ratio from the size', async () => {
      const res = await client.images.generate({
        model: 'fireworks/flux-1-schnell-fp8',
        prompt: 'mountains',
        size: '1792x1024',
        n: 2,
        response_format: 'b64_json',
      });
      expect(res.data).toHaveLength(2);
      expect(res.data?.every((d) => d.b64_json === TINY_PNG.toString('base64'))).toBe(true);
      const calls = media.requests.filter((r) =>
        r.path.endsWith('/flux-1-schnell-fp8/text_to_image'),
      );
      expect(calls).toHaveLength(2);
      expect(calls[0].json).toEqual({ prompt: 'mountains', aspect_ratio: '16:9' });
    });

    it('records images and their size/quality price in the ledger', async () => {
      await client.images.generate({
        model: 'openai/dall-e-3',
        prompt: 'p',
        size: '1024x1792',
        quality: 'hd',
      });
      const rows = (await ledger('images')).filter((x) => x.model === 'dall-e-3');
      const last = rows[rows.length - 1];
      expect(last).toMatchObject({ images: 1, success: true });
      expect(last.cost).toBeCloseTo(0.12, 10);
    });

    it('an Idempotency-Key makes one upstream call for two identical requests', async () => {
      const body = { model: 'openai/dall-e-2', prompt: 'once', n: 1 };
      const headers = { 'idempotency-key': `img-${Date.now()}` };
      const [a, b] = await Promise.all([
        call(gw, 'POST', '/v1/images/generations', { body, headers }),
        call(gw, 'POST', '/v1/images/generations', { body, headers }),
      ]);
      expect([a.status, b.status]).toEqual([200, 200]);
      expect(b.json).toEqual(a.json);
      expect([
        a.headers.get('x-omniroute-idempotent'),
        b.headers.get('x-omniroute-idempotent'),
      ]).toContain('true');
      expect(media.hits('/openai/v1/images/generations')).toBe(1);
    });

    it('GET /v1/images/generations lists image models with sizes and modalities', async () => {
      const r = await call(gw, 'GET', '/v1/images/generations');
      const data = (r.json as { data: (ModelEntry & { output_modalities: string[] })[] }).data;
      expect(data.map((m) => m.id)).toEqual(
        expect.arrayContaining([
          'openai/dall-e-3',
          'xai/grok-2-image',
          'fireworks/flux-1-schnell-fp8',
        ]),
      );
      expect(data.every((m) => m.type === 'image' && m.output_modalities[0] === 'image')).toBe(
        true,
      );
      expect(data.find((m) => m.id === 'openai/dall-e-3')?.supported_sizes).toContain('1792x1024');
    });
  });

  describe('POST /v1/audio/transcriptions', () => {
    const wav = (): Promise<File> => toFile(makeWav(1.5), 'hello.wav', { type: 'audio/wav' });

    it('OpenAI whisper-1 (json): {text, task, language, duration} and seconds billed', async () => {
      const res = await client.audio.transcriptions.create({
        model: 'openai/whisper-1',
        file: await wav(),
      });
      expect(res).toMatchObject({
        text: 'Mock transcript of hello.wav.',
        task: 'transcribe',
        duration: 1.5,
      });
      expect((res as unknown as { language: string }).language).toBe('english');
      const sent = media.requests.find((r) => r.path === '/openai/v1/audio/transcriptions');
      expect(sent?.multipart?.fields).toMatchObject({
        model: 'whisper-1',
        response_format: 'verbose_json',
      });
      expect(sent?.multipart?.files.file).toMatchObject({
        filename: 'hello.wav',
        size: makeWav(1.5).length,
      });
      const rows = (await ledger('transcription')).filter((x) => x.model === 'whisper-1');
      expect(rows[rows.length - 1].audio_seconds).toBeCloseTo(1.5, 5);
      expect(rows[rows.length - 1].cost).toBeCloseTo(1.5 * (0.006 / 60), 12);
    });

    it('response_format text answers the plain transcript', async () => {
      const text = await client.audio.transcriptions.create({
        model: 'openai/gpt-4o-transcribe',
        file: await wav(),
        response_format: 'text',
      });
      expect(String(text).trim()).toBe('Mock transcript of hello.wav.');
    });

    it('Groq whisper (OpenAI-compatible) with verbose_json', async () => {
      const res = await client.audio.transcriptions.create({
        model: 'groq/whisper-large-v3',
        file: await wav(),
        response_format: 'verbose_json',
        language: 'en',
      });
      expect(res).toMatchObject({ text: 'Mock transcript of hello.wav.', duration: 1.5 });
      expect(res.segments?.length).toBeGreaterThan(0);
    });

    it('Deepgram nova-3: raw audio upload, detected language, duration', async () => {
      const res = await client.audio.transcriptions.create({
        model: 'deepgram/nova-3',
        file: await wav(),
      });
      expect(res).toMatchObject({
        text: 'Mock transcript of deepgram audio.',
        task: 'transcribe',
        language: 'en',
        duration: 1.5,
      });
      const sent = media.requests.find((r) => r.path === '/deepgram/v1/listen');
      expect(sent?.query).toMatchObject({
        model: 'nova-3',
        smart_format: 'true',
        detect_language: 'true',
      });
      expect(sent?.headers.authorization).toBe(`Token ${KEY}`);
      expect(sent?.raw.length).toBe(makeWav(1.5).length);
    });

    it('AssemblyAI best: upload, submit, poll until completed', async () => {
      const res = await client.audio.transcriptions.create({
        model: 'assemblyai/best',
        file: await wav(),
      });
      expect(res).toMatchObject({
        text: 'Mock transcript of assemblyai audio.',
        language: 'en_us',
        duration: 2,
      });
      const paths = media.requests.map((r) => `${r.method} ${r.path}`);
      expect(paths[0]).toBe('POST /assemblyai/v2/upload');
      expect(paths[1]).toBe('POST /assemblyai/v2/transcript');
      expect(
        paths.filter((p) => p.startsWith('GET /assemblyai/v2/transcript/')).length,
      ).toBeGreaterThanOrEqual(2);
      expect(media.requests[0].headers.authorization).toBe(KEY);
      const submitted = media.requests[1].json as Record<string, unknown>;
      expect(submitted).toMatchObject({ speech_model: 'best', language_detection: true });
    });

    it('an AssemblyAI transcript that fails upstream is a 422 in OpenAI shape', async () => {
      const r = await transcribe('assemblyai/error-transcript', makeWav(0.5), 'a.wav');
      expect(r.status).toBe(422);
      expect((r.json as OpenAiError).error.message).toMatch(/could not transcribe/);
    });
  });

  /** A raw multipart request (bad-input cases the SDK would not send). */
  async function transcribe(
    model: string | undefined,
    bytes: Buffer,
    name: string,
    type = 'audio/wav',
    extra: Record<string, string> = {},
  ): Promise<{ status: number; json: unknown }> {
    const form = new FormData();
    if (model !== undefined) {
      form.append('model', model);
    }
    form.append('file', new Blob([bytes], { type }), name);
    for (const [k, v] of Object.entries(extra)) {
      form.append(k, v);
    }
    const r = await fetch(`${gw.url}/v1/audio/transcriptions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${gw.adminKey}` },
      body: form,
    });
    const text = await r.text();
    return { status: r.status, json: JSON.parse(text) as unknown };
  }

  describe('bad input → 4xx in OpenAI shape, no upstream call', () => {
    it.each([
      [
        'a text file',
        () => transcribe('openai/whisper-1', Buffer.from('hello'), 'notes.txt', 'text/plain'),
        400,
        /Unsupported audio file/,
      ],
      [
        'text named .wav',
        () => transcribe('openai/whisper-1', Buffer.from('just some words here'), 'x.wav'),
        400,
        /is text/,
      ],
      [
        'an empty file',
        () => transcribe('openai/whisper-1', Buffer.alloc(0), 'empty.wav'),
        400,
        /empty/,
      ],
      ['no model', () => transcribe(undefined, makeWav(0.2), 'a.wav'), 400, /Missing model/],
      [
        'an unknown format',
        () =>
          transcribe('openai/whisper-1', makeWav(0.2), 'a.wav', 'audio/wav', {
            response_format: 'pdf',
          }),
        400,
        /response_format/,
      ],
      [
        'subtitles from Deepgram',
        () =>
          transcribe('deepgram/nova-3', makeWav(0.2), 'a.wav', 'audio/wav', {
            response_format: 'srt',
          }),
        400,
        /not available from provider deepgram/,
      ],
    ])('transcription with %s', async (_name, send, status, message) => {
      const r = await send();
      expect(r.status).toBe(status);
      expect((r.json as OpenAiError).error.message).toMatch(message);
      expect(
        media.requests.filter((x) => x.path.includes('transcri') || x.path.includes('listen')),
      ).toHaveLength(0);
    });

    it('a JSON body on the transcription route is a 415', async () => {
      const r = await call(gw, 'POST', '/v1/audio/transcriptions', {
        body: { model: 'openai/whisper-1' },
      });
      expect(r.status).toBe(415);
    });

    it.each([
      ['/v1/images/generations', { model: 'openai/dall-e-3' }, 400, /prompt/],
      ['/v1/images/generations', { model: 'openai/dall-e-3', prompt: '   ' }, 400, /prompt/],
      ['/v1/images/generations', { model: 'openai/dall-e-3', prompt: 'x', n: 0 }, 400, /'n'/],
      [
        '/v1/images/generations',
        { model: 'openai/dall-e-3', prompt: 'x', size: 'huge' },
        400,
        /size/,
      ],
      ['/v1/images/generations', { prompt: 'x' }, 400, /Missing model/],
      [
        '/v1/images/generations',
        { model: 'nosuch/dall-e-3', prompt: 'x' },
        404,
        /Unknown provider/,
      ],
      [
        '/v1/images/generations',
        { model: 'mistral/mistral-embed', prompt: 'x' },
        400,
        /does not serve image generation/,
      ],
      ['/v1/embeddings', { model: 'openai/text-embedding-3-small' }, 400, /input/],
      ['/v1/embeddings', { model: 'openai/text-embedding-3-small', input: [] }, 400, /input/],
      [
        '/v1/embeddings',
        { model: 'openai/text-embedding-3-small', input: 'x', encoding_format: 'hex' },
        400,
        /encoding_format/,
      ],
      [
        '/v1/embeddings',
        { model: 'openai/text-embedding-3-small', input: 'x', dimensions: -1 },
        400,
        /dimensions/,
      ],
      [
        '/v1/embeddings',
        { model: 'deepgram/nova-3', input: 'x' },
        400,
        /does not serve embeddings/,
      ],
      ['/v1/embeddings', { model: 'not-a-model-anywhere', input: 'x' }, 404, /does not exist/],
      [
        '/v1/chat/completions',
        { model: 'assemblyai/best', messages: [{ role: 'user', content: 'hi' }] },
        400,
        /does not serve chat/,
      ],
    ])('%s %j → %i', async (path, body, status, message) => {
      const r = await call(gw, 'POST', path, { body, headers: { accept: 'application/json' } });
      expect(r.status).toBe(status);
      expect((r.json as OpenAiError).error.message).toMatch(message);
      expect(media.requests).toHaveLength(0);
    });

    it('an upstream 4xx is passed on with its message (no fallback for a plain 400)', async () => {
      const r = await call(gw, 'POST', '/v1/images/generations', {
        body: { model: 'openai/dall-e-3', prompt: 'x', n: 2 },
      });
      expect(r.status).toBe(400);
      expect((r.json as OpenAiError).error.message).toMatch(/\[400\]/);
    });
  });

  describe('routing: combos, fallback, retries', () => {
    it('an embeddings combo falls back past a failing provider', async () => {
      await admin(gw, 'POST', '/api/combos', {
        name: 'emb-combo',
        strategy: 'priority',
        models: ['mistral/fail-503', 'openai/text-embedding-3-small'],
      });
      const r = await call(gw, 'POST', '/v1/embeddings', {
        body: { model: 'emb-combo', input: 'fallback please' },
        headers: { 'x-omniroute-no-cache': 'true' },
      });
      expect(r.status).toBe(200);
      expect(r.headers.get('x-omniroute-combo')).toBe('emb-combo');
      expect(r.headers.get('x-omniroute-provider')).toBe('openai');
      expect(media.hits('/mistral/v1/embeddings')).toBeGreaterThanOrEqual(1);
      const models = (await call(gw, 'GET', '/v1/models')).json as { data: ModelEntry[] };
      expect(models.data.find((m) => m.id === 'emb-combo')?.type).toBe('embedding');
    });

    it("a 5xx on one account moves on to the provider's next account", async () => {
      const { connection } = await admin<{ connection: { id: string } }>(
        gw,
        'POST',
        '/api/providers',
        {
          provider: 'nebius',
          name: 'nebius-second',
          apiKey: KEY,
          priority: 50,
          providerSpecificData: { baseUrl: `${media.url}/nebius/v1` },
        },
      );
      try {
        const r = await call(gw, 'POST', '/v1/embeddings', {
          body: { model: 'nebius/flaky-1', input: 'retry' },
          headers: { 'x-omniroute-no-cache': 'true' },
        });
        expect(r.status).toBe(200);
        expect(r.headers.get('x-omniroute-attempts')).toBe('2');
        expect(r.headers.get('x-omniroute-connection')).toBe(connection.id);
      } finally {
        await admin(gw, 'DELETE', `/api/providers/${connection.id}`);
      }
    });
  });

  it('the usage API reports images and audio seconds next to tokens and cost', async () => {
    type History = {
      totalImages: number;
      totalAudioSeconds: number;
      byModel: Record<string, { images: number; audioSeconds: number; cost: number }>;
    };
    const history = async (): Promise<History> => {
      await gw.app.get(UsageService).flush();
      return (await call(gw, 'GET', '/api/usage/history')).json as History;
    };
    const of = (h: History, model: string) =>
      Object.entries(h.byModel).find(([k]) => k.includes(model))?.[1] ?? {
        images: 0,
        audioSeconds: 0,
        cost: 0,
      };
    const before = await history();
    await client.images.generate({ model: 'xai/grok-2-image', prompt: 'units', n: 2 });
    await client.audio.transcriptions.create({
      model: 'deepgram/nova-3',
      file: await toFile(makeWav(2), 'two.wav', { type: 'audio/wav' }),
    });
    const after = await history();
    expect(after.totalImages - before.totalImages).toBe(2);
    expect(after.totalAudioSeconds - before.totalAudioSeconds).toBeCloseTo(2, 3);
    expect(of(after, 'grok-2-image').images - of(before, 'grok-2-image').images).toBe(2);
    expect(of(after, 'grok-2-image').cost - of(before, 'grok-2-image').cost).toBeCloseTo(0.14, 6);
    expect(of(after, 'nova-3').audioSeconds - of(before, 'nova-3').audioSeconds).toBeCloseTo(2, 3);
    const logs = (await call(gw, 'GET', '/api/usage/request-logs?format=json&limit=5')).json as {
      items: { surface: string; images: number; audioSeconds: number }[];
    };
    expect(logs.items.find((i) => i.surface === 'transcription')?.audioSeconds).toBeCloseTo(2, 3);
    expect(logs.items.find((i) => i.surface === 'images')?.images).toBe(2);
  });

  it('image and speech-to-text nodes (OpenAI-compatible, their apiType) serve their routes', async () => {
    for (const [prefix, apiType] of [
      ['localimg', 'images-generations'],
      ['localstt', 'audio-transcriptions'],
    ]) {
      const { node } = await admin<{ node: { id: string } }>(gw, 'POST', '/api/provider-nodes', {
        name: prefix,
        prefix,
        baseUrl: `${media.url}/openai/v1`,
        apiType,
      });
      await admin(gw, 'POST', '/api/providers', { provider: node.id, name: prefix, apiKey: KEY });
    }
    const img = await client.images.generate({ model: 'localimg/dall-e-2', prompt: 'node' });
    expect(img.data).toHaveLength(1);
    expect(media.hits('/openai/v1/images/generations')).toBe(1);
    const stt = await client.audio.transcriptions.create({
      model: 'localstt/whisper-1',
      file: await toFile(makeWav(1), 'node.wav', { type: 'audio/wav' }),
    });
    expect(stt.text).toBe('Mock transcript of node.wav.');
    // a node serves only its own kind
    const wrong = await call(gw, 'POST', '/v1/embeddings', {
      body: { model: 'localimg/dall-e-2', input: 'x' },
    });
    expect(wrong.status).toBe(400);
    expect((wrong.json as OpenAiError).error.message).toMatch(/does not serve embeddings/);
  });

  describe('/v1/providers/{provider}/...', () => {
    it('adds the provider prefix to an unprefixed model', async () => {
      const r = await call(gw, 'POST', '/v1/providers/openai/embeddings', {
        body: { model: 'text-embedding-3-small', input: 'scoped' },
      });
      expect(r.status).toBe(200);
      expect(r.headers.get('x-omniroute-provider')).toBe('openai');
      const img = await call(gw, 'POST', '/v1/providers/together/images/generations', {
        body: { model: 'black-forest-labs/FLUX.1-schnell', prompt: 'x' },
      });
      expect(img.status).toBe(200);
      expect(img.headers.get('x-omniroute-model')).toBe('black-forest-labs/FLUX.1-schnell');
    });

    it('works through the SDK with a provider-scoped base URL', async () => {
      const scoped = new OpenAI({
        apiKey: gw.adminKey,
        baseURL: `${gw.url}/v1/providers/mistral`,
        maxRetries: 0,
      });
      const res = await scoped.embeddings.create({ model: 'mistral-embed', input: 'hi' });
      expect(res.data[0].embedding).toHaveLength(8);
    });

    it('refuses a model of another provider and an unknown provider (400)', async () => {
      const a = await call(gw, 'POST', '/v1/providers/openai/embeddings', {
        body: { model: 'mistral/mistral-embed', input: 'x' },
      });
      expect(a.status).toBe(400);
      expect((a.json as OpenAiError).error.message).toBe(
        'Model "mistral/mistral-embed" does not belong to provider "openai". Expected prefix: openai/',
      );
      const b = await call(gw, 'POST', '/v1/providers/nope/chat/completions', {
        body: { model: 'x', messages: [] },
      });
      expect(b.status).toBe(400);
      expect((b.json as OpenAiError).error.message).toBe('Unknown provider: nope');
      expect(media.requests).toHaveLength(0);
    });
  });

  describe('catalogue: /v1/models, /api/models/catalog, /api/models/alias', () => {
    it('/v1/models lists chat, embedding, image and audio models with a type', async () => {
      const data = ((await call(gw, 'GET', '/v1/models')).json as { data: ModelEntry[] }).data;
      const type = (id: string): string | undefined => data.find((m) => m.id === id)?.type;
      expect(type('openai/gpt-4o')).toBe('chat');
      expect(type('openai/text-embedding-3-small')).toBe('embedding');
      expect(type('openai/dall-e-3')).toBe('image');
      expect(type('deepgram/nova-3')).toBe('audio');
      expect(data.find((m) => m.id === 'assemblyai/best')?.subtype).toBe('transcription');
      expect(type(`${nodePrefix}/any-embedder`)).toBeUndefined(); // a node lists only what it knows
    });

    it('/api/models/catalog groups by provider with active flags', async () => {
      const r = await call(gw, 'GET', '/api/models/catalog');
      expect(r.status).toBe(200);
      const cat = r.json as Record<
        string,
        { provider: string; active: boolean; models: ModelEntry[] }
      >;
      expect(cat.openai.active).toBe(true);
      expect(cat.openai.models.map((m) => m.type)).toEqual(
        expect.arrayContaining(['chat', 'embedding', 'image', 'audio']),
      );
      expect(cat.cerebras.active).toBe(false);
      expect(cat.cerebras.models.length).toBeGreaterThan(0);
    });

    it('an alias routes a bare name; GET resolves it; DELETE removes it', async () => {
      const set = await call(gw, 'PUT', '/api/models/alias', {
        body: { alias: 'emb-small', model: 'openai/text-embedding-3-small' },
      });
      expect(set.status).toBe(200);
      expect((set.json as { aliases: Record<string, string> }).aliases['emb-small']).toBe(
        'openai/text-embedding-3-small',
      );
      const res = await client.embeddings.create({ model: 'emb-small', input: 'via alias' });
      expect(res.data).toHaveLength(1);
      const one = await call(gw, 'GET', '/api/models/alias?alias=emb-small');
      expect(one.json).toMatchObject({
        alias: 'emb-small',
        resolved: {
          provider: 'openai',
          model: 'text-embedding-3-small',
          qualifiedId: 'openai/text-embedding-3-small',
          source: 'alias',
        },
      });
      // a glob alias: the most specific pattern wins
      await call(gw, 'POST', '/api/models/alias', {
        body: { alias: 'img-*', model: 'openai/dall-e-2' },
      });
      const img = await client.images.generate({ model: 'img-anything', prompt: 'x' });
      expect(img.data).toHaveLength(1);
      expect((await call(gw, 'DELETE', '/api/models/alias?alias=emb-small')).status).toBe(200);
      expect((await call(gw, 'DELETE', '/api/models/alias?alias=img-*')).status).toBe(200);
      const gone = await call(gw, 'GET', '/api/models/alias?alias=emb-small');
      expect(gone.status).toBe(404);
      const after = await call(gw, 'POST', '/v1/embeddings', {
        body: { model: 'emb-small', input: 'x' },
      });
      expect(after.status).toBe(404);
    });

    it('refuses bad aliases (slash, unknown provider target) with VALIDATION_FAILED', async () => {
      const a = await call(gw, 'PUT', '/api/models/alias', {
        body: { alias: 'a/b', model: 'openai/x' },
      });
      expect(a.status).toBe(400);
      const b = await call(gw, 'PUT', '/api/models/alias', {
        body: { alias: 'ok', model: 'nope/x' },
      });
      expect(b.status).toBe(400);
      const c = await call(gw, 'PUT', '/api/models/alias', { body: { alias: 'ok' } });
      expect(c.status).toBe(400);
    });
  });
});
