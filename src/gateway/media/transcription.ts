import { AppError } from '@/common/errors/app-error';
import type { TranscriptionProtocol } from '@/providers/registry';
import type { MediaAnswer, MediaUsage } from './operation';
import { invalidUpstream, isRecord, oneOf, requireModel } from './validate';

/** The audio formats the endpoint takes (OpenAI's list; the issue's mp3 wav m4a flac ogg webm). */
export const AUDIO_EXTENSIONS = [
  'mp3',
  'mp4',
  'mpeg',
  'mpga',
  'm4a',
  'wav',
  'webm',
  'flac',
  'ogg',
  'oga',
];
const MIME_BY_EXT: Record<string, string> = {
  mp3: 'audio/mpeg',
  mpga: 'audio/mpeg',
  mpeg: 'audio/mpeg',
  mp4: 'audio/mp4',
  m4a: 'audio/mp4',
  wav: 'audio/wav',
  webm: 'audio/webm',
  flac: 'audio/flac',
  ogg: 'audio/ogg',
  oga: 'audio/ogg',
};

export const RESPONSE_FORMATS = ['json', 'text', 'verbose_json', 'srt', 'vtt'] as const;
export type TranscriptionFormat = (typeof RESPONSE_FORMATS)[number];

/** `POST /v1/audio/transcriptions` (multipart), validated. */
export interface TranscriptionRequest {
  model: string;
  file: { name: string; type: string; bytes: Buffer };
  language?: string;
  prompt?: string;
  responseFormat: TranscriptionFormat;
  temperature?: number;
  timestampGranularities: string[];
}

function invalid(message: string, param: string): AppError {
  return AppError.invalid(message, { param }, 'INVALID_INPUT_FIELD');
}

/** True when the bytes start like a known audio container. */
function knownAudioSignature(b: Buffer): boolean {
  const ascii = (start: number, s: string): boolean =>
    b.length >= start + s.length && b.toString('latin1', start, start + s.length) === s;
  return (
    (ascii(0, 'RIFF') && ascii(8, 'WAVE')) ||
    ascii(0, 'ID3') ||
    (b.length > 1 && b[0] === 0xff && (b[1] & 0xe0) === 0xe0) || // MPEG audio frame sync
    ascii(0, 'fLaC') ||
    ascii(0, 'OggS') ||
    (b.length > 3 && b[0] === 0x1a && b[1] === 0x45 && b[2] === 0xdf && b[3] === 0xa3) || // WebM
    ascii(4, 'ftyp') // MP4 / M4A
  );
}

/** Plain text (a misnamed document): every byte of the head printable ASCII or whitespace. */
function looksLikeText(b: Buffer): boolean {
  const head = b.subarray(0, 512);
  for (const c of head) {
    if (!(c === 9 || c === 10 || c === 13 || (c >= 32 && c < 127))) {
      return false;
    }
  }
  return true;
}

function extensionOf(name: string): string {
  const dot = name.lastIndexOf('.');
  return dot < 0 ? '' : name.slice(dot + 1).toLowerCase();
}

/**
 * Reads the multipart body. The file must be one of AUDIO_EXTENSIONS (by name, else by content
 * type), not empty, and not plain text; `model` is required. Anything wrong is a 400 naming the
 * field, before any upstream is called.
 */
export async function parseTranscriptionForm(
  raw: Buffer,
  contentType: string,
): Promise<TranscriptionRequest> {
  let form: FormData;
  try {
    form = await new Response(raw, { headers: { 'content-type': contentType } }).formData();
  } catch (e) {
    throw AppError.invalid(
      `Invalid multipart form data: ${(e as Error).message}`,
      {},
      'INVALID_MULTIPART',
    );
  }
  const model = requireModel(form.get('model'));
  const file = form.get('file');
  if (!file || typeof file === 'string') {
    throw invalid("Missing 'file': send the audio as a multipart file field named 'file'", 'file');
  }
  const name = file.name || 'audio';
  let ext = extensionOf(name);
  if (!AUDIO_EXTENSIONS.includes(ext)) {
    // `audio/webm;codecs=opus` (a browser MediaRecorder blob) is audio/webm
    const mime = file.type.split(';')[0].trim().toLowerCase();
    const byType = Object.entries(MIME_BY_EXT).find(([, m]) => m === mime)?.[0];
    if (!byType) {
      throw invalid(
        `Unsupported audio file '${name}'${file.type ? ` (${file.type})` : ''}: use one of ${AUDIO_EXTENSIONS.join(', ')}`,
        'file',
      );
    }
    ext = byType;
  }
  const bytes = Buffer.from(await file.arrayBuffer());
  if (bytes.length === 0) {
    throw invalid(`The audio file '${name}' is empty`, 'file');
  }
  if (!knownAudioSignature(bytes) && looksLikeText(bytes)) {
    throw invalid(`The file '${name}' is text, not ${ext} audio`, 'file');
  }
  const text = (k: string): string | undefined => {
    const v = form.get(k);
    return typeof v === 'string' && v ? v : undefined;
  };
  const temp = text('temperature');
  const temperature = temp === undefined ? undefined : Number(temp);
  if (
    temperature !== undefined &&
    (!Number.isFinite(temperature) || temperature < 0 || temperature > 1)
  ) {
    throw invalid("Invalid 'temperature': a number between 0 and 1", 'temperature');
  }
  return {
    model,
    file: { name, type: MIME_BY_EXT[ext] ?? file.type, bytes },
    language: text('language'),
    prompt: text('prompt'),
    responseFormat: oneOf(text('response_format'), 'response_format', RESPONSE_FORMATS) ?? 'json',
    temperature,
    timestampGranularities: form
      .getAll('timestamp_granularities[]')
      .concat(form.getAll('timestamp_granularities'))
      .filter((v): v is string => typeof v === 'string'),
  };
}

