import { AppError } from '@/common/errors/app-error';
import type { ProviderTarget, RoutableConnection, RoutingTable } from '@/providers/routing-table';
import { resolveModel } from './model-resolver';

interface BuiltIn {
  id: string;
  alias: string;
}
interface Node {
  id: string;
  prefix: string;
}

/** Builds a table the way ProvidersService does: built-ins by id and alias, then nodes by prefix and id. */
function table(
  builtIns: BuiltIn[],
  nodes: Node[] = [],
  served: Record<string, string[]> = {},
): RoutingTable {
  const targets = new Map<string, ProviderTarget>();
  for (const b of builtIns) {
    const t: ProviderTarget = { id: b.id, alias: b.alias };
    targets.set(b.id, t);
    targets.set(b.alias, t);
  }
  for (const n of nodes) {
    const t: ProviderTarget = { id: n.id, alias: n.prefix, nodeId: n.id };
    targets.set(n.prefix.toLowerCase(), t);
    targets.set(n.id.toLowerCase(), t);
  }
  const connections = new Map<string, RoutableConnection[]>();
  for (const [provider, models] of Object.entries(served)) {
    connections.set(provider, [conn(provider, models)]);
  }
  return { targets, connections, version: 1 };
}

function conn(provider: string, models: string[]): RoutableConnection {
  return {
    id: `${provider}-conn`,
    provider,
    name: provider,
    priority: 1,
    updatedAt: 0,
    apiKey: 'sk-x',
    chatUrl: 'https://example.test/v1/chat/completions',
    modelsUrl: 'https://example.test/v1/models',
    auth: 'bearer',
    dialect: 'openai',
    apiType: 'chat',
    serves: new Set(['chat'] as const),
    baseUrl: 'https://example.test/v1',
    requestHeaders: { json: {}, stream: {} },
    responsesModels: new Set<string>(),
    responsesUrl: '',
    models,
    authType: 'apikey',
    perModelQuota: false,
    rateLimit: { protection: null, rpm: null, tpm: null },
  };
}

function rejection(model: string, t: RoutingTable): AppError {
  try {
    resolveModel(model, t);
  } catch (e) {
    expect(e).toBeInstanceOf(AppError);
    return e as AppError;
  }
  throw new Error(`resolveModel(${model}) did not throw`);
}

const BUILT_INS: BuiltIn[] = [
  { id: 'openai', alias: 'openai' },
  { id: 'openrouter', alias: 'openrouter' },
  { id: 'deepseek', alias: 'ds' },
];
const NODE_ID = 'node-7f3a';

