/**
 * `p`, or a rejection after `ms`: how a request bounds its wait on the shared store for an
 * optional check (cache, idempotency, session limits, key limits). A late failure of `p` after
 * the time ran out is not an unhandled rejection.
 */
export function within<T>(p: Promise<T>, ms: number): Promise<T> {
  p.catch(() => undefined);
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    p,
    new Promise<never>((_resolve, reject) => {
      timer = setTimeout(() => reject(new Error(`no answer in ${ms} ms`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}
