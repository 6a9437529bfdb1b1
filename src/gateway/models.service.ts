import { Injectable } from '@nestjs/common';
import { CombosService } from '@/combos/combos.service';
import type { Principal } from '@/common/guards/api-key.auth';
import { ProvidersService } from '@/providers/providers.service';
import { isModelAllowed } from './routing/model-allowlist';

export interface OpenAiModel {
  id: string;
  object: 'model';
  created: number;
  owned_by: string;
  type: 'chat' | 'embedding' | 'image' | 'audio';
  root: string;
  parent: string | null;
  permission: [];
  /** Combos that set one (reference §2.8). */
  context_length?: number;
}

/** The `type` OmniRoute lists a model with, from its endpoint's API type. */
function modelType(apiType: string): OpenAiModel['type'] {
  if (apiType === 'embeddings') {
    return 'embedding';
  }
  if (apiType === 'images-generations') {
    return 'image';
  }
  return apiType.startsWith('audio') ? 'audio' : 'chat';
}

/**
 * `GET /v1/models`: active, non-hidden combos first (`owned_by: "combo"`, in their order), then
 * the models of every provider that has at least one active connection, as `prefix/model`
 * (built-in catalogue, discovered models, default models), filtered by the key's allow list.
 * Built from the in-memory routing table and combos snapshot: no database query.
 */
@Injectable()
export class ModelsService {
  private cache?: { version: number; combosVersion: number; list: OpenAiModel[] };

  constructor(
    private readonly providers: ProvidersService,
    private readonly combos: CombosService,
  ) {}

  private all(): OpenAiModel[] {
    const table = this.providers.routing();
    const combosVersion = this.combos.version();
    if (this.cache?.version === table.version && this.cache.combosVersion === combosVersion) {
      return this.cache.list;
    }
    const created = Math.floor(Date.now() / 1000);
    const combos: OpenAiModel[] = this.combos
      .list()
      .filter((c) => c.isActive && !c.isHidden && c.models.length > 0)
      .map((c) => ({
        id: c.name,
        object: 'model',
        created,
        owned_by: 'combo',
        type: 'chat',
        root: c.name,
        parent: null,
        permission: [],
        ...(c.context_length !== null ? { context_length: c.context_length } : {}),
      }));
    // A combo shadows a provider model of the same id (it wins when routing, too).
    const seen = new Set<string>(combos.map((c) => c.id));
    const list: OpenAiModel[] = [];
    for (const [providerId, conns] of table.connections) {
      const target = table.targets.get(providerId.toLowerCase());
      if (!target || !conns.length) {
        continue;
      }
      for (const c of conns) {
        for (const m of c.models) {
          const id = `${target.alias}/${m}`;
          if (!seen.has(id)) {
            seen.add(id);
            list.push({
              id,
              object: 'model',
              created,
              owned_by: target.alias,
              type: modelType(c.apiType),
              root: m,
              parent: null,
              permission: [],
            });
          }
        }
      }
    }
    list.sort((a, b) => a.id.localeCompare(b.id));
    list.unshift(...combos);
    this.cache = { version: table.version, combosVersion, list };
    return list;
  }

  /** `GET /v1beta/models` (Gemini shape, reference §2.9): chat models as `models/<prefix>/<model>`. */
  geminiModels(principal: Principal): { models: Record<string, unknown>[] } {
    return {
      models: this.list(principal)
        .data.filter((m) => m.type === 'chat')
        .map((m) => ({
          name: `models/${m.id}`,
          displayName: m.id,
          description: `${m.root} via ${m.owned_by}`,
          supportedGenerationMethods: ['generateContent', 'streamGenerateContent'],
          inputTokenLimit: 128000,
          outputTokenLimit: 8192,
        })),
    };
  }

  /** `GET /api/tags` (Ollama): the same catalogue in Ollama's shape, chat models only. */
  ollamaTags(principal: Principal): { models: Record<string, unknown>[] } {
    const modified = new Date().toISOString();
    return {
      models: this.list(principal)
        .data.filter((m) => m.type === 'chat')
        .map((m) => ({
          name: m.id,
          model: m.id,
          modified_at: modified,
          size: 0,
          digest: '',
          details: {
            format: 'remote',
            family: m.owned_by,
            families: [m.owned_by],
            parameter_size: '',
            quantization_level: '',
          },
        })),
    };
  }

  list(principal: Principal): { object: 'list'; data: OpenAiModel[] } {
    const data = this.all().filter((m) => isModelAllowed(principal.allowedModels, m.id, m.root));
    return { object: 'list', data };
  }
}
