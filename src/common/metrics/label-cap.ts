/** The label value that stands for every value past a cap. */
export const OVERFLOW_LABEL = 'other';
/** The label value for "no value" (no API key, no model). */
export const NONE_LABEL = 'none';
/** Longest label value kept; longer ones are cut (label values are held per series). */
export const MAX_LABEL_LENGTH = 128;

/**
 * Bounds the cardinality of one label: the first `limit` distinct values are kept as they are,
 * every later new value becomes `other`. Values already admitted stay admitted (a series never
 * changes its label mid-life); the set lives as long as the registry.
 */
export class LabelCap {
  private readonly admitted = new Set<string>();

  constructor(readonly limit: number) {}

  /** The label value to use for `raw` (null, undefined or empty → `none`). */
  value(raw: string | null | undefined): string {
    if (!raw) {
      return NONE_LABEL;
    }
    const v = raw.length > MAX_LABEL_LENGTH ? raw.slice(0, MAX_LABEL_LENGTH) : raw;
    if (v === NONE_LABEL || v === OVERFLOW_LABEL || this.admitted.has(v)) {
      return v;
    }
    if (this.admitted.size >= this.limit) {
      return OVERFLOW_LABEL;
    }
    this.admitted.add(v);
    return v;
  }

  /** Distinct values admitted so far (at most `limit`). */
  get size(): number {
    return this.admitted.size;
  }
}
