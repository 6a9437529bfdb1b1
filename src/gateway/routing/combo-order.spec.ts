import fc from 'fast-check';
import { byKey, leastUsedOrder, rotate, shuffle, weightedOrder } from './combo-order';

/** A deterministic random source (mulberry32), so distributions are reproducible. */
function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Same elements, same multiplicities (compared by identity). */
function isPermutation<T>(out: readonly T[], input: readonly T[]): boolean {
  if (out.length !== input.length) {
    return false;
  }
  const left = [...input];
  for (const x of out) {
    const i = left.indexOf(x);
    if (i < 0) {
      return false;
    }
    left.splice(i, 1);
  }
  return true;
}

/** Distinct objects, so a permutation check by identity catches duplicates. */
const targets = (max = 8) =>
  fc
    .array(fc.integer({ min: 0, max: 100 }), { maxLength: max })
    .map((ws) => ws.map((weight, i) => ({ name: `t${i}`, weight })));

/** A stand-in for `Math.random` with the values V8 can return (k / 2^52). */
const unit = fc.integer({ min: 0, max: 2 ** 52 - 1 }).map((k) => k / 2 ** 52);

describe(rotate.name, () => {
  it('returns an empty list for no items', () => {
    expect(rotate([], 3)).toEqual([]);
  });

  it('puts the start item first and keeps the declared order after it', () => {
    expect(rotate(['a', 'b', 'c'], 0)).toEqual(['a', 'b', 'c']);
    expect(rotate(['a', 'b', 'c'], 1)).toEqual(['b', 'c', 'a']);
    expect(rotate(['a', 'b', 'c'], 2)).toEqual(['c', 'a', 'b']);
  });

  it('wraps starts beyond the length and negative starts', () => {
    expect(rotate(['a', 'b', 'c'], 4)).toEqual(['b', 'c', 'a']);
    expect(rotate(['a', 'b', 'c'], -1)).toEqual(['c', 'a', 'b']);
    expect(rotate(['a', 'b', 'c'], -4)).toEqual(['c', 'a', 'b']);
  });

  it('returns a new array without touching the input', () => {
    const items = ['a', 'b'];
    const out = rotate(items, 0);
    expect(out).not.toBe(items);
    expect(items).toEqual(['a', 'b']);
  });

  it('always returns a permutation starting at start mod length', () => {
    fc.assert(
      fc.property(targets(), fc.integer({ min: -1000, max: 1000 }), (items, start) => {
        const out = rotate(items, start);
        expect(isPermutation(out, items)).toBe(true);
        if (items.length) {
          const s = ((start % items.length) + items.length) % items.length;
          expect(out[0]).toBe(items[s]);
        }
      }),
    );
  });
});

describe(shuffle.name, () => {
  it('is deterministic for a seeded random source', () => {
    const items = ['a', 'b', 'c', 'd', 'e', 'f'];
    expect(shuffle(items, seeded(42))).toEqual(shuffle(items, seeded(42)));
  });

  it('keeps the order when every draw picks the current slot', () => {
    expect(shuffle(['a', 'b', 'c', 'd'], () => 0.999999)).toEqual(['a', 'b', 'c', 'd']);
  });

  it('does not mutate its input', () => {
    const items = ['a', 'b', 'c', 'd'];
    shuffle(items, seeded(1));
    expect(items).toEqual(['a', 'b', 'c', 'd']);
  });

  it('puts every item first about equally often', () => {
    const random = seeded(7);
    const firsts = new Map<string, number>();
    const runs = 12_000;
    for (let i = 0; i < runs; i++) {
      const first = shuffle(['a', 'b', 'c', 'd'], random)[0];
      firsts.set(first, (firsts.get(first) ?? 0) + 1);
    }
    for (const k of ['a', 'b', 'c', 'd']) {
      expect((firsts.get(k) ?? 0) / runs).toBeCloseTo(0.25, 1);
    }
  });

  it('always returns a permutation', () => {
    fc.assert(
      fc.property(targets(), fc.integer(), (items, seed) => {
        expect(isPermutation(shuffle(items, seeded(seed)), items)).toBe(true);
      }),
    );
  });
});

