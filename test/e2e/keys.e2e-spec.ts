import { createHash } from 'node:crypto';
import { startTestApp, type TestApp } from '../support/app';
import { queryDb } from '../support/db';
import { useGateway } from '../support/fixtures';
import {
  call,
  codeOf,
  fieldsOf,
  type Gateway,
  type ManagementError,
  type OpenAiError,
} from '../support/gateway-client';

interface KeyView {
  id: string;
  name: string;
  key: string;
  scopes: string[];
  noLog: boolean;
  isActive: boolean;
  allowedModels: string[];
  allowedConnections: string[];
  expiresAt: string | null;
  lastUsedAt: string | null;
  createdAt: string;
}

interface CreatedKey {
  key: string;
  id: string;
  name: string;
  scopes: string[];
  noLog: boolean;
}

const sha256 = (s: string): string => createHash('sha256').update(s).digest('hex');
const masked = (raw: string): string => `${raw.slice(0, 8)}****${raw.slice(-4)}`;
const MISSING_ID = '00000000-0000-0000-0000-000000000000';

async function createKey(gw: Gateway, body: Record<string, unknown>): Promise<CreatedKey> {
  const r = await call(gw, 'POST', '/api/keys', { body });
  expect(r.status).toBe(201);
  return r.json as CreatedKey;
}

/** Status of `GET /v1/models` with the given key. */
async function modelsStatus(gw: Gateway, key: string): Promise<number> {
  return (await call(gw, 'GET', '/v1/models', { key })).status;
}

