import { Logger } from '@nestjs/common';
import type { KvStore } from '@/common/kv/kv-store';
import type { SettingsService } from '@/settings/settings.service';
import { DEFAULT_PRICING } from './default-pricing';
import { PricingService } from './pricing.service';

/** A strict fake: any method the test did not provide throws. */
function strict<T extends object>(impl: Partial<T>, name: string): T {
  return new Proxy(impl as T, {
    get(target, prop) {
      if (prop in target || prop === 'then') {
        return Reflect.get(target, prop) as unknown;
      }
      throw new Error(`${name}.${String(prop)} was not expected`);
    },
  });
}

function setup(stored: unknown = {}) {
  let value = stored;
  const handlers: ((m: string) => void)[] = [];
  const settings = {
    get: jest.fn((_key: string, fallback: unknown) => Promise.resolve(value ?? fallback)),
    set: jest.fn((_key: string, v: unknown) => {
      value = v;
      return Promise.resolve();
    }),
  };
  const kv = {
    subscribe: jest.fn((_channel: string, h: (m: string) => void) => {
      handlers.push(h);
      return Promise.resolve(() => Promise.resolve());
    }),
  };
  const service = new PricingService(
    strict<SettingsService>(settings as unknown as Partial<SettingsService>, 'settings'),
    strict<KvStore>(kv, 'kv'),
  );
  return {
    service,
    settings,
    kv,
    setStored: (v: unknown) => (value = v),
    emit: (m: string) => handlers.forEach((h) => h(m)),
  };
}

const tick = () => new Promise((r) => setImmediate(r));

describe(PricingService.name, () => {
  let ctx: ReturnType<typeof setup>;
  afterEach(async () => {
    await ctx?.service.onModuleDestroy();
  });

  it('answers from the defaults before and after an empty load', async () => {
    ctx = setup();
    expect(ctx.service.priceOf('openai', 'gpt-4o')).toEqual(DEFAULT_PRICING.openai['gpt-4o']);
    await ctx.service.onModuleInit();
    expect(ctx.kv.subscribe).toHaveBeenCalledWith('settings:changed', expect.any(Function));
    expect(ctx.settings.get).toHaveBeenCalledWith('pricing', {});
    expect(ctx.service.table()).toEqual(DEFAULT_PRICING);
  });

  it('loads the stored overrides at start', async () => {
    ctx = setup({ openai: { 'gpt-4o': { input: 1 } }, node: { m: { input: 0.5, output: 1 } } });
    await ctx.service.onModuleInit();
    expect(ctx.service.priceOf('openai', 'gpt-4o')).toEqual({ input: 1, output: 10, cached: 1.25 });
    expect(ctx.service.priceOf('node', 'prefix/m')).toEqual({ input: 0.5, output: 1 });
    expect(ctx.service.sources().openai).toMatchObject({ 'gpt-4o': 'user', o3: 'default' });
  });

  it('reloads when another replica announces a pricing change, not for other keys', async () => {
    ctx = setup();
    await ctx.service.onModuleInit();
    ctx.settings.get.mockClear();
    ctx.setStored({ groq: { 'llama-3.1-8b-instant': { output: 1 } } });

    ctx.emit('requireLogin');
    await tick();
    expect(ctx.settings.get).not.toHaveBeenCalled();

    ctx.emit('pricing');
    await tick();
    await ctx.service.reload();
    expect(ctx.service.priceOf('groq', 'llama-3.1-8b-instant')?.output).toBe(1);
  });

  it('keeps the last snapshot when a reload fails', async () => {
    ctx = setup({ openai: { 'gpt-4o': { input: 1 } } });
    await ctx.service.onModuleInit();
    const warn = jest.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
    ctx.settings.get.mockRejectedValueOnce(new Error('db down'));
    await ctx.service.reload();
    expect(warn).toHaveBeenCalledWith(expect.stringContaining('db down'));
    warn.mockRestore();
    expect(ctx.service.priceOf('openai', 'gpt-4o')?.input).toBe(1);
  });

  it('update() validates, stores the merged overrides and answers the merged table', async () => {
    ctx = setup({ openai: { 'gpt-4o': { input: 1 } } });
    await ctx.service.onModuleInit();
    const table = await ctx.service.update({ openai: { 'gpt-4o': { output: 9 } } });
    expect(ctx.settings.set).toHaveBeenCalledWith('pricing', {
      openai: { 'gpt-4o': { input: 1, output: 9 } },
    });
    expect(table.openai['gpt-4o']).toEqual({ input: 1, output: 9, cached: 1.25 });
    expect(ctx.service.priceOf('openai', 'gpt-4o')?.output).toBe(9);

    await expect(ctx.service.update({ openai: { 'gpt-4o': { input: -1 } } })).rejects.toMatchObject(
      { code: 'VALIDATION_FAILED' },
    );
    expect(ctx.settings.set).toHaveBeenCalledTimes(1);
  });

  it('serialises concurrent updates (no lost write)', async () => {
    ctx = setup();
    await ctx.service.onModuleInit();
    await Promise.all([
      ctx.service.update({ a: { m1: { input: 1, output: 1 } } }),
      ctx.service.update({ a: { m2: { input: 2, output: 2 } } }),
    ]);
    expect(ctx.service.table().a).toEqual({
      m1: { input: 1, output: 1 },
      m2: { input: 2, output: 2 },
    });
  });

  it('reset() drops one model, one provider or all overrides', async () => {
    ctx = setup({
      openai: { 'gpt-4o': { input: 1 }, o3: { input: 1 } },
      node: { m: { input: 1, output: 1 } },
    });
    await ctx.service.onModuleInit();
    await ctx.service.reset('openai', 'gpt-4o');
    expect(ctx.service.priceOf('openai', 'gpt-4o')?.input).toBe(2.5);
    expect(ctx.service.priceOf('openai', 'o3')?.input).toBe(1);
    await ctx.service.reset('openai');
    expect(ctx.service.priceOf('openai', 'o3')?.input).toBe(2);
    expect(ctx.service.priceOf('node', 'm')).toBeDefined();
    await ctx.service.reset();
    expect(ctx.service.priceOf('node', 'm')).toBeUndefined();
    expect(ctx.service.table()).toEqual(DEFAULT_PRICING);

    ctx.settings.set.mockClear();
    await expect(ctx.service.reset(undefined, 'x')).rejects.toMatchObject({
      code: 'VALIDATION_FAILED',
    });
    expect(ctx.settings.set).not.toHaveBeenCalled();
  });

  it('cost() applies the formula to a looked-up price', () => {
    ctx = setup();
    const price = ctx.service.priceOf('anthropic', 'claude-sonnet-4-5')!;
    const usd = ctx.service.cost(price, {
      input: 10_000,
      output: 2_000,
      cacheRead: 50_000,
      cacheCreation: 4_000,
      reasoning: 500,
    });
    expect(usd).toBeCloseTo((10_000 * 3 + 50_000 * 0.3 + 4_000 * 3.75 + 2_000 * 15) / 1e6, 12);
  });
});
