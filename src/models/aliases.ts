/** Pure model-alias logic: validation and lookup (exact name, then the most specific glob). */

export type AliasMap = Record<string, string>;

const ALIAS_RE = /^[A-Za-z0-9._:*-]{1,100}$/;
const FORBIDDEN = new Set(['__proto__', 'constructor', 'prototype']);

/** Why an alias name is refused, or undefined when it is fine. */
export function aliasProblem(alias: unknown): string | undefined {
  if (typeof alias !== 'string' || !ALIAS_RE.test(alias)) {
    return 'alias must be 1-100 characters of letters, digits, . _ : - or * (no "/")';
  }
  if (FORBIDDEN.has(alias)) {
    return `"${alias}" is not allowed as an alias`;
  }
  if (/^\*+$/.test(alias)) {
    return 'an alias must contain more than wildcards';
  }
  return undefined;
}

/** The stored map, cleaned of anything a hand edit may have broken. */
export function sanitizeAliases(raw: unknown): AliasMap {
  const out: AliasMap = {};
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) {
    return out;
  }
  for (const [alias, target] of Object.entries(raw)) {
    if (!aliasProblem(alias) && typeof target === 'string' && target && target.length <= 300) {
      out[alias] = target;
    }
  }
  return out;
}

interface Glob {
  alias: string;
  re: RegExp;
  /** Characters that are not `*`: more is more specific. */
  literal: number;
  target: string;
}

/**
 * A lookup table over an alias map: exact names first (case-sensitive, then case-insensitive),
 * then glob aliases (`*` matches any run of characters; the one with the most literal characters
 * wins, ties by name).
 */
export class AliasIndex {
  private readonly folded = new Map<string, { alias: string; target: string }>();
  private readonly globs: Glob[] = [];

  constructor(readonly map: AliasMap) {
    for (const [alias, target] of Object.entries(map)) {
      if (alias.includes('*')) {
        const re = new RegExp(
          `^${alias
            .split('*')
            .map((p) => p.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'))
            .join('.*')}$`,
          'i',
        );
        this.globs.push({ alias, re, literal: alias.replace(/\*/g, '').length, target });
      } else if (!this.folded.has(alias.toLowerCase())) {
        this.folded.set(alias.toLowerCase(), { alias, target });
      }
    }
    this.globs.sort((a, b) => b.literal - a.literal || a.alias.localeCompare(b.alias));
  }

  /** The alias that names `model` (its target and whether it matched a glob), if any. */
  lookup(model: string): { alias: string; target: string } | undefined {
    const target = Object.hasOwn(this.map, model) ? this.map[model] : undefined;
    if (target !== undefined && !model.includes('*')) {
      return { alias: model, target };
    }
    const hit = this.folded.get(model.toLowerCase());
    if (hit) {
      return hit;
    }
    const g = this.globs.find((x) => x.re.test(model));
    return g ? { alias: g.alias, target: g.target } : undefined;
  }
}
