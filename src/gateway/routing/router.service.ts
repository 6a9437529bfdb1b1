import { Inject, Injectable } from '@nestjs/common';
import { AppError } from '@/common/errors/app-error';
import type { Principal } from '@/common/guards/api-key.auth';
import { KV_STORE, type KvStore } from '@/common/kv/kv-store';
import type { Combo } from '@/combos/combo.types';
import { CombosService } from '@/combos/combos.service';
import { AliasesService } from '@/models/aliases.service';
import { PricingService } from '@/pricing/pricing.service';
import { ProvidersService } from '@/providers/providers.service';
import { capabilitiesOf, type Capability } from '@/providers/registry';
import type { RoutableConnection, RoutingTable } from '@/providers/routing-table';
import { PICK_LEAST_USED } from '@/resilience/kv-scripts';
import { LatencyStats } from '@/resilience/latency-stats.service';
import { byKey, leastUsedOrder, rotate, shuffle, weightedOrder } from './combo-order';
import { isModelAllowed } from './model-allowlist';
import { resolveModel, type ResolvedModel } from './model-resolver';

const CAPABILITY_LABEL: Record<Capability, string> = {
  chat: 'chat',
  embeddings: 'embeddings',
  images: 'image generation',
  transcription: 'audio transcription',
};

/** What the target serves: its connections' capabilities, else the built-in provider's. */
function servesOf(
  resolved: ResolvedModel,
  candidates: RoutableConnection[] | undefined,
): ReadonlySet<Capability> | undefined {
  if (candidates?.length) {
    return candidates[0].serves;
  }
  return resolved.target.def ? new Set(capabilitiesOf(resolved.target.def)) : undefined;
}

/** One provider/model the request may be served by, with the accounts that can serve it. */
export interface PlannedTarget {
  resolved: ResolvedModel;
  candidates: RoutableConnection[] | undefined;
  /** A combo step pinned to one account. */
  stepConnection: string | null;
  stepId: string | null;
  executionKey: string | null;
  weight: number;
}

export interface UnresolvedTarget {
  model: string;
  stepId: string;
  reason: string;
}

export interface RoutePlan {
  combo?: Combo;
  targets: PlannedTarget[];
  /** Combo steps that name no usable provider/model (reported in a fail-fast body). */
  unresolved: UnresolvedTarget[];
}

/**
 * Turns the client's `model` into the ordered targets to try: a combo (by name or `combo/<name>`)
 * expands to its targets (nested combos flattened) in the order of its strategy; anything else is
 * one `prefix/model` target. Resolution reads only in-memory snapshots (routing table, combos);
 * strategies that share state across replicas (round-robin cursor, least-used counts) cost one
 * key-value round trip, the others none.
 */
@Injectable()
export class RouterService {
  private localCursor = 0;

  constructor(
    private readonly providers: ProvidersService,
    private readonly combos: CombosService,
    private readonly pricing: PricingService,
    private readonly latency: LatencyStats,
    private readonly aliases: AliasesService,
    @Inject(KV_STORE) private readonly kv: KvStore,
  ) {}

  /** Resolves the model; bad or unknown models and forbidden ones throw 4xx errors. */
  plan(requested: string, principal: Principal, capability: Capability = 'chat'): RoutePlan {
    const table = this.providers.routing();
    let model = requested;
    let combo = this.combos.byModel(model);
    if (!combo && !model.includes('/')) {
      // a model alias (reference §4.5): names a provider/model or a combo
      const alias = this.aliases.resolve(model);
      if (alias) {
        model = alias.target;
        combo = this.combos.byModel(model);
      }
    }
    if (combo) {
      if (
        !isModelAllowed(principal.allowedModels, requested, combo.name) &&
        !isModelAllowed(principal.allowedModels, model, combo.name)
      ) {
        throw AppError.forbidden(
          `Model "${requested}" is not allowed for this API key`,
          'MODEL_NOT_ALLOWED',
        );
      }
      return this.comboPlan(combo, table, principal, capability);
    }
    const resolved = resolveModel(model, table);
    if (
      !isModelAllowed(principal.allowedModels, requested, resolved.qualified) &&
      !isModelAllowed(principal.allowedModels, model, resolved.qualified)
    ) {
      throw AppError.forbidden(
        `Model "${requested}" is not allowed for this API key`,
        'MODEL_NOT_ALLOWED',
      );
    }
    const candidates = this.candidates(table, resolved, principal);
    const serves = servesOf(resolved, candidates);
    if (serves && !serves.has(capability)) {
      throw new AppError(
        'UNSUPPORTED_PROVIDER',
        'INVALID_INPUT',
        `Provider "${resolved.target.alias}" does not serve ${CAPABILITY_LABEL[capability]} (it serves ${[...serves].map((c) => CAPABILITY_LABEL[c]).join(', ') || 'nothing'})`,
        { param: 'model' },
      );
    }
    return {
      targets: [
        { resolved, candidates, stepConnection: null, stepId: null, executionKey: null, weight: 0 },
      ],
      unresolved: [],
    };
  }

