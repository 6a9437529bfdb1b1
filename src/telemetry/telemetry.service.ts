import {
  Inject,
  Injectable,
  Logger,
  Optional,
  type OnModuleDestroy,
  type OnModuleInit,
} from '@nestjs/common';
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { KV_STORE, type KvStore } from '@/common/kv/kv-store';
import { ClusterTelemetry } from './cluster-telemetry';
import { TelemetryRing, type TelemetrySample } from './telemetry-ring';
import { exactFigures, histogramFigures, type LatencyFigures } from './telemetry-stats';

export type { TelemetrySample } from './telemetry-ring';

export const DEFAULT_WINDOW_MS = 300_000;
export const MIN_WINDOW_MS = 1_000;
export const MAX_WINDOW_MS = 86_400_000;
/** Requests kept per replica for the exact single-replica summary (~0.4 MB). */
export const RING_CAPACITY = 10_000;
/** How often a replica publishes its histograms when the key-value store is shared (Redis). */
export const CLUSTER_FLUSH_MS = 5_000;

/** Overrides for tests; the app uses the defaults (shared = the store is Redis). */
export interface TelemetryOptions {
  shared?: boolean;
  replicaId?: string;
  capacity?: number;
  now?: () => number;
}
export const TELEMETRY_OPTIONS = Symbol('TELEMETRY_OPTIONS');

export interface TelemetrySummary extends LatencyFigures {
  totalRequests: number;
  avgLatencyMs: number;
  uptime: number;
  memoryUsage: NodeJS.MemoryUsage;
  activeConnections: number;
  window: { ms: number; from: string; to: string };
  scope: 'replica' | 'cluster';
  replicas: number;
}

/**
 * Request telemetry behind `GET /api/telemetry/summary` (reference §9.3): latency percentiles, the
 * upstream-TTFB / gateway-overhead breakdown, error rate and per-provider figures.
 *
 * Every replica keeps its last {@link RING_CAPACITY} requests in a ring buffer. With the in-process
 * store (one node) the summary is exact (nearest rank over the raw samples). With Redis, each
 * replica also adds every sample to time-sliced log-bucket histograms that it publishes every
 * {@link CLUSTER_FLUSH_MS}; the summary merges every replica's slices (percentiles within ±2 %,
 * counts and error rates exact) and falls back to this replica's ring when Redis cannot be read.
 */
@Injectable()
export class TelemetryService implements OnModuleInit, OnModuleDestroy {
  private readonly log = new Logger(TelemetryService.name);
  private readonly ring: TelemetryRing;
  private readonly cluster?: ClusterTelemetry;
  private readonly now: () => number;
  private inFlight = 0;
  private timer?: NodeJS.Timeout;

  constructor(
    @Inject(KV_STORE) kv: KvStore,
    @Optional() @Inject(TELEMETRY_OPTIONS) opts: TelemetryOptions = {},
  ) {
    this.ring = new TelemetryRing(opts.capacity ?? RING_CAPACITY);
    this.now = opts.now ?? Date.now;
    if (opts.shared ?? kv.kind === 'redis') {
      const id = opts.replicaId ?? `${hostname()}:${process.pid}:${randomBytes(3).toString('hex')}`;
      this.cluster = new ClusterTelemetry(kv, id);
    }
  }

  onModuleInit(): void {
    if (this.cluster) {
      this.timer = setInterval(() => void this.flush(), CLUSTER_FLUSH_MS);
      this.timer.unref();
    }
  }

  async onModuleDestroy(): Promise<void> {
    clearInterval(this.timer);
    if (this.cluster) {
      await this.flush();
      await this.cluster.leave().catch(() => undefined);
    }
  }

