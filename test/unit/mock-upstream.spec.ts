import { type IncomingHttpHeaders, request as httpRequest } from 'node:http';
import OpenAI, {
  APIConnectionError,
  APIError,
  APIUserAbortError,
  AuthenticationError,
  BadRequestError,
  InternalServerError,
  RateLimitError,
} from 'openai';
import type { ChatCompletionChunk } from 'openai/resources/chat/completions';
import { classifyFailure, type FailureReason } from '../../src/resilience/classify';
import {
  countPromptTokens,
  FAULTS,
  type MockUpstream,
  splitReply,
  startMockUpstream,
} from '../support/mock-upstream';

const API_KEY = 'sk-upstream-test';
const MESSAGES = [
  { role: 'system' as const, content: 'You are terse.' }, // 14 chars
  { role: 'user' as const, content: 'Say hello to the gateway' }, // 24 chars
];
const PROMPT_TOKENS = Math.ceil((14 + 24) / 4);

function client(mock: MockUpstream, apiKey = API_KEY): OpenAI {
  return new OpenAI({ apiKey, baseURL: mock.baseUrl, maxRetries: 0, timeout: 10_000 });
}

async function collect(stream: AsyncIterable<ChatCompletionChunk>): Promise<ChatCompletionChunk[]> {
  const chunks: ChatCompletionChunk[] = [];
  for await (const chunk of stream) {
    chunks.push(chunk);
  }
  return chunks;
}

/** Raw request (no SDK), resolves with status + body; rejects on socket errors. */
function raw(
  mock: MockUpstream,
  method: string,
  path: string,
  body?: string,
  headers: Record<string, string> = { authorization: `Bearer ${API_KEY}` },
): Promise<{ status: number; body: string; headers: IncomingHttpHeaders }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(`${mock.url}${path}`, { method, headers }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (text += c));
      res.on('end', () =>
        resolve({ status: res.statusCode ?? 0, body: text, headers: res.headers }),
      );
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

