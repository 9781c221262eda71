import { usageError } from '../errors.js';
import type { FileConfig } from './schema.js';

/** A value with the place it came from (for error messages) and the directory relative paths use. */
export interface From<T> {
  value: T;
  from: string;
  base: string;
}

/** Reads one setting from one layer; undefined when that layer does not set it. */
export interface Layers {
  flag: <T>(name: string, value: T | undefined) => From<T> | undefined;
  env: (name: string) => From<string> | undefined;
  file: <K extends keyof FileConfig>(key: K) => From<NonNullable<FileConfig[K]>> | undefined;
}

/** The first layer, in precedence order, that sets the value. */
export const pick = <T>(...candidates: Array<From<T> | undefined>): From<T> | undefined => candidates.find(Boolean);

export const invalid = (from: string, what: string, hint?: string) => usageError(`${from}: ${what}`, { hint });
