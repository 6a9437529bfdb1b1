import Anthropic from '@anthropic-ai/sdk';
import { ApiError, GoogleGenAI } from '@google/genai';
import { Ollama } from 'ollama';
import OpenAI from 'openai';
import type { Combo } from '../../src/combos/combo.types';
import type { AttemptNote } from '../../src/gateway/routing/attempt-log';
import type { ResilienceSettings } from '../../src/resilience/resilience.settings';
import { UsageService } from '../../src/usage/usage.service';
import { queryDb } from '../support/db';
import { useGateway } from '../support/fixtures';
import { admin, call, type ManagementError } from '../support/gateway-client';
import {
  startMockUpstream,
  type MockUpstream,
  type MockUpstreamOptions,
} from '../support/mock-upstream';

/**
 * Issue 4: combos, account rotation and resilience, end to end against mock upstreams that inject
 * 429s, 5xx, resets, hangs and slow first tokens. Every scenario uses its own provider node(s):
 * cooldowns and breakers are per connection / provider and must not leak between tests.
 */

const MESSAGES = [{ role: 'user' as const, content: 'Say hello' }];
/** The app's total timeout (UPSTREAM_TIMEOUT_MS): "well under" it is what fail-fast means. */
const TOTAL_MS = 10_000;
/** Small values so that breakers, timeouts and fallbacks happen quickly. */
const BASELINE = {
  providerBreaker: { apikey: { failureThreshold: 2, resetTimeoutMs: 1000 } },
  timeouts: { firstTokenMs: 500, totalMs: TOTAL_MS },
};

interface GatewayErrorBody {
  message: string;
  type: string;
  code: string;
  attempts?: AttemptNote[];
}

interface Reply {
  status: number;
  headers: Headers;
  text: string;
  json: { choices?: { message: { content: string } }[]; error?: GatewayErrorBody } | undefined;
  /** Wall time of the request (ms). */
  ms: number;
}

interface TestNode {
  id: string;
  prefix: string;
  /** Connection id per account name. */
  conns: Record<string, string>;
  /** Upstream API key per account name (to count a given account's upstream calls). */
  keys: Record<string, string>;
}

interface ConnectionLimitRow {
  connectionId: string;
  provider: string;
  enabled: boolean;
  limits: { rpm: number; tpm: number } | null;
  usage: { requests: number; tokens: number; windowMs: number } | null;
  cooldown: { reason: string; status: number; permanent: boolean; until: string } | null;
}

interface RateLimitsBody {
  connections: ConnectionLimitRow[];
  lockouts: unknown[];
  breakers: { provider: string; state: string; failures: number; retryAfterMs: number }[];
  store: string;
}

interface AccountAvailability {
  connectionId: string;
  usable: boolean;
  reason?: string;
  detail?: string;
  availableAt?: string;
  retryAfterMs?: number;
}

