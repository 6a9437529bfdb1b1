import { AppError } from '@/common/errors/app-error';
import { caughtAppError } from '@/common/errors/app-error.testing';
import { mediaFixture } from './media.testing';
import {
  AUDIO_EXTENSIONS,
  assemblyAiSubmit,
  assertFormatSupported,
  deepgramQuery,
  fromAssemblyAi,
  fromDeepgram,
  fromOpenAiTranscript,
  openAiTranscriptionBody,
  parseTranscriptionForm,
  transcriptionAnswer,
  wavSeconds,
  type Transcript,
  type TranscriptionRequest,
} from './transcription';

const fixture = mediaFixture;
const caught = caughtAppError;

async function rejection(p: Promise<unknown>): Promise<AppError> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(AppError);
    return e as AppError;
  }
  throw new Error('expected an AppError');
}

/** A PCM WAV file: `samples` frames of silence, 16-bit, `channels` channels. */
function wav(
  samples: number,
  opts: { sampleRate?: number; channels?: number; before?: Buffer; dataSize?: number } = {},
): Buffer {
  const sampleRate = opts.sampleRate ?? 8000;
  const channels = opts.channels ?? 1;
  const blockAlign = channels * 2;
  const data = Buffer.alloc(samples * blockAlign);
  const fmt = Buffer.alloc(24);
  fmt.write('fmt ', 0, 'latin1');
  fmt.writeUInt32LE(16, 4);
  fmt.writeUInt16LE(1, 8); // PCM
  fmt.writeUInt16LE(channels, 10);
  fmt.writeUInt32LE(sampleRate, 12);
  fmt.writeUInt32LE(sampleRate * blockAlign, 16); // byte rate
  fmt.writeUInt16LE(blockAlign, 20);
  fmt.writeUInt16LE(16, 22);
  const dataHeader = Buffer.alloc(8);
  dataHeader.write('data', 0, 'latin1');
  dataHeader.writeUInt32LE(opts.dataSize ?? data.length, 4);
  const body = Buffer.concat([
    Buffer.from('WAVE', 'latin1'),
    fmt,
    opts.before ?? Buffer.alloc(0),
    dataHeader,
    data,
  ]);
  const riff = Buffer.alloc(8);
  riff.write('RIFF', 0, 'latin1');
  riff.writeUInt32LE(body.length, 4);
  return Buffer.concat([riff, body]);
}

/** An MP3 as an encoder writes it: an ID3v2 tag, then MPEG frames. */
const MP3 = Buffer.concat([
  Buffer.from('ID3', 'latin1'),
  Buffer.from([0x04, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00]),
  Buffer.from([0xff, 0xfb, 0x90, 0x64]),
  Buffer.alloc(64, 0x55),
]);

type Part = string | { bytes: Buffer; name?: string; type?: string };

/** A multipart body as a client (fetch, the openai SDK) encodes it. */
async function multipart(parts: [string, Part][]): Promise<{ raw: Buffer; contentType: string }> {
  const form = new FormData();
  for (const [key, value] of parts) {
    if (typeof value === 'string') {
      form.append(key, value);
    } else {
      form.append(key, new Blob([value.bytes], { type: value.type ?? '' }), value.name);
    }
  }
  const res = new Response(form);
  return {
    raw: Buffer.from(await res.arrayBuffer()),
    contentType: res.headers.get('content-type') ?? '',
  };
}

async function parse(parts: [string, Part][]): Promise<TranscriptionRequest> {
  const { raw, contentType } = await multipart(parts);
  return parseTranscriptionForm(raw, contentType);
}

function parseError(parts: [string, Part][]): Promise<AppError> {
  return rejection(parse(parts));
}

const WAV_1S = wav(8000);
const WAV_FILE: Part = { bytes: WAV_1S, name: 'clip.wav', type: 'audio/wav' };
const TEXT = 'The stale smell of old beer lingers. It takes heat to bring out the odor.';

function treq(over: Partial<TranscriptionRequest> = {}): TranscriptionRequest {
  return {
    model: 'openai/whisper-1',
    file: { name: 'clip.wav', type: 'audio/wav', bytes: WAV_1S },
    responseFormat: 'json',
    timestampGranularities: [],
    ...over,
  };
}

