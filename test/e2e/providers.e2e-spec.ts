import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { decryptWith, deriveKey } from '../../src/common/crypto/secrets.service';
import { startTestApp, type TestApp } from '../support/app';
import { queryDb } from '../support/db';
import { useGateway } from '../support/fixtures';
import {
  call,
  codeOf,
  fieldsOf,
  type Gateway,
  type ManagementError,
} from '../support/gateway-client';
import { startMockUpstream, type MockUpstream } from '../support/mock-upstream';

interface NodeView {
  id: string;
  type: string;
  name: string;
  prefix: string;
  apiType: string;
  baseUrl: string;
  chatPath: string | null;
  modelsPath: string | null;
}

interface ConnectionView {
  id: string;
  provider: string;
  name: string;
  priority: number;
  isActive: boolean;
  defaultModel: string | null;
  hasApiKey: boolean;
  testStatus: string;
  lastError: string | null;
  errorCode: string | null;
  lastTested: string | null;
  providerSpecificData: Record<string, unknown>;
}

const MISSING_UUID = '00000000-0000-0000-0000-000000000000';

async function createNode(gw: Gateway, body: Record<string, unknown>): Promise<NodeView> {
  const r = await call(gw, 'POST', '/api/provider-nodes', { body });
  if (r.status !== 201) {
    throw new Error(`node create: ${r.status} ${r.text}`);
  }
  return (r.json as { node: NodeView }).node;
}

async function createConnection(
  gw: Gateway,
  body: Record<string, unknown>,
): Promise<ConnectionView> {
  const r = await call(gw, 'POST', '/api/providers', { body });
  if (r.status !== 201) {
    throw new Error(`connection create: ${r.status} ${r.text}`);
  }
  return (r.json as { connection: ConnectionView }).connection;
}

