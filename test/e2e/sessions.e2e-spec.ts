import { RedisKvStore } from '../../src/common/kv/redis-kv.store';
import { KeysService } from '../../src/keys/keys.service';
import { describeSessionsContract } from '../../src/sessions/sessions.contract';
import { SessionsService } from '../../src/sessions/sessions.service';
import { deleteRedisPrefix, REDIS_URL, runId } from '../support/db';
import { useGateway } from '../support/fixtures';
import { call, codeOf, fieldsOf, type Gateway } from '../support/gateway-client';

const PREFIX = `omni-t-${runId()}-sess-${process.pid}:`;

// The session scripts' Lua on a real Redis: each test on its own prefix, two stores on one
// prefix are two replicas.
describeSessionsContract(
  'RedisKvStore',
  (ns) => new RedisKvStore(REDIS_URL, `${PREFIX}${ns}:`),
  () => deleteRedisPrefix(PREFIX),
);

interface CreatedKey {
  key: string;
  id: string;
  maxSessions: number | null;
}

interface SessionView {
  sessionId: string;
  apiKeyId: string | null;
  createdAt: string;
  lastActive: string;
  requestCount: number;
  connectionId: string | null;
  ageMs: number;
  source: 'header' | 'fingerprint';
}

interface SessionsBody {
  count: number;
  sessions: SessionView[];
  byApiKey: Record<string, number>;
}

async function createKey(gw: Gateway, body: Record<string, unknown>): Promise<CreatedKey> {
  const r = await call(gw, 'POST', '/api/keys', { body });
  expect(r.status).toBe(201);
  return r.json as CreatedKey;
}

describe('per-key maxSessions', () => {
  const { gw } = useGateway({ mock: false });

  it('is stored at creation, read back, changed and cleared with PATCH', async () => {
    const created = await createKey(gw, { name: 'limited', maxSessions: 3 });
    expect(created.maxSessions).toBe(3);
    const got = await call(gw, 'GET', `/api/keys/${created.id}`);
    expect(got.json).toMatchObject({ id: created.id, maxSessions: 3 });
    const list = (await call(gw, 'GET', '/api/keys')).json as {
      keys: { id: string; maxSessions: number | null }[];
    };
    expect(list.keys.find((k) => k.id === created.id)?.maxSessions).toBe(3);

    const p = await call(gw, 'PATCH', `/api/keys/${created.id}`, { body: { maxSessions: 10 } });
    expect(p.status).toBe(200);
    expect(p.json).toMatchObject({ maxSessions: 10 });
    expect((await call(gw, 'GET', `/api/keys/${created.id}`)).json).toMatchObject({
      maxSessions: 10,
    });
    const cleared = await call(gw, 'PATCH', `/api/keys/${created.id}`, {
      body: { maxSessions: null },
    });
    expect(cleared.status).toBe(200);
    expect((await call(gw, 'GET', `/api/keys/${created.id}`)).json).toMatchObject({
      maxSessions: null,
    });
  });

  it('defaults to null (unlimited)', async () => {
    const created = await createKey(gw, { name: 'unlimited' });
    expect(created.maxSessions).toBeNull();
    expect((await call(gw, 'GET', `/api/keys/${created.id}`)).json).toMatchObject({
      maxSessions: null,
    });
  });

  it('reaches the hot path principal, fresh after a PATCH', async () => {
    const created = await createKey(gw, { name: 'principal', maxSessions: 2 });
    const keys = gw.app.get(KeysService);
    await expect(keys.check(created.key)).resolves.toMatchObject({
      ok: true,
      key: { id: created.id, maxSessions: 2 },
    });
    await call(gw, 'PATCH', `/api/keys/${created.id}`, { body: { maxSessions: 5 } });
    await expect(keys.check(created.key)).resolves.toMatchObject({
      ok: true,
      key: { maxSessions: 5 },
    });
  });

  const bad: [string, unknown][] = [
    ['zero', 0],
    ['negative', -1],
    ['above 100000', 100_001],
    ['a fraction', 1.5],
    ['a numeric string', '5'],
    ['a boolean', true],
  ];
  it.each(bad)('rejects maxSessions %s with 400 on create and PATCH', async (_t, value) => {
    const r = await call(gw, 'POST', '/api/keys', { body: { name: 'bad', maxSessions: value } });
    expect(r.status).toBe(400);
    expect(codeOf(r.json)).toBe('VALIDATION_FAILED');
    expect(fieldsOf(r.json)).toContain('maxSessions');
    const created = await createKey(gw, { name: 'bad-patch' });
    const p = await call(gw, 'PATCH', `/api/keys/${created.id}`, { body: { maxSessions: value } });
    expect(p.status).toBe(400);
    expect(fieldsOf(p.json)).toContain('maxSessions');
  });

  it('accepts the bounds 1 and 100000', async () => {
    expect((await createKey(gw, { name: 'one', maxSessions: 1 })).maxSessions).toBe(1);
    expect((await createKey(gw, { name: 'max', maxSessions: 100_000 })).maxSessions).toBe(100_000);
  });
});