interface ModelAvailability {
  model: string;
  kind: 'model' | 'combo';
  available: boolean;
  provider?: string;
  breaker?: { state: string; failures: number };
  accounts: AccountAvailability[];
  targets?: string[];
  reason?: string;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Chat completion calls the mock received (optionally: with this upstream key / model). */
function hits(m: MockUpstream, key?: string, model?: string): number {
  return m.requests.filter(
    (r) =>
      r.method === 'POST' &&
      r.url.includes('/chat/completions') &&
      (!key || r.headers.authorization === `Bearer ${key}`) &&
      (!model || r.body?.model === model),
  ).length;
}

/** Leaves the last 2 s of a minute so that a sliding RPM window is not split by the test. */
async function awayFromMinuteEdge(): Promise<void> {
  const intoMinute = Date.now() % 60_000;
  if (intoMinute > 58_000) {
    await sleep(60_000 - intoMinute + 50);
  }
}

describe('resilience: combos, account rotation, cooldowns, breakers, timeouts', () => {
  const { gw, mock } = useGateway({
    mock: {},
    app: { env: { UPSTREAM_TIMEOUT_MS: String(TOTAL_MS) } },
  });
  const spawned: MockUpstream[] = [];
  afterAll(async () => {
    await Promise.all(spawned.map((m) => m.close()));
  });

  async function spawn(opts: MockUpstreamOptions = {}): Promise<MockUpstream> {
    const m = await startMockUpstream(opts);
    spawned.push(m);
    return m;
  }

  /**
   * An OpenAI-compatible node with one connection per account, in priority order; an account may
   * point at its own mock (per-connection base URL), else at the shared one.
   */
  async function node(
    prefix: string,
    accounts: (string | { name: string; mock: MockUpstream })[] = ['a'],
  ): Promise<TestNode> {
    const { node: n } = await admin<{ node: { id: string } }>(gw, 'POST', '/api/provider-nodes', {
      name: prefix,
      prefix,
      baseUrl: mock.baseUrl,
    });
    const out: TestNode = { id: n.id, prefix, conns: {}, keys: {} };
    let priority = 0;
    for (const a of accounts) {
      const { name, mock: own } = typeof a === 'string' ? { name: a, mock: undefined } : a;
      const apiKey = `sk-${prefix}-${name}`;
      const { connection } = await admin<{ connection: { id: string } }>(
        gw,
        'POST',
        '/api/providers',
        {
          provider: n.id,
          name,
          apiKey,
          priority: ++priority,
          ...(own ? { providerSpecificData: { baseUrl: own.baseUrl } } : {}),
        },
      );
      out.conns[name] = connection.id;
      out.keys[name] = apiKey;
    }
    return out;
  }

  async function combo(
    name: string,
    strategy: string,
    models: unknown[],
    config?: Record<string, unknown>,
  ): Promise<Combo> {
    const r = await call(gw, 'POST', '/api/combos', {
      body: { name, strategy, models, ...(config ? { config } : {}) },
    });
    if (r.status !== 201) {
      throw new Error(`combo ${name}: ${r.status} ${r.text}`);
    }
    return r.json as Combo;
  }

  async function settings(patch: unknown): Promise<ResilienceSettings> {
    return admin<ResilienceSettings>(gw, 'PUT', '/api/resilience', patch);
  }

  async function chat(
    model: string,
    opts: { stream?: boolean; id?: string; headers?: Record<string, string> } = {},
  ): Promise<Reply> {
    const started = Date.now();
    const res = await fetch(`${gw.url}/v1/chat/completions`, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${gw.adminKey}`,
        'content-type': 'application/json',
        'x-omniroute-no-cache': 'true',
        ...(opts.id ? { 'x-request-id': opts.id } : {}),
        ...opts.headers,
      },
      body: JSON.stringify({ model, messages: MESSAGES, stream: opts.stream ?? false }),
    });
    const text = await res.text();
    let json: Reply['json'];
    try {
      json = JSON.parse(text) as Reply['json'];
    } catch {
      json = undefined;
    }
    return { status: res.status, headers: res.headers, text, json, ms: Date.now() - started };
  }

  /** A request that must succeed (the body is shown when it does not). */
  async function ok(model: string, opts: Parameters<typeof chat>[1] = {}): Promise<Reply> {
    const r = await chat(model, opts);
    if (r.status !== 200) {
      throw new Error(`${model}: expected 200, got ${r.status} ${r.text}`);
    }
    return r;
  }

  /** `n` sequential requests; what served each (combo target, or connection id). */
  async function servedBy(
    model: string,
    n: number,
    by: 'target' | 'connection' = 'target',
  ): Promise<string[]> {
    const out: string[] = [];
    for (let i = 0; i < n; i++) {
      const r = await ok(model);
      out.push(
        r.headers.get(by === 'target' ? 'x-omniroute-combo-target' : 'x-omniroute-connection') ??
          '?',
      );
    }
    return out;
  }

  async function usageRows(requestId: string): Promise<Record<string, unknown>[]> {
    await gw.app.get(UsageService).flush();
    return queryDb(
      gw.dbUrl,
      'SELECT * FROM usage_records WHERE request_id = $1 ORDER BY attempt, id',
      [requestId],
    );
  }

  async function rateLimits(): Promise<RateLimitsBody> {
    return admin<RateLimitsBody>(gw, 'GET', '/api/rate-limits');
  }

  async function availability(model: string): Promise<ModelAvailability> {
    const r = await admin<{ models: ModelAvailability[]; checkedAt: string }>(
      gw,
      'GET',
      `/api/models/availability?model=${encodeURIComponent(model)}`,
    );
    expect(r.models).toHaveLength(1);
    return r.models[0];
  }

  const counts = (xs: string[]): Record<string, number> =>
    xs.reduce<Record<string, number>>((acc, x) => ({ ...acc, [x]: (acc[x] ?? 0) + 1 }), {});

  // ------------------------------------------------------------------------------------------
  describe('management: /api/resilience and /api/rate-limit', () => {
    let defaults: ResilienceSettings;

    it('refuses calls without credentials', async () => {
      expect((await call(gw, 'GET', '/api/resilience', { key: null })).status).toBe(401);
      expect(
        (await call(gw, 'PUT', '/api/resilience', { key: null, body: { retries: {} } })).status,
      ).toBe(401);
      expect((await call(gw, 'GET', '/api/rate-limits', { key: null })).status).toBe(401);
    });

    it('GET answers the defaults: fail fast, one same-account retry, breaker 12 / 30 s, fill-first', async () => {
      defaults = await admin<ResilienceSettings>(gw, 'GET', '/api/resilience');
      expect(defaults).toEqual({
        requestQueue: {
          autoEnableApiKeyProviders: false,
          requestsPerMinute: 100,
          tokensPerMinute: 0,
        },
        connectionCooldown: {
          oauth: { baseCooldownMs: 5000, useUpstreamRetryHints: false, maxBackoffSteps: 8 },
          apikey: { baseCooldownMs: 3000, useUpstreamRetryHints: true, maxBackoffSteps: 5 },
        },
        providerBreaker: {
          oauth: { failureThreshold: 8, resetTimeoutMs: 60_000 },
          apikey: { failureThreshold: 12, resetTimeoutMs: 30_000 },
        },
        waitForCooldown: { enabled: false, maxRetries: 1, maxRetryWaitSec: 5 },
        retries: { maxRetries: 1, retryDelayMs: 200, maxRetryDelayMs: 2000 },
        timeouts: {
          connectMs: 10_000,
          firstTokenMs: TOTAL_MS, // min(120 s, totalMs)
          streamIdleMs: 300_000,
          totalMs: TOTAL_MS, // UPSTREAM_TIMEOUT_MS
        },
        accountRotation: { strategy: 'fill-first', stickyRoundRobinLimit: 3, providers: {} },
      });
    });

    it('PUT deep-merges a partial profile and answers the whole profile', async () => {
      const r = await call(gw, 'PUT', '/api/resilience', {
        body: {
          retries: { maxRetries: 3 },
          providerBreaker: { apikey: { failureThreshold: 5 } },
        },
      });
      expect(r.status).toBe(200);
      const expected = {
        ...defaults,
        retries: { ...defaults.retries, maxRetries: 3 },
        providerBreaker: {
          ...defaults.providerBreaker,
          apikey: { ...defaults.providerBreaker.apikey, failureThreshold: 5 },
        },
      };
      expect(r.json).toEqual({ ok: true, ...expected });
      expect(await admin(gw, 'GET', '/api/resilience')).toEqual(expected);
    });

    it('refuses bad values with 400 listing every bad field, and changes nothing', async () => {
      const before = await admin(gw, 'GET', '/api/resilience');
      const r = await call(gw, 'PUT', '/api/resilience', {
        body: {
          retries: { maxRetries: 99 },
          timeouts: { totalMs: 'soon' },
          bogus: true,
          accountRotation: { strategy: 'zigzag' },
          waitForCooldown: { enabled: 'yes' },
        },
      });
      expect(r.status).toBe(400);
      const fields = ((r.json as ManagementError).error.details?.fields ?? []) as unknown[];
      const text = fields.map((f) => (typeof f === 'string' ? f : JSON.stringify(f))).join('\n');
      for (const f of [
        'retries.maxRetries',
        'timeouts.totalMs',
        'bogus',
        'accountRotation.strategy',
        'waitForCooldown.enabled',
      ]) {
        expect(text).toContain(f);
      }
      const inverted = await call(gw, 'PUT', '/api/resilience', {
        body: { timeouts: { firstTokenMs: 5000, totalMs: 4000 } },
      });
      expect(inverted.status).toBe(400);
      expect(inverted.text).toContain('firstTokenMs');
      expect((await call(gw, 'PUT', '/api/resilience', { body: [1, 2] })).status).toBe(400);
      expect(await admin(gw, 'GET', '/api/resilience')).toEqual(before);
    });

    it('PATCH is an alias of PUT (and accepts the legacy profiles shape)', async () => {
      const r = await call(gw, 'PATCH', '/api/resilience', {
        body: {
          accountRotation: { stickyRoundRobinLimit: 7, providers: { someprovider: 'random' } },
          profiles: { apikey: { baseCooldownMs: 1500, failureThreshold: 4 } },
        },
      });
      expect(r.status).toBe(200);
      const got = await admin<ResilienceSettings>(gw, 'GET', '/api/resilience');
      expect(got.accountRotation).toEqual({
        strategy: 'fill-first',
        stickyRoundRobinLimit: 7,
        providers: { someprovider: 'random' },
      });
      expect(got.connectionCooldown.apikey.baseCooldownMs).toBe(1500);
      expect(got.providerBreaker.apikey.failureThreshold).toBe(4);
      expect(got.retries.maxRetries).toBe(3); // from the earlier PUT: merged, not replaced
    });

    it('POST /api/resilience/reset answers what it cleared', async () => {
      const r = await call(gw, 'POST', '/api/resilience/reset');
      expect(r.status).toBe(200);
      expect(r.json).toMatchObject({
        ok: true,
        resetCount: 0,
        cooldownsCleared: 0,
        message: expect.any(String),
      });
    });

    it('/api/rate-limit reads and changes the global limit defaults (the requestQueue section)', async () => {
      expect(await admin(gw, 'GET', '/api/rate-limit')).toEqual(defaults.requestQueue);
      const put = await call(gw, 'PUT', '/api/rate-limit', {
        body: { requestsPerMinute: 60, tokensPerMinute: 5000 },
      });
      expect(put.status).toBe(200);
      expect(put.json).toEqual({
        autoEnableApiKeyProviders: false,
        requestsPerMinute: 60,
        tokensPerMinute: 5000,
      });
      expect((await admin<ResilienceSettings>(gw, 'GET', '/api/resilience')).requestQueue).toEqual(
        put.json,
      );
      expect(
        (await call(gw, 'PUT', '/api/rate-limit', { body: { requestsPerMinute: 0 } })).status,
      ).toBe(400);
      expect(
        (await call(gw, 'PUT', '/api/rate-limit', { body: { autoEnableApiKeyProviders: 'x' } }))
          .status,
      ).toBe(400);
      expect(await admin(gw, 'GET', '/api/rate-limit')).toEqual(put.json);
    });

    afterAll(async () => {
      if (defaults) {
        await settings(defaults); // providers map replaced: back to {}
      }
    });
  });

  // ------------------------------------------------------------------------------------------
  describe('routing (breaker threshold 2 / reset 1 s, first token 500 ms)', () => {
    beforeAll(async () => {
      await settings(BASELINE);
    });

    describe('a combo of three targets where the first two fail', () => {
      let trio: Combo;
      let nodes: TestNode[];

      beforeAll(async () => {
        nodes = [await node('c3a'), await node('c3b'), await node('c3c')];
        trio = await combo('trio', 'priority', ['c3a/fail-429', 'c3b/fail-500', 'c3c/gpt-4o-mini']);
      });

      it('answers from the third, says which target served it, and records all three attempts', async () => {
        const r = await ok('trio', { id: 'trio-1' });
        expect(r.json?.choices?.[0].message.content).toBe(mock.reply);
        expect(r.headers.get('x-omniroute-combo')).toBe('trio');
        expect(r.headers.get('x-omniroute-combo-target')).toBe('c3c/gpt-4o-mini');
        expect(r.headers.get('x-omniroute-combo-step')).toBe(trio.models[2].id);
        expect(r.headers.get('x-omniroute-provider')).toBe('c3c');
        expect(r.headers.get('x-omniroute-model')).toBe('gpt-4o-mini');
        expect(r.headers.get('x-omniroute-connection')).toBe(nodes[2].conns.a);
        expect(r.headers.get('x-omniroute-attempts')).toBe('3');
        const rows = await usageRows('trio-1');
        expect(
          rows.map((x) => ({
            status: x.status,
            success: x.success,
            combo: x.combo,
            attempt: x.attempt,
            connection: x.connection_id,
            errorCode: x.error_code,
          })),
        ).toEqual([
          {
            status: 429,
            success: false,
            combo: 'trio',
            attempt: 1,
            connection: nodes[0].conns.a,
            errorCode: 'UPSTREAM_ERROR',
          },
          {
            status: 500,
            success: false,
            combo: 'trio',
            attempt: 2,
            connection: nodes[1].conns.a,
            errorCode: 'UPSTREAM_ERROR',
          },
          {
            status: 200,
            success: true,
            combo: 'trio',
            attempt: 3,
            connection: nodes[2].conns.a,
            errorCode: null,
          },
        ]);
      });

      it('skips the cooling targets on the next request (also as combo/<name>)', async () => {
        const before = hits(mock, nodes[0].keys.a) + hits(mock, nodes[1].keys.a);
        const r = await ok('combo/trio', { id: 'trio-2' });
        expect(r.headers.get('x-omniroute-combo-target')).toBe('c3c/gpt-4o-mini');
        expect(r.headers.get('x-omniroute-attempts')).toBe('1');
        expect(hits(mock, nodes[0].keys.a) + hits(mock, nodes[1].keys.a)).toBe(before);
        const rows = await usageRows('trio-2');
        expect(rows.map((x) => [x.status, x.attempt, x.combo])).toEqual([[200, 1, 'trio']]);
      });
    });

    describe('combo strategies', () => {
      beforeAll(async () => {
        await node('st');
      });

      it('priority: the first healthy target always serves', async () => {
        await combo('st-priority', 'priority', ['st/m1', 'st/m2', 'st/m3']);
        expect(await servedBy('st-priority', 5)).toEqual(Array(5).fill('st/m1'));
      });

      it('weighted: weights 100/0 always pick the first; 50/50 spreads', async () => {
        await combo('st-w100', 'weighted', [
          { model: 'st/m1', weight: 100 },
          { model: 'st/m2', weight: 0 },
        ]);
        expect(await servedBy('st-w100', 20)).toEqual(Array(20).fill('st/m1'));
        await combo('st-w50', 'weighted', [
          { model: 'st/m1', weight: 50 },
          { model: 'st/m2', weight: 50 },
        ]);
        const c = counts(await servedBy('st-w50', 40));
        expect(c['st/m1']).toBeGreaterThanOrEqual(8);
        expect(c['st/m2']).toBeGreaterThanOrEqual(8);
      });

      it('round-robin: successive requests rotate through the targets', async () => {
        await combo('st-rr', 'round-robin', ['st/m1', 'st/m2', 'st/m3']);
        const seq = await servedBy('st-rr', 6);
        expect(new Set(seq.slice(0, 3)).size).toBe(3);
        expect(seq.slice(3)).toEqual(seq.slice(0, 3));
        // declared order, rotated
        const start = ['st/m1', 'st/m2', 'st/m3'].indexOf(seq[0]);
        expect(seq.slice(0, 3)).toEqual(
          [0, 1, 2].map((i) => ['st/m1', 'st/m2', 'st/m3'][(start + i) % 3]),
        );
      });

      it('random: every target is eventually used', async () => {
        await combo('st-random', 'random', ['st/m1', 'st/m2', 'st/m3']);
        expect(new Set(await servedBy('st-random', 30)).size).toBe(3);
      });

      it('least-used: spreads evenly', async () => {
        await combo('st-lu', 'least-used', ['st/m1', 'st/m2', 'st/m3']);
        const seq = await servedBy('st-lu', 6);
        expect(new Set(seq.slice(0, 3)).size).toBe(3);
        expect(counts(seq)).toEqual({ 'st/m1': 2, 'st/m2': 2, 'st/m3': 2 });
      });

      it('lowest-latency: after some traffic the fast target comes first', async () => {
        const slow = await spawn({ latencyMs: 150 });
        await node('lls', [{ name: 'a', mock: slow }]);
        await node('llf');
        await combo('st-latency', 'lowest-latency', ['lls/m', 'llf/m']);
        // nothing measured yet: declared order (an unmeasured target gets measured first)
        expect(await servedBy('st-latency', 1)).toEqual(['lls/m']);
        for (let i = 0; i < 3; i++) {
          await ok('llf/m'); // warm-up of the fast one (direct requests feed the same stats)
        }
        // the stats are merged into the shared store once a second
        const started = Date.now();
        let first = '';
        while (Date.now() - started < 6000) {
          [first] = await servedBy('st-latency', 1);
          if (first === 'llf/m') {
            break;
          }
          await sleep(250);
        }
        expect(first).toBe('llf/m');
        expect(await servedBy('st-latency', 3)).toEqual(Array(3).fill('llf/m'));
      });

      it('cost-optimized: the target with the lower input price comes first', async () => {
        await node('co');
        await combo('st-cost', 'cost-optimized', ['co/pricey', 'co/cheap']);
        expect(await servedBy('st-cost', 1)).toEqual(['co/pricey']); // no prices: declared order
        await admin(gw, 'PATCH', '/api/pricing', {
          co: { pricey: { input: 10, output: 30 }, cheap: { input: 0.5, output: 40 } },
        });
        try {
          expect(await servedBy('st-cost', 3)).toEqual(Array(3).fill('co/cheap'));
        } finally {
          await admin(gw, 'DELETE', '/api/pricing?provider=co');
        }
      });

      it('a step pinned to one account uses only that account, even when it fails', async () => {
        const sp = await node('sp', ['a', 'b']);
        await combo('sp-pin', 'priority', [{ model: 'sp/m', connectionId: sp.conns.b }]);
        expect(await servedBy('sp-pin', 3, 'connection')).toEqual(Array(3).fill(sp.conns.b));
        expect(hits(mock, sp.keys.a)).toBe(0);
        expect(await servedBy('sp/m', 1, 'connection')).toEqual([sp.conns.a]); // fill-first

        const spf = await node('spf', ['a', 'b']);
        await combo('sp-pin-fail', 'priority', [
          { model: 'spf/fail-500', connectionId: spf.conns.a },
          'st/m1',
        ]);
        const r = await ok('sp-pin-fail');
        expect(r.headers.get('x-omniroute-combo-target')).toBe('st/m1');
        expect(r.headers.get('x-omniroute-attempts')).toBe('2');
        expect(hits(mock, spf.keys.a)).toBe(1);
        expect(hits(mock, spf.keys.b)).toBe(0); // no rotation inside a pinned step
      });
    });

    describe('nested combos and the fail-fast body', () => {
      let ns: TestNode[];
      let outer: Combo;

      beforeAll(async () => {
        ns = [await node('nsa'), await node('nsb'), await node('nsc')];
        await combo('nest-inner', 'priority', ['nsa/fail-500', 'nsb/fail-429']);
        outer = await combo('nest-outer', 'priority', ['nest-inner', 'nsc/m']);
        expect(outer.models[0]).toMatchObject({ kind: 'combo-ref', comboName: 'nest-inner' });
      });

      it('falls back through a referenced combo to the next step', async () => {
        const r = await ok('nest-outer', { id: 'nest-1' });
        expect(r.headers.get('x-omniroute-combo')).toBe('nest-outer');
        expect(r.headers.get('x-omniroute-combo-target')).toBe('nsc/m');
        expect(r.headers.get('x-omniroute-combo-step')).toBe(outer.models[1].id);
        expect(r.headers.get('x-omniroute-attempts')).toBe('3');
        const rows = await usageRows('nest-1');
        expect(rows.map((x) => [x.status, x.attempt, x.combo, x.connection_id])).toEqual([
          [500, 1, 'nest-outer', ns[0].conns.a],
          [429, 2, 'nest-outer', ns[1].conns.a],
          [200, 3, 'nest-outer', ns[2].conns.a],
        ]);
      });

      it('answers 503 ALL_TARGETS_UNAVAILABLE at once, with Retry-After and the attempts', async () => {
        const before = hits(mock);
        const r = await chat('nest-inner', { id: 'nest-2' });
        expect(r.status).toBe(503); // a 500 and a 429: not every target is rate limited
        expect(r.ms).toBeLessThan(TOTAL_MS / 5);
        expect(hits(mock)).toBe(before); // both cooling: nobody was called
        expect(Number(r.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
        const err = r.json?.error;
        expect(err).toMatchObject({ type: 'server_error', code: 'all_targets_unavailable' });
        expect(err?.message).toMatch(/nest-inner/);
        expect(err?.attempts).toEqual([
          expect.objectContaining({
            target: 'nsa/fail-500',
            connectionId: ns[0].conns.a,
            outcome: 'skipped',
            reason: 'model-lockout', // a 5xx cools the (connection, model) pair
            status: 500,
            retryAfterMs: expect.any(Number),
          }),
          expect.objectContaining({
            target: 'nsb/fail-429',
            connectionId: ns[1].conns.a,
            outcome: 'skipped',
            reason: 'model-lockout', // a node's rate limits are per model
            status: 429,
          }),
        ]);
        expect(await usageRows('nest-2')).toEqual([]); // nothing was attempted
      });

      it('answers 429 ALL_TARGETS_RATE_LIMITED when every target is rate limited', async () => {
        await node('rla');
        await node('rlb');
        await combo('all-429', 'priority', ['rla/fail-429', 'rlb/fail-429']);
        const r = await chat('all-429');
        expect(r.status).toBe(429);
        expect(r.headers.get('retry-after')).toBe('2'); // the upstream's Retry-After
        expect(r.json?.error).toMatchObject({
          type: 'rate_limit_error',
          code: 'all_targets_rate_limited',
        });
        expect(r.json?.error?.attempts?.map((a) => [a.target, a.outcome, a.status])).toEqual([
          ['rla/fail-429', 'failed', 429],
          ['rlb/fail-429', 'failed', 429],
        ]);
      });
    });

    describe('account rotation within a provider', () => {
      let ar: TestNode;

      beforeAll(async () => {
        ar = await node('ar', ['a', 'b']);
      });
      afterAll(async () => {
        await settings({
          accountRotation: { strategy: 'fill-first', stickyRoundRobinLimit: 3, providers: {} },
        });
      });

      it('fill-first (default): the first account by priority serves every request', async () => {
        expect(await servedBy('ar/m', 3, 'connection')).toEqual(Array(3).fill(ar.conns.a));
      });

      it('round-robin with stickyRoundRobinLimit 1 alternates accounts; 2 gives each two in a row', async () => {
        await settings({ accountRotation: { strategy: 'round-robin', stickyRoundRobinLimit: 1 } });
        const { a, b } = ar.conns;
        expect(await servedBy('ar/m', 4, 'connection')).toEqual([a, b, a, b]);
        await settings({ accountRotation: { stickyRoundRobinLimit: 2 } });
        expect(await servedBy('ar/m', 4, 'connection')).toEqual([a, a, b, b]);
      });

      it('least-recently-used (as a per-provider override) picks the account idle the longest', async () => {
        const lru = await node('lru', ['a', 'b', 'c']);
        await settings({
          accountRotation: { strategy: 'fill-first', providers: { lru: 'least-recently-used' } },
        });
        const { a, b, c } = lru.conns;
        expect(await servedBy('lru/m', 6, 'connection')).toEqual([a, b, c, a, b, c]);
        // the override is for that provider only
        expect(await servedBy('ar/m', 2, 'connection')).toEqual([ar.conns.a, ar.conns.a]);
      });

      it('x-omniroute-connection pins one account (no cooldown recorded, no rotation)', async () => {
        const pin = await node('pin', ['a', 'b']);
        const pinned = await servedBy('pin/m', 1, 'connection');
        expect(pinned).toEqual([pin.conns.a]);
        const r = await ok('pin/m', { headers: { 'x-omniroute-connection': pin.conns.b } });
        expect(r.headers.get('x-omniroute-connection')).toBe(pin.conns.b);
        // a failing pinned account: its error, never the other account
        const failed = await chat('pin/fail-429', {
          headers: { 'x-omniroute-connection': pin.conns.a },
        });
        expect(failed.status).toBe(429);
        expect(hits(mock, pin.keys.b, 'fail-429')).toBe(0);
        // ... and no cooldown: unpinned, account a is tried again first
        const again = await chat('pin/fail-429');
        expect(again.status).toBe(429);
        expect(hits(mock, pin.keys.a, 'fail-429')).toBe(2);
        const unknown = await chat('pin/m', {
          headers: { 'x-omniroute-connection': '00000000-0000-4000-8000-000000000000' },
        });
        expect(unknown.status).toBe(400);
        expect(unknown.json?.error?.code).toBe('connection_not_found');
      });
    });

    describe('cooldowns and failure classes', () => {
      it('a plain 400 ends the request: the second account is never called, nobody cools down', async () => {
        const bad = await spawn({ fault: 'fail-400' });
        const n = await node('bq', [{ name: 'a', mock: bad }, 'b']);
        for (let i = 1; i <= 2; i++) {
          const r = await chat('bq/m');
          expect(r.status).toBe(400);
          expect(r.json?.error?.message).toMatch(/mock fail-400/);
          expect(hits(bad)).toBe(i);
        }
        expect(hits(mock, n.keys.b)).toBe(0);
      });

      it('a 429 with Retry-After 1 skips the account, which serves again after ~1 s', async () => {
        const limited = await spawn({ fault: 'fail-429', retryAfterSec: 1 });
        const n = await node('ce', [{ name: 'a', mock: limited }, 'b']);
        const first = await ok('ce/m');
        expect(first.headers.get('x-omniroute-connection')).toBe(n.conns.b);
        expect(first.headers.get('x-omniroute-attempts')).toBe('2');
        const second = await ok('ce/m');
        expect(second.headers.get('x-omniroute-connection')).toBe(n.conns.b);
        expect(second.headers.get('x-omniroute-attempts')).toBe('1');
        expect(hits(limited)).toBe(1);

        const av = await availability('ce/m');
        const a = av.accounts.find((x) => x.connectionId === n.conns.a)!;
        expect(a).toMatchObject({ usable: false, reason: 'model-lockout' });
        const wait = Date.parse(a.availableAt!) - Date.now();
        expect(wait).toBeLessThanOrEqual(1000);

        limited.setFault(null);
        await sleep(Math.max(0, wait) + 100);
        const third = await ok('ce/m');
        expect(third.headers.get('x-omniroute-connection')).toBe(n.conns.a);
        expect(hits(limited)).toBe(2);
      });

      it('permanent errors (401, insufficient_quota) disable the account; /api/rate-limits shows it', async () => {
        const unauthorized = await spawn({ fault: 'fail-401' });
        const noCredit = await spawn({ fault: 'fail-quota' });
        const n = await node('perm', [
          { name: 'a', mock: unauthorized },
          { name: 'b', mock: noCredit },
          'c',
        ]);
        const first = await ok('perm/m');
        expect(first.headers.get('x-omniroute-connection')).toBe(n.conns.c);
        expect(first.headers.get('x-omniroute-attempts')).toBe('3');
        for (let i = 0; i < 2; i++) {
          const r = await ok('perm/other-model');
          expect(r.headers.get('x-omniroute-attempts')).toBe('1');
        }
        expect(hits(unauthorized)).toBe(1);
        expect(hits(noCredit)).toBe(1);

        const rl = await rateLimits();
        const row = (id: string): ConnectionLimitRow =>
          rl.connections.find((c) => c.connectionId === id)!;
        expect(row(n.conns.a).cooldown).toMatchObject({
          permanent: true,
          reason: 'unauthorized',
          status: 401,
        });
        expect(row(n.conns.b).cooldown).toMatchObject({
          permanent: true,
          reason: 'credits_exhausted',
          status: 429,
        });
        expect(row(n.conns.c).cooldown).toBeNull();
        const av = await availability('perm/m');
        expect(av.accounts.find((x) => x.connectionId === n.conns.a)).toMatchObject({
          usable: false,
          reason: 'permanent',
        });
        expect(av.accounts.find((x) => x.connectionId === n.conns.a)?.availableAt).toBeUndefined();
      });

      it('a provider whose only account is disabled answers 503 ALL_ACCOUNTS_UNAVAILABLE', async () => {
        const unauthorized = await spawn({ fault: 'fail-401' });
        await node('permx', [{ name: 'a', mock: unauthorized }]);
        const first = await chat('permx/m');
        expect(first.status).toBe(401); // the upstream's error, status kept
        expect(first.json?.error?.attempts).toHaveLength(1);
        const second = await chat('permx/m');
        expect(second.status).toBe(503);
        expect(second.json?.error?.code).toBe('all_accounts_unavailable');
        expect(hits(unauthorized)).toBe(1);
      });

      it('fails fast with the upstream Retry-After, then 429 ALL_ACCOUNTS_COOLING_DOWN without a call', async () => {
        const n = await node('ra');
        const first = await chat('ra/fail-429');
        expect(first.status).toBe(429);
        expect(first.headers.get('retry-after')).toBe('2');
        expect(first.json?.error?.attempts).toEqual([
          expect.objectContaining({
            target: 'ra/fail-429',
            connectionId: n.conns.a,
            outcome: 'failed',
            reason: 'rate_limited',
            status: 429,
          }),
        ]);
        const second = await chat('ra/fail-429');
        expect(second.status).toBe(429);
        expect(second.ms).toBeLessThan(TOTAL_MS / 5);
        expect(Number(second.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
        expect(Number(second.headers.get('retry-after'))).toBeLessThanOrEqual(2);
        expect(second.json?.error).toMatchObject({
          type: 'rate_limit_error',
          code: 'all_accounts_cooling_down',
        });
        expect(second.json?.error?.attempts).toEqual([
          expect.objectContaining({ outcome: 'skipped', reason: 'model-lockout', status: 429 }),
        ]);
        expect(hits(mock, n.keys.a)).toBe(1);
      });

      it('honours Retry-After by waiting when waitForCooldown is enabled', async () => {
        const limited = await spawn({ fault: 'fail-429', retryAfterSec: 1 });
        const n = await node('wt', [{ name: 'a', mock: limited }]);
        await settings({ waitForCooldown: { enabled: true, maxRetries: 1, maxRetryWaitSec: 5 } });
        try {
          const fix = setTimeout(() => limited.setFault(null), 300);
          const r = await chat('wt/m');
          clearTimeout(fix);
          expect(r.status).toBe(200);
          expect(r.headers.get('x-omniroute-connection')).toBe(n.conns.a);
          expect(r.headers.get('x-omniroute-attempts')).toBe('2');
          expect(r.ms).toBeGreaterThanOrEqual(900);
          expect(r.ms).toBeLessThan(3000);
          expect(hits(limited)).toBe(2);
        } finally {
          await settings({ waitForCooldown: { enabled: false } });
        }
      });

      it('retries a 502 once on the same account (maxRetries 1), not at all with maxRetries 0', async () => {
        const n = await node('rt');
        const r = await chat('rt/fail-502', { id: 'retry-502' });
        expect(r.status).toBe(502);
        expect(r.ms).toBeGreaterThanOrEqual(190); // 200 ms backoff
        expect(hits(mock, n.keys.a)).toBe(2);
        const rows = await usageRows('retry-502');
        expect(rows.map((x) => [x.status, x.attempt, x.connection_id])).toEqual([
          [502, 1, n.conns.a],
          [502, 2, n.conns.a],
        ]);
        expect(r.json?.error?.attempts?.map((a) => a.reason)).toEqual([
          'server_error',
          'server_error',
        ]);

        const n0 = await node('rt0');
        await settings({ retries: { maxRetries: 0 } });
        try {
          expect((await chat('rt0/fail-502')).status).toBe(502);
          expect(hits(mock, n0.keys.a)).toBe(1);
        } finally {
          await settings({ retries: { maxRetries: 1 } });
        }
      });

      it('moves to the next account after a connection reset (retried once first)', async () => {
        const broken = await spawn({ fault: 'reset' });
        const n = await node('rs', [{ name: 'a', mock: broken }, 'b']);
        const r = await ok('rs/m');
        expect(r.headers.get('x-omniroute-connection')).toBe(n.conns.b);
        expect(r.headers.get('x-omniroute-attempts')).toBe('3');
        expect(hits(broken)).toBe(2);
      });
    });

    describe('circuit breaker (threshold 2, reset 1 s)', () => {
      let slowish: MockUpstream;
      let br: TestNode;

      beforeAll(async () => {
        // cooldowns shorter than the breaker's reset, as with the defaults (3 s vs 30 s)
        await settings({ connectionCooldown: { apikey: { baseCooldownMs: 100 } } });
        slowish = await spawn({ latencyMs: 300 });
        br = await node('br', [
          { name: 'a', mock: slowish },
          { name: 'b', mock: slowish },
        ]);
      });
      afterAll(async () => {
        await settings({ connectionCooldown: { apikey: { baseCooldownMs: 3000 } } });
      });

      const breakerOf = async (): Promise<RateLimitsBody['breakers'][number] | undefined> =>
        (await rateLimits()).breakers.find((b) => b.provider === br.id);

      it('opens after two 500s; the next request gets 503 PROVIDER_CIRCUIT_OPEN without an upstream call', async () => {
        const failed = await chat('br/fail-500');
        expect(failed.status).toBe(500);
        expect(hits(slowish)).toBe(2); // a, then b: two provider failures
        expect(await breakerOf()).toMatchObject({ state: 'open', failures: 2 });

        const r = await chat('br/m');
        expect(r.status).toBe(503);
        expect(r.headers.get('x-omniroute-provider-breaker')).toBe('open');
        expect(r.headers.get('retry-after')).toBe('1');
        expect(r.json?.error?.code).toBe('provider_circuit_open');
        expect(r.json?.error?.attempts).toEqual([
          expect.objectContaining({ target: 'br/m', outcome: 'skipped', reason: 'circuit-open' }),
        ]);
        expect(hits(slowish)).toBe(2);

        const av = await availability('br/m');
        expect(av.available).toBe(false);
        expect(av.breaker?.state).toBe('open');
        expect(av.accounts.map((a) => a.reason)).toEqual(['circuit-open', 'circuit-open']);
      });

      it('after resetTimeoutMs lets exactly one probe through; its success closes the breaker', async () => {
        const b = await breakerOf();
        await sleep((b?.retryAfterMs ?? 1000) + 50);
        const replies = await Promise.all([chat('br/m'), chat('br/m'), chat('br/m')]);
        expect(replies.map((r) => r.status).sort()).toEqual([200, 503, 503]);
        expect(hits(slowish)).toBe(3); // the probe only
        for (const r of replies.filter((x) => x.status === 503)) {
          expect(r.json?.error?.code).toBe('provider_circuit_open');
          expect(r.json?.error?.message).toMatch(/half_open|open/);
        }
        const started = Date.now();
        while ((await breakerOf()) && Date.now() - started < 3000) {
          await sleep(25);
        }
        expect(await breakerOf()).toBeUndefined(); // closed, failure streak cleared
        expect((await chat('br/m')).status).toBe(200);
      });

      it('POST /api/resilience/reset closes an open breaker', async () => {
        expect((await chat('br/fail-500')).status).toBe(500);
        expect((await breakerOf())?.state).toBe('open');
        expect((await chat('br/m')).status).toBe(503);
        const reset = await admin<{ resetCount: number; cooldownsCleared: number }>(
          gw,
          'POST',
          '/api/resilience/reset',
        );
        expect(reset.resetCount).toBeGreaterThanOrEqual(1);
        expect(await breakerOf()).toBeUndefined();
        const r = await chat('br/m');
        expect(r.status).toBe(200);
      });
    });

    describe('timeouts', () => {
      it('a stream whose first token is slow falls back to the next target', async () => {
        await node('sf');
        await node('sfok');
        await combo('slow-stream', 'priority', ['sf/slow-first-token', 'sfok/m']);
        const r = await chat('slow-stream', { stream: true, id: 'slow-1' });
        expect(r.status).toBe(200);
        expect(r.headers.get('content-type')).toContain('text/event-stream');
        expect(r.headers.get('x-omniroute-combo-target')).toBe('sfok/m');
        expect(r.text.trim().endsWith('data: [DONE]')).toBe(true);
        expect(r.ms).toBeGreaterThanOrEqual(450);
        expect(r.ms).toBeLessThan(1900); // the slow one would have taken 2 s
        const rows = await usageRows('slow-1');
        expect(rows.map((x) => [x.status, x.error_code, x.stream])).toEqual([
          [504, 'UPSTREAM_TIMEOUT', true],
          [200, null, true],
        ]);
        // non-stream: the response headers are the first token
        const plain = await ok('slow-stream');
        expect(plain.headers.get('x-omniroute-combo-target')).toBe('sfok/m');
      });

      it('a hanging target falls back to the next one after firstTokenMs', async () => {
        await node('hgf');
        await node('hgok');
        await combo('hang-fallback', 'priority', ['hgf/hang', 'hgok/m']);
        const r = await ok('hang-fallback');
        expect(r.headers.get('x-omniroute-combo-target')).toBe('hgok/m');
        expect(r.ms).toBeGreaterThanOrEqual(450);
        expect(r.ms).toBeLessThan(2500);
      });

      it('a hang is bounded by timeouts.totalMs: 504 REQUEST_TIMEOUT', async () => {
        await node('hgt');
        await settings({ timeouts: { firstTokenMs: 1500, totalMs: 1500 } });
        try {
          const abortedBefore = mock.aborted;
          const r = await chat('hgt/hang');
          expect(r.status).toBe(504);
          expect(r.json?.error?.code).toBe('request_timeout');
          expect(r.ms).toBeGreaterThanOrEqual(1400);
          expect(r.ms).toBeLessThan(3000);
          // the attempt the deadline cut short is in the log
          expect(r.json?.error?.attempts).toEqual([
            expect.objectContaining({ target: 'hgt/hang', outcome: 'failed', status: 504 }),
          ]);
          await mock.waitFor((m) => m.aborted > abortedBefore); // the upstream call was cut
        } finally {
          await settings({ timeouts: { firstTokenMs: 500, totalMs: TOTAL_MS } });
        }
      });

      it("a combo's timeoutMs bounds all its fallbacks", async () => {
        await node('hga');
        await node('hgb');
        await node('hgc');
        await combo('hang-all', 'priority', ['hga/hang', 'hgb/hang', 'hgc/hang'], {
          timeoutMs: 2000, // while the global total is 10 s
        });
        const r = await chat('hang-all');
        expect(r.status).toBe(504);
        expect(r.json?.error?.code).toBe('request_timeout');
        expect(r.json?.error?.message).toMatch(/2000 ms/);
        expect(r.ms).toBeGreaterThanOrEqual(1900);
        expect(r.ms).toBeLessThan(3500);
        const attempts = r.json?.error?.attempts ?? [];
        expect(attempts.length).toBeGreaterThanOrEqual(2);
        expect(attempts[0]).toMatchObject({ target: 'hga/hang', reason: 'first_token_timeout' });
        // the last one is the attempt the deadline cut short
        expect(attempts[attempts.length - 1]).toMatchObject({ outcome: 'failed', status: 504 });
      });
    });

    describe('/api/rate-limits and /api/models/availability', () => {
      it('GET /api/rate-limits lists every connection with limits, usage, cooldown; plus breakers', async () => {
        const n = await node('rlshape');
        const rl = await rateLimits();
        expect(rl.store).toEqual(expect.any(String));
        expect(Array.isArray(rl.lockouts)).toBe(true);
        expect(Array.isArray(rl.breakers)).toBe(true);
        expect(rl.connections.find((c) => c.connectionId === n.conns.a)).toEqual({
          connectionId: n.conns.a,
          provider: n.id,
          name: 'a',
          rateLimitProtection: null,
          enabled: false,
          active: true,
          limits: null,
          usage: null,
          cooldown: null,
          modelLockouts: [],
        });
      });

      it('POST toggles a connection limit: with rpm 2 the 3rd request in the minute gets 429 + Retry-After', async () => {
        const n = await node('rl');
        const id = n.conns.a;
        const r = await call(gw, 'POST', '/api/rate-limits', {
          body: { connectionId: id, enabled: true, rpm: 2 },
        });
        expect(r.status).toBe(200);
        expect(r.json).toEqual({
          success: true,
          connectionId: id,
          enabled: true,
          rpm: 2,
          tpm: null,
        });
        await awayFromMinuteEdge();
        await ok('rl/m');
        await ok('rl/m');
        const third = await chat('rl/m');
        expect(third.status).toBe(429);
        expect(Number(third.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
        expect(third.json?.error?.code).toBe('all_accounts_cooling_down');
        expect(third.json?.error?.attempts).toEqual([
          expect.objectContaining({
            connectionId: id,
            outcome: 'skipped',
            reason: 'rate-limited',
            message: '2 requests/min',
          }),
        ]);
        expect(hits(mock, n.keys.a)).toBe(2);

        const row = (await rateLimits()).connections.find((c) => c.connectionId === id)!;
        expect(row).toMatchObject({ enabled: true, limits: { rpm: 2, tpm: 0 } });
        expect(row.usage?.requests).toBe(2);
        expect((await availability('rl/m')).accounts[0]).toMatchObject({
          usable: false,
          reason: 'rate-limited',
          availableAt: expect.any(String),
        });

        const off = await call(gw, 'POST', '/api/rate-limits', {
          body: { connectionId: id, enabled: false },
        });
        expect(off.json).toMatchObject({ enabled: false, rpm: 2 });
        await ok('rl/m');
        expect(
          (await call(gw, 'POST', '/api/rate-limits', { body: { connectionId: id, rpm: 0 } }))
            .status,
        ).toBe(400);
        expect(
          (
            await call(gw, 'POST', '/api/rate-limits', {
              body: { connectionId: '00000000-0000-4000-8000-000000000000', enabled: true },
            })
          ).status,
        ).toBe(404);
      });

      it('GET /api/models/availability shows a cooling account with its reason and availableAt', async () => {
        const failing = await spawn({ fault: 'fail-403' });
        const n = await node('av', [{ name: 'a', mock: failing }, 'b']);
        await combo('av-combo', 'priority', ['av/m']);
        await ok('av/m');
        const r = await call(gw, 'GET', '/api/models/availability?model=av/m');
        expect(r.status).toBe(200);
        const body = r.json as { models: ModelAvailability[]; checkedAt: string };
        expect(Date.parse(body.checkedAt)).not.toBeNaN();
        expect(body.models).toEqual([
          expect.objectContaining({
            model: 'av/m',
            kind: 'model',
            provider: 'av',
            available: true,
            breaker: expect.objectContaining({ state: 'closed' }),
          }),
        ]);
        const [a, b] = body.models[0].accounts;
        expect(a).toMatchObject({
          connectionId: n.conns.a,
          usable: false,
          reason: 'cooldown', // a 403 cools the whole account (a 5xx only the model)
          detail: 'forbidden (403)',
          retryAfterMs: expect.any(Number),
        });
        const at = Date.parse(a.availableAt!);
        expect(at).toBeGreaterThan(Date.now());
        expect(at).toBeLessThanOrEqual(Date.now() + 3000); // base cooldown 3 s
        expect(b).toMatchObject({ connectionId: n.conns.b, usable: true });
        // the whole account: any other model of it is unavailable too
        expect((await availability('av/other')).accounts[0]).toMatchObject({
          connectionId: n.conns.a,
          usable: false,
          reason: 'cooldown',
        });
      });

      it('POST {models} checks several models and combos; POST {action:"reset"} clears the locks', async () => {
        const r = await admin<{ models: ModelAvailability[] }>(
          gw,
          'POST',
          '/api/models/availability',
          { models: ['av/m', 'av-combo', 'nope/x'] },
        );
        expect(r.models.map((m) => [m.model, m.kind, m.available])).toEqual([
          ['av/m', 'model', true],
          ['av-combo', 'combo', true],
          ['nope/x', 'model', false],
        ]);
        expect(r.models[1].targets).toEqual(['av/m']);
        expect(r.models[2].reason).toMatch(/nope/);

        const reset = await admin<{ ok: boolean; cleared: number }>(
          gw,
          'POST',
          '/api/models/availability',
          { action: 'reset' },
        );
        expect(reset.ok).toBe(true);
        expect(reset.cleared).toBeGreaterThanOrEqual(1);
        expect((await availability('av/m')).accounts.every((a) => a.usable)).toBe(true);
        expect(
          (await call(gw, 'POST', '/api/models/availability', { body: { action: 'explode' } }))
            .status,
        ).toBe(400);
      });
    });

    describe('every target down: a clear 429/503 in the caller’s dialect, well within the bound', () => {
      const CASES = [
        ['down-rl', 429],
        ['down-un', 503],
      ] as const;

      beforeAll(async () => {
        for (const p of ['drl1', 'drl2', 'dun1', 'dun2', 'dun3']) {
          await node(p);
        }
        await combo('down-rl', 'priority', ['drl1/fail-429', 'drl2/fail-429']);
        // a 500, a reset connection (retried once) and a hang (cut at firstTokenMs)
        await combo('down-un', 'priority', ['dun1/fail-500', 'dun2/reset', 'dun3/hang']);
      });

      /** Runs the call, which must fail; returns the error and the elapsed time. */
      async function failing(fn: () => Promise<unknown>): Promise<{ err: unknown; ms: number }> {
        const started = Date.now();
        const err = await fn().then(
          () => new Error('the call succeeded'),
          (e: unknown) => e,
        );
        return { err, ms: Date.now() - started };
      }

      it('OpenAI SDK: APIError 429 / 503 with error.attempts', async () => {
        const client = new OpenAI({
          apiKey: gw.adminKey,
          baseURL: `${gw.url}/v1`,
          maxRetries: 0,
        });
        for (const [model, status] of CASES) {
          const { err, ms } = await failing(() =>
            client.chat.completions.create({ model, messages: MESSAGES }),
          );
          expect(err).toBeInstanceOf(OpenAI.APIError);
          const e = err as InstanceType<typeof OpenAI.APIError>;
          expect(e.status).toBe(status);
          const body = e.error as GatewayErrorBody;
          expect(body.code).toBe(
            status === 429 ? 'all_targets_rate_limited' : 'all_targets_unavailable',
          );
          expect(body.attempts?.length).toBeGreaterThanOrEqual(2);
          expect(ms).toBeLessThan(TOTAL_MS / 3);
          if (status === 429) {
            expect(Number(e.headers?.get('retry-after'))).toBeGreaterThanOrEqual(1);
          }
        }
      });

      it('Anthropic SDK: APIError 429 / 503 with error.error.attempts', async () => {
        const client = new Anthropic({ apiKey: gw.adminKey, baseURL: gw.url, maxRetries: 0 });
        for (const [model, status] of CASES) {
          const { err, ms } = await failing(() =>
            client.messages.create({ model, max_tokens: 16, messages: MESSAGES }),
          );
          expect(err).toBeInstanceOf(Anthropic.APIError);
          const e = err as InstanceType<typeof Anthropic.APIError>;
          expect(e.status).toBe(status);
          const body = e.error as {
            type: string;
            error: { type: string; attempts?: AttemptNote[] };
          };
          expect(body.type).toBe('error');
          expect(body.error.type).toBe(status === 429 ? 'rate_limit_error' : 'overloaded_error');
          expect(body.error.attempts?.length).toBeGreaterThanOrEqual(2);
          expect(ms).toBeLessThan(TOTAL_MS / 3);
        }
      });

      it('Google GenAI SDK: ApiError 429 / 503 with error.attempts', async () => {
        const client = new GoogleGenAI({ apiKey: gw.adminKey, httpOptions: { baseUrl: gw.url } });
        for (const [model, status] of CASES) {
          const { err, ms } = await failing(() =>
            client.models.generateContent({ model, contents: 'Say hello' }),
          );
          expect(err).toBeInstanceOf(ApiError);
          const e = err as ApiError;
          expect(e.status).toBe(status);
          const body = JSON.parse(e.message) as {
            error: { code: number; status: string; attempts?: AttemptNote[] };
          };
          expect(body.error.code).toBe(status);
          expect(body.error.status).toBe(status === 429 ? 'RESOURCE_EXHAUSTED' : 'UNAVAILABLE');
          expect(body.error.attempts?.length).toBeGreaterThanOrEqual(2);
          expect(ms).toBeLessThan(TOTAL_MS / 3);
        }
      });

      it('Ollama SDK: ResponseError 429 / 503; the body carries top-level attempts', async () => {
        const bodies: unknown[] = [];
        const client = new Ollama({
          host: gw.url,
          headers: { authorization: `Bearer ${gw.adminKey}` },
          // the SDK keeps only the message: read the body it got on the side
          fetch: async (...args: Parameters<typeof fetch>) => {
            const res = await fetch(...args);
            if (!res.ok) {
              bodies.push(await res.clone().json());
            }
            return res;
          },
        });
        for (const [model, status] of CASES) {
          const { err, ms } = await failing(() =>
            client.chat({ model, messages: MESSAGES, stream: false }),
          );
          expect(err).toMatchObject({ name: 'ResponseError', status_code: status });
          expect(ms).toBeLessThan(TOTAL_MS / 3);
          const body = bodies.pop() as { error: string; attempts?: AttemptNote[] };
          expect(typeof body.error).toBe('string');
          expect((err as Error).message).toBe(body.error);
          expect(body.attempts?.length).toBeGreaterThanOrEqual(2);
        }
      });
    });
  });
});
