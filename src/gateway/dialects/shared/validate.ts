import { AppError } from '@/common/errors/app-error';
import { isObj, type Obj } from '@/gateway/dialects/shared/values';

/**
 * Validation helpers shared by the client-side request mappers. Every failure is a 400 `AppError`
 * whose `details.param` names the field. Two message styles exist, one per dialect family, and
 * tests pin both:
 * - `optString` / `optNumber` / `optBoolean`: "`<param>` must be a string, got `<kind>`"
 *   (OpenAI Responses, Ollama);
 * - `optionalString` / `optionalNumber` / `optionalBoolean` / `optionalObject` / `requiredString`:
 *   "`<param>`: a string is required, got `<kind>`" (Anthropic, Gemini).
 */

export const invalid = (message: string, param: string): AppError =>
  AppError.invalid(message, { param });

/** Neither `undefined` nor `null`. */
export const present = (v: unknown): boolean => v !== undefined && v !== null;

/** The JSON kind of a value for an error message: `null`, `array`, `string`, `object`… */
export const kindOf = (v: unknown): string =>
  v === null ? 'null' : Array.isArray(v) ? 'array' : typeof v;

/** A user-supplied value quoted in an error message, kept short. */
export function quote(v: unknown): string {
  const s = typeof v === 'string' ? JSON.stringify(v) : String(v);
  return s.length > 60 ? `${s.slice(0, 57)}...` : s;
}

// "<param> must be a …, got <kind>"

export function optString(v: unknown, param: string): string | undefined {
  if (!present(v)) {
    return undefined;
  }
  if (typeof v !== 'string') {
    throw invalid(`${param} must be a string, got ${kindOf(v)}`, param);
  }
  return v;
}

export function optNumber(v: unknown, param: string): number | undefined {
  if (!present(v)) {
    return undefined;
  }
  if (typeof v !== 'number' || !Number.isFinite(v)) {
    throw invalid(`${param} must be a number, got ${kindOf(v)}`, param);
  }
  return v;
}

export function optBoolean(v: unknown, param: string): boolean | undefined {
  if (!present(v)) {
    return undefined;
  }
  if (typeof v !== 'boolean') {
    throw invalid(`${param} must be a boolean, got ${kindOf(v)}`, param);
  }
  return v;
}

// "<param>: a … is required, got <kind>"

export function requiredString(v: unknown, param: string): string {
  if (typeof v !== 'string') {
    throw invalid(`${param}: a string is required, got ${kindOf(v)}`, param);
  }
  return v;
}

export function optionalString(v: unknown, param: string): string | undefined {
  return present(v) ? requiredString(v, param) : undefined;
}

export function optionalNumber(v: unknown, param: string): number | undefined {
  if (!present(v)) {
    return undefined;
  }
  if (typeof v !== 'number' || !Number.isFinite(v)) {
    throw invalid(`${param}: a number is required, got ${kindOf(v)}`, param);
  }
  return v;
}

export function optionalBoolean(v: unknown, param: string): boolean | undefined {
  if (!present(v)) {
    return undefined;
  }
  if (typeof v !== 'boolean') {
    throw invalid(`${param}: a boolean is required, got ${kindOf(v)}`, param);
  }
  return v;
}

export function optionalObject(v: unknown, param: string): Obj | undefined {
  if (!present(v)) {
    return undefined;
  }
  if (!isObj(v)) {
    throw invalid(`${param}: an object is required, got ${kindOf(v)}`, param);
  }
  return v;
}
