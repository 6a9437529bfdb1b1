import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { UsageService } from '../../src/usage/usage.service';
import { startTestApp, type TestApp } from '../support/app';
import { createTestDatabase, queryDb } from '../support/db';
import {
  readFixture,
  startFixtureUpstream,
  type FixtureDialect,
  type FixtureUpstream,
} from '../support/fixture-upstream';
import { useGateway } from '../support/fixtures';
import { addMockNode, admin, call, type Gateway } from '../support/gateway-client';
import {
  countPromptTokens,
  startMockUpstream,
  type MockUpstream,
  type RecordedRequest,
} from '../support/mock-upstream';
import { startTcpProxy, type TcpProxy } from '../support/tcp-proxy';

/**
 * The usage ledger end to end: what each attempt and each request cost (priced from what the
 * upstream reported, cached tokens at the cached price), exact row counts under a mixed load of
 * fallbacks, failures and client aborts, and no loss and no duplicate across a Postgres restart.
 */

type Row = Record<string, unknown>;

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function until(
  cond: () => boolean | Promise<boolean>,
  timeoutMs = 15_000,
  what = 'condition',
): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > end) {
      throw new Error(`${what} not met within ${timeoutMs} ms`);
    }
    await sleep(50);
  }
}

/** Flushes the ledger until `done` holds: rows are written after the answer went out. */
async function flushUntil(
  gw: TestApp,
  done: () => Promise<boolean>,
  what: string,
  timeoutMs = 15_000,
): Promise<void> {
  const usage = gw.app.get(UsageService);
  await until(
    async () => {
      await usage.flush();
      return done();
    },
    timeoutMs,
    what,
  );
  // A little longer: a duplicate or a late extra row would show up now.
  await sleep(150);
  await usage.flush();
}

async function count(db: string, sql: string, params: unknown[]): Promise<number> {
  const rows = await queryDb(db, sql, params);
  return Number(rows[0].n);
}

function groupBy<T>(items: T[], key: (t: T) => string): Map<string, T[]> {
  const out = new Map<string, T[]>();
  for (const it of items) {
    const k = key(it);
    const list = out.get(k);
    if (list) {
      list.push(it);
    } else {
      out.set(k, [it]);
    }
  }
  return out;
}

interface Sent {
  id: string;
  status: number;
  headers: Headers;
  text: string;
}

/** One request to the gateway with our own `x-request-id`; the body is read in full. */
async function send(
  gw: Gateway,
  id: string,
  path: string,
  body: unknown,
  signal?: AbortSignal,
): Promise<Sent> {
  const res = await fetch(`${gw.url}${path}`, {
    method: 'POST',
    headers: {
      authorization: `Bearer ${gw.adminKey}`,
      'content-type': 'application/json',
      'x-request-id': id,
      'x-omniroute-no-cache': 'true',
    },
    body: JSON.stringify(body),
    signal,
  });
  return { id, status: res.status, headers: res.headers, text: await res.text() };
}

// ------------------------------------------------------------------------------------------------
// 1. Cost per dialect

type Surface = 'openai-chat' | 'anthropic' | 'responses' | 'gemini' | 'ollama';

/** The request a client of `surface` sends (minimal, text only). */
function clientRequest(
  surface: Surface,
  model: string,
  stream: boolean,
  prompt: string,
): { path: string; body: unknown } {
  const messages = [{ role: 'user', content: prompt }];
  switch (surface) {
    case 'openai-chat':
      return { path: '/v1/chat/completions', body: { model, messages, stream } };
    case 'anthropic':
      return { path: '/v1/messages', body: { model, max_tokens: 1024, messages, stream } };
    case 'responses':
      return { path: '/v1/responses', body: { model, input: prompt, stream } };
    case 'gemini':
      return {
        path: `/v1beta/models/${model}:${stream ? 'streamGenerateContent?alt=sse' : 'generateContent'}`,
        body: { contents: [{ role: 'user', parts: [{ text: prompt }] }] },
      };
    case 'ollama':
      return { path: '/api/chat', body: { model, messages, stream } };
  }
}

/** Tokens as the upstream reported them, split the way they are billed. */
interface Reported {
  fresh: number;
  cacheRead: number;
  cacheCreation: number;
  output: number;
}

function obj(v: unknown): Row {
  return v !== null && typeof v === 'object' ? (v as Row) : {};
}
function num(v: unknown): number {
  return typeof v === 'number' ? v : 0;
}

