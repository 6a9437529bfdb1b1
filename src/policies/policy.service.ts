import { Inject, Injectable, Logger, OnModuleDestroy } from '@nestjs/common';
import { randomBytes } from 'node:crypto';
import { AppError } from '@/common/errors/app-error';
import type { Principal } from '@/common/guards/api-key.auth';
import { within } from '@/common/kv/within';
import { KV_STORE, type KvStore } from '@/common/kv/kv-store';
import { MetricsService } from '@/common/metrics/metrics.service';
import type { KeyPrincipal } from '@/keys/keys.service';
import { PricingService } from '@/pricing/pricing.service';
import type { ModelPrice, PricingTable } from '@/pricing/pricing.types';
import { type AdmitResult, POLICY_ADMIT, POLICY_SETTLE } from './policy-scripts';
import {
  type BudgetInterval,
  activeLimitUsd,
  formatLimitUsd,
  intervalLabel,
  minutesOf,
} from './policy.types';
import { type CompiledSchedule, compileSchedule, scheduleAllows } from './schedule';
import {
  DAY_MS,
  type SettleKind,
  type Window,
  budgetWindow,
  parsePolicyKey,
  policyKeys,
  utcDay,
} from './windows';

export interface PolicyRequest {
  /** As requested (a combo name, `provider/model`, an alias …). */
  model: string;
  estimatedInputTokens: number;
  maxOutputTokens: number | null;
  provider?: string;
  /** For the cost estimate when known (a single model). */
  upstreamModel?: string;
  /** A cost estimate the caller knows better than tokens × price (images: n × per-image price). */
  estimatedUsd?: number;
}

export interface Reservation {
  id: string;
  apiKeyId: string;
  reservedUsd: number;
  tokensReserved: number;
  /** The store keys the settle updates. */
  windows: string[];
}

export type PolicyRejection = 'schedule' | 'rpm' | 'rpd' | 'tpm' | 'budget';

/** Output tokens reserved when the request sets no limit. */
export const DEFAULT_OUTPUT_TOKENS = 4096;
/** An unsettled reservation (a crashed replica, a lost settle) is released after this long. */
export const RESERVATION_TTL_MS = 30 * 60_000;
/** Budget and spend windows are kept this long after they end (late settles, reporting). */
export const WINDOW_GRACE_MS = DAY_MS;
/** How long an admission waits for the store. */
const STORE_WAIT_MS = 2_000;

interface CompiledBudget {
  interval: BudgetInterval;
  resetMinutes: number;
  limitUsd: number;
  limitMicros: number;
  warnMicros: number;
  /** The window last used (recomputed when `now` leaves it). */
  win?: Window;
}

interface CompiledPolicy {
  schedule?: CompiledSchedule;
  rpm: number;
  rpd: number;
  tpm: number;
  budget?: CompiledBudget;
  /** Any check that needs the store. */
  store: boolean;
}

const NONE: Promise<undefined> = Promise.resolve(undefined);

const positiveInt = (v: number | null | undefined): number =>
  typeof v === 'number' && Number.isFinite(v) && v >= 1 ? Math.floor(v) : 0;

const tokenCount = (v: number | null | undefined): number =>
  typeof v === 'number' && Number.isFinite(v) && v > 0 ? Math.ceil(v) : 0;

/** USD → integer micro-dollars (an amount already spent: rounded). */
export function toMicros(usd: number): number {
  return typeof usd === 'number' && Number.isFinite(usd) && usd > 0 ? Math.round(usd * 1e6) : 0;
}

function compile(p: KeyPrincipal): CompiledPolicy | null {
  const schedule = compileSchedule(p.accessSchedule);
  const rpm = positiveInt(p.maxRequestsPerMinute);
  const rpd = positiveInt(p.maxRequestsPerDay);
  const tpm = positiveInt(p.maxTokensPerMinute);
  let budget: CompiledBudget | undefined;
  const limitUsd = p.budget ? activeLimitUsd(p.budget) : null;
  if (p.budget && limitUsd !== null && limitUsd > 0) {
    const limitMicros = Math.round(limitUsd * 1e6);
    budget = {
      interval: p.budget.resetInterval,
      resetMinutes: minutesOf(p.budget.resetTime),
      limitUsd,
      limitMicros,
      warnMicros: Math.max(1, Math.round(limitMicros * p.budget.warningThreshold)),
    };
  }
  const store = rpm > 0 || rpd > 0 || tpm > 0 || budget !== undefined;
  return schedule || store ? { schedule, rpm, rpd, tpm, budget, store } : null;
}

