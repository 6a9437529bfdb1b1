import { AppError } from '@/common/errors/app-error';
import { caughtAppError } from '@/common/errors/app-error.testing';
import type { ProviderTarget, RoutableConnection, RoutingTable } from '@/providers/routing-table';
import { resolveModel } from './model-resolver';
import { scopeModel } from './provider-scope';

interface BuiltIn {
  id: string;
  alias: string;
}
interface Node {
  id: string;
  prefix: string;
}

/** A table built the way ProvidersService builds it: built-ins by id and alias, then nodes. */
function table(builtIns: BuiltIn[], nodes: Node[] = []): RoutingTable {
  const targets = new Map<string, ProviderTarget>();
  for (const b of builtIns) {
    const t: ProviderTarget = { id: b.id, alias: b.alias };
    targets.set(b.id, t);
    targets.set(b.alias, t);
  }
  for (const n of nodes) {
    const t: ProviderTarget = { id: n.id, alias: n.prefix, nodeId: n.id };
    targets.set(n.prefix.toLowerCase(), t); // a node prefix wins over a built-in alias
    targets.set(n.id.toLowerCase(), t);
  }
  return { targets, connections: new Map(), version: 1 };
}

const rejection = caughtAppError;

const BUILT_INS: BuiltIn[] = [
  { id: 'openai', alias: 'openai' },
  { id: 'openrouter', alias: 'openrouter' },
  { id: 'together', alias: 'together' },
  { id: 'deepseek', alias: 'ds' },
];
const NODE_ID = 'node-7f3a';
const T = table(BUILT_INS, [{ id: NODE_ID, prefix: 'local' }]);