describe('/api/keys', () => {
  const { gw } = useGateway({ mock: false });

  describe('create, list, get', () => {
    it('returns the full key once at creation (201) and only the masked form afterwards', async () => {
      const r = await call(gw, 'POST', '/api/keys', { body: { name: 'ci-pipeline', noLog: true } });
      expect(r.status).toBe(201);
      const created = r.json as CreatedKey;
      expect(created.key).toMatch(/^sk-[A-Za-z0-9_-]{20,}$/);
      expect(created).toMatchObject({ name: 'ci-pipeline', scopes: ['inference'], noLog: true });
      expect(created.id).toMatch(/^[0-9a-f-]{36}$/);

      const one = await call(gw, 'GET', `/api/keys/${created.id}`);
      expect(one.status).toBe(200);
      expect((one.json as KeyView).key).toBe(masked(created.key));
      expect(one.text).not.toContain(created.key);
      expect(one.text).not.toContain(sha256(created.key));

      const list = await call(gw, 'GET', '/api/keys');
      expect(list.status).toBe(200);
      const body = list.json as { keys: KeyView[]; total: number; allowKeyReveal: boolean };
      expect(body.allowKeyReveal).toBe(false);
      expect(body.total).toBe(body.keys.length);
      const mine = body.keys.find((k) => k.id === created.id);
      expect(mine?.key).toBe(masked(created.key));
      expect(list.text).not.toContain(created.key);
      expect(list.text).not.toContain(sha256(created.key));
      for (const k of body.keys) {
        expect(k.key).toMatch(/^.{8}\*\*\*\*.{4}$/);
      }
      // The bootstrap admin key is listed, masked too.
      expect(list.text).not.toContain(gw.adminKey);
      expect(body.keys.map((k) => k.key)).toContain(masked(gw.adminKey));
    });

    it('stores only the SHA-256 hex hash of the key, never the key itself', async () => {
      const created = await createKey(gw, { name: 'hash-check' });
      const rows = await queryDb(gw.dbUrl, 'SELECT * FROM api_keys WHERE id = $1', [created.id]);
      expect(rows).toHaveLength(1);
      expect(rows[0].key_hash).toBe(sha256(created.key));
      expect(String(rows[0].key_hash)).toMatch(/^[0-9a-f]{64}$/);
      const [asText] = await queryDb(
        gw.dbUrl,
        'SELECT row_to_json(k)::text AS j FROM api_keys k WHERE id = $1',
        [created.id],
      );
      expect(String(asText.j)).not.toContain(created.key);
      for (const [column, value] of Object.entries(rows[0])) {
        expect({ column, holdsKey: JSON.stringify(value ?? null).includes(created.key) }).toEqual({
          column,
          holdsKey: false,
        });
      }
    });

    it('the new key works on /v1/models', async () => {
      const created = await createKey(gw, { name: 'works' });
      await expect(modelsStatus(gw, created.key)).resolves.toBe(200);
    });

    it('pages with limit/offset and rejects a bad limit with 400', async () => {
      await createKey(gw, { name: 'page-a' });
      await createKey(gw, { name: 'page-b' });
      const page = await call(gw, 'GET', '/api/keys?limit=1&offset=1');
      expect(page.status).toBe(200);
      const body = page.json as { keys: KeyView[]; total: number };
      expect(body.keys).toHaveLength(1);
      expect(body.total).toBeGreaterThanOrEqual(3);

      for (const q of ['limit=abc', 'limit=0', 'limit=100000', 'offset=-1', 'limit=1.5']) {
        const bad = await call(gw, 'GET', `/api/keys?${q}`);
        expect({ q, status: bad.status }).toEqual({ q, status: 400 });
        expect(codeOf(bad.json)).toBe('VALIDATION_FAILED');
      }
      const bad = await call(gw, 'GET', '/api/keys?limit=abc');
      expect(fieldsOf(bad.json)).toContain('limit');
    });

    it('returns 404 for an unknown id (uuid or not) on get, patch, delete', async () => {
      // 36 characters of the uuid alphabet that are no uuid: still a 404, not a database error.
      for (const id of [MISSING_ID, 'not-a-uuid', 'a'.repeat(36), '-'.repeat(36)]) {
        const g = await call(gw, 'GET', `/api/keys/${id}`);
        expect(g.status).toBe(404);
        expect(codeOf(g.json)).toBe('KEY_NOT_FOUND');
        expect((g.json as ManagementError).requestId).toBe(g.headers.get('x-request-id'));
        expect((await call(gw, 'PATCH', `/api/keys/${id}`, { body: { name: 'x' } })).status).toBe(
          404,
        );
        expect((await call(gw, 'DELETE', `/api/keys/${id}`)).status).toBe(404);
      }
    });

    it('answers reveal with 403 and a clear message', async () => {
      const created = await createKey(gw, { name: 'reveal' });
      const r = await call(gw, 'GET', `/api/keys/${created.id}/reveal`);
      expect(r.status).toBe(403);
      const body = r.json as ManagementError;
      expect(body.error.code).toBe('KEY_REVEAL_DISABLED');
      expect(body.error.message).toMatch(/hash/i);
      expect(r.text).not.toContain(created.key);
    });
  });

  describe('validation', () => {
    const cases: [string, unknown, string][] = [
      ['name missing', {}, 'name'],
      ['name empty', { name: '' }, 'name'],
      ['name too long', { name: 'x'.repeat(201) }, 'name'],
      ['name not a string', { name: 123 }, 'name'],
      ['scope not in the enum', { name: 'a', scopes: ['root'] }, 'scopes'],
      ['scopes not an array', { name: 'a', scopes: 'admin' }, 'scopes'],
      ['duplicate scopes', { name: 'a', scopes: ['admin', 'admin'] }, 'scopes'],
      ['noLog not a boolean', { name: 'a', noLog: 'yes' }, 'noLog'],
      ['expiresAt not a date', { name: 'a', expiresAt: 'tomorrow' }, 'expiresAt'],
    ];
    it.each(cases)('rejects a create body with %s (400, field listed)', async (_t, body, field) => {
      const r = await call(gw, 'POST', '/api/keys', { body });
      expect(r.status).toBe(400);
      expect(codeOf(r.json)).toBe('VALIDATION_FAILED');
      expect(fieldsOf(r.json)).toContain(field);
    });

    it('rejects a name with a NUL byte with 400, not a 500', async () => {
      const r = await call(gw, 'POST', '/api/keys', { body: { name: 'nul\u0000byte' } });
      expect(r.status).toBe(400);
      const created = await createKey(gw, { name: 'nul-patch' });
      const p = await call(gw, 'PATCH', `/api/keys/${created.id}`, { body: { name: 'a\u0000b' } });
      expect(p.status).toBe(400);
      const m = await call(gw, 'PATCH', `/api/keys/${created.id}`, {
        body: { allowedModels: ['a\u0000'] },
      });
      expect(m.status).toBe(400);
    });

    it('rejects a JSON body that is not an object', async () => {
      const r = await call(gw, 'POST', '/api/keys', { rawBody: '[1,2]' });
      expect(r.status).toBe(400);
    });

    it('creates nothing when validation fails', async () => {
      const before = await queryDb(gw.dbUrl, 'SELECT count(*)::int AS n FROM api_keys');
      await call(gw, 'POST', '/api/keys', { body: { name: 'x'.repeat(201) } });
      await call(gw, 'POST', '/api/keys', { body: { name: 'ok', scopes: ['root'] } });
      const after = await queryDb(gw.dbUrl, 'SELECT count(*)::int AS n FROM api_keys');
      expect(after[0].n).toBe(before[0].n);
    });

    const patchCases: [string, unknown, string][] = [
      ['isActive not a boolean', { isActive: 'no' }, 'isActive'],
      ['allowedModels not an array', { allowedModels: 'gpt-4o' }, 'allowedModels'],
      ['allowedModels with a number', { allowedModels: [1] }, 'allowedModels'],
      ['allowedConnections not uuids', { allowedConnections: ['x'] }, 'allowedConnections'],
      ['scope not in the enum', { scopes: ['superuser'] }, 'scopes'],
      ['name too long', { name: 'n'.repeat(201) }, 'name'],
    ];
    it.each(patchCases)('rejects a PATCH with %s (400, field listed)', async (_t, body, field) => {
      const created = await createKey(gw, { name: 'patch-validation' });
      const r = await call(gw, 'PATCH', `/api/keys/${created.id}`, { body });
      expect(r.status).toBe(400);
      expect(codeOf(r.json)).toBe('VALIDATION_FAILED');
      expect(fieldsOf(r.json)).toContain(field);
    });

    it('rejects an empty PATCH with 400', async () => {
      const created = await createKey(gw, { name: 'empty-patch' });
      const r = await call(gw, 'PATCH', `/api/keys/${created.id}`, { body: {} });
      expect(r.status).toBe(400);
      expect(codeOf(r.json)).toBe('VALIDATION_FAILED');
      // Unknown fields are stripped: still nothing to update.
      const r2 = await call(gw, 'PATCH', `/api/keys/${created.id}`, { body: { keyHash: 'x' } });
      expect(r2.status).toBe(400);
    });
  });

  describe('update and delete', () => {
    it('PATCH updates name, scopes, allowedModels and isActive', async () => {
      const created = await createKey(gw, { name: 'before' });
      const r = await call(gw, 'PATCH', `/api/keys/${created.id}`, {
        body: {
          name: 'after',
          scopes: ['inference', 'admin'],
          allowedModels: ['openai/gpt-4o-mini'],
        },
      });
      expect(r.status).toBe(200);
      expect(r.json).toMatchObject({
        message: expect.any(String),
        name: 'after',
        scopes: ['inference', 'admin'],
        allowedModels: ['openai/gpt-4o-mini'],
      });
      const got = (await call(gw, 'GET', `/api/keys/${created.id}`)).json as KeyView;
      expect(got).toMatchObject({
        name: 'after',
        scopes: ['inference', 'admin'],
        allowedModels: ['openai/gpt-4o-mini'],
        isActive: true,
        key: masked(created.key),
      });
      // Now admin-scoped: it can manage keys.
      expect((await call(gw, 'GET', '/api/keys', { key: created.key })).status).toBe(200);

      const off = await call(gw, 'PATCH', `/api/keys/${created.id}`, { body: { isActive: false } });
      expect(off.status).toBe(200);
      expect(((await call(gw, 'GET', `/api/keys/${created.id}`)).json as KeyView).isActive).toBe(
        false,
      );
      // A disabled key no longer works (cache invalidated on change).
      const status = await modelsStatus(gw, created.key);
      expect([401, 403]).toContain(status);
      const on = await call(gw, 'PATCH', `/api/keys/${created.id}`, { body: { isActive: true } });
      expect(on.status).toBe(200);
      await expect(modelsStatus(gw, created.key)).resolves.toBe(200);
    });

    it('DELETE answers 200 and the key stops working at once on the same replica', async () => {
      const created = await createKey(gw, { name: 'to-delete' });
      // Cache it first.
      await expect(modelsStatus(gw, created.key)).resolves.toBe(200);
      const del = await call(gw, 'DELETE', `/api/keys/${created.id}`);
      expect(del.status).toBe(200);
      expect(del.json).toEqual({ message: expect.any(String) });
      await expect(modelsStatus(gw, created.key)).resolves.toBe(401);
      expect((await call(gw, 'GET', `/api/keys/${created.id}`)).status).toBe(404);
      expect((await call(gw, 'DELETE', `/api/keys/${created.id}`)).status).toBe(404);
      const rows = await queryDb(gw.dbUrl, 'SELECT id FROM api_keys WHERE id = $1', [created.id]);
      expect(rows).toHaveLength(0);
    });

    it('an expired key (expiresAt in the past via PATCH) gets 401 on /v1/models', async () => {
      const created = await createKey(gw, { name: 'expiring' });
      await expect(modelsStatus(gw, created.key)).resolves.toBe(200);
      const past = new Date(Date.now() - 60_000).toISOString();
      const r = await call(gw, 'PATCH', `/api/keys/${created.id}`, { body: { expiresAt: past } });
      expect(r.status).toBe(200);
      const res = await call(gw, 'GET', '/v1/models', { key: created.key });
      expect(res.status).toBe(401);
      const body = res.json as OpenAiError;
      expect(body.error.type).toBe('authentication_error');
      expect(body.error.message).toMatch(/expired/i);
      // Clearing the expiry brings it back.
      const clear = await call(gw, 'PATCH', `/api/keys/${created.id}`, {
        body: { expiresAt: null },
      });
      expect(clear.status).toBe(200);
      await expect(modelsStatus(gw, created.key)).resolves.toBe(200);
    });

    it('a key created with expiresAt in the future works', async () => {
      const future = new Date(Date.now() + 3600_000).toISOString();
      const created = await createKey(gw, { name: 'future', expiresAt: future });
      await expect(modelsStatus(gw, created.key)).resolves.toBe(200);
      const got = (await call(gw, 'GET', `/api/keys/${created.id}`)).json as KeyView;
      expect(new Date(got.expiresAt!).getTime()).toBe(new Date(future).getTime());
    });
  });

  describe('scopes', () => {
    it('an inference-only key gets 403 on /api/keys', async () => {
      const created = await createKey(gw, { name: 'inference-only', scopes: ['inference'] });
      const r = await call(gw, 'GET', '/api/keys', { key: created.key });
      expect(r.status).toBe(403);
      expect(codeOf(r.json)).toBe('API_KEY_SCOPE');
      const w = await call(gw, 'POST', '/api/keys', {
        body: { name: 'escalate' },
        key: created.key,
      });
      expect(w.status).toBe(403);
      await expect(modelsStatus(gw, created.key)).resolves.toBe(200);
    });

    it('an admin-only key manages keys but gets 403 on /v1/models', async () => {
      const created = await createKey(gw, { name: 'admin-only', scopes: ['admin'] });
      expect((await call(gw, 'GET', '/api/keys', { key: created.key })).status).toBe(200);
      const res = await call(gw, 'GET', '/v1/models', { key: created.key });
      expect(res.status).toBe(403);
      expect((res.json as OpenAiError).error.type).toBe('permission_error');
    });

    it('an unknown or missing key gets 401 on /api/keys and /v1/models', async () => {
      expect((await call(gw, 'GET', '/api/keys', { key: 'sk-nope-nope-nope-nope' })).status).toBe(
        401,
      );
      expect((await call(gw, 'GET', '/api/keys', { key: null })).status).toBe(401);
      await expect(modelsStatus(gw, 'sk-nope-nope-nope-nope')).resolves.toBe(401);
      expect((await call(gw, 'GET', '/v1/models', { key: null })).status).toBe(401);
    });
  });
});

