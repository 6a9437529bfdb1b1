import type { KvStore } from '@/common/kv/kv-store';
import { HistogramCell } from './telemetry-stats';
import { OTHER, type TelemetrySample } from './telemetry-ring';

/**
 * Time-sliced histograms shared through the key-value store, so any replica answers the summary
 * for the whole gateway. Two tiers keep reads bounded: 10 s slices for windows up to an hour (at
 * most 361 slices), 5 min slices for windows up to a day (at most 289).
 */
export interface SliceTier {
  readonly name: string;
  readonly sliceMs: number;
  /** The longest window this tier answers; its slices live this long (plus two slices). */
  readonly horizonMs: number;
}

export const TIERS: readonly SliceTier[] = [
  { name: 's10', sliceMs: 10_000, horizonMs: 3_600_000 },
  { name: 'm5', sliceMs: 300_000, horizonMs: 86_400_000 },
];

/** The finest tier that covers `windowMs` (the coarsest for anything longer). */
export function tierFor(windowMs: number): SliceTier {
  return TIERS.find((t) => windowMs <= t.horizonMs) ?? TIERS[TIERS.length - 1];
}

export const sliceKey = (tier: SliceTier, start: number): string =>
  `telemetry:${tier.name}:${start}`;
/** Hash: replica id → `{inFlight, at}`, refreshed every flush. */
export const PRESENCE_KEY = 'telemetry:replicas';
/** A replica that has not flushed for this long is gone (crashed or scaled down). */
export const PRESENCE_STALE_MS = 15_000;
const PRESENCE_TTL_MS = 60_000;
/** (provider, surface) cells per slice; beyond, new providers are counted as `other`. */
const MAX_CELLS = 2048;

interface Slice {
  readonly tier: SliceTier;
  readonly start: number;
  readonly cells: Map<string, HistogramCell>;
  /** Changed since its last successful write. */
  dirty: boolean;
}

/** What one replica field of a slice hash holds. */
interface SlicePayload {
  v: 1;
  cells: unknown[];
}

export interface ClusterRead {
  cells: HistogramCell[];
  /** Start of the oldest slice read: the window actually covered starts here. */
  from: number;
  /** Replicas that contributed samples to the window. */
  replicas: Set<string>;
}

export interface ClusterPresence {
  /** In-flight requests summed over the live replicas (this one's live figure included). */
  inFlight: number;
  replicas: Set<string>;
}

/**
 * This replica's share of the shared telemetry: it adds every sample to the current slice of each
 * tier (O(1)), and `flush()` overwrites its own field of each changed slice's hash with the slice's
 * cumulative histograms (idempotent: a failed write is simply retried by the next flush). Only the
 * slices still being written are kept in memory.
 */
export class ClusterTelemetry {
  private readonly slices = new Map<string, Slice>();
  private readonly current: (Slice | undefined)[] = TIERS.map(() => undefined);
  private flushing: Promise<void> = Promise.resolve();

  constructor(
    private readonly kv: KvStore,
    readonly replicaId: string,
  ) {}

  record(at: number, s: TelemetrySample): void {
    const cellKey = `${s.provider}\u0000${s.surface}`;
    for (let t = 0; t < TIERS.length; t++) {
      const tier = TIERS[t];
      const start = at - (at % tier.sliceMs);
      let slice = this.current[t];
      if (!slice || slice.start !== start) {
        const id = `${tier.name}:${start}`;
        slice = this.slices.get(id);
        if (!slice) {
          slice = { tier, start, cells: new Map(), dirty: true };
          this.slices.set(id, slice);
        }
        this.current[t] = slice;
      }
      let cell = slice.cells.get(cellKey);
      if (!cell) {
        if (slice.cells.size >= MAX_CELLS) {
          const otherKey = `${OTHER}\u0000${s.surface}`;
          cell = slice.cells.get(otherKey) ?? new HistogramCell(OTHER, s.surface);
          slice.cells.set(otherKey, cell);
        } else {
          cell = new HistogramCell(s.provider, s.surface);
          slice.cells.set(cellKey, cell);
        }
      }
      cell.add(s);
      slice.dirty = true;
    }
  }

  /** Slices held in memory (the current ones and any not yet written): for tests. */
  get pendingSlices(): number {
    return this.slices.size;
  }

