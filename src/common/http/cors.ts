/** CORS for the configured origins (`CORS_ALLOWED_ORIGINS`); no wildcard unless `*` is listed. */
export class CorsPolicy {
  private readonly origins: Set<string>;
  private readonly any: boolean;

  constructor(csv: string) {
    const list = csv
      .split(',')
      .map((o) => o.trim())
      .filter(Boolean);
    this.any = list.includes('*');
    this.origins = new Set(list);
  }

  /** The headers to add for this request's Origin, or null when it gets none. */
  headersFor(origin: string | undefined): Record<string, string> | null {
    if (!origin || (!this.any && !this.origins.has(origin))) {
      return null;
    }
    return {
      'access-control-allow-origin': origin,
      vary: 'Origin',
      'access-control-allow-credentials': 'true',
      'access-control-allow-methods': 'GET, POST, PUT, PATCH, DELETE, OPTIONS',
      'access-control-allow-headers':
        'Content-Type, Authorization, x-api-key, x-goog-api-key, anthropic-version, x-omniroute-connection, x-request-id, idempotency-key, accept',
      'access-control-expose-headers':
        'x-request-id, x-omniroute-provider, x-omniroute-model, retry-after',
    };
  }
}