/** Seconds of a RIFF/WAVE file from its header (billing fallback when the upstream says none). */
export function wavSeconds(b: Buffer): number | undefined {
  if (
    b.length < 12 ||
    b.toString('latin1', 0, 4) !== 'RIFF' ||
    b.toString('latin1', 8, 12) !== 'WAVE'
  ) {
    return undefined;
  }
  let byteRate = 0;
  for (let off = 12; off + 8 <= b.length;) {
    const id = b.toString('latin1', off, off + 4);
    const size = b.readUInt32LE(off + 4);
    if (id === 'fmt ' && off + 20 <= b.length) {
      byteRate = b.readUInt32LE(off + 8 + 8);
    } else if (id === 'data') {
      const bytes = Math.min(size, b.length - off - 8);
      return byteRate > 0 ? bytes / byteRate : undefined;
    }
    off += 8 + size + (size % 2);
  }
  return undefined;
}

/** What any provider's transcript comes down to. */
export interface Transcript {
  text: string;
  language: string | null;
  duration: number | null;
  segments?: { id: number; start: number; end: number; text: string }[];
  words?: { word: string; start: number; end: number }[];
  inputTokens?: number;
  outputTokens?: number;
}

/** Whether the provider can give the client this format (subtitles: OpenAI-compatible only). */
export function assertFormatSupported(
  protocol: TranscriptionProtocol,
  format: TranscriptionFormat,
  provider: string,
): void {
  if (protocol !== 'openai' && (format === 'srt' || format === 'vtt')) {
    throw invalid(
      `response_format '${format}' is not available from provider ${provider}; use json, verbose_json or text`,
      'response_format',
    );
  }
}

/**
 * The OpenAI-compatible upstream request. A whisper model is asked for `verbose_json` when the
 * client wants JSON, so the answer can carry the language and the duration (also what is billed).
 */
export async function openAiTranscriptionBody(
  req: TranscriptionRequest,
  upstreamModel: string,
): Promise<{ body: Buffer; contentType: string; upstreamFormat: TranscriptionFormat }> {
  const upstreamFormat: TranscriptionFormat =
    req.responseFormat === 'json' && /whisper/i.test(upstreamModel)
      ? 'verbose_json'
      : req.responseFormat;
  const form = new FormData();
  form.append('file', new Blob([req.file.bytes], { type: req.file.type }), req.file.name);
  form.append('model', upstreamModel);
  form.append('response_format', upstreamFormat);
  if (req.language) {
    form.append('language', req.language);
  }
  if (req.prompt) {
    form.append('prompt', req.prompt);
  }
  if (req.temperature !== undefined) {
    form.append('temperature', String(req.temperature));
  }
  for (const g of req.timestampGranularities) {
    form.append('timestamp_granularities[]', g);
  }
  const encoded = new Response(form);
  return {
    body: Buffer.from(await encoded.arrayBuffer()),
    contentType: encoded.headers.get('content-type') ?? 'multipart/form-data',
    upstreamFormat,
  };
}

const num = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null);
const str = (v: unknown): string | null => (typeof v === 'string' ? v : null);

/** An OpenAI-compatible JSON answer (`json` or `verbose_json`). */
export function fromOpenAiTranscript(j: unknown, provider: string): Transcript {
  if (!isRecord(j) || typeof j.text !== 'string') {
    throw invalidUpstream(provider, 'a transcription answer without text');
  }
  const usage = isRecord(j.usage) ? j.usage : {};
  return {
    text: j.text,
    language: str(j.language),
    duration: num(j.duration) ?? (usage.type === 'duration' ? num(usage.seconds) : null),
    segments: Array.isArray(j.segments) ? (j.segments as Transcript['segments']) : undefined,
    words: Array.isArray(j.words) ? (j.words as Transcript['words']) : undefined,
    inputTokens: num(usage.input_tokens) ?? undefined,
    outputTokens: num(usage.output_tokens) ?? undefined,
  };
}

