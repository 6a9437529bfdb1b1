import { Inject, Injectable, Logger } from '@nestjs/common';
import { KV_STORE, type KvStore } from '@/common/kv/kv-store';
import type { RoutableConnection } from '@/providers/routing-table';
import { RATE_ACQUIRE } from './kv-scripts';
import { ResilienceService } from './resilience.service';

const WINDOW_MS = 60_000;

export interface Limits {
  rpm: number;
  tpm: number;
}

export type Acquire = { allowed: true } | { allowed: false; retryAfterMs: number; limit: string };

export interface LimitUsage {
  requests: number;
  tokens: number;
  windowMs: number;
}

/**
 * Per-connection requests- and tokens-per-minute limits (reference §5.8), counted in the key-value
 * store with a sliding window (two fixed windows, the previous one weighted) checked and
 * incremented by one atomic script, so N replicas together never exceed the limit. A connection
 * over its limit is skipped like a cooling account (the request moves on, waits or fails fast).
 * Connections without protection cost nothing: no round trip.
 */
@Injectable()
export class RateLimiter {
  private readonly logger = new Logger(RateLimiter.name);
  private warned = 0;

  constructor(
    @Inject(KV_STORE) private readonly kv: KvStore,
    private readonly resilience: ResilienceService,
  ) {}

  /** The limits that apply to a connection, or undefined when it is not protected. */
  limitsOf(conn: RoutableConnection): Limits | undefined {
    const q = this.resilience.current().requestQueue;
    const protection =
      conn.rateLimit.protection ?? (q.autoEnableApiKeyProviders && conn.authType !== 'oauth');
    if (!protection) {
      return undefined;
    }
    const rpm = conn.rateLimit.rpm ?? q.requestsPerMinute;
    const tpm = conn.rateLimit.tpm ?? q.tokensPerMinute;
    return rpm > 0 || tpm > 0 ? { rpm, tpm } : undefined;
  }

  private keys(connectionId: string, now: number): string[] {
    const w = Math.floor(now / WINDOW_MS);
    return [
      `rl:${connectionId}:r:${w}`,
      `rl:${connectionId}:r:${w - 1}`,
      `rl:${connectionId}:t:${w}`,
      `rl:${connectionId}:t:${w - 1}`,
    ];
  }

  /** Takes one request slot of the connection (the store being down lets the request through). */
  async acquire(connectionId: string, limits: Limits): Promise<Acquire> {
    const now = Date.now();
    try {
      const r = await this.kv.run(RATE_ACQUIRE, this.keys(connectionId, now), [
        now,
        WINDOW_MS,
        limits.rpm,
        limits.tpm,
      ]);
      if (r.allowed) {
        return { allowed: true };
      }
      const byTokens = limits.rpm <= 0 || r.requests < limits.rpm;
      return {
        allowed: false,
        retryAfterMs: Math.max(1, r.retryAfterMs),
        limit: byTokens ? `${limits.tpm} tokens/min` : `${limits.rpm} requests/min`,
      };
    } catch (e) {
      if (Date.now() - this.warned > 60_000) {
        this.warned = Date.now();
        this.logger.warn(
          `rate limits not enforced, key-value store error: ${(e as Error).message}`,
        );
      }
      return { allowed: true };
    }
  }

  /** Adds an answer's tokens to the connection's current window (off the request path). */
  addTokens(connectionId: string, tokens: number): void {
    if (tokens <= 0) {
      return;
    }
    const [, , tokCur] = this.keys(connectionId, Date.now());
    void this.kv.incrBy(tokCur, tokens, 2 * WINDOW_MS).catch(() => undefined);
  }

  /** The weighted counts of the current window (for `/api/rate-limits`). */
  async usage(connectionId: string): Promise<LimitUsage> {
    const now = Date.now();
    const [rc, rp, tc, tp] = this.keys(connectionId, now);
    const w = 1 - (now % WINDOW_MS) / WINDOW_MS;
    const num = async (k: string): Promise<number> => Number((await this.kv.get(k)) ?? 0);
    const [a, b, c, d] = await Promise.all([num(rc), num(rp), num(tc), num(tp)]);
    return {
      requests: Math.floor(a + b * w),
      tokens: Math.floor(c + d * w),
      windowMs: WINDOW_MS,
    };
  }
}
