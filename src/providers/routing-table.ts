import type { AuthStyle, Capability, Dialect, ProviderDef } from './registry';

/** A connection ready for the hot path: secret decrypted, URLs built. Held in memory. */
export interface RoutableConnection {
  id: string;
  provider: string;
  name: string;
  priority: number;
  updatedAt: number;
  apiKey: string | null;
  chatUrl: string;
  modelsUrl: string;
  auth: AuthStyle;
  dialect: Dialect;
  /** The node's API type (`chat` for built-in providers). */
  apiType: string;
  /** What this connection can serve: chat, embeddings, images, transcription. */
  serves: ReadonlySet<Capability>;
  /** The provider's (or node's) base URL; media endpoints are built from it. */
  baseUrl: string;
  /** OpenAI-dialect models served only through the Responses API, and where that is. */
  responsesModels: ReadonlySet<string>;
  responsesUrl: string;
  /** Request headers for a JSON (`json`) or SSE (`stream`) call, built once per routing-table version. */
  requestHeaders: { json: Record<string, string>; stream: Record<string, string> };
  models: readonly string[];
  /** `apikey` or `oauth`: picks the cooldown/breaker profile (reference §5.5, §5.6). */
  authType: string;
  /** Quotas are per model (Gemini, custom nodes): a 404/429 locks (connection, model) only. */
  perModelQuota: boolean;
  /** Request/token limits; `protection` null = the global auto-enable setting decides. */
  rateLimit: { protection: boolean | null; rpm: number | null; tpm: number | null };
}

/** A provider as clients name it: built-in (by id or alias) or a node (by prefix). */
export interface ProviderTarget {
  /** The provider id stored on connections (built-in id or node id). */
  id: string;
  /** The prefix shown to clients (`alias/model`). */
  alias: string;
  def?: ProviderDef;
  nodeId?: string;
}

export interface RoutingTable {
  /** By lower-cased id, alias or node prefix. */
  targets: Map<string, ProviderTarget>;
  /** Active connections per provider id, fill-first order (priority asc, most recently updated first). */
  connections: Map<string, RoutableConnection[]>;
  version: number;
}

export const EMPTY_TABLE: RoutingTable = { targets: new Map(), connections: new Map(), version: 0 };

export const ANTHROPIC_VERSION = '2023-06-01';

/** Authorization headers for a connection (Anthropic-style endpoints also get `anthropic-version`). */
export function authHeaders(auth: AuthStyle, apiKey: string | null): Record<string, string> {
  if (!apiKey) {
    return auth === 'x-api-key' ? { 'anthropic-version': ANTHROPIC_VERSION } : {};
  }
  if (auth === 'bearer') {
    return { authorization: `Bearer ${apiKey}` };
  }
  if (auth === 'x-api-key') {
    return { 'x-api-key': apiKey, 'anthropic-version': ANTHROPIC_VERSION };
  }
  if (auth === 'x-goog-api-key') {
    return { 'x-goog-api-key': apiKey };
  }
  if (auth === 'token') {
    return { authorization: `Token ${apiKey}` };
  }
  if (auth === 'raw') {
    return { authorization: apiKey };
  }
  return {};
}

export function joinUrl(base: string, path: string): string {
  return base.replace(/\/+$/, '') + (path.startsWith('/') ? path : `/${path}`);
}

/** The request headers of a chat call to a connection, for both answer kinds. */
export function chatRequestHeaders(
  auth: AuthStyle,
  apiKey: string | null,
): RoutableConnection['requestHeaders'] {
  const base = { 'content-type': 'application/json', ...authHeaders(auth, apiKey) };
  return {
    json: { ...base, accept: 'application/json' },
    stream: { ...base, accept: 'text/event-stream' },
  };
}