/** Deepgram's query string for a pre-recorded transcription. */
export function deepgramQuery(req: TranscriptionRequest, upstreamModel: string): string {
  const q = new URLSearchParams({ model: upstreamModel, smart_format: 'true', punctuate: 'true' });
  if (req.language) {
    q.set('language', req.language);
  } else {
    q.set('detect_language', 'true');
  }
  if (req.prompt) {
    // Deepgram's closest equivalent of a prompt: terms to boost (nova-3)
    q.set('keyterm', req.prompt.slice(0, 200));
  }
  return q.toString();
}

export function fromDeepgram(j: unknown, provider: string): Transcript {
  const channel =
    isRecord(j) && isRecord(j.results) && Array.isArray(j.results.channels)
      ? (j.results.channels[0] as unknown)
      : undefined;
  const alt =
    isRecord(channel) && Array.isArray(channel.alternatives)
      ? (channel.alternatives[0] as unknown)
      : undefined;
  if (!isRecord(j) || !isRecord(channel) || !isRecord(alt) || typeof alt.transcript !== 'string') {
    throw invalidUpstream(provider, 'a Deepgram answer without a transcript');
  }
  const meta = isRecord(j.metadata) ? j.metadata : {};
  const duration = num(meta.duration);
  return {
    text: alt.transcript,
    language: str(channel.detected_language),
    duration,
    segments: [{ id: 0, start: 0, end: duration ?? 0, text: alt.transcript }],
    words: Array.isArray(alt.words)
      ? (alt.words as unknown[]).filter(isRecord).map((w) => ({
          word: str(w.punctuated_word) ?? str(w.word) ?? '',
          start: num(w.start) ?? 0,
          end: num(w.end) ?? 0,
        }))
      : undefined,
  };
}

/** AssemblyAI's transcript submission (after the upload). */
export function assemblyAiSubmit(
  req: TranscriptionRequest,
  upstreamModel: string,
  audioUrl: string,
): Record<string, unknown> {
  return {
    audio_url: audioUrl,
    speech_model: upstreamModel,
    ...(req.language ? { language_code: req.language } : { language_detection: true }),
  };
}

/** A finished AssemblyAI transcript (status `completed`). */
export function fromAssemblyAi(j: Record<string, unknown>, provider: string): Transcript {
  if (typeof j.text !== 'string') {
    throw invalidUpstream(provider, 'a completed AssemblyAI transcript without text');
  }
  const duration = num(j.audio_duration);
  return {
    text: j.text,
    language: str(j.language_code),
    duration,
    segments: [{ id: 0, start: 0, end: duration ?? 0, text: j.text }],
    words: Array.isArray(j.words)
      ? (j.words as unknown[]).filter(isRecord).map((w) => ({
          word: str(w.text) ?? '',
          // AssemblyAI counts milliseconds
          start: (num(w.start) ?? 0) / 1000,
          end: (num(w.end) ?? 0) / 1000,
        }))
      : undefined,
  };
}

/** What a transcription is billed: the upstream's duration, else the WAV header's, else 0. */
export function transcriptionUsage(
  t: Pick<Transcript, 'inputTokens' | 'outputTokens' | 'duration'>,
  req: TranscriptionRequest,
  duration: number | null = t.duration ?? wavSeconds(req.file.bytes) ?? null,
): MediaUsage {
  return {
    inputTokens: t.inputTokens ?? 0,
    outputTokens: t.outputTokens ?? 0,
    images: 0,
    audioSeconds: duration ?? 0,
  };
}

/**
 * The client's answer: `json` → `{text, task, language, duration}` (the seed's shape), `text` →
 * the plain transcript, `verbose_json` → the same plus segments and words. Audio seconds (what is
 * billed) come from the upstream, else from the WAV header, else 0.
 */
export function transcriptionAnswer(t: Transcript, req: TranscriptionRequest): MediaAnswer {
  const duration = t.duration ?? wavSeconds(req.file.bytes) ?? null;
  const usage = transcriptionUsage(t, req, duration);
  const language = t.language ?? req.language ?? null;
  if (req.responseFormat === 'text') {
    return { body: `${t.text}\n`, contentType: 'text/plain; charset=utf-8', usage };
  }
  const body: Record<string, unknown> = { text: t.text, task: 'transcribe', language, duration };
  if (req.responseFormat === 'verbose_json') {
    body.segments = t.segments ?? [{ id: 0, start: 0, end: duration ?? 0, text: t.text }];
    if (t.words) {
      body.words = t.words;
    }
  }
  return { body: JSON.stringify(body), contentType: 'application/json', usage };
}
