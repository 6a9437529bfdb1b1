import { Inject, Injectable, Logger, OnModuleDestroy, OnModuleInit } from '@nestjs/common';
import { KV_STORE, type KvStore, type Unsubscribe } from '@/common/kv/kv-store';
import { Env } from '@/config/env.schema';
import { SettingsService } from '@/settings/settings.service';
import {
  applyResiliencePatch,
  defaultResilience,
  loadStoredResilience,
  type AccountStrategy,
  type BreakerProfile,
  type CooldownProfile,
  type ResilienceSettings,
} from './resilience.settings';

export const RESILIENCE_KEY = 'resilienceSettings';
const SETTINGS_CHANNEL = 'settings:changed';
const REFRESH_MS = 30_000;

/**
 * The resilience profile every replica routes with, held in memory (the hot path reads it
 * synchronously). Stored in the settings table; a change on any replica is broadcast on the
 * settings channel and every replica reloads it (a 30 s refresh bounds staleness if a message is
 * lost). Listeners (the upstream client's connect timeout) are told after each reload.
 */
@Injectable()
export class ResilienceService implements OnModuleInit, OnModuleDestroy {
  private readonly logger = new Logger(ResilienceService.name);
  private readonly defaults: ResilienceSettings;
  private settings: ResilienceSettings;
  private unsubscribe?: Unsubscribe;
  private timer?: NodeJS.Timeout;
  private readonly listeners: ((s: ResilienceSettings) => void)[] = [];

  constructor(
    private readonly store: SettingsService,
    @Inject(KV_STORE) private readonly kv: KvStore,
    env: Env,
  ) {
    this.defaults = defaultResilience({
      connectMs: env.UPSTREAM_CONNECT_TIMEOUT_MS,
      totalMs: env.UPSTREAM_TIMEOUT_MS,
      streamIdleMs: env.STREAM_IDLE_TIMEOUT_MS,
    });
    this.settings = this.defaults;
  }

  async onModuleInit(): Promise<void> {
    await this.reload();
    this.unsubscribe = await this.kv
      .subscribe(SETTINGS_CHANNEL, (key) => {
        if (key === RESILIENCE_KEY) {
          void this.reload();
        }
      })
      .catch(() => undefined);
    this.timer = setInterval(() => void this.reload(), REFRESH_MS);
    this.timer.unref();
  }

  async onModuleDestroy(): Promise<void> {
    clearInterval(this.timer);
    await this.unsubscribe?.();
  }

  /** The current profile (synchronous, from memory). */
  current(): ResilienceSettings {
    return this.settings;
  }

  defaultsOf(): ResilienceSettings {
    return this.defaults;
  }

  onChange(fn: (s: ResilienceSettings) => void): void {
    this.listeners.push(fn);
    fn(this.settings);
  }

  cooldownProfile(authType: string): CooldownProfile {
    return authType === 'oauth'
      ? this.settings.connectionCooldown.oauth
      : this.settings.connectionCooldown.apikey;
  }

  breakerProfile(authType: string): BreakerProfile {
    return authType === 'oauth'
      ? this.settings.providerBreaker.oauth
      : this.settings.providerBreaker.apikey;
  }

  accountStrategy(providerId: string, alias?: string): AccountStrategy {
    const r = this.settings.accountRotation;
    return r.providers[providerId] ?? (alias ? r.providers[alias] : undefined) ?? r.strategy;
  }

  /** Validates and stores a partial profile; every replica reloads it. */
  async update(patch: unknown): Promise<ResilienceSettings> {
    const next = applyResiliencePatch(this.settings, patch);
    await this.store.set(RESILIENCE_KEY, next);
    this.apply(next);
    return next;
  }

  private async reload(): Promise<void> {
    try {
      const stored = await this.store.get<unknown>(RESILIENCE_KEY, undefined);
      this.apply(loadStoredResilience(this.defaults, stored));
    } catch (e) {
      this.logger.warn(`resilience settings reload failed: ${(e as Error).message}`);
    }
  }

  private apply(next: ResilienceSettings): void {
    const changed = JSON.stringify(next) !== JSON.stringify(this.settings);
    this.settings = next;
    if (changed) {
      for (const fn of this.listeners) {
        fn(next);
      }
    }
  }
}
