import { Inject, Injectable, OnModuleDestroy, OnModuleInit } from '@nestjs/common';
import { KV_STORE, type KvStore, type Unsubscribe } from '@/common/kv/kv-store';
import type { RoutableConnection } from '@/providers/routing-table';

const CHANNEL = 'cooldowns';
const BASE_MS = 3_000;
const MAX_STEPS = 5;
const AUTH_FAILURE_MS = 5 * 60_000;
const MAX_COOLDOWN_MS = 24 * 3600_000;

interface Cooldown {
  until: number;
  level: number;
  reason: string;
}

export type Pick =
  | { ok: true; connection: RoutableConnection }
  | {
      ok: false;
      reason: 'no-connections' | 'all-cooling' | 'pinned-missing';
      retryAfterMs?: number;
    };

/**
 * Chooses the account for a request: active connections in fill-first order (priority, then most
 * recently updated), skipping the ones this request already tried and the ones cooling down.
 * `x-omniroute-connection` pins one account (its cooldown is ignored). Cooldowns follow reference
 * §5.5's API-key profile: the upstream's Retry-After when given, else 3 s × 2^level (5 steps).
 *
 * Cooldowns are read from memory on the hot path; every change is written to the shared store and
 * broadcast, so all replicas skip a cooling account (and a new replica loads them on start).
 */
@Injectable()
export class AccountSelector implements OnModuleInit, OnModuleDestroy {
  private readonly cooldowns = new Map<string, Cooldown>();
  private unsubscribe?: Unsubscribe;

  constructor(@Inject(KV_STORE) private readonly kv: KvStore) {}

  async onModuleInit(): Promise<void> {
    this.unsubscribe = await this.kv
      .subscribe(CHANNEL, (msg) => {
        try {
          const { id, c } = JSON.parse(msg) as { id: string; c: Cooldown | null };
          if (c) {
            this.cooldowns.set(id, c);
          } else {
            this.cooldowns.delete(id);
          }
        } catch {
          /* ignore malformed */
        }
      })
      .catch(() => undefined);
    const all = await this.kv.hgetall('cooldowns').catch(() => ({}));
    const now = Date.now();
    for (const [id, raw] of Object.entries(all)) {
      try {
        const c = JSON.parse(raw) as Cooldown;
        if (c.until > now) {
          this.cooldowns.set(id, c);
        }
      } catch {
        /* ignore */
      }
    }
  }

  async onModuleDestroy(): Promise<void> {
    await this.unsubscribe?.();
  }

  pick(
    candidates: readonly RoutableConnection[] | undefined,
    tried: ReadonlySet<string>,
    pinned?: string,
  ): Pick {
    if (!candidates?.length) {
      return { ok: false, reason: 'no-connections' };
    }
    if (pinned) {
      const c = candidates.find((x) => x.id === pinned);
      return c && !tried.has(c.id)
        ? { ok: true, connection: c }
        : { ok: false, reason: 'pinned-missing' };
    }
    const now = Date.now();
    let earliest = Infinity;
    for (const c of candidates) {
      if (tried.has(c.id)) {
        continue;
      }
      const cd = this.cooldowns.get(c.id);
      if (cd && cd.until > now) {
        earliest = Math.min(earliest, cd.until);
        continue;
      }
      return { ok: true, connection: c };
    }
    return {
      ok: false,
      reason: 'all-cooling',
      retryAfterMs: earliest === Infinity ? undefined : earliest - now,
    };
  }

  /** The remaining cooldown of an account, ms (0 when usable). */
  remaining(id: string): number {
    const cd = this.cooldowns.get(id);
    return cd ? Math.max(0, cd.until - Date.now()) : 0;
  }

