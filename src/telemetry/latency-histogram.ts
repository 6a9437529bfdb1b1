/**
 * Latency distributions for the telemetry summary: exact (a sorted list, one replica) or a fixed
 * log-spaced histogram (mergeable across replicas through the key-value store).
 */

/** Nearest-rank index of percentile `p` in `n` sorted values: `ceil(p/100·n) − 1`. */
export function nearestRank(p: number, n: number): number {
  return Math.min(n - 1, Math.max(0, Math.ceil((p / 100) * n) - 1));
}

/** What the summary needs of a distribution, whichever way it is kept. */
export interface Distribution {
  readonly count: number;
  /** Mean in ms (0 when empty). */
  avg(): number;
  /** Nearest-rank percentile in ms (0 when empty). */
  percentile(p: number): number;
}

/** Exact nearest-rank percentiles over raw values (sorted once, on the first read). */
export class SortedDistribution implements Distribution {
  private sorted = false;
  private sum = 0;

  constructor(private readonly values: number[] = []) {
    for (const v of values) {
      this.sum += v;
    }
  }

  get count(): number {
    return this.values.length;
  }

  add(v: number): void {
    this.values.push(v);
    this.sum += v;
    this.sorted = false;
  }

  avg(): number {
    return this.values.length ? this.sum / this.values.length : 0;
  }

  percentile(p: number): number {
    if (!this.values.length) {
      return 0;
    }
    if (!this.sorted) {
      this.values.sort((a, b) => a - b);
      this.sorted = true;
    }
    return this.values[nearestRank(p, this.values.length)];
  }
}

/** Lowest bucket bound: everything at or below 10 µs shares bucket 0. */
export const HIST_MIN_MS = 0.01;
/** Each bucket is 4 % wider than the previous one: a percentile is within ±2 % of the truth. */
export const HIST_FACTOR = 1.04;
/** Highest finite bound: 10 minutes. Slower values land in one overflow bucket. */
export const HIST_MAX_MS = 600_000;
const LOG_FACTOR = Math.log(HIST_FACTOR);
/** Index of the bucket whose upper bound is ≥ HIST_MAX_MS; `LAST_BUCKET + 1` is the overflow. */
export const LAST_BUCKET = Math.ceil(Math.log(HIST_MAX_MS / HIST_MIN_MS) / LOG_FACTOR);

/** Bucket `i ≥ 1` holds (MIN·F^(i−1), MIN·F^i]; bucket 0 holds [0, MIN]. O(1). */
export function bucketOf(ms: number): number {
  if (!(ms > HIST_MIN_MS)) {
    return 0; // also NaN and negatives
  }
  const i = Math.ceil(Math.log(ms / HIST_MIN_MS) / LOG_FACTOR);
  return i > LAST_BUCKET ? LAST_BUCKET + 1 : i;
}

/** The value reported for a bucket: its geometric midpoint (the histogram's min/max clamp it). */
export function bucketValue(i: number): number {
  if (i <= 0) {
    return HIST_MIN_MS;
  }
  if (i > LAST_BUCKET) {
    return Number.POSITIVE_INFINITY;
  }
  return HIST_MIN_MS * Math.pow(HIST_FACTOR, i - 0.5);
}

/** Wire form: `[count, sum, min, max, bucket, n, bucket, n, …]` (non-empty buckets only). */
export type HistogramWire = number[];

/**
 * A sparse log-bucket histogram with an exact count, sum, min and max. Merging two is adding
 * them, so every replica can publish its own and any replica can answer for all of them.
 */
export class LatencyHistogram implements Distribution {
  count = 0;
  sum = 0;
  min = Number.POSITIVE_INFINITY;
  max = 0;
  private readonly buckets = new Map<number, number>();

  add(ms: number): void {
    const v = Number.isFinite(ms) && ms > 0 ? ms : 0;
    this.count++;
    this.sum += v;
    if (v < this.min) {
      this.min = v;
    }
    if (v > this.max) {
      this.max = v;
    }
    const b = bucketOf(v);
    this.buckets.set(b, (this.buckets.get(b) ?? 0) + 1);
  }

  merge(other: LatencyHistogram): void {
    if (!other.count) {
      return;
    }
    this.count += other.count;
    this.sum += other.sum;
    this.min = Math.min(this.min, other.min);
    this.max = Math.max(this.max, other.max);
    for (const [b, n] of other.buckets) {
      this.buckets.set(b, (this.buckets.get(b) ?? 0) + n);
    }
  }

  avg(): number {
    return this.count ? this.sum / this.count : 0;
  }

  /**
   * Nearest rank over the buckets: the bucket's midpoint, clamped to the observed min and max
   * (the first and last ranks are the exact min and max).
   */
  percentile(p: number): number {
    if (!this.count) {
      return 0;
    }
    const rank = nearestRank(p, this.count) + 1;
    if (rank === this.count) {
      return this.max;
    }
    if (rank === 1) {
      return this.min;
    }
    const ordered = [...this.buckets.keys()].sort((a, b) => a - b);
    let seen = 0;
    let bucket = ordered[ordered.length - 1];
    for (const b of ordered) {
      seen += this.buckets.get(b) ?? 0;
      if (seen >= rank) {
        bucket = b;
        break;
      }
    }
    return Math.min(this.max, Math.max(this.min, bucketValue(bucket)));
  }

  toWire(): HistogramWire {
    const out: number[] = [this.count, this.sum, this.count ? this.min : 0, this.max];
    for (const [b, n] of this.buckets) {
      out.push(b, n);
    }
    return out;
  }

  /** Parses a wire form; anything malformed gives an empty histogram rather than a throw. */
  static fromWire(wire: unknown): LatencyHistogram {
    const h = new LatencyHistogram();
    if (!Array.isArray(wire) || wire.length < 4 || wire.length % 2 !== 0) {
      return h;
    }
    if (!wire.every((x) => typeof x === 'number' && Number.isFinite(x) && x >= 0)) {
      return h;
    }
    const nums = wire as number[];
    let total = 0;
    for (let i = 4; i < nums.length; i += 2) {
      const b = Math.floor(nums[i]);
      const n = Math.floor(nums[i + 1]);
      if (b > LAST_BUCKET + 1 || n <= 0) {
        continue;
      }
      h.buckets.set(b, (h.buckets.get(b) ?? 0) + n);
      total += n;
    }
    if (!total) {
      return h;
    }
    h.count = total;
    h.sum = nums[1];
    h.min = nums[2];
    h.max = nums[3];
    return h;
  }
}