describe('GET /api/sessions', () => {
  const { gw } = useGateway({ mock: false });

  it('rejects requests without credentials (401) and with an inference-only key (403)', async () => {
    const r = await call(gw, 'GET', '/api/sessions', { key: null });
    expect(r.status).toBe(401);
    const inference = await createKey(gw, { name: 'no-admin' });
    const f = await call(gw, 'GET', '/api/sessions', { key: inference.key });
    expect(f.status).toBe(403);
  });

  it('answers an empty list on a fresh gateway', async () => {
    const r = await call(gw, 'GET', '/api/sessions');
    expect(r.status).toBe(200);
    expect(r.json).toEqual({ count: 0, sessions: [], byApiKey: {} });
  });

  it('lists recorded sessions newest first with counts per key, narrowed by ?apiKeyId', async () => {
    const sessions = gw.app.get(SessionsService);
    const created = await createKey(gw, { name: 'sessions-owner', maxSessions: 2 });
    await expect(sessions.touch('ext:e2e-one', created.id, 2, 'header')).resolves.toEqual({
      ok: true,
    });
    await new Promise((r) => setTimeout(r, 5));
    await sessions.touch('fp:0123456789abcdef', null, null, 'fingerprint');
    await new Promise((r) => setTimeout(r, 5));
    await sessions.touch('ext:e2e-one', created.id, 2, 'header');
    sessions.bind('ext:e2e-one', 'conn-x');
    await new Promise((r) => setTimeout(r, 5));
    await sessions.touch('ext:e2e-two', created.id, 2, 'header');
    const refused = await sessions.touch('ext:e2e-three', created.id, 2, 'header');
    expect(refused.ok).toBe(false);

    const r = await call(gw, 'GET', '/api/sessions');
    expect(r.status).toBe(200);
    const body = r.json as SessionsBody;
    expect(body.count).toBe(3);
    expect(body.byApiKey).toEqual({ [created.id]: 2, anon: 1 });
    expect(body.sessions.map((s) => s.sessionId)).toEqual([
      'ext:e2e-two',
      'ext:e2e-one',
      'fp:0123456789abcdef',
    ]);
    const one = body.sessions[1];
    expect(one).toEqual({
      sessionId: 'ext:e2e-one',
      apiKeyId: created.id,
      createdAt: expect.any(String),
      lastActive: expect.any(String),
      requestCount: 2,
      connectionId: 'conn-x',
      ageMs: expect.any(Number),
      source: 'header',
    });
    expect(Date.parse(one.lastActive)).toBeGreaterThan(Date.parse(one.createdAt));
    expect(body.sessions[2]).toMatchObject({ apiKeyId: null, source: 'fingerprint' });

    const mine = (await call(gw, 'GET', `/api/sessions?apiKeyId=${created.id}`))
      .json as SessionsBody;
    expect(mine.count).toBe(2);
    expect(mine.byApiKey).toEqual({ [created.id]: 2 });
    const anon = (await call(gw, 'GET', '/api/sessions?apiKeyId=anon')).json as SessionsBody;
    expect(anon.sessions.map((s) => s.sessionId)).toEqual(['fp:0123456789abcdef']);
  });

  it('rejects an ?apiKeyId that is no key id with 400', async () => {
    for (const q of ['x', 'not-a-uuid', '%00', '*']) {
      const r = await call(gw, 'GET', `/api/sessions?apiKeyId=${q}`);
      expect({ q, status: r.status }).toEqual({ q, status: 400 });
      expect(codeOf(r.json)).toBe('VALIDATION_FAILED');
      expect(fieldsOf(r.json)).toContain('apiKeyId');
    }
  });
});

