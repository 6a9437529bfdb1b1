import { readFileSync } from 'node:fs';
import {
  FIXTURE_CASES,
  FIXTURE_MODELS,
  fixturePath,
  type FixtureUpstream,
  readFixture,
  selectByModel,
  startFixtureUpstream,
  type UpstreamDialect,
} from '../support/fixture-upstream';

const API_KEY = 'sk-fixture-test';
const DIALECTS: UpstreamDialect[] = ['openai-chat', 'anthropic'];

const PATH: Record<UpstreamDialect, string> = {
  'openai-chat': '/v1/chat/completions',
  anthropic: '/v1/messages',
  responses: '/v1/responses',
};

function authHeaders(dialect: UpstreamDialect, key = API_KEY): Record<string, string> {
  return dialect === 'anthropic'
    ? { 'x-api-key': key, 'anthropic-version': '2023-06-01' }
    : { authorization: `Bearer ${key}` };
}

interface Answer {
  status: number;
  headers: Headers;
  bytes: Buffer;
  /** Number of body reads the client needed. */
  reads: number;
}

async function call(
  up: FixtureUpstream,
  dialect: UpstreamDialect,
  body: unknown,
  headers: Record<string, string> = authHeaders(dialect),
): Promise<Answer> {
  const res = await fetch(`${up.url}${PATH[dialect]}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  const parts: Buffer[] = [];
  let reads = 0;
  if (res.body) {
    const reader = res.body.getReader();
    for (;;) {
      const { done, value } = await reader.read();
      if (done) {
        break;
      }
      reads++;
      parts.push(Buffer.from(value));
    }
  }
  return { status: res.status, headers: res.headers, bytes: Buffer.concat(parts), reads };
}

function json(a: Answer): Record<string, unknown> {
  return JSON.parse(a.bytes.toString('utf8'));
}

describe('fixture upstream', () => {
  let up: FixtureUpstream;

  beforeAll(async () => {
    up = await startFixtureUpstream({ apiKey: API_KEY });
  });

  afterAll(async () => {
    await up.close();
  });

  beforeEach(() => up.reset());

  it('listens on a random 127.0.0.1 port and exposes url/baseUrl', () => {
    expect(up.port).toBeGreaterThan(0);
    expect(up.url).toBe(`http://127.0.0.1:${up.port}`);
    expect(up.baseUrl).toBe(`${up.url}/v1`);
  });

  it('fixturePath/readFixture point at test/fixtures/dialects', () => {
    expect(fixturePath('anthropic', 'text.stream.sse')).toMatch(
      /test[/\\]fixtures[/\\]dialects[/\\]anthropic[/\\]text\.stream\.sse$/,
    );
    const bytes = readFixture('gemini', 'text.stream.sse');
    expect(Buffer.isBuffer(bytes)).toBe(true);
    expect(bytes.equals(readFileSync(fixturePath('gemini', 'text.stream.sse')))).toBe(true);
  });

  it('selects the case by the last segment of the model name', () => {
    expect(selectByModel('thinking')).toEqual({ kind: 'case', name: 'thinking' });
    expect(selectByModel('claude-x/thinking')).toEqual({ kind: 'case', name: 'thinking' });
    expect(selectByModel('a/b/parallel-tool-calls')).toEqual({
      kind: 'case',
      name: 'parallel-tool-calls',
    });
    expect(selectByModel('openai/fail-429')).toEqual({ kind: 'fault', name: 'fail-429' });
    expect(selectByModel('gpt-4o')).toEqual({ kind: 'case', name: 'text' });
    expect(selectByModel('thinking/gpt-4o')).toEqual({ kind: 'case', name: 'text' });
  });

  describe.each(DIALECTS)('%s', (dialect) => {
    it.each(FIXTURE_CASES)('%s: non-stream returns <case>.response.json exactly', async (c) => {
      const a = await call(up, dialect, { model: `prefix/${c}`, messages: [] });
      expect(a.status).toBe(200);
      expect(a.headers.get('content-type')).toBe('application/json');
      expect(a.bytes.equals(readFixture(dialect, `${c}.response.json`))).toBe(true);
    });

    it.each(FIXTURE_CASES)('%s: stream returns <case>.stream.sse exactly', async (c) => {
      const a = await call(up, dialect, { model: c, messages: [], stream: true });
      expect(a.status).toBe(200);
      expect(a.headers.get('content-type')).toBe('text/event-stream');
      expect(a.bytes.equals(readFixture(dialect, `${c}.stream.sse`))).toBe(true);
    });

    it('an unknown model gets the text case', async () => {
      const plain = await call(up, dialect, { model: 'some-real-model-name', messages: [] });
      expect(plain.bytes.equals(readFixture(dialect, 'text.response.json'))).toBe(true);
      const streamed = await call(up, dialect, { model: 'x/y', stream: true });
      expect(streamed.bytes.equals(readFixture(dialect, 'text.stream.sse'))).toBe(true);
    });

    it('records every request', async () => {
      const body = { model: 'thinking', messages: [{ role: 'user', content: 'Hi' }] };
      await call(up, dialect, body);
      await call(up, dialect, { model: 'text' }, {});
      expect(up.count).toBe(2);
      expect(up.requests).toHaveLength(2);
      expect(up.requests[0]).toMatchObject({ method: 'POST', url: PATH[dialect], body });
      expect(up.requests[0].headers['content-type']).toBe('application/json');
      expect(up.lastRequest()?.body).toEqual({ model: 'text' });
      up.reset();
      expect(up.count).toBe(0);
      expect(up.requests).toHaveLength(0);
      expect(up.lastRequest()).toBeUndefined();
    });

    it('rejects a body that is not JSON, or has no model, with 400', async () => {
      const bad = await call(up, dialect, '{not json');
      expect(bad.status).toBe(400);
      const noModel = await call(up, dialect, { messages: [] });
      expect(noModel.status).toBe(400);
      const shape =
        dialect === 'anthropic'
          ? { type: 'error', error: { type: 'invalid_request_error' } }
          : { error: { type: 'invalid_request_error' } };
      expect(json(bad)).toMatchObject(shape);
      expect(json(noModel)).toMatchObject(shape);
    });
  });

  describe('faults, OpenAI shape', () => {
    const cases: [string, number, string, string | null][] = [
      ['fail-500', 500, 'server_error', null],
      ['fail-429', 429, 'rate_limit_error', '1'],
      ['fail-400', 400, 'invalid_request_error', null],
      ['overloaded', 503, 'server_error', null],
    ];
    it.each(cases)('%s → %i %s', async (fault, status, type, retryAfter) => {
      for (const stream of [false, true]) {
        const a = await call(up, 'openai-chat', { model: `gw/${fault}`, stream });
        expect(a.status).toBe(status);
        expect(a.headers.get('content-type')).toBe('application/json');
        expect(a.headers.get('retry-after')).toBe(retryAfter);
        const body = json(a);
        expect(Object.keys(body)).toEqual(['error']);
        expect(body.error).toMatchObject({ type, message: expect.any(String) });
      }
    });

    it('midstream-error streams the first half of the text events, then an error event', async () => {
      const a = await call(up, 'openai-chat', { model: 'midstream-error', stream: true });
      expect(a.status).toBe(200);
      expect(a.headers.get('content-type')).toBe('text/event-stream');
      const text = a.bytes.toString('utf8');
      const events = text.split('\n\n').filter((e) => e.length > 0);
      const fixtureEvents = readFixture('openai-chat', 'text.stream.sse')
        .toString('utf8')
        .split('\n\n')
        .filter((e) => e.length > 0 && e !== 'data: [DONE]');
      const half = Math.floor(fixtureEvents.length / 2);
      expect(half).toBeGreaterThan(1);
      expect(events.slice(0, -1)).toEqual(fixtureEvents.slice(0, half));
      expect(text.endsWith('\n\n')).toBe(true);
      expect(text).not.toContain('[DONE]');
      const last = events[events.length - 1];
      expect(last.startsWith('data: ')).toBe(true);
      const err = JSON.parse(last.slice('data: '.length));
      expect(err).toMatchObject({ error: { type: 'server_error', message: expect.any(String) } });
    });

    it('midstream-error without stream gets the text response', async () => {
      const a = await call(up, 'openai-chat', { model: 'midstream-error' });
      expect(a.status).toBe(200);
      expect(a.bytes.equals(readFixture('openai-chat', 'text.response.json'))).toBe(true);
    });
  });

  describe('faults, Anthropic shape', () => {
    const cases: [string, number, string, string | null][] = [
      ['fail-500', 500, 'api_error', null],
      ['fail-429', 429, 'rate_limit_error', '1'],
      ['fail-400', 400, 'invalid_request_error', null],
      ['overloaded', 529, 'overloaded_error', null],
    ];
    it.each(cases)('%s → %i %s', async (fault, status, type, retryAfter) => {
      for (const stream of [false, true]) {
        const a = await call(up, 'anthropic', { model: `claude-x/${fault}`, stream });
        expect(a.status).toBe(status);
        expect(a.headers.get('content-type')).toBe('application/json');
        expect(a.headers.get('retry-after')).toBe(retryAfter);
        const body = json(a);
        expect(body).toEqual({ type: 'error', error: { type, message: expect.any(String) } });
      }
    });

    it('midstream-error streams anthropic/error.stream.sse exactly', async () => {
      const a = await call(up, 'anthropic', { model: 'midstream-error', stream: true });
      expect(a.status).toBe(200);
      expect(a.headers.get('content-type')).toBe('text/event-stream');
      expect(a.bytes.equals(readFixture('anthropic', 'error.stream.sse'))).toBe(true);
    });
  });

  describe('auth', () => {
    it('OpenAI: missing or wrong Bearer → 401 authentication_error', async () => {
      const cases: Record<string, string>[] = [
        {},
        { authorization: 'Bearer nope' },
        { authorization: API_KEY },
        { 'x-api-key': API_KEY },
      ];
      for (const headers of cases) {
        const a = await call(up, 'openai-chat', { model: 'text' }, headers);
        expect(a.status).toBe(401);
        expect(json(a)).toMatchObject({ error: { type: 'authentication_error' } });
      }
    });

    it('Anthropic: missing or wrong x-api-key → 401 authentication_error', async () => {
      const cases: Record<string, string>[] = [
        { 'anthropic-version': '2023-06-01' },
        { 'anthropic-version': '2023-06-01', authorization: `Bearer ${API_KEY}` },
        { 'anthropic-version': '2023-06-01', 'x-api-key': 'nope' },
      ];
      for (const headers of cases) {
        const a = await call(up, 'anthropic', { model: 'text' }, headers);
        expect(a.status).toBe(401);
        expect(json(a)).toEqual({
          type: 'error',
          error: { type: 'authentication_error', message: expect.any(String) },
        });
      }
    });

    it('Anthropic: missing anthropic-version → 400 invalid_request_error', async () => {
      const a = await call(up, 'anthropic', { model: 'text' }, { 'x-api-key': API_KEY });
      expect(a.status).toBe(400);
      expect(json(a)).toEqual({
        type: 'error',
        error: { type: 'invalid_request_error', message: 'anthropic-version: header is required' },
      });
    });

    it('without apiKey any non-empty key is accepted, but one is still required', async () => {
      const open = await startFixtureUpstream();
      try {
        for (const dialect of DIALECTS) {
          const ok = await call(open, dialect, { model: 'text' }, authHeaders(dialect, 'whatever'));
          expect(ok.status).toBe(200);
          const missing = await call(
            open,
            dialect,
            { model: 'text' },
            dialect === 'anthropic' ? { 'anthropic-version': '2023-06-01' } : {},
          );
          expect(missing.status).toBe(401);
        }
      } finally {
        await open.close();
      }
    });
  });

  describe('GET /v1/models', () => {
    it('lists ids in a shape both OpenAI and Anthropic clients read', async () => {
      for (const dialect of DIALECTS) {
        const res = await fetch(`${up.baseUrl}/models`, { headers: authHeaders(dialect) });
        expect(res.status).toBe(200);
        const body = (await res.json()) as { object: string; data: Record<string, unknown>[] };
        expect(body.object).toBe('list');
        expect(body.data.map((m) => m.id)).toEqual([...FIXTURE_MODELS]);
        for (const m of body.data) {
          expect(m).toMatchObject({
            object: 'model',
            type: 'model',
            display_name: expect.any(String),
            created: expect.any(Number),
            created_at: expect.any(String),
            owned_by: expect.any(String),
          });
        }
      }
    });

    it('applies the auth rules of the dialect the request looks like', async () => {
      const noKey = await fetch(`${up.baseUrl}/models`);
      expect(noKey.status).toBe(401);
      expect(await noKey.json()).toMatchObject({ error: { type: 'authentication_error' } });
      const wrong = await fetch(`${up.baseUrl}/models`, {
        headers: authHeaders('anthropic', 'nope'),
      });
      expect(wrong.status).toBe(401);
      expect(await wrong.json()).toMatchObject({
        type: 'error',
        error: { type: 'authentication_error' },
      });
    });

    it('GET /v1/models/{id} returns one entry or 404', async () => {
      const one = await fetch(`${up.baseUrl}/models/thinking`, {
        headers: authHeaders('anthropic'),
      });
      expect(one.status).toBe(200);
      expect(await one.json()).toMatchObject({ id: 'thinking', type: 'model' });
      const missing = await fetch(`${up.baseUrl}/models/nope`, {
        headers: authHeaders('openai-chat'),
      });
      expect(missing.status).toBe(404);
    });

    it('can list other ids', async () => {
      const other = await startFixtureUpstream({ models: ['gpt-4o', 'claude-sonnet-4-5'] });
      try {
        const res = await fetch(`${other.baseUrl}/models`, { headers: authHeaders('openai-chat') });
        const body = (await res.json()) as { data: { id: string }[] };
        expect(body.data.map((m) => m.id)).toEqual(['gpt-4o', 'claude-sonnet-4-5']);
      } finally {
        await other.close();
      }
    });
  });

  it('unknown routes → 404', async () => {
    const res = await fetch(`${up.baseUrl}/embeddings`, {
      method: 'POST',
      headers: authHeaders('openai-chat'),
      body: '{}',
    });
    expect(res.status).toBe(404);
  });

  describe('hang', () => {
    it.each(DIALECTS)('%s: never answers; a client abort counts in aborted', async (dialect) => {
      for (const stream of [false, true]) {
        up.reset();
        const ac = new AbortController();
        const pending = fetch(`${up.url}${PATH[dialect]}`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', ...authHeaders(dialect) },
          body: JSON.stringify({ model: 'x/hang', stream }),
          signal: ac.signal,
        });
        const settled = jest.fn();
        pending.then(settled, settled);
        await up.waitFor((u) => u.count === 1);
        await new Promise((r) => setTimeout(r, 50));
        expect(settled).not.toHaveBeenCalled();
        expect(up.aborted).toBe(0);
        ac.abort();
        await expect(pending).rejects.toThrow();
        await up.waitFor((u) => u.aborted === 1);
      }
    });

    it('close() ends hung requests without counting them as aborted', async () => {
      const own = await startFixtureUpstream();
      const pending = fetch(`${own.url}/v1/messages`, {
        method: 'POST',
        headers: authHeaders('anthropic', 'k'),
        body: JSON.stringify({ model: 'hang', stream: true }),
      });
      const outcome = pending.then(
        () => 'answered',
        () => 'failed',
      );
      await own.waitFor((u) => u.count === 1);
      await own.close();
      expect(await outcome).toBe('failed');
      expect(own.aborted).toBe(0);
      await own.close(); // idempotent
    });
  });

  describe('chunked streams', () => {
    let chunked: FixtureUpstream;

    beforeAll(async () => {
      chunked = await startFixtureUpstream({ chunkBytes: 61, chunkDelayMs: 1 });
    });

    afterAll(async () => {
      await chunked.close();
    });

    it.each(DIALECTS)('%s: every case, the same bytes in several pieces', async (dialect) => {
      for (const c of FIXTURE_CASES) {
        const a = await call(
          chunked,
          dialect,
          { model: c, stream: true },
          authHeaders(dialect, 'k'),
        );
        expect(a.status).toBe(200);
        expect(a.bytes.equals(readFixture(dialect, `${c}.stream.sse`))).toBe(true);
        expect(a.reads).toBeGreaterThan(1);
      }
    });

    it('small pieces cut multi-byte characters and still add up to the fixture', async () => {
      const chunkBytes = 7;
      const expected = readFixture('anthropic', 'text.stream.sse');
      // Some piece boundary falls inside a UTF-8 sequence (a continuation byte 10xxxxxx follows).
      const cuts: number[] = [];
      for (let i = chunkBytes; i < expected.length; i += chunkBytes) {
        if ((expected[i] & 0xc0) === 0x80) {
          cuts.push(i);
        }
      }
      expect(cuts.length).toBeGreaterThan(0);
      const tiny = await startFixtureUpstream({ chunkBytes, chunkDelayMs: 0 });
      try {
        const a = await call(
          tiny,
          'anthropic',
          { model: 'text', stream: true },
          authHeaders('anthropic', 'k'),
        );
        expect(a.bytes.equals(expected)).toBe(true);
        expect(a.reads).toBeGreaterThan(1);
      } finally {
        await tiny.close();
      }
    });

    it('midstream-error is chunked too, non-stream bodies are not changed', async () => {
      const a = await call(
        chunked,
        'anthropic',
        { model: 'midstream-error', stream: true },
        authHeaders('anthropic', 'k'),
      );
      expect(a.bytes.equals(readFixture('anthropic', 'error.stream.sse'))).toBe(true);
      expect(a.reads).toBeGreaterThan(1);
      const b = await call(
        chunked,
        'openai-chat',
        { model: 'thinking' },
        authHeaders('openai-chat', 'k'),
      );
      expect(b.bytes.equals(readFixture('openai-chat', 'thinking.response.json'))).toBe(true);
    });

    it('a client abort mid-stream counts in aborted', async () => {
      const slow = await startFixtureUpstream({ chunkBytes: 16, chunkDelayMs: 20 });
      try {
        const ac = new AbortController();
        const res = await fetch(`${slow.url}/v1/chat/completions`, {
          method: 'POST',
          headers: authHeaders('openai-chat', 'k'),
          body: JSON.stringify({ model: 'thinking', stream: true }),
          signal: ac.signal,
        });
        const reader = res.body!.getReader();
        const first = await reader.read();
        expect(first.done).toBe(false);
        ac.abort();
        await slow.waitFor((u) => u.aborted === 1);
      } finally {
        await slow.close();
      }
    });
  });

  it('rejects bad chunk options', async () => {
    await expect(startFixtureUpstream({ chunkBytes: 0 })).rejects.toThrow(/chunkBytes/);
    await expect(startFixtureUpstream({ chunkBytes: 4, chunkDelayMs: -1 })).rejects.toThrow(
      /chunkDelayMs/,
    );
  });
});
