/**
 * The order in which a combo's targets are tried, per strategy (reference §5.3). Pure: the shared
 * inputs (the round-robin counter, usage counts, live latencies, prices) are fetched by the caller.
 */
export interface Orderable {
  weight: number;
}

/** Rotates so that `start` comes first, keeping the declared order after it. */
export function rotate<T>(items: readonly T[], start: number): T[] {
  if (!items.length) {
    return [];
  }
  const s = ((start % items.length) + items.length) % items.length;
  return [...items.slice(s), ...items.slice(0, s)];
}

/** Fisher–Yates with an injectable random source. */
export function shuffle<T>(items: readonly T[], random: () => number = Math.random): T[] {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [out[i], out[j]] = [out[j], out[i]];
  }
  return out;
}

/**
 * `weighted`: one target drawn with probability ∝ weight (uniform when every weight is 0), then
 * the others by weight, heaviest first (declared order among equals).
 */
export function weightedOrder<T extends Orderable>(
  items: readonly T[],
  random: () => number = Math.random,
): T[] {
  if (items.length < 2) {
    return [...items];
  }
  const total = items.reduce((s, t) => s + Math.max(0, t.weight), 0);
  let chosen = 0;
  if (total <= 0) {
    chosen = Math.floor(random() * items.length);
  } else {
    let r = random() * total;
    chosen = -1;
    for (let i = 0; i < items.length; i++) {
      r -= Math.max(0, items[i].weight);
      if (r < 0) {
        chosen = i;
        break;
      }
    }
    if (chosen < 0) {
      // rounding left r ≥ 0 after every weight: the last target that has a weight
      chosen = items.reduce((last, t, i) => (t.weight > 0 ? i : last), 0);
    }
  }
  const rest = items
    .map((t, i) => ({ t, i }))
    .filter((x) => x.i !== chosen)
    .sort((a, b) => b.t.weight - a.t.weight || a.i - b.i)
    .map((x) => x.t);
  return [items[chosen], ...rest];
}

/**
 * Ascending by a numeric key; items without a key keep their declared order and go first
 * (`unknownFirst`, so an unmeasured target gets measured) or last.
 */
export function byKey<T>(
  items: readonly T[],
  key: (t: T) => number | undefined,
  unknownFirst: boolean,
): T[] {
  const known: { t: T; k: number; i: number }[] = [];
  const unknown: T[] = [];
  items.forEach((t, i) => {
    const k = key(t);
    if (k === undefined || !Number.isFinite(k)) {
      unknown.push(t);
    } else {
      known.push({ t, k, i });
    }
  });
  const sorted = known.sort((a, b) => a.k - b.k || a.i - b.i).map((x) => x.t);
  return unknownFirst ? [...unknown, ...sorted] : [...sorted, ...unknown];
}

/** `least-used`: the picked one first, then the rest by their counts (fewest first). */
export function leastUsedOrder<T>(items: readonly T[], index: number, counts: number[]): T[] {
  if (!items.length) {
    return [];
  }
  const rest = items
    .map((t, i) => ({ t, i, c: counts[i] ?? 0 }))
    .filter((x) => x.i !== index)
    .sort((a, b) => a.c - b.c || a.i - b.i)
    .map((x) => x.t);
  return [items[index], ...rest];
}