describe('sessions on the chat path', () => {
  const { gw, mock } = useGateway();
  const MESSAGES = [{ role: 'user', content: 'hello there' }];

  async function chat(
    key: string,
    headers: Record<string, string> = {},
    messages: unknown = MESSAGES,
  ): Promise<Response> {
    return fetch(`${gw.url}/v1/chat/completions`, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${key}`,
        'content-type': 'application/json',
        ...headers,
      },
      body: JSON.stringify({ model: 'sx/gpt-4o-mini', messages, stream: false }),
    });
  }

  beforeAll(async () => {
    const { addMockNode } = await import('../support/gateway-client');
    await addMockNode(gw, 'sx', mock.baseUrl);
  });

  it('answers with the client session id, or a stable fingerprint of the conversation', async () => {
    const a = await chat(gw.adminKey, { 'x-session-id': 'my-session' });
    expect(a.status).toBe(200);
    expect(a.headers.get('x-omniroute-session-id')).toBe('ext:my-session');
    const f1 = await chat(gw.adminKey);
    const f2 = await chat(gw.adminKey);
    expect(f1.headers.get('x-omniroute-session-id')).toMatch(/^fp:[0-9a-f]{16}$/);
    expect(f2.headers.get('x-omniroute-session-id')).toBe(f1.headers.get('x-omniroute-session-id'));
    const other = await chat(gw.adminKey, {}, [{ role: 'user', content: 'another topic' }]);
    expect(other.headers.get('x-omniroute-session-id')).not.toBe(
      f1.headers.get('x-omniroute-session-id'),
    );
  });

  it('refuses a new session beyond the key’s maxSessions with 429 in the caller’s dialect', async () => {
    const created = await call(gw, 'POST', '/api/keys', {
      body: { name: 'two-sessions', maxSessions: 2 },
    });
    const key = (created.json as CreatedKey).key;
    expect((await chat(key, { 'x-session-id': 's1' })).status).toBe(200);
    expect((await chat(key, { 'x-session-id': 's2' })).status).toBe(200);
    const third = await chat(key, { 'x-session-id': 's3' });
    expect(third.status).toBe(429);
    const body = (await third.json()) as { error: { code: string; message: string } };
    expect(body.error.code).toBe('session_limit_exceeded');
    expect(body.error.message).toMatch(/maximum number of active sessions \(2\)/);
    expect((await chat(key, { 'x-session-id': 's1' })).status).toBe(200); // an active one goes on
  });

  it('lists the sessions with their request counts', async () => {
    await chat(gw.adminKey, { 'x-session-id': 'counted' });
    await chat(gw.adminKey, { 'x-session-id': 'counted' });
    await new Promise((r) => setTimeout(r, 1_200)); // touches are sent once a second
    const r = await call(gw, 'GET', '/api/sessions');
    const mine = (r.json as { sessions: SessionView[] }).sessions.find(
      (s) => s.sessionId === 'ext:counted',
    );
    expect(mine?.requestCount).toBe(2);
  });
});

describe('session affinity', () => {
  const { gw } = useGateway({ mock: false });

  it('keeps an explicit session on the account that served it, across a rotating strategy', async () => {
    const { startMockUpstream } = await import('../support/mock-upstream');
    const a = await startMockUpstream({ reply: 'from A' });
    const b = await startMockUpstream({ reply: 'from B' });
    try {
      for (const [name, m, priority] of [
        ['aff-a', a, 1],
        ['aff-b', b, 2],
      ] as const) {
        await call(gw, 'POST', '/api/providers', {
          body: {
            provider: 'openai',
            name,
            apiKey: 'sk-x',
            priority,
            providerSpecificData: { baseUrl: m.baseUrl },
          },
        });
      }
      await call(gw, 'PUT', '/api/resilience', {
        body: { accountRotation: { strategy: 'round-robin', stickyRoundRobinLimit: 1 } },
      });
      const ask = async (session?: string): Promise<string> => {
        const r = await fetch(`${gw.url}/v1/chat/completions`, {
          method: 'POST',
          headers: {
            authorization: `Bearer ${gw.adminKey}`,
            'content-type': 'application/json',
            ...(session ? { 'x-session-id': session } : {}),
          },
          body: JSON.stringify({
            model: 'openai/gpt-4o-mini',
            messages: [{ role: 'user', content: 'q' }],
            stream: false,
          }),
        });
        const j = (await r.json()) as { choices: { message: { content: string } }[] };
        return j.choices[0].message.content;
      };
      // without a session the accounts alternate
      const free = [await ask(), await ask()];
      expect(new Set(free).size).toBe(2);
      // with one, every request stays where the first went
      const first = await ask('sticky-1');
      for (let i = 0; i < 4; i++) {
        expect(await ask('sticky-1')).toBe(first);
      }
    } finally {
      await a.close();
      await b.close();
    }
  });
});
