import { Inject, Injectable, Logger, OnModuleDestroy, OnModuleInit } from '@nestjs/common';
import { KV_STORE, type KvStore, type Unsubscribe } from '@/common/kv/kv-store';
import { SettingsService } from '@/settings/settings.service';
import { DEFAULT_PRICING } from './default-pricing';
import {
  PriceIndex,
  applyPatch,
  computeCost,
  computeMediaCost,
  mergePricing,
  parsePricingPatch,
  pricingSources,
  removeOverrides,
  sanitizeOverrides,
} from './pricing.table';
import type {
  MediaUnits,
  ModelPrice,
  PricingOverrides,
  PricingSourceMap,
  PricingTable,
  PricingUsage,
} from './pricing.types';

/** The settings key of the admin's overrides, and SettingsService's change channel. */
export const PRICING_SETTING = 'pricing';
const SETTINGS_CHANGED = 'settings:changed';
const REFRESH_MS = 30_000;

interface Snapshot {
  overrides: PricingOverrides;
  table: PricingTable;
  index: PriceIndex;
}

function snapshotOf(overrides: PricingOverrides): Snapshot {
  const table = mergePricing(DEFAULT_PRICING, overrides);
  return { overrides, table, index: new PriceIndex(table) };
}

/**
 * The pricing table (USD per 1M tokens): built-in defaults merged with the admin's overrides
 * (settings key `pricing`). Lookups and cost are synchronous, from an in-memory snapshot rebuilt
 * after every write here, when any replica announces a `pricing` settings change, and every 30 s
 * as a safety net. Until the first load (or if the database is down) the defaults answer.
 */
@Injectable()
export class PricingService implements OnModuleInit, OnModuleDestroy {
  private readonly logger = new Logger(PricingService.name);
  private snap: Snapshot = snapshotOf({});
  private timer?: NodeJS.Timeout;
  private unsubscribe?: Unsubscribe;
  private reloading?: Promise<void>;
  private reloadAgain = false;
  private writes: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly settings: SettingsService,
    @Inject(KV_STORE) private readonly kv: KvStore,
  ) {}

  async onModuleInit(): Promise<void> {
    this.unsubscribe = await this.kv
      .subscribe(SETTINGS_CHANGED, (key) => {
        if (key === PRICING_SETTING) {
          // After SettingsService's own handler has dropped its cached copy.
          setImmediate(() => void this.reload());
        }
      })
      .catch(() => undefined);
    await this.reload();
    this.timer = setInterval(() => void this.reload(), REFRESH_MS);
    this.timer.unref();
  }

  async onModuleDestroy(): Promise<void> {
    clearInterval(this.timer);
    await this.unsubscribe?.();
  }

  /**
   * Synchronous, from memory (hot path). Lookup: exact provider key, then provider alias (pass
   * both id and alias when known), then the model's last path segment (`a/b/c` → `c`); keys are
   * also tried case-insensitively.
   */
  priceOf(provider: string, model: string, alias?: string): ModelPrice | undefined {
    return this.snap.index.lookup(provider, model, alias);
  }

  /**
   * USD for a usage (reference §9.1): input·in + cacheRead·(cached ?? in) +
   * cacheCreation·(cache_creation ?? in) + output·out, per 1M tokens. Reasoning tokens are part of
   * output unless the model has a reasoning price, then they are charged at it instead of output.
   */
  cost(price: ModelPrice, usage: PricingUsage): number {
    return computeCost(price, usage);
  }

  /** USD of a media request (tokens, images by size/quality, audio seconds). */
  mediaCost(
    price: ModelPrice,
    usage: MediaUnits & { inputTokens: number; outputTokens: number },
  ): number {
    return computeMediaCost(price, usage);
  }

  /** The merged table (defaults + overrides). */
  table(): PricingTable {
    return this.snap.table;
  }

  /** Which entries of the merged table the admin overrode. */
  sources(): PricingSourceMap {
    return pricingSources(this.snap.table, this.snap.overrides);
  }

  defaults(): PricingTable {
    return DEFAULT_PRICING;
  }

  /** Lays a `PATCH /api/pricing` body over the overrides; returns the merged table. */
  async update(body: unknown): Promise<PricingTable> {
    const patch = parsePricingPatch(body);
    return this.write((current) => applyPatch(DEFAULT_PRICING, current, patch));
  }

  /** Drops the overrides of one model, one provider, or all of them; returns the merged table. */
  async reset(provider?: string, model?: string): Promise<PricingTable> {
    removeOverrides({}, provider, model); // validates the arguments before any I/O
    return this.write((current) => removeOverrides(current, provider, model));
  }

  /** Re-reads the overrides; concurrent calls coalesce into at most one more run. */
  async reload(): Promise<void> {
    if (this.reloading) {
      this.reloadAgain = true;
      return this.reloading;
    }
    this.reloading = (async () => {
      do {
        this.reloadAgain = false;
        try {
          this.snap = snapshotOf(await this.readOverrides());
        } catch (e) {
          this.logger.warn(`pricing refresh failed: ${(e as Error).message}`);
        }
      } while (this.reloadAgain);
    })().finally(() => (this.reloading = undefined));
    return this.reloading;
  }

  private async readOverrides(): Promise<PricingOverrides> {
    return sanitizeOverrides(await this.settings.get<unknown>(PRICING_SETTING, {}));
  }

  /** Read-modify-write of the overrides, one at a time in this process. */
  private write(change: (current: PricingOverrides) => PricingOverrides): Promise<PricingTable> {
    const run = this.writes.then(async () => {
      const next = change(await this.readOverrides());
      await this.settings.set(PRICING_SETTING, next);
      await this.reload(); // lets a reload that read the old value finish first
      this.snap = snapshotOf(next); // what was just written wins
      return this.snap.table;
    });
    this.writes = run.catch(() => undefined);
    return run;
  }
}
