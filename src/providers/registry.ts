/** The wire protocol a provider speaks upstream. */
export type Dialect = 'openai' | 'anthropic' | 'ollama' | 'responses' | 'gemini';

/** How the credential is presented upstream (`token`: Deepgram's `Token <key>`; `raw`: AssemblyAI's bare key). */
export type AuthStyle = 'bearer' | 'x-api-key' | 'x-goog-api-key' | 'token' | 'raw' | 'none';

/** What a provider (or a node) serves besides chat, each at its own endpoint. */
export type Capability = 'chat' | 'embeddings' | 'images' | 'transcription';

export interface EmbeddingModelDef {
  id: string;
  /** The vector length the model returns by default (null when unknown). */
  dimensions: number | null;
}

export interface EmbeddingService {
  path: string;
  models: readonly EmbeddingModelDef[];
  /**
   * The request quirks of the provider's `/embeddings` (all answer OpenAI's shape): `openai` takes
   * `dimensions` and base64; `mistral` calls it `output_dimension` and sends floats only; `nvidia`
   * needs `input_type` for its retrieval models; `float` is OpenAI's without base64.
   */
  flavor: 'openai' | 'mistral' | 'nvidia' | 'float';
}

/** The native image API a provider speaks (each answered in OpenAI's shape). */
export type ImageProtocol = 'openai' | 'xai' | 'together' | 'fireworks';

export interface ImageModelDef {
  id: string;
  sizes: readonly string[];
}

export interface ImageService {
  protocol: ImageProtocol;
  /** `{model}` is replaced by the upstream model id. */
  path: string;
  models: readonly ImageModelDef[];
}

/** The native speech-to-text API: OpenAI's multipart, Deepgram's raw upload, AssemblyAI's job. */
export type TranscriptionProtocol = 'openai' | 'deepgram' | 'assemblyai';

