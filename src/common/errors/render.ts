import { errorCodes } from 'fastify';
import { QueryFailedError } from 'typeorm';
import { AppError } from './app-error';

export type Dialect = 'management' | 'openai' | 'anthropic' | 'gemini' | 'ollama';

export interface RenderedError {
  status: number;
  body: unknown;
  headers?: Record<string, string>;
}

/** Which error shape a path's callers expect. */
export function dialectForPath(url: string): Dialect {
  const path = url.split('?', 1)[0];
  if (path.startsWith('/v1/messages')) {
    return 'anthropic';
  }
  if (
    path.startsWith('/v1beta/') ||
    path.startsWith('/api/v1beta/') ||
    path === '/v1beta' ||
    path === '/api/v1beta'
  ) {
    return 'gemini';
  }
  if (path.startsWith('/v1/api/') || path === '/api/tags' || path === '/api/chat') {
    return 'ollama';
  }
  if (
    path === '/v1' ||
    path.startsWith('/v1/') ||
    path.startsWith('/chat/') ||
    path === '/responses' ||
    path.startsWith('/responses/') ||
    path.startsWith('/codex/') ||
    path === '/models'
  ) {
    return 'openai';
  }
  return 'management';
}

/** OpenAI `type` by status (reference §1.3). */
export function openAiType(status: number): string {
  switch (status) {
    case 401:
      return 'authentication_error';
    case 402:
      return 'billing_error';
    case 403:
      return 'permission_error';
    case 429:
      return 'rate_limit_error';
    default:
      return status >= 500 ? 'server_error' : 'invalid_request_error';
  }
}

const OPENAI_CODES: Record<string, string> = {
  API_KEY_REQUIRED: 'invalid_api_key',
  API_KEY_INVALID: 'invalid_api_key',
  API_KEY_REVOKED: 'invalid_api_key',
};

/** Anthropic error `type` by status. */
function anthropicType(status: number): string {
  switch (status) {
    case 400:
    case 404:
    case 413:
    case 422:
      return status === 404
        ? 'not_found_error'
        : status === 413
          ? 'request_too_large'
          : 'invalid_request_error';
    case 401:
      return 'authentication_error';
    case 402:
      return 'billing_error';
    case 403:
      return 'permission_error';
    case 429:
      return 'rate_limit_error';
    case 503:
    case 529:
      return 'overloaded_error';
    case 504:
      return 'timeout_error';
    default:
      return status >= 500 ? 'api_error' : 'invalid_request_error';
  }
}

/** Google RPC status names by HTTP status. */
function grpcStatus(status: number): string {
  const map: Record<number, string> = {
    400: 'INVALID_ARGUMENT',
    401: 'UNAUTHENTICATED',
    403: 'PERMISSION_DENIED',
    404: 'NOT_FOUND',
    409: 'ABORTED',
    413: 'INVALID_ARGUMENT',
    429: 'RESOURCE_EXHAUSTED',
    499: 'CANCELLED',
    500: 'INTERNAL',
    502: 'UNAVAILABLE',
    503: 'UNAVAILABLE',
    504: 'DEADLINE_EXCEEDED',
  };
  return map[status] ?? (status >= 500 ? 'INTERNAL' : 'FAILED_PRECONDITION');
}

/** Renders the one internal error type in the caller's dialect. */
export function renderError(err: AppError, dialect: Dialect, requestId: string): RenderedError {
  const status = err.status;
  const headers = err.headers;
  // The routing log (which targets/accounts were tried or skipped, and why) rides along in every
  // dialect's error object: SDKs ignore fields they do not know.
  const attempts = Array.isArray(err.details?.attempts) ? { attempts: err.details.attempts } : {};
  switch (dialect) {
    case 'openai':
      return {
        status,
        headers,
        body: {
          error: {
            message: err.message,
            type: openAiType(status),
            param: (err.details?.param as string | undefined) ?? null,
            code: OPENAI_CODES[err.code] ?? err.code.toLowerCase(),
            ...(err.details?.upstream ? { upstream: err.details.upstream } : {}),
            ...attempts,
          },
        },
      };
    case 'anthropic':
      return {
        status,
        headers,
        body: {
          type: 'error',
          error: { type: anthropicType(status), message: err.message, ...attempts },
        },
      };
    case 'gemini':
      return {
        status,
        headers,
        body: {
          error: { code: status, message: err.message, status: grpcStatus(status), ...attempts },
        },
      };
    case 'ollama':
      return { status, headers, body: { error: err.message, ...attempts } };
    case 'management':
      return {
        status,
        headers,
        body: {
          error: {
            code: err.code,
            message: err.message,
            requestId,
            ...(err.details ? { details: err.details } : {}),
          },
          requestId,
        },
      };
  }
}

