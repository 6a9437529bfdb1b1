import { Logger } from '@nestjs/common';
import { within } from '@/common/kv/within';
import type { MetricsService } from '@/common/metrics/metrics.service';

/** How long a cache/idempotency call to the shared store may take before the request goes on without it. */
export const KV_BUDGET_MS = 300;

/**
 * Runs a shared-store call for an optional feature (cache, idempotency): a failure or a call slower
 * than `KV_BUDGET_MS` yields `fallback`, is counted (`gateway_kv_degraded_total{feature}`) and
 * logged at most once a minute per feature. The request itself never fails because of it.
 */
export class KvGuard {
  private readonly logger = new Logger('SharedState');
  private readonly lastWarn = new Map<string, number>();

  constructor(private readonly metrics: MetricsService) {}

  async call<T>(feature: string, p: Promise<T>, fallback: T): Promise<T> {
    try {
      return await within(p, KV_BUDGET_MS);
    } catch (e) {
      this.degraded(feature, e);
      return fallback;
    }
  }

  degraded(feature: string, e: unknown): void {
    this.metrics.kvDegraded.inc({ feature });
    const now = Date.now();
    if (now - (this.lastWarn.get(feature) ?? 0) > 60_000) {
      this.lastWarn.set(feature, now);
      this.logger.warn(
        `${feature}: key-value store unavailable (${(e as Error)?.message ?? e}); requests pass through without it`,
      );
    }
  }
}
