import { AppError } from '@/common/errors/app-error';

/** Small request-validation helpers of the media surfaces (errors are 400s naming the field). */

export function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export function requireModel(model: unknown): string {
  if (typeof model !== 'string' || !model.trim()) {
    throw new AppError('MISSING_MODEL', 'INVALID_INPUT', 'Missing model', { param: 'model' });
  }
  return model.trim();
}

export function positiveInt(v: unknown, field: string, max: number): number {
  const n = typeof v === 'string' && /^\d+$/.test(v) ? Number(v) : v;
  if (typeof n !== 'number' || !Number.isInteger(n) || n < 1 || n > max) {
    throw AppError.invalid(
      `Invalid '${field}': must be an integer between 1 and ${max}`,
      { param: field },
      'INVALID_INPUT_FIELD',
    );
  }
  return n;
}

export function optionalString(v: unknown, field: string): string | undefined {
  if (v === undefined || v === null) {
    return undefined;
  }
  if (typeof v !== 'string') {
    throw AppError.invalid(
      `Invalid '${field}': must be a string`,
      { param: field },
      'INVALID_INPUT_FIELD',
    );
  }
  return v;
}

export function oneOf<T extends string>(
  v: unknown,
  field: string,
  allowed: readonly T[],
): T | undefined {
  if (v === undefined || v === null || v === '') {
    return undefined;
  }
  if (typeof v !== 'string' || !(allowed as readonly string[]).includes(v)) {
    throw AppError.invalid(
      `Invalid '${field}': must be one of ${allowed.map((a) => `'${a}'`).join(', ')}`,
      { param: field },
      'INVALID_INPUT_FIELD',
    );
  }
  return v as T;
}

/** An upstream answer the gateway cannot read (a 502, like a chat upstream's bad JSON). */
export function invalidUpstream(provider: string, what: string): AppError {
  return new AppError(
    'UPSTREAM_INVALID_RESPONSE',
    'UPSTREAM_ERROR',
    `Upstream ${provider} sent ${what}`,
  );
}
