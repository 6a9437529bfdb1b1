const cache = new Map<string, RegExp>();

function globToRegExp(glob: string): RegExp {
  let re = cache.get(glob);
  if (!re) {
    re = new RegExp(
      `^${glob
        .replace(/[.+^${}()|[\]\\]/g, '\\$&')
        .replace(/\*/g, '.*')
        .replace(/\?/g, '.')}$`,
    );
    if (cache.size > 5000) {
      cache.clear();
    }
    cache.set(glob, re);
  }
  return re;
}

/** Empty list: everything allowed. Otherwise exact ids or globs (`openai/*`, `*-mini`), case-sensitive like model ids. */
export function isModelAllowed(allowed: readonly string[], ...names: string[]): boolean {
  if (!allowed.length) {
    return true;
  }
  return allowed.some((pattern) =>
    names.some((n) =>
      pattern.includes('*') || pattern.includes('?')
        ? globToRegExp(pattern).test(n)
        : pattern === n,
    ),
  );
}