interface HttpLikeError {
  statusCode?: number;
  status?: number;
  code?: string;
  message?: string;
  getStatus?: () => number;
  getResponse?: () => unknown;
}

/**
 * Nest re-throws Fastify's body-parser errors on its own routes as `HttpException(message, status)`,
 * dropping the `FST_` code; their messages are how a bad JSON body is still recognised there.
 */
const JSON_BODY_MESSAGES: ReadonlySet<string> = new Set([
  new errorCodes.FST_ERR_CTP_INVALID_JSON_BODY().message,
  new errorCodes.FST_ERR_CTP_EMPTY_JSON_BODY().message,
]);

/**
 * Anything thrown (AppError, Nest HttpException, Fastify's body/parse errors) as an AppError.
 * Unknown errors become INTERNAL with a generic message; the caller logs the original.
 */
export function toAppError(e: unknown): AppError {
  if (e instanceof AppError) {
    return e;
  }
  const h = (e ?? {}) as HttpLikeError;
  const status = typeof h.getStatus === 'function' ? h.getStatus() : (h.statusCode ?? h.status);
  const fcode = typeof h.code === 'string' ? h.code : '';
  if (fcode === 'FST_ERR_CTP_BODY_TOO_LARGE' || status === 413) {
    return new AppError('PAYLOAD_TOO_LARGE', 'PAYLOAD_TOO_LARGE', 'Request body too large');
  }
  if (
    fcode === 'FST_ERR_CTP_INVALID_JSON_BODY' ||
    fcode === 'FST_ERR_CTP_EMPTY_JSON_BODY' ||
    (status === 400 && typeof h.message === 'string' && JSON_BODY_MESSAGES.has(h.message)) ||
    (e instanceof SyntaxError && status === 400)
  ) {
    return new AppError(
      'INVALID_JSON',
      'INVALID_INPUT',
      `Invalid JSON body: ${h.message ?? 'could not parse'}`,
    );
  }
  // Postgres refused text the client sent (a NUL byte: 22021 in text columns, 22P05 in jsonb).
  if (e instanceof QueryFailedError && (fcode === '22021' || fcode === '22P05')) {
    return AppError.invalid(
      'The request contains characters that cannot be stored (such as \\u0000)',
      undefined,
      'INVALID_REQUEST',
    );
  }
  if (fcode === 'FST_ERR_CTP_INVALID_MEDIA_TYPE' || status === 415) {
    return new AppError(
      'UNSUPPORTED_MEDIA_TYPE',
      'INVALID_INPUT',
      'Unsupported Content-Type: send application/json',
      undefined,
      415,
    );
  }
  if (typeof status === 'number' && status >= 400 && status < 500) {
    if (status === 404) {
      return new AppError(
        'ROUTE_NOT_FOUND',
        'NOT_FOUND',
        h.message && !/^Cannot /.test(h.message) ? h.message : 'Route not found',
      );
    }
    const category =
      status === 401
        ? 'UNAUTHENTICATED'
        : status === 403
          ? 'FORBIDDEN'
          : status === 429
            ? 'RATE_LIMITED'
            : 'INVALID_INPUT';
    return new AppError(
      fcode && fcode.startsWith('FST_') ? 'INVALID_REQUEST' : 'INVALID_REQUEST',
      category,
      h.message ?? 'Bad request',
      undefined,
      status,
    );
  }
  if (typeof h.getStatus === 'function' && typeof status === 'number' && status >= 500) {
    // A deliberate 5xx from Nest or a library (e.g. terminus's 503): keep its status.
    return new AppError(
      status === 503 ? 'SERVICE_UNAVAILABLE' : 'UPSTREAM_ERROR',
      status === 503 ? 'UNAVAILABLE' : 'INTERNAL',
      h.message ?? 'Service unavailable',
      undefined,
      status,
    );
  }
  return new AppError('INTERNAL', 'INTERNAL', 'Internal server error');
}
