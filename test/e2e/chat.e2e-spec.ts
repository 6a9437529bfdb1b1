import OpenAI from 'openai';
import { UsageService } from '../../src/usage/usage.service';
import { startTestApp, type TestApp } from '../support/app';
import { queryDb } from '../support/db';
import { useGateway } from '../support/fixtures';
import { addMockNode, admin } from '../support/gateway-client';
import { startMockUpstream, type MockUpstream } from '../support/mock-upstream';

const MESSAGES = [{ role: 'user' as const, content: 'Say hello' }];

async function usageRows(
  gw: TestApp,
  where = 'true',
  params: unknown[] = [],
): Promise<Record<string, unknown>[]> {
  await gw.app.get(UsageService).flush();
  return queryDb(gw.dbUrl, `SELECT * FROM usage_records WHERE ${where} ORDER BY id`, params);
}

function client(gw: TestApp, key = gw.adminKey): OpenAI {
  return new OpenAI({ apiKey: key, baseURL: `${gw.url}/v1`, maxRetries: 0, timeout: 20_000 });
}

function post(gw: TestApp, body: unknown, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(`${gw.url}/v1/chat/completions`, {
    method: 'POST',
    headers: {
      authorization: `Bearer ${gw.adminKey}`,
      'content-type': 'application/json',
      ...headers,
    },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
}

describe('POST /v1/chat/completions (OpenAI dialect, OpenAI-compatible upstreams)', () => {
  const { gw, mock } = useGateway({
    mock: { apiKey: 'sk-up' },
    app: { env: { UPSTREAM_TIMEOUT_MS: '1000', SSE_HEARTBEAT_MS: '150' } },
  });

  beforeAll(async () => {
    await addMockNode(gw, 'mock', mock.baseUrl);
    // One node per failure scenario: a failing account cools down, which must not leak into other tests.
    for (const p of ['f500', 'f400', 'freset', 'fhang', 'fmid', 'fmidev', 'fslow', 'fabort']) {
      await addMockNode(gw, p, mock.baseUrl);
    }
  });
  beforeEach(() => mock.reset());

  describe('with the official openai SDK', () => {
    it('answers a non-stream completion from the upstream, body passed through', async () => {
      const r = await client(gw).chat.completions.create({
        model: 'mock/gpt-4o-mini',
        messages: MESSAGES,
        temperature: 0.2,
      });
      expect(r.choices[0].message.content).toBe(mock.reply);
      expect(r.model).toBe('gpt-4o-mini');
      const sent = mock.lastRequest()!;
      expect(sent.body.model).toBe('gpt-4o-mini');
      expect(sent.body.temperature).toBe(0.2);
      expect(sent.body.stream).toBe(false);
      expect(sent.headers.authorization).toBe('Bearer sk-up');
    });

    it('streams a completion chunk by chunk and ends with [DONE]', async () => {
      const stream = await client(gw).chat.completions.create({
        model: 'mock/gpt-4o-mini',
        messages: MESSAGES,
        stream: true,
      });
      const parts: string[] = [];
      let finish: string | null = null;
      for await (const chunk of stream) {
        parts.push(chunk.choices[0]?.delta?.content ?? '');
        finish = chunk.choices[0]?.finish_reason ?? finish;
      }
      expect(parts.join('')).toBe(mock.reply);
      expect(finish).toBe('stop');
    });

    it('gives the client its usage chunk only when it asked for one', async () => {
      const withUsage = await client(gw).chat.completions.create({
        model: 'mock/gpt-4o-mini',
        messages: MESSAGES,
        stream: true,
        stream_options: { include_usage: true },
      });
      let usage: OpenAI.CompletionUsage | undefined;
      for await (const c of withUsage) {
        usage = c.usage ?? usage;
      }
      expect(usage?.completion_tokens).toBe(mock.replyChunks.length);

      const res = await post(gw, { model: 'mock/gpt-4o-mini', messages: MESSAGES, stream: true });
      const text = await res.text();
      expect(text).not.toContain('"usage"');
      expect(text.trim().endsWith('data: [DONE]')).toBe(true);
      expect(mock.lastRequest()!.body.stream_options).toEqual({ include_usage: true }); // asked upstream for metering
    });

    it('lists the configured models with models.list()', async () => {
      const ids: string[] = [];
      // Connections of a node discover its models in the background right after creation.
      for (let i = 0; i < 50 && !ids.length; i++) {
        for await (const m of client(gw).models.list()) {
          ids.push(m.id);
        }
        await new Promise((r) => setTimeout(r, 50));
      }
      const res = await fetch(`${gw.url}/models`, {
        headers: { authorization: `Bearer ${gw.adminKey}` },
      });
      expect(res.status).toBe(200);
      expect(ids.length).toBeGreaterThan(0);
      expect(ids).toContain('mock/gpt-4o-mini');
      expect(((await res.json()) as { data: unknown[] }).data).toHaveLength(ids.length);
    });

    it('serves the aliases /chat/completions and /v1/v1/chat/completions', async () => {
      for (const path of ['/chat/completions', '/v1/v1/chat/completions']) {
        const res = await fetch(`${gw.url}${path}`, {
          method: 'POST',
          headers: { authorization: `Bearer ${gw.adminKey}`, 'content-type': 'application/json' },
          body: JSON.stringify({ model: 'mock/gpt-4o-mini', messages: MESSAGES, stream: false }),
        });
        expect(res.status).toBe(200);
        expect(((await res.json()) as { object: string }).object).toBe('chat.completion');
      }
    });
  });

  describe('stream negotiation (reference §2)', () => {
    it('streams by default when neither stream nor Accept says otherwise', async () => {
      const res = await post(
        gw,
        { model: 'mock/gpt-4o-mini', messages: MESSAGES },
        { accept: '*/*' },
      );
      expect(res.headers.get('content-type')).toContain('text/event-stream');
      await res.text();
    });
    it('answers JSON when Accept asks for JSON only', async () => {
      const res = await post(
        gw,
        { model: 'mock/gpt-4o-mini', messages: MESSAGES },
        { accept: 'application/json' },
      );
      expect(res.headers.get('content-type')).toContain('application/json');
      await res.json();
    });
    it('honours the non_stream alias and removes it upstream', async () => {
      const res = await post(gw, {
        model: 'mock/gpt-4o-mini',
        messages: MESSAGES,
        non_stream: true,
      });
      expect(res.headers.get('content-type')).toContain('application/json');
      await res.json();
      expect(mock.lastRequest()!.body).not.toHaveProperty('non_stream');
    });
  });

  describe('headers', () => {
    it('echoes the client x-request-id and adds provider/model/token meta headers', async () => {
      const res = await post(
        gw,
        { model: 'mock/gpt-4o-mini', messages: MESSAGES, stream: false },
        { 'x-request-id': 'client-req-42' },
      );
      expect(res.status).toBe(200);
      expect(res.headers.get('x-request-id')).toBe('client-req-42');
      expect(res.headers.get('x-omniroute-provider')).toBe('mock');
      expect(res.headers.get('x-omniroute-model')).toBe('gpt-4o-mini');
      expect(Number(res.headers.get('x-omniroute-tokens-out'))).toBe(mock.replyChunks.length);
      await res.json();
    });
  });

  describe('authentication', () => {
    it('rejects a request without credentials with 401 in the OpenAI shape', async () => {
      const res = await fetch(`${gw.url}/v1/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'mock/gpt-4o-mini', messages: MESSAGES }),
      });
      expect(res.status).toBe(401);
      const body = (await res.json()) as { error: { type: string; code: string; message: string } };
      expect(body.error.type).toBe('authentication_error');
      expect(body.error.code).toBe('invalid_api_key');
      expect(mock.count).toBe(0);
    });
    it('rejects a wrong key with 401 through the SDK', async () => {
      await expect(
        client(gw, 'sk-wrong-key-000000000000').chat.completions.create({
          model: 'mock/x',
          messages: MESSAGES,
        }),
      ).rejects.toMatchObject({ status: 401 });
    });
    it('accepts the key as x-api-key too', async () => {
      const res = await fetch(`${gw.url}/v1/models`, { headers: { 'x-api-key': gw.adminKey } });
      expect(res.status).toBe(200);
    });
    it('rejects /v1/models without credentials', async () => {
      expect((await fetch(`${gw.url}/v1/models`)).status).toBe(401);
    });
  });

  describe('bad input gets a 4xx in the OpenAI shape, never a 500', () => {
    const cases: [string, unknown, number, string][] = [
      ['malformed JSON', '{"model": "mock/x", "messages": [', 400, 'invalid_json'],
      ['a JSON array body', '[1,2]', 400, 'invalid_json'],
      ['a missing model', { messages: MESSAGES }, 400, 'missing_model'],
      ['a model of the wrong type', { model: 42, messages: MESSAGES }, 400, 'invalid_request'],
      [
        'a path-traversal model',
        { model: '../etc/passwd', messages: MESSAGES },
        400,
        'invalid_model',
      ],
      ['missing messages', { model: 'mock/gpt-4o-mini' }, 400, 'invalid_request'],
      [
        'messages that are not objects',
        { model: 'mock/gpt-4o-mini', messages: ['hi'] },
        400,
        'invalid_request',
      ],
      [
        'a non-numeric temperature',
        { model: 'mock/gpt-4o-mini', messages: MESSAGES, temperature: 'hot' },
        400,
        'invalid_request',
      ],
      [
        'a non-boolean stream',
        { model: 'mock/gpt-4o-mini', messages: MESSAGES, stream: 'yes' },
        400,
        'invalid_request',
      ],
      [
        'an unknown provider prefix',
        { model: 'nope/gpt-4o', messages: MESSAGES },
        404,
        'model_not_found',
      ],
      [
        'an unknown bare model',
        { model: 'no-such-model', messages: MESSAGES },
        404,
        'model_not_found',
      ],
      [
        'a known provider without connections',
        { model: 'openai/gpt-4o', messages: MESSAGES },
        400,
        'no_credentials',
      ],
    ];
    it.each(cases)('rejects %s', async (_name, body, status, code) => {
      const res = await post(gw, body);
      expect(res.status).toBe(status);
      const j = (await res.json()) as { error: { message: string; type: string; code: string } };
      expect(j.error.code).toBe(code);
      expect(j.error.message.length).toBeGreaterThan(5);
      expect(j.error.type).toBe(
        status === 404 || status === 400 ? 'invalid_request_error' : j.error.type,
      );
      expect(mock.count).toBe(0);
    });
    it('rejects a plain-text body with 415', async () => {
      const res = await fetch(`${gw.url}/v1/chat/completions`, {
        method: 'POST',
        headers: { authorization: `Bearer ${gw.adminKey}`, 'content-type': 'text/plain' },
        body: 'hello',
      });
      expect(res.status).toBe(415);
      await res.json();
    });
    it('rejects an unsupported content type with 415', async () => {
      const res = await fetch(`${gw.url}/v1/chat/completions`, {
        method: 'POST',
        headers: { authorization: `Bearer ${gw.adminKey}`, 'content-type': 'application/xml' },
        body: '<a/>',
      });
      expect(res.status).toBe(415);
      expect(((await res.json()) as { error: { type: string } }).error.type).toBe(
        'invalid_request_error',
      );
    });
  });

  describe('upstream failures', () => {
    it('re-emits an upstream 500 with its status and message, and records usage', async () => {
      const res = await post(
        gw,
        { model: 'f500/fail-500', messages: MESSAGES, stream: false },
        { 'x-request-id': 'fail-500-req' },
      );
      expect(res.status).toBe(500);
      const j = (await res.json()) as { error: { message: string; type: string } };
      expect(j.error.message).toMatch(/^\[500\]: /);
      expect(j.error.type).toBe('server_error');
      const rows = await usageRows(gw, 'request_id = $1', ['fail-500-req']);
      expect(rows).toHaveLength(1);
      expect(rows[0]).toMatchObject({
        status: 500,
        success: false,
        provider: expect.stringContaining('openai-compatible'),
      });
    });

    it('re-emits an upstream 400 without retrying another account', async () => {
      const res = await post(gw, { model: 'f400/fail-400', messages: MESSAGES, stream: false });
      expect(res.status).toBe(400);
      expect(mock.count).toBe(1);
      await res.json();
    });

    it('answers 502 when the upstream resets the connection', async () => {
      const res = await post(
        gw,
        { model: 'freset/reset', messages: MESSAGES, stream: false },
        { 'x-request-id': 'reset-req' },
      );
      expect(res.status).toBe(502);
      expect(((await res.json()) as { error: { type: string } }).error.type).toBe('server_error');
      const rows = await usageRows(gw, 'request_id = $1', ['reset-req']);
      expect(rows[0]).toMatchObject({
        status: 502,
        success: false,
        error_code: 'UPSTREAM_UNREACHABLE',
      });
    });

    it('answers 504 within the configured timeout when the upstream hangs', async () => {
      const started = Date.now();
      const res = await post(
        gw,
        { model: 'fhang/hang', messages: MESSAGES, stream: false },
        { 'x-request-id': 'hang-req' },
      );
      expect(res.status).toBe(504);
      expect(Date.now() - started).toBeLessThan(5_000);
      await res.json();
      const rows = await usageRows(gw, 'request_id = $1', ['hang-req']);
      expect(rows[0]).toMatchObject({ status: 504, error_code: 'UPSTREAM_TIMEOUT' });
    });

    it('ends a stream that fails after its first byte with an error event the SDK raises', async () => {
      const stream = await client(gw).chat.completions.create({
        model: 'fmid/midstream-error',
        messages: MESSAGES,
        stream: true,
      });
      const seen: string[] = [];
      await expect(
        (async () => {
          for await (const c of stream) {
            seen.push(c.choices[0]?.delta?.content ?? '');
          }
        })(),
      ).rejects.toThrow(/Upstream stream failed/);
      expect(seen.join('').length).toBeGreaterThan(0);
    });

    it('forwards an upstream error event mid-stream and does not add [DONE]', async () => {
      const res = await post(gw, {
        model: 'fmidev/midstream-error-event',
        messages: MESSAGES,
        stream: true,
      });
      const text = await res.text();
      expect(text).toContain('"error"');
      expect(text).not.toContain('[DONE]');
    });

    it('sends SSE comment heartbeats while the upstream is silent', async () => {
      mock.configure({ slowMs: 700 });
      const res = await post(gw, {
        model: 'fslow/slow-first-token',
        messages: MESSAGES,
        stream: true,
      });
      const text = await res.text();
      expect(text).toContain(': keepalive');
      expect(text.trim().endsWith('data: [DONE]')).toBe(true);
    });

    it('aborts the upstream request when the client goes away', async () => {
      const ac = new AbortController();
      const pending = post(gw, { model: 'fabort/hang', messages: MESSAGES, stream: true }, {});
      void pending.catch(() => undefined);
      const res = fetch(`${gw.url}/v1/chat/completions`, {
        method: 'POST',
        signal: ac.signal,
        headers: { authorization: `Bearer ${gw.adminKey}`, 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'fabort/hang', messages: MESSAGES, stream: false }),
      });
      await mock.waitFor((m) => m.count >= 2);
      ac.abort();
      await expect(res).rejects.toThrow();
      await mock.waitFor((m) => m.aborted >= 1, 3000);
      await pending.then((r) => r.text()).catch(() => undefined);
    });
  });
});

describe('node kinds', () => {
  const { gw, mock } = useGateway();

  it('stores an anthropic-compatible node (base URL without /messages) and probes it with x-api-key', async () => {
    const { node } = await admin<{ node: { id: string; baseUrl: string; type: string } }>(
      gw,
      'POST',
      '/api/provider-nodes',
      {
        name: 'claude-proxy',
        prefix: 'cl',
        type: 'anthropic-compatible',
        baseUrl: `${mock.baseUrl}/messages`,
      },
    );
    expect(node.id).toMatch(/^anthropic-compatible-/);
    expect(node.baseUrl).toBe(mock.baseUrl);
    const { connection } = await admin<{ connection: { id: string } }>(
      gw,
      'POST',
      '/api/providers',
      {
        provider: node.id,
        name: 'a',
        apiKey: 'sk-ant-test',
      },
    );
    mock.reset();
    await admin(gw, 'POST', `/api/providers/${connection.id}/test`, {});
    const probe = mock.lastRequest()!;
    expect(probe.url).toBe('/v1/models');
    expect(probe.headers['x-api-key']).toBe('sk-ant-test');
    expect(probe.headers['anthropic-version']).toBe('2023-06-01');
    expect(probe.headers.authorization).toBeUndefined();

    // Chat requests to it are translated (test/e2e/dialects.e2e-spec.ts).
  });

  it('refuses a chat request for an embeddings node with a clear 400', async () => {
    const { node } = await admin<{ node: { id: string } }>(gw, 'POST', '/api/provider-nodes', {
      name: 'emb',
      prefix: 'emb',
      apiType: 'embeddings',
      baseUrl: mock.baseUrl,
    });
    expect(node.id).toMatch(/^openai-compatible-embeddings-/);
    await admin(gw, 'POST', '/api/providers', { provider: node.id, name: 'a', apiKey: 'k' });
    const res = await post(gw, {
      model: 'emb/text-embedding-3-small',
      messages: MESSAGES,
      stream: false,
    });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: { message: string } }).error.message).toMatch(
      /does not serve chat \(it serves embeddings\)/,
    );
  });
});

describe('account choice and fallback within a provider', () => {
  let gw: TestApp;
  let a: MockUpstream;
  let b: MockUpstream;
  let ids: { a: string; b: string };

  beforeAll(async () => {
    a = await startMockUpstream();
    b = await startMockUpstream({ reply: 'from B' });
    gw = await startTestApp();
    // One built-in provider with two accounts whose base URLs point at different mocks.
    const ca = await admin<{ connection: { id: string } }>(gw, 'POST', '/api/providers', {
      provider: 'openai',
      name: 'acct-a',
      apiKey: 'sk-a',
      priority: 1,
      providerSpecificData: { baseUrl: a.baseUrl },
    });
    const cb = await admin<{ connection: { id: string } }>(gw, 'POST', '/api/providers', {
      provider: 'openai',
      name: 'acct-b',
      apiKey: 'sk-b',
      priority: 2,
      providerSpecificData: { baseUrl: b.baseUrl },
    });
    ids = { a: ca.connection.id, b: cb.connection.id };
  });
  afterAll(async () => {
    await gw?.close();
    await a?.close();
    await b?.close();
  });

  it('uses the first account by priority (fill-first)', async () => {
    const r = await client(gw).chat.completions.create({
      model: 'openai/gpt-4o-mini',
      messages: MESSAGES,
    });
    expect(r.choices[0].message.content).toBe(a.reply);
    expect(b.stats().chatCompletions).toBe(0);
  });

  it('pins an account with x-omniroute-connection', async () => {
    const res = await post(
      gw,
      { model: 'openai/gpt-4o-mini', messages: MESSAGES, stream: false },
      { 'x-omniroute-connection': ids.b },
    );
    expect(
      ((await res.json()) as { choices: { message: { content: string } }[] }).choices[0].message
        .content,
    ).toBe('from B');
  });

  it('moves to the next account on a 429, then skips the cooling account', async () => {
    a.setFault('fail-429');
    const before = { a: a.stats().chatCompletions, b: b.stats().chatCompletions };
    const res = await post(
      gw,
      { model: 'openai/gpt-4o-mini', messages: MESSAGES, stream: false },
      { 'x-request-id': 'fallback-429' },
    );
    expect(res.status).toBe(200);
    expect(
      ((await res.json()) as { choices: { message: { content: string } }[] }).choices[0].message
        .content,
    ).toBe('from B');
    const rows = await usageRows(gw, 'request_id = $1', ['fallback-429']);
    expect(rows.map((r) => [r.connection_id, r.status])).toEqual([
      [ids.a, 429],
      [ids.b, 200],
    ]);
    // A is cooling down (Retry-After: 2): the next request goes straight to B.
    const again = await post(gw, { model: 'openai/gpt-4o-mini', messages: MESSAGES, stream: true });
    expect(await again.text()).toContain('from');
    expect(a.stats().chatCompletions - before.a).toBe(1);
    expect(b.stats().chatCompletions - before.b).toBe(2);
    a.setFault(null);
  });

  it('answers 429 with Retry-After when every account is cooling down', async () => {
    await new Promise((r) => setTimeout(r, 2_100)); // A's cooldown from the previous test ends
    a.setFault('fail-429');
    b.setFault('fail-429');
    const first = await post(gw, {
      model: 'openai/gpt-4o-mini',
      messages: MESSAGES,
      stream: false,
    });
    expect(first.status).toBe(429);
    expect(Number(first.headers.get('retry-after'))).toBeGreaterThan(0);
    await first.json();
    const countBefore = a.stats().chatCompletions + b.stats().chatCompletions;
    const second = await post(gw, {
      model: 'openai/gpt-4o-mini',
      messages: MESSAGES,
      stream: false,
    });
    expect(second.status).toBe(429);
    const body = (await second.json()) as { error: { type: string; message: string } };
    expect(body.error.type).toBe('rate_limit_error');
    expect(body.error.message).toMatch(/cooling down/);
    expect(second.headers.get('retry-after')).toBeTruthy();
    expect(a.stats().chatCompletions + b.stats().chatCompletions).toBe(countBefore); // answered without calling anyone
    a.setFault(null);
    b.setFault(null);
  });
});

describe('REQUIRE_API_KEY=false', () => {
  const { gw, mock } = useGateway({ app: { env: { REQUIRE_API_KEY: 'false' } } });

  it('lets a keyless request through (metered without a key) but still rejects a wrong key', async () => {
    await addMockNode(gw, 'open', mock.baseUrl);
    const res = await fetch(`${gw.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-request-id': 'keyless-1' },
      body: JSON.stringify({ model: 'open/gpt-4o-mini', messages: MESSAGES, stream: false }),
    });
    expect(res.status).toBe(200);
    await res.json();
    const rows = await usageRows(gw, 'request_id = $1', ['keyless-1']);
    expect(rows).toHaveLength(1);
    expect(rows[0].api_key_id).toBeNull();
    expect((await fetch(`${gw.url}/v1/models`)).status).toBe(200);
    const wrong = await fetch(`${gw.url}/v1/models`, {
      headers: { authorization: 'Bearer sk-not-a-real-key-000000' },
    });
    expect(wrong.status).toBe(401);
  });
});