  /** Records one finished request. Synchronous and O(1): a few typed-array writes. */
  record(e: TelemetrySample): void {
    const at = this.now();
    const sample: TelemetrySample = {
      provider: e.provider || 'none',
      surface: e.surface || 'other',
      status: Number.isInteger(e.status) && e.status >= 0 && e.status <= 65_535 ? e.status : 0,
      totalMs: clampMs(e.totalMs) ?? 0,
      ttfbMs: clampMs(e.ttfbMs),
      overheadMs: clampMs(e.overheadMs),
    };
    this.ring.push(at, sample);
    this.cluster?.record(at, sample);
  }

  /** A request started (counts in `activeConnections` until {@link end}). */
  begin(): void {
    this.inFlight++;
  }

  /** A request begun with {@link begin} finished (never goes below zero). */
  end(): void {
    if (this.inFlight > 0) {
      this.inFlight--;
    }
  }

  /** Requests in flight on this replica. */
  get activeConnections(): number {
    return this.inFlight;
  }

  /** Whether the summary merges every replica (shared Redis store) or covers this one only. */
  get shared(): boolean {
    return this.cluster !== undefined;
  }

  /** Publishes this replica's slices now (no-op with the in-process store). Never throws. */
  async flush(): Promise<void> {
    await this.cluster?.flush(this.now(), this.inFlight);
  }

  /** The summary over the last `windowMs`: the whole gateway when shared, else this replica. */
  async summary(windowMs: number = DEFAULT_WINDOW_MS): Promise<TelemetrySummary> {
    if (!this.cluster) {
      return this.localSummary(windowMs);
    }
    const now = this.now();
    try {
      await this.cluster.flush(now, this.inFlight);
      const [read, presence] = await Promise.all([
        this.cluster.read(windowMs, now),
        this.cluster.presence(now, this.inFlight),
      ]);
      const replicas = new Set([...read.replicas, ...presence.replicas]);
      return this.assemble(histogramFigures(read.cells), {
        windowMs,
        from: read.from,
        to: now,
        activeConnections: presence.inFlight,
        scope: 'cluster',
        replicas: replicas.size,
      });
    } catch (e) {
      this.log.warn(`telemetry: shared store unreadable, answering for this replica: ${String(e)}`);
      return this.localSummary(windowMs, now);
    }
  }

  /**
   * This replica's exact summary. When the window reaches past the ring's oldest sample while the
   * ring is full, `window.from` is that sample's time: the figures cover only what was kept.
   */
  localSummary(windowMs: number = DEFAULT_WINDOW_MS, now: number = this.now()): TelemetrySummary {
    let from = now - windowMs;
    const oldest = this.ring.oldest();
    if (this.ring.size === this.ring.capacity && oldest !== undefined && oldest > from) {
      from = oldest;
    }
    return this.assemble(exactFigures(this.ring.between(from, now)), {
      windowMs,
      from,
      to: now,
      activeConnections: this.inFlight,
      scope: 'replica',
      replicas: 1,
    });
  }

  private assemble(
    f: LatencyFigures,
    w: {
      windowMs: number;
      from: number;
      to: number;
      activeConnections: number;
      scope: 'replica' | 'cluster';
      replicas: number;
    },
  ): TelemetrySummary {
    return {
      count: f.count,
      avg: f.avg,
      p50: f.p50,
      p95: f.p95,
      p99: f.p99,
      phaseBreakdown: f.phaseBreakdown,
      totalRequests: f.count,
      avgLatencyMs: f.avg,
      errorRate: f.errorRate,
      uptime: Math.floor(process.uptime()),
      memoryUsage: process.memoryUsage(),
      activeConnections: w.activeConnections,
      window: {
        ms: w.windowMs,
        from: new Date(w.from).toISOString(),
        to: new Date(w.to).toISOString(),
      },
      providers: f.providers,
      surfaces: f.surfaces,
      scope: w.scope,
      replicas: w.replicas,
    };
  }
}

/** A finite non-negative duration, or null. */
function clampMs(v: number | null): number | null {
  if (v === null || !Number.isFinite(v)) {
    return null;
  }
  return v < 0 ? 0 : v;
}