describe(resolveModel.name, () => {
  describe('with a provider prefix', () => {
    it('resolves a prefix that is a built-in alias', () => {
      const r = resolveModel('ds/deepseek-chat', table(BUILT_INS));
      expect(r.target.id).toBe('deepseek');
      expect(r.upstreamModel).toBe('deepseek-chat');
      expect(r.qualified).toBe('ds/deepseek-chat');
    });

    it('resolves a prefix that is a built-in id and qualifies the model with the alias', () => {
      const r = resolveModel('deepseek/deepseek-chat', table(BUILT_INS));
      expect(r.target.id).toBe('deepseek');
      expect(r.upstreamModel).toBe('deepseek-chat');
      expect(r.qualified).toBe('ds/deepseek-chat');
    });

    it('matches the prefix case-insensitively and keeps the model case', () => {
      const r = resolveModel('OpenAI/GPT-4o', table(BUILT_INS));
      expect(r.target.id).toBe('openai');
      expect(r.upstreamModel).toBe('GPT-4o');
    });

    it('resolves a node by its prefix and by its id', () => {
      const t = table(BUILT_INS, [{ id: NODE_ID, prefix: 'local' }]);
      const byPrefix = resolveModel('local/llama3', t);
      expect(byPrefix.target).toEqual({ id: NODE_ID, alias: 'local', nodeId: NODE_ID });
      expect(byPrefix.upstreamModel).toBe('llama3');
      expect(byPrefix.qualified).toBe('local/llama3');
      expect(resolveModel(`${NODE_ID}/llama3`, t).target.nodeId).toBe(NODE_ID);
    });

    it('routes to a node whose prefix shadows a built-in alias', () => {
      const t = table(BUILT_INS, [{ id: NODE_ID, prefix: 'ds' }]);
      const r = resolveModel('ds/deepseek-chat', t);
      expect(r.target.nodeId).toBe(NODE_ID);
      expect(r.target.id).toBe(NODE_ID);
      // The built-in stays reachable by its id.
      expect(resolveModel('deepseek/deepseek-chat', t).target.id).toBe('deepseek');
    });

    it('keeps further slashes in the upstream model', () => {
      const r = resolveModel('openrouter/openai/gpt-4o', table(BUILT_INS));
      expect(r.target.id).toBe('openrouter');
      expect(r.upstreamModel).toBe('openai/gpt-4o');
      expect(r.qualified).toBe('openrouter/openai/gpt-4o');
    });

    it('returns 400 INVALID_MODEL when nothing follows the prefix', () => {
      const e = rejection('openai/', table(BUILT_INS));
      expect(e.status).toBe(400);
      expect(e.code).toBe('INVALID_MODEL');
      expect(e.details?.param).toBe('model');
    });

    it('returns 404 MODEL_NOT_FOUND naming the prefix when the prefix is unknown', () => {
      const e = rejection('nope/gpt-4o', table(BUILT_INS, [], { openai: ['gpt-4o'] }));
      expect(e.status).toBe(404);
      expect(e.code).toBe('MODEL_NOT_FOUND');
      expect(e.message).toContain('"nope"');
      expect(e.details?.param).toBe('model');
    });

    it('resolves an unknown prefix as a bare catalogue model when one provider lists it', () => {
      const t = table(BUILT_INS, [], { openrouter: ['meta-llama/llama-3.3-70b-instruct'] });
      const r = resolveModel('meta-llama/llama-3.3-70b-instruct', t);
      expect(r.target.id).toBe('openrouter');
      expect(r.upstreamModel).toBe('meta-llama/llama-3.3-70b-instruct');
      expect(r.qualified).toBe('openrouter/meta-llama/llama-3.3-70b-instruct');
    });
  });

  describe('with a bare model', () => {
    it('resolves a model served by exactly one provider', () => {
      const t = table(BUILT_INS, [], { openai: ['gpt-4o'], deepseek: ['deepseek-chat'] });
      const r = resolveModel('deepseek-chat', t);
      expect(r.target.id).toBe('deepseek');
      expect(r.upstreamModel).toBe('deepseek-chat');
      expect(r.qualified).toBe('ds/deepseek-chat');
    });

    it('resolves a model served by a node', () => {
      const t = table(BUILT_INS, [{ id: NODE_ID, prefix: 'local' }], { [NODE_ID]: ['llama3'] });
      const r = resolveModel('llama3', t);
      expect(r.target.nodeId).toBe(NODE_ID);
      expect(r.qualified).toBe('local/llama3');
    });

    it('returns 400 AMBIGUOUS_MODEL listing the choices when two providers serve it', () => {
      const t = table(BUILT_INS, [], { openai: ['gpt-4o'], openrouter: ['gpt-4o'] });
      const e = rejection('gpt-4o', t);
      expect(e.status).toBe(400);
      expect(e.code).toBe('AMBIGUOUS_MODEL');
      expect(e.message).toContain('openai/gpt-4o');
      expect(e.message).toContain('openrouter/gpt-4o');
      expect(e.details?.param).toBe('model');
    });

    it('returns 404 MODEL_NOT_FOUND when no provider serves it', () => {
      const e = rejection('gpt-9', table(BUILT_INS, [], { openai: ['gpt-4o'] }));
      expect(e.status).toBe(404);
      expect(e.code).toBe('MODEL_NOT_FOUND');
      expect(e.message).toContain('"gpt-9"');
    });

    it('returns 404 when the only provider listing it has no routing target', () => {
      const e = rejection('gpt-4o', table([], [], { ghost: ['gpt-4o'] }));
      expect(e.status).toBe(404);
    });

    it('treats a leading slash as part of a bare model', () => {
      const e = rejection('/gpt-4o', table(BUILT_INS, [], { openai: ['gpt-4o'] }));
      expect(e.status).toBe(404);
      expect(e.code).toBe('MODEL_NOT_FOUND');
    });
  });
});