/** The JSON payloads of an SSE body's `data:` lines (CRLF or LF), `[DONE]` skipped. */
function sseData(text: string): Row[] {
  return text
    .split(/\r?\n/)
    .filter((l) => l.startsWith('data:'))
    .map((l) => l.slice(5).trim())
    .filter((d) => d && d !== '[DONE]')
    .map((d) => obj(JSON.parse(d)));
}

/**
 * Reads the usage out of the exact bytes an upstream of `dialect` served, the way that API defines
 * it: OpenAI Chat / Responses / Gemini count cached tokens inside the prompt (fresh = prompt −
 * cached), Anthropic's `input_tokens` already excludes cache reads and writes; Gemini thoughts are
 * output; Ollama has no cache.
 */
function reportedUsage(dialect: FixtureDialect, bytes: Buffer, stream: boolean): Reported {
  const text = bytes.toString('utf8');
  switch (dialect) {
    case 'openai-chat': {
      const u = stream
        ? obj(
            sseData(text)
              .filter((e) => e.usage)
              .pop()?.usage,
          )
        : obj(obj(JSON.parse(text)).usage);
      const cached = num(obj(u.prompt_tokens_details).cached_tokens);
      return {
        fresh: num(u.prompt_tokens) - cached,
        cacheRead: cached,
        cacheCreation: 0,
        output: num(u.completion_tokens),
      };
    }
    case 'anthropic': {
      let u: Row = {};
      if (stream) {
        // message_start carries the input side, message_delta the cumulative totals.
        for (const e of sseData(text)) {
          if (e.type === 'message_start') {
            u = { ...u, ...obj(obj(e.message).usage) };
          } else if (e.type === 'message_delta') {
            u = { ...u, ...obj(e.usage) };
          }
        }
      } else {
        u = obj(obj(JSON.parse(text)).usage);
      }
      return {
        fresh: num(u.input_tokens),
        cacheRead: num(u.cache_read_input_tokens),
        cacheCreation: num(u.cache_creation_input_tokens),
        output: num(u.output_tokens),
      };
    }
    case 'responses': {
      const u = stream
        ? obj(obj(sseData(text).find((e) => e.type === 'response.completed')?.response).usage)
        : obj(obj(JSON.parse(text)).usage);
      const cached = num(obj(u.input_tokens_details).cached_tokens);
      return {
        fresh: num(u.input_tokens) - cached,
        cacheRead: cached,
        cacheCreation: 0,
        output: num(u.output_tokens),
      };
    }
    case 'gemini': {
      const u = stream
        ? obj(
            sseData(text)
              .filter((e) => e.usageMetadata)
              .pop()?.usageMetadata,
          )
        : obj(obj(JSON.parse(text)).usageMetadata);
      const cached = num(u.cachedContentTokenCount);
      return {
        fresh: num(u.promptTokenCount) - cached,
        cacheRead: cached,
        cacheCreation: 0,
        output: num(u.candidatesTokenCount) + num(u.thoughtsTokenCount),
      };
    }
    case 'ollama': {
      const last = stream
        ? text
            .split('\n')
            .filter(Boolean)
            .map((l) => obj(JSON.parse(l)))
            .filter((l) => l.done === true)
            .pop()
        : obj(JSON.parse(text));
      return {
        fresh: num(last?.prompt_eval_count),
        cacheRead: 0,
        cacheCreation: 0,
        output: num(last?.eval_count),
      };
    }
  }
}

interface Price {
  input: number;
  output: number;
  cached: number;
  cache_creation: number;
}

/** The README's formula; prices are multiples of 1/4 so every product is exact. */
function costOf(u: Reported, p: Price): number {
  return (
    (u.fresh * p.input +
      u.cacheRead * p.cached +
      u.cacheCreation * p.cache_creation +
      u.output * p.output) /
    1e6
  );
}

/** Anthropic's `text` answer with a cache read and a cache write, for the `cache_creation` price. */
const CACHE_READ = 300;
const CACHE_WRITE = 200;
function withCacheWrite(bytes: Buffer): Buffer {
  return Buffer.from(
    bytes
      .toString('utf8')
      .replace(/"cache_read_input_tokens":(\s*)0\b/g, `"cache_read_input_tokens":$1${CACHE_READ}`)
      .replace(
        /"cache_creation_input_tokens":(\s*)0\b/g,
        `"cache_creation_input_tokens":$1${CACHE_WRITE}`,
      )
      .replace(
        /"ephemeral_5m_input_tokens":(\s*)0\b/g,
        `"ephemeral_5m_input_tokens":$1${CACHE_WRITE}`,
      ),
    'utf8',
  );
}