describe(scopeModel.name, () => {
  it('prefixes an unprefixed model with the provider alias', () => {
    expect(scopeModel('gpt-4o', 'openai', T)).toBe('openai/gpt-4o');
    expect(scopeModel('deepseek-chat', 'deepseek', T)).toBe('ds/deepseek-chat');
    expect(scopeModel('deepseek-chat', 'ds', T)).toBe('ds/deepseek-chat');
  });

  it('finds the provider case-insensitively', () => {
    expect(scopeModel('gpt-4o', 'OpenAI', T)).toBe('openai/gpt-4o');
    expect(scopeModel('deepseek-chat', 'DeepSeek', T)).toBe('ds/deepseek-chat');
  });

  it('keeps a model prefixed with the provider alias, id or the path spelling (as the alias)', () => {
    expect(scopeModel('openai/gpt-4o', 'openai', T)).toBe('openai/gpt-4o');
    expect(scopeModel('ds/deepseek-chat', 'deepseek', T)).toBe('ds/deepseek-chat');
    expect(scopeModel('deepseek/deepseek-chat', 'deepseek', T)).toBe('ds/deepseek-chat');
    expect(scopeModel('deepseek/deepseek-chat', 'ds', T)).toBe('ds/deepseek-chat');
    expect(scopeModel('DeepSeek/deepseek-chat', 'DEEPSEEK', T)).toBe('ds/deepseek-chat');
    expect(scopeModel('OpenAI/GPT-4o', 'openai', T)).toBe('openai/GPT-4o');
  });

  it('keeps a node model prefixed with the node prefix or id (as the prefix)', () => {
    expect(scopeModel('llama3', 'local', T)).toBe('local/llama3');
    expect(scopeModel('llama3', NODE_ID, T)).toBe('local/llama3');
    expect(scopeModel(`${NODE_ID}/llama3`, 'local', T)).toBe('local/llama3');
    expect(scopeModel('local/llama3', NODE_ID, T)).toBe('local/llama3');
    expect(scopeModel('LOCAL/llama3', 'Local', T)).toBe('local/llama3');
  });

  it('prefixes a model id that contains / when the first part is not a provider', () => {
    expect(scopeModel('meta-llama/Llama-3.3-70B-Instruct-Turbo', 'together', T)).toBe(
      'together/meta-llama/Llama-3.3-70B-Instruct-Turbo',
    );
    expect(scopeModel('meta-llama/Llama-3', 'openrouter', T)).toBe('openrouter/meta-llama/Llama-3');
    expect(scopeModel('accounts/fireworks/models/llama-v3p3-70b-instruct', 'local', T)).toBe(
      'local/accounts/fireworks/models/llama-v3p3-70b-instruct',
    );
  });

  it('keeps further slashes after the provider prefix', () => {
    expect(scopeModel('openrouter/openai/gpt-4o', 'openrouter', T)).toBe(
      'openrouter/openai/gpt-4o',
    );
    expect(scopeModel('together/meta-llama/Llama-3', 'together', T)).toBe(
      'together/meta-llama/Llama-3',
    );
  });

  it("refuses a model prefixed with another provider's alias or id", () => {
    const cases: [string, string, string][] = [
      ['ds/deepseek-chat', 'openai', 'openai'],
      ['deepseek/deepseek-chat', 'openai', 'openai'],
      ['openai/gpt-4o', 'deepseek', 'ds'],
      ['openai/gpt-4o', 'openrouter', 'openrouter'],
      ['local/llama3', 'openai', 'openai'],
      [`${NODE_ID}/llama3`, 'together', 'together'],
      ['openai/gpt-4o', 'local', 'local'],
      ['OPENAI/gpt-4o', 'ds', 'ds'],
    ];
    for (const [model, provider, expected] of cases) {
      const e = rejection(() => scopeModel(model, provider, T));
      expect(e.code).toBe('MODEL_PROVIDER_MISMATCH');
      expect(e.category).toBe('INVALID_INPUT');
      expect(e.status).toBe(400);
      expect(e.details).toEqual({ param: 'model' });
      expect(e.message).toBe(
        `Model "${model}" does not belong to provider "${provider}". Expected prefix: ${expected}/`,
      );
    }
  });

  it("accepts another provider's prefix when the whole id is in this provider's catalogue (OpenRouter)", () => {
    const withCatalogue: RoutingTable = {
      ...T,
      connections: new Map([
        [
          'openrouter',
          [{ models: ['openai/gpt-4o', 'mistral/x'] } as unknown as RoutableConnection],
        ],
      ]),
    };
    expect(scopeModel('openai/gpt-4o', 'openrouter', withCatalogue)).toBe(
      'openrouter/openai/gpt-4o',
    );
    // not in the catalogue: still another provider's model
    expect(() => scopeModel('openai/gpt-5', 'openrouter', withCatalogue)).toThrow(AppError);
  });

  it('refuses an unknown provider, even with an empty model', () => {
    for (const model of ['gpt-4o', 'openai/gpt-4o', '']) {
      const e = rejection(() => scopeModel(model, 'nope', T));
      expect(e.code).toBe('UNKNOWN_PROVIDER');
      expect(e.category).toBe('INVALID_INPUT');
      expect(e.status).toBe(400);
      expect(e.details).toEqual({ param: 'provider' });
      expect(e.message).toBe('Unknown provider: nope');
    }
  });

  it('leaves an empty model empty (the surface reports it missing)', () => {
    expect(scopeModel('', 'openai', T)).toBe('');
  });

  it('gives a model that resolves to the scoped provider', () => {
    for (const [model, provider, id] of [
      ['gpt-4o', 'openai', 'openai'],
      ['deepseek-chat', 'deepseek', 'deepseek'],
      ['meta-llama/Llama-3', 'together', 'together'],
      [`${NODE_ID}/llama3`, 'local', NODE_ID],
    ]) {
      expect(resolveModel(scopeModel(model, provider, T), T).target.id).toBe(id);
    }
  });

  it('routes to the built-in even when a node prefix shadows its alias', () => {
    // a node with prefix 'ds' takes the alias of the built-in deepseek (ProvidersService: the node
    // prefix wins); the built-in stays reachable by its id, and its scoped route must still go to it
    const shadowed = table(BUILT_INS, [{ id: NODE_ID, prefix: 'ds' }]);
    expect(
      resolveModel(scopeModel('deepseek-chat', 'deepseek', shadowed), shadowed).target.id,
    ).toBe('deepseek');
    expect(
      resolveModel(scopeModel('deepseek/deepseek-chat', 'deepseek', shadowed), shadowed).target.id,
    ).toBe('deepseek');
    expect(resolveModel(scopeModel('deepseek-chat', 'ds', shadowed), shadowed).target.id).toBe(
      NODE_ID,
    );
  });
});
