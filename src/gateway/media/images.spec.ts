import { caughtAppError } from '@/common/errors/app-error.testing';
import { mediaFixture } from './media.testing';
import {
  aspectRatio,
  imagePriceKey,
  imagesAnswer,
  imagesFromAnswer,
  imagesUpstreamCall,
  parseImagesRequest,
  type ImagesRequest,
} from './images';

const fixture = mediaFixture;
const caught = caughtAppError;

/** The 1×1 PNG every base64 fixture carries. */
const PNG_B64 =
  'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==';
const PROMPT = 'A watercolour painting of a red fox in a snowy birch forest';

function req(over: Partial<ImagesRequest> = {}): ImagesRequest {
  return {
    model: 'openai/dall-e-3',
    prompt: PROMPT,
    n: 1,
    size: undefined,
    quality: undefined,
    responseFormat: 'url',
    style: undefined,
    extra: {},
    ...over,
  };
}

describe(parseImagesRequest.name, () => {
  it('applies the defaults: one image, as a URL', () => {
    expect(parseImagesRequest({ model: 'openai/dall-e-3', prompt: PROMPT })).toEqual({
      model: 'openai/dall-e-3',
      prompt: PROMPT,
      n: 1,
      size: undefined,
      quality: undefined,
      responseFormat: 'url',
      style: undefined,
      extra: {},
    });
  });

  it('reads every field and keeps the others as extras', () => {
    expect(
      parseImagesRequest({
        model: 'openai/dall-e-3',
        prompt: PROMPT,
        n: 2,
        size: '1792x1024',
        quality: 'hd',
        response_format: 'b64_json',
        style: 'natural',
        user: 'user-1',
        seed: 7,
      }),
    ).toEqual({
      model: 'openai/dall-e-3',
      prompt: PROMPT,
      n: 2,
      size: '1792x1024',
      quality: 'hd',
      responseFormat: 'b64_json',
      style: 'natural',
      extra: { user: 'user-1', seed: 7 },
    });
  });

  it('takes n as a digit string, null n as 1, size auto and every quality', () => {
    expect(parseImagesRequest({ model: 'm', prompt: 'p', n: '3' }).n).toBe(3);
    expect(parseImagesRequest({ model: 'm', prompt: 'p', n: null }).n).toBe(1);
    expect(parseImagesRequest({ model: 'm', prompt: 'p', size: 'auto' }).size).toBe('auto');
    for (const quality of ['standard', 'hd', 'low', 'medium', 'high', 'auto']) {
      expect(parseImagesRequest({ model: 'm', prompt: 'p', quality }).quality).toBe(quality);
    }
    expect(parseImagesRequest({ model: 'm', prompt: 'p', quality: '' }).quality).toBeUndefined();
  });

  it('refuses a body that is not an object', () => {
    const e = caught(() => parseImagesRequest(['prompt']));
    expect(e.code).toBe('INVALID_BODY');
    expect(e.status).toBe(400);
  });

  it('refuses a missing model', () => {
    const e = caught(() => parseImagesRequest({ prompt: PROMPT }));
    expect(e.code).toBe('MISSING_MODEL');
    expect(e.details).toEqual({ param: 'model' });
  });

  it('refuses a missing prompt', () => {
    const e = caught(() => parseImagesRequest({ model: 'm' }));
    expect(e.status).toBe(400);
    expect(e.code).toBe('INVALID_INPUT_FIELD');
    expect(e.details).toEqual({ param: 'prompt' });
    expect(e.message).toBe("Missing 'prompt'");
  });

  it.each([[''], ['   \n'], [42], [null], [['a prompt']]])('refuses the prompt %p', (prompt) => {
    const e = caught(() => parseImagesRequest({ model: 'm', prompt }));
    expect(e.status).toBe(400);
    expect(e.details).toEqual({ param: 'prompt' });
    expect(e.message).toBe("Invalid 'prompt': must be a non-empty string");
  });

  it('takes n from 1 to 10 and refuses anything else', () => {
    expect(parseImagesRequest({ model: 'm', prompt: 'p', n: 1 }).n).toBe(1);
    expect(parseImagesRequest({ model: 'm', prompt: 'p', n: 10 }).n).toBe(10);
    for (const n of [0, 11, -1, 2.5, 'two', true]) {
      const e = caught(() => parseImagesRequest({ model: 'm', prompt: 'p', n }));
      expect(e.status).toBe(400);
      expect(e.details).toEqual({ param: 'n' });
      expect(e.message).toBe("Invalid 'n': must be an integer between 1 and 10");
    }
  });

  it.each([['1024'], ['1024*1024'], ['1024x'], ['x1024'], ['1x1'], ['big'], ['1024x1024px']])(
    'refuses the size %p',
    (size) => {
      const e = caught(() => parseImagesRequest({ model: 'm', prompt: 'p', size }));
      expect(e.status).toBe(400);
      expect(e.details).toEqual({ param: 'size' });
    },
  );

  it('refuses a size that is not a string', () => {
    const e = caught(() => parseImagesRequest({ model: 'm', prompt: 'p', size: 1024 }));
    expect(e.details).toEqual({ param: 'size' });
  });

  it('refuses an unknown quality, response_format or a style that is not a string', () => {
    for (const [field, value] of [
      ['quality', 'ultra'],
      ['response_format', 'png'],
      ['response_format', 'base64'],
      ['style', 3],
    ] as const) {
      const e = caught(() => parseImagesRequest({ model: 'm', prompt: 'p', [field]: value }));
      expect(e.status).toBe(400);
      expect(e.code).toBe('INVALID_INPUT_FIELD');
      expect(e.details).toEqual({ param: field });
    }
  });
});

