import { dialectForPath } from '../../src/common/errors/render';
import { HotPathSlot } from '../../src/common/http/hot-path.slot';
import { useGateway } from '../support/fixtures';
import {
  call,
  codeOf,
  fieldsOf,
  type ManagementError,
  type OpenAiError,
} from '../support/gateway-client';

interface OpenApiOperation {
  operationId?: string;
  security?: Record<string, string[]>[];
}

interface OpenApiDoc {
  openapi: string;
  paths: Record<string, Record<string, OpenApiOperation>>;
  components: { securitySchemes: Record<string, { type: string; in?: string; name?: string }> };
}

const ZERO_UUID = '00000000-0000-0000-0000-000000000000';
const HTTP_METHODS = ['get', 'post', 'put', 'patch', 'delete'];

/** Routes documented as reachable without credentials (API.md §3, reference §1 PUBLIC). */
const PUBLIC_API = new Set([
  'POST /api/auth/login',
  'POST /api/auth/logout',
  'GET /api/auth/status',
  'GET /api/settings/require-login',
]);

function expectManagementError(body: unknown, code: string, requestId: string | null): void {
  const b = body as ManagementError;
  expect(b.error.code).toBe(code);
  expect(typeof b.error.message).toBe('string');
  expect(b.error.message.length).toBeGreaterThan(0);
  expect(b.requestId).toBe(requestId);
  expect(b.error.requestId).toBe(requestId);
}

function expectOpenAiError(body: unknown): OpenAiError['error'] {
  const b = body as OpenAiError;
  expect(Object.keys(b)).toEqual(['error']);
  expect(typeof b.error.message).toBe('string');
  expect(typeof b.error.type).toBe('string');
  expect(b.error).toHaveProperty('param');
  expect(b.error).toHaveProperty('code');
  expect(b).not.toHaveProperty('requestId');
  return b.error;
}

/** Sum of a counter's samples whose label set contains `labels`. */
function counterValue(metrics: string, name: string, labels: string): number {
  let sum = 0;
  for (const line of metrics.split('\n')) {
    if (line.startsWith(`${name}{`) && line.includes(labels)) {
      sum += Number(line.slice(line.lastIndexOf(' ') + 1));
    }
  }
  return sum;
}

/** A JSON body of about `bytes` bytes. */
function bigJson(bytes: number, extra: Record<string, unknown> = {}): string {
  return JSON.stringify({ ...extra, padding: 'x'.repeat(bytes) });
}