describe('mock upstream', () => {
  let mock: MockUpstream;
  let openai: OpenAI;

  beforeAll(async () => {
    mock = await startMockUpstream({ apiKey: API_KEY, slowMs: 200 });
    openai = client(mock);
  });

  afterAll(async () => {
    await mock.close();
  });

  beforeEach(() => mock.reset());

  it('listens on a random 127.0.0.1 port and exposes url/baseUrl', () => {
    expect(mock.port).toBeGreaterThan(0);
    expect(mock.url).toBe(`http://127.0.0.1:${mock.port}`);
    expect(mock.baseUrl).toBe(`${mock.url}/v1`);
  });

  it('answers a non-stream chat completion like OpenAI', async () => {
    const res = await openai.chat.completions.create({ model: 'gpt-4o-mini', messages: MESSAGES });

    expect(res.object).toBe('chat.completion');
    expect(res.id).toMatch(/^chatcmpl-/);
    expect(typeof res.created).toBe('number');
    expect(res.model).toBe('gpt-4o-mini');
    expect(res.choices).toHaveLength(1);
    expect(res.choices[0].message).toMatchObject({
      role: 'assistant',
      content: 'Hello from mock upstream',
    });
    expect(res.choices[0].finish_reason).toBe('stop');
    expect(res.usage).toEqual({
      prompt_tokens: PROMPT_TOKENS,
      completion_tokens: 4,
      total_tokens: PROMPT_TOKENS + 4,
    });
  });

  it('records the request it received', async () => {
    await openai.chat.completions.create({ model: 'gpt-4o', messages: MESSAGES, temperature: 0.2 });

    expect(mock.count).toBe(1);
    expect(mock.requests).toHaveLength(1);
    const req = mock.requests[0];
    expect(req.method).toBe('POST');
    expect(req.url).toBe('/v1/chat/completions');
    expect(req.headers.authorization).toBe(`Bearer ${API_KEY}`);
    expect(req.body).toEqual({ model: 'gpt-4o', messages: MESSAGES, temperature: 0.2 });
    expect(mock.lastRequest()).toBe(req);
  });

  it('streams role, word deltas, finish and [DONE] without usage by default', async () => {
    const stream = await openai.chat.completions.create({
      model: 'gpt-4o-mini',
      messages: MESSAGES,
      stream: true,
    });
    const chunks = await collect(stream);

    expect(chunks.every((c) => c.object === 'chat.completion.chunk')).toBe(true);
    expect(chunks.every((c) => c.model === 'gpt-4o-mini')).toBe(true);
    expect(new Set(chunks.map((c) => c.id)).size).toBe(1);
    expect(chunks[0].choices[0].delta.role).toBe('assistant');
    const deltas = chunks.slice(1, -1).map((c) => c.choices[0].delta.content);
    expect(deltas).toEqual(['Hello', ' from', ' mock', ' upstream']);
    const last = chunks[chunks.length - 1];
    expect(last.choices[0].finish_reason).toBe('stop');
    expect(chunks.some((c) => c.usage)).toBe(false);
    expect(mock.stats().streams).toBe(1);
  });

  it('ends the stream with a usage chunk when stream_options.include_usage is true', async () => {
    const stream = await openai.chat.completions.create({
      model: 'gpt-4o-mini',
      messages: MESSAGES,
      stream: true,
      stream_options: { include_usage: true },
    });
    const chunks = await collect(stream);

    const last = chunks[chunks.length - 1];
    expect(last.choices).toEqual([]);
    expect(last.usage).toEqual({
      prompt_tokens: PROMPT_TOKENS,
      completion_tokens: 4,
      total_tokens: PROMPT_TOKENS + 4,
    });
    expect(chunks[chunks.length - 2].choices[0].finish_reason).toBe('stop');
  });

  it('sends the SSE wire format: text/event-stream and a final data: [DONE]', async () => {
    const res = await raw(
      mock,
      'POST',
      '/v1/chat/completions',
      JSON.stringify({ model: 'gpt-4o-mini', messages: MESSAGES, stream: true }),
    );
    expect(res.status).toBe(200);
    const events = res.body.split('\n\n').filter(Boolean);
    expect(events.every((e) => e.startsWith('data: '))).toBe(true);
    expect(events).toHaveLength(1 + 4 + 1 + 1);
    expect(events[events.length - 1]).toBe('data: [DONE]');
  });

  it('lists models', async () => {
    const page = await openai.models.list();
    const ids = page.data.map((m) => m.id);
    expect(ids).toContain('gpt-4o-mini');
    expect(page.data.every((m) => m.object === 'model')).toBe(true);
  });

  it('counts prompt tokens from text parts too', () => {
    expect(
      countPromptTokens([{ role: 'user', content: [{ type: 'text', text: 'abcdefgh' }] }]),
    ).toBe(2);
    expect(countPromptTokens([])).toBe(1);
  });

  describe('auth', () => {
    it('rejects a wrong key with 401 invalid_api_key', async () => {
      const err = await client(mock, 'sk-wrong')
        .chat.completions.create({ model: 'gpt-4o-mini', messages: MESSAGES })
        .catch((e: unknown) => e);
      expect(err).toBeInstanceOf(AuthenticationError);
      expect((err as APIError).status).toBe(401);
      expect((err as APIError).code).toBe('invalid_api_key');
      expect((err as APIError).type).toBe('invalid_request_error');
    });

    it('rejects a missing bearer with 401', async () => {
      const res = await raw(mock, 'GET', '/v1/models', undefined, {});
      expect(res.status).toBe(401);
      expect(JSON.parse(res.body).error.code).toBe('invalid_api_key');
      expect(mock.stats().unauthorized).toBe(1);
    });

    it('accepts any bearer when no apiKey is configured', async () => {
      const open = await startMockUpstream();
      try {
        const res = await client(open, 'anything').chat.completions.create({
          model: 'gpt-4o-mini',
          messages: MESSAGES,
        });
        expect(res.choices[0].message.content).toBe('Hello from mock upstream');
      } finally {
        await open.close();
      }
    });
  });

  describe('faults by model name', () => {
    const create = (model: string) =>
      openai.chat.completions.create({ model, messages: MESSAGES }).catch((e: unknown) => e);

    it('fail-500 returns a 500 OpenAI error', async () => {
      const err = await create('fail-500');
      expect(err).toBeInstanceOf(InternalServerError);
      expect((err as APIError).status).toBe(500);
      expect((err as APIError).type).toBe('server_error');
    });

    it('fail-429 returns 429 rate_limit_error with Retry-After: 2', async () => {
      const err = await create('fail-429');
      expect(err).toBeInstanceOf(RateLimitError);
      expect((err as APIError).status).toBe(429);
      expect((err as APIError).type).toBe('rate_limit_error');
      expect((err as APIError).headers?.get('retry-after')).toBe('2');
    });

    it('fail-400 returns 400 invalid_request_error', async () => {
      const err = await create('fail-400');
      expect(err).toBeInstanceOf(BadRequestError);
      expect((err as APIError).status).toBe(400);
      expect((err as APIError).type).toBe('invalid_request_error');
    });

    it('accepts the fault after a provider prefix (mock/fail-500)', async () => {
      const err = await create('mock/fail-500');
      expect((err as APIError).status).toBe(500);
    });

    it('reset destroys the socket: connection error', async () => {
      const err = await create('reset');
      expect(err).toBeInstanceOf(APIConnectionError);
      expect(mock.aborted).toBe(0);
    });

    it('hang never answers; aborting the client is counted in aborted', async () => {
      const ac = new AbortController();
      const pending = openai.chat.completions
        .create({ model: 'hang', messages: MESSAGES }, { signal: ac.signal })
        .catch((e: unknown) => e);
      await mock.waitFor((m) => m.count === 1);
      await new Promise((r) => setTimeout(r, 50));
      expect(mock.aborted).toBe(0);

      ac.abort();
      expect(await pending).toBeInstanceOf(APIUserAbortError);
      await mock.waitFor((m) => m.aborted === 1);
      expect(mock.stats().aborted).toBe(1);
    });

    it('slow-first-token delays the first stream chunk by slowMs', async () => {
      const started = Date.now();
      const stream = await openai.chat.completions.create({
        model: 'slow-first-token',
        messages: MESSAGES,
        stream: true,
      });
      const chunks: ChatCompletionChunk[] = [];
      let firstAt = 0;
      for await (const c of stream) {
        firstAt ||= Date.now();
        chunks.push(c);
      }
      expect(firstAt - started).toBeGreaterThanOrEqual(180);
      expect(chunks.map((c) => c.choices[0]?.delta.content ?? '').join('')).toBe(
        'Hello from mock upstream',
      );
    });

    it('slow-first-token delays a non-stream answer by slowMs', async () => {
      const started = Date.now();
      const res = await openai.chat.completions.create({
        model: 'slow-first-token',
        messages: MESSAGES,
      });
      expect(Date.now() - started).toBeGreaterThanOrEqual(180);
      expect(res.choices[0].message.content).toBe('Hello from mock upstream');
    });

    it('midstream-error sends 2 chunks then drops the connection: iteration throws', async () => {
      const stream = await openai.chat.completions.create({
        model: 'midstream-error',
        messages: MESSAGES,
        stream: true,
      });
      const seen: string[] = [];
      await expect(
        (async () => {
          for await (const c of stream) {
            seen.push(c.choices[0]?.delta.content ?? '');
          }
        })(),
      ).rejects.toThrow();
      expect(seen.join('')).toBe('Hello from');
      expect(mock.aborted).toBe(0);
    });

    it('midstream-error-event sends 2 chunks then an SSE error event: iteration throws APIError', async () => {
      const stream = await openai.chat.completions.create({
        model: 'midstream-error-event',
        messages: MESSAGES,
        stream: true,
      });
      const seen: string[] = [];
      const err = await (async () => {
        for await (const c of stream) {
          seen.push(c.choices[0]?.delta.content ?? '');
        }
      })().catch((e: unknown) => e);
      expect(err).toBeInstanceOf(APIError);
      expect((err as APIError).message).toMatch(/interrupted/);
      expect(seen.join('')).toBe('Hello from');
    });

    it('midstream-error on a non-stream request truncates the body', async () => {
      await expect(
        openai.chat.completions.create({ model: 'midstream-error', messages: MESSAGES }),
      ).rejects.toThrow();
    });
  });

  describe('status, quota, ban and flaky faults', () => {
    /** A non-stream chat completion for `model`, read raw (status, headers, body). */
    const chat = (model: string, stream = false) =>
      raw(
        mock,
        'POST',
        '/v1/chat/completions',
        JSON.stringify({ model, messages: MESSAGES, stream }),
      );
    const errorOf = (body: string) =>
      (JSON.parse(body) as { error: { message: string; type: string; code: string | null } }).error;

    it.each([
      [401, 'invalid_request_error', 'invalid_api_key'],
      [402, 'billing_error', 'payment_required'],
      [403, 'permission_error', 'forbidden'],
      [404, 'invalid_request_error', 'model_not_found'],
      [408, 'server_error', 'request_timeout'],
      [418, 'invalid_request_error', null],
      [422, 'invalid_request_error', 'unprocessable_entity'],
      [502, 'server_error', 'bad_gateway'],
      [503, 'server_error', 'service_unavailable'],
      [504, 'server_error', 'gateway_timeout'],
      [529, 'overloaded_error', 'overloaded'],
      [599, 'server_error', null],
    ])('fail-%d answers that status with an OpenAI error naming it', async (status, type, code) => {
      const res = await chat(`fail-${status}`);
      expect(res.status).toBe(status);
      const err = errorOf(res.body);
      expect(err.message).toContain(String(status));
      expect(err.message).toMatch(new RegExp(`\\(mock fail-${status}\\)$`));
      expect(err.type).toBe(type);
      expect(err.code).toBe(code);
      expect(res.headers['retry-after']).toBe(status === 503 ? '2' : undefined);
      expect(mock.stats().faults).toBe(1);
    });

    it('fail-<status> works after a provider prefix and for streams', async () => {
      expect((await chat('mock/fail-502')).status).toBe(502);
      expect((await chat('a/b/fail-401', true)).status).toBe(401);
    });

    it('keeps the SDK error classes for generic statuses', async () => {
      const err = await openai.chat.completions
        .create({ model: 'fail-503', messages: MESSAGES })
        .catch((e: unknown) => e);
      expect(err).toBeInstanceOf(InternalServerError);
      expect((err as APIError).headers?.get('retry-after')).toBe('2');
    });

    it.each(['fail-200', 'fail-399', 'fail-600', 'fail-5000', 'flaky-0', 'flaky-x'])(
      '%s is a plain model name, not a fault',
      async (model) => {
        expect((await chat(model)).status).toBe(200);
        expect(() => mock.setFault(model as never)).toThrow(/unknown mock fault/);
      },
    );

    it('fail-quota answers 429 insufficient_quota without Retry-After', async () => {
      const res = await chat('fail-quota');
      expect(res.status).toBe(429);
      expect(errorOf(res.body)).toMatchObject({
        type: 'insufficient_quota',
        code: 'insufficient_quota',
        message: expect.stringContaining(
          'You exceeded your current quota, please check your plan and billing details.',
        ) as unknown,
      });
      expect(res.headers['retry-after']).toBeUndefined();
      const err = await openai.chat.completions
        .create({ model: 'x/fail-quota', messages: MESSAGES })
        .catch((e: unknown) => e);
      expect(err).toBeInstanceOf(RateLimitError);
      expect((err as APIError).code).toBe('insufficient_quota');
    });

    it('fail-banned answers 403 "Your account has been deactivated"', async () => {
      const res = await chat('fail-banned');
      expect(res.status).toBe(403);
      expect(errorOf(res.body).message).toMatch(/^Your account has been deactivated/);
      expect(errorOf(res.body).code).toBe('account_deactivated');
    });

    it('flaky-<n> fails the first n requests of that exact model name with 500, then succeeds', async () => {
      const statuses: number[] = [];
      for (let i = 0; i < 4; i++) {
        statuses.push((await chat('flaky-2')).status);
      }
      expect(statuses).toEqual([500, 500, 200, 200]);
      expect(errorOf((await chat('p/flaky-2')).body).message).toMatch(
        /\(mock flaky-2: failure 1 of 2\)$/,
      );
      expect((await chat('flaky-1', true)).status).toBe(500);
      expect((await chat('flaky-1', true)).status).toBe(200);
      expect(mock.stats().faults).toBe(4); // 2 + 1 (p/flaky-2) + 1 (flaky-1)
    });

    it('a flaky model that succeeds answers like any model (stream too)', async () => {
      await chat('flaky-1');
      const stream = await openai.chat.completions.create({
        model: 'flaky-1',
        messages: MESSAGES,
        stream: true,
      });
      const chunks = await collect(stream);
      expect(chunks.map((c) => c.choices[0]?.delta.content ?? '').join('')).toBe(
        'Hello from mock upstream',
      );
      expect(chunks[0].model).toBe('flaky-1');
    });

    it('reset() restarts the flaky counts', async () => {
      expect((await chat('flaky-1')).status).toBe(500);
      expect((await chat('flaky-1')).status).toBe(200);
      mock.reset();
      expect((await chat('flaky-1')).status).toBe(500);
    });

    it('counts a server-wide flaky fault per fault, across model names', async () => {
      mock.setFault('flaky-2');
      try {
        expect((await chat('gpt-4o')).status).toBe(500);
        expect((await chat('gpt-4o-mini')).status).toBe(500);
        expect((await chat('gpt-4o')).status).toBe(200);
      } finally {
        mock.setFault(null);
      }
    });

    it('setFault accepts fail-<status>', async () => {
      mock.setFault('fail-503');
      try {
        expect((await chat('gpt-4o')).status).toBe(503);
        expect(mock.fault).toBe('fail-503');
      } finally {
        mock.setFault(null);
      }
    });

    describe('retryAfterSec', () => {
      it('is 2 by default', () => {
        expect(mock.retryAfterSec).toBe(2);
      });

      it('null sends no Retry-After on 429 and 503', async () => {
        const m = await startMockUpstream({ retryAfterSec: null });
        try {
          for (const model of ['fail-429', 'fail-503']) {
            const res = await raw(
              m,
              'POST',
              '/v1/chat/completions',
              JSON.stringify({ model, messages: MESSAGES }),
              { authorization: 'Bearer x' },
            );
            expect(res.headers['retry-after']).toBeUndefined();
          }
        } finally {
          await m.close();
        }
      });

      it('configure() changes it at runtime; reset() keeps it', async () => {
        const m = await startMockUpstream();
        const send = (model: string) =>
          raw(m, 'POST', '/v1/chat/completions', JSON.stringify({ model, messages: MESSAGES }), {
            authorization: 'Bearer x',
          });
        try {
          m.configure({ retryAfterSec: 7 });
          m.reset();
          expect((await send('fail-429')).headers['retry-after']).toBe('7');
          expect((await send('fail-503')).headers['retry-after']).toBe('7');
          m.configure({ reply: 'other' }); // leaves it alone
          expect(m.retryAfterSec).toBe(7);
          m.configure({ retryAfterSec: null });
          expect((await send('fail-429')).headers['retry-after']).toBeUndefined();
          expect(() => m.configure({ retryAfterSec: -1 })).toThrow(/retryAfterSec/);
        } finally {
          await m.close();
        }
      });

      it('rejects a negative value at start', async () => {
        await expect((async () => startMockUpstream({ retryAfterSec: -1 }))()).rejects.toThrow(
          /retryAfterSec/,
        );
      });
    });

    it.each<[string, FailureReason, boolean]>([
      ['fail-429', 'rate_limited', true],
      ['fail-quota', 'credits_exhausted', true],
      ['fail-banned', 'banned', true],
      ['fail-401', 'unauthorized', true],
      ['fail-404', 'model_not_found', true],
      ['fail-400', 'bad_request', false],
      ['fail-500', 'server_error', true],
      ['fail-502', 'server_error', true],
      ['fail-503', 'server_error', true],
      ['fail-504', 'timeout', true],
      ['fail-529', 'overloaded', true],
      ['flaky-1', 'server_error', true],
    ])(
      '%s is classified as %s (fallback %s) by the gateway classifier',
      async (model, reason, fallback) => {
        const res = await chat(model);
        const headers = res.headers as Record<string, string | string[] | undefined>;
        const c = classifyFailure({ status: res.status, text: res.body, headers });
        expect({ reason: c.reason, fallback: c.fallback }).toEqual({ reason, fallback });
        if (model === 'fail-429') {
          expect(c.cooldown).toEqual({ scope: 'connection', mode: 'hint', ms: 2_000 });
        }
      },
    );
  });

  describe('server-wide faults', () => {
    afterEach(() => mock.setFault(null));

    it('setFault applies to every model that does not name a fault', async () => {
      mock.setFault('fail-500');
      const err = await openai.chat.completions
        .create({ model: 'gpt-4o-mini', messages: MESSAGES })
        .catch((e: unknown) => e);
      expect((err as APIError).status).toBe(500);
      expect(mock.stats().fault).toBe('fail-500');
    });

    it('a fault in the model name wins over setFault', async () => {
      mock.setFault('fail-500');
      const err = await openai.chat.completions
        .create({ model: 'fail-429', messages: MESSAGES })
        .catch((e: unknown) => e);
      expect((err as APIError).status).toBe(429);
    });

    it('setFault(null) and reset() clear it', async () => {
      mock.setFault('fail-400');
      mock.reset();
      expect(mock.fault).toBeNull();
      const res = await openai.chat.completions.create({
        model: 'gpt-4o-mini',
        messages: MESSAGES,
      });
      expect(res.choices[0].finish_reason).toBe('stop');
    });

    it('rejects unknown faults', () => {
      expect(() => mock.setFault('nope' as never)).toThrow(/unknown mock fault/);
      expect(FAULTS).toContain('midstream-error-event');
    });
  });

  describe('options', () => {
    it('overrides the reply text and chunk count', async () => {
      const m = await startMockUpstream({ reply: 'one two three four five six', chunks: 3 });
      try {
        expect(m.replyChunks).toEqual(['one two', ' three four', ' five six']);
        const stream = await client(m).chat.completions.create({
          model: 'x',
          messages: MESSAGES,
          stream: true,
          stream_options: { include_usage: true },
        });
        const chunks = await collect(stream);
        const contents = chunks
          .map((c) => c.choices[0]?.delta.content)
          .filter((c): c is string => !!c);
        expect(contents).toEqual(['one two', ' three four', ' five six']);
        expect(chunks[chunks.length - 1].usage?.completion_tokens).toBe(3);

        const res = await client(m).chat.completions.create({ model: 'x', messages: MESSAGES });
        expect(res.choices[0].message.content).toBe('one two three four five six');
        expect(res.usage?.completion_tokens).toBe(3);
      } finally {
        await m.close();
      }
    });

    it('splits by characters when more chunks than words are asked for', () => {
      expect(splitReply('abcd', 4)).toEqual(['a', 'b', 'c', 'd']);
      expect(splitReply('ab', 5)).toEqual(['a', 'b']);
      expect(splitReply('Hello from mock upstream').join('')).toBe('Hello from mock upstream');
    });

    it('latencyMs delays every response', async () => {
      const m = await startMockUpstream({ latencyMs: 150 });
      try {
        const started = Date.now();
        await client(m).models.list();
        expect(Date.now() - started).toBeGreaterThanOrEqual(140);
      } finally {
        await m.close();
      }
    });

    it('chunkDelayMs spaces out stream events', async () => {
      const m = await startMockUpstream({ chunkDelayMs: 30 });
      try {
        const started = Date.now();
        const chunks = await collect(
          await client(m).chat.completions.create({
            model: 'x',
            messages: MESSAGES,
            stream: true,
          }),
        );
        expect(chunks).toHaveLength(6);
        expect(Date.now() - started).toBeGreaterThanOrEqual(6 * 30 - 10);
      } finally {
        await m.close();
      }
    });

    it('counts a stream the client abandons half-way as aborted', async () => {
      const m = await startMockUpstream({ chunkDelayMs: 100 });
      try {
        const ac = new AbortController();
        const stream = await client(m).chat.completions.create(
          { model: 'x', messages: MESSAGES, stream: true },
          { signal: ac.signal },
        );
        const seen: ChatCompletionChunk[] = [];
        for await (const c of stream) {
          seen.push(c);
          if (seen.length === 2) {
            ac.abort(); // the SDK ends the iteration quietly on abort
          }
        }
        expect(seen).toHaveLength(2);
        await m.waitFor((x) => x.aborted === 1);
      } finally {
        await m.close();
      }
    });

    it('configure() changes the reply at runtime', async () => {
      const m = await startMockUpstream();
      try {
        m.configure({ reply: 'changed reply' });
        const res = await client(m).chat.completions.create({ model: 'x', messages: MESSAGES });
        expect(res.choices[0].message.content).toBe('changed reply');
        expect(res.usage?.completion_tokens).toBe(2);
      } finally {
        await m.close();
      }
    });

    it('record:false counts requests but stores no bodies', async () => {
      const m = await startMockUpstream({ record: false });
      try {
        await client(m).chat.completions.create({ model: 'x', messages: MESSAGES });
        expect(m.count).toBe(1);
        expect(m.requests).toHaveLength(0);
        expect(m.stats().chatCompletions).toBe(1);
      } finally {
        await m.close();
      }
    });

    it('keeps connections alive across requests', async () => {
      const m = await startMockUpstream();
      try {
        const c = client(m);
        for (let i = 0; i < 10; i++) {
          await c.chat.completions.create({ model: 'x', messages: MESSAGES });
        }
        // Node's fetch opens a second socket for the 2nd request, then reuses it (not the mock).
        expect(m.stats().connections).toBeLessThanOrEqual(2);
      } finally {
        await m.close();
      }
    });
  });

  describe('protocol errors', () => {
    it('404 for unknown routes', async () => {
      const res = await raw(mock, 'GET', '/v1/nope');
      expect(res.status).toBe(404);
      expect(JSON.parse(res.body).error.type).toBe('invalid_request_error');
    });

    it('400 for an invalid JSON body', async () => {
      const res = await raw(mock, 'POST', '/v1/chat/completions', '{not json');
      expect(res.status).toBe(400);
      expect(mock.requests[0].body).toBe('{not json');
    });

    it('400 when model or messages are missing', async () => {
      const noModel = await raw(mock, 'POST', '/v1/chat/completions', '{"messages":[]}');
      expect(noModel.status).toBe(400);
      const noMessages = await raw(mock, 'POST', '/v1/chat/completions', '{"model":"x"}');
      expect(noMessages.status).toBe(400);
    });
  });

  it('close() ends hung requests and resolves', async () => {
    const m = await startMockUpstream();
    const pending = raw(
      m,
      'POST',
      '/v1/chat/completions',
      JSON.stringify({ model: 'hang', messages: MESSAGES }),
      { authorization: 'Bearer x' },
    );
    await m.waitFor((x) => x.count === 1);
    const started = Date.now();
    await m.close();
    expect(Date.now() - started).toBeLessThan(1000);
    await expect(pending).rejects.toThrow(/socket hang up|ECONNRESET/);
    expect(m.aborted).toBe(0);
    await m.close(); // idempotent
  });
});