describe(imagePriceKey.name, () => {
  it('is <size>/<quality>, 1024x1024/standard by default', () => {
    expect(imagePriceKey(req())).toBe('1024x1024/standard');
    expect(imagePriceKey(req({ size: 'auto' }))).toBe('1024x1024/standard');
    expect(imagePriceKey(req({ size: '1792x1024', quality: 'hd' }))).toBe('1792x1024/hd');
    expect(imagePriceKey(req({ quality: 'low' }))).toBe('1024x1024/low');
  });
});

describe(aspectRatio.name, () => {
  it.each([
    ['1024x1024', '1:1'],
    ['1792x1024', '16:9'],
    ['1024x1792', '9:16'],
    ['1344x768', '16:9'],
    ['768x1344', '9:16'],
    ['1216x832', '3:2'],
    ['832x1216', '2:3'],
    ['1280x1024', '5:4'],
    ['1024x1280', '4:5'],
    ['2560x1080', '21:9'],
    ['1080x2560', '9:21'],
  ])('%s → %s', (size, ratio) => {
    expect(aspectRatio(size)).toBe(ratio);
  });

  it('is 1:1 without a size or for auto', () => {
    expect(aspectRatio(undefined)).toBe('1:1');
    expect(aspectRatio('auto')).toBe('1:1');
  });
});