/**
 * Per-key policies (reference §8.3, §9.2), checked in this order: access schedule (403), requests
 * per minute, requests per day, tokens per minute, budget (429 with Retry-After). Everything but
 * the schedule is counted in the key-value store by one atomic script (`POLICY_ADMIT`), so N
 * replicas share exact counts, and a request refused by a later check counts against none.
 *
 * The budget is enforced with a reservation: the admission reserves an estimate (the price of the
 * model — or the highest price in the table for a combo or an unpriced model — × the estimated
 * input tokens + `maxOutputTokens ?? 4096` output tokens) only while spent + reserved + estimate
 * fits the limit; the settle replaces it by the actual cost. Concurrent requests therefore never
 * spend past the limit unless a request costs more than its estimate; they may under-use the
 * budget while estimates are pessimistic.
 *
 * Keys without a store-backed policy cost no round trip. When the store fails, the rate limits
 * let requests through (logged, `gateway_kv_degraded_total{feature="key-limits"}`) while a key
 * with a budget is refused with 503 (fail closed, reference §8.3).
 */
@Injectable()
export class PolicyService implements OnModuleDestroy {
  private readonly logger = new Logger(PolicyService.name);
  private readonly compiled = new WeakMap<KeyPrincipal, CompiledPolicy | null>();
  private readonly settled = new WeakSet<Reservation>();
  private readonly pending = new Set<Promise<void>>();
  private readonly instance = randomBytes(4).toString('hex');
  private seq = 0;
  private warnedAt = 0;
  private maxPrice?: { table: PricingTable; price: ModelPrice };

  constructor(
    @Inject(KV_STORE) private readonly kv: KvStore,
    private readonly pricing: PricingService,
    private readonly metrics: MetricsService,
  ) {}

  async onModuleDestroy(): Promise<void> {
    await this.drain();
  }

  /** Waits for the settles in flight (shutdown, tests). */
  async drain(): Promise<void> {
    while (this.pending.size) {
      await Promise.all([...this.pending]);
    }
  }

  /**
   * Access schedule, RPM, requests/day, TPM, budget (with a reservation). Rejects with an
   * AppError (403 / 429 with Retry-After / 503 when a budget cannot be checked) or resolves to the
   * reservation to settle (undefined when the key has no budget or TPM). A key without any policy
   * costs no store round trip: the answer is an already resolved promise.
   */
  admit(principal: Principal, req: PolicyRequest): Promise<Reservation | undefined> {
    if (principal.id === null) {
      return NONE;
    }
    const p = this.policyOf(principal);
    if (!p) {
      return NONE;
    }
    const now = Date.now();
    if (p.schedule && !scheduleAllows(p.schedule, now)) {
      this.metrics.policyRejections.inc({ reason: 'schedule' });
      return Promise.reject(
        new AppError(
          'ACCESS_SCHEDULE_DENIED',
          'FORBIDDEN',
          `Access denied outside allowed hours (${p.schedule.label})`,
        ),
      );
    }
    if (!p.store) {
      return NONE;
    }
    return this.admitCounted(principal.id, p, req, now);
  }