/** A minimal Anthropic upstream serving `withCacheWrite` of the golden `text` fixture. */
async function startCacheWriteUpstream(): Promise<{ baseUrl: string; close(): Promise<void> }> {
  const json = withCacheWrite(readFixture('anthropic', 'text.response.json'));
  const sse = withCacheWrite(readFixture('anthropic', 'text.stream.sse'));
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      if (req.method === 'POST' && req.url?.startsWith('/v1/messages')) {
        const body = obj(JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}'));
        if (body.stream === true) {
          res.writeHead(200, { 'content-type': 'text/event-stream' });
          res.end(sse);
        } else {
          res.writeHead(200, { 'content-type': 'application/json' });
          res.end(json);
        }
        return;
      }
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ data: [], has_more: false }));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return {
    baseUrl: `http://127.0.0.1:${port}/v1`,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

interface Upstream {
  name: string;
  /** Model prefix routed to it. */
  prefix: string;
  dialect: FixtureDialect;
  /** Fixture cases asked for: one whose usage reports cached tokens (when the dialect has any), one without. */
  cases: string[];
  /** The exact bytes it answers with. */
  bytes(fixtureCase: string, stream: boolean): Buffer;
  /** Prices multiplier: every upstream gets its own prices, so a wrong lookup shows. */
  factor: number;
}

const fixtureBytes =
  (dialect: FixtureDialect) =>
  (fixtureCase: string, stream: boolean): Buffer =>
    readFixture(
      dialect,
      stream
        ? `${fixtureCase}.stream.${dialect === 'ollama' ? 'ndjson' : 'sse'}`
        : `${fixtureCase}.response.json`,
    );

const UPSTREAMS: Upstream[] = [
  {
    name: 'OpenAI Chat (prompt_tokens_details.cached_tokens)',
    prefix: 'lg-oai',
    dialect: 'openai-chat',
    cases: ['parallel-tool-calls', 'text'],
    bytes: fixtureBytes('openai-chat'),
    factor: 1,
  },
  {
    name: 'Anthropic (cache_read_input_tokens)',
    prefix: 'lg-ant',
    dialect: 'anthropic',
    cases: ['parallel-tool-calls', 'text'],
    bytes: fixtureBytes('anthropic'),
    factor: 2,
  },
  {
    name: 'Anthropic (cache_read + cache_creation_input_tokens)',
    prefix: 'lg-antw',
    dialect: 'anthropic',
    cases: ['text'],
    bytes: (_c, stream) =>
      withCacheWrite(readFixture('anthropic', stream ? 'text.stream.sse' : 'text.response.json')),
    factor: 3,
  },
  {
    name: 'Responses (input_tokens_details.cached_tokens)',
    prefix: 'lg-rsp',
    dialect: 'responses',
    cases: ['parallel-tool-calls', 'text'],
    bytes: fixtureBytes('responses'),
    factor: 4,
  },
  {
    name: 'Gemini (cachedContentTokenCount)',
    prefix: 'gemini',
    dialect: 'gemini',
    cases: ['parallel-tool-calls', 'text'],
    bytes: fixtureBytes('gemini'),
    factor: 5,
  },
  {
    name: 'Ollama (no cache)',
    prefix: 'ollama',
    dialect: 'ollama',
    cases: ['text'],
    bytes: fixtureBytes('ollama'),
    factor: 6,
  },
];

const BASE_PRICE: Price = { input: 3, output: 15, cached: 0.25, cache_creation: 3.75 };
const priceOf = (u: Upstream): Price => ({
  input: BASE_PRICE.input * u.factor,
  output: BASE_PRICE.output * u.factor,
  cached: BASE_PRICE.cached * u.factor,
  cache_creation: BASE_PRICE.cache_creation * u.factor,
});

const SURFACES: Surface[] = ['openai-chat', 'anthropic', 'responses', 'gemini', 'ollama'];

describe('usage ledger: cost per dialect, cached tokens at the cached price', () => {
  const { gw } = useGateway({ mock: false });
  let fixtures: FixtureUpstream;
  let writes: { baseUrl: string; close(): Promise<void> };

  beforeAll(async () => {
    fixtures = await startFixtureUpstream({ apiKey: 'sk-upstream' });
    writes = await startCacheWriteUpstream();
    const providerKey = new Map<string, string>([
      ['gemini', 'gemini'],
      ['ollama', 'ollama'],
    ]);
    for (const [prefix, type, apiType, baseUrl] of [
      ['lg-oai', 'openai-compatible', 'chat', fixtures.baseUrl],
      ['lg-ant', 'anthropic-compatible', 'chat', fixtures.baseUrl],
      ['lg-antw', 'anthropic-compatible', 'chat', writes.baseUrl],
      ['lg-rsp', 'openai-compatible', 'responses', fixtures.baseUrl],
    ] as const) {
      const { node } = await admin<{ node: { id: string } }>(gw, 'POST', '/api/provider-nodes', {
        name: prefix,
        prefix,
        type,
        apiType,
        baseUrl,
      });
      await admin(gw, 'POST', '/api/providers', {
        provider: node.id,
        name: 'a',
        apiKey: 'sk-upstream',
      });
      providerKey.set(prefix, node.id);
    }
    await admin(gw, 'POST', '/api/providers', {
      provider: 'gemini',
      name: 'lg',
      apiKey: 'sk-upstream',
      providerSpecificData: { baseUrl: `${fixtures.url}/v1beta` },
    });
    await admin(gw, 'POST', '/api/providers', {
      provider: 'ollama',
      name: 'lg',
      providerSpecificData: { baseUrl: fixtures.url },
    });
    // Node ids (and the built-in provider ids) as provider keys.
    const patch: Record<string, Record<string, Price>> = {};
    for (const u of UPSTREAMS) {
      const key = providerKey.get(u.prefix)!;
      patch[key] = Object.fromEntries(u.cases.map((c) => [c, priceOf(u)]));
    }
    await admin(gw, 'PATCH', '/api/pricing', patch);
  });
  afterAll(async () => {
    await fixtures?.close();
    await writes?.close();
  });

  it('the fixtures report cached tokens where the dialect has them (else this test proves little)', () => {
    for (const u of UPSTREAMS.filter((x) => x.dialect !== 'ollama')) {
      for (const stream of [false, true]) {
        const r = reportedUsage(u.dialect, u.bytes(u.cases[0], stream), stream);
        expect(r.cacheRead).toBeGreaterThan(0);
        expect(r.fresh).toBeGreaterThan(0);
        expect(r.output).toBeGreaterThan(0);
      }
    }
    const w = reportedUsage('anthropic', UPSTREAMS[2].bytes('text', true), true);
    expect(w).toMatchObject({ cacheRead: CACHE_READ, cacheCreation: CACHE_WRITE });
  });

  describe.each(SURFACES)('%s client', (surface) => {
    it.each(UPSTREAMS.map((u) => [u.name, u] as const))(
      '→ %s: usage_records, call_logs and x-omniroute-response-cost = the formula (stream and not)',
      async (_name, up) => {
        const price = priceOf(up);
        const sent: { r: Sent; expected: Reported; cost: number; stream: boolean }[] = [];
        for (const fixtureCase of up.cases) {
          for (const stream of [false, true]) {
            const id = `lg-cost-${surface}-${up.prefix}-${fixtureCase}-${stream ? 's' : 'j'}`;
            const req = clientRequest(surface, `${up.prefix}/${fixtureCase}`, stream, 'Hello?');
            const r = await send(gw, id, req.path, req.body);
            expect({ id, status: r.status, body: r.status === 200 ? '' : r.text }).toEqual({
              id,
              status: 200,
              body: '',
            });
            const expected = reportedUsage(up.dialect, up.bytes(fixtureCase, stream), stream);
            const cost = costOf(expected, price);
            if (expected.cacheRead + expected.cacheCreation > 0) {
              // billing every prompt token as full input would give another figure (more for
              // cache reads, less for cache writes, which cost more than input)
              const naive = costOf(
                {
                  fresh: expected.fresh + expected.cacheRead + expected.cacheCreation,
                  cacheRead: 0,
                  cacheCreation: 0,
                  output: expected.output,
                },
                { ...price, cache_creation: price.input },
              );
              expect(cost).not.toBe(naive);
            }
            if (stream) {
              expect(r.headers.get('x-omniroute-response-cost')).toBeNull();
            } else {
              expect({ id, header: r.headers.get('x-omniroute-response-cost') }).toEqual({
                id,
                header: cost.toFixed(10),
              });
            }
            sent.push({ r, expected, cost, stream });
          }
        }
        const ids = sent.map((s) => s.r.id);
        await flushUntil(
          gw,
          async () =>
            (await count(
              gw.dbUrl,
              'SELECT count(*)::int AS n FROM call_logs WHERE request_id = ANY($1)',
              [ids],
            )) >= ids.length,
          'call_logs rows',
        );
        const usage = groupBy(
          await queryDb(
            gw.dbUrl,
            `SELECT request_id, status, success, stream, tokens_input, tokens_output, tokens_cache_read,
                    tokens_cache_creation, cost_usd FROM usage_records WHERE request_id = ANY($1)`,
            [ids],
          ),
          (r) => String(r.request_id),
        );
        const calls = groupBy(
          await queryDb(
            gw.dbUrl,
            `SELECT request_id, status, success, stream, attempts, tokens_input, tokens_output,
                    tokens_cache_read, tokens_cache_creation, cost_usd
               FROM call_logs WHERE request_id = ANY($1)`,
            [ids],
          ),
          (r) => String(r.request_id),
        );
        for (const { r, expected, cost, stream } of sent) {
          const tokens = {
            tokens_input: expected.fresh,
            tokens_output: expected.output,
            tokens_cache_read: expected.cacheRead,
            tokens_cache_creation: expected.cacheCreation,
          };
          expect({ id: r.id, rows: usage.get(r.id) }).toEqual({
            id: r.id,
            rows: [
              { request_id: r.id, status: 200, success: true, stream, ...tokens, cost_usd: cost },
            ],
          });
          expect({ id: r.id, rows: calls.get(r.id) }).toEqual({
            id: r.id,
            rows: [
              {
                request_id: r.id,
                status: 200,
                success: true,
                stream,
                attempts: 1,
                ...tokens,
                cost_usd: cost,
              },
            ],
          });
        }
      },
    );
  });
});

// ------------------------------------------------------------------------------------------------
// 2. Exact counting under a mixed load

const FLAKY_FAILURES = 6;
const LOAD = 200;

type Kind = 'combo' | 'direct' | 'bad' | 'abort';

interface LoadRequest {
  id: string;
  kind: Kind;
  model: string;
  stream: boolean;
  prompt: string;
}

interface LoadResult {
  req: LoadRequest;
  /** HTTP status; 0 when the client aborted the stream itself. */
  status: number;
  attemptsHeader: string | null;
  text: string;
}

describe('usage ledger: exact counting under a mixed load', () => {
  const { gw } = useGateway({ mock: false });
  const mocks = {} as Record<'ok' | 'flaky' | 'limited' | 'slow', MockUpstream>;
  const conn: Record<string, string> = {};

  beforeAll(async () => {
    mocks.ok = await startMockUpstream();
    mocks.flaky = await startMockUpstream();
    mocks.limited = await startMockUpstream({ fault: 'fail-429' });
    // Streams slow enough to be cut by the client after their first event.
    mocks.slow = await startMockUpstream({ chunkDelayMs: 100 });
    for (const [name, prefix] of [
      ['ok', 'mx-ok'],
      ['flaky', 'mx-fl'],
      ['limited', 'mx-rl'],
      ['slow', 'mx-sl'],
    ] as const) {
      const { connectionIds } = await addMockNode(gw, prefix, mocks[name].baseUrl);
      conn[name] = connectionIds[0];
    }
    // No cooldowns: every combo request walks the chain (429 → flaky → healthy), so the flaky
    // account both fails and serves, and the fallbacks are many.
    await admin(gw, 'PUT', '/api/resilience', {
      connectionCooldown: { apikey: { baseCooldownMs: 0, useUpstreamRetryHints: false } },
    });
    const r = await call(gw, 'POST', '/api/combos', {
      body: {
        name: 'ledger-mix',
        strategy: 'priority',
        models: ['mx-rl/gpt-4o-mini', `mx-fl/flaky-${FLAKY_FAILURES}`, 'mx-ok/gpt-4o-mini'],
      },
    });
    expect(r.status).toBe(201);
    for (const m of Object.values(mocks)) {
      m.reset();
    }
  });
  afterAll(async () => {
    await Promise.all(Object.values(mocks).map((m) => m?.close()));
  });

  function plan(): LoadRequest[] {
    const out: LoadRequest[] = [];
    for (let i = 0; i < LOAD; i++) {
      const slot = i % 10;
      const kind: Kind =
        slot === 7 ? 'bad' : slot === 8 ? 'abort' : slot >= 4 && slot <= 6 ? 'direct' : 'combo';
      const model = {
        combo: 'ledger-mix',
        direct: 'mx-ok/gpt-4o-mini',
        bad: 'mx-ok/fail-400',
        abort: 'mx-sl/gpt-4o-mini',
      }[kind];
      out.push({
        id: `lg-mix-${i}`,
        kind,
        model,
        stream: kind === 'abort' || Math.floor(i / 10) % 2 === 1,
        // prompts of different lengths: the token sums are not a multiple of one figure
        prompt: `ledger load request ${i} ${'x'.repeat((i * 7) % 41)}`,
      });
    }
    return out;
  }

  async function run(req: LoadRequest): Promise<LoadResult> {
    const body = {
      model: req.model,
      messages: [{ role: 'user', content: req.prompt }],
      stream: req.stream,
    };
    if (req.kind !== 'abort') {
      const r = await send(gw, req.id, '/v1/chat/completions', body);
      return {
        req,
        status: r.status,
        attemptsHeader: r.headers.get('x-omniroute-attempts'),
        text: r.text,
      };
    }
    const ac = new AbortController();
    const res = await fetch(`${gw.url}/v1/chat/completions`, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${gw.adminKey}`,
        'content-type': 'application/json',
        'x-request-id': req.id,
      },
      body: JSON.stringify(body),
      signal: ac.signal,
    });
    expect(res.status).toBe(200);
    const reader = res.body!.getReader();
    const first = await reader.read(); // the first event(s): the stream is under way
    expect(first.done).toBe(false);
    ac.abort();
    await reader.read().catch(() => undefined);
    return { req, status: 0, attemptsHeader: res.headers.get('x-omniroute-attempts'), text: '' };
  }

  it(`${LOAD} concurrent requests: one call_logs row each, one usage row per upstream call, tokens and attempts add up`, async () => {
    const reqs = plan();
    const results = await Promise.all(reqs.map((r) => run(r)));
    const ids = reqs.map((r) => r.id);

    // What the clients saw.
    for (const r of results) {
      const expectStatus = { combo: 200, direct: 200, bad: 400, abort: 0 }[r.req.kind];
      expect({ id: r.req.id, status: r.status }).toEqual({ id: r.req.id, status: expectStatus });
      if (r.status === 200 && r.req.stream) {
        expect(r.text).toContain('data: [DONE]');
      }
    }

    const received = Object.fromEntries(
      Object.entries(mocks).map(([k, m]) => [k, m.stats().chatCompletions]),
    ) as Record<keyof typeof mocks, number>;
    const upstreamCalls = Object.values(received).reduce((a, b) => a + b, 0);
    // The scenario did what it is meant to: fallbacks over a 429 and a flaky account, aborts.
    expect(received.limited).toBeGreaterThan(0);
    expect(received.flaky).toBeGreaterThan(FLAKY_FAILURES);
    expect(received.slow).toBe(LOAD / 10);

    const db = gw.dbUrl;
    await flushUntil(
      gw,
      async () =>
        (await count(db, 'SELECT count(*)::int AS n FROM call_logs WHERE request_id = ANY($1)', [
          ids,
        ])) >= ids.length &&
        (await count(
          db,
          'SELECT count(*)::int AS n FROM usage_records WHERE request_id = ANY($1)',
          [ids],
        )) >= upstreamCalls,
      'all ledger rows',
    );
    // The aborted streams reached the mock and were given up there too.
    await mocks.slow.waitFor((m) => m.aborted === LOAD / 10, 5000);

    const calls = await queryDb(
      db,
      'SELECT request_id, status, success, attempts, combo_name FROM call_logs WHERE request_id = ANY($1)',
      [ids],
    );
    const usage = await queryDb(
      db,
      `SELECT request_id, connection_id, status, success, tokens_input, tokens_output,
              tokens_cache_read, tokens_cache_creation
         FROM usage_records WHERE request_id = ANY($1)`,
      [ids],
    );

    // (a) exactly one call_logs row per request sent, with the status the client got.
    expect(calls).toHaveLength(LOAD);
    const callById = new Map(calls.map((c) => [String(c.request_id), c]));
    expect([...callById.keys()].sort()).toEqual([...ids].sort());
    for (const r of results) {
      const c = callById.get(r.req.id)!;
      const status = r.status === 0 ? 499 : r.status;
      expect({ id: r.req.id, status: c.status, success: c.success }).toEqual({
        id: r.req.id,
        status,
        success: status === 200,
      });
    }

    // (b) exactly one usage row per upstream call, with the status that mock answered.
    expect(usage).toHaveLength(upstreamCalls);
    const mockStatuses = (name: keyof typeof mocks): number[] => {
      const chats = mocks[name].requests.filter((q) => q.url.endsWith('/chat/completions'));
      expect(chats).toHaveLength(received[name]);
      let flakySeen = 0;
      return chats.map((q: RecordedRequest) => {
        const model = String(q.body.model);
        switch (name) {
          case 'limited':
            return 429;
          case 'slow':
            return 499; // the client went away mid-stream
          case 'flaky':
            return ++flakySeen <= FLAKY_FAILURES ? 500 : 200;
          case 'ok':
            return model === 'fail-400' ? 400 : 200;
        }
      });
    };
    const byConn = groupBy(usage, (u) => String(u.connection_id));
    for (const name of Object.keys(mocks) as (keyof typeof mocks)[]) {
      const rows = byConn.get(conn[name]) ?? [];
      expect({ mock: name, statuses: rows.map((u) => Number(u.status)).sort() }).toEqual({
        mock: name,
        statuses: mockStatuses(name).sort(),
      });
      for (const u of rows) {
        expect(u.success).toBe(u.status === 200);
      }
    }

    // (c) the tokens of the successful rows = the usage the mocks put in their successful answers.
    for (const name of Object.keys(mocks) as (keyof typeof mocks)[]) {
      const statuses = mockStatuses(name);
      const chats = mocks[name].requests.filter((q) => q.url.endsWith('/chat/completions'));
      let input = 0;
      let output = 0;
      chats.forEach((q, i) => {
        if (statuses[i] === 200) {
          input += countPromptTokens(q.body.messages);
          output += mocks[name].replyChunks.length;
        }
      });
      const ok = (byConn.get(conn[name]) ?? []).filter((u) => u.success === true);
      const sum = (f: string): number => ok.reduce((a, u) => a + Number(u[f]), 0);
      expect({
        mock: name,
        input: sum('tokens_input'),
        output: sum('tokens_output'),
        cached: sum('tokens_cache_read') + sum('tokens_cache_creation'),
      }).toEqual({ mock: name, input, output, cached: 0 });
    }

    // (d) each call_logs row's attempts = its usage rows; a 2xx has exactly one successful one.
    const usageById = groupBy(usage, (u) => String(u.request_id));
    let fellBack = 0;
    for (const r of results) {
      const rows = usageById.get(r.req.id) ?? [];
      const c = callById.get(r.req.id)!;
      expect({ id: r.req.id, attempts: c.attempts }).toEqual({
        id: r.req.id,
        attempts: rows.length,
      });
      if (r.status === 200) {
        expect(rows.filter((u) => u.success === true)).toHaveLength(1);
        expect(r.attemptsHeader).toBe(String(rows.length));
        fellBack += rows.length > 1 ? 1 : 0;
      } else {
        expect(rows.filter((u) => u.success === true)).toHaveLength(0);
      }
      if (r.req.kind === 'combo') {
        expect(c.combo_name).toBe('ledger-mix');
      }
    }
    expect(fellBack).toBeGreaterThan(0);
  });
});

// ------------------------------------------------------------------------------------------------
// 3. Postgres restart mid-load

function metric(text: string, name: string): number {
  const m = new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)$`, 'm').exec(text);
  return m ? Number(m[1]) : NaN;
}

describe('usage ledger: Postgres restart mid-load (through a TCP proxy the test cuts)', () => {
  let mock: MockUpstream;
  let pgProxy: TcpProxy;
  let gw: TestApp;
  let directDb: string;

  beforeAll(async () => {
    mock = await startMockUpstream();
    const db = await createTestDatabase();
    directDb = db.url;
    pgProxy = await startTcpProxy('127.0.0.1', 5432);
    const proxied = new URL(db.url);
    proxied.port = String(pgProxy.port);
    gw = await startTestApp({ dbUrl: proxied.toString(), env: { USAGE_FLUSH_INTERVAL_MS: '100' } });
    await addMockNode(gw, 'pg', mock.baseUrl);
    mock.reset();
  });
  afterAll(async () => {
    await pgProxy?.up().catch(() => undefined);
    await gw?.close();
    await pgProxy?.close();
    await mock?.close();
  });

  it('every 2xx answer has exactly one successful usage row and one call_logs row once the buffer drains', async () => {
    const results: { id: string; status: number; during: boolean }[] = [];
    let stop = false;
    let down = false;
    let seq = 0;
    const worker = async (): Promise<void> => {
      while (!stop) {
        const i = seq++;
        const id = `lg-pg-${i}`;
        const wasDown = down;
        const stream = i % 2 === 1;
        try {
          const r = await send(gw, id, '/v1/chat/completions', {
            model: 'pg/gpt-4o-mini',
            messages: [{ role: 'user', content: `restart ${i}` }],
            stream,
          });
          results.push({ id, status: r.status, during: wasDown && down });
        } catch {
          results.push({ id, status: 0, during: wasDown && down });
        }
      }
    };
    const depths: { depth: number; down: boolean }[] = [];
    let polling = true;
    const poller = (async () => {
      while (polling) {
        const wasDown = down;
        const text = await (await fetch(`${gw.url}/metrics`)).text();
        depths.push({ depth: metric(text, 'gateway_usage_buffer_depth'), down: wasDown && down });
        await sleep(100);
      }
    })();

    const workers = Array.from({ length: 4 }, () => worker());
    await sleep(800);
    await pgProxy.down();
    down = true;
    await sleep(2000);
    down = false;
    await pgProxy.up();
    await sleep(800);
    stop = true;
    await Promise.all(workers);

    const usage = gw.app.get(UsageService);
    await until(() => usage.pending() === 0, 20_000, 'usage buffer drained');
    const ok = results.filter((r) => r.status >= 200 && r.status < 300);
    const okIds = ok.map((r) => r.id);
    const allIds = results.map((r) => r.id);
    await flushUntil(
      gw,
      async () =>
        (await count(
          directDb,
          'SELECT count(DISTINCT request_id)::int AS n FROM call_logs WHERE request_id = ANY($1)',
          [okIds],
        )) >= okIds.length,
      'call_logs rows of the 2xx answers',
      20_000,
    );
    await until(
      async () =>
        metric(await (await fetch(`${gw.url}/metrics`)).text(), 'gateway_usage_buffer_depth') === 0,
      5000,
      'gateway_usage_buffer_depth back to 0',
    );
    polling = false;
    await poller;

    // The load kept being answered during the outage, and the buffer grew meanwhile.
    expect(ok.length).toBeGreaterThan(20);
    expect(ok.filter((r) => r.during).length).toBeGreaterThan(0);
    const whileDown = depths.filter((d) => d.down).map((d) => d.depth);
    expect(whileDown.length).toBeGreaterThan(3);
    expect(Math.max(...whileDown)).toBeGreaterThan(0);

    const usageRows = groupBy(
      await queryDb(
        directDb,
        'SELECT id, request_id, status, success FROM usage_records WHERE request_id = ANY($1)',
        [allIds],
      ),
      (r) => String(r.request_id),
    );
    const callRows = groupBy(
      await queryDb(
        directDb,
        'SELECT request_id, status FROM call_logs WHERE request_id = ANY($1)',
        [allIds],
      ),
      (r) => String(r.request_id),
    );
    for (const r of ok) {
      const rows = usageRows.get(r.id) ?? [];
      expect({ id: r.id, successRows: rows.filter((u) => u.success === true).length }).toEqual({
        id: r.id,
        successRows: 1,
      });
      expect({ id: r.id, calls: callRows.get(r.id)?.length ?? 0 }).toEqual({ id: r.id, calls: 1 });
    }
    // No duplicate anywhere, and one usage row per upstream call.
    for (const [id, rows] of callRows) {
      expect({ id, calls: rows.length }).toEqual({ id, calls: 1 });
    }
    const totalUsage = [...usageRows.values()].reduce((a, rows) => a + rows.length, 0);
    expect(totalUsage).toBe(mock.stats().chatCompletions);
    const metrics = await (await fetch(`${gw.url}/metrics`)).text();
    expect(metric(metrics, 'gateway_usage_buffer_depth')).toBe(0);
    expect(metric(metrics, 'gateway_usage_dropped_total')).toBe(0);
  });
});

describe('noLog keys in the call log', () => {
  const { gw, mock } = useGateway();

  it('keeps the counts of a noLog key but no excerpt of what it sent', async () => {
    await addMockNode(gw, 'nolog', mock.baseUrl);
    const logged = await admin<{ key: string; id: string }>(gw, 'POST', '/api/keys', {
      name: 'logged',
    });
    const quiet = await admin<{ key: string; id: string }>(gw, 'POST', '/api/keys', {
      name: 'quiet',
      noLog: true,
    });
    for (const k of [logged, quiet]) {
      const r = await call(gw, 'POST', '/v1/chat/completions', {
        key: k.key,
        body: {
          model: 'nolog/gpt-4o-mini',
          messages: [{ role: 'user', content: 'a secret question' }],
          stream: false,
        },
      });
      expect(r.status).toBe(200);
    }
    const app = (gw as unknown as { app: TestApp['app'] }).app;
    await app.get(UsageService).flush();
    const rows = await queryDb(
      (gw as unknown as { dbUrl: string }).dbUrl,
      `SELECT api_key_id, request_summary, tokens_input, tokens_output FROM call_logs
        WHERE api_key_id = ANY($1::uuid[])`,
      [[logged.id, quiet.id]],
    );
    const byKey = new Map(rows.map((r) => [r.api_key_id, r]));
    expect(byKey.get(logged.id)?.request_summary).toBe('a secret question');
    expect(byKey.get(quiet.id)?.request_summary).toBeNull();
    expect(Number(byKey.get(quiet.id)?.tokens_output)).toBeGreaterThan(0);
  });
});
