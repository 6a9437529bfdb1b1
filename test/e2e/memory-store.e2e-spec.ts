import { ADMIN_PASSWORD, startTestApp, type TestApp } from '../support/app';
import { startMockUpstream, type MockUpstream } from '../support/mock-upstream';

interface ChatCompletion {
  object: string;
  model: string;
  choices: { message: { role: string; content: string }; finish_reason: string }[];
  usage: { prompt_tokens: number; completion_tokens: number; total_tokens: number };
}

/** The single-node embedded default: no REDIS_URL, shared state in process memory. */
describe('in-process store (no Redis)', () => {
  let gw: TestApp;
  let mock: MockUpstream;
  let admin: Record<string, string>;
  beforeAll(async () => {
    mock = await startMockUpstream();
    gw = await startTestApp({ redis: false });
    admin = { authorization: `Bearer ${gw.adminKey}`, 'content-type': 'application/json' };
  });
  afterAll(async () => {
    await gw?.close();
    await mock?.close();
  });

  const modelsStatus = async (key: string): Promise<number> => {
    const r = await fetch(`${gw.url}/v1/models`, { headers: { authorization: `Bearer ${key}` } });
    await r.arrayBuffer();
    return r.status;
  };

  it('reports kv kind "memory" on /health/ready', async () => {
    const r = await fetch(`${gw.url}/health/ready`);
    expect(r.status).toBe(200);
    const body = (await r.json()) as { status: string; info: Record<string, unknown> };
    expect(body.status).toBe('ok');
    expect(body.info.kv).toEqual({ status: 'up', kind: 'memory' });
    expect(body.info.database).toEqual({ status: 'up' });
  });

  it('a new key works, is deleted, and stops working at once', async () => {
    const c = await fetch(`${gw.url}/api/keys`, {
      method: 'POST',
      headers: admin,
      body: JSON.stringify({ name: 'mem-key' }),
    });
    expect(c.status).toBe(201);
    const created = (await c.json()) as { id: string; key: string };
    await expect(modelsStatus(created.key)).resolves.toBe(200);
    await expect(modelsStatus(created.key)).resolves.toBe(200);
    const d = await fetch(`${gw.url}/api/keys/${created.id}`, {
      method: 'DELETE',
      headers: { authorization: admin.authorization },
    });
    expect(d.status).toBe(200);
    await d.arrayBuffer();
    await expect(modelsStatus(created.key)).resolves.toBe(401);
  });

  it('serves a chat completion through a node (non-stream and stream)', async () => {
    const n = await fetch(`${gw.url}/api/provider-nodes`, {
      method: 'POST',
      headers: admin,
      body: JSON.stringify({ name: 'mock', prefix: 'mem', baseUrl: mock.baseUrl }),
    });
    expect(n.status).toBe(201);
    const node = ((await n.json()) as { node: { id: string } }).node;
    const c = await fetch(`${gw.url}/api/providers`, {
      method: 'POST',
      headers: admin,
      body: JSON.stringify({ provider: node.id, name: 'a', apiKey: 'sk-up' }),
    });
    expect(c.status).toBe(201);
    await c.arrayBuffer();

    const r = await fetch(`${gw.url}/v1/chat/completions`, {
      method: 'POST',
      headers: admin,
      body: JSON.stringify({
        model: 'mem/gpt-4o-mini',
        messages: [{ role: 'user', content: 'hello there' }],
        stream: false, // unspecified means stream (OmniRoute's default)
      }),
    });
    expect(r.status).toBe(200);
    const body = (await r.json()) as ChatCompletion;
    expect(body.object).toBe('chat.completion');
    expect(body.choices[0].message.content).toBe(mock.reply);
    expect(body.usage.completion_tokens).toBe(mock.replyChunks.length);
    const upstream = mock.requests.find((q) => q.url === '/v1/chat/completions');
    expect(upstream?.headers.authorization).toBe('Bearer sk-up');
    expect(upstream?.body).toMatchObject({ model: 'gpt-4o-mini' });

    const s = await fetch(`${gw.url}/v1/chat/completions`, {
      method: 'POST',
      headers: admin,
      body: JSON.stringify({
        model: 'mem/gpt-4o-mini',
        messages: [{ role: 'user', content: 'hello there' }],
        stream: true,
      }),
    });
    expect(s.status).toBe(200);
    expect(s.headers.get('content-type')).toMatch(/^text\/event-stream/);
    const sse = await s.text();
    let text = '';
    for (const line of sse.split('\n')) {
      if (line.startsWith('data: {')) {
        const chunk = JSON.parse(line.slice(6)) as {
          choices: { delta?: { content?: string } }[];
        };
        text += chunk.choices[0]?.delta?.content ?? '';
      }
    }
    expect(text).toBe(mock.reply);
    expect(sse.trimEnd().endsWith('data: [DONE]')).toBe(true);
  });

  it('locks logins after 5 failures with the memory store too', async () => {
    // The store works for logins in the first place.
    const ok = await fetch(`${gw.url}/api/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ password: ADMIN_PASSWORD }),
    });
    expect(ok.status).toBe(200);
    await ok.arrayBuffer();
    for (let i = 1; i <= 5; i++) {
      const r = await fetch(`${gw.url}/api/auth/login`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ password: `nope-${i}` }),
      });
      expect({ attempt: i, status: r.status }).toEqual({ attempt: i, status: 401 });
      await r.arrayBuffer();
    }
    const locked = await fetch(`${gw.url}/api/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ password: ADMIN_PASSWORD }),
    });
    expect(locked.status).toBe(429);
    expect(Number(locked.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(locked.headers.get('set-cookie')).toBeNull();
    const body = (await locked.json()) as { error: { code: string } };
    expect(body.error.code).toBe('LOGIN_LOCKED');
    // Management with an admin key is unaffected by the login lock.
    const keys = await fetch(`${gw.url}/api/keys`, { headers: admin });
    expect(keys.status).toBe(200);
    await keys.arrayBuffer();
  });
});