export interface TranscriptionService {
  protocol: TranscriptionProtocol;
  path: string;
  models: readonly string[];
}

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
  /** false for providers without a chat endpoint (speech-to-text services). */
  chat?: boolean;
  embeddings?: EmbeddingService;
  images?: ImageService;
  transcription?: TranscriptionService;
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
    embeddings: {
      path: '/embeddings',
      flavor: 'openai',
      models: [
        { id: 'text-embedding-3-small', dimensions: 1536 },
        { id: 'text-embedding-3-large', dimensions: 3072 },
        { id: 'text-embedding-ada-002', dimensions: 1536 },
      ],
    },
    images: {
      protocol: 'openai',
      path: '/images/generations',
      models: [
        { id: 'gpt-image-1', sizes: ['1024x1024', '1536x1024', '1024x1536', 'auto'] },
        { id: 'dall-e-3', sizes: ['1024x1024', '1792x1024', '1024x1792'] },
        { id: 'dall-e-2', sizes: ['256x256', '512x512', '1024x1024'] },
      ],
    },
    transcription: {
      protocol: 'openai',
      path: '/audio/transcriptions',
      models: ['whisper-1', 'gpt-4o-transcribe', 'gpt-4o-mini-transcribe'],
    },
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
    transcription: {
      protocol: 'openai',
      path: '/audio/transcriptions',
      models: ['whisper-large-v3', 'whisper-large-v3-turbo'],
    },
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
    embeddings: {
      path: '/embeddings',
      flavor: 'float',
      models: [
        { id: 'togethercomputer/m2-bert-80M-8k-retrieval', dimensions: 768 },
        { id: 'BAAI/bge-large-en-v1.5', dimensions: 1024 },
      ],
    },
    images: {
      protocol: 'together',
      path: '/images/generations',
      models: [
        { id: 'black-forest-labs/FLUX.1-schnell', sizes: ['1024x1024', '1024x768', '768x1024'] },
        { id: 'black-forest-labs/FLUX.1.1-pro', sizes: ['1024x1024', '1024x768', '768x1024'] },
      ],
    },
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
    embeddings: {
      path: '/embeddings',
      flavor: 'float',
      models: [{ id: 'nomic-ai/nomic-embed-text-v1.5', dimensions: 768 }],
    },
    images: {
      protocol: 'fireworks',
      path: '/workflows/accounts/fireworks/models/{model}/text_to_image',
      models: [
        { id: 'flux-1-schnell-fp8', sizes: ['1024x1024', '1344x768', '768x1344', '1216x832'] },
        { id: 'flux-1-dev-fp8', sizes: ['1024x1024', '1344x768', '768x1344', '1216x832'] },
      ],
    },
  }),
  openai({
    id: 'mistral',
    alias: 'mistral',
    name: 'Mistral',
    baseUrl: 'https://api.mistral.ai/v1',
    models: ['mistral-large-latest', 'mistral-small-latest', 'codestral-latest'],
    embeddings: {
      path: '/embeddings',
      flavor: 'mistral',
      models: [
        { id: 'mistral-embed', dimensions: 1024 },
        { id: 'codestral-embed', dimensions: 1536 },
      ],
    },
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
    images: {
      protocol: 'xai',
      path: '/images/generations',
      models: [{ id: 'grok-2-image', sizes: ['1024x768'] }],
    },
  }),
  openai({
    id: 'nebius',
    alias: 'nebius',
    name: 'Nebius AI Studio',
    baseUrl: 'https://api.tokenfactory.nebius.com/v1',
    models: ['meta-llama/Llama-3.3-70B-Instruct', 'deepseek-ai/DeepSeek-V3'],
    embeddings: {
      path: '/embeddings',
      flavor: 'float',
      models: [
        { id: 'BAAI/bge-en-icl', dimensions: 4096 },
        { id: 'Qwen/Qwen3-Embedding-8B', dimensions: 4096 },
      ],
    },
  }),
  openai({
    id: 'nvidia',
    alias: 'nvidia',
    name: 'NVIDIA NIM',
    baseUrl: 'https://integrate.api.nvidia.com/v1',
    models: ['openai/gpt-oss-120b', 'meta/llama-3.3-70b-instruct'],
    embeddings: {
      path: '/embeddings',
      flavor: 'nvidia',
      models: [
        { id: 'nvidia/nv-embedqa-e5-v5', dimensions: 1024 },
        { id: 'nvidia/llama-3.2-nv-embedqa-1b-v2', dimensions: 2048 },
      ],
    },
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
  {
    id: 'deepgram',
    alias: 'deepgram',
    name: 'Deepgram (speech to text)',
    dialect: 'openai',
    baseUrl: 'https://api.deepgram.com/v1',
    chatPath: '',
    modelsPath: '/models',
    auth: 'token',
    requiresKey: true,
    chat: false,
    models: [],
    transcription: {
      protocol: 'deepgram',
      path: '/listen',
      models: ['nova-3', 'nova-2', 'whisper-large'],
    },
  },
  {
    id: 'assemblyai',
    alias: 'assemblyai',
    name: 'AssemblyAI (speech to text)',
    dialect: 'openai',
    baseUrl: 'https://api.assemblyai.com/v2',
    chatPath: '',
    // a cheap authenticated GET for the connection test: the latest transcript, if any
    modelsPath: '/transcript?limit=1',
    auth: 'raw',
    requiresKey: true,
    chat: false,
    models: [],
    transcription: {
      protocol: 'assemblyai',
      path: '',
      models: ['best', 'universal', 'slam-1', 'nano'],
    },
  },
];

/** The capabilities of a built-in provider. */
export function capabilitiesOf(def: ProviderDef): Capability[] {
  const out: Capability[] = def.chat === false ? [] : ['chat'];
  if (def.embeddings) {
    out.push('embeddings');
  }
  if (def.images) {
    out.push('images');
  }
  if (def.transcription) {
    out.push('transcription');
  }
  return out;
}

/** What a node of an API type serves (`responses` nodes are chat upstreams in another dialect). */
export function nodeCapability(apiType: string): Capability | undefined {
  switch (apiType) {
    case 'chat':
    case 'responses':
      return 'chat';
    case 'embeddings':
      return 'embeddings';
    case 'images-generations':
      return 'images';
    case 'audio-transcriptions':
      return 'transcription';
    default:
      return undefined;
  }
}

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