describe(parseTranscriptionForm.name, () => {
  it('reads a WAV upload with every field', async () => {
    const r = await parse([
      ['model', 'openai/whisper-1'],
      ['file', WAV_FILE],
      ['language', 'en'],
      ['prompt', 'Zoë, Łódź'],
      ['response_format', 'verbose_json'],
      ['temperature', '0.2'],
      ['timestamp_granularities[]', 'word'],
      ['timestamp_granularities[]', 'segment'],
    ]);
    expect(r).toEqual({
      model: 'openai/whisper-1',
      file: { name: 'clip.wav', type: 'audio/wav', bytes: WAV_1S },
      language: 'en',
      prompt: 'Zoë, Łódź',
      responseFormat: 'verbose_json',
      temperature: 0.2,
      timestampGranularities: ['word', 'segment'],
    });
    expect(Buffer.isBuffer(r.file.bytes)).toBe(true);
  });

  it('defaults: json, no language, prompt or temperature, no granularities', async () => {
    const r = await parse([
      ['file', WAV_FILE],
      ['model', 'whisper-1'],
      ['language', ''],
    ]);
    expect(r.responseFormat).toBe('json');
    expect(r.language).toBeUndefined();
    expect(r.prompt).toBeUndefined();
    expect(r.temperature).toBeUndefined();
    expect(r.timestampGranularities).toEqual([]);
  });

  it('collects timestamp_granularities with or without brackets', async () => {
    const r = await parse([
      ['model', 'whisper-1'],
      ['file', WAV_FILE],
      ['timestamp_granularities', 'segment'],
      ['timestamp_granularities[]', 'word'],
    ]);
    expect(r.timestampGranularities).toEqual(['word', 'segment']);
  });

  it('takes the audio type from the extension, whatever the client declared', async () => {
    const r = await parse([
      ['model', 'whisper-1'],
      ['file', { bytes: MP3, name: 'Interview.MP3', type: 'application/octet-stream' }],
    ]);
    expect(r.file).toEqual({ name: 'Interview.MP3', type: 'audio/mpeg', bytes: MP3 });
  });

  it('accepts every listed extension', async () => {
    for (const ext of AUDIO_EXTENSIONS) {
      const r = await parse([
        ['model', 'whisper-1'],
        ['file', { bytes: MP3, name: `a.${ext}` }],
      ]);
      expect(r.file.type).toMatch(/^audio\//);
    }
  });

  it('takes a file without an extension by its content type', async () => {
    const mp3 = await parse([
      ['model', 'whisper-1'],
      ['file', { bytes: MP3, name: 'recording', type: 'audio/mpeg' }],
    ]);
    expect(mp3.file).toEqual({ name: 'recording', type: 'audio/mpeg', bytes: MP3 });
    const ogg = Buffer.concat([Buffer.from('OggS', 'latin1'), Buffer.alloc(32, 1)]);
    const voice = await parse([
      ['model', 'whisper-1'],
      ['file', { bytes: ogg, name: 'voice-note', type: 'audio/ogg' }],
    ]);
    expect(voice.file.type).toBe('audio/ogg');
  });

  it('refuses a .txt file', async () => {
    const e = await parseError([
      ['model', 'whisper-1'],
      ['file', { bytes: Buffer.from(TEXT), name: 'notes.txt', type: 'text/plain' }],
    ]);
    expect(e.status).toBe(400);
    expect(e.code).toBe('INVALID_INPUT_FIELD');
    expect(e.details).toEqual({ param: 'file' });
    expect(e.message).toBe(
      "Unsupported audio file 'notes.txt' (text/plain): use one of mp3, mp4, mpeg, mpga, m4a, wav, webm, flac, ogg, oga",
    );
  });

  it('refuses a file with neither an audio extension nor an audio type', async () => {
    const e = await parseError([
      ['model', 'whisper-1'],
      ['file', { bytes: MP3, name: 'upload', type: 'application/octet-stream' }],
    ]);
    expect(e.details).toEqual({ param: 'file' });
    expect(e.message).toMatch(
      /^Unsupported audio file 'upload' \(application\/octet-stream\): use one of/,
    );
  });

  it('refuses text bytes named .wav', async () => {
    const e = await parseError([
      ['model', 'whisper-1'],
      ['file', { bytes: Buffer.from(`${TEXT}\r\n\tEnd.\n`), name: 'fake.wav', type: 'audio/wav' }],
    ]);
    expect(e.status).toBe(400);
    expect(e.details).toEqual({ param: 'file' });
    expect(e.message).toBe("The file 'fake.wav' is text, not wav audio");
  });

  it('takes binary bytes without a known signature (the upstream judges them)', async () => {
    const raw = Buffer.from([0x00, 0x00, 0x00, 0x20, 0x01, 0x02, 0xfe, 0x80]);
    const r = await parse([
      ['model', 'whisper-1'],
      ['file', { bytes: raw, name: 'clip.webm' }],
    ]);
    expect(r.file.type).toBe('audio/webm');
  });

  it('refuses an empty file', async () => {
    const e = await parseError([
      ['model', 'whisper-1'],
      ['file', { bytes: Buffer.alloc(0), name: 'empty.wav', type: 'audio/wav' }],
    ]);
    expect(e.details).toEqual({ param: 'file' });
    expect(e.message).toBe("The audio file 'empty.wav' is empty");
  });

  it('refuses a missing model', async () => {
    for (const parts of [
      [['file', WAV_FILE]],
      [
        ['file', WAV_FILE],
        ['model', '  '],
      ],
    ] as [string, Part][][]) {
      const e = await parseError(parts);
      expect(e.code).toBe('MISSING_MODEL');
      expect(e.status).toBe(400);
      expect(e.details).toEqual({ param: 'model' });
    }
  });

  it('refuses a missing file, or a file sent as a text field', async () => {
    for (const parts of [
      [['model', 'whisper-1']],
      [
        ['model', 'whisper-1'],
        ['file', 'clip.wav'],
      ],
    ] as [string, Part][][]) {
      const e = await parseError(parts);
      expect(e.status).toBe(400);
      expect(e.code).toBe('INVALID_INPUT_FIELD');
      expect(e.details).toEqual({ param: 'file' });
      expect(e.message).toMatch(/^Missing 'file'/);
    }
  });

  it('takes a temperature from 0 to 1 and refuses any other', async () => {
    for (const [t, want] of [
      ['0', 0],
      ['1', 1],
      ['0.35', 0.35],
    ] as const) {
      const r = await parse([
        ['model', 'whisper-1'],
        ['file', WAV_FILE],
        ['temperature', t],
      ]);
      expect(r.temperature).toBe(want);
    }
    for (const t of ['1.5', '-0.1', 'hot', 'NaN', 'Infinity']) {
      const e = await parseError([
        ['model', 'whisper-1'],
        ['file', WAV_FILE],
        ['temperature', t],
      ]);
      expect(e.status).toBe(400);
      expect(e.details).toEqual({ param: 'temperature' });
    }
  });

  it('takes the five response formats and refuses others', async () => {
    for (const f of ['json', 'text', 'verbose_json', 'srt', 'vtt']) {
      const r = await parse([
        ['model', 'whisper-1'],
        ['file', WAV_FILE],
        ['response_format', f],
      ]);
      expect(r.responseFormat).toBe(f);
    }
    const e = await parseError([
      ['model', 'whisper-1'],
      ['file', WAV_FILE],
      ['response_format', 'xml'],
    ]);
    expect(e.status).toBe(400);
    expect(e.code).toBe('INVALID_INPUT_FIELD');
    expect(e.details).toEqual({ param: 'response_format' });
  });

  it('refuses malformed multipart with INVALID_MULTIPART', async () => {
    const cases: [Buffer, string][] = [
      [Buffer.from('this is not multipart'), 'multipart/form-data; boundary=----abc123'],
      [Buffer.from('--x\r\nContent-Disposition: form-data\r\n\r\n'), 'multipart/form-data'],
      [Buffer.from('{"model":"whisper-1"}'), 'application/json'],
    ];
    for (const [raw, ct] of cases) {
      const e = await rejection(parseTranscriptionForm(raw, ct));
      expect(e.code).toBe('INVALID_MULTIPART');
      expect(e.status).toBe(400);
      expect(e.message).toMatch(/^Invalid multipart form data: /);
    }
  });
});

describe(wavSeconds.name, () => {
  it('8000 Hz 16-bit mono: N samples are N/8000 seconds', () => {
    expect(wavSeconds(wav(8000))).toBe(1);
    expect(wavSeconds(wav(12000))).toBe(1.5);
    expect(wavSeconds(wav(37200))).toBeCloseTo(4.65, 10);
    expect(wavSeconds(wav(0))).toBe(0);
  });

  it('uses the byte rate (stereo, 16 kHz)', () => {
    expect(wavSeconds(wav(32000, { sampleRate: 16000, channels: 2 }))).toBe(2);
  });

  it('skips other chunks, with their pad byte', () => {
    const list = Buffer.concat([
      Buffer.from('LIST', 'latin1'),
      Buffer.from([5, 0, 0, 0]),
      Buffer.from('INFOx', 'latin1'),
      Buffer.from([0]), // pad to even
    ]);
    expect(wavSeconds(wav(4000, { before: list }))).toBe(0.5);
  });

  it('counts only the bytes present when the data size is larger (a streamed WAV)', () => {
    expect(wavSeconds(wav(4000, { dataSize: 0xffffffff }))).toBe(0.5);
  });

  it('is undefined for anything that is not a WAV', () => {
    expect(wavSeconds(MP3)).toBeUndefined();
    expect(wavSeconds(Buffer.from(TEXT))).toBeUndefined();
    expect(wavSeconds(Buffer.alloc(0))).toBeUndefined();
    expect(wavSeconds(Buffer.from('RIFF\0\0\0\0AVI LIST', 'latin1'))).toBeUndefined();
  });

  it('is undefined for a WAV without a data chunk or a byte rate', () => {
    expect(wavSeconds(wav(8000).subarray(0, 36))).toBeUndefined();
    const noFmt = Buffer.concat([
      Buffer.from('RIFF\x10\0\0\0WAVE', 'latin1'),
      Buffer.from('data\x04\0\0\0', 'latin1'),
      Buffer.alloc(4),
    ]);
    expect(wavSeconds(noFmt)).toBeUndefined();
  });

  it('is undefined (does not throw) for a header cut inside the fmt chunk', () => {
    // 'RIFF' size 'WAVE' 'fmt ' 16, then only 6 of the 16 fmt bytes: the byte rate is missing
    const cut = wav(8000).subarray(0, 26);
    expect(() => wavSeconds(cut)).not.toThrow();
    expect(wavSeconds(cut)).toBeUndefined();
  });

  it('is undefined (does not throw) for a header cut inside the byte rate', () => {
    // 30 bytes: the byte rate field (bytes 28..31) is only half there
    const cut = wav(8000).subarray(0, 30);
    expect(() => wavSeconds(cut)).not.toThrow();
    expect(wavSeconds(cut)).toBeUndefined();
  });
});

describe(assertFormatSupported.name, () => {
  it('OpenAI-compatible providers give every format', () => {
    for (const f of ['json', 'text', 'verbose_json', 'srt', 'vtt'] as const) {
      expect(() => assertFormatSupported('openai', f, 'groq')).not.toThrow();
    }
  });

  it('Deepgram and AssemblyAI give json, text and verbose_json only', () => {
    for (const protocol of ['deepgram', 'assemblyai'] as const) {
      for (const f of ['json', 'text', 'verbose_json'] as const) {
        expect(() => assertFormatSupported(protocol, f, protocol)).not.toThrow();
      }
      for (const f of ['srt', 'vtt'] as const) {
        const e = caught(() => assertFormatSupported(protocol, f, protocol));
        expect(e.status).toBe(400);
        expect(e.details).toEqual({ param: 'response_format' });
        expect(e.message).toBe(
          `response_format '${f}' is not available from provider ${protocol}; use json, verbose_json or text`,
        );
      }
    }
  });
});

describe(openAiTranscriptionBody.name, () => {
  function decoded(body: Buffer, contentType: string): Promise<FormData> {
    return new Response(body, { headers: { 'content-type': contentType } }).formData();
  }

  it('asks a whisper model for verbose_json when the client wants json', async () => {
    for (const model of ['whisper-1', 'whisper-large-v3-turbo', 'distil-Whisper-large-v3-en']) {
      const r = await openAiTranscriptionBody(treq(), model);
      expect(r.upstreamFormat).toBe('verbose_json');
      expect((await decoded(r.body, r.contentType)).get('response_format')).toBe('verbose_json');
    }
  });

  it('keeps the client format for other models and other formats', async () => {
    const gpt = await openAiTranscriptionBody(treq(), 'gpt-4o-transcribe');
    expect(gpt.upstreamFormat).toBe('json');
    for (const f of ['text', 'srt', 'vtt', 'verbose_json'] as const) {
      const r = await openAiTranscriptionBody(treq({ responseFormat: f }), 'whisper-1');
      expect(r.upstreamFormat).toBe(f);
    }
  });

  it('encodes a multipart body that parses back with the file and every field', async () => {
    const r = await openAiTranscriptionBody(
      treq({
        language: 'en',
        prompt: 'Zoë, Łódź',
        temperature: 0,
        responseFormat: 'verbose_json',
        timestampGranularities: ['word', 'segment'],
      }),
      'whisper-1',
    );
    expect(r.contentType).toMatch(/^multipart\/form-data; boundary=/);
    const form = await decoded(r.body, r.contentType);
    const file = form.get('file');
    expect(file).toBeInstanceOf(Blob);
    const f = file as File;
    expect(f.name).toBe('clip.wav');
    expect(f.size).toBe(WAV_1S.length);
    expect(f.type).toBe('audio/wav');
    expect(Buffer.from(await f.arrayBuffer()).equals(WAV_1S)).toBe(true);
    expect(form.get('model')).toBe('whisper-1');
    expect(form.get('response_format')).toBe('verbose_json');
    expect(form.get('language')).toBe('en');
    expect(form.get('prompt')).toBe('Zoë, Łódź');
    expect(form.get('temperature')).toBe('0');
    expect(form.getAll('timestamp_granularities[]')).toEqual(['word', 'segment']);
  });

  it('sends no optional field the client did not give', async () => {
    const r = await openAiTranscriptionBody(treq(), 'gpt-4o-mini-transcribe');
    const form = await decoded(r.body, r.contentType);
    expect([...form.keys()].sort()).toEqual(['file', 'model', 'response_format']);
  });

  it('round-trips through the parser the gateway itself uses', async () => {
    const r = await openAiTranscriptionBody(treq({ language: 'fr' }), 'whisper-1');
    const back = await parseTranscriptionForm(r.body, r.contentType);
    expect(back.model).toBe('whisper-1');
    expect(back.file).toEqual({ name: 'clip.wav', type: 'audio/wav', bytes: WAV_1S });
    expect(back.language).toBe('fr');
    expect(back.responseFormat).toBe('verbose_json');
  });
});

describe(fromOpenAiTranscript.name, () => {
  it('json (whisper-1): the text and the billed duration from usage', () => {
    expect(
      fromOpenAiTranscript(fixture('openai-transcription-json.response.json'), 'openai'),
    ).toEqual({
      text: TEXT,
      language: null,
      duration: 5,
      segments: undefined,
      words: undefined,
      inputTokens: undefined,
      outputTokens: undefined,
    });
  });

  it('json (gpt-4o-transcribe): the text and the token usage, no duration', () => {
    const t = fromOpenAiTranscript(fixture('openai-transcription-gpt-4o.response.json'), 'openai');
    expect(t.text).toBe(TEXT);
    expect(t.duration).toBeNull();
    expect(t.inputTokens).toBe(51);
    expect(t.outputTokens).toBe(19);
  });

  it('verbose_json: duration, language, segments and words', () => {
    const j = fixture('openai-transcription-verbose.response.json');
    const t = fromOpenAiTranscript(j, 'openai');
    expect(t.text).toBe(TEXT);
    expect(t.language).toBe('english');
    // the answer's own duration wins over usage.seconds (rounded up for billing)
    expect(t.duration).toBeCloseTo(4.65, 6);
    expect(t.segments).toEqual(j.segments);
    expect(t.segments).toHaveLength(2);
    expect(t.words).toEqual([
      { word: 'The', start: 0, end: 0.23999999463558197 },
      { word: 'stale', start: 0.23999999463558197, end: 0.6000000238418579 },
      { word: 'smell', start: 0.6000000238418579, end: 0.9200000166893005 },
    ]);
  });

  it('ignores usage seconds that are not of type duration', () => {
    const t = fromOpenAiTranscript({ text: 'x', usage: { type: 'tokens', seconds: 3 } }, 'groq');
    expect(t.duration).toBeNull();
  });

  it.each([
    ['not an object', 'hello'],
    ['an array', [{ text: 'x' }]],
    [
      'an error body',
      { error: { message: 'Invalid file format.', type: 'invalid_request_error' } },
    ],
    ['text that is not a string', { text: null }],
  ])('a 502 for an answer that is %s', (_what, j) => {
    const e = caught(() => fromOpenAiTranscript(j, 'openai'));
    expect(e.code).toBe('UPSTREAM_INVALID_RESPONSE');
    expect(e.status).toBe(502);
    expect(e.message).toBe('Upstream openai sent a transcription answer without text');
  });
});

describe(deepgramQuery.name, () => {
  it('the model, smart formatting, and language detection without a language', () => {
    const q = new URLSearchParams(deepgramQuery(treq(), 'nova-3'));
    expect(Object.fromEntries(q)).toEqual({
      model: 'nova-3',
      smart_format: 'true',
      punctuate: 'true',
      detect_language: 'true',
    });
  });

  it('the language instead of detection when the client gives one', () => {
    const q = new URLSearchParams(deepgramQuery(treq({ language: 'fr' }), 'nova-2'));
    expect(q.get('language')).toBe('fr');
    expect(q.has('detect_language')).toBe(false);
  });

  it('the prompt as a keyterm, at most 200 characters, URL-encoded', () => {
    const raw = deepgramQuery(treq({ prompt: 'Zoë & Łódź' }), 'nova-3');
    expect(raw).toContain('keyterm=Zo%C3%AB+%26+%C5%81%C3%B3d%C5%BA');
    expect(new URLSearchParams(raw).get('keyterm')).toBe('Zoë & Łódź');
    const long = new URLSearchParams(deepgramQuery(treq({ prompt: 'k'.repeat(300) }), 'nova-3'));
    expect(long.get('keyterm')).toBe('k'.repeat(200));
  });
});

/** The word timings (seconds) both the Deepgram and the AssemblyAI fixture describe. */
const BEER_WORDS = [
  { word: 'The', start: 0.08, end: 0.24 },
  { word: 'stale', start: 0.24, end: 0.56 },
  { word: 'smell', start: 0.56, end: 0.88 },
  { word: 'of', start: 0.88, end: 1.04 },
  { word: 'old', start: 1.04, end: 1.28 },
  { word: 'beer', start: 1.28, end: 1.6 },
  { word: 'lingers.', start: 1.6, end: 2.16 },
];

describe(fromDeepgram.name, () => {
  it('the transcript, detected language, duration, one segment and the punctuated words', () => {
    const t = fromDeepgram(fixture('deepgram-listen.response.json'), 'deepgram');
    expect(t).toEqual({
      text: 'The stale smell of old beer lingers.',
      language: 'en',
      duration: 4.65,
      segments: [{ id: 0, start: 0, end: 4.65, text: 'The stale smell of old beer lingers.' }],
      words: BEER_WORDS,
    });
  });

  it('the raw word without punctuated_word, no language without detection', () => {
    const t = fromDeepgram(
      {
        metadata: {},
        results: {
          channels: [
            { alternatives: [{ transcript: 'hi', words: [{ word: 'hi', start: 0.1, end: 0.3 }] }] },
          ],
        },
      },
      'deepgram',
    );
    expect(t.language).toBeNull();
    expect(t.duration).toBeNull();
    expect(t.segments).toEqual([{ id: 0, start: 0, end: 0, text: 'hi' }]);
    expect(t.words).toEqual([{ word: 'hi', start: 0.1, end: 0.3 }]);
  });

  it('an empty transcript (silence) is a transcript', () => {
    const j = fixture('deepgram-listen.response.json');
    const results = j.results as { channels: { alternatives: Record<string, unknown>[] }[] };
    results.channels[0].alternatives[0] = { transcript: '', confidence: 0, words: [] };
    const t = fromDeepgram(j, 'deepgram');
    expect(t.text).toBe('');
    expect(t.words).toEqual([]);
  });

  it.each([
    ['not an object', null],
    ['an error body', { err_code: 'Bad Request', err_msg: 'corrupt or unsupported data' }],
    ['no channels', { metadata: {}, results: { channels: [] } }],
    ['no alternatives', { results: { channels: [{ alternatives: [] }] } }],
    ['no transcript', { results: { channels: [{ alternatives: [{ words: [] }] }] } }],
  ])('a 502 for an answer with %s', (_what, j) => {
    const e = caught(() => fromDeepgram(j, 'deepgram'));
    expect(e.code).toBe('UPSTREAM_INVALID_RESPONSE');
    expect(e.status).toBe(502);
    expect(e.message).toBe('Upstream deepgram sent a Deepgram answer without a transcript');
  });
});

describe(assemblyAiSubmit.name, () => {
  const URL = 'https://cdn.assemblyai.com/upload/0f1e2d3c-4b5a-6978-8a9b-0c1d2e3f4a5b';

  it('detects the language when the client gives none', () => {
    expect(assemblyAiSubmit(treq(), 'universal', URL)).toEqual({
      audio_url: URL,
      speech_model: 'universal',
      language_detection: true,
    });
  });

  it('passes the client language as language_code', () => {
    expect(assemblyAiSubmit(treq({ language: 'es' }), 'slam-1', URL)).toEqual({
      audio_url: URL,
      speech_model: 'slam-1',
      language_code: 'es',
    });
  });
});

describe(fromAssemblyAi.name, () => {
  it('a completed transcript, with word times from milliseconds to seconds', () => {
    const t = fromAssemblyAi(
      fixture('assemblyai-transcript-completed.response.json'),
      'assemblyai',
    );
    expect(t).toEqual({
      text: 'The stale smell of old beer lingers.',
      language: 'en',
      duration: 5,
      segments: [{ id: 0, start: 0, end: 5, text: 'The stale smell of old beer lingers.' }],
      words: BEER_WORDS,
    });
  });

  it('no words and no duration when AssemblyAI gives none', () => {
    const t = fromAssemblyAi({ status: 'completed', text: '', words: null }, 'assemblyai');
    expect(t).toEqual({
      text: '',
      language: null,
      duration: null,
      segments: [{ id: 0, start: 0, end: 0, text: '' }],
      words: undefined,
    });
  });

  it('a 502 for an error transcript (no text)', () => {
    const e = caught(() =>
      fromAssemblyAi(fixture('assemblyai-transcript-error.response.json'), 'assemblyai'),
    );
    expect(e.code).toBe('UPSTREAM_INVALID_RESPONSE');
    expect(e.status).toBe(502);
    expect(e.message).toBe(
      'Upstream assemblyai sent a completed AssemblyAI transcript without text',
    );
  });
});

describe(transcriptionAnswer.name, () => {
  const t: Transcript = {
    text: TEXT,
    language: 'en',
    duration: 4.65,
    segments: [
      { id: 0, start: 0, end: 2.24, text: ' The stale smell of old beer lingers.' },
      { id: 1, start: 2.24, end: 4.4, text: ' It takes heat to bring out the odor.' },
    ],
    words: [{ word: 'The', start: 0, end: 0.24 }],
  };

  it('json: {text, task, language, duration}, nothing else', () => {
    const a = transcriptionAnswer(t, treq());
    expect(a.contentType).toBe('application/json');
    expect(JSON.parse(a.body as string)).toEqual({
      text: TEXT,
      task: 'transcribe',
      language: 'en',
      duration: 4.65,
    });
    expect(a.usage).toEqual({ inputTokens: 0, outputTokens: 0, images: 0, audioSeconds: 4.65 });
  });

  it('text: the plain transcript with a trailing newline', () => {
    const a = transcriptionAnswer(t, treq({ responseFormat: 'text' }));
    expect(a.body).toBe(`${TEXT}\n`);
    expect(a.contentType).toBe('text/plain; charset=utf-8');
    expect(a.usage.audioSeconds).toBe(4.65);
  });

  it('verbose_json: the segments and the words', () => {
    const a = transcriptionAnswer(t, treq({ responseFormat: 'verbose_json' }));
    expect(JSON.parse(a.body as string)).toEqual({
      text: TEXT,
      task: 'transcribe',
      language: 'en',
      duration: 4.65,
      segments: t.segments,
      words: t.words,
    });
  });

  it('verbose_json: one whole segment when the provider gave none, and no words key', () => {
    const a = transcriptionAnswer(
      { text: 'hi', language: null, duration: 1.5 },
      treq({ responseFormat: 'verbose_json' }),
    );
    expect(JSON.parse(a.body as string)).toEqual({
      text: 'hi',
      task: 'transcribe',
      language: null,
      duration: 1.5,
      segments: [{ id: 0, start: 0, end: 1.5, text: 'hi' }],
    });
  });

  it('the client language when the provider names none', () => {
    const a = transcriptionAnswer({ ...t, language: null }, treq({ language: 'de' }));
    expect(JSON.parse(a.body as string).language).toBe('de');
  });

  it('the duration from the WAV header when the provider gives none', () => {
    const a = transcriptionAnswer(
      { text: 'hi', language: null, duration: null },
      treq({ file: { name: 'c.wav', type: 'audio/wav', bytes: wav(20000) } }),
    );
    expect(JSON.parse(a.body as string).duration).toBe(2.5);
    expect(a.usage.audioSeconds).toBe(2.5);
  });

  it('null duration and 0 billed seconds when nothing tells the length', () => {
    const a = transcriptionAnswer(
      { text: 'hi', language: null, duration: null },
      treq({ file: { name: 'c.mp3', type: 'audio/mpeg', bytes: MP3 } }),
    );
    expect(JSON.parse(a.body as string).duration).toBeNull();
    expect(a.usage.audioSeconds).toBe(0);
  });

  it('json from a whisper verbose_json answer', () => {
    const tr = fromOpenAiTranscript(
      fixture('openai-transcription-verbose.response.json'),
      'openai',
    );
    const a = transcriptionAnswer(tr, treq());
    const body = JSON.parse(a.body as string);
    expect(Object.keys(body).sort()).toEqual(['duration', 'language', 'task', 'text']);
    expect(body.language).toBe('english');
    expect(a.usage.audioSeconds).toBeCloseTo(4.65, 6);
  });

  it('the token usage of a gpt-4o-transcribe answer, seconds from the WAV', () => {
    const tr = fromOpenAiTranscript(fixture('openai-transcription-gpt-4o.response.json'), 'openai');
    const a = transcriptionAnswer(tr, treq());
    expect(a.usage).toEqual({ inputTokens: 51, outputTokens: 19, images: 0, audioSeconds: 1 });
  });

  it('verbose_json from Deepgram and from AssemblyAI', () => {
    const dg = transcriptionAnswer(
      fromDeepgram(fixture('deepgram-listen.response.json'), 'deepgram'),
      treq({ responseFormat: 'verbose_json' }),
    );
    const dgBody = JSON.parse(dg.body as string);
    expect(dgBody.segments).toHaveLength(1);
    expect(dgBody.words[6]).toEqual({ word: 'lingers.', start: 1.6, end: 2.16 });
    expect(dg.usage.audioSeconds).toBe(4.65);

    const aai = transcriptionAnswer(
      fromAssemblyAi(fixture('assemblyai-transcript-completed.response.json'), 'assemblyai'),
      treq({ responseFormat: 'verbose_json' }),
    );
    const aaiBody = JSON.parse(aai.body as string);
    expect(aaiBody.language).toBe('en');
    expect(aaiBody.duration).toBe(5);
    expect(aaiBody.words[0]).toEqual({ word: 'The', start: 0.08, end: 0.24 });
    expect(aai.usage.audioSeconds).toBe(5);
  });
});
