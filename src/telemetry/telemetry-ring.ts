/** One request as the chat pipeline reports it. Times in milliseconds. */
export interface TelemetrySample {
  /** Provider id of the connection that answered last (or `none` when no attempt was made). */
  provider: string;
  /** Client surface (`openai-chat`, `anthropic`, `responses`, `gemini`, `ollama`, …). */
  surface: string;
  /** HTTP status sent to the client (499 when it went away). */
  status: number;
  /** Request start to the handler's end (streams: to the last byte). */
  totalMs: number;
  /** Upstream time to first byte; null when no upstream answered. */
  ttfbMs: number | null;
  /** Time spent in the gateway before the upstream call; null when no attempt was made. */
  overheadMs: number | null;
}

/** A sample counts as an error when it is a 5xx or a 429 (what errorRate counts). */
export function isErrorStatus(status: number): boolean {
  return status >= 500 || status === 429;
}

/** Names interned per ring; past this many distinct ones, new names are kept as `other`. */
const MAX_NAMES = 4096;
export const OTHER = 'other';

/** A bounded string → small-integer table (provider and surface ids stored in typed arrays). */
class Interner {
  readonly names: string[] = [OTHER];
  private readonly ids = new Map<string, number>([[OTHER, 0]]);

  id(name: string): number {
    const known = this.ids.get(name);
    if (known !== undefined) {
      return known;
    }
    if (this.names.length >= MAX_NAMES) {
      return 0;
    }
    const id = this.names.length;
    this.names.push(name);
    this.ids.set(name, id);
    return id;
  }
}

/** One retained sample, as read back from the ring. */
export interface RingEntry extends TelemetrySample {
  at: number;
}

/**
 * The last `capacity` requests of this replica in preallocated typed arrays: recording is a few
 * array writes (no allocation, O(1)) and memory is fixed (~40 bytes a slot).
 */
export class TelemetryRing {
  private readonly at: Float64Array;
  private readonly total: Float64Array;
  /** NaN stands for null. */
  private readonly ttfb: Float64Array;
  private readonly overhead: Float64Array;
  private readonly status: Uint16Array;
  private readonly provider: Uint16Array;
  private readonly surface: Uint16Array;
  private readonly providers = new Interner();
  private readonly surfaces = new Interner();
  /** Next slot to write. */
  private head = 0;
  private filled = 0;

  constructor(readonly capacity = 10_000) {
    this.at = new Float64Array(capacity);
    this.total = new Float64Array(capacity);
    this.ttfb = new Float64Array(capacity);
    this.overhead = new Float64Array(capacity);
    this.status = new Uint16Array(capacity);
    this.provider = new Uint16Array(capacity);
    this.surface = new Uint16Array(capacity);
  }

  get size(): number {
    return this.filled;
  }

  push(at: number, s: TelemetrySample): void {
    const i = this.head;
    this.at[i] = at;
    this.total[i] = s.totalMs;
    this.ttfb[i] = s.ttfbMs ?? Number.NaN;
    this.overhead[i] = s.overheadMs ?? Number.NaN;
    this.status[i] = s.status;
    this.provider[i] = this.providers.id(s.provider);
    this.surface[i] = this.surfaces.id(s.surface);
    this.head = i + 1 === this.capacity ? 0 : i + 1;
    if (this.filled < this.capacity) {
      this.filled++;
    }
  }

  /** Time of the oldest retained sample (undefined when empty). */
  oldest(): number | undefined {
    if (!this.filled) {
      return undefined;
    }
    return this.at[this.filled < this.capacity ? 0 : this.head];
  }

  /** Every retained sample recorded in [from, to], oldest first. */
  *between(from: number, to: number): Generator<RingEntry> {
    const start = this.filled < this.capacity ? 0 : this.head;
    for (let k = 0; k < this.filled; k++) {
      const i = (start + k) % this.capacity;
      const at = this.at[i];
      if (at < from || at > to) {
        continue;
      }
      const ttfb = this.ttfb[i];
      const overhead = this.overhead[i];
      yield {
        at,
        provider: this.providers.names[this.provider[i]],
        surface: this.surfaces.names[this.surface[i]],
        status: this.status[i],
        totalMs: this.total[i],
        ttfbMs: Number.isNaN(ttfb) ? null : ttfb,
        overheadMs: Number.isNaN(overhead) ? null : overhead,
      };
    }
  }
}
