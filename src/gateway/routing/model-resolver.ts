import { AppError } from '@/common/errors/app-error';
import type { ProviderTarget, RoutingTable } from '@/providers/routing-table';

export interface ResolvedModel {
  target: ProviderTarget;
  /** The model id sent upstream (prefix removed). */
  upstreamModel: string;
  /** `alias/model`, as listed by /v1/models. */
  qualified: string;
}

/**
 * `prefix/model` → provider (node prefix, built-in alias or id) and upstream model (reference
 * §5.1). A bare model is looked up in the catalogues of providers that have active connections:
 * one match wins, several are ambiguous (400), none is unknown (404).
 */
export function resolveModel(model: string, table: RoutingTable): ResolvedModel {
  const slash = model.indexOf('/');
  if (slash > 0) {
    const prefix = model.slice(0, slash).toLowerCase();
    const rest = model.slice(slash + 1);
    const target = table.targets.get(prefix);
    if (target) {
      if (!rest) {
        throw new AppError(
          'INVALID_MODEL',
          'INVALID_INPUT',
          `Invalid model format: "${model}" has no model after the prefix`,
          { param: 'model' },
        );
      }
      return { target, upstreamModel: rest, qualified: `${target.alias}/${rest}` };
    }
  }
  const candidates: ResolvedModel[] = [];
  for (const [providerId, conns] of table.connections) {
    if (conns.some((c) => c.models.includes(model))) {
      const target = table.targets.get(providerId.toLowerCase());
      if (target) {
        candidates.push({ target, upstreamModel: model, qualified: `${target.alias}/${model}` });
      }
    }
  }
  if (candidates.length === 1) {
    return candidates[0];
  }
  if (candidates.length > 1) {
    throw new AppError(
      'AMBIGUOUS_MODEL',
      'INVALID_INPUT',
      `Ambiguous model '${model}'. Use a provider/model prefix (ex: ${candidates
        .map((c) => c.qualified)
        .slice(0, 3)
        .join(', ')}).`,
      { param: 'model' },
    );
  }
  if (slash > 0) {
    throw new AppError(
      'MODEL_NOT_FOUND',
      'NOT_FOUND',
      `Unknown provider "${model.slice(0, slash)}" in model "${model}". Use <provider>/<model> with a configured provider or node prefix.`,
      { param: 'model' },
    );
  }
  throw new AppError(
    'MODEL_NOT_FOUND',
    'NOT_FOUND',
    `The model "${model}" does not exist or no configured provider serves it. Use <provider>/<model>, e.g. openai/${model}.`,
    { param: 'model' },
  );
}
