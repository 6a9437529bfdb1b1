import { AppError } from '@/common/errors/app-error';
import type { RoutingTable } from '@/providers/routing-table';

/**
 * The model of a provider-scoped request (`/v1/providers/{provider}/...`, reference §2.11): a model
 * without the provider's prefix gets it (`gpt-4o` → `openai/gpt-4o`; a model id that contains `/`
 * itself, such as `meta-llama/Llama-3.3-70B`, too); a model already prefixed with this provider's
 * alias, id or the path's own spelling is kept; one prefixed with ANOTHER provider is a 400,
 * unless the whole id is in this provider's catalogue (OpenRouter's `openai/gpt-4o`).
 * An unknown provider is a 400 as well.
 */
export function scopeModel(model: string, provider: string, table: RoutingTable): string {
  const target = table.targets.get(provider.toLowerCase());
  if (!target) {
    throw new AppError('UNKNOWN_PROVIDER', 'INVALID_INPUT', `Unknown provider: ${provider}`, {
      param: 'provider',
    });
  }
  if (!model) {
    return model;
  }
  // the prefix that routes to THIS provider (a node prefix may shadow a built-in alias)
  const prefixOf =
    table.targets.get(target.alias.toLowerCase()) === target ? target.alias : target.id;
  const slash = model.indexOf('/');
  if (slash > 0) {
    const prefix = model.slice(0, slash).toLowerCase();
    if (
      prefix === target.alias.toLowerCase() ||
      prefix === target.id.toLowerCase() ||
      prefix === provider.toLowerCase()
    ) {
      return `${prefixOf}/${model.slice(slash + 1)}`;
    }
    const other = table.targets.get(prefix);
    // OpenRouter-style ids (`openai/gpt-4o` on openrouter) are this provider's own models
    const own = table.connections.get(target.id)?.some((c) => c.models.includes(model));
    if (other && other.id !== target.id && !own) {
      throw new AppError(
        'MODEL_PROVIDER_MISMATCH',
        'INVALID_INPUT',
        `Model "${model}" does not belong to provider "${provider}". Expected prefix: ${target.alias}/`,
        { param: 'model' },
      );
    }
  }
  return `${prefixOf}/${model}`;
}