describe(weightedOrder.name, () => {
  const w = (...weights: number[]) => weights.map((weight, i) => ({ name: `t${i}`, weight }));
  const names = (xs: readonly { name: string }[]) => xs.map((x) => x.name);

  it('returns a copy of lists shorter than two', () => {
    const one = w(5);
    expect(weightedOrder([])).toEqual([]);
    expect(weightedOrder(one)).toEqual(one);
    expect(weightedOrder(one)).not.toBe(one);
  });

  it('draws the first target in proportion to the weights', () => {
    // r = random × total, then the first cumulative weight above r.
    expect(names(weightedOrder(w(1, 3), () => 0.2))).toEqual(['t0', 't1']);
    expect(names(weightedOrder(w(1, 3), () => 0.25))).toEqual(['t1', 't0']);
    expect(names(weightedOrder(w(1, 3), () => 0.99))).toEqual(['t1', 't0']);
  });

  it('orders the others heaviest first, declared order among equal weights', () => {
    expect(names(weightedOrder(w(1, 5, 2, 5, 0), () => 0))).toEqual(['t0', 't1', 't3', 't2', 't4']);
  });

  it('draws uniformly when every weight is zero', () => {
    expect(names(weightedOrder(w(0, 0, 0, 0), () => 0))).toEqual(['t0', 't1', 't2', 't3']);
    expect(names(weightedOrder(w(0, 0, 0, 0), () => 0.5))).toEqual(['t2', 't0', 't1', 't3']);
    expect(names(weightedOrder(w(0, 0, 0, 0), () => 0.99))).toEqual(['t3', 't0', 't1', 't2']);
  });

  it('treats negative weights as zero when drawing', () => {
    for (const r of [0, 0.3, 0.6, 0.999]) {
      expect(weightedOrder(w(-5, 2), () => r)[0].name).toBe('t1');
    }
  });

  it('follows the weights over many draws', () => {
    const random = seeded(2024);
    const items = w(1, 2, 7);
    const counts = [0, 0, 0];
    const runs = 20_000;
    for (let i = 0; i < runs; i++) {
      counts[Number(weightedOrder(items, random)[0].name.slice(1))]++;
    }
    expect(counts[0] / runs).toBeCloseTo(0.1, 1);
    expect(counts[1] / runs).toBeCloseTo(0.2, 1);
    expect(counts[2] / runs).toBeCloseTo(0.7, 1);
  });

  it('spreads all-zero weights evenly over many draws', () => {
    const random = seeded(99);
    const items = w(0, 0, 0);
    const counts = [0, 0, 0];
    const runs = 9_000;
    for (let i = 0; i < runs; i++) {
      counts[Number(weightedOrder(items, random)[0].name.slice(1))]++;
    }
    for (const c of counts) {
      expect(c / runs).toBeCloseTo(1 / 3, 1);
    }
  });

  it('always returns a permutation', () => {
    fc.assert(
      fc.property(targets(), unit, (items, r) => {
        expect(
          isPermutation(
            weightedOrder(items, () => r),
            items,
          ),
        ).toBe(true);
      }),
    );
  });

  it('never draws a zero-weight target first while some weight is positive (integer weights)', () => {
    fc.assert(
      fc.property(targets(), unit, (items, r) => {
        fc.pre(items.some((t) => t.weight > 0));
        expect(weightedOrder(items, () => r)[0].weight).toBeGreaterThan(0);
      }),
    );
  });

  // Bug: with fractional weights (combo steps accept any number from 0 to 100), `random() × total`
  // can be left >= 0 after subtracting every weight (rounding), and the loop then falls through to
  // `chosen = last index` even when that target weighs 0. Math.random() can return 1 - 2^-52.
  it('never draws a zero-weight target first (fractional weights, random near 1)', () => {
    expect(weightedOrder(w(0.7, 2.2, 0), () => 1 - 2 ** -52)[0].weight).toBeGreaterThan(0);
  });
});

describe(byKey.name, () => {
  const items = [
    { name: 'a', k: 30 },
    { name: 'b', k: undefined },
    { name: 'c', k: 10 },
    { name: 'd', k: Number.NaN },
    { name: 'e', k: 10 },
    { name: 'f', k: Number.POSITIVE_INFINITY },
  ];
  const key = (t: { k: number | undefined }) => t.k;
  const names = (xs: readonly { name: string }[]) => xs.map((x) => x.name);

  it('sorts ascending by key, declared order among equal keys, unknown ones first', () => {
    expect(names(byKey(items, key, true))).toEqual(['b', 'd', 'f', 'c', 'e', 'a']);
  });

  it('puts the unknown ones last (in declared order) when unknownFirst is false', () => {
    expect(names(byKey(items, key, false))).toEqual(['c', 'e', 'a', 'b', 'd', 'f']);
  });

  it('returns an empty list for no items', () => {
    expect(byKey([], key, true)).toEqual([]);
  });

  it('always returns a permutation with the known keys ascending', () => {
    fc.assert(
      fc.property(
        fc.array(fc.option(fc.integer({ min: -50, max: 50 }), { nil: undefined }), {
          maxLength: 10,
        }),
        fc.boolean(),
        (ks, unknownFirst) => {
          const xs = ks.map((k, i) => ({ name: `t${i}`, k }));
          const out = byKey(xs, key, unknownFirst);
          expect(isPermutation(out, xs)).toBe(true);
          const known = out.filter((x) => x.k !== undefined).map((x) => x.k as number);
          expect(known).toEqual([...known].sort((a, b) => a - b));
          const unknownAt = out.map((x, i) => (x.k === undefined ? i : -1)).filter((i) => i >= 0);
          const expected = unknownFirst
            ? unknownAt.map((_, j) => j)
            : unknownAt.map((_, j) => out.length - unknownAt.length + j);
          expect(unknownAt).toEqual(expected);
        },
      ),
    );
  });
});

describe(leastUsedOrder.name, () => {
  it('returns an empty list for no items', () => {
    expect(leastUsedOrder([], 0, [])).toEqual([]);
  });

  it('puts the picked item first, then the rest by fewest uses, declared order among equals', () => {
    expect(leastUsedOrder(['a', 'b', 'c', 'd', 'e'], 2, [5, 3, 0, 3, 1])).toEqual([
      'c',
      'e',
      'b',
      'd',
      'a',
    ]);
  });

  it('counts a missing count as zero', () => {
    expect(leastUsedOrder(['a', 'b', 'c'], 0, [4, 2])).toEqual(['a', 'c', 'b']);
  });

  it('always returns a permutation headed by the picked item', () => {
    fc.assert(
      fc.property(
        fc
          .array(fc.nat(20), { minLength: 1, maxLength: 10 })
          .chain((counts) =>
            fc.tuple(fc.constant(counts), fc.integer({ min: 0, max: counts.length - 1 })),
          ),
        ([counts, index]) => {
          const items = counts.map((_, i) => ({ i }));
          const out = leastUsedOrder(items, index, counts);
          expect(isPermutation(out, items)).toBe(true);
          expect(out[0]).toBe(items[index]);
          const rest = out.slice(1).map((x) => counts[x.i]);
          expect(rest).toEqual([...rest].sort((a, b) => a - b));
        },
      ),
    );
  });
});
