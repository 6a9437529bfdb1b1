import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createOpenAiSseTap, extractUsage, type TapState } from './openai-sse-tap';

/** A recorded OpenAI stream (include_usage on): role delta, unicode content, a tool call, finish, usage, [DONE]. */
const FIXTURE = readFileSync(join(__dirname, '__fixtures__', 'openai-chat-stream.sse'));
const FIXTURE_EVENTS = FIXTURE.toString('utf8')
  .split('\n\n')
  .filter((e) => e)
  .map((e) => `${e}\n\n`);
const USAGE_ONLY_EVENT = FIXTURE_EVENTS.find((e) => e.includes('"choices":[]'))!;
const FIXTURE_USAGE = {
  prompt_tokens: 48,
  completion_tokens: 23,
  total_tokens: 71,
  prompt_tokens_details: { cached_tokens: 0, audio_tokens: 0 },
  completion_tokens_details: {
    reasoning_tokens: 0,
    audio_tokens: 0,
    accepted_prediction_tokens: 0,
    rejected_prediction_tokens: 0,
  },
};

interface Run {
  out: Buffer;
  state: TapState;
}

/** Feeds `chunks` through a fresh tap and collects everything it emits. */
async function run(chunks: readonly (Buffer | string)[], dropUsageOnlyChunk = false): Promise<Run> {
  const state: TapState = { sawDone: false, sawFinish: false };
  const tap = createOpenAiSseTap(state, dropUsageOnlyChunk);
  const out: Buffer[] = [];
  const finished = new Promise<void>((resolve, reject) => {
    tap.on('data', (b: Buffer) => out.push(b));
    tap.on('end', resolve);
    tap.on('error', reject);
  });
  for (const c of chunks) {
    tap.write(typeof c === 'string' ? Buffer.from(c, 'utf8') : c);
  }
  tap.end();
  await finished;
  return { out: Buffer.concat(out), state: { ...state } };
}

const sse = (data: unknown): string => `data: ${JSON.stringify(data)}\n\n`;
const delta = (content: string, finish: string | null = null): string =>
  sse({ choices: [{ index: 0, delta: { content }, finish_reason: finish }] });

/** mulberry32: a small seeded PRNG, so every run splits the same way. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Cuts `buf` at random positions; chunk sizes lean small so 1-byte chunks are common. */
function randomSplit(buf: Buffer, rand: () => number): Buffer[] {
  const chunks: Buffer[] = [];
  const maxChunk = 1 + Math.floor(rand() * 64);
  let at = 0;
  while (at < buf.length) {
    const size = rand() < 0.3 ? 1 : 1 + Math.floor(rand() * maxChunk);
    chunks.push(buf.subarray(at, at + size));
    at += size;
  }
  return chunks;
}