describe('/api/provider-nodes', () => {
  const { gw, mock } = useGateway();

  it('creates a node (201 {node}) with an openai-compatible-chat- id, listed by GET', async () => {
    const r = await call(gw, 'POST', '/api/provider-nodes', {
      body: {
        name: 'Local mock',
        prefix: 'nodes-a',
        baseUrl: `${mock.baseUrl}/`,
      },
    });
    expect(r.status).toBe(201);
    const node = (r.json as { node: NodeView }).node;
    expect(node.id).toMatch(/^openai-compatible-chat-[0-9a-f]+$/);
    expect(node).toMatchObject({
      name: 'Local mock',
      prefix: 'nodes-a',
      type: 'openai-compatible',
      apiType: 'chat',
      baseUrl: mock.baseUrl, // trailing slash trimmed
      chatPath: null,
      modelsPath: null,
    });

    const list = await call(gw, 'GET', '/api/provider-nodes');
    expect(list.status).toBe(200);
    const body = list.json as { nodes: NodeView[]; ccCompatibleProviderEnabled: boolean };
    expect(body.ccCompatibleProviderEnabled).toBe(false);
    expect(body.nodes.map((n) => n.id)).toContain(node.id);

    const one = await call(gw, 'GET', `/api/provider-nodes/${node.id}`);
    expect(one.status).toBe(200);
    expect((one.json as { node: NodeView }).node.id).toBe(node.id);
  });

  it('rejects a duplicate prefix (any case) with 409', async () => {
    await createNode(gw, { name: 'dup-1', prefix: 'dup', baseUrl: mock.baseUrl });
    for (const prefix of ['dup', 'DUP']) {
      const r = await call(gw, 'POST', '/api/provider-nodes', {
        body: {
          name: 'dup-2',
          prefix,
          baseUrl: mock.baseUrl,
        },
      });
      expect({ prefix, status: r.status }).toEqual({ prefix, status: 409 });
      expect(codeOf(r.json)).toBe('CONFLICT');
    }
    const nodes = (
      (await call(gw, 'GET', '/api/provider-nodes')).json as { nodes: NodeView[] }
    ).nodes.filter((n) => n.prefix.toLowerCase() === 'dup');
    expect(nodes).toHaveLength(1);
  });

  it('PUT updates a node; a prefix taken by another node is 409; an empty PUT is 400', async () => {
    const node = await createNode(gw, { name: 'put-me', prefix: 'put-a', baseUrl: mock.baseUrl });
    await createNode(gw, { name: 'other', prefix: 'put-b', baseUrl: mock.baseUrl });
    const r = await call(gw, 'PUT', `/api/provider-nodes/${node.id}`, {
      body: {
        name: 'renamed',
        prefix: 'put-c',
        chatPath: '/v2/chat',
        modelsPath: '/v2/models',
      },
    });
    expect(r.status).toBe(200);
    expect((r.json as { node: NodeView }).node).toMatchObject({
      id: node.id,
      name: 'renamed',
      prefix: 'put-c',
      chatPath: '/v2/chat',
      modelsPath: '/v2/models',
      baseUrl: mock.baseUrl,
    });
    const got = await call(gw, 'GET', `/api/provider-nodes/${node.id}`);
    expect((got.json as { node: NodeView }).node.name).toBe('renamed');
    // Keeping its own prefix is fine.
    expect(
      (await call(gw, 'PUT', `/api/provider-nodes/${node.id}`, { body: { prefix: 'put-c' } }))
        .status,
    ).toBe(200);
    const taken = await call(gw, 'PUT', `/api/provider-nodes/${node.id}`, {
      body: { prefix: 'put-b' },
    });
    expect(taken.status).toBe(409);
    const empty = await call(gw, 'PUT', `/api/provider-nodes/${node.id}`, { body: {} });
    expect(empty.status).toBe(400);
    expect(codeOf(empty.json)).toBe('VALIDATION_FAILED');
    // chatPath null resets it.
    const reset = await call(gw, 'PUT', `/api/provider-nodes/${node.id}`, {
      body: { chatPath: null },
    });
    expect(reset.status).toBe(200);
    expect((reset.json as { node: NodeView }).node.chatPath).toBeNull();
  });

  it('answers 404 for an unknown node on get, put, delete', async () => {
    const id = 'openai-compatible-chat-000000000000';
    expect((await call(gw, 'GET', `/api/provider-nodes/${id}`)).status).toBe(404);
    expect(
      (await call(gw, 'PUT', `/api/provider-nodes/${id}`, { body: { name: 'x' } })).status,
    ).toBe(404);
    expect((await call(gw, 'DELETE', `/api/provider-nodes/${id}`)).status).toBe(404);
  });

  it('DELETE removes the node and its connections', async () => {
    const node = await createNode(gw, { name: 'doomed', prefix: 'doomed', baseUrl: mock.baseUrl });
    const c1 = await createConnection(gw, { provider: node.id, name: 'c1', apiKey: 'k1' });
    const c2 = await createConnection(gw, { provider: node.id, name: 'c2' });
    const keep = await createConnection(gw, { provider: 'openai', name: 'keep', apiKey: 'sk-k' });
    const del = await call(gw, 'DELETE', `/api/provider-nodes/${node.id}`);
    expect(del.status).toBe(200);
    expect(del.json).toEqual({ message: expect.any(String) });
    expect((await call(gw, 'GET', `/api/provider-nodes/${node.id}`)).status).toBe(404);
    expect((await call(gw, 'GET', `/api/providers/${c1.id}`)).status).toBe(404);
    expect((await call(gw, 'GET', `/api/providers/${c2.id}`)).status).toBe(404);
    expect((await call(gw, 'GET', `/api/providers/${keep.id}`)).status).toBe(200);
    const rows = await queryDb(
      gw.dbUrl,
      'SELECT id FROM provider_connections WHERE provider = $1',
      [node.id],
    );
    expect(rows).toHaveLength(0);
    // The prefix is free again.
    await expect(
      createNode(gw, { name: 'reborn', prefix: 'doomed', baseUrl: mock.baseUrl }),
    ).resolves.toMatchObject({ prefix: 'doomed' });
  });

  const invalid: [string, Record<string, unknown>, string][] = [
    ['name missing', { prefix: 'p1', baseUrl: 'http://127.0.0.1:1/v1' }, 'name'],
    ['name a number', { name: 5, prefix: 'p1' }, 'name'],
    ['prefix with spaces', { name: 'n', prefix: 'has spaces' }, 'prefix'],
    ['prefix missing', { name: 'n' }, 'prefix'],
    ['prefix with a slash', { name: 'n', prefix: 'a/b' }, 'prefix'],
    ['baseUrl not a URL', { name: 'n', prefix: 'p2', baseUrl: 'not a url' }, 'baseUrl'],
    ['baseUrl ftp', { name: 'n', prefix: 'p3', baseUrl: 'ftp://example.com/v1' }, 'baseUrl'],
    ['chatPath without a leading /', { name: 'n', prefix: 'p4', chatPath: 'chat' }, 'chatPath'],
    ['modelsPath a number', { name: 'n', prefix: 'p5', modelsPath: 7 }, 'modelsPath'],
    ['type not in the enum', { name: 'n', prefix: 'p6', type: 'anthropic' }, 'type'],
  ];
  it.each(invalid)(
    'rejects a node body with %s (400 VALIDATION_FAILED)',
    async (_t, body, field) => {
      const r = await call(gw, 'POST', '/api/provider-nodes', { body });
      expect(r.status).toBe(400);
      expect(codeOf(r.json)).toBe('VALIDATION_FAILED');
      expect(fieldsOf(r.json)).toContain(field);
    },
  );

  it('rejects an invalid node PUT body with 400', async () => {
    const node = await createNode(gw, { name: 'v', prefix: 'put-invalid', baseUrl: mock.baseUrl });
    for (const [body, field] of [
      [{ chatPath: 'no-slash' }, 'chatPath'],
      [{ prefix: 'sp ace' }, 'prefix'],
      [{ baseUrl: 'nope' }, 'baseUrl'],
      [{ name: '' }, 'name'],
    ] as const) {
      const r = await call(gw, 'PUT', `/api/provider-nodes/${node.id}`, { body });
      expect(r.status).toBe(400);
      expect(fieldsOf(r.json)).toContain(field);
    }
  });

  it('rejects requests without credentials (401)', async () => {
    expect((await call(gw, 'GET', '/api/provider-nodes', { key: null })).status).toBe(401);
    const r = await call(gw, 'POST', '/api/provider-nodes', {
      body: { name: 'x', prefix: 'noauth', baseUrl: mock.baseUrl },
      key: null,
    });
    expect(r.status).toBe(401);
  });
});