  private candidates(
    table: RoutingTable,
    resolved: ResolvedModel,
    principal: Principal,
  ): RoutableConnection[] | undefined {
    const all = table.connections.get(resolved.target.id);
    if (!principal.allowedConnections.length || !all) {
      return all;
    }
    const allowed = new Set(principal.allowedConnections);
    return all.filter((c) => allowed.has(c.id));
  }

  private comboPlan(
    combo: Combo,
    table: RoutingTable,
    principal: Principal,
    capability: Capability,
  ): RoutePlan {
    const targets: PlannedTarget[] = [];
    const unresolved: UnresolvedTarget[] = [];
    for (const t of this.combos.targets(combo)) {
      let resolved: ResolvedModel;
      try {
        resolved = resolveModel(t.model, table);
      } catch (e) {
        unresolved.push({ model: t.model, stepId: t.stepId, reason: (e as Error).message });
        continue;
      }
      let candidates = this.candidates(table, resolved, principal);
      if (t.connectionId && candidates) {
        candidates = candidates.filter((c) => c.id === t.connectionId);
      }
      if (!candidates?.length) {
        unresolved.push({
          model: t.model,
          stepId: t.stepId,
          reason: t.connectionId
            ? `connection ${t.connectionId} is not an active, allowed connection of ${resolved.target.alias}`
            : `no active connection of provider ${resolved.target.alias} is usable with this key`,
        });
        continue;
      }
      if (!candidates[0].serves.has(capability)) {
        unresolved.push({
          model: t.model,
          stepId: t.stepId,
          reason: `provider ${resolved.target.alias} does not serve ${CAPABILITY_LABEL[capability]}`,
        });
        continue;
      }
      targets.push({
        resolved,
        candidates,
        stepConnection: t.connectionId,
        stepId: t.stepId,
        executionKey: t.executionKey,
        weight: t.weight,
      });
    }
    return { combo, targets, unresolved };
  }

  /** The targets in the order the combo's strategy tries them. */
  async order(plan: RoutePlan): Promise<PlannedTarget[]> {
    const { combo, targets } = plan;
    if (!combo || targets.length < 2) {
      return targets;
    }
    switch (combo.strategy) {
      case 'priority':
        return targets;
      case 'weighted':
        return weightedOrder(targets);
      case 'random':
        return shuffle(targets);
      case 'round-robin': {
        let n: number;
        try {
          n = await this.kv.incrBy(`rr:combo:${combo.name}`, 1);
        } catch {
          n = ++this.localCursor;
        }
        return rotate(targets, n - 1);
      }
      case 'least-used': {
        try {
          const r = await this.kv.run(
            PICK_LEAST_USED,
            [`combo-usage:${combo.name}`],
            targets.map((t) => t.executionKey ?? t.resolved.qualified),
          );
          return leastUsedOrder(targets, r.index, r.counts);
        } catch {
          return targets;
        }
      }
      case 'lowest-latency':
        return byKey(targets, (t) => this.latency.get(t.resolved.qualified)?.ewmaMs, true);
      case 'cost-optimized':
        return byKey(
          targets,
          (t) =>
            this.pricing.priceOf(
              t.resolved.target.id,
              t.resolved.upstreamModel,
              t.resolved.target.alias,
            )?.input,
          false,
        );
    }
  }
}