describe(createOpenAiSseTap.name, () => {
  describe('forwarding', () => {
    it('forwards a recorded stream byte for byte', async () => {
      const { out } = await run([FIXTURE]);
      expect(out.equals(FIXTURE)).toBe(true);
    });

    it('forwards each complete event as soon as its blank line arrives', async () => {
      const state: TapState = { sawDone: false, sawFinish: false };
      const tap = createOpenAiSseTap(state, false);
      const seen: string[] = [];
      tap.on('data', (b: Buffer) => seen.push(b.toString('utf8')));
      tap.write(Buffer.from(delta('a') + 'data: {"choices":[{"index":0,"delta":{"con'));
      await new Promise((r) => setImmediate(r));
      expect(seen).toEqual([delta('a')]);
      tap.write(Buffer.from('tent":"b"},"finish_reason":null}]}\n\n'));
      await new Promise((r) => setImmediate(r));
      expect(seen.join('')).toBe(delta('a') + delta('b'));
      tap.end();
    });

    it('forwards a stream separated by \\r\\n\\r\\n byte for byte and still reads it', async () => {
      const crlf = Buffer.from(FIXTURE.toString('utf8').replace(/\n\n/g, '\r\n\r\n'), 'utf8');
      const { out, state } = await run([crlf]);
      expect(out.equals(crlf)).toBe(true);
      expect(state).toEqual({ sawDone: true, sawFinish: true, usage: FIXTURE_USAGE });
    });

    it('keeps a multi-byte character intact when a chunk boundary splits it', async () => {
      const event = Buffer.from(delta('hi 🧑‍💻 ok'), 'utf8');
      const emojiAt = event.indexOf(Buffer.from('🧑', 'utf8'));
      const chunks = [
        event.subarray(0, emojiAt + 1),
        event.subarray(emojiAt + 1, emojiAt + 3),
        event.subarray(emojiAt + 3),
      ];
      const { out } = await run(chunks);
      expect(out.equals(event)).toBe(true);
      expect(out.toString('utf8')).toContain('🧑‍💻');
      expect(out.toString('utf8')).not.toContain('\uFFFD');
    });

    it('keeps a multi-byte character intact in an event that is parsed for usage', async () => {
      const event = Buffer.from(
        sse({ choices: [{ index: 0, delta: { content: '€✓😀' } }], usage: { prompt_tokens: 1 } }),
      );
      const chunks = Array.from(event, (_b, i) => event.subarray(i, i + 1));
      const { out, state } = await run(chunks);
      expect(out.equals(event)).toBe(true);
      expect(state.usage).toEqual({ prompt_tokens: 1 });
    });

    it('forwards a final event that has no trailing blank line, completed with one', async () => {
      const { out, state } = await run([delta('x', 'stop'), 'data: [DONE]']);
      expect(out.toString('utf8')).toBe(`${delta('x', 'stop')}data: [DONE]\n\n`);
      expect(state.sawDone).toBe(true);
    });

    it('reads usage from a final event that has no trailing blank line', async () => {
      const { out, state } = await run([
        `data: ${JSON.stringify({ choices: [], usage: { prompt_tokens: 3 } })}`,
      ]);
      expect(state.usage).toEqual({ prompt_tokens: 3 });
      expect(out.toString('utf8')).toContain('"prompt_tokens":3');
    });

    it('forwards nothing for a whitespace-only tail', async () => {
      const { out } = await run([delta('x'), '\n']);
      expect(out.toString('utf8')).toBe(delta('x'));
    });

    it('forwards SSE comments and non-JSON events untouched', async () => {
      const input = `: keep-alive\n\ndata: not json but mentions "error"\n\n${delta('y')}`;
      const { out, state } = await run([input]);
      expect(out.toString('utf8')).toBe(input);
      expect(state.upstreamError).toBeUndefined();
    });

    it('never throws on garbage input', async () => {
      const rand = prng(7);
      const garbage = Buffer.from(Array.from({ length: 4096 }, () => Math.floor(rand() * 256)));
      await expect(run(randomSplit(garbage, rand))).resolves.toBeDefined();
    });
  });

  describe('usage', () => {
    it('reads usage from the usage chunk and forwards it when not asked to drop it', async () => {
      const { out, state } = await run([FIXTURE], false);
      expect(state.usage).toEqual(FIXTURE_USAGE);
      expect(out.toString('utf8')).toContain(USAGE_ONLY_EVENT);
    });

    it('drops only the usage-only chunk when asked to', async () => {
      const { out, state } = await run([FIXTURE], true);
      expect(state.usage).toEqual(FIXTURE_USAGE);
      expect(out.toString('utf8')).toBe(FIXTURE.toString('utf8').replace(USAGE_ONLY_EVENT, ''));
    });

    it('keeps a chunk that carries usage alongside choices even when asked to drop', async () => {
      const event = sse({
        choices: [{ index: 0, delta: {}, finish_reason: 'stop' }],
        usage: { prompt_tokens: 5, completion_tokens: 2 },
      });
      const { out, state } = await run([event], true);
      expect(out.toString('utf8')).toBe(event);
      expect(state.usage).toEqual({ prompt_tokens: 5, completion_tokens: 2 });
    });

    it("reads Groq's x_groq.usage", async () => {
      const event = sse({
        choices: [{ index: 0, delta: {}, finish_reason: 'stop' }],
        x_groq: { id: 'req_1', usage: { prompt_tokens: 9, completion_tokens: 4 } },
      });
      const { out, state } = await run([event, 'data: [DONE]\n\n'], true);
      expect(state.usage).toEqual({ prompt_tokens: 9, completion_tokens: 4 });
      expect(out.toString('utf8')).toBe(`${event}data: [DONE]\n\n`);
    });

    it('ignores "usage": null', async () => {
      const { state } = await run([sse({ choices: [], usage: null })], true);
      expect(state.usage).toBeUndefined();
    });

    it('keeps the last usage seen', async () => {
      const { state } = await run([
        sse({ choices: [], usage: { prompt_tokens: 1 } }),
        sse({ choices: [], usage: { prompt_tokens: 2 } }),
      ]);
      expect(state.usage).toEqual({ prompt_tokens: 2 });
    });

    it('drops a usage-only chunk whose data spans several data: lines', async () => {
      const event = 'data: {"choices":[],\ndata: "usage":{"prompt_tokens":6}}\n\n';
      const { out, state } = await run([delta('z'), event], true);
      expect(state.usage).toEqual({ prompt_tokens: 6 });
      expect(out.toString('utf8')).toBe(delta('z'));
    });
  });

  describe('end of stream', () => {
    it('records [DONE]', async () => {
      const { state } = await run([delta('a'), 'data: [DONE]\n\n']);
      expect(state.sawDone).toBe(true);
    });

    it('does not record [DONE] when the stream stops before it', async () => {
      const { state } = await run([delta('a')]);
      expect(state).toEqual({ sawDone: false, sawFinish: false });
    });

    it('does not mistake content that quotes "data: [DONE]" for the end of the stream', async () => {
      const { state } = await run([delta('SSE streams end with data: [DONE] on its own line')]);
      expect(state.sawDone).toBe(false);
    });

    it('records a finish reason', async () => {
      expect((await run([delta('a', 'stop')])).state.sawFinish).toBe(true);
    });

    it('records a finish reason written with spaces', async () => {
      const event = 'data: {"choices": [{"index": 0, "delta": {}, "finish_reason": "length"}]}\n\n';
      expect((await run([event])).state.sawFinish).toBe(true);
    });

    it('does not record a finish reason for "finish_reason": null', async () => {
      expect((await run([delta('a', null)])).state.sawFinish).toBe(false);
    });
  });

  describe('errors', () => {
    it('records an {"error":{…}} event and forwards it', async () => {
      const event = sse({ error: { message: 'Rate limit reached', type: 'rate_limit_error' } });
      const { out, state } = await run([delta('partial'), event], true);
      expect(state.upstreamError).toBe('Rate limit reached');
      expect(out.toString('utf8')).toBe(delta('partial') + event);
    });

    it('records an error given as a string', async () => {
      const { state } = await run([sse({ error: 'upstream exploded' })]);
      expect(state.upstreamError).toBe('upstream exploded');
    });

    it('records an error object without a message', async () => {
      const { state } = await run([sse({ error: { code: 500 } })]);
      expect(state.upstreamError).toBe('upstream error');
    });

    it('does not treat "error" in content as an error event', async () => {
      const { state } = await run([delta('"error"'), delta('error')]);
      expect(state.upstreamError).toBeUndefined();
    });
  });

  describe('split anywhere (property, seeded)', () => {
    it.each([false, true])(
      'gives the same bytes and state as the whole stream for 200 random splits (drop=%s)',
      async (drop) => {
        const whole = await run([FIXTURE], drop);
        const rand = prng(0x5eed + (drop ? 1 : 0));
        const splits: Buffer[][] = [Array.from(FIXTURE, (_b, i) => FIXTURE.subarray(i, i + 1))];
        while (splits.length < 200) {
          splits.push(randomSplit(FIXTURE, rand));
        }
        for (const chunks of splits) {
          expect(Buffer.concat(chunks).equals(FIXTURE)).toBe(true);
          const got = await run(chunks, drop);
          expect(got.out.equals(whole.out)).toBe(true);
          expect(got.state).toEqual(whole.state);
        }
        expect(whole.state).toEqual({ sawDone: true, sawFinish: true, usage: FIXTURE_USAGE });
      },
    );
  });
});

describe(extractUsage.name, () => {
  it('reads usage from a non-stream body', () => {
    const body = Buffer.from(
      JSON.stringify({
        id: 'chatcmpl-1',
        choices: [{ index: 0, message: { role: 'assistant', content: 'a {usage} "}" here' } }],
        usage: {
          prompt_tokens: 10,
          completion_tokens: 3,
          prompt_tokens_details: { cached_tokens: 2 },
        },
      }),
    );
    expect(extractUsage(body)).toEqual({
      prompt_tokens: 10,
      completion_tokens: 3,
      prompt_tokens_details: { cached_tokens: 2 },
    });
  });

  it('reads pretty-printed usage', () => {
    const body = Buffer.from(JSON.stringify({ usage: { prompt_tokens: 4 } }, null, 2));
    expect(extractUsage(body)).toEqual({ prompt_tokens: 4 });
  });

  it('returns undefined without usage, with "usage": null, or when truncated', () => {
    expect(extractUsage(Buffer.from('{"choices":[]}'))).toBeUndefined();
    expect(extractUsage(Buffer.from('{"usage":null,"x":{"a":1}}'))).toBeUndefined();
    expect(extractUsage(Buffer.from('{"usage":{"prompt_tokens":4'))).toBeUndefined();
  });
});
