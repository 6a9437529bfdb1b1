export type ErrorCategory =
  | 'INVALID_INPUT'
  | 'UNAUTHENTICATED'
  | 'FORBIDDEN'
  | 'NOT_FOUND'
  | 'CONFLICT'
  | 'PAYLOAD_TOO_LARGE'
  | 'UNPROCESSABLE'
  | 'RATE_LIMITED'
  | 'CLIENT_CLOSED'
  | 'INTERNAL'
  | 'UPSTREAM_ERROR'
  | 'UNAVAILABLE'
  | 'UPSTREAM_TIMEOUT';

export const STATUS_BY_CATEGORY = {
  INVALID_INPUT: 400,
  UNAUTHENTICATED: 401,
  FORBIDDEN: 403,
  NOT_FOUND: 404,
  CONFLICT: 409,
  PAYLOAD_TOO_LARGE: 413,
  UNPROCESSABLE: 422,
  RATE_LIMITED: 429,
  CLIENT_CLOSED: 499,
  INTERNAL: 500,
  UPSTREAM_ERROR: 502,
  UNAVAILABLE: 503,
  UPSTREAM_TIMEOUT: 504,
} as const satisfies Record<ErrorCategory, number>;

/**
 * The one internal error type. Each surface renders it in its own dialect (management JSON, OpenAI,
 * Anthropic, ...). `status` overrides the category's status when an upstream status is re-emitted.
 */
export class AppError extends Error {
  constructor(
    readonly code: string,
    readonly category: ErrorCategory,
    message: string,
    readonly details?: Record<string, unknown>,
    readonly status: number = STATUS_BY_CATEGORY[category],
    readonly headers?: Record<string, string>,
  ) {
    super(message);
    this.name = 'AppError';
  }

  static invalid(
    message: string,
    details?: Record<string, unknown>,
    code = 'INVALID_REQUEST',
  ): AppError {
    return new AppError(code, 'INVALID_INPUT', message, details);
  }

  static notFound(message: string, code = 'NOT_FOUND'): AppError {
    return new AppError(code, 'NOT_FOUND', message);
  }

  static unauthenticated(message = 'Authentication required', code = 'UNAUTHENTICATED'): AppError {
    return new AppError(code, 'UNAUTHENTICATED', message);
  }

  static forbidden(message: string, code = 'FORBIDDEN'): AppError {
    return new AppError(code, 'FORBIDDEN', message);
  }

  static conflict(message: string, code = 'CONFLICT'): AppError {
    return new AppError(code, 'CONFLICT', message);
  }
}

export function isAppError(e: unknown): e is AppError {
  return e instanceof AppError;
}