describe('/api/providers', () => {
  let gw: TestApp;
  let mock: MockUpstream;
  let keyed: MockUpstream;
  let node: NodeView;
  let keyedNode: NodeView;
  beforeAll(async () => {
    mock = await startMockUpstream({ models: ['m-alpha', 'm-beta'] });
    keyed = await startMockUpstream({ apiKey: 'right' });
    gw = await startTestApp();
    node = await createNode(gw, { name: 'mock', prefix: 'pm', baseUrl: mock.baseUrl });
    keyedNode = await createNode(gw, { name: 'keyed', prefix: 'pk', baseUrl: keyed.baseUrl });
  });
  afterAll(async () => {
    await gw?.close();
    await mock?.close();
    await keyed?.close();
  });

  it('creates a connection for a node (201 {connection}) without ever returning the key', async () => {
    const secret = 'sk-upstream-node-secret-123456';
    const r = await call(gw, 'POST', '/api/providers', {
      body: {
        provider: node.id,
        name: 'acct-1',
        apiKey: secret,
      },
    });
    expect(r.status).toBe(201);
    const conn = (r.json as { connection: ConnectionView }).connection;
    expect(conn).toMatchObject({
      provider: node.id,
      name: 'acct-1',
      hasApiKey: true,
      isActive: true,
      priority: 1,
      testStatus: 'unknown',
    });
    expect(conn).not.toHaveProperty('apiKey');
    expect(r.text).not.toContain(secret);

    const one = await call(gw, 'GET', `/api/providers/${conn.id}`);
    expect(one.status).toBe(200);
    expect(one.text).not.toContain(secret);
    const list = await call(gw, 'GET', '/api/providers');
    expect(list.status).toBe(200);
    const conns = (list.json as { connections: ConnectionView[] }).connections;
    expect(conns.map((c) => c.id)).toContain(conn.id);
    expect(list.text).not.toContain(secret);
  });

  it('creates a built-in connection by alias (ds → deepseek), secret AES-GCM encrypted at rest', async () => {
    const secret = 'sk-deepseek-plaintext-9876543210';
    const conn = await createConnection(gw, { provider: 'ds', name: 'main', apiKey: secret });
    expect(conn.provider).toBe('deepseek');
    expect(conn.hasApiKey).toBe(true);

    const [row] = await queryDb(gw.dbUrl, 'SELECT * FROM provider_connections WHERE id = $1', [
      conn.id,
    ]);
    expect(row.provider).toBe('deepseek');
    const sealed = String(row.secret_enc);
    expect(sealed).toMatch(/^v1:[A-Za-z0-9_-]+:[A-Za-z0-9_-]+:[A-Za-z0-9_-]+$/);
    expect(sealed).not.toContain(secret);
    const [asText] = await queryDb(
      gw.dbUrl,
      'SELECT row_to_json(c)::text AS j FROM provider_connections c WHERE id = $1',
      [conn.id],
    );
    expect(String(asText.j)).not.toContain(secret);
    // It really is the secret, sealed with this app's key (DATA_DIR/encryption-key).
    const key = deriveKey(readFileSync(join(gw.dataDir, 'encryption-key'), 'utf8'));
    expect(decryptWith(key, sealed)).toBe(secret);
    // Two encryptions of one secret differ (random IV).
    const again = await createConnection(gw, {
      provider: 'deepseek',
      name: 'second',
      apiKey: secret,
    });
    const [row2] = await queryDb(
      gw.dbUrl,
      'SELECT secret_enc FROM provider_connections WHERE id = $1',
      [again.id],
    );
    expect(row2.secret_enc).not.toBe(sealed);
  });

  it('upserts on the same provider + name (same id, new values)', async () => {
    const a = await createConnection(gw, { provider: 'groq', name: 'team', apiKey: 'k-1' });
    const b = await createConnection(gw, {
      provider: 'groq',
      name: 'team',
      apiKey: 'k-2',
      priority: 5,
    });
    expect(b.id).toBe(a.id);
    expect(b.priority).toBe(5);
    const rows = await queryDb(
      gw.dbUrl,
      "SELECT id FROM provider_connections WHERE provider = 'groq' AND name = 'team'",
    );
    expect(rows).toHaveLength(1);
    // Another name is another connection.
    const c = await createConnection(gw, { provider: 'groq', name: 'team-2', apiKey: 'k-3' });
    expect(c.id).not.toBe(a.id);
  });

  it('rejects an unknown provider with 400 and a built-in one without apiKey with 400', async () => {
    const unknown = await call(gw, 'POST', '/api/providers', {
      body: {
        provider: 'no-such-provider',
        name: 'x',
        apiKey: 'k',
      },
    });
    expect(unknown.status).toBe(400);
    expect(codeOf(unknown.json)).toBe('PROVIDER_NOT_FOUND');
    const noKey = await call(gw, 'POST', '/api/providers', {
      body: { provider: 'openai', name: 'x' },
    });
    expect(noKey.status).toBe(400);
    expect(codeOf(noKey.json)).toBe('VALIDATION_FAILED');
    expect(fieldsOf(noKey.json)).toContain('apiKey');
    const emptyKey = await call(gw, 'POST', '/api/providers', {
      body: {
        provider: 'openai',
        name: 'x',
        apiKey: '',
      },
    });
    expect(emptyKey.status).toBe(400);
    const rows = await queryDb(gw.dbUrl, "SELECT id FROM provider_connections WHERE name = 'x'");
    expect(rows).toHaveLength(0);
  });

  const invalid: [string, Record<string, unknown>, string][] = [
    ['provider missing', { name: 'n', apiKey: 'k' }, 'provider'],
    ['name missing', { provider: 'openai', apiKey: 'k' }, 'name'],
    ['name a number', { provider: 'openai', name: 1, apiKey: 'k' }, 'name'],
    ['apiKey a number', { provider: 'openai', name: 'n', apiKey: 123 }, 'apiKey'],
    [
      'priority a string',
      { provider: 'openai', name: 'n', apiKey: 'k', priority: 'high' },
      'priority',
    ],
    ['priority 0', { provider: 'openai', name: 'n', apiKey: 'k', priority: 0 }, 'priority'],
    [
      'isActive a string',
      { provider: 'openai', name: 'n', apiKey: 'k', isActive: 'yes' },
      'isActive',
    ],
    [
      'providerSpecificData a string',
      { provider: 'openai', name: 'n', apiKey: 'k', providerSpecificData: 'x' },
      'providerSpecificData',
    ],
    [
      'providerSpecificData.baseUrl a number',
      { provider: 'openai', name: 'n', apiKey: 'k', providerSpecificData: { baseUrl: 5 } },
      'providerSpecificData.baseUrl',
    ],
  ];
  it.each(invalid)(
    'rejects a connection body with %s (400 VALIDATION_FAILED)',
    async (_t, body, field) => {
      const r = await call(gw, 'POST', '/api/providers', { body });
      expect(r.status).toBe(400);
      expect(codeOf(r.json)).toBe('VALIDATION_FAILED');
      expect(fieldsOf(r.json)).toContain(field);
    },
  );

  it('rejects text with a NUL byte with 400, not a 500', async () => {
    const n = await call(gw, 'POST', '/api/provider-nodes', {
      body: {
        name: 'nul\u0000',
        prefix: 'nul',
        baseUrl: mock.baseUrl,
      },
    });
    expect(n.status).toBe(400);
    const c = await call(gw, 'POST', '/api/providers', {
      body: {
        provider: 'openai',
        name: 'nul\u0000',
        apiKey: 'k',
      },
    });
    expect(c.status).toBe(400);
    const d = await call(gw, 'POST', '/api/providers', {
      body: {
        provider: 'openai',
        name: 'nul-data',
        apiKey: 'k',
        providerSpecificData: { note: 'a\u0000b' },
      },
    });
    expect(d.status).toBe(400);
  });

  it('PUT updates part of a connection; an empty PUT is 400; an unknown id is 404', async () => {
    const conn = await createConnection(gw, {
      provider: 'openai',
      name: 'put-target',
      apiKey: 'sk-put',
      providerSpecificData: { region: 'eu', tier: 1 },
    });
    const r = await call(gw, 'PUT', `/api/providers/${conn.id}`, {
      body: {
        name: 'put-renamed',
        priority: 3,
        defaultModel: 'gpt-4o-mini',
        providerSpecificData: { tier: 2 },
      },
    });
    expect(r.status).toBe(200);
    const updated = (r.json as { connection: ConnectionView }).connection;
    expect(updated).toMatchObject({
      id: conn.id,
      provider: 'openai',
      name: 'put-renamed',
      priority: 3,
      defaultModel: 'gpt-4o-mini',
      hasApiKey: true,
      isActive: true,
      providerSpecificData: { region: 'eu', tier: 2 },
    });
    const got = (await call(gw, 'GET', `/api/providers/${conn.id}`)).json as {
      connection: ConnectionView;
    };
    expect(got.connection.name).toBe('put-renamed');

    const off = await call(gw, 'PUT', `/api/providers/${conn.id}`, { body: { isActive: false } });
    expect((off.json as { connection: ConnectionView }).connection.isActive).toBe(false);

    const empty = await call(gw, 'PUT', `/api/providers/${conn.id}`, { body: {} });
    expect(empty.status).toBe(400);
    expect(codeOf(empty.json)).toBe('VALIDATION_FAILED');
    const bad = await call(gw, 'PUT', `/api/providers/${conn.id}`, { body: { priority: 'x' } });
    expect(bad.status).toBe(400);
    expect(fieldsOf(bad.json)).toContain('priority');

    for (const id of [MISSING_UUID, 'nope', 'f'.repeat(36), '-'.repeat(36)]) {
      expect((await call(gw, 'GET', `/api/providers/${id}`)).status).toBe(404);
      expect((await call(gw, 'PUT', `/api/providers/${id}`, { body: { name: 'z' } })).status).toBe(
        404,
      );
      expect((await call(gw, 'DELETE', `/api/providers/${id}`)).status).toBe(404);
      expect((await call(gw, 'POST', `/api/providers/${id}/test`, { body: {} })).status).toBe(404);
      expect((await call(gw, 'GET', `/api/providers/${id}/models`)).status).toBe(404);
    }
  });

  it('PUT onto another connection’s provider + name is 409', async () => {
    await createConnection(gw, { provider: 'xai', name: 'one', apiKey: 'k' });
    const two = await createConnection(gw, { provider: 'xai', name: 'two', apiKey: 'k' });
    const r = await call(gw, 'PUT', `/api/providers/${two.id}`, { body: { name: 'one' } });
    expect(r.status).toBe(409);
  });

  it('DELETE removes a connection', async () => {
    const conn = await createConnection(gw, { provider: node.id, name: 'to-delete' });
    const r = await call(gw, 'DELETE', `/api/providers/${conn.id}`);
    expect(r.status).toBe(200);
    expect(r.json).toEqual({ message: expect.any(String) });
    expect((await call(gw, 'GET', `/api/providers/${conn.id}`)).status).toBe(404);
    const rows = await queryDb(gw.dbUrl, 'SELECT id FROM provider_connections WHERE id = $1', [
      conn.id,
    ]);
    expect(rows).toHaveLength(0);
  });

  it('POST /:id/test against a reachable node → valid, then testStatus active', async () => {
    const conn = await createConnection(gw, {
      provider: node.id,
      name: 'test-ok',
      apiKey: 'sk-test-ok',
    });
    const r = await call(gw, 'POST', `/api/providers/${conn.id}/test`, { body: {} });
    expect(r.status).toBe(200);
    expect(r.json).toMatchObject({ valid: true, error: null, statusCode: 200 });
    expect(typeof (r.json as { latencyMs: number }).latencyMs).toBe('number');
    // The stored (decrypted) key went upstream.
    expect(
      mock.requests.some(
        (q) => q.url === '/v1/models' && q.headers.authorization === 'Bearer sk-test-ok',
      ),
    ).toBe(true);
    const got = (await call(gw, 'GET', `/api/providers/${conn.id}`)).json as {
      connection: ConnectionView;
    };
    expect(got.connection.testStatus).toBe('active');
    expect(got.connection.lastTested).not.toBeNull();
  });

  it('POST /:id/test with a wrong upstream key → {valid:false, statusCode:401}; fixed by PUT apiKey', async () => {
    const conn = await createConnection(gw, {
      provider: keyedNode.id,
      name: 'wrong-key',
      apiKey: 'wrong',
    });
    const r = await call(gw, 'POST', `/api/providers/${conn.id}/test`, { body: {} });
    expect(r.status).toBe(200);
    expect(r.json).toMatchObject({ valid: false, statusCode: 401 });
    expect((r.json as { error: string }).error).toMatch(/401/);
    const got = (await call(gw, 'GET', `/api/providers/${conn.id}`)).json as {
      connection: ConnectionView;
    };
    expect(got.connection).toMatchObject({ testStatus: 'error', errorCode: '401' });

    const fix = await call(gw, 'PUT', `/api/providers/${conn.id}`, { body: { apiKey: 'right' } });
    expect(fix.status).toBe(200);
    const again = await call(gw, 'POST', `/api/providers/${conn.id}/test`, { body: {} });
    expect(again.json).toMatchObject({ valid: true, statusCode: 200 });
    const after = (await call(gw, 'GET', `/api/providers/${conn.id}`)).json as {
      connection: ConnectionView;
    };
    expect(after.connection).toMatchObject({ testStatus: 'active', errorCode: null });
  });

  it('POST /:id/test with a validationModelId probes a chat completion', async () => {
    const conn = await createConnection(gw, { provider: node.id, name: 'test-chat', apiKey: 'k' });
    const r = await call(gw, 'POST', `/api/providers/${conn.id}/test`, {
      body: {
        validationModelId: 'gpt-4o-mini',
      },
    });
    expect(r.json).toMatchObject({ valid: true });
    const probe = mock.requests.find(
      (q) => q.url === '/v1/chat/completions' && q.headers.authorization === 'Bearer k',
    );
    expect(probe?.body).toMatchObject({ model: 'gpt-4o-mini' });
    const fail = await call(gw, 'POST', `/api/providers/${conn.id}/test`, {
      body: {
        validationModelId: 'fail-500',
      },
    });
    expect(fail.json).toMatchObject({ valid: false, statusCode: 500 });
  });

  it('GET /:id/models?refresh=true lists the live models, then serves them from cache', async () => {
    const conn = await createConnection(gw, { provider: node.id, name: 'models', apiKey: 'k' });
    const live = await call(gw, 'GET', `/api/providers/${conn.id}/models?refresh=true`);
    expect(live.status).toBe(200);
    expect(live.json).toEqual({
      source: 'live',
      models: [
        { id: 'm-alpha', name: 'm-alpha' },
        { id: 'm-beta', name: 'm-beta' },
      ],
    });
    const cached = await call(gw, 'GET', `/api/providers/${conn.id}/models`);
    expect(cached.json).toMatchObject({ source: 'cache' });
    expect((cached.json as { models: { id: string }[] }).models.map((m) => m.id)).toEqual([
      'm-alpha',
      'm-beta',
    ]);
    // The discovered models reach the client catalogue.
    const res = await call(gw, 'GET', '/v1/models');
    const ids = (res.json as { data: { id: string }[] }).data.map((m) => m.id);
    expect(ids).toEqual(expect.arrayContaining(['pm/m-alpha', 'pm/m-beta']));
  });

  it('POST /validate checks a key against a node without saving it', async () => {
    const count = await queryDb(gw.dbUrl, 'SELECT count(*)::int AS n FROM provider_connections');
    // A key no stored connection has: only the validated one can make this pass.
    keyed.configure({ apiKey: 'validate-only' });
    const ok = await call(gw, 'POST', '/api/providers/validate', {
      body: {
        provider: keyedNode.id,
        apiKey: 'validate-only',
      },
    });
    expect(ok.status).toBe(200);
    expect(ok.json).toMatchObject({ valid: true, error: null, method: 'models' });
    const bad = await call(gw, 'POST', '/api/providers/validate', {
      body: {
        provider: keyedNode.id,
        apiKey: 'right',
      },
    });
    expect(bad.status).toBe(200);
    expect(bad.json).toMatchObject({ valid: false });
    expect((bad.json as { error: string }).error).toMatch(/401/);
    const after = await queryDb(gw.dbUrl, 'SELECT count(*)::int AS n FROM provider_connections');
    expect(after[0].n).toBe(count[0].n);

    const invalid = await call(gw, 'POST', '/api/providers/validate', { body: { apiKey: 'x' } });
    expect(invalid.status).toBe(400);
    expect(fieldsOf(invalid.json)).toContain('provider');
    const unknown = await call(gw, 'POST', '/api/providers/validate', {
      body: {
        provider: 'nope',
        apiKey: 'x',
      },
    });
    expect(unknown.status).toBe(400);
  });

  it('rejects requests without credentials (401)', async () => {
    expect((await call(gw, 'GET', '/api/providers', { key: null })).status).toBe(401);
    expect(
      (
        await call(gw, 'POST', '/api/providers', {
          body: { provider: 'openai', name: 'n' },
          key: null,
        })
      ).status,
    ).toBe(401);
    expect(
      (
        await call(gw, 'POST', '/api/providers/validate', {
          body: { provider: 'openai' },
          key: null,
        })
      ).status,
    ).toBe(401);
  });
});

