import type { IncomingHttpHeaders } from 'node:http';

/**
 * The API key from whichever header the caller's SDK sends: `Authorization: Bearer` (OpenAI,
 * Ollama), `x-api-key` (Anthropic), `x-goog-api-key` or `?key=` (Gemini).
 */
export function extractApiKey(headers: IncomingHttpHeaders, query?: unknown): string | undefined {
  const auth = headers.authorization;
  if (typeof auth === 'string') {
    const m = /^Bearer\s+(.+)$/i.exec(auth.trim());
    if (m) {
      return m[1].trim();
    }
  }
  const x = headers['x-api-key'];
  if (typeof x === 'string' && x) {
    return x.trim();
  }
  const g = headers['x-goog-api-key'];
  if (typeof g === 'string' && g) {
    return g.trim();
  }
  if (query && typeof query === 'object' && 'key' in query) {
    const k = (query as Record<string, unknown>).key;
    if (typeof k === 'string' && k) {
      return k;
    }
  }
  return undefined;
}

/** Reads one cookie without a parser (only `auth_token` is ever needed). */
export function readCookie(header: string | undefined, name: string): string | undefined {
  if (!header) {
    return undefined;
  }
  for (const part of header.split(';')) {
    const i = part.indexOf('=');
    if (i > 0 && part.slice(0, i).trim() === name) {
      try {
        return decodeURIComponent(part.slice(i + 1).trim());
      } catch {
        return undefined; // malformed %-escape: no usable cookie (a 401, not a 500)
      }
    }
  }
  return undefined;
}
