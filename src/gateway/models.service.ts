import { Injectable } from '@nestjs/common';
import type { Combo } from '@/combos/combo.types';
import { CombosService } from '@/combos/combos.service';
import { AliasesService } from '@/models/aliases.service';
import { PROVIDERS } from '@/providers/registry';
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
  /** Embedding models: the default vector length. */
  dimensions?: number | null;
  /** Image models. */
  supported_sizes?: string[];
  input_modalities?: string[];
  output_modalities?: string[];
  /** Audio models. */
  subtype?: 'transcription';
}

/** `/api/models/catalog` (reference §3.5): the catalogue grouped by provider. */
export type ModelCatalog = Record<
  string,
  {
    provider: string;
    active: boolean;
    models: { id: string; name: string; type: OpenAiModel['type']; custom: boolean }[];
  }
>;

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
    private readonly aliases: AliasesService,
  ) {}

  /** Changes whenever the catalogue may have (connections, nodes, combos, aliases). */
  version(): string {
    return `${this.providers.routing().version}.${this.combos.version()}.${this.aliases.version}`;
  }

  private all(): OpenAiModel[] {
    const table = this.providers.routing();
    const combosVersion = this.combos.version();
    if (this.cache?.version === table.version && this.cache.combosVersion === combosVersion) {
      return this.cache.list;
    }
    const created = Math.floor(Date.now() / 1000);
    // A combo shadows a provider model of the same id (it wins when routing, too).
    const visible = this.combos
      .list()
      .filter((c) => c.isActive && !c.isHidden && c.models.length > 0);
    const seen = new Set<string>(visible.map((c) => c.name));
    const list: OpenAiModel[] = [];
    for (const [providerId, conns] of table.connections) {
      const target = table.targets.get(providerId.toLowerCase());
      if (!target || !conns.length) {
        continue;
      }
      const add = (m: string, extra: Partial<OpenAiModel> & Pick<OpenAiModel, 'type'>): void => {
        const id = `${target.alias}/${m}`;
        if (!seen.has(id)) {
          seen.add(id);
          list.push({
            id,
            object: 'model',
            created,
            owned_by: target.alias,
            root: m,
            parent: null,
            permission: [],
            ...extra,
          });
        }
      };
      // the built-in provider's media models first, when its accounts serve them
      const def = target.def;
      const serves = conns[0].serves;
      if (def?.embeddings && serves.has('embeddings')) {
        for (const m of def.embeddings.models) {
          add(m.id, { type: 'embedding', dimensions: m.dimensions });
        }
      }
      if (def?.images && serves.has('images')) {
        for (const m of def.images.models) {
          add(m.id, {
            type: 'image',
            supported_sizes: [...m.sizes],
            input_modalities: ['text'],
            output_modalities: ['image'],
          });
        }
      }
      if (def?.transcription && serves.has('transcription')) {
        for (const m of def.transcription.models) {
          add(m, { type: 'audio', subtype: 'transcription' });
        }
      }
      // then the chat catalogue (discovered lists also name media models: those keep their type)
      for (const c of conns) {
        if (c.apiType !== 'chat' || c.serves.has('chat')) {
          for (const m of c.models) {
            add(m, { type: modelType(c.apiType) });
          }
        }
      }
    }
    list.sort((a, b) => a.id.localeCompare(b.id));
    const typeOf = new Map(list.map((m) => [m.id, m.type]));
    const combos: OpenAiModel[] = visible.map((c) => ({
      id: c.name,
      object: 'model',
      created,
      owned_by: 'combo',
      // what the combo serves: the kind of its first target
      type: this.comboType(c, typeOf),
      root: c.name,
      parent: null,
      permission: [],
      ...(c.context_length !== null ? { context_length: c.context_length } : {}),
    }));
    list.unshift(...combos);
    this.cache = { version: table.version, combosVersion, list };
    return list;
  }

  private comboType(combo: Combo, typeOf: Map<string, OpenAiModel['type']>): OpenAiModel['type'] {
    const table = this.providers.routing();
    for (const t of this.combos.targets(combo)) {
      const slash = t.model.indexOf('/');
      const target =
        slash > 0 ? table.targets.get(t.model.slice(0, slash).toLowerCase()) : undefined;
      const type = target ? typeOf.get(`${target.alias}/${t.model.slice(slash + 1)}`) : undefined;
      if (type) {
        return type;
      }
    }
    return 'chat';
  }

  /** `GET /v1/embeddings`: the embedding models this key may use. */
  embeddingModels(principal: Principal): { object: 'list'; data: OpenAiModel[] } {
    return {
      object: 'list',
      data: this.list(principal).data.filter((m) => m.type === 'embedding'),
    };
  }

  /** `GET /v1/images/generations`: the image models this key may use. */
  imageModels(principal: Principal): { object: 'list'; data: OpenAiModel[] } {
    return { object: 'list', data: this.list(principal).data.filter((m) => m.type === 'image') };
  }

  /**
   * `GET /api/models/catalog`: every provider (built-in and nodes) with `active` (has an active
   * connection) and its models — the live catalogue for active ones, the built-in list otherwise.
   */
  catalog(): ModelCatalog {
    const out: ModelCatalog = {};
    const table = this.providers.routing();
    for (const m of this.all()) {
      if (m.owned_by === 'combo') {
        continue;
      }
      const target = table.targets.get(m.owned_by.toLowerCase());
      const id = target?.id ?? m.owned_by;
      (out[id] ??= {
        provider: target?.def?.name ?? m.owned_by,
        active: true,
        models: [],
      }).models.push({ id: m.id, name: m.root, type: m.type, custom: !target?.def });
    }
    for (const def of PROVIDERS) {
      if (out[def.id]) {
        continue;
      }
      const models: ModelCatalog[string]['models'] = [];
      const push = (name: string, type: OpenAiModel['type']): void => {
        models.push({ id: `${def.alias}/${name}`, name, type, custom: false });
      };
      if (def.chat !== false) {
        def.models.forEach((m) => push(m, 'chat'));
      }
      def.embeddings?.models.forEach((m) => push(m.id, 'embedding'));
      def.images?.models.forEach((m) => push(m.id, 'image'));
      def.transcription?.models.forEach((m) => push(m, 'audio'));
      out[def.id] = { provider: def.name, active: false, models };
    }
    return out;
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
