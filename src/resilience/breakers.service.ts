import { Inject, Injectable, Logger, OnModuleDestroy, OnModuleInit } from '@nestjs/common';
import { KV_STORE, type KvStore, type Unsubscribe } from '@/common/kv/kv-store';
import { MetricsService } from '@/common/metrics/metrics.service';
import {
  BREAKER_FAILURE,
  BREAKER_PROBE,
  BREAKER_SUCCESS,
  type BreakerRecord,
  type BreakerState,
} from './kv-scripts';

const CHANNEL = 'breakers';
const INDEX = 'breakers:index';
const RESYNC_MS = 10_000;

export type BreakerGate =
  { allow: true; probe: boolean } | { allow: false; state: BreakerState; retryAfterMs: number };

export interface BreakerView extends BreakerRecord {
  provider: string;
  retryAfterMs: number;
}

const CLOSED: BreakerRecord = {
  state: 'closed',
  failures: 0,
  openedAt: 0,
  lastFailureAt: 0,
  probeUntil: 0,
};

const STATE_VALUE: Record<BreakerState, number> = { closed: 0, half_open: 1, open: 2 };

/**
 * One circuit breaker per provider (reference §5.6), shared by every replica: the state lives in the
 * key-value store and every transition is an atomic script there (the failure count, the opening,
 * the single half-open probe). Each replica mirrors the states in memory, so the hot path decides
 * without a round trip; transitions (and a provider's first failure) are broadcast, and the mirror
 * is re-read every 10 s in case a message was lost. Only an open breaker whose reset timeout has
 * passed costs a round trip: the probe script lets exactly one request through, on one replica.
 */
@Injectable()
export class CircuitBreakers implements OnModuleInit, OnModuleDestroy {
  private readonly logger = new Logger(CircuitBreakers.name);
  private readonly local = new Map<string, BreakerRecord>();
  private unsubscribe?: Unsubscribe;
  private timer?: NodeJS.Timeout;

  constructor(
    @Inject(KV_STORE) private readonly kv: KvStore,
    private readonly metrics: MetricsService,
  ) {}

  async onModuleInit(): Promise<void> {
    this.unsubscribe = await this.kv
      .subscribe(CHANNEL, (msg) => {
        try {
          const { provider, rec } = JSON.parse(msg) as {
            provider: string;
            rec: BreakerRecord | null;
          };
          this.setLocal(provider, rec);
        } catch {
          /* ignore malformed */
        }
      })
      .catch(() => undefined);
    await this.resync();
    this.timer = setInterval(() => void this.resync(), RESYNC_MS);
    this.timer.unref();
  }

  async onModuleDestroy(): Promise<void> {
    clearInterval(this.timer);
    await this.unsubscribe?.();
  }

  private key(provider: string): string {
    return `breaker:${provider}`;
  }

  private setLocal(provider: string, rec: BreakerRecord | null): void {
    if (!rec || (rec.state === 'closed' && rec.failures === 0)) {
      this.local.delete(provider);
      this.metrics.breakerState.set({ provider }, 0);
    } else {
      this.local.set(provider, rec);
      this.metrics.breakerState.set({ provider }, STATE_VALUE[rec.state]);
    }
  }

  private async resync(): Promise<void> {
    try {
      const providers = Object.keys(await this.kv.hgetall(INDEX));
      const seen = new Set<string>();
      for (const p of providers) {
        seen.add(p);
        const raw = await this.kv.get(this.key(p));
        this.setLocal(p, raw ? (JSON.parse(raw) as BreakerRecord) : null);
      }
      for (const p of [...this.local.keys()]) {
        if (!seen.has(p)) {
          this.setLocal(p, null);
        }
      }
    } catch {
      /* the store is down: keep the mirror */
    }
  }

  /** Whether a request may go to this provider now (synchronous; see `probe` for `probe: true`). */
  gate(provider: string, resetTimeoutMs: number, now = Date.now()): BreakerGate {
    const rec = this.local.get(provider);
    if (!rec || rec.state === 'closed') {
      return { allow: true, probe: false };
    }
    if (rec.state === 'open') {
      const left = rec.openedAt + resetTimeoutMs - now;
      return left <= 0
        ? { allow: true, probe: true }
        : { allow: false, state: 'open', retryAfterMs: left };
    }
    return rec.probeUntil <= now
      ? { allow: true, probe: true }
      : { allow: false, state: 'half_open', retryAfterMs: Math.max(1, rec.probeUntil - now) };
  }

