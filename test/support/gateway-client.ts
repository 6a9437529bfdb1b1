import type { TestApp } from './app';

/** Management calls with the admin key; throws on an unexpected status. */
export async function admin<T = Record<string, unknown>>(
  gw: Pick<TestApp, 'url' | 'adminKey'>,
  method: string,
  path: string,
  body?: unknown,
  expectStatus?: number,
): Promise<T> {
  const res = await fetch(`${gw.url}${path}`, {
    method,
    headers: { authorization: `Bearer ${gw.adminKey}`, 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  if (expectStatus !== undefined ? res.status !== expectStatus : res.status >= 400) {
    throw new Error(`${method} ${path} → ${res.status}: ${text}`);
  }
  return (text ? JSON.parse(text) : {}) as T;
}

/** A provider node (OpenAI-compatible) with one connection; returns their ids. */
export async function addMockNode(
  gw: Pick<TestApp, 'url' | 'adminKey'>,
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

/** Reads an SSE response body fully. */
export async function readAll(res: Response): Promise<string> {
  return res.text();
}