describe('/api/keys revocation across replicas', () => {
  let a: TestApp;
  let b: TestApp;
  beforeAll(async () => {
    // Replicas share revocations through Redis pub/sub: Redis even in the memory-store run.
    a = await startTestApp({ redis: true });
    b = await startTestApp({ dbUrl: a.dbUrl, redisPrefix: a.redisPrefix, redis: true });
  });
  afterAll(async () => {
    await b?.close();
    await a?.close();
  });

  it('a key deleted on replica A is rejected by replica B within ~1 s (pub/sub, not the TTL)', async () => {
    const created = await createKey(a, { name: 'replicated' });
    // B looks it up once: now it is in B's cache (TTL 5 s).
    await expect(modelsStatus(b, created.key)).resolves.toBe(200);
    await expect(modelsStatus(b, created.key)).resolves.toBe(200);

    const del = await call(a, 'DELETE', `/api/keys/${created.id}`);
    expect(del.status).toBe(200);
    const deletedAt = Date.now();
    let status = 200;
    while (Date.now() - deletedAt < 1500) {
      status = await modelsStatus(b, created.key);
      if (status === 401) {
        break;
      }
      await new Promise((r) => setTimeout(r, 25));
    }
    const elapsed = Date.now() - deletedAt;
    expect(status).toBe(401);
    expect(elapsed).toBeLessThan(1200);
    // And it stays rejected.
    await expect(modelsStatus(b, created.key)).resolves.toBe(401);
  });

  it('a key disabled on replica A is rejected by replica B at once', async () => {
    const created = await createKey(a, { name: 'replicated-disable' });
    await expect(modelsStatus(b, created.key)).resolves.toBe(200);
    const r = await call(a, 'PATCH', `/api/keys/${created.id}`, { body: { isActive: false } });
    expect(r.status).toBe(200);
    const started = Date.now();
    let status = 200;
    while (Date.now() - started < 1500) {
      status = await modelsStatus(b, created.key);
      if (status !== 200) {
        break;
      }
      await new Promise((r2) => setTimeout(r2, 25));
    }
    expect(status).not.toBe(200);
    expect(Date.now() - started).toBeLessThan(1200);
  });

  it('a key created on A works on B (shared database)', async () => {
    const created = await createKey(a, { name: 'shared' });
    await expect(modelsStatus(b, created.key)).resolves.toBe(200);
    const got = await call(b, 'GET', `/api/keys/${created.id}`);
    expect(got.status).toBe(200);
  });
});
