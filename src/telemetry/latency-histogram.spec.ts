import {
  HIST_MAX_MS,
  HIST_MIN_MS,
  LAST_BUCKET,
  LatencyHistogram,
  SortedDistribution,
  bucketOf,
  bucketValue,
  nearestRank,
} from './latency-histogram';

describe('nearestRank', () => {
  it('is ceil(p/100·n) − 1, clamped to the array', () => {
    expect(nearestRank(50, 100)).toBe(49);
    expect(nearestRank(95, 100)).toBe(94);
    expect(nearestRank(99, 100)).toBe(98);
    expect(nearestRank(50, 1)).toBe(0);
    expect(nearestRank(99, 3)).toBe(2);
    expect(nearestRank(0, 10)).toBe(0);
    expect(nearestRank(100, 10)).toBe(9);
  });
});

describe(SortedDistribution.name, () => {
  it('gives exact nearest-rank percentiles and the mean', () => {
    const d = new SortedDistribution();
    for (let i = 100; i >= 1; i--) {
      d.add(i);
    }
    expect(d.count).toBe(100);
    expect(d.percentile(50)).toBe(50);
    expect(d.percentile(95)).toBe(95);
    expect(d.percentile(99)).toBe(99);
    expect(d.avg()).toBe(50.5);
    d.add(1000);
    expect(d.percentile(100)).toBe(1000);
  });

  it('answers zeros when empty', () => {
    const d = new SortedDistribution();
    expect([d.count, d.avg(), d.percentile(50)]).toEqual([0, 0, 0]);
  });
});

describe('log buckets', () => {
  it('cover 10 µs .. 10 min with 4 % steps, and an overflow bucket', () => {
    expect(bucketOf(0)).toBe(0);
    expect(bucketOf(-5)).toBe(0);
    expect(bucketOf(Number.NaN)).toBe(0);
    expect(bucketOf(HIST_MIN_MS)).toBe(0);
    expect(bucketOf(HIST_MAX_MS)).toBeLessThanOrEqual(LAST_BUCKET);
    expect(bucketOf(HIST_MAX_MS * 10)).toBe(LAST_BUCKET + 1);
    expect(LAST_BUCKET).toBeLessThan(500);
    for (const v of [0.05, 0.3, 1, 7.5, 42, 999, 12_345, 300_000]) {
      const mid = bucketValue(bucketOf(v));
      expect(Math.abs(mid - v) / v).toBeLessThan(0.021);
    }
  });

  it('is monotonic', () => {
    let last = -1;
    for (let v = 0.001; v < HIST_MAX_MS * 2; v *= 1.013) {
      const b = bucketOf(v);
      expect(b).toBeGreaterThanOrEqual(last);
      last = b;
    }
  });
});

describe(LatencyHistogram.name, () => {
  /** A deterministic, skewed latency sample (ms). */
  function sample(n: number, seed = 1): number[] {
    const out: number[] = [];
    let x = seed;
    for (let i = 0; i < n; i++) {
      x = (x * 1_103_515_245 + 12_345) % 2_147_483_648;
      const u = x / 2_147_483_648;
      out.push(5 + Math.pow(u, 3) * 4_000);
    }
    return out;
  }

  it('gives percentiles within ±2 % of the exact nearest-rank ones', () => {
    const values = sample(5_000);
    const h = new LatencyHistogram();
    const exact = new SortedDistribution();
    for (const v of values) {
      h.add(v);
      exact.add(v);
    }
    expect(h.count).toBe(5_000);
    expect(h.avg()).toBeCloseTo(exact.avg(), 6);
    for (const p of [50, 95, 99]) {
      const truth = exact.percentile(p);
      expect(Math.abs(h.percentile(p) - truth) / truth).toBeLessThan(0.021);
    }
    expect(h.percentile(100)).toBe(Math.max(...values));
    expect(h.percentile(0)).toBe(Math.min(...values));
  });

  it('merges like adding the samples to one histogram', () => {
    const a = new LatencyHistogram();
    const b = new LatencyHistogram();
    const both = new LatencyHistogram();
    sample(300, 7).forEach((v, i) => {
      (i % 3 ? a : b).add(v);
      both.add(v);
    });
    a.merge(b);
    const [n, sum, min, max] = a.toWire();
    expect([n, min, max]).toEqual([both.count, both.min, both.max]);
    expect(sum).toBeCloseTo(both.sum, 6);
    for (const p of [50, 95, 99]) {
      expect(a.percentile(p)).toBe(both.percentile(p));
    }
  });

  it('round-trips its wire form and ignores malformed ones', () => {
    const h = new LatencyHistogram();
    [1, 2, 3, 250, 0.2].forEach((v) => h.add(v));
    const back = LatencyHistogram.fromWire(JSON.parse(JSON.stringify(h.toWire())));
    expect(back.count).toBe(5);
    expect(back.percentile(50)).toBe(h.percentile(50));
    expect(back.max).toBe(250);
    for (const bad of [null, 'x', [1, 2], [1, 2, 3, 4, 5], [1, 2, 3, 'x'], { a: 1 }]) {
      expect(LatencyHistogram.fromWire(bad).count).toBe(0);
    }
    expect(new LatencyHistogram().percentile(99)).toBe(0);
  });
});
