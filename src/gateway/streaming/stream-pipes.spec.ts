import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { StreamEvent } from '@/gateway/dialects/canonical';
import { GeminiStreamDecoder } from '@/gateway/dialects/gemini/stream';
import {
  AnthropicStreamDecoder,
  AnthropicStreamEncoder,
} from '@/gateway/dialects/anthropic/stream';
import { OpenAiChatStreamDecoder } from '@/gateway/dialects/openai-chat/stream';
import { OpenAiPassPipe, TranslatePipe, WatchPassPipe } from './stream-pipes';

const fixture = (dialect: string, file: string): Buffer =>
  readFileSync(join(__dirname, '../../../test/fixtures/dialects', dialect, file));

function decodeAll(text: string): StreamEvent[] {
  const d = new AnthropicStreamDecoder();
  return [...d.push(Buffer.from(text)), ...d.end()];
}

describe(TranslatePipe.name, () => {
  it('does not pass a Gemini thought signature on to an Anthropic client', () => {
    const pipe = new TranslatePipe(new GeminiStreamDecoder(), new AnthropicStreamEncoder());
    const out =
      (pipe.push(fixture('gemini', 'thinking.stream.sse'))?.toString() ?? '') +
      (pipe.finish().tail?.toString() ?? '');
    const events = decodeAll(out);
    expect(events.some((e) => e.type === 'thinking_signature' && e.signature !== '')).toBe(false);
    expect(events.some((e) => e.type === 'text_delta')).toBe(true);
    expect(pipe.finish().outcome.completed).toBe(true);
  });

  it('ends an upstream stream cut short with the client dialect error and reports it incomplete', () => {
    const bytes = fixture('openai-chat', 'text.stream.sse');
    const pipe = new TranslatePipe(new OpenAiChatStreamDecoder(), new AnthropicStreamEncoder());
    pipe.push(bytes.subarray(0, Math.floor(bytes.length / 2)));
    const { tail, outcome } = pipe.finish();
    expect(outcome).toMatchObject({ completed: false, errorCode: 'UPSTREAM_STREAM_ERROR' });
    expect(tail?.toString()).toContain('event: error');
  });
});

describe(WatchPassPipe.name, () => {
  it('forwards the bytes untouched and reads usage and completion on the side', () => {
    const bytes = fixture('anthropic', 'parallel-tool-calls.stream.sse');
    const pipe = new WatchPassPipe(new AnthropicStreamDecoder(), new AnthropicStreamEncoder());
    expect(pipe.push(bytes)?.equals(bytes)).toBe(true);
    const { tail, outcome } = pipe.finish();
    expect(tail).toBeNull();
    expect(outcome.completed).toBe(true);
    expect(outcome.usage.outputTokens).toBeGreaterThan(0);
  });
});

describe(OpenAiPassPipe.name, () => {
  it('adds [DONE] when the upstream finished without it, and an error event when it did not finish', () => {
    const done = new OpenAiPassPipe(false);
    done.push(Buffer.from('data: {"choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}\n\n'));
    expect(done.finish().tail?.toString()).toBe('data: [DONE]\n\n');
    const cut = new OpenAiPassPipe(false);
    cut.push(Buffer.from('data: {"choices":[{"index":0,"delta":{"content":"Hi"}}]}\n\n'));
    const r = cut.finish();
    expect(r.outcome.completed).toBe(false);
    expect(r.tail?.toString()).toMatch(/^data: \{"error"/);
  });
});
