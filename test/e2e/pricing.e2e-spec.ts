import { DEFAULT_PRICING } from '../../src/pricing/default-pricing';
import { PricingService } from '../../src/pricing/pricing.service';
import type { PricingTable } from '../../src/pricing/pricing.types';
import { startTestApp, type TestApp } from '../support/app';
import { queryDb } from '../support/db';
import { useGateway } from '../support/fixtures';
import { call, codeOf, fieldsOf, type ManagementError } from '../support/gateway-client';

type SourceMap = Record<string, Record<string, 'default' | 'user'>>;

async function pricing(gw: TestApp): Promise<PricingTable> {
  const r = await call(gw, 'GET', '/api/pricing');
  expect(r.status).toBe(200);
  return r.json as PricingTable;
}

describe('/api/pricing', () => {
  const { gw } = useGateway({ mock: false });

  afterEach(async () => {
    expect((await call(gw, 'DELETE', '/api/pricing')).status).toBe(200);
  });

  describe('auth', () => {
    it.each([
      ['GET', '/api/pricing'],
      ['GET', '/api/pricing?includeSources=1'],
      ['GET', '/api/pricing/defaults'],
      ['PATCH', '/api/pricing'],
      ['DELETE', '/api/pricing'],
    ])('%s %s rejects without credentials (401)', async (method, path) => {
      const r = await call(gw, method, path, {
        key: null,
        body: method === 'PATCH' ? { openai: { 'gpt-4o': { input: 0 } } } : undefined,
      });
      expect(r.status).toBe(401);
      expect(codeOf(r.json)).toBe('AUTH_REQUIRED');
    });

    it('leaves the table alone when an unauthenticated PATCH or DELETE is refused', async () => {
      await call(gw, 'PATCH', '/api/pricing', { body: { openai: { 'gpt-4o': { input: 7 } } } });
      await call(gw, 'PATCH', '/api/pricing', {
        key: null,
        body: { openai: { 'gpt-4o': { input: 0 } } },
      });
      await call(gw, 'DELETE', '/api/pricing', { key: null });
      expect((await pricing(gw)).openai['gpt-4o'].input).toBe(7);
    });
  });

  it('documents the routes in OpenAPI with operation ids and the price schema', async () => {
    const r = await fetch(`${gw.url}/docs-json`);
    expect(r.status).toBe(200);
    const doc = (await r.json()) as {
      paths: Record<string, Record<string, { operationId?: string }>>;
      components: { schemas: Record<string, { properties?: Record<string, unknown> }> };
    };
    const ops = (path: string) =>
      Object.fromEntries(Object.entries(doc.paths[path]).map(([m, op]) => [m, op.operationId]));
    expect(ops('/api/pricing')).toEqual({
      get: 'Pricing_get',
      patch: 'Pricing_update',
      delete: 'Pricing_reset',
    });
    expect(ops('/api/pricing/defaults')).toEqual({ get: 'Pricing_defaults' });
    expect(Object.keys(doc.components.schemas.ModelPriceDto.properties ?? {}).sort()).toEqual([
      'audio_second',
      'cache_creation',
      'cached',
      'image',
      'input',
      'output',
      'reasoning',
    ]);
    expect(doc.components.schemas.PricingWithSourcesResponse).toBeDefined();
  });

  describe('GET', () => {
    it('answers the built-in defaults on a fresh install', async () => {
      expect(await pricing(gw)).toEqual(DEFAULT_PRICING);
    });

    it('GET /api/pricing/defaults answers the built-in table', async () => {
      const r = await call(gw, 'GET', '/api/pricing/defaults');
      expect(r.status).toBe(200);
      expect(r.json).toEqual(DEFAULT_PRICING);
    });

    it('?includeSources=1 answers {pricing, sourceMap} with default|user per model', async () => {
      await call(gw, 'PATCH', '/api/pricing', {
        body: { openai: { 'gpt-4o': { input: 2 } }, 'my-node': { m: { input: 0, output: 0 } } },
      });
      const r = await call(gw, 'GET', '/api/pricing?includeSources=1');
      expect(r.status).toBe(200);
      const body = r.json as { pricing: PricingTable; sourceMap: SourceMap };
      expect(Object.keys(body).sort()).toEqual(['pricing', 'sourceMap']);
      expect(body.pricing.openai['gpt-4o'].input).toBe(2);
      expect(body.sourceMap.openai['gpt-4o']).toBe('user');
      expect(body.sourceMap.openai['gpt-4o-mini']).toBe('default');
      expect(body.sourceMap['my-node']).toEqual({ m: 'user' });
      expect(Object.keys(body.sourceMap).sort()).toEqual(Object.keys(body.pricing).sort());

      const plain = await call(gw, 'GET', '/api/pricing?includeSources=0');
      expect(plain.json).toEqual(body.pricing);
    });
  });

  describe('PATCH', () => {
    it('lays fields over a default and answers the merged table', async () => {
      const r = await call(gw, 'PATCH', '/api/pricing', {
        body: { openai: { 'gpt-4o': { input: 2, cached: 0.5 } } },
      });
      expect(r.status).toBe(200);
      const table = r.json as PricingTable;
      expect(table.openai['gpt-4o']).toEqual({ input: 2, output: 10, cached: 0.5 });
      expect(table.openai['gpt-4o-mini']).toEqual(DEFAULT_PRICING.openai['gpt-4o-mini']);
      expect(await pricing(gw)).toEqual(table);
    });

    it('merges successive patches of the same model', async () => {
      await call(gw, 'PATCH', '/api/pricing', { body: { openai: { o3: { input: 1 } } } });
      await call(gw, 'PATCH', '/api/pricing', { body: { openai: { o3: { reasoning: 12 } } } });
      expect((await pricing(gw)).openai.o3).toEqual({
        ...DEFAULT_PRICING.openai.o3,
        input: 1,
        reasoning: 12,
      });
    });

    it('adds a provider and model that have no default (input and output required)', async () => {
      const r = await call(gw, 'PATCH', '/api/pricing', {
        body: { 'openai-compatible-chat-abc': { 'local/llama': { input: 0, output: 0.1 } } },
      });
      expect(r.status).toBe(200);
      expect((r.json as PricingTable)['openai-compatible-chat-abc']).toEqual({
        'local/llama': { input: 0, output: 0.1 },
      });

      const half = await call(gw, 'PATCH', '/api/pricing', { body: { x: { y: { input: 1 } } } });
      expect(half.status).toBe(400);
      expect(fieldsOf(half.json)).toEqual(['x.y.output']);
      expect((await pricing(gw)).x).toBeUndefined();
    });

    it('stores the overrides under the settings key "pricing"', async () => {
      await call(gw, 'PATCH', '/api/pricing', {
        body: { groq: { 'llama-3.1-8b-instant': { output: 1 } } },
      });
      const rows = await queryDb(gw.dbUrl, "SELECT value FROM settings WHERE key = 'pricing'");
      expect(rows[0].value).toEqual({ groq: { 'llama-3.1-8b-instant': { output: 1 } } });
    });

    it('updates what the gateway prices with at once (PricingService.priceOf)', async () => {
      const service = gw.app.get(PricingService);
      await call(gw, 'PATCH', '/api/pricing', {
        body: { deepseek: { 'deepseek-chat': { output: 3 } } },
      });
      expect(service.priceOf('deepseek', 'deepseek-chat')?.output).toBe(3);
      expect(service.priceOf('nope', 'deepseek-chat', 'deepseek')?.output).toBe(3);
    });

    it.each<[string, unknown, string[]]>([
      ['a negative price', { openai: { 'gpt-4o': { input: -1 } } }, ['openai.gpt-4o.input']],
      ['a string price', { openai: { 'gpt-4o': { output: '10' } } }, ['openai.gpt-4o.output']],
      ['an unknown field', { openai: { 'gpt-4o': { price: 1 } } }, ['openai.gpt-4o.price']],
      ['a flat body', { input: 1, output: 2 }, ['input', 'output']],
      ['an array body', [{ openai: {} }], ['body']],
      ['an empty model entry', { openai: { 'gpt-4o': {} } }, ['openai.gpt-4o']],
    ])('rejects %s with 400 VALIDATION_FAILED listing the fields', async (_t, body, fields) => {
      const r = await call(gw, 'PATCH', '/api/pricing', { body });
      expect(r.status).toBe(400);
      const err = r.json as ManagementError;
      expect(err.error.code).toBe('VALIDATION_FAILED');
      expect(err.error.requestId).toBe(r.headers.get('x-request-id'));
      expect(fieldsOf(r.json)).toEqual(fields);
      expect(await pricing(gw)).toEqual(DEFAULT_PRICING);
    });

    it('rejects an empty body and invalid JSON with 400', async () => {
      const empty = await call(gw, 'PATCH', '/api/pricing', { rawBody: '' });
      expect(empty.status).toBe(400);
      expect(codeOf(empty.json)).toBe('VALIDATION_FAILED');
      const bad = await call(gw, 'PATCH', '/api/pricing', { rawBody: '{"openai":' });
      expect(bad.status).toBe(400);
    });

    it('rejects a prototype-pollution key', async () => {
      const r = await call(gw, 'PATCH', '/api/pricing', {
        rawBody: '{"__proto__":{"m":{"input":1,"output":1}}}',
      });
      expect(r.status).toBe(400);
      expect(({} as Record<string, unknown>).m).toBeUndefined();
    });
  });

  describe('DELETE', () => {
    beforeEach(async () => {
      const r = await call(gw, 'PATCH', '/api/pricing', {
        body: {
          openai: { 'gpt-4o': { input: 1 }, o3: { input: 1 } },
          anthropic: { 'claude-haiku-4-5': { output: 1 } },
          node: { m: { input: 1, output: 1 } },
        },
      });
      expect(r.status).toBe(200);
    });

    it('?provider=&model= resets one model and answers the merged table', async () => {
      const r = await call(gw, 'DELETE', '/api/pricing?provider=openai&model=gpt-4o');
      expect(r.status).toBe(200);
      const table = r.json as PricingTable;
      expect(table.openai['gpt-4o']).toEqual(DEFAULT_PRICING.openai['gpt-4o']);
      expect(table.openai.o3.input).toBe(1);
      expect(table.node.m).toEqual({ input: 1, output: 1 });
    });

    it('?provider= resets one provider (a provider without defaults disappears)', async () => {
      let table = (await call(gw, 'DELETE', '/api/pricing?provider=openai')).json as PricingTable;
      expect(table.openai).toEqual(DEFAULT_PRICING.openai);
      expect(table.anthropic['claude-haiku-4-5'].output).toBe(1);
      table = (await call(gw, 'DELETE', '/api/pricing?provider=node')).json as PricingTable;
      expect(table.node).toBeUndefined();
    });

    it('without a query resets every override', async () => {
      const r = await call(gw, 'DELETE', '/api/pricing');
      expect(r.status).toBe(200);
      expect(r.json).toEqual(DEFAULT_PRICING);
      const sources = (await call(gw, 'GET', '/api/pricing?includeSources=1')).json as {
        sourceMap: SourceMap;
      };
      expect(Object.values(sources.sourceMap).flatMap((m) => Object.values(m))).not.toContain(
        'user',
      );
    });

    it('is idempotent for unknown providers and models', async () => {
      const before = await pricing(gw);
      const r = await call(gw, 'DELETE', '/api/pricing?provider=zzz&model=yyy');
      expect(r.status).toBe(200);
      expect(r.json).toEqual(before);
    });

    it('rejects ?model= without ?provider= (400)', async () => {
      const r = await call(gw, 'DELETE', '/api/pricing?model=gpt-4o');
      expect(r.status).toBe(400);
      expect(fieldsOf(r.json)).toEqual(['provider']);
      expect((await pricing(gw)).openai['gpt-4o'].input).toBe(1);
    });
  });
});

