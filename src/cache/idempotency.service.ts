import { Inject, Injectable } from '@nestjs/common';
import { createHash } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import { AppError } from '@/common/errors/app-error';
import type { RecordedResponse } from '@/common/http/response-recorder';
import { KV_STORE, type KvStore } from '@/common/kv/kv-store';
import { MetricsService } from '@/common/metrics/metrics.service';
import { CacheService } from './cache.service';

/** How often a duplicate waiting on another replica looks for the first request's answer. */
const POLL_MS = 25;

export type IdempotencyOutcome =
  /** This request runs; call `finish` with its answer (or undefined when it failed). */
  | { kind: 'run'; finish: (rec: RecordedResponse | undefined) => Promise<void> }
  /** A duplicate: send this answer again. */
  | { kind: 'replay'; rec: RecordedResponse }
  /** The shared store is unavailable: run without idempotency. */
  | { kind: 'pass' };

function header(h: IncomingHttpHeaders, name: string): string | undefined {
  const v = h[name];
  const s = Array.isArray(v) ? v[0] : v;
  return s && s.trim() ? s.trim().slice(0, 512) : undefined;
}

/**
 * Idempotent inference (API.md §2): a request carrying `Idempotency-Key` (or else the client's own
 * `X-Request-Id`) is executed once per API key within `idempotencyWindowMs` after it finished.
 * Across replicas: the first request takes a lock (`SET NX` with a lease as long as the request may
 * run); duplicates find the stored answer and get it again (`X-OmniRoute-Idempotent: true`), or, while
 * the first is still running, wait for it — in-process waiters are woken directly, other replicas
 * poll the answer key — so the upstream is called once. Only successful answers are kept: when the
 * first request fails its lock is released and a duplicate runs afresh (a retry after an error must
 * be able to succeed). A completed stream is replayed as the same event bytes.
 */
@Injectable()
export class IdempotencyService {
  private readonly local = new Map<string, Promise<void>>();

  constructor(
    @Inject(KV_STORE) private readonly kv: KvStore,
    private readonly cache: CacheService,
    private readonly metrics: MetricsService,
  ) {}

  /** The client's idempotency key, if it sent one. */
  keyOf(headers: IncomingHttpHeaders): string | undefined {
    return header(headers, 'idempotency-key') ?? header(headers, 'x-request-id');
  }

  private base(apiKeyId: string | null, key: string): string {
    const h = createHash('sha256').update(key).digest('hex').slice(0, 40);
    return `idem:${apiKeyId ?? 'anonymous'}:${h}`;
  }

  /**
   * Decides what a request with an idempotency key does. `leaseMs` bounds how long the first
   * request may hold the key (its total timeout); `waitMs` bounds how long a duplicate waits.
   */
  async begin(
    apiKeyId: string | null,
    key: string,
    requestId: string,
    leaseMs: number,
    waitMs: number,
  ): Promise<IdempotencyOutcome> {
    const base = this.base(apiKeyId, key);
    const lockKey = `${base}:lock`;
    const resKey = `${base}:res`;
    const guard = this.cache.guard;
    const deadline = Date.now() + waitMs;
    for (;;) {
      const local = this.local.get(base);
      if (local) {
        await Promise.race([local, sleep(Math.max(1, deadline - Date.now()))]);
      }
      const stored = await guard.call<string | null | undefined>(
        'idempotency',
        this.kv.get(resKey),
        undefined,
      );
      if (stored === undefined) {
        return { kind: 'pass' };
      }
      if (stored) {
        try {
          this.metrics.idempotentReplays.inc();
          return { kind: 'replay', rec: JSON.parse(stored) as RecordedResponse };
        } catch {
          /* damaged: treat as absent */
        }
      }
      const took = await guard.call<boolean | undefined>(
        'idempotency',
        this.kv.set(lockKey, requestId, { nx: true, ttlMs: leaseMs }),
        undefined,
      );
      if (took === undefined) {
        return { kind: 'pass' };
      }
      if (took) {
        let release!: () => void;
        const done = new Promise<void>((r) => (release = r));
        this.local.set(base, done);
        return {
          kind: 'run',
          finish: async (rec) => {
            try {
              if (rec) {
                await this.kv.set(resKey, JSON.stringify(rec), {
                  ttlMs: this.cache.config().idempotencyWindowMs,
                });
              }
              await this.kv.del(lockKey);
            } catch (e) {
              this.cache.guard.degraded('idempotency', e);
            } finally {
              this.local.delete(base);
              release();
            }
          },
        };
      }
      // another request holds the key: wait for its answer (or for it to give up)
      if (Date.now() >= deadline) {
        throw new AppError(
          'IDEMPOTENCY_IN_PROGRESS',
          'CONFLICT',
          'A request with this idempotency key is still in progress; retry later',
          { retryAfterSeconds: 1 },
          409,
          { 'retry-after': '1' },
        );
      }
      if (!this.local.has(base)) {
        await sleep(POLL_MS);
      }
    }
  }

  /** Keys currently held or answered (for `GET /api/cache`). */
  async activeKeys(): Promise<number> {
    try {
      return new Set((await this.kv.scan('idem:*')).map((k) => k.replace(/:(lock|res)$/, ''))).size;
    } catch {
      return this.local.size;
    }
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
