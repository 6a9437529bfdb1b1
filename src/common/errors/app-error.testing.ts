import { AppError } from './app-error';

/** The AppError `fn` throws (the test fails if it throws nothing or something else). */
export function caughtAppError(fn: () => unknown): AppError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(AppError);
    return e as AppError;
  }
  throw new Error('expected an AppError');
}