  /**
   * Replaces the reservation by the actual cost and tokens (atomically), off the request path;
   * never throws. A reservation is settled once (a second call is ignored).
   */
  settle(res: Reservation | undefined, actual: { costUsd: number; tokens: number }): void {
    if (!res || this.settled.has(res)) {
      return;
    }
    this.settled.add(res);
    try {
      const now = Date.now();
      const keys: string[] = [];
      const keeps: number[] = [];
      let kinds = '';
      const letters: Record<SettleKind, string> = { tpm: 't', budget: 'b', day: 'd', month: 'm' };
      for (const key of res.windows) {
        const info = parsePolicyKey(key);
        if (!info) {
          continue;
        }
        const keep = info.kind === 'tpm' ? 0 : info.end + WINDOW_GRACE_MS - now;
        if (info.kind !== 'tpm' && keep <= 0) {
          continue; // that window is long gone
        }
        keys.push(key);
        keeps.push(Math.ceil(keep));
        kinds += letters[info.kind];
      }
      if (!keys.length) {
        return;
      }
      const admitMs = parseInt(res.id.split('.', 1)[0], 36);
      const admitSec = Number.isFinite(admitMs) ? Math.floor(admitMs / 1000) : 0;
      const run = this.kv
        .run(POLICY_SETTLE, keys, [
          now,
          kinds,
          res.id,
          toMicros(res.reservedUsd),
          toMicros(actual.costUsd),
          tokenCount(res.tokensReserved),
          tokenCount(actual.tokens),
          admitSec,
          ...keeps,
        ])
        .then((r) => {
          if (r.crossed) {
            this.logger.warn(
              `API key ${res.apiKeyId} reached its budget warning threshold: $${(r.spent / 1e6).toFixed(4)} of $${formatLimitUsd(r.limit / 1e6)} spent in the current window`,
            );
          }
        })
        .catch((e: unknown) => this.warn('a request’s spend and tokens were not recorded', e))
        .finally(() => this.pending.delete(run));
      this.pending.add(run);
    } catch (e) {
      this.warn('a request’s spend and tokens were not recorded', e);
    }
  }

  private policyOf(principal: KeyPrincipal): CompiledPolicy | null {
    let p = this.compiled.get(principal);
    if (p === undefined) {
      p = compile(principal);
      this.compiled.set(principal, p);
    }
    return p;
  }

  private async admitCounted(
    apiKeyId: string,
    p: CompiledPolicy,
    req: PolicyRequest,
    now: number,
  ): Promise<Reservation | undefined> {
    const keys: string[] = [];
    let kinds = '';
    const day = utcDay(now);
    if (p.rpm) {
      keys.push(policyKeys.rpm(apiKeyId));
      kinds += 'm';
    }
    if (p.rpd) {
      keys.push(policyKeys.rpd(apiKeyId, day.start));
      kinds += 'd';
    }
    const tokens = p.tpm ? estimateTokens(req) : 0;
    if (p.tpm) {
      keys.push(policyKeys.tpm(apiKeyId));
      kinds += 't';
    }
    const b = p.budget;
    let win: Window | undefined;
    let est = 0;
    if (b) {
      win = b.win && now >= b.win.start && now < b.win.end ? b.win : undefined;
      if (!win) {
        win = budgetWindow(b.interval, b.resetMinutes, now);
        b.win = win;
      }
      est = this.estimateMicros(req);
      keys.push(policyKeys.budget(apiKeyId, b.interval, win.start));
      kinds += 'b';
    }
    const id = `${now.toString(36)}.${this.instance}.${(++this.seq).toString(36)}`;
    let r: AdmitResult;
    try {
      r = await within(
        this.kv.run(POLICY_ADMIT, keys, [
          now,
          kinds,
          p.rpm,
          p.rpd,
          day.end,
          p.tpm,
          tokens,
          b?.limitMicros ?? 0,
          est,
          id,
          now + RESERVATION_TTL_MS,
          win?.end ?? 0,
          win ? win.end + WINDOW_GRACE_MS - now : 0,
          b?.warnMicros ?? 0,
        ]),
        STORE_WAIT_MS,
      );
    } catch (e) {
      if (b) {
        this.warn('a key with a budget was refused (503)', e);
        throw new AppError(
          'BUDGET_UNAVAILABLE',
          'UNAVAILABLE',
          'API key budget unavailable; retry shortly',
        );
      }
      this.metrics.kvDegraded.inc({ feature: 'key-limits' });
      this.warn('per-key request and token limits not enforced', e);
      return undefined;
    }
    if (!r.ok) {
      throw this.refusal(r, p, est, win);
    }
    if (!p.tpm && !b) {
      return undefined;
    }
    const windows: string[] = [];
    if (p.tpm) {
      windows.push(policyKeys.tpm(apiKeyId));
    }
    if (b && win) {
      windows.push(
        policyKeys.budget(apiKeyId, b.interval, win.start),
        policyKeys.spend(apiKeyId, 'day', budgetWindow('daily', b.resetMinutes, now).start),
        policyKeys.spend(apiKeyId, 'month', budgetWindow('monthly', b.resetMinutes, now).start),
      );
    }
    return { id, apiKeyId, reservedUsd: est / 1e6, tokensReserved: tokens, windows };
  }