  /** Asks for the single half-open probe; true when this request is it. */
  async probe(provider: string, resetTimeoutMs: number, probeTtlMs: number): Promise<boolean> {
    try {
      const rec = await this.kv.run(
        BREAKER_PROBE,
        [this.key(provider)],
        [Date.now(), resetTimeoutMs, probeTtlMs],
      );
      this.setLocal(provider, rec);
      if (rec.granted) {
        this.broadcast(provider, rec);
      }
      return rec.granted;
    } catch {
      return true; // the store is down: let traffic through rather than stay open forever
    }
  }

  /** A real upstream failure of this provider (5xx, timeout, network); resolves once recorded. */
  async failure(provider: string, threshold: number): Promise<void> {
    const before = this.local.get(provider);
    try {
      const rec = await this.kv.run(BREAKER_FAILURE, [this.key(provider)], [Date.now(), threshold]);
      this.setLocal(provider, rec);
      if (!before || before.state !== rec.state || rec.failures === 1) {
        if (rec.state === 'open' && before?.state !== 'open') {
          this.logger.warn(`circuit breaker for ${provider} opened after ${rec.failures} failures`);
        }
        await this.kv.hset(INDEX, { [provider]: '1' });
        this.broadcast(provider, rec);
      }
    } catch {
      // the store is down: count locally so this replica still protects the provider
      const rec = { ...(before ?? CLOSED) };
      rec.failures++;
      rec.lastFailureAt = Date.now();
      if (rec.state !== 'closed' || rec.failures >= threshold) {
        rec.state = 'open';
        rec.openedAt = rec.lastFailureAt;
      }
      this.setLocal(provider, rec);
    }
  }

  /** A success: closes a half-open breaker and clears a failure streak (no write otherwise). */
  success(provider: string): void {
    const rec = this.local.get(provider);
    if (!rec || rec.state === 'open') {
      return;
    }
    void this.kv
      .run(BREAKER_SUCCESS, [this.key(provider)], [Date.now()])
      .then((next) => {
        this.setLocal(provider, next);
        if (next.changed) {
          if (rec.state === 'half_open') {
            this.logger.log(`circuit breaker for ${provider} closed after a successful probe`);
          }
          this.broadcast(provider, next);
        }
      })
      .catch(() => this.setLocal(provider, null));
  }

  private broadcast(provider: string, rec: BreakerRecord): void {
    const { state, failures, openedAt, lastFailureAt, probeUntil } = rec;
    void this.kv
      .publish(
        CHANNEL,
        JSON.stringify({
          provider,
          rec: { state, failures, openedAt, lastFailureAt, probeUntil },
        }),
      )
      .catch(() => undefined);
  }

  /** Every provider with a non-closed breaker or a failure streak. */
  list(resetTimeoutMsOf: (provider: string) => number): BreakerView[] {
    const now = Date.now();
    return [...this.local.entries()].map(([provider, rec]) => ({
      provider,
      ...rec,
      retryAfterMs:
        rec.state === 'open' ? Math.max(0, rec.openedAt + resetTimeoutMsOf(provider) - now) : 0,
    }));
  }

  state(provider: string): BreakerRecord {
    return this.local.get(provider) ?? CLOSED;
  }

  /** Closes every breaker (or one); returns how many were not closed. */
  async reset(provider?: string): Promise<number> {
    const targets = provider
      ? [provider]
      : [...new Set([...this.local.keys(), ...Object.keys(await this.kv.hgetall(INDEX))])];
    let n = 0;
    for (const p of targets) {
      const rec = this.local.get(p);
      if (rec && (rec.state !== 'closed' || rec.failures > 0)) {
        n++;
      }
      await this.kv.del(this.key(p));
      await this.kv.hdel(INDEX, p);
      this.setLocal(p, null);
      await this.kv.publish(CHANNEL, JSON.stringify({ provider: p, rec: null }));
    }
    return n;
  }
}
