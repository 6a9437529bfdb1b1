import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import type { Principal } from '@/common/guards/api-key.auth';

/** One client-API request on the hot path (node:http level, no framework objects). */
export interface HotRequest {
  id: string;
  method: string;
  /** Normalised path (no query, no trailing or duplicate slashes). */
  path: string;
  query: URLSearchParams | null;
  /** Path parameters of dynamic routes (Gemini: `model`, and `stream` from the action). */
  params: Record<string, string>;
  headers: IncomingHttpHeaders;
  body: unknown;
  principal: Principal;
  raw: IncomingMessage;
  res: ServerResponse;
  /** performance.now() when the request arrived. */
  startedAt: number;
  /** Headers every answer carries: request id, nosniff, CORS. */
  baseHeaders: Record<string, string>;
}

/** Writes a whole JSON (or pre-serialised) answer. */
export function sendJson(
  h: Pick<HotRequest, 'res' | 'baseHeaders'>,
  status: number,
  body: unknown,
  headers?: Record<string, string>,
): void {
  const payload = Buffer.isBuffer(body) ? body : Buffer.from(JSON.stringify(body));
  if (h.res.headersSent) {
    h.res.end();
    return;
  }
  h.res.writeHead(status, {
    ...h.baseHeaders,
    'content-type': 'application/json; charset=utf-8',
    'content-length': String(payload.length),
    ...headers,
  });
  h.res.end(payload);
}