  /** Puts an account on cooldown after a failure; returns the cooldown in ms. */
  fail(
    id: string,
    kind: 'rate-limit' | 'server' | 'network' | 'auth',
    retryAfterMs?: number,
  ): number {
    const now = Date.now();
    const prev = this.cooldowns.get(id);
    if (prev && prev.until > now) {
      return prev.until - now; // concurrent failures do not extend a running cooldown
    }
    // `level` is the backoff step the next unhinted failure uses: 3 s, 6 s, 12 s, … until a success.
    const level = prev?.level ?? 0;
    let ms: number;
    let next: number;
    if (kind === 'auth') {
      ms = AUTH_FAILURE_MS;
      next = level;
    } else if (retryAfterMs !== undefined && retryAfterMs >= 0) {
      ms = Math.min(retryAfterMs, MAX_COOLDOWN_MS);
      next = 0; // the upstream said exactly when: the backoff starts over
    } else {
      ms = BASE_MS * 2 ** level;
      next = Math.min(level + 1, MAX_STEPS);
    }
    const c: Cooldown = { until: now + ms, level: next, reason: kind };
    this.cooldowns.set(id, c);
    void this.share(id, c);
    return ms;
  }

  /** A success clears the account's backoff. */
  succeed(id: string): void {
    if (this.cooldowns.has(id)) {
      this.cooldowns.delete(id);
      void this.share(id, null);
    }
  }

  private async share(id: string, c: Cooldown | null): Promise<void> {
    try {
      if (c) {
        await this.kv.hset('cooldowns', { [id]: JSON.stringify(c) });
      } else {
        await this.kv.hdel('cooldowns', id);
      }
      await this.kv.publish(CHANNEL, JSON.stringify({ id, c }));
    } catch {
      /* the shared store is down: this replica still honours its own cooldowns */
    }
  }
}

/** `1.5s`, `20ms`, `6m0s`, `1h2m` (OpenAI's x-ratelimit-reset-* format) as milliseconds. */
function parseDuration(v: string): number | undefined {
  const re = /(\d+(?:\.\d+)?)(ms|h|m|s)/g;
  let total = 0;
  let matched = '';
  for (const m of v.matchAll(re)) {
    const n = Number(m[1]);
    total +=
      m[2] === 'ms' ? n : m[2] === 's' ? n * 1000 : m[2] === 'm' ? n * 60_000 : n * 3_600_000;
    matched += m[0];
  }
  return matched.length && matched === v.trim() ? total : undefined;
}

function header(
  headers: Record<string, string | string[] | undefined>,
  name: string,
): string | undefined {
  const v = headers[name];
  return Array.isArray(v) ? v[0] : v;
}

/**
 * The upstream's retry hint in milliseconds (reference §5.5): `Retry-After` (seconds or an HTTP
 * date), `X-RateLimit-Reset` (epoch seconds or milliseconds, or seconds from now), or OpenAI's
 * `x-ratelimit-reset-requests` / `-tokens` durations (the longer one).
 */
export function retryAfterMs(
  headers: Record<string, string | string[] | undefined>,
): number | undefined {
  const ra = header(headers, 'retry-after');
  if (ra) {
    const secs = Number(ra);
    if (Number.isFinite(secs)) {
      return Math.max(0, secs * 1000);
    }
    const at = Date.parse(ra);
    if (Number.isFinite(at)) {
      return Math.max(0, at - Date.now());
    }
  }
  const reset = header(headers, 'x-ratelimit-reset');
  if (reset && Number.isFinite(Number(reset))) {
    const n = Number(reset);
    if (n > 1e12) {
      return Math.max(0, n - Date.now());
    }
    if (n > 1e9) {
      return Math.max(0, n * 1000 - Date.now());
    }
    return Math.max(0, n * 1000);
  }
  const hints = ['x-ratelimit-reset-requests', 'x-ratelimit-reset-tokens']
    .map((h) => header(headers, h))
    .map((v) => (v ? parseDuration(v) : undefined))
    .filter((v): v is number => v !== undefined);
  return hints.length ? Math.max(...hints) : undefined;
}
