import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import type { TestApp } from '../support/app';
import { queryDb } from '../support/db';
import { useGateway } from '../support/fixtures';
import { addMockNode, call, codeOf, fieldsOf, type CallResult } from '../support/gateway-client';
import { UsageService } from '../../src/usage/usage.service';
import { connectionSql, logsSql, type SqlQuery } from '../../src/usage/usage-query.sql';

// ---- shapes ---------------------------------------------------------------------------------

interface Bucket {
  requests: number;
  errors: number;
  promptTokens: number;
  completionTokens: number;
  cacheReadTokens: number;
  cacheCreationTokens: number;
  reasoningTokens: number;
  cost: number;
  lastUsed: string | null;
}

interface History {
  totalRequests: number;
  totalPromptTokens: number;
  totalCompletionTokens: number;
  totalCacheReadTokens: number;
  totalCacheCreationTokens: number;
  totalReasoningTokens: number;
  totalCost: number;
  successRate: number;
  calls: { total: number; failed: number };
  byProvider: Record<string, Bucket>;
  byModel: Record<string, Bucket & { provider: string; model: string }>;
  byAccount: Record<string, Bucket & { name: string | null; provider: string | null }>;
  byApiKey: Record<string, Bucket & { name: string | null }>;
  last10Minutes: {
    minute: string;
    requests: number;
    promptTokens: number;
    completionTokens: number;
    tokens: number;
    cost: number;
  }[];
  range: { from: string; to: string };
}

interface ConnectionUsage {
  connectionId: string;
  provider: string | null;
  name: string | null;
  requests: number;
  success: number;
  failed: number;
  tokens: {
    input: number;
    output: number;
    cacheRead: number;
    cacheCreation: number;
    reasoning: number;
  };
  cost: number;
  lastUsedAt: string | null;
  byModel: Record<string, Bucket>;
  range: { from: string; to: string };
}

interface LogItem {
  id: string;
  requestId: string;
  createdAt: string;
  status: number;
  success: boolean;
  requestedModel: string | null;
  provider: string | null;
  model: string | null;
  account: string | null;
  apiKeyId: string | null;
  comboName: string | null;
  tokensInput: number;
  tokensOutput: number;
  [k: string]: unknown;
}

interface LogPage {
  items: LogItem[];
  nextCursor: string | null;
}

// ---- helpers --------------------------------------------------------------------------------

const qs = (params: Record<string, string | number | undefined>): string => {
  const u = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) {
    if (v !== undefined) {
      u.set(k, String(v));
    }
  }
  const s = u.toString();
  return s ? `?${s}` : '';
};

async function getOk<T>(gw: TestApp, path: string): Promise<T> {
  const r = await call(gw, 'GET', path);
  if (r.status !== 200) {
    throw new Error(`GET ${path} → ${r.status}: ${r.text}`);
  }
  return r.json as T;
}

/** Inserts rows (objects keyed by column; every row the same keys) with one statement. */
async function insertRows(
  db: string,
  table: string,
  rows: Record<string, unknown>[],
): Promise<void> {
  const cols = Object.keys(rows[0]).join(', ');
  await queryDb(
    db,
    `INSERT INTO ${table} (${cols}) SELECT ${cols} FROM json_populate_recordset(NULL::${table}, $1::json)`,
    [JSON.stringify(rows)],
  );
}

const n = (v: unknown): number => Number(v ?? 0);

// ---- small known dataset --------------------------------------------------------------------

const T0 = Date.parse('2025-06-01T12:00:00.000Z');
const FROM = new Date(T0).toISOString();
const TO = new Date(T0 + 3_600_000).toISOString();
const at = (ms: number): string => new Date(T0 + ms).toISOString();

const CONN_A = 'a0000000-0000-4000-8000-00000000000a';
const CONN_B = 'a0000000-0000-4000-8000-00000000000b';
const CONN_C = 'a0000000-0000-4000-8000-00000000000c';
/** Used in the ledger, no longer a connection (deleted). */
const CONN_D = 'a0000000-0000-4000-8000-00000000000d';
const KEY_1 = 'c0000000-0000-4000-8000-000000000001';
const KEY_2 = 'c0000000-0000-4000-8000-000000000002';
const KEY_NAMES: Record<string, string> = { [KEY_1]: 'ci', [KEY_2]: 'batch' };

interface Attempt {
  t: string;
  provider: string | null;
  model: string | null;
  conn: string | null;
  key: string | null;
  ok: boolean;
  status?: number;
  in?: number;
  out?: number;
  cr?: number;
  cc?: number;
  rs?: number;
  cost?: number;
}

function usageRow(a: Attempt): Record<string, unknown> {
  return {
    id: randomUUID(),
    request_id: `req-${randomUUID()}`,
    created_at: a.t,
    api_key_id: a.key,
    api_key_name: a.key ? KEY_NAMES[a.key] : null,
    surface: 'openai',
    provider: a.provider,
    model: a.model,
    connection_id: a.conn,
    status: a.status ?? (a.ok ? 200 : 500),
    success: a.ok,
    stream: false,
    tokens_input: a.in ?? 0,
    tokens_output: a.out ?? 0,
    tokens_cache_read: a.cr ?? 0,
    tokens_cache_creation: a.cc ?? 0,
    tokens_reasoning: a.rs ?? 0,
    latency_ms: 100,
    ttft_ms: null,
    error_code: a.ok ? null : 'UPSTREAM_ERROR',
    combo: null,
    attempt: 1,
    cost_usd: a.cost ?? 0,
  };
}

/** Attempts inside [FROM, TO). */
const IN_RANGE: Attempt[] = [
  {
    t: at(0),
    provider: 'openai',
    model: 'gpt-4o',
    conn: CONN_A,
    key: KEY_1,
    ok: true,
    in: 100,
    out: 50,
    cr: 10,
    cc: 5,
    rs: 3,
    cost: 0.01,
  },
  { t: at(60_000), provider: 'openai', model: 'gpt-4o', conn: CONN_A, key: KEY_1, ok: false },
  {
    t: at(61_000),
    provider: 'openai',
    model: 'gpt-4o',
    conn: CONN_B,
    key: KEY_1,
    ok: true,
    in: 100,
    out: 20,
    cost: 0.004,
  },
  {
    t: at(120_000),
    provider: 'openai',
    model: 'gpt-4o-mini',
    conn: CONN_B,
    key: KEY_2,
    ok: true,
    in: 200,
    out: 80,
    cost: 0.002,
  },
  {
    t: at(180_000),
    provider: 'anthropic',
    model: 'claude-x',
    conn: CONN_C,
    key: KEY_1,
    ok: true,
    in: 300,
    out: 120,
    cr: 50,
    cc: 20,
    rs: 40,
    cost: 0.05,
  },
  {
    t: at(240_000),
    provider: 'anthropic',
    model: 'claude-x',
    conn: CONN_C,
    key: null,
    ok: true,
    in: 40,
    out: 10,
    cost: 0.001,
  },
  {
    t: at(300_000),
    provider: 'gemini',
    model: 'gemini-2',
    conn: CONN_D,
    key: KEY_2,
    ok: false,
    status: 503,
  },
  { t: at(360_000), provider: null, model: null, conn: null, key: KEY_2, ok: false, status: 400 },
];
/** Just outside [FROM, TO): `from` is inclusive, `to` exclusive. */
const OUT_OF_RANGE: Attempt[] = [
  {
    t: at(-1),
    provider: 'openai',
    model: 'gpt-4o',
    conn: CONN_A,
    key: KEY_1,
    ok: true,
    in: 999,
    cost: 1,
  },
  {
    t: TO,
    provider: 'openai',
    model: 'gpt-4o',
    conn: CONN_A,
    key: KEY_1,
    ok: true,
    in: 777,
    cost: 1,
  },
];

