/**
 * Test helpers shared by the dialect specs (not part of the build: `*.testing.ts` is excluded).
 * Seeded randomness keeps every "random" chunking or mutation the same on every run.
 */

/** mulberry32: a tiny seeded PRNG. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** `buf` cut at the given byte offsets (deduplicated, sorted, out-of-range ones ignored). */
export function splitAt(buf: Buffer, cuts: number[]): Buffer[] {
  const points = [...new Set(cuts)].filter((c) => c > 0 && c < buf.length).sort((x, y) => x - y);
  const out: Buffer[] = [];
  let prev = 0;
  for (const c of points) {
    out.push(buf.subarray(prev, c));
    prev = c;
  }
  out.push(buf.subarray(prev));
  return out;
}

/** `count` random cut points inside a buffer of `length` bytes. */
export function randomCuts(rand: () => number, length: number, count: number): number[] {
  return Array.from({ length: count }, () => 1 + Math.floor(rand() * (length - 1)));
}

export const byteByByte = (buf: Buffer): Buffer[] =>
  Array.from(buf, (_, i) => buf.subarray(i, i + 1));

/** The error a call throws; fails the test when it returns instead. */
export function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (e) {
    return e;
  }
  throw new Error('expected the call to throw');
}
