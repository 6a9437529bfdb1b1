/** The wire protocol a provider speaks upstream. */
export type Dialect = 'openai' | 'anthropic' | 'ollama' | 'responses' | 'gemini';

/** How the credential is presented upstream. */
export type AuthStyle = 'bearer' | 'x-api-key' | 'x-goog-api-key' | 'none';

export interface ProviderDef {
  /** Stable id stored on connections. */
  id: string;
  /** What clients type before `/` in a model name (the id works too). */
  alias: string;
  name: string;
  dialect: Dialect;
  /** Base URL without trailing slash; `chatPath` and `modelsPath` are appended. */
  baseUrl: string;
  chatPath: string;
  modelsPath: string;
  auth: AuthStyle;
  requiresKey: boolean;
  /** A starting catalogue, listed by `/v1/models`; any model id is still accepted. */
  models: readonly string[];
  /** Models this OpenAI-dialect provider serves only through the Responses API (`/responses`). */
  responsesModels?: readonly string[];
}

const openai = (
  p: Omit<ProviderDef, 'dialect' | 'chatPath' | 'modelsPath' | 'auth' | 'requiresKey'>,
): ProviderDef => ({
  dialect: 'openai',
  chatPath: '/chat/completions',
  modelsPath: '/models',
  auth: 'bearer',
  requiresKey: true,
  ...p,
});

/** Built-in providers (reference §13.1): the OpenAI-compatible families. */
export const PROVIDERS: readonly ProviderDef[] = [
  openai({
    id: 'openai',
    alias: 'openai',
    name: 'OpenAI',
    baseUrl: 'https://api.openai.com/v1',
    // Only served by the Responses API (OpenAI docs): requests for them go to /responses.
    responsesModels: [
      'o1-pro',
      'o3-pro',
      'codex-mini-latest',
      'gpt-5-codex',
      'gpt-5.1-codex',
      'gpt-5-pro',
    ],
    models: ['gpt-4o', 'gpt-4o-mini', 'gpt-4.1', 'gpt-4.1-mini', 'o4-mini', 'gpt-5', 'gpt-5-mini'],
  }),
  openai({
    id: 'openrouter',
    alias: 'openrouter',
    name: 'OpenRouter',
    baseUrl: 'https://openrouter.ai/api/v1',
    models: [
      'openai/gpt-4o-mini',
      'anthropic/claude-sonnet-4',
      'google/gemini-2.5-flash',
      'meta-llama/llama-3.3-70b-instruct',
    ],
  }),
  openai({
    id: 'groq',
    alias: 'groq',
    name: 'Groq',
    baseUrl: 'https://api.groq.com/openai/v1',
    models: ['llama-3.3-70b-versatile', 'llama-3.1-8b-instant', 'openai/gpt-oss-120b'],
  }),
  openai({
    id: 'together',
    alias: 'together',
    name: 'Together AI',
    baseUrl: 'https://api.together.xyz/v1',
    models: [
      'meta-llama/Llama-3.3-70B-Instruct-Turbo',
      'deepseek-ai/DeepSeek-V3',
      'Qwen/Qwen2.5-72B-Instruct-Turbo',
    ],
  }),
  openai({
    id: 'fireworks',
    alias: 'fireworks',
    name: 'Fireworks AI',
    baseUrl: 'https://api.fireworks.ai/inference/v1',
    models: [
      'accounts/fireworks/models/llama-v3p3-70b-instruct',
      'accounts/fireworks/models/deepseek-v3',
    ],
  }),
  openai({
    id: 'mistral',
    alias: 'mistral',
    name: 'Mistral',
    baseUrl: 'https://api.mistral.ai/v1',
    models: ['mistral-large-latest', 'mistral-small-latest', 'codestral-latest'],
  }),
  openai({
    id: 'deepseek',
    alias: 'ds',
    name: 'DeepSeek',
    baseUrl: 'https://api.deepseek.com/v1',
    models: ['deepseek-chat', 'deepseek-reasoner'],
  }),
  openai({
    id: 'xai',
    alias: 'xai',
    name: 'xAI',
    baseUrl: 'https://api.x.ai/v1',
    models: ['grok-4', 'grok-3', 'grok-3-mini'],
  }),
  openai({
    id: 'nebius',
    alias: 'nebius',
    name: 'Nebius AI Studio',
    baseUrl: 'https://api.tokenfactory.nebius.com/v1',
    models: ['meta-llama/Llama-3.3-70B-Instruct', 'deepseek-ai/DeepSeek-V3'],
  }),
  openai({
    id: 'nvidia',
    alias: 'nvidia',
    name: 'NVIDIA NIM',
    baseUrl: 'https://integrate.api.nvidia.com/v1',
    models: ['openai/gpt-oss-120b', 'meta/llama-3.3-70b-instruct'],
  }),
  openai({
    id: 'cerebras',
    alias: 'cerebras',
    name: 'Cerebras',
    baseUrl: 'https://api.cerebras.ai/v1',
    models: ['llama-3.3-70b', 'gpt-oss-120b', 'qwen-3-32b'],
  }),
  {
    id: 'gemini',
    alias: 'gemini',
    name: 'Google Gemini',
    dialect: 'gemini',
    // The model goes in the path: `${baseUrl}/models/{model}:generateContent` (or :streamGenerateContent?alt=sse).
    baseUrl: 'https://generativelanguage.googleapis.com/v1beta',
    chatPath: '',
    modelsPath: '/models',
    auth: 'x-goog-api-key',
    requiresKey: true,
    models: ['gemini-2.5-pro', 'gemini-2.5-flash', 'gemini-2.5-flash-lite'],
  },
  {
    id: 'ollama',
    alias: 'ollama',
    name: 'Ollama (local server; needs ALLOW_PRIVATE_UPSTREAMS=true for 127.0.0.1)',
    dialect: 'ollama',
    baseUrl: 'http://127.0.0.1:11434',
    chatPath: '/api/chat',
    modelsPath: '/api/tags',
    auth: 'none',
    requiresKey: false,
    models: [],
  },
];

const byKey = new Map<string, ProviderDef>();
for (const p of PROVIDERS) {
  byKey.set(p.id, p);
  byKey.set(p.alias, p);
}

/** A built-in provider by id or alias. */
export function findProvider(idOrAlias: string): ProviderDef | undefined {
  return byKey.get(idOrAlias.toLowerCase());
}

export const NODE_TYPES = ['openai-compatible', 'anthropic-compatible'] as const;
export type NodeType = (typeof NODE_TYPES)[number];
/** What an OpenAI-compatible node serves (reference §3.3); chat is the one /v1/chat/completions uses. */
export const NODE_API_TYPES = [
  'chat',
  'responses',
  'embeddings',
  'audio-transcriptions',
  'audio-speech',
  'images-generations',
] as const;
export type NodeApiType = (typeof NODE_API_TYPES)[number];

/** Default request path per node API type (reference §4.3). */
export const NODE_PATHS: Record<NodeApiType, string> = {
  chat: '/chat/completions',
  responses: '/responses',
  embeddings: '/embeddings',
  'audio-transcriptions': '/audio/transcriptions',
  'audio-speech': '/audio/speech',
  'images-generations': '/images/generations',
};

export function isNodeId(id: string): boolean {
  return /^(openai|anthropic)-compatible-/.test(id);
}