interface Expected {
  requests: number;
  errors: number;
  promptTokens: number;
  completionTokens: number;
  cacheReadTokens: number;
  cacheCreationTokens: number;
  reasoningTokens: number;
  cost: number;
}

/** The answer computed in JS from the rows (independent of the service's SQL). */
function sum(rows: Attempt[]): Expected {
  const e: Expected = {
    requests: 0,
    errors: 0,
    promptTokens: 0,
    completionTokens: 0,
    cacheReadTokens: 0,
    cacheCreationTokens: 0,
    reasoningTokens: 0,
    cost: 0,
  };
  for (const a of rows) {
    e.requests++;
    e.errors += a.ok ? 0 : 1;
    e.promptTokens += a.in ?? 0;
    e.completionTokens += a.out ?? 0;
    e.cacheReadTokens += a.cr ?? 0;
    e.cacheCreationTokens += a.cc ?? 0;
    e.reasoningTokens += a.rs ?? 0;
    e.cost += a.cost ?? 0;
  }
  return e;
}

function groupBy(rows: Attempt[], key: (a: Attempt) => string | null): Record<string, Expected> {
  const groups = new Map<string, Attempt[]>();
  for (const a of rows) {
    const k = key(a);
    if (k !== null) {
      groups.set(k, [...(groups.get(k) ?? []), a]);
    }
  }
  return Object.fromEntries([...groups].map(([k, v]) => [k, sum(v)]));
}

function expectBucket(actual: Bucket | undefined, expected: Expected): void {
  expect(actual).toBeDefined();
  const { cost, ...counts } = expected;
  expect(actual).toMatchObject(counts);
  expect(actual?.cost).toBeCloseTo(cost, 9);
}

interface Call {
  id?: string;
  t: string;
  requestId: string;
  status: number;
  requested: string | null;
  provider: string | null;
  model: string | null;
  conn: string | null;
  account: string | null;
  key: string | null;
  combo?: string | null;
  in?: number;
  out?: number;
}

function callRow(c: Call): Record<string, unknown> {
  return {
    id: c.id ?? randomUUID(),
    request_id: c.requestId,
    created_at: c.t,
    method: 'POST',
    path: '/v1/chat/completions',
    surface: 'openai',
    status: c.status,
    success: c.status < 400,
    stream: false,
    requested_model: c.requested,
    provider: c.provider,
    model: c.model,
    connection_id: c.conn,
    account: c.account,
    api_key_id: c.key,
    api_key_name: c.key ? KEY_NAMES[c.key] : null,
    combo_name: c.combo ?? null,
    combo_step_id: null,
    attempts: 1,
    cache_source: c.status < 400 ? 'upstream' : null,
    idempotent_replay: false,
    session_id: null,
    tokens_input: c.in ?? 0,
    tokens_output: c.out ?? 0,
    tokens_cache_read: 0,
    tokens_cache_creation: 0,
    tokens_reasoning: 0,
    cost_usd: 0.001,
    duration_ms: 250,
    ttft_ms: null,
    error_code: c.status < 400 ? null : 'UPSTREAM_ERROR',
    error_summary: null,
    request_summary: null,
  };
}

/** Same timestamp (microseconds) for two rows: the cursor must split them by id. */
const TIE_TS = '2025-06-01T12:03:01.123456Z';
const CALLS_IN_RANGE: Call[] = [
  {
    t: at(1000),
    requestId: 'c1',
    status: 200,
    requested: 'gpt-4o',
    provider: 'openai',
    model: 'gpt-4o',
    conn: CONN_A,
    account: 'openai-main',
    key: KEY_1,
    in: 100,
    out: 50,
  },
  {
    t: at(62_000),
    requestId: 'c2',
    status: 200,
    requested: 'my-combo',
    provider: 'openai',
    model: 'gpt-4o',
    conn: CONN_B,
    account: 'openai-backup',
    key: KEY_1,
    combo: 'my-combo',
    in: 100,
    out: 20,
  },
  {
    t: at(121_000),
    requestId: 'c3',
    status: 200,
    requested: null,
    provider: 'openai',
    model: 'gpt-4o-mini',
    conn: CONN_B,
    account: 'openai-backup',
    key: KEY_2,
    in: 200,
    out: 80,
  },
  {
    id: 'e0000000-0000-4000-8000-000000000001',
    t: TIE_TS,
    requestId: 'c6a',
    status: 200,
    requested: 'claude-x',
    provider: 'anthropic',
    model: 'claude-x',
    conn: CONN_C,
    account: 'claude-team',
    key: KEY_1,
    in: 300,
    out: 120,
  },
  {
    id: 'e0000000-0000-4000-8000-000000000002',
    t: TIE_TS,
    requestId: 'c6b',
    status: 200,
    requested: 'claude-x',
    provider: 'anthropic',
    model: 'claude-x',
    conn: CONN_C,
    account: 'claude-team',
    key: null,
    in: 40,
    out: 10,
  },
  {
    t: at(301_000),
    requestId: 'c4',
    status: 503,
    requested: 'gemini-2',
    provider: 'gemini',
    model: 'gemini-2',
    conn: CONN_D,
    account: null,
    key: KEY_2,
  },
  {
    t: at(361_000),
    requestId: 'c5',
    status: 400,
    requested: 'nope',
    provider: null,
    model: null,
    conn: null,
    account: null,
    key: KEY_2,
  },
];
const CALL_BEFORE: Call = {
  t: at(-1000),
  requestId: 'c0',
  status: 200,
  requested: 'gpt-4o',
  provider: 'openai',
  model: 'gpt-4o',
  conn: CONN_A,
  account: 'openai-main',
  key: KEY_1,
  in: 1,
  out: 1,
};

/** Newest first, ties by id descending (the API's order). */
function newestFirst(calls: Call[], ids: Map<Call, string>): Call[] {
  return [...calls].sort((a, b) => {
    const ta = Date.parse(a.t);
    const tb = Date.parse(b.t);
    if (ta !== tb) {
      return tb - ta;
    }
    return (ids.get(b) ?? '').localeCompare(ids.get(a) ?? '');
  });
}

