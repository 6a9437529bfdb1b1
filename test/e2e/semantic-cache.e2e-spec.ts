/**
 * The response cache's semantic mode (issue 5, optional part): the conversation is embedded through
 * the gateway's own /v1/embeddings and a similar enough earlier conversation of the same API key,
 * dialect, model and parameters answers. The embedding model here is a bag-of-words embedder on an
 * embeddings node, so "similar" is predictable: the same words in another case or punctuation are
 * identical vectors, a few words changed are close, another question is far.
 */
import { startBowEmbedder, type BowEmbedder } from '../support/bow-embedder';
import { useGateway } from '../support/fixtures';
import { addMockNode, admin, call, type CallResult } from '../support/gateway-client';

describe('semantic cache mode', () => {
  const { gw, mock } = useGateway();
  let embedder: BowEmbedder;
  let key2: string;
  let seq = 0;

  beforeAll(async () => {
    embedder = await startBowEmbedder();
    await addMockNode(gw, 'sc', mock.baseUrl);
    const { node } = await admin<{ node: { id: string } }>(gw, 'POST', '/api/provider-nodes', {
      name: 'bow',
      prefix: 'bow',
      baseUrl: embedder.url,
      apiType: 'embeddings',
    });
    await admin(gw, 'POST', '/api/providers', { provider: node.id, name: 'bow', apiKey: 'k' });
    const created = await call(gw, 'POST', '/api/keys', { body: { name: 'semantic-second' } });
    key2 = (created.json as { key: string }).key;
  });
  afterAll(async () => {
    await embedder?.close();
  });
  beforeEach(() => mock.reset());

  /** A model name no other test uses: each test starts with an empty cache scope. */
  const model = (): string => `sc/gpt-4o-mini-${++seq}`;
  const chat = (
    m: string,
    content: string,
    extra: Record<string, unknown> = {},
    key?: string,
  ): Promise<CallResult> =>
    call(gw, 'POST', '/v1/chat/completions', {
      key,
      body: {
        model: m,
        stream: false,
        temperature: 0,
        messages: [{ role: 'user', content }],
        ...extra,
      },
    });
  const upstream = (): number => mock.stats().chatCompletions;

  it('is off by default: a reworded question is a MISS', async () => {
    const cfg = await admin<{ config: Record<string, unknown> }>(gw, 'GET', '/api/cache');
    expect(cfg.config).toMatchObject({ semanticEnabled: false, semanticThreshold: 0.95 });
    const m = model();
    await chat(m, 'What is the capital of France?');
    const r = await chat(m, 'what is the capital of france');
    expect(r.headers.get('x-omniroute-cache')).toBe('MISS');
    expect(upstream()).toBe(2);
  });

  it('validates its settings', async () => {
    const bad = await call(gw, 'PUT', '/api/cache/config', {
      body: { semanticThreshold: 1.5, semanticModel: '', semanticMaxEntries: 0 },
    });
    expect(bad.status).toBe(400);
    expect(bad.text).toMatch(/semanticThreshold/);
  });

  describe('enabled', () => {
    beforeAll(async () => {
      const r = await call(gw, 'PUT', '/api/cache/config', {
        body: { semanticEnabled: true, semanticModel: 'bow/bow', semanticThreshold: 0.9 },
      });
      expect(r.status).toBe(200);
    });

    it('answers a reworded question from the earlier answer (HIT, similarity header, no upstream call)', async () => {
      const m = model();
      const a = await chat(m, 'What is the capital of France?');
      expect(a.headers.get('x-omniroute-cache')).toBe('MISS');
      const embedCalls = embedder.calls();
      const b = await chat(m, 'what is the capital of france');
      expect(b.status).toBe(200);
      expect(b.headers.get('x-omniroute-cache')).toBe('HIT');
      expect(b.headers.get('x-omniroute-cache-match')).toMatch(
        /^semantic; similarity=(0\.9\d*|1\.0+)$/,
      );
      expect(b.json).toEqual(a.json);
      expect(upstream()).toBe(1);
      // the embedding went through the gateway's own embeddings route
      expect(embedder.calls()).toBe(embedCalls + 1);
    });

    it('a different question is a MISS', async () => {
      const m = model();
      await chat(m, 'What is the capital of France?');
      const r = await chat(m, 'Tell me a long story about purple elephants dancing');
      expect(r.headers.get('x-omniroute-cache')).toBe('MISS');
      expect(upstream()).toBe(2);
    });

    it('never crosses API keys', async () => {
      const m = model();
      await chat(m, 'How tall is Mount Everest?');
      const r = await chat(m, 'how tall is mount everest', {}, key2);
      expect(r.status).toBe(200);
      expect(r.headers.get('x-omniroute-cache')).toBe('MISS');
      expect(upstream()).toBe(2);
    });

    it('only the wording may differ: other parameters (max_tokens) are another scope', async () => {
      const m = model();
      await chat(m, 'Name three primary colors', { max_tokens: 50 });
      const r = await chat(m, 'name three primary colors', { max_tokens: 60 });
      expect(r.headers.get('x-omniroute-cache')).toBe('MISS');
    });

    it('a temperature above 0 is never cached', async () => {
      const m = model();
      await chat(m, 'Pick a random number', { temperature: 0.8 });
      const r = await chat(m, 'pick a random number', { temperature: 0.8 });
      expect(r.headers.get('x-omniroute-cache')).toBeNull();
      expect(upstream()).toBe(2);
    });

    it('an embedding failure is a plain MISS (counted), never an error', async () => {
      await call(gw, 'PUT', '/api/cache/config', { body: { semanticModel: 'nosuch/embedder' } });
      try {
        const m = model();
        const r = await chat(m, 'Is this still answered?');
        expect(r.status).toBe(200);
        expect(r.headers.get('x-omniroute-cache')).toBe('MISS');
        const metrics = (await call(gw, 'GET', '/metrics', { key: null })).text;
        expect(metrics).toMatch(/gateway_cache_requests_total\{result="semantic_error"\} [1-9]/);
      } finally {
        await call(gw, 'PUT', '/api/cache/config', { body: { semanticModel: 'bow/bow' } });
      }
    });
  });
});
