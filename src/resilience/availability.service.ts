import { Injectable } from '@nestjs/common';
import { CombosService } from '@/combos/combos.service';
import { resolveModel, type ResolvedModel } from '@/gateway/routing/model-resolver';
import { ProvidersService } from '@/providers/providers.service';
import type { RoutableConnection } from '@/providers/routing-table';
import { CircuitBreakers } from './breakers.service';
import { Cooldowns } from './cooldowns.service';
import { RateLimiter } from './rate-limiter.service';
import { ResilienceService } from './resilience.service';

export interface AccountAvailability {
  connectionId: string;
  name: string;
  usable: boolean;
  reason?: 'cooldown' | 'model-lockout' | 'permanent' | 'rate-limited' | 'circuit-open';
  detail?: string;
  availableAt?: string;
  retryAfterMs?: number;
}

export interface ModelAvailability {
  model: string;
  kind: 'model' | 'combo';
  available: boolean;
  provider?: string;
  breaker?: {
    provider: string;
    state: string;
    failures: number;
    openedAt: number;
    lastFailureAt: number;
    retryAfterMs: number;
  };
  accounts: AccountAvailability[];
  targets?: string[];
  nextAvailableAt?: string | null;
  reason?: string;
}

/**
 * `/api/models/availability`: for a model (or combo), which accounts can serve it right now and,
 * for the others, why not (cooldown, per-model lockout, permanent error, RPM/TPM limit, open
 * breaker) and when they come back. Read from the same shared state the router uses; the limit
 * counters are read, never incremented.
 */
@Injectable()
export class AvailabilityService {
  constructor(
    private readonly providers: ProvidersService,
    private readonly combos: CombosService,
    private readonly cooldowns: Cooldowns,
    private readonly breakers: CircuitBreakers,
    private readonly limiter: RateLimiter,
    private readonly resilience: ResilienceService,
  ) {}

  /** Every chat model of every active provider, plus every combo. */
  private allModels(): string[] {
    const table = this.providers.routing();
    const out = new Set<string>();
    for (const [providerId, conns] of table.connections) {
      const t = table.targets.get(providerId.toLowerCase());
      if (!t || !conns[0]?.serves.has('chat')) {
        continue;
      }
      for (const c of conns) {
        for (const m of c.models) {
          out.add(`${t.alias}/${m}`);
        }
      }
    }
    for (const c of this.combos.list()) {
      if (c.isActive) {
        out.add(c.name);
      }
    }
    return [...out];
  }

  async check(models?: string[]): Promise<ModelAvailability[]> {
    const list = models?.length ? models : this.allModels();
    const out: ModelAvailability[] = [];
    for (const m of list.slice(0, 2000)) {
      out.push(await this.one(m));
    }
    return out;
  }

  private async one(model: string): Promise<ModelAvailability> {
    const combo = this.combos.byModel(model);
    if (combo) {
      const targets: string[] = [];
      const accounts: AccountAvailability[] = [];
      let next: number | undefined;
      for (const t of this.combos.targets(combo)) {
        const r = await this.one(t.model);
        accounts.push(
          ...r.accounts
            .filter((a) => !t.connectionId || a.connectionId === t.connectionId)
            .map((a) => ({ ...a, name: `${r.model} · ${a.name}` })),
        );
        const usable = r.accounts.some(
          (a) => a.usable && (!t.connectionId || a.connectionId === t.connectionId),
        );
        if (usable) {
          targets.push(r.model);
        } else if (r.nextAvailableAt) {
          const at = Date.parse(r.nextAvailableAt);
          next = next === undefined ? at : Math.min(next, at);
        }
      }
      return {
        model,
        kind: 'combo',
        available: targets.length > 0,
        accounts,
        targets,
        nextAvailableAt:
          targets.length > 0 ? null : next !== undefined ? new Date(next).toISOString() : null,
      };
    }
    const table = this.providers.routing();
    let resolved: ResolvedModel;
    try {
      resolved = resolveModel(model, table);
    } catch (e) {
      return { model, kind: 'model', available: false, accounts: [], reason: (e as Error).message };
    }
    const conns = table.connections.get(resolved.target.id) ?? [];
    const auth = conns[0]?.authType ?? 'apikey';
    const reset = this.resilience.breakerProfile(auth).resetTimeoutMs;
    const b = this.breakers.state(resolved.target.id);
    const gate = this.breakers.gate(resolved.target.id, reset);
    const now = Date.now();
    const accounts: AccountAvailability[] = [];
    for (const c of conns) {
      accounts.push(await this.account(c, resolved.upstreamModel, gate, now));
    }
    const usable = accounts.filter((a) => a.usable);
    const waits = accounts.map((a) => a.retryAfterMs).filter((v): v is number => v !== undefined);
    return {
      model: resolved.qualified,
      kind: 'model',
      provider: resolved.target.alias,
      available: usable.length > 0,
      breaker: {
        provider: resolved.target.id,
        state: b.state,
        failures: b.failures,
        openedAt: b.openedAt,
        lastFailureAt: b.lastFailureAt,
        retryAfterMs: gate.allow ? 0 : gate.retryAfterMs,
      },
      accounts,
      nextAvailableAt:
        usable.length || !waits.length ? null : new Date(now + Math.min(...waits)).toISOString(),
      reason: conns.length
        ? undefined
        : `No active connection for provider ${resolved.target.alias}`,
    };
  }

  private async account(
    c: RoutableConnection,
    model: string,
    gate: ReturnType<CircuitBreakers['gate']>,
    now: number,
  ): Promise<AccountAvailability> {
    const base = { connectionId: c.id, name: c.name };
    if (!gate.allow) {
      return {
        ...base,
        usable: false,
        reason: 'circuit-open',
        detail: `provider breaker ${gate.state}`,
        retryAfterMs: gate.retryAfterMs,
        availableAt: new Date(now + gate.retryAfterMs).toISOString(),
      };
    }
    const b = this.cooldowns.blocked(c.id, model, c.updatedAt, now);
    if (b) {
      return {
        ...base,
        usable: false,
        reason: b.permanent ? 'permanent' : b.scope === 'model' ? 'model-lockout' : 'cooldown',
        detail: `${b.reason} (${b.status})`,
        retryAfterMs: b.permanent ? undefined : b.until - now,
        availableAt: b.permanent ? undefined : new Date(b.until).toISOString(),
      };
    }
    const limits = this.limiter.limitsOf(c);
    if (limits) {
      const u = await this.limiter.usage(c.id).catch(() => undefined);
      if (
        u &&
        ((limits.rpm > 0 && u.requests >= limits.rpm) || (limits.tpm > 0 && u.tokens >= limits.tpm))
      ) {
        const left = u.windowMs - (now % u.windowMs);
        return {
          ...base,
          usable: false,
          reason: 'rate-limited',
          detail: `${u.requests}/${limits.rpm} requests, ${u.tokens}/${limits.tpm || '∞'} tokens this minute`,
          retryAfterMs: left,
          availableAt: new Date(now + left).toISOString(),
        };
      }
    }
    return { ...base, usable: true };
  }

  /** Clears cooldowns/lockouts: all, one connection's, or one (connection, model) pair. */
  async reset(connectionId?: string, model?: string): Promise<number> {
    if (!connectionId) {
      return this.cooldowns.clear();
    }
    let upstreamModel = model;
    if (model) {
      try {
        upstreamModel = resolveModel(model, this.providers.routing()).upstreamModel;
      } catch {
        upstreamModel = model;
      }
    }
    return this.cooldowns.clear(connectionId, upstreamModel);
  }
}