describe(imagesUpstreamCall.name, () => {
  const PATH = '/images/generations';

  it('openai (dall-e): the request with response_format and the extras', () => {
    const call = imagesUpstreamCall(
      req({
        n: 2,
        size: '1792x1024',
        quality: 'hd',
        style: 'vivid',
        responseFormat: 'b64_json',
        extra: { user: 'u-1' },
      }),
      'openai',
      'dall-e-3',
      PATH,
    );
    expect(call).toEqual({
      path: PATH,
      body: {
        user: 'u-1',
        model: 'dall-e-3',
        prompt: PROMPT,
        n: 2,
        size: '1792x1024',
        quality: 'hd',
        style: 'vivid',
        response_format: 'b64_json',
      },
      accept: 'application/json',
      repeat: 1,
    });
  });

  it('openai: leaves out what the client did not send', () => {
    const { body } = imagesUpstreamCall(req(), 'openai', 'dall-e-2', PATH);
    expect(body).toEqual({ model: 'dall-e-2', prompt: PROMPT, n: 1, response_format: 'url' });
  });

  it('openai (gpt-image-*): drops response_format', () => {
    for (const model of ['gpt-image-1', 'gpt-image-1-mini']) {
      const { body } = imagesUpstreamCall(
        req({ responseFormat: 'b64_json', quality: 'medium', size: '1024x1536' }),
        'openai',
        model,
        PATH,
      );
      expect(body).toEqual({
        model,
        prompt: PROMPT,
        n: 1,
        size: '1024x1536',
        quality: 'medium',
      });
      expect(body).not.toHaveProperty('response_format');
    }
  });

  it('xai: drops size, quality, style and the extras', () => {
    const call = imagesUpstreamCall(
      req({
        n: 3,
        size: '1024x1024',
        quality: 'hd',
        style: 'vivid',
        responseFormat: 'b64_json',
        extra: { user: 'u-1' },
      }),
      'xai',
      'grok-2-image',
      PATH,
    );
    expect(call).toEqual({
      path: PATH,
      body: { model: 'grok-2-image', prompt: PROMPT, n: 3, response_format: 'b64_json' },
      accept: 'application/json',
      repeat: 1,
    });
  });

  it('together: width/height from the size and base64 for b64_json', () => {
    const call = imagesUpstreamCall(
      req({
        n: 2,
        size: '1344x768',
        quality: 'hd',
        responseFormat: 'b64_json',
        extra: { steps: 4, seed: 42, user: 'u-1', negative_prompt: 'blurry' },
      }),
      'together',
      'black-forest-labs/FLUX.1-schnell',
      PATH,
    );
    expect(call).toEqual({
      path: PATH,
      body: {
        model: 'black-forest-labs/FLUX.1-schnell',
        prompt: PROMPT,
        n: 2,
        width: 1344,
        height: 768,
        response_format: 'base64',
        steps: 4,
        seed: 42,
      },
      accept: 'application/json',
      repeat: 1,
    });
  });

  it('together: 1024x1024 and url by default, non-numeric steps/seed ignored', () => {
    const { body } = imagesUpstreamCall(
      req({ size: 'auto', extra: { steps: '4', seed: null } }),
      'together',
      'black-forest-labs/FLUX.1-schnell',
      PATH,
    );
    expect(body).toEqual({
      model: 'black-forest-labs/FLUX.1-schnell',
      prompt: PROMPT,
      n: 1,
      width: 1024,
      height: 1024,
      response_format: 'url',
    });
  });

  it('fireworks: the model in the path, an aspect ratio, one call per image', () => {
    const call = imagesUpstreamCall(
      req({
        n: 3,
        size: '1792x1024',
        responseFormat: 'b64_json',
        extra: { seed: 9, guidance_scale: 3.5, num_inference_steps: 4, user: 'u-1' },
      }),
      'fireworks',
      'flux-1-schnell-fp8',
      '/workflows/accounts/fireworks/models/{model}/text_to_image',
    );
    expect(call).toEqual({
      path: '/workflows/accounts/fireworks/models/flux-1-schnell-fp8/text_to_image',
      body: {
        prompt: PROMPT,
        aspect_ratio: '16:9',
        seed: 9,
        guidance_scale: 3.5,
        num_inference_steps: 4,
      },
      accept: 'application/json',
      repeat: 3,
    });
  });

  it('fireworks: the model is URL-encoded into its path segment', () => {
    const call = imagesUpstreamCall(
      req(),
      'fireworks',
      'my model',
      '/workflows/accounts/acme/models/{model}/text_to_image',
    );
    expect(call.path).toBe('/workflows/accounts/acme/models/my%20model/text_to_image');
    expect(call.body).toEqual({ prompt: PROMPT, aspect_ratio: '1:1' });
    expect(call.repeat).toBe(1);
  });
});