  /**
   * Writes every changed slice and this replica's presence. Never throws: a slice whose write
   * failed stays dirty for the next flush. Flushes run one after another.
   */
  flush(now: number, inFlight: number): Promise<void> {
    const run = this.flushing.then(() => this.flushNow(now, inFlight));
    this.flushing = run.catch(() => undefined);
    return this.flushing;
  }

  private async flushNow(now: number, inFlight: number): Promise<void> {
    const writes: Promise<void>[] = [];
    for (const [id, slice] of this.slices) {
      const { tier, start } = slice;
      const ended = start + tier.sliceMs <= now;
      if (start + tier.sliceMs + tier.horizonMs <= now) {
        this.slices.delete(id); // outside every window it could answer: drop even if unwritten
        continue;
      }
      if (!slice.dirty) {
        if (ended) {
          this.slices.delete(id);
        }
        continue;
      }
      slice.dirty = false;
      writes.push(
        this.write(slice).then(
          () => {
            if (ended && !slice.dirty) {
              this.slices.delete(id);
            }
          },
          () => {
            slice.dirty = true;
          },
        ),
      );
    }
    writes.push(
      this.kv
        .hset(PRESENCE_KEY, { [this.replicaId]: JSON.stringify({ inFlight, at: now }) })
        .then(() => this.kv.expire(PRESENCE_KEY, PRESENCE_TTL_MS))
        .then(
          () => undefined,
          () => undefined,
        ),
    );
    await Promise.all(writes);
    for (let t = 0; t < TIERS.length; t++) {
      const c = this.current[t];
      if (c && !this.slices.has(`${c.tier.name}:${c.start}`)) {
        this.current[t] = undefined;
      }
    }
  }

  private async write(slice: Slice): Promise<void> {
    const key = sliceKey(slice.tier, slice.start);
    const payload: SlicePayload = { v: 1, cells: [...slice.cells.values()].map((c) => c.toWire()) };
    await this.kv.hset(key, { [this.replicaId]: JSON.stringify(payload) });
    await this.kv.expire(key, slice.tier.horizonMs + 2 * slice.tier.sliceMs);
  }

  /** Every replica's cells of the slices overlapping [now − windowMs, now], merged. Throws on a KV error. */
  async read(windowMs: number, now: number): Promise<ClusterRead> {
    const tier = tierFor(windowMs);
    const first = Math.floor((now - windowMs) / tier.sliceMs) * tier.sliceMs;
    const keys: string[] = [];
    for (let start = first; start <= now; start += tier.sliceMs) {
      keys.push(sliceKey(tier, start));
    }
    const hashes = await Promise.all(keys.map((k) => this.kv.hgetall(k)));
    const cells = new Map<string, HistogramCell>();
    const replicas = new Set<string>();
    for (const hash of hashes) {
      for (const [replica, raw] of Object.entries(hash)) {
        let payload: SlicePayload;
        try {
          payload = JSON.parse(raw) as SlicePayload;
        } catch {
          continue;
        }
        if (payload?.v !== 1 || !Array.isArray(payload.cells)) {
          continue;
        }
        for (const wire of payload.cells) {
          const cell = HistogramCell.fromWire(wire);
          if (!cell || !cell.total.count) {
            continue;
          }
          replicas.add(replica);
          const key = `${cell.provider}\u0000${cell.surface}`;
          const merged = cells.get(key);
          if (merged) {
            merged.merge(cell);
          } else {
            cells.set(key, cell);
          }
        }
      }
    }
    return { cells: [...cells.values()], from: first, replicas };
  }

  /** Live replicas and their in-flight requests (this replica's own figure is `ownInFlight`). */
  async presence(now: number, ownInFlight: number): Promise<ClusterPresence> {
    const all = await this.kv.hgetall(PRESENCE_KEY);
    let inFlight = ownInFlight;
    const replicas = new Set<string>([this.replicaId]);
    for (const [replica, raw] of Object.entries(all)) {
      if (replica === this.replicaId) {
        continue;
      }
      try {
        const p = JSON.parse(raw) as { inFlight?: unknown; at?: unknown };
        if (typeof p.at === 'number' && p.at >= now - PRESENCE_STALE_MS) {
          replicas.add(replica);
          inFlight += typeof p.inFlight === 'number' && p.inFlight > 0 ? p.inFlight : 0;
        }
      } catch {
        /* a malformed entry is ignored */
      }
    }
    return { inFlight, replicas };
  }

  /** Removes this replica's presence (shutdown); its slices expire on their own. */
  async leave(): Promise<void> {
    await this.kv.hdel(PRESENCE_KEY, this.replicaId);
  }
}