describe('SSRF protection (ALLOW_PRIVATE_UPSTREAMS=false)', () => {
  const { gw } = useGateway({ app: { env: { ALLOW_PRIVATE_UPSTREAMS: 'false' } }, mock: false });

  const privateUrls = [
    'http://127.0.0.1:9/v1',
    'http://169.254.169.254/v1',
    'http://10.0.0.1/v1',
    'http://localhost:1/v1',
    'http://192.168.1.10/v1',
    'http://[::1]:8080/v1',
    'http://[::ffff:127.0.0.1]:8080/v1',
    'http://0.0.0.0:1/v1',
    'http://172.16.0.5/v1',
  ];

  it.each(privateUrls)('refuses a node with baseUrl %s (400 SSRF_BLOCKED)', async (baseUrl) => {
    const r = await call(gw, 'POST', '/api/provider-nodes', {
      body: {
        name: 'evil',
        prefix: 'evil',
        baseUrl,
      },
    });
    expect(r.status).toBe(400);
    expect(codeOf(r.json)).toBe('SSRF_BLOCKED');
    expect((r.json as ManagementError).error.message).toMatch(/private|reserved/i);
  });

  it('refuses obfuscated loopback forms too (400, never stored)', async () => {
    for (const baseUrl of ['http://2130706433/v1', 'http://0x7f000001/v1', 'http://127.1/v1']) {
      const r = await call(gw, 'POST', '/api/provider-nodes', {
        body: {
          name: 'evil',
          prefix: 'evil',
          baseUrl,
        },
      });
      expect({ baseUrl, status: r.status }).toEqual({ baseUrl, status: 400 });
      expect(['SSRF_BLOCKED', 'VALIDATION_FAILED']).toContain(codeOf(r.json));
    }
  });

  it('stores none of the refused nodes', async () => {
    const list = (await call(gw, 'GET', '/api/provider-nodes')).json as { nodes: NodeView[] };
    expect(list.nodes.filter((n) => n.prefix === 'evil')).toHaveLength(0);
  });

  it('accepts a node on a public address (the check is not a blanket refusal)', async () => {
    const node = await createNode(gw, {
      name: 'public',
      prefix: 'pub',
      baseUrl: 'http://8.8.8.8/v1',
    });
    expect(node.baseUrl).toBe('http://8.8.8.8/v1');
    const moved = await call(gw, 'PUT', `/api/provider-nodes/${node.id}`, {
      body: {
        baseUrl: 'http://169.254.169.254/latest',
      },
    });
    expect(moved.status).toBe(400);
    expect(codeOf(moved.json)).toBe('SSRF_BLOCKED');
    const got = (await call(gw, 'GET', `/api/provider-nodes/${node.id}`)).json as {
      node: NodeView;
    };
    expect(got.node.baseUrl).toBe('http://8.8.8.8/v1');
  });

  it('refuses a connection whose providerSpecificData.baseUrl is private, on create and on PUT', async () => {
    for (const baseUrl of [
      'http://10.0.0.1/v1',
      'http://169.254.169.254/v1',
      'http://localhost:1/v1',
    ]) {
      const r = await call(gw, 'POST', '/api/providers', {
        body: {
          provider: 'openai',
          name: 'proxied',
          apiKey: 'sk-x',
          providerSpecificData: { baseUrl },
        },
      });
      expect({ baseUrl, status: r.status, code: codeOf(r.json) }).toEqual({
        baseUrl,
        status: 400,
        code: 'SSRF_BLOCKED',
      });
    }
    const rows = await queryDb(
      gw.dbUrl,
      "SELECT id FROM provider_connections WHERE name = 'proxied'",
    );
    expect(rows).toHaveLength(0);

    const conn = await createConnection(gw, { provider: 'openai', name: 'plain', apiKey: 'sk-x' });
    const put = await call(gw, 'PUT', `/api/providers/${conn.id}`, {
      body: {
        providerSpecificData: { baseUrl: 'http://127.0.0.1:11434/v1' },
      },
    });
    expect(put.status).toBe(400);
    expect(codeOf(put.json)).toBe('SSRF_BLOCKED');
    const got = (await call(gw, 'GET', `/api/providers/${conn.id}`)).json as {
      connection: ConnectionView;
    };
    expect(got.connection.providerSpecificData).not.toHaveProperty('baseUrl');
  });

  it('refuses to connect to a private upstream even when one is already stored (checked again at connect time)', async () => {
    const mock = await startMockUpstream();
    try {
      // A node written before the setting changed (or by hand): bypasses the API check.
      const id = 'openai-compatible-chat-5afe5afe5afe';
      await queryDb(
        gw.dbUrl,
        `INSERT INTO provider_nodes (id, type, name, prefix, api_type, base_url)
         VALUES ($1, 'openai-compatible', 'legacy', 'legacy', 'chat', $2)`,
        [id, mock.baseUrl],
      );
      const conn = await createConnection(gw, { provider: id, name: 'legacy', apiKey: 'k' });
      const r = await call(gw, 'POST', `/api/providers/${conn.id}/test`, { body: {} });
      expect(r.status).toBe(200);
      expect(r.json).toMatchObject({ valid: false, statusCode: null });
      expect(mock.count).toBe(0);
    } finally {
      await mock.close();
    }
  });

  it('refuses /validate with a private baseUrl', async () => {
    const r = await call(gw, 'POST', '/api/providers/validate', {
      body: {
        provider: 'openai',
        apiKey: 'sk-x',
        baseUrl: 'http://169.254.169.254/v1',
      },
    });
    expect(r.status).toBe(400);
    expect(codeOf(r.json)).toBe('SSRF_BLOCKED');
  });
});