  private refusal(r: AdmitResult, p: CompiledPolicy, est: number, win?: Window): AppError {
    const secs = Math.max(1, Math.ceil(r.retryAfterMs / 1000));
    const headers = { 'retry-after': String(secs) };
    const limited = (
      code: string,
      reason: PolicyRejection,
      message: string,
      details: Record<string, unknown>,
    ): AppError => {
      this.metrics.policyRejections.inc({ reason });
      return new AppError(
        code,
        'RATE_LIMITED',
        message,
        { reason, retryAfterSeconds: secs, ...details },
        429,
        headers,
      );
    };
    switch (r.reason) {
      case 'rpm':
        return limited(
          'KEY_RPM_EXCEEDED',
          'rpm',
          `Per-minute request limit exceeded (${p.rpm} RPM). Retry after ${secs} seconds.`,
          { limit: p.rpm, used: r.used },
        );
      case 'rpd':
        return limited(
          'KEY_RPD_EXCEEDED',
          'rpd',
          `Daily request limit exceeded (${p.rpd} RPD). Resets in ${Math.max(1, Math.ceil(r.retryAfterMs / 60_000))} minutes.`,
          { limit: p.rpd, used: r.used },
        );
      case 'tpm':
        return limited(
          'KEY_TPM_EXCEEDED',
          'tpm',
          `Per-minute token limit exceeded (${p.tpm} TPM). Retry after ${secs} seconds.`,
          { limit: p.tpm, used: r.used },
        );
      case 'budget':
      case '': {
        const b = p.budget;
        const limitUsd = b?.limitUsd ?? 0;
        const projected = (r.spent + r.reserved + est) / 1e6;
        return limited(
          'BUDGET_EXCEEDED',
          'budget',
          `${intervalLabel(b?.interval ?? 'daily')} budget exceeded: $${projected.toFixed(4)} / $${formatLimitUsd(limitUsd)}`,
          {
            limitUsd,
            spentUsd: r.spent / 1e6,
            reservedUsd: r.reserved / 1e6,
            estimateUsd: est / 1e6,
            periodStartAt: win ? new Date(win.start).toISOString() : null,
            nextResetAt: win ? new Date(win.end).toISOString() : null,
          },
        );
      }
    }
  }

  /** The reservation of a request in micro-dollars (rounded up). */
  estimateMicros(req: PolicyRequest): number {
    if (req.estimatedUsd !== undefined) {
      return req.estimatedUsd > 0 ? Math.ceil(req.estimatedUsd * 1e6 - 1e-6) : 0;
    }
    const usd = this.pricing.cost(this.priceFor(req), {
      input: tokenCount(req.estimatedInputTokens),
      output: tokenCount(req.maxOutputTokens ?? DEFAULT_OUTPUT_TOKENS),
      cacheRead: 0,
      cacheCreation: 0,
      reasoning: 0,
    });
    return usd > 0 ? Math.ceil(usd * 1e6 - 1e-6) : 0;
  }

  /** The model's price when it is known, else the highest input and output prices of the table. */
  private priceFor(req: PolicyRequest): ModelPrice {
    if (req.provider && req.upstreamModel) {
      const p = this.pricing.priceOf(req.provider, req.upstreamModel);
      if (p) {
        return p;
      }
    }
    const slash = req.model.indexOf('/');
    if (slash > 0) {
      const p = this.pricing.priceOf(req.model.slice(0, slash), req.model.slice(slash + 1));
      if (p) {
        return p;
      }
    }
    const table = this.pricing.table();
    if (this.maxPrice?.table !== table) {
      let input = 0;
      let output = 0;
      for (const models of Object.values(table)) {
        for (const price of Object.values(models)) {
          input = Math.max(input, price.input || 0);
          output = Math.max(output, price.output || 0);
        }
      }
      this.maxPrice = { table, price: { input, output } };
    }
    return this.maxPrice.price;
  }

  /** Logs at most once a minute. */
  private warn(what: string, e: unknown): void {
    const now = Date.now();
    if (now - this.warnedAt > 60_000) {
      this.warnedAt = now;
      this.logger.warn(`${what}: ${e instanceof Error ? e.message : String(e)}`);
    }
  }
}

/** Input tokens + `maxOutputTokens ?? 4096`. */
export function estimateTokens(req: PolicyRequest): number {
  return (
    tokenCount(req.estimatedInputTokens) + tokenCount(req.maxOutputTokens ?? DEFAULT_OUTPUT_TOKENS)
  );
}
