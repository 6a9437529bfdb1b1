import { MemoryKvStore } from '@/common/kv/memory-kv.store';
import { type CooldownPlan, PERMANENT_COOLDOWN_MS } from './classify';
import { Cooldowns } from './cooldowns.service';
import type { CooldownProfile } from './resilience.settings';

const T0 = 1_700_000_000_000;
const PROFILE: CooldownProfile = {
  baseCooldownMs: 1000,
  maxBackoffSteps: 3,
  useUpstreamRetryHints: true,
};
const BACKOFF: CooldownPlan = { scope: 'connection', mode: 'backoff' };
const fixed = (ms: number, scope: 'connection' | 'model' = 'connection'): CooldownPlan => ({
  scope,
  mode: 'fixed',
  ms,
});
const hint = (ms: number): CooldownPlan => ({ scope: 'connection', mode: 'hint', ms });

/** Lets the memory store's setImmediate deliveries (and fire-and-forget writes) run. */
async function settle(cond: () => boolean | Promise<boolean>, ticks = 200): Promise<void> {
  for (let i = 0; i < ticks; i++) {
    if (await cond()) {
      return;
    }
    await new Promise((r) => setImmediate(r));
  }
  throw new Error('condition not reached');
}

describe(Cooldowns.name, () => {
  let kv: MemoryKvStore;
  let cooldowns: Cooldowns;
  let now: number;
  const extra: Cooldowns[] = [];

  async function replica(): Promise<Cooldowns> {
    const c = new Cooldowns(kv);
    await c.onModuleInit();
    extra.push(c);
    return c;
  }

  beforeEach(async () => {
    now = T0;
    jest.spyOn(Date, 'now').mockImplementation(() => now);
    kv = new MemoryKvStore();
    cooldowns = new Cooldowns(kv);
    await cooldowns.onModuleInit();
  });

  afterEach(async () => {
    await cooldowns.onModuleDestroy();
    for (const c of extra.splice(0)) {
      await c.onModuleDestroy();
    }
    await kv.close();
    jest.restoreAllMocks();
  });

  it('blocks nothing before any failure', () => {
    expect(cooldowns.blocked('a', 'm', 0)).toBeUndefined();
    expect(cooldowns.list()).toEqual([]);
  });

  it('doubles the backoff on each failure up to maxBackoffSteps', async () => {
    const durations: number[] = [];
    const levels: number[] = [];
    for (let i = 0; i < 6; i++) {
      const rec = await cooldowns.fail('a', 'm', BACKOFF, 'server_error', 503, PROFILE);
      durations.push(rec.until - now);
      levels.push(rec.level);
      now = rec.until; // the cooldown has just run out
    }
    expect(durations).toEqual([1000, 2000, 4000, 8000, 8000, 8000]);
    expect(levels).toEqual([1, 2, 3, 3, 3, 3]);
  });

  it('blocks the whole connection during a connection cooldown', async () => {
    await cooldowns.fail('a', 'm1', BACKOFF, 'server_error', 503, PROFILE);
    expect(cooldowns.blocked('a', 'm1', 0)).toEqual({
      until: T0 + 1000,
      reason: 'server_error',
      status: 503,
      scope: 'connection',
      permanent: false,
    });
    expect(cooldowns.blocked('a', 'm2', 0)?.scope).toBe('connection');
    expect(cooldowns.blocked('b', 'm1', 0)).toBeUndefined();
    expect(cooldowns.blocked('a', 'm1', 0, T0 + 999)).toBeDefined();
    expect(cooldowns.blocked('a', 'm1', 0, T0 + 1000)).toBeUndefined();
  });

  it('uses an upstream hint as the duration and resets the backoff level', async () => {
    let rec = await cooldowns.fail('a', 'm', BACKOFF, 'server_error', 503, PROFILE);
    now = rec.until;
    rec = await cooldowns.fail('a', 'm', BACKOFF, 'server_error', 503, PROFILE);
    expect(rec.level).toBe(2);
    now = rec.until;

    rec = await cooldowns.fail('a', 'm', hint(7500), 'rate_limited', 429, PROFILE);
    expect(rec.until - now).toBe(7500);
    expect(rec.level).toBe(0);
    now = rec.until;

    rec = await cooldowns.fail('a', 'm', BACKOFF, 'server_error', 503, PROFILE);
    expect(rec.until - now).toBe(1000);
  });

  it('caps an upstream hint at 24 hours', async () => {
    const rec = await cooldowns.fail('a', 'm', hint(48 * 3600_000), 'rate_limited', 429, PROFILE);
    expect(rec.until - now).toBe(24 * 3600_000);
  });

  it('uses a fixed duration as given and keeps the backoff level', async () => {
    let rec = await cooldowns.fail('a', 'm', BACKOFF, 'server_error', 503, PROFILE);
    now = rec.until;
    rec = await cooldowns.fail('a', 'm', fixed(120_000), 'forbidden', 403, PROFILE);
    expect(rec.until - now).toBe(120_000);
    expect(rec.level).toBe(1);
    now = rec.until;
    rec = await cooldowns.fail('a', 'm', BACKOFF, 'server_error', 503, PROFILE);
    expect(rec.until - now).toBe(2000);
  });

  it('does not extend a cooldown that is still running', async () => {
    const first = await cooldowns.fail('a', 'm', BACKOFF, 'server_error', 503, PROFILE);
    now = T0 + 500;
    const second = await cooldowns.fail('a', 'm', fixed(60_000), 'rate_limited', 429, PROFILE);
    expect(second).toMatchObject({
      until: first.until,
      level: 1,
      reason: 'server_error',
      status: 503,
      at: T0,
    });
    expect(cooldowns.blocked('a', 'm', 0)?.until).toBe(T0 + 1000);
    // the level did not move either: the next one after expiry is 2 s
    now = first.until;
    const third = await cooldowns.fail('a', 'm', BACKOFF, 'server_error', 503, PROFILE);
    expect(third.until - now).toBe(2000);
  });

  it('locks only the failing model for a model-scope lockout', async () => {
    await cooldowns.fail('a', 'gpt-4o', fixed(120_000, 'model'), 'model_not_found', 404, PROFILE);
    expect(cooldowns.blocked('a', 'gpt-4o', 0)).toEqual({
      until: T0 + 120_000,
      reason: 'model_not_found',
      status: 404,
      scope: 'model',
      permanent: false,
    });
    expect(cooldowns.blocked('a', 'gpt-4o-mini', 0)).toBeUndefined();
    expect(cooldowns.blocked('b', 'gpt-4o', 0)).toBeUndefined();
  });

  it('reports whichever of connection cooldown and model lockout lasts longer', async () => {
    await cooldowns.fail('a', 'm', fixed(5000, 'model'), 'rate_limited', 429, PROFILE);
    await cooldowns.fail('a', 'm', BACKOFF, 'server_error', 503, PROFILE);
    expect(cooldowns.blocked('a', 'm', 0)).toMatchObject({ scope: 'model', until: T0 + 5000 });
    expect(cooldowns.blocked('a', 'other', 0)).toMatchObject({
      scope: 'connection',
      until: T0 + 1000,
    });
  });

  it('keeps a permanent lock until the connection is updated after it', async () => {
    const plan = fixed(PERMANENT_COOLDOWN_MS);
    await cooldowns.fail('a', 'm', plan, 'unauthorized', 401, PROFILE);
    expect(cooldowns.blocked('a', 'm', T0 - 1)).toMatchObject({ permanent: true });
    expect(cooldowns.blocked('a', 'm', T0)).toMatchObject({ permanent: true });
    expect(cooldowns.blocked('a', 'm', T0 + 1)).toBeUndefined();
  });

  it('ignores the update time for a temporary cooldown', async () => {
    await cooldowns.fail('a', 'm', BACKOFF, 'server_error', 503, PROFILE);
    expect(cooldowns.blocked('a', 'm', T0 + 10)).toBeDefined();
  });

  it('clears the connection cooldown, the model lockout and the backoff level on success', async () => {
    let rec = await cooldowns.fail('a', 'm', BACKOFF, 'server_error', 503, PROFILE);
    now = rec.until;
    await cooldowns.fail('a', 'm', BACKOFF, 'server_error', 503, PROFILE);
    await cooldowns.fail('a', 'm', fixed(60_000, 'model'), 'rate_limited', 429, PROFILE);
    await cooldowns.fail('a', 'other', fixed(60_000, 'model'), 'rate_limited', 429, PROFILE);

    cooldowns.succeed('a', 'm');
    expect(cooldowns.blocked('a', 'm', 0)).toBeUndefined();
    expect(cooldowns.blocked('a', 'other', 0)?.scope).toBe('model');
    await settle(async () => Object.keys(await kv.hgetall('cooldowns')).length === 1);

    rec = await cooldowns.fail('a', 'm', BACKOFF, 'server_error', 503, PROFILE);
    expect(rec.until - now).toBe(1000);
    expect(rec.level).toBe(1);
  });

  it('lists active cooldowns and lockouts with what is left of them', async () => {
    await cooldowns.fail('a', 'm', BACKOFF, 'server_error', 503, PROFILE);
    await cooldowns.fail('b', 'gpt-4o', fixed(10_000, 'model'), 'model_not_found', 404, PROFILE);
    await cooldowns.fail('c', 'm', fixed(PERMANENT_COOLDOWN_MS), 'banned', 403, PROFILE);
    now = T0 + 400;
    const list = cooldowns.list();
    expect(list).toHaveLength(3);
    expect(list).toEqual(
      expect.arrayContaining([
        {
          connectionId: 'a',
          model: null,
          until: T0 + 1000,
          level: 1,
          reason: 'server_error',
          status: 503,
          at: T0,
          permanent: false,
          remainingMs: 600,
        },
        expect.objectContaining({
          connectionId: 'b',
          model: 'gpt-4o',
          remainingMs: 9600,
          permanent: false,
        }),
        expect.objectContaining({ connectionId: 'c', model: null, permanent: true }),
      ]),
    );
    // expired records (kept for their backoff level) are left out
    expect(
      cooldowns
        .list(T0 + 1000)
        .map((v) => v.connectionId)
        .sort(),
    ).toEqual(['b', 'c']);
  });

  describe('clear', () => {
    beforeEach(async () => {
      await cooldowns.fail('a', 'm1', BACKOFF, 'server_error', 503, PROFILE);
      await cooldowns.fail('a', 'm1', fixed(60_000, 'model'), 'rate_limited', 429, PROFILE);
      await cooldowns.fail('a', 'm2', fixed(60_000, 'model'), 'rate_limited', 429, PROFILE);
      await cooldowns.fail('ab', 'm1', BACKOFF, 'server_error', 503, PROFILE);
      await cooldowns.fail('b', 'm1', BACKOFF, 'server_error', 503, PROFILE);
    });

    it("clears one connection's cooldown and all its lockouts", async () => {
      expect(await cooldowns.clear('a')).toBe(3);
      expect(cooldowns.blocked('a', 'm1', 0)).toBeUndefined();
      expect(cooldowns.blocked('a', 'm2', 0)).toBeUndefined();
      expect(cooldowns.blocked('ab', 'm1', 0)).toBeDefined();
      expect(cooldowns.blocked('b', 'm1', 0)).toBeDefined();
      expect(Object.keys(await kv.hgetall('cooldowns')).sort()).toEqual(['ab', 'b']);
    });

    it('clears one (connection, model) lockout only', async () => {
      expect(await cooldowns.clear('a', 'm2')).toBe(1);
      expect(cooldowns.blocked('a', 'm2', 0)?.scope).toBe('connection');
      expect(cooldowns.blocked('a', 'm1', 0)?.scope).toBe('model');
      expect(Object.keys(await kv.hgetall('cooldowns')).sort()).toEqual(
        ['a', 'a|m1', 'ab', 'b'].sort(),
      );
    });

    it('clears everything and counts only the active ones', async () => {
      now = T0 + 1000; // the 1 s backoffs have run out, the 60 s lockouts have not
      expect(await cooldowns.clear()).toBe(2);
      expect(cooldowns.list(T0)).toEqual([]);
      expect(await kv.hgetall('cooldowns')).toEqual({});
      // the backoff levels went too
      const rec = await cooldowns.fail('a', 'm1', BACKOFF, 'server_error', 503, PROFILE);
      expect(rec.level).toBe(1);
    });

    it('returns 0 when there is nothing to clear', async () => {
      expect(await cooldowns.clear('zzz')).toBe(0);
      expect(await cooldowns.clear('a', 'zzz')).toBe(0);
    });

    it('tells the other replicas', async () => {
      const other = await replica();
      expect(other.blocked('a', 'm1', 0)).toBeDefined();
      await cooldowns.clear('a');
      await settle(() => other.blocked('a', 'm1', 0) === undefined);
      expect(other.blocked('b', 'm1', 0)).toBeDefined();
    });
  });

  describe('across replicas', () => {
    it('delivers a cooldown set on one replica to another one on the same store', async () => {
      const other = await replica();
      await cooldowns.fail('a', 'm', fixed(30_000), 'server_error', 502, PROFILE);
      await settle(() => other.blocked('a', 'm', 0) !== undefined);
      expect(other.blocked('a', 'm', 0)).toEqual({
        until: T0 + 30_000,
        reason: 'server_error',
        status: 502,
        scope: 'connection',
        permanent: false,
      });
    });

    it('delivers a success to the other replicas', async () => {
      const other = await replica();
      await cooldowns.fail('a', 'm', fixed(30_000), 'server_error', 502, PROFILE);
      await settle(() => other.blocked('a', 'm', 0) !== undefined);
      cooldowns.succeed('a', 'm');
      await settle(() => other.blocked('a', 'm', 0) === undefined);
    });

    it('loads the running cooldowns when a replica starts', async () => {
      await cooldowns.fail('a', 'm', fixed(30_000), 'server_error', 502, PROFILE);
      const late = await replica();
      expect(late.blocked('a', 'm', 0)?.until).toBe(T0 + 30_000);
    });

    it('shares the backoff level: a failure elsewhere continues the sequence', async () => {
      const other = await replica();
      const rec = await cooldowns.fail('a', 'm', BACKOFF, 'server_error', 503, PROFILE);
      now = rec.until;
      const next = await other.fail('a', 'm', BACKOFF, 'server_error', 503, PROFILE);
      expect(next.until - now).toBe(2000);
    });
  });
});
