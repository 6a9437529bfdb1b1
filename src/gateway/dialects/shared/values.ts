/**
 * Lenient readers of parsed JSON shared by the dialect mappers: they never throw, a value of the
 * wrong kind reads as absent (or zero / empty).
 */

export type Obj = Record<string, unknown>;

/** A plain JSON object (not null, not an array). */
export function isObj(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** A string, or `''` for anything else. */
export const str = (v: unknown): string => (typeof v === 'string' ? v : '');

/** A finite number, or `undefined` for anything else. */
export const optNum = (v: unknown): number | undefined =>
  typeof v === 'number' && Number.isFinite(v) ? v : undefined;

/** A token count: a positive finite number rounded down, else 0. */
export function count(v: unknown): number {
  return typeof v === 'number' && Number.isFinite(v) && v > 0 ? Math.floor(v) : 0;
}