describe(imagesFromAnswer.name, () => {
  it('openai dall-e-3: the URL and the revised prompt', () => {
    const upstream = fixture('openai-images-dall-e-3.response.json');
    const item = (upstream.data as Record<string, string>[])[0];
    expect(imagesFromAnswer('openai', upstream, 'url', 'openai')).toEqual({
      data: [{ url: item.url, revised_prompt: item.revised_prompt }],
      inputTokens: 0,
      outputTokens: 0,
    });
  });

  it('openai dall-e-3: keeps the URL when base64 was asked but only a URL came back', () => {
    const upstream = fixture('openai-images-dall-e-3.response.json');
    const { data } = imagesFromAnswer('openai', upstream, 'b64_json', 'openai');
    expect(data[0].url).toMatch(/^https:\/\/oaidalleapiprodscus/);
    expect(data[0]).not.toHaveProperty('b64_json');
  });

  it('openai gpt-image-1: base64 as is, and the token usage', () => {
    const upstream = fixture('openai-images-gpt-image-1.response.json');
    expect(imagesFromAnswer('openai', upstream, 'b64_json', 'openai')).toEqual({
      data: [{ b64_json: PNG_B64 }],
      inputTokens: 21,
      outputTokens: 1056,
    });
  });

  it('openai gpt-image-1: a data URL when the client asked for url', () => {
    const upstream = fixture('openai-images-gpt-image-1.response.json');
    const { data } = imagesFromAnswer('openai', upstream, 'url', 'openai');
    expect(data).toEqual([{ url: `data:image/png;base64,${PNG_B64}` }]);
  });

  it('xai: the URL and the revised prompt', () => {
    const upstream = fixture('xai-images-url.response.json');
    const { data, inputTokens, outputTokens } = imagesFromAnswer('xai', upstream, 'url', 'xai');
    expect(data).toEqual([
      {
        url: 'https://imgen.x.ai/xai-imgen/xai-tmp-imgen-6a1d0c2e-3b4f-4e59-8a7b-9c0d1e2f3a4b.jpeg',
        revised_prompt: expect.stringMatching(/^A high-resolution photograph of a tabby cat/),
      },
    ]);
    expect([inputTokens, outputTokens]).toEqual([0, 0]);
  });

  it('xai: b64_json sent as a data URL loses its prefix for b64_json clients', () => {
    const upstream = fixture('xai-images-b64.response.json');
    const { data } = imagesFromAnswer('xai', upstream, 'b64_json', 'xai');
    expect(data).toHaveLength(1);
    expect(data[0].b64_json).toBe(PNG_B64);
    expect(data[0].revised_prompt).toMatch(/tabby cat/);
    expect(data[0]).not.toHaveProperty('url');
  });

  it('xai: b64_json sent as a data URL stays a data URL for url clients', () => {
    const upstream = fixture('xai-images-b64.response.json');
    const { data } = imagesFromAnswer('xai', upstream, 'url', 'xai');
    expect(data[0].url).toBe(`data:image/png;base64,${PNG_B64}`);
  });

  it('keeps the MIME type of a data URL', () => {
    const { data } = imagesFromAnswer(
      'xai',
      { data: [{ b64_json: 'data:image/jpeg;base64,/9j/4AAQ' }] },
      'url',
      'xai',
    );
    expect(data).toEqual([{ url: 'data:image/jpeg;base64,/9j/4AAQ' }]);
  });

  it('together: every URL, in order', () => {
    const upstream = fixture('together-images-url.response.json');
    const urls = (upstream.data as { url: string }[]).map((d) => d.url);
    const { data } = imagesFromAnswer('together', upstream, 'url', 'together');
    expect(data).toEqual(urls.map((url) => ({ url })));
  });

  it('together: base64 for b64_json clients, a data URL for url clients', () => {
    const upstream = fixture('together-images-base64.response.json');
    expect(imagesFromAnswer('together', upstream, 'b64_json', 'together').data).toEqual([
      { b64_json: PNG_B64 },
    ]);
    expect(imagesFromAnswer('together', upstream, 'url', 'together').data).toEqual([
      { url: `data:image/png;base64,${PNG_B64}` },
    ]);
  });

  it('fireworks: the data URL of text_to_image, either way round', () => {
    const upstream = fixture('fireworks-text-to-image.response.json');
    expect(imagesFromAnswer('fireworks', upstream, 'url', 'fireworks')).toEqual({
      data: [{ url: `data:image/png;base64,${PNG_B64}` }],
      inputTokens: 0,
      outputTokens: 0,
    });
    expect(imagesFromAnswer('fireworks', upstream, 'b64_json', 'fireworks').data).toEqual([
      { b64_json: PNG_B64 },
    ]);
  });

  it('fireworks: a bare base64 string is taken as PNG', () => {
    const { data } = imagesFromAnswer('fireworks', { base64: [PNG_B64] }, 'url', 'fireworks');
    expect(data).toEqual([{ url: `data:image/png;base64,${PNG_B64}` }]);
  });

  it('skips empty or malformed items and keeps the others', () => {
    const { data } = imagesFromAnswer(
      'openai',
      { data: [null, {}, { url: '' }, { b64_json: '' }, 'x', { url: 'https://x.test/a.png' }] },
      'url',
      'openai',
    );
    expect(data).toEqual([{ url: 'https://x.test/a.png' }]);
  });

  it.each([
    ['openai', 'not json'],
    ['openai', [{ url: 'https://x.test/a.png' }]],
    ['openai', null],
  ] as const)('%s: a 502 for an answer that is not an object (%p)', (protocol, upstream) => {
    const e = caught(() => imagesFromAnswer(protocol, upstream, 'url', 'openai'));
    expect(e.code).toBe('UPSTREAM_INVALID_RESPONSE');
    expect(e.status).toBe(502);
  });

  it('a 502 for an answer without any image', () => {
    const filtered = {
      ...fixture('fireworks-text-to-image.response.json'),
      base64: [],
      finishReason: 'CONTENT_FILTERED',
    };
    for (const [protocol, upstream] of [
      ['fireworks', filtered],
      ['fireworks', { data: [{ b64_json: PNG_B64 }] }],
      ['openai', { created: 1, data: [] }],
      ['openai', { base64: [PNG_B64] }],
      ['together', { error: { message: 'bad' } }],
    ] as const) {
      const e = caught(() => imagesFromAnswer(protocol, upstream, 'url', protocol));
      expect(e.code).toBe('UPSTREAM_INVALID_RESPONSE');
      expect(e.status).toBe(502);
      expect(e.message).toBe(`Upstream ${protocol} sent an image answer without any image`);
    }
  });
});

