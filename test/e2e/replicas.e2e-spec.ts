import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createTestDatabase, deleteRedisPrefix, FILE_TOKEN, REDIS_URL, runId } from '../support/db';
import { admin, call, type CallResult, type Gateway } from '../support/gateway-client';
import { startMockUpstream, type MockUpstream } from '../support/mock-upstream';
import { MAIN, spawnGateway, type GatewayProcess } from '../support/spawn';

/**
 * Three gateway processes on one Postgres database and one Redis prefix: what the resilience
 * layer shares through Redis (RPM counters, cooldowns, breakers, the round-robin cursor) makes
 * them behave as one gateway.
 */

const KEY = 'sk-replicas-admin-0123456789abcdefghij';
const SHARED_ENCRYPTION_KEY = randomBytes(32).toString('hex');
const SHARED_JWT_SECRET = randomBytes(32).toString('hex');
const MESSAGES = [{ role: 'user', content: 'hi' }];

interface OpenAiErrorBody {
  error: {
    message: string;
    code: string | null;
    attempts?: {
      target: string;
      connectionId?: string;
      outcome: string;
      reason: string;
      status?: number;
    }[];
  };
}

interface LimitsView {
  connections: {
    connectionId: string;
    enabled: boolean;
    limits: { rpm: number; tpm: number } | null;
    usage: { requests: number } | null;
    cooldown: unknown;
    modelLockouts: unknown[];
  }[];
  breakers: { provider: string; state: string; failures: number; retryAfterMs: number }[];
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * Polls `check` (every 50 ms) until it returns true; any other value describes what is still
 * missing, and the last one is in the error after `timeoutMs`.
 */
async function waitUntil(
  what: string,
  check: () => Promise<true | string>,
  timeoutMs = 10_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const r = await check();
    if (r === true) {
      return;
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for: ${what} (last: ${r})`);
    }
    await sleep(50);
  }
}

/** Polls until `ok` holds for what `read` returns on each of `gws` (last states in the error). */
function waitOnEach<T>(
  what: string,
  gws: Gateway[],
  read: (gw: Gateway) => Promise<T>,
  ok: (state: T) => boolean,
): Promise<void> {
  return waitUntil(what, async () => {
    const states = await Promise.all(gws.map(read));
    return states.every(ok) ? true : JSON.stringify(states);
  });
}

function chat(gw: Gateway, model: string): Promise<CallResult> {
  return call(gw, 'POST', '/v1/chat/completions', {
    body: { model, messages: MESSAGES, stream: false },
  });
}

function contentOf(r: CallResult): string {
  return (r.json as { choices: { message: { content: string } }[] }).choices[0].message.content;
}

function limitsOf(gw: Gateway): Promise<LimitsView> {
  return admin<LimitsView>(gw, 'GET', '/api/rate-limits');
}

/** A provider node with one connection whose default model is `model` (listed in /v1/models). */
async function addNode(
  gw: Gateway,
  prefix: string,
  baseUrl: string,
): Promise<{ nodeId: string; connectionId: string }> {
  const { node } = await admin<{ node: { id: string } }>(gw, 'POST', '/api/provider-nodes', {
    name: prefix,
    prefix,
    baseUrl,
  });
  const { connection } = await admin<{ connection: { id: string } }>(gw, 'POST', '/api/providers', {
    provider: node.id,
    name: `${prefix}-a`,
    apiKey: 'sk-up',
    defaultModel: 'model',
  });
  return { nodeId: node.id, connectionId: connection.id };
}

describe('three replicas on one database and one Redis prefix act as one gateway', () => {
  const prefix = `omni-t-${runId()}-replicas-${FILE_TOKEN}:`;
  const dirs: string[] = [];
  const mocks: MockUpstream[] = [];
  let replicas: GatewayProcess[] = [];
  let gws: Gateway[] = [];

  const mock = async (opts?: Parameters<typeof startMockUpstream>[0]): Promise<MockUpstream> => {
    const m = await startMockUpstream(opts);
    mocks.push(m);
    return m;
  };

  /** Every replica routes these models (its routing table / combos snapshot caught up). */
  const waitForModels = (ids: string[]): Promise<void> =>
    waitOnEach(
      `every replica lists ${ids.join(', ')} in /v1/models`,
      gws,
      async (gw) => {
        const { data } = await admin<{ data: { id: string }[] }>(gw, 'GET', '/v1/models');
        return ids.filter((id) => !data.some((m) => m.id === id)); // the missing ones
      },
      (missing) => missing.length === 0,
    );

  beforeAll(async () => {
    expect(existsSync(MAIN)).toBe(true); // `npm run build` first
    const db = await createTestDatabase();
    await deleteRedisPrefix(prefix);
    const started = await Promise.allSettled(
      [1, 2, 3].map(() => {
        const dir = mkdtempSync(join(tmpdir(), 'omni-replica-'));
        dirs.push(dir);
        return spawnGateway(
          {
            DATABASE_URL: db.url,
            REDIS_URL,
            REDIS_KEY_PREFIX: prefix,
            INITIAL_ADMIN_KEY: KEY,
            ALLOW_PRIVATE_UPSTREAMS: 'true',
            // Replicas must share these (README): a key generated per DATA_DIR could not decrypt
            // the provider secrets another replica stored.
            ENCRYPTION_KEY: SHARED_ENCRYPTION_KEY,
            JWT_SECRET: SHARED_JWT_SECRET,
            DATA_DIR: dir,
          },
          120_000,
        );
      }),
    );
    replicas = started
      .filter((s): s is PromiseFulfilledResult<GatewayProcess> => s.status === 'fulfilled')
      .map((s) => s.value);
    const failed = started.find((s): s is PromiseRejectedResult => s.status === 'rejected');
    if (failed) {
      throw failed.reason;
    }
    gws = replicas.map((r) => ({ url: r.url, adminKey: KEY }));
  }, 180_000);

  afterAll(async () => {
    const codes = await Promise.all(replicas.map((r) => r.stop()));
    await Promise.all(mocks.map((m) => m.close()));
    await deleteRedisPrefix(prefix);
    for (const d of dirs) {
      rmSync(d, { recursive: true, force: true });
    }
    expect(codes.every((c) => c === 0)).toBe(true);
  }, 60_000);

  it('shares a key’s budget and requests-per-minute: 50 concurrent requests over three replicas never overspend', async () => {
    const up = await mock();
    const [r1] = gws;
    const { nodeId } = await addNode(r1, 'bud', up.baseUrl);
    await waitForModels(['bud/model']);
    // $1,000 per 1M tokens: one mock answer costs a few thousandths of a dollar
    await admin(r1, 'PATCH', '/api/pricing', {
      [nodeId]: { model: { input: 1000, output: 1000 } },
    });
    const budgetKey = (
      await admin<{ key: string }>(r1, 'POST', '/api/keys', {
        name: 'replica-budget',
        budget: { dailyLimitUsd: 0.05 },
      })
    ).key;
    const rpmKey = (
      await admin<{ key: string }>(r1, 'POST', '/api/keys', {
        name: 'replica-rpm',
        maxRequestsPerMinute: 5,
      })
    ).key;
    // every replica knows the price before the budget is used
    await waitOnEach(
      'every replica prices bud/model',
      gws,
      async (gw) => {
        const t = await admin<Record<string, Record<string, { input: number }>>>(
          gw,
          'GET',
          '/api/pricing',
        );
        return t[nodeId]?.model?.input ?? 0;
      },
      (input) => input === 1000,
    );
    const ask = (gw: Gateway, key: string): Promise<CallResult> =>
      call(gw, 'POST', '/v1/chat/completions', {
        key,
        body: { model: 'bud/model', messages: MESSAGES, stream: false, max_tokens: 8 },
      });
    const before = up.stats().chatCompletions;
    const answers = await Promise.all(
      Array.from({ length: 50 }, (_, i) => ask(gws[i % gws.length], budgetKey)),
    );
    const ok = answers.filter((r) => r.status === 200);
    expect(ok.length).toBeGreaterThan(0);
    expect(answers.filter((r) => r.status === 429).length).toBe(50 - ok.length);
    const spent = ok
      .map((r) => Number(r.headers.get('x-omniroute-response-cost')))
      .reduce((a, b) => a + b, 0);
    expect(spent).toBeLessThanOrEqual(0.05);
    expect(up.stats().chatCompletions - before).toBe(ok.length);

    const rpm: number[] = [];
    for (let i = 0; i < 12; i++) {
      rpm.push((await ask(gws[i % gws.length], rpmKey)).status);
    }
    expect(rpm.filter((s) => s === 200)).toHaveLength(5);
    expect(rpm.filter((s) => s === 429)).toHaveLength(7);
  });

  it('counts a provider RPM limit once for all replicas (not multiplied by the replica count)', async () => {
    const up = await mock();
    const [r1] = gws;
    const { connectionId } = await addNode(r1, 'rpm', up.baseUrl);
    await admin(r1, 'POST', '/api/rate-limits', { connectionId, enabled: true, rpm: 6 });
    await waitOnEach(
      'every replica applies rpm 6 to the connection',
      gws,
      async (gw) => (await limitsOf(gw)).connections.find((x) => x.connectionId === connectionId),
      (c) => c?.enabled === true && c.limits?.rpm === 6,
    );
    // The window is per minute (sliding over two fixed ones): keep the burst inside one minute.
    if (Date.now() % 60_000 > 55_000) {
      await sleep(60_000 - (Date.now() % 60_000) + 50);
    }

    const results = await Promise.all(
      Array.from({ length: 18 }, (_, i) => chat(gws[i % 3], 'rpm/model')),
    );

    const ok = results.filter((r) => r.status === 200);
    const limited = results.filter((r) => r.status === 429);
    expect(results.map((r) => r.status).sort()).toEqual([
      ...Array<number>(6).fill(200),
      ...Array<number>(12).fill(429),
    ]);
    expect(up.stats().chatCompletions).toBe(6);
    for (const r of ok) {
      expect(contentOf(r)).toBe(up.reply);
    }
    for (const r of limited) {
      expect(Number(r.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
      const body = r.json as OpenAiErrorBody;
      expect(typeof body.error.message).toBe('string');
      expect(body.error.attempts).toEqual([
        expect.objectContaining({
          connectionId,
          outcome: 'skipped',
          reason: 'rate-limited',
          status: 429,
        }),
      ]);
    }
    // Every replica reads the same shared window.
    for (const gw of gws) {
      const c = (await limitsOf(gw)).connections.find((x) => x.connectionId === connectionId);
      expect(c?.usage?.requests).toBe(6);
    }
  });

  it('shares a cooldown: after a 429 on account A via replica 1, replicas 2 and 3 go straight to account B', async () => {
    const a = await mock({ fault: 'fail-429', retryAfterSec: 5 });
    const b = await mock({ reply: 'from B' });
    const [r1, r2, r3] = gws;
    const acct = async (name: string, baseUrl: string, priority: number): Promise<string> =>
      (
        await admin<{ connection: { id: string } }>(r1, 'POST', '/api/providers', {
          provider: 'openai',
          name,
          apiKey: `sk-${name}`,
          priority,
          defaultModel: `${name}-model`,
          providerSpecificData: { baseUrl },
        })
      ).connection.id;
    const idA = await acct('cd-a', a.baseUrl, 1);
    const idB = await acct('cd-b', b.baseUrl, 2);
    await waitForModels(['openai/cd-a-model', 'openai/cd-b-model']);

    const first = await chat(r1, 'openai/gpt-4o-mini');
    expect(first.status).toBe(200);
    expect(contentOf(first)).toBe('from B');
    expect(a.stats().chatCompletions).toBe(1);
    await waitOnEach(
      'replicas 2 and 3 see account A cooling down',
      [r2, r3],
      async (gw) => (await limitsOf(gw)).connections.find((x) => x.connectionId === idA),
      (c) => c !== undefined && (c.cooldown !== null || c.modelLockouts.length > 0),
    );

    for (const gw of [r2, r3]) {
      const r = await chat(gw, 'openai/gpt-4o-mini');
      expect(r.status).toBe(200);
      expect(contentOf(r)).toBe('from B');
      expect(r.headers.get('x-omniroute-connection')).toBe(idB);
      expect(r.headers.get('x-omniroute-attempts')).toBe('1');
    }
    expect(a.stats().chatCompletions).toBe(1);
    expect(b.stats().chatCompletions).toBe(3);
  });

  it('shares a circuit breaker: one failure per replica opens it everywhere, one probe closes it everywhere', async () => {
    const [r1, r2, r3] = gws;
    // No account cooldown after a 500, so each replica's request really reaches the upstream.
    await admin(r1, 'PUT', '/api/resilience', {
      providerBreaker: { apikey: { failureThreshold: 3, resetTimeoutMs: 2000 } },
      connectionCooldown: { apikey: { baseCooldownMs: 0 } },
    });
    await waitOnEach(
      'every replica applies the breaker settings',
      gws,
      async (gw) => {
        const s = await admin<{
          providerBreaker: { apikey: { failureThreshold: number; resetTimeoutMs: number } };
          connectionCooldown: { apikey: { baseCooldownMs: number } };
        }>(gw, 'GET', '/api/resilience');
        return { breaker: s.providerBreaker.apikey, cooldown: s.connectionCooldown.apikey };
      },
      (s) =>
        s.breaker.failureThreshold === 3 &&
        s.breaker.resetTimeoutMs === 2000 &&
        s.cooldown.baseCooldownMs === 0,
    );
    const up = await mock({ fault: 'fail-500' });
    const { nodeId } = await addNode(r1, 'brk', up.baseUrl);
    await waitForModels(['brk/model']);
    const breakerOn = async (gw: Gateway): Promise<LimitsView['breakers'][number] | undefined> =>
      (await limitsOf(gw)).breakers.find((b) => b.provider === nodeId);

    for (const [i, gw] of gws.entries()) {
      const r = await chat(gw, 'brk/model');
      expect(r.status).toBe(500);
      expect(up.stats().chatCompletions).toBe(i + 1);
    }
    const openedBy = Date.now();
    await waitOnEach(
      'every replica sees the breaker open',
      gws,
      breakerOn,
      (b) => b?.state === 'open',
    );

    for (const gw of gws) {
      const r = await chat(gw, 'brk/model');
      expect(r.status).toBe(503);
      expect((r.json as OpenAiErrorBody).error.code).toBe('provider_circuit_open');
      expect(r.headers.get('x-omniroute-provider-breaker')).toBe('open');
      expect(Number(r.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    }
    expect(up.stats().chatCompletions).toBe(3); // the open breaker kept them off the upstream

    await sleep(Math.max(0, openedBy + 2100 - Date.now()));
    up.setFault(null);
    const probe = await chat(r3, 'brk/model');
    expect(probe.status).toBe(200);
    expect(up.stats().chatCompletions).toBe(4);
    await waitOnEach(
      'every replica sees the breaker closed (or gone) after the probe',
      [r1, r2, r3],
      breakerOn,
      (b) => b === undefined || b.state === 'closed',
    );
    const after = await chat(r1, 'brk/model');
    expect(after.status).toBe(200);
    expect(up.stats().chatCompletions).toBe(5);
  });

  it('shares a combo round-robin cursor: targets cycle across replicas with no repeats', async () => {
    const ups = [await mock(), await mock(), await mock()];
    const [r1] = gws;
    const targets = ['rr1/model', 'rr2/model', 'rr3/model'];
    for (const [i, up] of ups.entries()) {
      await addNode(r1, `rr${i + 1}`, up.baseUrl);
    }
    await admin(r1, 'POST', '/api/combos', {
      name: 'rr-shared',
      strategy: 'round-robin',
      models: targets,
    });
    await waitForModels(['rr-shared', ...targets]);

    const seen: string[] = [];
    for (let i = 0; i < 6; i++) {
      const r = await chat(gws[i % 3], 'rr-shared');
      expect(r.status).toBe(200);
      seen.push(r.headers.get('x-omniroute-combo-target') ?? '');
    }
    expect(new Set(seen.slice(0, 3))).toEqual(new Set(targets));
    expect(seen.slice(3)).toEqual(seen.slice(0, 3));
    expect(ups.map((u) => u.stats().chatCompletions)).toEqual([2, 2, 2]);
  });
});