describe('/api/usage', () => {
  describe('with a small known dataset', () => {
    const { gw } = useGateway({ mock: false });
    const now = Date.now();
    const RECENT: Attempt[] = [
      {
        t: new Date(now - 2 * 3_600_000).toISOString(),
        provider: 'openai',
        model: 'gpt-4o',
        conn: CONN_A,
        key: KEY_1,
        ok: true,
        in: 11,
        out: 22,
        cost: 0.5,
      },
      {
        t: new Date(now - 150_000).toISOString(),
        provider: 'anthropic',
        model: 'claude-x',
        conn: CONN_C,
        key: KEY_2,
        ok: true,
        in: 33,
        out: 44,
        cost: 0.25,
      },
    ];
    const OLD: Attempt = {
      t: new Date(now - 25 * 3_600_000).toISOString(),
      provider: 'openai',
      model: 'gpt-4o',
      conn: CONN_A,
      key: KEY_1,
      ok: true,
      in: 5,
    };
    const RECENT_CALLS: Call[] = [
      {
        t: new Date(now - 2 * 3_600_000).toISOString(),
        requestId: 'c9',
        status: 200,
        requested: 'gpt-4o',
        provider: 'openai',
        model: 'gpt-4o',
        conn: CONN_A,
        account: 'openai-main',
        key: KEY_1,
        in: 11,
        out: 22,
      },
      {
        t: new Date(now - 150_000).toISOString(),
        requestId: 'c10',
        status: 200,
        requested: 'claude-x',
        provider: 'anthropic',
        model: 'claude-x',
        conn: CONN_C,
        account: 'claude-team',
        key: KEY_2,
        in: 33,
        out: 44,
      },
    ];
    const ALL_CALLS = [...CALLS_IN_RANGE, CALL_BEFORE, ...RECENT_CALLS];
    const callIds = new Map<Call, string>();

    beforeAll(async () => {
      await queryDb(
        gw.dbUrl,
        `INSERT INTO provider_connections (id, provider, name) VALUES
           ($1, 'openai', 'openai-main'), ($2, 'openai', 'openai-backup'), ($3, 'anthropic', 'claude-team')`,
        [CONN_A, CONN_B, CONN_C],
      );
      await insertRows(
        gw.dbUrl,
        'usage_records',
        [...IN_RANGE, ...OUT_OF_RANGE, ...RECENT, OLD].map(usageRow),
      );
      const rows = ALL_CALLS.map((c) => {
        const r = callRow(c);
        callIds.set(c, String(r.id));
        return r;
      });
      await insertRows(gw.dbUrl, 'call_logs', rows);
    });

    describe('GET /api/usage/history', () => {
      it('sums attempts in [from, to) exactly, per provider, model, account and key', async () => {
        const h = await getOk<History>(gw, `/api/usage/history${qs({ from: FROM, to: TO })}`);
        const total = sum(IN_RANGE);
        expect(h).toMatchObject({
          totalRequests: 8,
          totalPromptTokens: total.promptTokens,
          totalCompletionTokens: total.completionTokens,
          totalCacheReadTokens: total.cacheReadTokens,
          totalCacheCreationTokens: total.cacheCreationTokens,
          totalReasoningTokens: total.reasoningTokens,
          successRate: 62.5, // 5 of 8 attempts
          calls: { total: 7, failed: 2 },
          range: { from: FROM, to: TO },
        });
        expect(h.totalPromptTokens).toBe(740);
        expect(h.totalCost).toBeCloseTo(0.067, 9);

        const byProvider = groupBy(IN_RANGE, (a) => a.provider ?? 'unknown');
        expect(Object.keys(h.byProvider).sort()).toEqual(Object.keys(byProvider).sort());
        for (const [p, e] of Object.entries(byProvider)) {
          expectBucket(h.byProvider[p], e);
        }
        expect(h.byProvider.openai.requests).toBe(4);

        const byModel = groupBy(
          IN_RANGE,
          (a) => `${a.provider ?? 'unknown'}/${a.model ?? 'unknown'}`,
        );
        expect(Object.keys(h.byModel).sort()).toEqual(Object.keys(byModel).sort());
        for (const [m, e] of Object.entries(byModel)) {
          expectBucket(h.byModel[m], e);
        }
        expect(h.byModel['openai/gpt-4o']).toMatchObject({
          provider: 'openai',
          model: 'gpt-4o',
          requests: 3,
          errors: 1,
        });
        expect(h.byModel['unknown/unknown']).toMatchObject({
          provider: 'unknown',
          model: 'unknown',
          requests: 1,
        });

        const byAccount = groupBy(IN_RANGE, (a) => a.conn);
        expect(Object.keys(h.byAccount).sort()).toEqual([CONN_A, CONN_B, CONN_C, CONN_D]);
        for (const [c, e] of Object.entries(byAccount)) {
          expectBucket(h.byAccount[c], e);
        }
        expect(h.byAccount[CONN_A]).toMatchObject({ name: 'openai-main', provider: 'openai' });
        expect(h.byAccount[CONN_B]).toMatchObject({ name: 'openai-backup', provider: 'openai' });
        expect(h.byAccount[CONN_D]).toMatchObject({ name: null, provider: 'gemini', errors: 1 });

        const byKey = groupBy(IN_RANGE, (a) => a.key);
        expect(Object.keys(h.byApiKey).sort()).toEqual([KEY_1, KEY_2]);
        for (const [k, e] of Object.entries(byKey)) {
          expectBucket(h.byApiKey[k], e);
        }
        expect(h.byApiKey[KEY_1]).toMatchObject({ name: 'ci', requests: 4 });
        expect(h.byApiKey[KEY_2]).toMatchObject({ name: 'batch', requests: 3, errors: 2 });
        expect(h.byApiKey[KEY_1].lastUsed).toBe(at(180_000));
      });

      it.each([
        ['provider', { provider: 'anthropic' }, (a: Attempt) => a.provider === 'anthropic', 2],
        ['model', { model: 'gpt-4o' }, (a: Attempt) => a.model === 'gpt-4o', 2],
        ['apiKeyId', { apiKeyId: KEY_2 }, (a: Attempt) => a.key === KEY_2, 3],
        ['connectionId', { connectionId: CONN_B }, (a: Attempt) => a.conn === CONN_B, 2],
        [
          'provider + model',
          { provider: 'openai', model: 'gpt-4o-mini' },
          (a: Attempt) => a.provider === 'openai' && a.model === 'gpt-4o-mini',
          1,
        ],
      ])('filters by %s (ledger and call counts)', async (_name, filter, pred, calls) => {
        const h = await getOk<History>(
          gw,
          `/api/usage/history${qs({ from: FROM, to: TO, ...filter })}`,
        );
        const rows = IN_RANGE.filter(pred);
        const e = sum(rows);
        expect(h.totalRequests).toBe(e.requests);
        expect(h.totalPromptTokens).toBe(e.promptTokens);
        expect(h.totalCompletionTokens).toBe(e.completionTokens);
        expect(h.totalCost).toBeCloseTo(e.cost, 9);
        expect(h.calls.total).toBe(calls);
        const providers = [...new Set(rows.map((a) => a.provider ?? 'unknown'))].sort();
        expect(Object.keys(h.byProvider).sort()).toEqual(providers);
      });

      it('defaults to the last 24 hours and buckets the last ten minutes', async () => {
        const before = Date.now();
        const h = await getOk<History>(gw, '/api/usage/history');
        const after = Date.now();
        expect(h.totalRequests).toBe(2); // RECENT only: OLD is 25 h old, the rest is in 2025
        expect(h.totalPromptTokens).toBe(44);
        expect(h.totalCost).toBeCloseTo(0.75, 9);
        expect(h.successRate).toBe(100);
        expect(h.calls).toEqual({ total: 2, failed: 0 });
        const to = Date.parse(h.range.to);
        expect(to).toBeGreaterThanOrEqual(before);
        expect(to).toBeLessThanOrEqual(after);
        expect(to - Date.parse(h.range.from)).toBe(86_400_000);

        expect(h.last10Minutes).toHaveLength(10);
        const minutes = h.last10Minutes.map((b) => Date.parse(b.minute));
        for (let i = 1; i < 10; i++) {
          expect(minutes[i] - minutes[i - 1]).toBe(60_000);
        }
        expect(minutes[9]).toBe(Math.floor(to / 60_000) * 60_000);
        const recentMinute = new Date(Math.floor((now - 150_000) / 60_000) * 60_000).toISOString();
        const hit = h.last10Minutes.find((b) => b.minute === recentMinute);
        expect(hit).toMatchObject({
          requests: 1,
          promptTokens: 33,
          completionTokens: 44,
          tokens: 77,
        });
        expect(hit?.cost).toBeCloseTo(0.25, 9);
        expect(h.last10Minutes.reduce((s, b) => s + b.requests, 0)).toBe(1);
      });

      it('answers an empty range with zeros and ten empty buckets', async () => {
        const h = await getOk<History>(
          gw,
          `/api/usage/history${qs({ from: '2020-01-01T00:00:00Z', to: '2020-01-02T00:00:00Z' })}`,
        );
        expect(h).toMatchObject({
          totalRequests: 0,
          totalPromptTokens: 0,
          totalCost: 0,
          successRate: 0,
          calls: { total: 0, failed: 0 },
          byProvider: {},
          byModel: {},
          byAccount: {},
          byApiKey: {},
        });
      });

      it.each([
        [{ from: 'yesterday' }, 'from'],
        [{ to: '2025-13-01T00:00:00Z' }, 'to'],
        [{ from: TO, to: FROM }, 'from'],
        [{ from: FROM, to: FROM }, 'from'],
        [{ from: '2024-01-01T00:00:00Z', to: '2025-01-02T00:00:00Z' }, 'to'],
        [{ apiKeyId: 'not-a-uuid' }, 'apiKeyId'],
        [{ connectionId: '123' }, 'connectionId'],
      ])('rejects %j with 400 VALIDATION_FAILED naming %s', async (params, field) => {
        const r = await call(gw, 'GET', `/api/usage/history${qs(params)}`);
        expect(r.status).toBe(400);
        expect(codeOf(r.json)).toBe('VALIDATION_FAILED');
        expect(fieldsOf(r.json)).toContain(field);
      });

      it('accepts a range of exactly 366 days', async () => {
        const r = await call(
          gw,
          'GET',
          `/api/usage/history${qs({ from: '2024-06-01T00:00:00Z', to: '2025-06-02T00:00:00Z' })}`,
        );
        expect(r.status).toBe(200);
      });
    });

    describe('GET /api/usage/logs and /api/usage/request-logs', () => {
      const line = (c: Call): string =>
        [
          new Date(c.t).toISOString(),
          c.requested ?? c.model ?? '-',
          (c.provider ?? '-').toUpperCase(),
          c.account ?? '-',
          c.in ?? 0,
          c.out ?? 0,
          c.status,
        ].join(' | ');

      it('returns OmniRoute strings, newest first, on both paths', async () => {
        const expected = newestFirst(ALL_CALLS, callIds).map(line);
        const logs = await getOk<string[]>(gw, '/api/usage/logs');
        expect(logs).toEqual(expected);
        expect(await getOk<string[]>(gw, '/api/usage/request-logs')).toEqual(expected);
        expect(logs).toContain(
          `${at(62_000)} | my-combo | OPENAI | openai-backup | 100 | 20 | 200`,
        );
        expect(logs).toContain(`${at(361_000)} | nope | - | - | 0 | 0 | 400`);
        expect(logs).toContain(
          `${at(121_000)} | gpt-4o-mini | OPENAI | openai-backup | 200 | 80 | 200`,
        );
      });

      it('limits the string form with ?limit', async () => {
        const logs = await getOk<string[]>(gw, '/api/usage/logs?limit=3');
        expect(logs).toEqual(newestFirst(ALL_CALLS, callIds).slice(0, 3).map(line));
      });

      it('returns camelCase rows with ?format=json', async () => {
        const page = await getOk<LogPage>(
          gw,
          `/api/usage/logs${qs({ format: 'json', requestId: 'c2' })}`,
        );
        expect(page.nextCursor).toBeNull();
        expect(page.items).toHaveLength(1);
        const c2 = CALLS_IN_RANGE[1];
        expect(page.items[0]).toEqual({
          id: callIds.get(c2),
          requestId: 'c2',
          createdAt: at(62_000),
          method: 'POST',
          path: '/v1/chat/completions',
          surface: 'openai',
          status: 200,
          success: true,
          stream: false,
          requestedModel: 'my-combo',
          provider: 'openai',
          model: 'gpt-4o',
          connectionId: CONN_B,
          account: 'openai-backup',
          apiKeyId: KEY_1,
          apiKeyName: 'ci',
          comboName: 'my-combo',
          comboStepId: null,
          attempts: 1,
          cacheSource: 'upstream',
          idempotentReplay: false,
          sessionId: null,
          tokensInput: 100,
          tokensOutput: 20,
          tokensCacheRead: 0,
          tokensCacheCreation: 0,
          tokensReasoning: 0,
          images: 0,
          audioSeconds: 0,
          costUsd: 0.001,
          durationMs: 250,
          ttftMs: null,
          errorCode: null,
          errorSummary: null,
          requestSummary: null,
        });
      });

      it.each([1, 2, 3])(
        'pages with the cursor (limit %i) through every row once, rows with the same timestamp included',
        async (limit) => {
          const seen: string[] = [];
          let cursor: string | undefined;
          for (let i = 0; i < 20; i++) {
            const page = await getOk<LogPage>(
              gw,
              `/api/usage/logs${qs({ format: 'json', limit, cursor })}`,
            );
            expect(page.items.length).toBeLessThanOrEqual(limit);
            seen.push(...page.items.map((it) => it.requestId));
            if (!page.nextCursor) {
              break;
            }
            cursor = page.nextCursor;
          }
          expect(seen).toEqual(newestFirst(ALL_CALLS, callIds).map((c) => c.requestId));
          // Same microsecond: the higher id first (c6b's), then c6a, even across a page boundary.
          expect(seen.indexOf('c6a')).toBe(seen.indexOf('c6b') + 1);
        },
      );

      it('keeps filters while paging', async () => {
        const first = await getOk<LogPage>(
          gw,
          `/api/usage/logs${qs({ format: 'json', limit: 2, apiKeyId: KEY_2 })}`,
        );
        expect(first.items.map((i) => i.requestId)).toEqual(['c10', 'c5']);
        const second = await getOk<LogPage>(
          gw,
          `/api/usage/logs${qs({ format: 'json', limit: 2, apiKeyId: KEY_2, cursor: first.nextCursor ?? '' })}`,
        );
        expect(second.items.map((i) => i.requestId)).toEqual(['c4', 'c3']);
        expect(second.nextCursor).toBeNull();
      });

      it.each([
        ['apiKeyId', { apiKeyId: KEY_1 }, (c: Call) => c.key === KEY_1],
        ['provider', { provider: 'anthropic' }, (c: Call) => c.provider === 'anthropic'],
        [
          'model (served)',
          { model: 'gpt-4o' },
          (c: Call) => c.model === 'gpt-4o' || c.requested === 'gpt-4o',
        ],
        ['model (requested)', { model: 'my-combo' }, (c: Call) => c.requested === 'my-combo'],
        ['status', { status: 503 }, (c: Call) => c.status === 503],
        ['success=false', { success: 'false' }, (c: Call) => c.status >= 400],
        ['success=true', { success: 'true' }, (c: Call) => c.status < 400],
        ['comboName', { comboName: 'my-combo' }, (c: Call) => c.combo === 'my-combo'],
        ['requestId', { requestId: 'c4' }, (c: Call) => c.requestId === 'c4'],
        ['from/to', { from: FROM, to: TO }, (c: Call) => c.t >= FROM && c.t < TO],
      ])('filters by %s', async (_name, filter, pred) => {
        const page = await getOk<LogPage>(
          gw,
          `/api/usage/logs${qs({ format: 'json', ...filter })}`,
        );
        const expected = newestFirst(ALL_CALLS.filter(pred), callIds).map((c) => c.requestId);
        expect(expected.length).toBeGreaterThan(0);
        expect(page.items.map((i) => i.requestId)).toEqual(expected);
      });

      it.each([
        [{ limit: 0 }, 'limit'],
        [{ limit: 1001 }, 'limit'],
        [{ limit: 'many' }, 'limit'],
        [{ format: 'xml' }, 'format'],
        [{ cursor: 'bm90LWEtY3Vyc29y' }, 'cursor'],
        [{ status: 'ok' }, 'status'],
        [{ status: 42 }, 'status'],
        [{ success: 'yes' }, 'success'],
        [{ apiKeyId: 'x' }, 'apiKeyId'],
        [{ from: 'soon' }, 'from'],
        [{ from: TO, to: FROM }, 'from'],
      ])('rejects %j with 400 VALIDATION_FAILED naming %s', async (params, field) => {
        for (const path of ['/api/usage/logs', '/api/usage/request-logs']) {
          const r = await call(gw, 'GET', `${path}${qs(params)}`);
          expect(r.status).toBe(400);
          expect(codeOf(r.json)).toBe('VALIDATION_FAILED');
          expect(fieldsOf(r.json)).toContain(field);
        }
      });

      it('accepts limit=1000', async () => {
        const r = await call(gw, 'GET', '/api/usage/logs?limit=1000');
        expect(r.status).toBe(200);
      });
    });

    describe('GET /api/usage/{connectionId}', () => {
      it("reports one account's ledger over [from, to), by model", async () => {
        const u = await getOk<ConnectionUsage>(
          gw,
          `/api/usage/${CONN_B}${qs({ from: FROM, to: TO })}`,
        );
        expect(u).toMatchObject({
          connectionId: CONN_B,
          provider: 'openai',
          name: 'openai-backup',
          requests: 2,
          success: 2,
          failed: 0,
          tokens: { input: 300, output: 100, cacheRead: 0, cacheCreation: 0, reasoning: 0 },
          lastUsedAt: at(120_000),
          range: { from: FROM, to: TO },
        });
        expect(u.cost).toBeCloseTo(0.006, 9);
        expect(Object.keys(u.byModel).sort()).toEqual(['gpt-4o', 'gpt-4o-mini']);
        expectBucket(
          u.byModel['gpt-4o'],
          sum(IN_RANGE.filter((a) => a.conn === CONN_B && a.model === 'gpt-4o')),
        );
      });

      it('counts failures and gives the newest use ever as lastUsedAt', async () => {
        const u = await getOk<ConnectionUsage>(
          gw,
          `/api/usage/${CONN_A}${qs({ from: FROM, to: TO })}`,
        );
        expect(u).toMatchObject({ requests: 2, success: 1, failed: 1, name: 'openai-main' });
        expect(u.tokens).toEqual({
          input: 100,
          output: 50,
          cacheRead: 10,
          cacheCreation: 5,
          reasoning: 3,
        });
        expect(u.lastUsedAt).toBe(RECENT[0].t); // outside the range, newest overall
      });

      it('defaults to the last 24 hours', async () => {
        const u = await getOk<ConnectionUsage>(gw, `/api/usage/${CONN_A}`);
        expect(u).toMatchObject({ requests: 1, success: 1, tokens: { input: 11, output: 22 } });
        expect(u.cost).toBeCloseTo(0.5, 9);
        expect(Date.parse(u.range.to) - Date.parse(u.range.from)).toBe(86_400_000);
      });

      it('keeps the history of a deleted connection (name null) and accepts upper-case ids', async () => {
        const u = await getOk<ConnectionUsage>(
          gw,
          `/api/usage/${CONN_D.toUpperCase()}${qs({ from: FROM, to: TO })}`,
        );
        expect(u).toMatchObject({
          connectionId: CONN_D,
          provider: 'gemini',
          name: null,
          requests: 1,
          failed: 1,
        });
      });

      it('answers a known connection without usage with zeros', async () => {
        const u = await getOk<ConnectionUsage>(gw, `/api/usage/${CONN_B}`);
        expect(u).toMatchObject({ requests: 0, success: 0, failed: 0, cost: 0, byModel: {} });
        expect(u.lastUsedAt).toBe(at(120_000));
      });

      it('returns 404 for an id that is neither a connection nor in the ledger', async () => {
        const r = await call(gw, 'GET', `/api/usage/${randomUUID()}`);
        expect(r.status).toBe(404);
        expect(codeOf(r.json)).toBe('CONNECTION_NOT_FOUND');
      });

      it('rejects a bad range with 400', async () => {
        const r = await call(gw, 'GET', `/api/usage/${CONN_A}${qs({ from: 'x' })}`);
        expect(r.status).toBe(400);
        expect(fieldsOf(r.json)).toEqual(['from']);
      });

      it('never matches a non-UUID segment (budget, typos)', async () => {
        for (const path of [
          '/api/usage/not-a-uuid',
          `/api/usage/${CONN_A}x`,
          '/api/usage/budget',
        ]) {
          const r = await call(gw, 'GET', path);
          expect(codeOf(r.json)).not.toBe('CONNECTION_NOT_FOUND');
          expect(r.json).not.toHaveProperty('connectionId');
        }
        expect((await call(gw, 'GET', '/api/usage/not-a-uuid')).status).toBe(404);
      });
    });

    it('answers 401 without credentials on every route', async () => {
      for (const path of [
        '/api/usage/history',
        '/api/usage/logs',
        '/api/usage/request-logs',
        `/api/usage/${CONN_A}`,
      ]) {
        const r = await call(gw, 'GET', path, { key: null });
        expect(r.status).toBe(401);
        expect(r.text).not.toContain('openai-main');
      }
    });

    it('documents the routes with unique operationIds', async () => {
      const r = await fetch(`${gw.url}/docs-json`);
      const doc = (await r.json()) as {
        paths: Record<string, Record<string, { operationId: string }>>;
      };
      expect(doc.paths['/api/usage/history'].get.operationId).toBe('Usage_history');
      expect(doc.paths['/api/usage/logs'].get.operationId).toBe('Usage_logs');
      expect(doc.paths['/api/usage/request-logs'].get.operationId).toBe('Usage_requestLogs');
      expect(doc.paths['/api/usage/{connectionId}'].get.operationId).toBe('Usage_connection');
    });
  });

  // ---- what the gateway itself records ------------------------------------------------------

  describe('reading what the gateway records', () => {
    const { gw, mock } = useGateway();
    let connectionId: string;
    let provider: string;

    const chat = (id: string, model: string): Promise<Response> =>
      fetch(`${gw.url}/v1/chat/completions`, {
        method: 'POST',
        headers: {
          authorization: `Bearer ${gw.adminKey}`,
          'content-type': 'application/json',
          'x-request-id': id,
          'x-omniroute-no-cache': 'true',
        },
        body: JSON.stringify({ model, messages: [{ role: 'user', content: `hello ${id}` }] }),
      });

    beforeAll(async () => {
      const node = await addMockNode(gw, 'mk', mock.baseUrl, [{ name: 'main', apiKey: 'sk-up' }]);
      provider = node.nodeId;
      connectionId = node.connectionIds[0];
      expect((await chat('ua-ok', 'mk/gpt-4o-mini')).status).toBe(200);
      expect((await chat('ua-fail', 'mk/fail-400')).status).toBe(400);
      const usage = gw.app.get(UsageService);
      for (let i = 0; i < 100; i++) {
        await usage.flush();
        const [row] = await queryDb(gw.dbUrl, 'SELECT count(*)::int AS n FROM call_logs');
        if (n(row.n) >= 2) {
          break;
        }
        await new Promise((r) => setTimeout(r, 50));
      }
    });

    it('history, logs and the account view agree with the rows the gateway wrote', async () => {
      const [ledger] = await queryDb(
        gw.dbUrl,
        `SELECT count(*) AS requests, count(*) FILTER (WHERE NOT success) AS errors,
           sum(tokens_input) AS p, sum(tokens_output) AS c, sum(cost_usd) AS cost
         FROM usage_records WHERE connection_id = $1`,
        [connectionId],
      );
      expect(n(ledger.requests)).toBeGreaterThanOrEqual(2);
      expect(n(ledger.p)).toBeGreaterThan(0);

      const h = await getOk<History>(gw, '/api/usage/history');
      expect(h.calls).toEqual({ total: 2, failed: 1 });
      expect(h.byAccount[connectionId]).toMatchObject({
        name: 'main',
        provider,
        requests: n(ledger.requests),
        errors: n(ledger.errors),
        promptTokens: n(ledger.p),
        completionTokens: n(ledger.c),
      });
      expect(h.byProvider[provider]?.requests).toBe(n(ledger.requests));
      expect(h.byApiKey[Object.keys(h.byApiKey)[0]]?.name).toBeTruthy();

      const page = await getOk<LogPage>(gw, '/api/usage/logs?format=json');
      expect(page.items.map((i) => i.requestId)).toEqual(['ua-fail', 'ua-ok']);
      const ok = page.items[1];
      expect(ok).toMatchObject({
        status: 200,
        success: true,
        provider,
        account: 'main',
        connectionId,
        requestedModel: 'mk/gpt-4o-mini',
      });
      expect(ok.tokensInput).toBeGreaterThan(0);
      expect(page.items[0]).toMatchObject({ status: 400, success: false });

      const lines = await getOk<string[]>(gw, '/api/usage/request-logs');
      expect(lines[1]).toBe(
        `${ok.createdAt} | mk/gpt-4o-mini | ${provider.toUpperCase()} | main | ${ok.tokensInput} | ${ok.tokensOutput} | 200`,
      );

      const u = await getOk<ConnectionUsage>(gw, `/api/usage/${connectionId}`);
      expect(u).toMatchObject({
        name: 'main',
        provider,
        requests: n(ledger.requests),
        failed: n(ledger.errors),
        tokens: { input: n(ledger.p), output: n(ledger.c) },
      });
      expect(u.cost).toBeCloseTo(n(ledger.cost), 9);
    });
  });

  // ---- a million attempts --------------------------------------------------------------------

  // The store (Redis or in-process) plays no part in these reads: the e2e-memory project skips it.
  const maybe = process.env.OMNI_TEST_NO_REDIS === '1' ? describe.skip : describe;

  maybe('at 1,000,000 usage records and 200,000 call logs', () => {
    const { gw } = useGateway({ mock: false });
    const timings: [string, number][] = [];
    const PROVIDERS = `(ARRAY['openai','anthropic','gemini','groq','mistral'])`;
    const connId = (k: number): string =>
      `00000000-0000-4000-b000-${k.toString(16).padStart(12, '0')}`;
    const keyId = (k: number): string =>
      `00000000-0000-4000-a000-${k.toString(16).padStart(12, '0')}`;
    let db: string;

    async function timed<T>(label: string, path: string): Promise<T> {
      const t = performance.now();
      const r: CallResult = await call(gw, 'GET', path);
      timings.push([label, performance.now() - t]);
      if (r.status !== 200) {
        throw new Error(`GET ${path} → ${r.status}: ${r.text}`);
      }
      return r.json as T;
    }

    async function sqlTimed(label: string, sql: string): Promise<void> {
      const t = performance.now();
      await queryDb(db, sql);
      timings.push([label, performance.now() - t]);
    }

    async function plan(q: SqlQuery): Promise<string> {
      const rows = await queryDb(db, `EXPLAIN ${q.text}`, q.values);
      return rows.map((r) => String(r['QUERY PLAN'])).join('\n');
    }

    beforeAll(async () => {
      db = gw.dbUrl;
      await queryDb(
        db,
        `INSERT INTO provider_connections (id, provider, name)
         SELECT ('00000000-0000-4000-b000-' || lpad(to_hex(k), 12, '0'))::uuid,
                ${PROVIDERS}[1 + k % 5], 'acct-' || k
         FROM generate_series(0, 49) AS k`,
      );
      // 30 days of attempts (one every 2.592 s) ending an hour ago, in time order like the real
      // ledger: 5 providers x 4 models, 50 accounts, 7 keys (10 % keyless), 10 % failures.
      await sqlTimed(
        'INSERT 1,000,000 usage_records',
        `INSERT INTO usage_records (id, request_id, created_at, api_key_id, api_key_name, surface,
           provider, model, connection_id, status, success, tokens_input, tokens_output,
           tokens_cache_read, tokens_cache_creation, tokens_reasoning, latency_ms, cost_usd, attempt)
         SELECT ('00000000-0000-7000-8000-' || lpad(to_hex(i), 12, '0'))::uuid,
           'req-' || (i / 2),
           now() - interval '30 days 1 hour' + i * interval '2592 milliseconds',
           CASE WHEN i % 10 = 0 THEN NULL
                ELSE ('00000000-0000-4000-a000-' || lpad(to_hex(i % 7), 12, '0'))::uuid END,
           CASE WHEN i % 10 = 0 THEN NULL ELSE 'key-' || (i % 7) END,
           'openai',
           ${PROVIDERS}[1 + i % 5],
           'model-' || chr(97 + (i / 5) % 4),
           ('00000000-0000-4000-b000-' || lpad(to_hex(i % 50), 12, '0'))::uuid,
           CASE WHEN i % 10 = 3 THEN 500 ELSE 200 END,
           i % 10 <> 3,
           CASE WHEN i % 10 = 3 THEN 0 ELSE i % 1000 END,
           CASE WHEN i % 10 = 3 THEN 0 ELSE i % 500 END,
           i % 100, i % 50, i % 30, 100 + i % 900,
           CASE WHEN i % 10 = 3 THEN 0 ELSE (i % 1000) * 0.000001 END,
           1 + i % 2
         FROM generate_series(1, 1000000) AS i`,
      );
      await sqlTimed(
        'INSERT 200,000 call_logs',
        `INSERT INTO call_logs (id, request_id, created_at, path, surface, status, success,
           requested_model, provider, model, connection_id, account, api_key_id, api_key_name,
           combo_name, attempts, tokens_input, tokens_output, cost_usd, duration_ms)
         SELECT ('00000000-0000-7000-9000-' || lpad(to_hex(i), 12, '0'))::uuid,
           'req-' || i,
           now() - interval '30 days 1 hour' + i * interval '12960 milliseconds',
           '/v1/chat/completions', 'openai',
           CASE WHEN i % 20 = 7 THEN 502 ELSE 200 END, i % 20 <> 7,
           CASE WHEN i % 4 = 0 THEN 'combo-x' ELSE 'model-' || chr(97 + (i / 5) % 4) END,
           ${PROVIDERS}[1 + i % 5],
           'model-' || chr(97 + (i / 5) % 4),
           ('00000000-0000-4000-b000-' || lpad(to_hex(i % 50), 12, '0'))::uuid,
           'acct-' || (i % 50),
           CASE WHEN i % 10 = 0 THEN NULL
                ELSE ('00000000-0000-4000-a000-' || lpad(to_hex(i % 7), 12, '0'))::uuid END,
           CASE WHEN i % 10 = 0 THEN NULL ELSE 'key-' || (i % 7) END,
           CASE WHEN i % 4 = 0 THEN 'combo-x' ELSE NULL END,
           1, i % 1000, i % 500, (i % 1000) * 0.000001, 200 + i % 700
         FROM generate_series(1, 200000) AS i`,
      );
      // What `autosummarize` (migration 0007) has autovacuum do in the background as ranges fill.
      await sqlTimed(
        'summarise BRIN ranges + ANALYZE',
        `SELECT brin_summarize_new_values('usage_records_created_at_brin'),
                brin_summarize_new_values('call_logs_created_at_brin')`,
      );
      await queryDb(db, 'ANALYZE usage_records');
      await queryDb(db, 'ANALYZE call_logs');
    }, 600_000);

    afterAll(() => {
      const width = Math.max(...timings.map(([l]) => l.length));
      const lines = timings.map(
        ([l, ms]) => `  ${l.padEnd(width)}  ${ms.toFixed(1).padStart(9)} ms`,
      );
      console.log(`usage API timings (1M usage_records, 200k call_logs):\n${lines.join('\n')}`);
    });

    /** The expected answer, with plain per-dimension GROUP BYs (not the service's SQL). */
    async function expectedHistory(
      from: string,
      to: string,
      where = 'TRUE',
    ): Promise<{
      total: Record<string, unknown>;
      by: Record<string, Record<string, unknown>[]>;
      calls: Record<string, unknown>;
    }> {
      const cols = `count(*) AS requests, count(*) FILTER (WHERE NOT success) AS errors,
        sum(tokens_input) AS p, sum(tokens_output) AS c, sum(tokens_cache_read) AS cr,
        sum(tokens_cache_creation) AS cc, sum(tokens_reasoning) AS rs, sum(cost_usd) AS cost`;
      const range = `created_at >= $1 AND created_at < $2 AND ${where}`;
      const q = (sel: string, group: string): Promise<Record<string, unknown>[]> =>
        queryDb(
          db,
          `SELECT ${sel}${sel ? ', ' : ''}${cols} FROM usage_records WHERE ${range} ${group}`,
          [from, to],
        );
      const [[total], provider, model, account, key, [calls]] = await Promise.all([
        q('', ''),
        q('provider', 'GROUP BY provider'),
        q(`provider || '/' || model AS k`, 'GROUP BY 1'),
        q('connection_id::text AS k', 'AND connection_id IS NOT NULL GROUP BY 1'),
        q('api_key_id::text AS k', 'AND api_key_id IS NOT NULL GROUP BY 1'),
        queryDb(
          db,
          `SELECT count(*) AS total, count(*) FILTER (WHERE NOT success) AS failed
           FROM call_logs WHERE ${range}`,
          [from, to],
        ),
      ]);
      return { total, by: { provider, model, account, key }, calls };
    }

    function compare(h: History, e: Awaited<ReturnType<typeof expectedHistory>>): void {
      expect(h.totalRequests).toBe(n(e.total.requests));
      expect(h.totalPromptTokens).toBe(n(e.total.p));
      expect(h.totalCompletionTokens).toBe(n(e.total.c));
      expect(h.totalCacheReadTokens).toBe(n(e.total.cr));
      expect(h.totalCacheCreationTokens).toBe(n(e.total.cc));
      expect(h.totalReasoningTokens).toBe(n(e.total.rs));
      expect(h.totalCost).toBeCloseTo(n(e.total.cost), 6);
      expect(h.calls).toEqual({ total: n(e.calls.total), failed: n(e.calls.failed) });
      const maps: [Record<string, Bucket>, Record<string, unknown>[], string][] = [
        [h.byProvider, e.by.provider, 'provider'],
        [h.byModel, e.by.model, 'k'],
        [h.byAccount, e.by.account, 'k'],
        [h.byApiKey, e.by.key, 'k'],
      ];
      for (const [actual, rows, keyCol] of maps) {
        expect(Object.keys(actual).sort()).toEqual(rows.map((r) => String(r[keyCol])).sort());
        for (const r of rows) {
          const b = actual[String(r[keyCol])];
          expect(b).toMatchObject({
            requests: n(r.requests),
            errors: n(r.errors),
            promptTokens: n(r.p),
            completionTokens: n(r.c),
            reasoningTokens: n(r.rs),
          });
          expect(b.cost).toBeCloseTo(n(r.cost), 6);
        }
      }
    }

    it('history over the whole 31 days matches SQL counts', async () => {
      const to = new Date().toISOString();
      const from = new Date(Date.now() - 31 * 86_400_000).toISOString();
      const h = await timed<History>(
        'history, 31 days (1,000,000 rows)',
        `/api/usage/history${qs({ from, to })}`,
      );
      expect(h.totalRequests).toBe(1_000_000);
      expect(h.calls.total).toBe(200_000);
      expect(Object.keys(h.byAccount)).toHaveLength(50);
      expect(h.byAccount[connId(7)]).toMatchObject({ name: 'acct-7', provider: 'gemini' });
      expect(h.byApiKey[keyId(3)]).toMatchObject({ name: 'key-3' });
      expect(h.successRate).toBe(90);
      compare(h, await expectedHistory(from, to));
    });

    it('history, default 24 h window, matches SQL counts', async () => {
      const h = await timed<History>('history, default 24 h', '/api/usage/history');
      expect(h.totalRequests).toBeGreaterThan(30_000);
      compare(h, await expectedHistory(h.range.from, h.range.to));
    });

    it.each([
      ['apiKeyId', { apiKeyId: keyId(3) }, `api_key_id = '${keyId(3)}'`],
      [
        'provider + model',
        { provider: 'groq', model: 'model-b' },
        `provider = 'groq' AND model = 'model-b'`,
      ],
      ['connectionId', { connectionId: connId(7) }, `connection_id = '${connId(7)}'`],
    ])('history, 31 days, filtered by %s, matches SQL counts', async (name, filter, where) => {
      const to = new Date().toISOString();
      const from = new Date(Date.now() - 31 * 86_400_000).toISOString();
      const h = await timed<History>(
        `history, 31 days, ${name}`,
        `/api/usage/history${qs({ from, to, ...filter })}`,
      );
      expect(h.totalRequests).toBeGreaterThan(0);
      compare(h, await expectedHistory(from, to, where));
    });

    it('logs: the newest 200 as strings, then JSON pages by cursor, match SQL order', async () => {
      const lines = await timed<string[]>('logs, default (200 strings)', '/api/usage/logs');
      const top = await queryDb(
        db,
        `SELECT request_id, requested_model, provider, account, tokens_input, tokens_output, status, created_at
         FROM call_logs ORDER BY created_at DESC, id DESC LIMIT 1000`,
      );
      expect(lines).toHaveLength(200);
      expect(lines[0]).toBe(
        [
          (top[0].created_at as Date).toISOString(),
          top[0].requested_model,
          String(top[0].provider).toUpperCase(),
          top[0].account,
          top[0].tokens_input,
          top[0].tokens_output,
          top[0].status,
        ].join(' | '),
      );
      const first = await timed<LogPage>(
        'logs, JSON page 1 (limit 1000)',
        '/api/usage/logs?format=json&limit=1000',
      );
      expect(first.items.map((i) => i.requestId)).toEqual(top.map((r) => r.request_id));
      const second = await timed<LogPage>(
        'logs, JSON page 2 by cursor',
        `/api/usage/logs${qs({ format: 'json', limit: 1000, cursor: first.nextCursor ?? '' })}`,
      );
      const next = await queryDb(
        db,
        `SELECT request_id FROM call_logs ORDER BY created_at DESC, id DESC OFFSET 1000 LIMIT 1000`,
      );
      expect(second.items.map((i) => i.requestId)).toEqual(next.map((r) => r.request_id));
    });

    it('logs: a page deep in the table and filtered pages match SQL', async () => {
      // A cursor from the middle of the table (100,000 rows back).
      const [mid] = await queryDb(
        db,
        `SELECT to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS ts, id
         FROM call_logs ORDER BY created_at DESC, id DESC OFFSET 99999 LIMIT 1`,
      );
      const cursor = Buffer.from(`${String(mid.ts)}|${String(mid.id)}`).toString('base64url');
      const deep = await timed<LogPage>(
        'logs, JSON page at row 100,000',
        `/api/usage/logs${qs({ format: 'json', limit: 200, cursor })}`,
      );
      const deepSql = await queryDb(
        db,
        `SELECT request_id FROM call_logs ORDER BY created_at DESC, id DESC OFFSET 100000 LIMIT 200`,
      );
      expect(deep.items.map((i) => i.requestId)).toEqual(deepSql.map((r) => r.request_id));

      const byKey = await timed<LogPage>(
        'logs, JSON, apiKeyId filter',
        `/api/usage/logs${qs({ format: 'json', apiKeyId: keyId(2) })}`,
      );
      const byKeySql = await queryDb(
        db,
        `SELECT request_id FROM call_logs WHERE api_key_id = $1 ORDER BY created_at DESC, id DESC LIMIT 200`,
        [keyId(2)],
      );
      expect(byKey.items.map((i) => i.requestId)).toEqual(byKeySql.map((r) => r.request_id));

      // Failures are every 20th call, all on gemini (i % 20 = 7 implies i % 5 = 2).
      const failed = await timed<LogPage>(
        'logs, JSON, provider + success=false',
        `/api/usage/logs${qs({ format: 'json', provider: 'gemini', success: 'false' })}`,
      );
      const failedSql = await queryDb(
        db,
        `SELECT request_id FROM call_logs WHERE provider = 'gemini' AND NOT success
         ORDER BY created_at DESC, id DESC LIMIT 200`,
      );
      expect(failed.items.map((i) => i.requestId)).toEqual(failedSql.map((r) => r.request_id));
      expect(failed.items).toHaveLength(200);

      // Worst case: a filter no index serves that matches nothing reads the whole table.
      const none = await timed<LogPage>(
        'logs, JSON, status=404 (no match: full read)',
        `/api/usage/logs${qs({ format: 'json', status: 404 })}`,
      );
      expect(none).toEqual({ items: [], nextCursor: null });
    });

    it('per-connection usage (24 h and 31 days) matches SQL counts', async () => {
      const check = async (u: ConnectionUsage): Promise<void> => {
        const [e] = await queryDb(
          db,
          `SELECT count(*) AS requests, count(*) FILTER (WHERE success) AS ok, sum(tokens_input) AS p,
             sum(tokens_output) AS c, sum(cost_usd) AS cost, count(DISTINCT model) AS models
           FROM usage_records WHERE connection_id = $1 AND created_at >= $2 AND created_at < $3`,
          [connId(7), u.range.from, u.range.to],
        );
        expect(u).toMatchObject({
          connectionId: connId(7),
          name: 'acct-7',
          provider: 'gemini',
          requests: n(e.requests),
          success: n(e.ok),
          failed: n(e.requests) - n(e.ok),
          tokens: { input: n(e.p), output: n(e.c) },
        });
        expect(u.cost).toBeCloseTo(n(e.cost), 6);
        expect(Object.keys(u.byModel)).toHaveLength(n(e.models));
        expect(u.requests).toBeGreaterThan(0);
      };
      await check(
        await timed<ConnectionUsage>('connection, default 24 h', `/api/usage/${connId(7)}`),
      );
      const from = new Date(Date.now() - 31 * 86_400_000).toISOString();
      await check(
        await timed<ConnectionUsage>(
          'connection, 31 days (20,000 rows)',
          `/api/usage/${connId(7)}${qs({ from })}`,
        ),
      );
    });

    it('EXPLAIN: the log pages and the per-connection query use indexes, never a full scan', async () => {
      const now = new Date();
      const [mid] = await queryDb(
        db,
        `SELECT to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS ts, id
         FROM call_logs ORDER BY created_at DESC, id DESC OFFSET 99999 LIMIT 1`,
      );
      const after = { createdAt: String(mid.ts), id: String(mid.id) };
      const plans = {
        first: await plan(logsSql({}, 201)),
        cursor: await plan(logsSql({ after }, 201)),
        key: await plan(logsSql({ apiKeyId: keyId(2), after }, 201)),
        conn24h: await plan(connectionSql(connId(7), new Date(now.getTime() - 86_400_000), now)),
      };
      console.log(
        Object.entries(plans)
          .map(([k, p]) => `EXPLAIN ${k}:\n${p}`)
          .join('\n\n'),
      );
      for (const p of [plans.first, plans.cursor]) {
        expect(p).toMatch(/Index Scan using call_logs_created_at_idx/);
        expect(p).toMatch(/Limit/);
        expect(p).not.toMatch(/Seq Scan/);
      }
      expect(plans.key).toMatch(/call_logs_(created_at|key)_idx/);
      expect(plans.key).not.toMatch(/Seq Scan/);
      expect(plans.conn24h).toMatch(/usage_records_conn_idx/);
      expect(plans.conn24h).not.toMatch(/Seq Scan/);
    });
  });
});