describe(imagesAnswer.name, () => {
  it('the OpenAI shape with usage when there were tokens', () => {
    const before = Math.floor(Date.now() / 1000);
    const r = req({ size: '1024x1536', quality: 'medium', responseFormat: 'b64_json' });
    const { body, usage } = imagesAnswer(
      [{ b64_json: PNG_B64 }, { b64_json: PNG_B64 }],
      { input: 21, output: 2112 },
      r,
    );
    expect(body).toEqual({
      created: expect.any(Number),
      data: [{ b64_json: PNG_B64 }, { b64_json: PNG_B64 }],
      usage: { input_tokens: 21, output_tokens: 2112, total_tokens: 2133 },
    });
    expect(body.created).toBeGreaterThanOrEqual(before);
    expect(body.created).toBeLessThanOrEqual(Math.floor(Date.now() / 1000));
    expect(usage).toEqual({
      inputTokens: 21,
      outputTokens: 2112,
      images: 2,
      imageKey: '1024x1536/medium',
      audioSeconds: 0,
    });
  });

  it('no usage object without tokens; images and the default price key still metered', () => {
    const data = [{ url: 'https://x.test/1.png', revised_prompt: 'r' }];
    const { body, usage } = imagesAnswer(data, { input: 0, output: 0 }, req());
    expect(body).toEqual({ created: expect.any(Number), data });
    expect(body).not.toHaveProperty('usage');
    expect(usage).toEqual({
      inputTokens: 0,
      outputTokens: 0,
      images: 1,
      imageKey: '1024x1024/standard',
      audioSeconds: 0,
    });
  });

  it('from a recorded answer to the client body', () => {
    const upstream = fixture('openai-images-gpt-image-1.response.json');
    const got = imagesFromAnswer('openai', upstream, 'b64_json', 'openai');
    const { body } = imagesAnswer(
      got.data,
      { input: got.inputTokens, output: got.outputTokens },
      req({ model: 'openai/gpt-image-1', quality: 'medium', responseFormat: 'b64_json' }),
    );
    expect(body.usage).toEqual({ input_tokens: 21, output_tokens: 1056, total_tokens: 1077 });
    expect(body.data).toEqual([{ b64_json: PNG_B64 }]);
  });
});
