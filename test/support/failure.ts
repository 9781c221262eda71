import { OccsError } from '../../src/errors.js';

/** The OccsError a promise rejects with (anything else, or success, fails the test). */
export async function failure(promise: Promise<unknown>): Promise<OccsError> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof OccsError) return error;
    throw error;
  }
  throw new Error('expected an OccsError');
}

/** The OccsError a function throws. */
export function thrown(fn: () => unknown): OccsError {
  try {
    fn();
  } catch (error) {
    if (error instanceof OccsError) return error;
    throw error;
  }
  throw new Error('expected an OccsError');
}
