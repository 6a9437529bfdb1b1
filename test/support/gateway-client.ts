import type { TestApp } from './app';

/** What the HTTP helpers need of a gateway: an in-process `TestApp` or a spawned process. */
export type Gateway = Pick<TestApp, 'url' | 'adminKey'>;

/** The management API's error body (`/api/*`). */
export interface ManagementError {
  error: {
    code: string;
    message: string;
    requestId: string;
    details?: { fields?: { field: string; message: string }[]; retryAfterSeconds?: number };
  };
  requestId: string;
}

/** The OpenAI-shaped error body (`/v1/*`). */
export interface OpenAiError {
  error: { message: string; type: string; param: string | null; code: string | null };
}

export interface CallOptions {
  /** Sent as JSON (`content-type: application/json`). */
  body?: unknown;
  /** Sent as is, with `content-type: application/json` unless `headers` say otherwise. */
  rawBody?: string;
  /** `Authorization: Bearer <key>`; default `gw.adminKey`, `null` sends no credentials. */
  key?: string | null;
  cookie?: string;
  /** Applied last: they win over the headers the other options set. */
  headers?: Record<string, string>;
}

export interface CallResult {
  status: number;
  /** The parsed body; undefined when it is not JSON. */
  json: unknown;
  text: string;
  headers: Headers;
}

/** One HTTP request to the gateway; the body is read in full, never throws on a status. */
export async function call(
  gw: Gateway,
  method: string,
  path: string,
  opts: CallOptions = {},
): Promise<CallResult> {
  const { key = gw.adminKey } = opts;
  const headers: Record<string, string> = {};
  if (key) {
    headers.authorization = `Bearer ${key}`;
  }
  const body = opts.rawBody ?? (opts.body === undefined ? undefined : JSON.stringify(opts.body));
  if (body !== undefined) {
    headers['content-type'] = 'application/json';
  }
  if (opts.cookie !== undefined) {
    headers.cookie = opts.cookie;
  }
  const res = await fetch(`${gw.url}${path}`, {
    method,
    headers: { ...headers, ...opts.headers },
    body,
  });
  const text = await res.text();
  let json: unknown = undefined;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.status, json, text, headers: res.headers };
}

/** `error.code` of a management error body (undefined for any other body). */
export function codeOf(json: unknown): string | undefined {
  return (json as ManagementError | undefined)?.error?.code;
}

/** The fields a management `VALIDATION_FAILED` body lists. */
export function fieldsOf(json: unknown): string[] {
  return ((json as ManagementError).error.details?.fields ?? []).map((f) => f.field);
}

/** Management calls with the admin key; throws on an unexpected status. */
export async function admin<T = Record<string, unknown>>(
  gw: Gateway,
  method: string,
  path: string,
  body?: unknown,
  expectStatus?: number,
): Promise<T> {
  const res = await call(gw, method, path, { body });
  if (expectStatus !== undefined ? res.status !== expectStatus : res.status >= 400) {
    throw new Error(`${method} ${path} → ${res.status}: ${res.text}`);
  }
  return (res.text ? JSON.parse(res.text) : {}) as T;
}

/** A provider node (OpenAI-compatible) with one connection; returns their ids. */
export async function addMockNode(
  gw: Gateway,
  prefix: string,
  baseUrl: string,
  connections: { name: string; apiKey?: string; priority?: number }[] = [
    { name: 'a', apiKey: 'sk-up' },
  ],
): Promise<{ nodeId: string; connectionIds: string[] }> {
  const { node } = await admin<{ node: { id: string } }>(gw, 'POST', '/api/provider-nodes', {
    name: prefix,
    prefix,
    baseUrl,
  });
  const connectionIds: string[] = [];
  for (const c of connections) {
    const { connection } = await admin<{ connection: { id: string } }>(
      gw,
      'POST',
      '/api/providers',
      {
        provider: node.id,
        ...c,
      },
    );
    connectionIds.push(connection.id);
  }
  return { nodeId: node.id, connectionIds };
}
