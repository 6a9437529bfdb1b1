import { Inject, Injectable, OnModuleDestroy, OnModuleInit } from '@nestjs/common';
import { KV_STORE, type KvStore } from '@/common/kv/kv-store';
import { LATENCY_MERGE } from './kv-scripts';

const HASH = 'latency';
const FLUSH_MS = 1_000;
const ALPHA = 0.2;

export interface LatencyStat {
  ewmaMs: number;
  n: number;
}

/**
 * Live latency per target (`provider/model`), for the lowest-latency combo strategy. Each replica
 * sums its successes locally and merges them once a second into one exponentially weighted moving
 * average per target in the key-value store (an atomic script), then reads back everyone's figures:
 * every replica ranks targets by the whole gateway's traffic, with no round trip per request.
 */
@Injectable()
export class LatencyStats implements OnModuleInit, OnModuleDestroy {
  private pending = new Map<string, { sum: number; n: number }>();
  private snapshot = new Map<string, LatencyStat>();
  private timer?: NodeJS.Timeout;

  constructor(@Inject(KV_STORE) private readonly kv: KvStore) {}

  onModuleInit(): void {
    this.timer = setInterval(() => void this.flush(), FLUSH_MS);
    this.timer.unref();
    void this.refresh();
  }

  async onModuleDestroy(): Promise<void> {
    clearInterval(this.timer);
    await this.flush();
  }

  record(target: string, ms: number): void {
    const p = this.pending.get(target);
    if (p) {
      p.sum += ms;
      p.n++;
    } else {
      this.pending.set(target, { sum: ms, n: 1 });
    }
  }

  /** The gateway-wide figure for a target, or undefined when it has no traffic yet. */
  get(target: string): LatencyStat | undefined {
    return this.snapshot.get(target);
  }

  all(): Record<string, LatencyStat> {
    return Object.fromEntries(this.snapshot);
  }

  async flush(): Promise<void> {
    const batch = this.pending;
    this.pending = new Map();
    for (const [target, { sum, n }] of batch) {
      try {
        await this.kv.run(LATENCY_MERGE, [HASH], [target, sum / n, n, ALPHA]);
      } catch {
        // the store is down: keep a local figure so this replica still ranks targets
        const prev = this.snapshot.get(target);
        this.snapshot.set(target, {
          ewmaMs: prev ? prev.ewmaMs * (1 - ALPHA) + (sum / n) * ALPHA : sum / n,
          n: (prev?.n ?? 0) + n,
        });
      }
    }
    await this.refresh();
  }

  private async refresh(): Promise<void> {
    try {
      const all = await this.kv.hgetall(HASH);
      const next = new Map<string, LatencyStat>();
      for (const [k, v] of Object.entries(all)) {
        try {
          const s = JSON.parse(v) as LatencyStat;
          next.set(k, { ewmaMs: s.ewmaMs, n: s.n });
        } catch {
          /* ignore */
        }
      }
      this.snapshot = next;
    } catch {
      /* keep the last snapshot */
    }
  }
}