describe('operations', () => {
  const { gw } = useGateway({ mock: false });

  describe('health', () => {
    it('GET /health/live is 200 without auth', async () => {
      const r = await fetch(`${gw.url}/health/live`);
      expect(r.status).toBe(200);
      await expect(r.json()).resolves.toEqual({ status: 'ok' });
    });

    it('GET /health/ready is 200 with database and kv (redis) up', async () => {
      const r = await fetch(`${gw.url}/health/ready`);
      expect(r.status).toBe(200);
      const body = (await r.json()) as {
        status: string;
        info: Record<string, { status: string; kind?: string }>;
        error: Record<string, unknown>;
      };
      expect(body.status).toBe('ok');
      expect(body.info.database).toEqual({ status: 'up' });
      expect(body.info.kv).toEqual({
        status: 'up',
        kind: process.env.OMNI_TEST_NO_REDIS === '1' ? 'memory' : 'redis',
      });
      expect(body.error).toEqual({});
    });
  });

  describe('metrics', () => {
    it('serves Prometheus text with the gateway and process metrics, without auth', async () => {
      const r = await fetch(`${gw.url}/metrics`);
      expect(r.status).toBe(200);
      expect(r.headers.get('content-type')).toMatch(/^text\/plain/);
      const text = await r.text();
      expect(text).toMatch(/^# HELP gateway_requests_total /m);
      expect(text).toMatch(/^# TYPE gateway_requests_total counter$/m);
      expect(text).toMatch(/^# TYPE gateway_request_duration_seconds histogram$/m);
      expect(text).toMatch(/^process_cpu_seconds_total \d/m);
      expect(text).not.toMatch(/<html/i);
    });

    it('counts a /v1/models call under surface="models"', async () => {
      const scrape = async (): Promise<string> => (await fetch(`${gw.url}/metrics`)).text();
      const label = 'surface="models"';
      const before = counterValue(await scrape(), 'gateway_requests_total', label);
      expect((await call(gw, 'GET', '/v1/models')).status).toBe(200);
      const text = await scrape();
      expect(text).toMatch(
        /^gateway_requests_total\{[^}]*surface="models"[^}]*status_class="2xx"/m,
      );
      expect(counterValue(text, 'gateway_requests_total', label)).toBe(before + 1);
    });
  });

  describe('OpenAPI', () => {
    let doc: OpenApiDoc;
    beforeAll(async () => {
      const r = await fetch(`${gw.url}/docs-json`);
      expect(r.status).toBe(200);
      doc = (await r.json()) as OpenApiDoc;
    });

    it('serves Swagger UI at /docs', async () => {
      const r = await fetch(`${gw.url}/docs`);
      expect(r.status).toBe(200);
      expect(r.headers.get('content-type')).toMatch(/text\/html/);
      expect(await r.text()).toMatch(/swagger/i);
    });

    it('documents both security schemes and the main paths', () => {
      expect(doc.openapi).toMatch(/^3\./);
      expect(doc.components.securitySchemes['api-key']).toMatchObject({ type: 'http' });
      expect(doc.components.securitySchemes.session).toMatchObject({
        type: 'apiKey',
        in: 'cookie',
        name: 'auth_token',
      });
      for (const path of [
        '/v1/chat/completions',
        '/v1/models',
        '/api/keys',
        '/api/keys/{id}',
        '/api/providers',
        '/api/provider-nodes',
        '/api/auth/login',
      ]) {
        expect(Object.keys(doc.paths)).toContain(path);
      }
      expect(doc.paths['/v1/chat/completions']).toHaveProperty('post');
      expect(doc.paths['/api/keys']).toHaveProperty('get');
      expect(doc.paths['/api/keys']).toHaveProperty('post');
    });

    it('gives every non-public /api operation both security schemes and an operationId', () => {
      const missing: string[] = [];
      const ids = new Set<string>();
      for (const [path, item] of Object.entries(doc.paths)) {
        if (!path.startsWith('/api/') || path === '/api/tags') {
          continue; // /api/tags is Ollama's client API (API key only), not management
        }
        for (const [method, op] of Object.entries(item)) {
          if (!HTTP_METHODS.includes(method)) {
            continue;
          }
          const route = `${method.toUpperCase()} ${path}`;
          expect(op.operationId).toBeTruthy();
          expect(ids.has(op.operationId!)).toBe(false);
          ids.add(op.operationId!);
          if (PUBLIC_API.has(route)) {
            continue;
          }
          const schemes = (op.security ?? []).flatMap((s) => Object.keys(s));
          if (!schemes.includes('api-key') || !schemes.includes('session')) {
            missing.push(route);
          }
        }
      }
      expect(missing).toEqual([]);
    });

    it('every documented /api route is guarded (401 without credentials) or one of the public ones', async () => {
      const checked: string[] = [];
      const wrong: string[] = [];
      for (const [path, item] of Object.entries(doc.paths)) {
        if (!path.startsWith('/api/')) {
          continue;
        }
        const url = path.replace(/\{[^}]+\}/g, ZERO_UUID);
        for (const method of Object.keys(item)) {
          if (!HTTP_METHODS.includes(method)) {
            continue;
          }
          const route = `${method.toUpperCase()} ${path}`;
          const hasBody = method !== 'get' && method !== 'delete';
          const res = await call(gw, method.toUpperCase(), url, {
            key: null,
            rawBody: hasBody ? '{}' : undefined,
          });
          checked.push(route);
          const isPublic = PUBLIC_API.has(route);
          if (isPublic ? res.status === 401 || res.status >= 500 : res.status !== 401) {
            wrong.push(`${route} → ${res.status}`);
          }
        }
      }
      expect(wrong).toEqual([]);
      // The walk really covered the management API.
      expect(checked).toEqual(
        expect.arrayContaining([
          'GET /api/keys',
          'POST /api/keys',
          'GET /api/keys/{id}',
          'PATCH /api/keys/{id}',
          'DELETE /api/keys/{id}',
          'GET /api/keys/{id}/reveal',
          'GET /api/providers',
          'POST /api/providers/{id}/test',
          'GET /api/provider-nodes',
          'PUT /api/settings/require-login',
          'POST /api/settings/require-login',
          ...PUBLIC_API,
        ]),
      );
    });

    it('every documented client-API route refuses a request without an API key (401, in its dialect)', async () => {
      const client = Object.entries(doc.paths).filter(
        ([p]) => p.startsWith('/v1/') || p.startsWith('/v1beta/') || p === '/api/tags',
      );
      expect(client.length).toBeGreaterThan(5);
      for (const [template, item] of client) {
        const path = template.replace('{model}', 'oai/x');
        for (const method of Object.keys(item).filter((m) => HTTP_METHODS.includes(m))) {
          const hasBody = method !== 'get' && method !== 'delete';
          const res = await call(gw, method.toUpperCase(), path, {
            key: null,
            rawBody: hasBody ? '{"model":"x","messages":[]}' : undefined,
          });
          expect({ route: `${method} ${path}`, status: res.status }).toEqual({
            route: `${method} ${path}`,
            status: 401,
          });
          const j = res.json as Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
          switch (dialectForPath(path)) {
            case 'anthropic':
              expect(j).toMatchObject({ type: 'error', error: { type: 'authentication_error' } });
              break;
            case 'gemini':
              expect(j.error).toMatchObject({ code: 401, status: 'UNAUTHENTICATED' });
              break;
            case 'ollama':
              expect(typeof j.error).toBe('string');
              break;
            case 'openai':
            case 'management':
              expect(expectOpenAiError(res.json).type).toBe('authentication_error');
          }
        }
      }
    });
  });

  describe('request ids', () => {
    it('every response carries x-request-id, unique per request', async () => {
      const ids: string[] = [];
      for (const [path, key] of [
        ['/health/live', null],
        ['/metrics', null],
        ['/api/keys', gw.adminKey],
        ['/api/keys', null],
        ['/v1/models', gw.adminKey],
        ['/v1/models', null],
        ['/api/nope', null],
        ['/docs-json', null],
      ] as [string, string | null][]) {
        const r = await call(gw, 'GET', path, { key });
        const id = r.headers.get('x-request-id');
        expect({ path, id: typeof id }).toEqual({ path, id: 'string' });
        expect(id!.length).toBeGreaterThan(0);
        ids.push(id!);
      }
      expect(new Set(ids).size).toBe(ids.length);
    });

    it('echoes a client-sent x-request-id, also inside error bodies', async () => {
      const headers = { 'x-request-id': 'my-id-123' };
      const ok = await call(gw, 'GET', '/api/keys', { headers });
      expect(ok.status).toBe(200);
      expect(ok.headers.get('x-request-id')).toBe('my-id-123');

      const denied = await call(gw, 'GET', '/api/keys', { key: null, headers });
      expect(denied.status).toBe(401);
      expect(denied.headers.get('x-request-id')).toBe('my-id-123');
      expectManagementError(denied.json, 'AUTH_REQUIRED', 'my-id-123');

      const v1 = await call(gw, 'GET', '/v1/models', { headers });
      expect(v1.headers.get('x-request-id')).toBe('my-id-123');
    });

    it('replaces an unsafe client request id with its own', async () => {
      const evil = 'bad id\twith spaces';
      const r = await fetch(`${gw.url}/health/live`, { headers: { 'x-request-id': evil } });
      const id = r.headers.get('x-request-id');
      expect(id).toBeTruthy();
      expect(id).not.toBe(evil);
      expect(id).toMatch(/^[A-Za-z0-9._:@-]+$/);
      const long = 'a'.repeat(500);
      const r2 = await fetch(`${gw.url}/health/live`, { headers: { 'x-request-id': long } });
      expect(r2.headers.get('x-request-id')).not.toBe(long);
    });
  });

  describe('unknown routes', () => {
    it('an unknown /api route is a JSON 404 in the management shape (with or without auth)', async () => {
      for (const key of [gw.adminKey, null]) {
        const r = await call(gw, 'GET', '/api/nope', { key });
        expect(r.status).toBe(404);
        expect(r.headers.get('content-type')).toMatch(/^application\/json/);
        expectManagementError(r.json, 'ROUTE_NOT_FOUND', r.headers.get('x-request-id'));
      }
      const post = await call(gw, 'POST', '/api/nope/deeper', { rawBody: '{}' });
      expect(post.status).toBe(404);
      expectManagementError(post.json, 'ROUTE_NOT_FOUND', post.headers.get('x-request-id'));
    });

    it('an unknown /v1 route is a JSON 404 in the OpenAI shape', async () => {
      const r = await call(gw, 'GET', '/v1/nope');
      expect(r.status).toBe(404);
      expect(r.headers.get('content-type')).toMatch(/^application\/json/);
      const err = expectOpenAiError(r.json);
      expect(err.type).toBe('invalid_request_error');
    });
  });

  describe('bad bodies', () => {
    it('malformed JSON on /api/keys is 400 INVALID_JSON (management shape)', async () => {
      const r = await call(gw, 'POST', '/api/keys', {
        rawBody: '{"name":',
        headers: { 'x-request-id': 'bad-json-1' },
      });
      expect(r.status).toBe(400);
      expectManagementError(r.json, 'INVALID_JSON', 'bad-json-1');
    });

    it('an empty JSON body on POST /api/keys is 400 listing the missing field', async () => {
      const r = await call(gw, 'POST', '/api/keys', { rawBody: '' });
      expect(r.status).toBe(400);
      expect(codeOf(r.json)).toBe('VALIDATION_FAILED');
      expect(fieldsOf(r.json)).toContain('name');
    });

    it('a DELETE sent with a JSON content type and no body works', async () => {
      const created = await call(gw, 'POST', '/api/keys', { body: { name: 'to-delete' } });
      const { id } = created.json as { id: string };
      const r = await call(gw, 'DELETE', `/api/keys/${id}`, {
        headers: { 'content-type': 'application/json' },
      });
      expect(r.status).toBe(200);
    });

    it('malformed JSON on /v1/chat/completions is 400 in the OpenAI shape', async () => {
      const r = await call(gw, 'POST', '/v1/chat/completions', { rawBody: '{"model":' });
      expect(r.status).toBe(400);
      const err = expectOpenAiError(r.json);
      expect(err.type).toBe('invalid_request_error');
      expect(err.code).toBe('invalid_json');
    });

    it('a non-JSON content type on /api/keys is a 4xx in the management shape, not a 500', async () => {
      const r = await call(gw, 'POST', '/api/keys', {
        rawBody: 'name=x',
        headers: { 'content-type': 'text/plain' },
      });
      expect(r.status).toBeGreaterThanOrEqual(400);
      expect(r.status).toBeLessThan(500);
      expect(r.json as ManagementError).toMatchObject({
        error: { code: expect.any(String) },
      });
    });
  });

  it('the process is still alive and ready after all of this', async () => {
    const live = await fetch(`${gw.url}/health/live`);
    expect(live.status).toBe(200);
    const ready = await fetch(`${gw.url}/health/ready`);
    expect(ready.status).toBe(200);
    await ready.arrayBuffer();
  });
});

describe('body size limit (MAX_BODY_SIZE_MB=1)', () => {
  const { gw } = useGateway({ app: { env: { MAX_BODY_SIZE_MB: '1' } }, mock: false });

  it('answers 413 in the management shape on /api/keys and creates nothing', async () => {
    const r = await call(gw, 'POST', '/api/keys', {
      rawBody: bigJson(1.5 * 1024 * 1024, { name: 'huge' }),
      headers: { 'x-request-id': 'too-big-1' },
    });
    expect(r.status).toBe(413);
    expectManagementError(r.json, 'PAYLOAD_TOO_LARGE', 'too-big-1');
    const list = await call(gw, 'GET', '/api/keys');
    const keys = (list.json as { keys: { name: string }[] }).keys;
    expect(keys.map((k) => k.name)).not.toContain('huge');
  });

  it('answers 413 in the OpenAI shape on /v1/chat/completions', async () => {
    const r = await call(gw, 'POST', '/v1/chat/completions', {
      rawBody: bigJson(1.5 * 1024 * 1024, {
        model: 'x/y',
        messages: [{ role: 'user', content: 'hi' }],
      }),
    });
    expect(r.status).toBe(413);
    const err = expectOpenAiError(r.json);
    expect(err.type).toBe('invalid_request_error');
    expect(err.code).toBe('payload_too_large');
  });

  it('accepts a body just under the limit', async () => {
    const r = await call(gw, 'POST', '/api/keys', {
      // Unknown fields are stripped; the size is what matters.
      rawBody: bigJson(900 * 1024, { name: 'just-under' }),
    });
    expect(r.status).toBe(201);
  });

  it('is still alive afterwards', async () => {
    const r = await fetch(`${gw.url}/health/live`);
    expect(r.status).toBe(200);
    await r.arrayBuffer();
  });
});

describe('while shutting down', () => {
  const { gw } = useGateway({ mock: false });

  it('answers new client-API requests 503 with Connection: close (the management API is Fastify’s 503)', async () => {
    gw.app.get(HotPathSlot).closing = true;
    try {
      const res = await fetch(`${gw.url}/v1/models`, {
        headers: { authorization: `Bearer ${gw.adminKey}` },
      });
      expect(res.status).toBe(503);
      expect(res.headers.get('connection')).toBe('close');
      const body = (await res.json()) as { error: { type: string; message: string } };
      expect(body.error.type).toBe('server_error');
      expect(body.error.message).toMatch(/shutting down/);
    } finally {
      gw.app.get(HotPathSlot).closing = false;
    }
    expect(
      (await fetch(`${gw.url}/v1/models`, { headers: { authorization: `Bearer ${gw.adminKey}` } }))
        .status,
    ).toBe(200);
  });
});