describe('/api/pricing across replicas', () => {
  let a: TestApp;
  let b: TestApp;
  beforeAll(async () => {
    // The change notice travels through Redis pub/sub: Redis even in the memory-store run.
    a = await startTestApp({ redis: true });
    b = await startTestApp({ dbUrl: a.dbUrl, redisPrefix: a.redisPrefix, redis: true });
  });
  afterAll(async () => {
    await b?.close();
    await a?.close();
  });

  async function eventually(cond: () => boolean): Promise<void> {
    const deadline = Date.now() + 2_000;
    while (!cond()) {
      if (Date.now() > deadline) {
        throw new Error('the other replica did not pick up the change within 2 s');
      }
      await new Promise((r) => setTimeout(r, 10));
    }
  }

  it('a change on A reaches B at once (pub/sub, not the 30 s timer)', async () => {
    const onB = b.app.get(PricingService);
    expect(onB.priceOf('openai', 'gpt-4o')?.input).toBe(2.5);

    await call(a, 'PATCH', '/api/pricing', { body: { openai: { 'gpt-4o': { input: 4 } } } });
    await eventually(() => onB.priceOf('openai', 'gpt-4o')?.input === 4);
    expect((await pricing(b)).openai['gpt-4o'].input).toBe(4);

    await call(a, 'DELETE', '/api/pricing');
    await eventually(() => onB.priceOf('openai', 'gpt-4o')?.input === 2.5);
  });

  it('a replica started later loads the stored overrides', async () => {
    await call(a, 'PATCH', '/api/pricing', {
      body: { mistral: { 'mistral-small-latest': { input: 9 } } },
    });
    const c = await startTestApp({ dbUrl: a.dbUrl, redisPrefix: a.redisPrefix, redis: true });
    try {
      expect(c.app.get(PricingService).priceOf('mistral', 'mistral-small-latest')?.input).toBe(9);
    } finally {
      await c.close();
      await call(a, 'DELETE', '/api/pricing');
    }
  });
});
