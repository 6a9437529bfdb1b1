import { AppError } from '@/common/errors/app-error';

/** `?limit=&offset=` with bounds; bad values are a 400, not a silent default. */
export function parsePaging(
  limit?: string,
  offset?: string,
  max = 500,
): { limit: number; offset: number } {
  const l = limit === undefined || limit === '' ? 50 : Number(limit);
  const o = offset === undefined || offset === '' ? 0 : Number(offset);
  // Same `{ field, message }` shape as the body validation errors (app.setup.ts).
  const fields: { field: string; message: string }[] = [];
  if (!Number.isInteger(l) || l < 1 || l > max) {
    fields.push({ field: 'limit', message: `limit must be an integer from 1 to ${max}` });
  }
  if (!Number.isInteger(o) || o < 0) {
    fields.push({ field: 'offset', message: 'offset must be a non-negative integer' });
  }
  if (fields.length) {
    throw AppError.invalid('Invalid request', { fields }, 'VALIDATION_FAILED');
  }
  return { limit: l, offset: o };
}
