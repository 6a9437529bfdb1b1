import { ADMIN_PASSWORD } from '../support/app';
import { useGateway } from '../support/fixtures';
import { addMockNode, call, codeOf, type CallResult } from '../support/gateway-client';

interface ChatCompletion {
  object: string;
  model: string;
  choices: { message: { role: string; content: string }; finish_reason: string }[];
  usage: { prompt_tokens: number; completion_tokens: number; total_tokens: number };
}

/** The single-node embedded default: no REDIS_URL, shared state in process memory. */
describe('in-process store (no Redis)', () => {
  const { gw, mock } = useGateway({ app: { redis: false } });

  const modelsStatus = async (key: string): Promise<number> =>
    (await call(gw, 'GET', '/v1/models', { key })).status;

  it('reports kv kind "memory" on /health/ready', async () => {
    const r = await fetch(`${gw.url}/health/ready`);
    expect(r.status).toBe(200);
    const body = (await r.json()) as { status: string; info: Record<string, unknown> };
    expect(body.status).toBe('ok');
    expect(body.info.kv).toEqual({ status: 'up', kind: 'memory' });
    expect(body.info.database).toEqual({ status: 'up' });
  });

  it('a new key works, is deleted, and stops working at once', async () => {
    const c = await call(gw, 'POST', '/api/keys', { body: { name: 'mem-key' } });
    expect(c.status).toBe(201);
    const created = c.json as { id: string; key: string };
    await expect(modelsStatus(created.key)).resolves.toBe(200);
    await expect(modelsStatus(created.key)).resolves.toBe(200);
    const d = await call(gw, 'DELETE', `/api/keys/${created.id}`);
    expect(d.status).toBe(200);
    await expect(modelsStatus(created.key)).resolves.toBe(401);
  });

  it('serves a chat completion through a node (non-stream and stream)', async () => {
    await addMockNode(gw, 'mem', mock.baseUrl);

    const r = await call(gw, 'POST', '/v1/chat/completions', {
      body: {
        model: 'mem/gpt-4o-mini',
        messages: [{ role: 'user', content: 'hello there' }],
        stream: false, // unspecified means stream (OmniRoute's default)
      },
    });
    expect(r.status).toBe(200);
    const body = r.json as ChatCompletion;
    expect(body.object).toBe('chat.completion');
    expect(body.choices[0].message.content).toBe(mock.reply);
    expect(body.usage.completion_tokens).toBe(mock.replyChunks.length);
    const upstream = mock.requests.find((q) => q.url === '/v1/chat/completions');
    expect(upstream?.headers.authorization).toBe('Bearer sk-up');
    expect(upstream?.body).toMatchObject({ model: 'gpt-4o-mini' });

    const s = await call(gw, 'POST', '/v1/chat/completions', {
      body: {
        model: 'mem/gpt-4o-mini',
        messages: [{ role: 'user', content: 'hello there' }],
        stream: true,
      },
    });
    expect(s.status).toBe(200);
    expect(s.headers.get('content-type')).toMatch(/^text\/event-stream/);
    const sse = s.text;
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
    const login = (password: string): Promise<CallResult> =>
      call(gw, 'POST', '/api/auth/login', { key: null, body: { password } });
    // The store works for logins in the first place.
    const ok = await login(ADMIN_PASSWORD);
    expect(ok.status).toBe(200);
    for (let i = 1; i <= 5; i++) {
      const r = await login(`nope-${i}`);
      expect({ attempt: i, status: r.status }).toEqual({ attempt: i, status: 401 });
    }
    const locked = await login(ADMIN_PASSWORD);
    expect(locked.status).toBe(429);
    expect(Number(locked.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(locked.headers.get('set-cookie')).toBeNull();
    expect(codeOf(locked.json)).toBe('LOGIN_LOCKED');
    // Management with an admin key is unaffected by the login lock.
    expect((await call(gw, 'GET', '/api/keys')).status).toBe(200);
  });
});
