import { Inject, Injectable } from '@nestjs/common';
import { KV_STORE, type KvStore } from '@/common/kv/kv-store';
import { MetricsService } from '@/common/metrics/metrics.service';
import type { RoutableConnection } from '@/providers/routing-table';
import { Cooldowns } from '@/resilience/cooldowns.service';
import { PICK_LRU } from '@/resilience/kv-scripts';
import { RateLimiter } from '@/resilience/rate-limiter.service';
import type { AccountStrategy } from '@/resilience/resilience.settings';

/** Why an account was passed over. */
export interface SkipNote {
  connectionId: string;
  connectionName: string;
  reason: 'cooldown' | 'model-lockout' | 'permanent' | 'rate-limited';
  /** What put it there (`rate_limited`, `server_error`, `unauthorized`, `60 requests/min`, ...). */
  detail: string;
  status?: number;
  retryAfterMs?: number;
}

export type Pick =
  | { ok: true; connection: RoutableConnection }
  | {
      ok: false;
      reason: 'no-connections' | 'all-cooling' | 'pinned-missing';
      retryAfterMs?: number;
      skipped: SkipNote[];
    };

export interface PickRequest {
  providerId: string;
  /** The upstream model: per-model lockouts are checked for it. */
  model: string;
  candidates: readonly RoutableConnection[] | undefined;
  /** Accounts this request already tried for this target. */
  tried: ReadonlySet<string>;
  strategy: AccountStrategy;
  stickyLimit: number;
  /** `x-omniroute-connection`: this account only, cooldowns ignored. */
  forced?: string;
  /** Session affinity: this account first when it is usable (then the strategy's order). */
  preferred?: string;
}

/**
 * Chooses the account for one attempt (reference §5.4): active connections of the provider minus
 * the ones this request tried, the ones cooling down or locked for this model (shared cooldowns),
 * and the ones over their RPM/TPM limit (shared counters), in the order of the rotation strategy:
 *
 * - `fill-first` (default): priority order, the first usable one;
 * - `round-robin`: sticky: each account serves `stickyLimit` consecutive requests, then the next;
 *   the cursor is one counter in the key-value store, so all replicas rotate together;
 * - `least-recently-used`: the account whose last pick (by any replica) is oldest, atomically;
 * - `random`.
 *
 * A fallback within a request (an account already tried) takes the rest in priority order.
 */
@Injectable()
export class AccountSelector {
  private localCursor = 0;

  constructor(
    @Inject(KV_STORE) private readonly kv: KvStore,
    private readonly cooldowns: Cooldowns,
    private readonly limiter: RateLimiter,
    private readonly metrics: MetricsService,
  ) {}

  async pick(req: PickRequest): Promise<Pick> {
    const { candidates, tried, forced } = req;
    if (!candidates?.length) {
      return { ok: false, reason: 'no-connections', skipped: [] };
    }
    if (forced) {
      const c = candidates.find((x) => x.id === forced);
      return c && !tried.has(c.id)
        ? { ok: true, connection: c }
        : { ok: false, reason: 'pinned-missing', skipped: [] };
    }
    const now = Date.now();
    const skipped: SkipNote[] = [];
    let usable: RoutableConnection[] = [];
    for (const c of candidates) {
      if (tried.has(c.id)) {
        continue;
      }
      const b = this.cooldowns.blocked(c.id, req.model, c.updatedAt, now);
      if (b) {
        skipped.push({
          connectionId: c.id,
          connectionName: c.name,
          reason: b.permanent ? 'permanent' : b.scope === 'model' ? 'model-lockout' : 'cooldown',
          detail: b.reason,
          status: b.status,
          retryAfterMs: b.permanent ? undefined : b.until - now,
        });
        continue;
      }
      usable.push(c);
    }
    if (usable.length > 1 && tried.size === 0) {
      const sticky = req.preferred ? usable.findIndex((c) => c.id === req.preferred) : -1;
      usable =
        sticky >= 0
          ? [usable[sticky], ...usable.slice(0, sticky), ...usable.slice(sticky + 1)]
          : await this.order(req, usable);
    }
    for (const c of usable) {
      const limits = this.limiter.limitsOf(c);
      if (limits) {
        const a = await this.limiter.acquire(c.id, limits);
        if (!a.allowed) {
          this.metrics.rateLimitRejections.inc({ provider: c.provider });
          skipped.push({
            connectionId: c.id,
            connectionName: c.name,
            reason: 'rate-limited',
            detail: a.limit,
            status: 429,
            retryAfterMs: a.retryAfterMs,
          });
          continue;
        }
      }
      if (req.strategy === 'least-recently-used' && c !== usable[0] && tried.size === 0) {
        // the LRU pick was over its limit: this one serves, so it is the one just used
        void this.kv.hset(`lru:${req.providerId}`, { [c.id]: String(Date.now()) }).catch(() => 0);
      }
      return { ok: true, connection: c };
    }
    const waits = skipped.map((s) => s.retryAfterMs).filter((v): v is number => v !== undefined);
    return {
      ok: false,
      reason: 'all-cooling',
      retryAfterMs: waits.length ? Math.max(1, Math.min(...waits)) : undefined,
      skipped,
    };
  }

  private async order(
    req: PickRequest,
    usable: RoutableConnection[],
  ): Promise<RoutableConnection[]> {
    switch (req.strategy) {
      case 'fill-first':
        return usable;
      case 'random': {
        const i = Math.floor(Math.random() * usable.length);
        return [usable[i], ...usable.slice(0, i), ...usable.slice(i + 1)];
      }
      case 'round-robin': {
        let n: number;
        try {
          n = await this.kv.incrBy(`rr:acct:${req.providerId}`, 1);
        } catch {
          n = ++this.localCursor;
        }
        const start = Math.floor((n - 1) / Math.max(1, req.stickyLimit)) % usable.length;
        return [...usable.slice(start), ...usable.slice(0, start)];
      }
      case 'least-recently-used': {
        let i = 0;
        try {
          ({ index: i } = await this.kv.run(
            PICK_LRU,
            [`lru:${req.providerId}`],
            [Date.now(), ...usable.map((c) => c.id)],
          ));
        } catch {
          i = 0;
        }
        return [usable[i], ...usable.slice(0, i), ...usable.slice(i + 1)];
      }
    }
  }
}
