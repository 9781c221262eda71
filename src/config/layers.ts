import { usageError } from '../errors.js';
import { parseDuration } from '../util/duration.js';
import type { FileConfig } from './schema.js';
import { looksNegative } from '../util/negative.js';

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
  /** Whether the flag's value came from its OCCS_LB_ variable (a switch's default and its variable's `true` look alike). */
  fromEnvironment: (name: string) => boolean;
}

/** The first layer, in precedence order, that sets the value. */
export const pick = <T>(...candidates: Array<From<T> | undefined>): From<T> | undefined => candidates.find(Boolean);

export const invalid = (from: string, what: string, hint?: string) => usageError(`${from}: ${what}`, { hint });

/** The longest a timer waits (2^31 - 1 ms, about 24.8 days): a longer one fires at once, with a warning, in Node. */
export const LONGEST_WAIT_MS = 2 ** 31 - 1;

/**
 * A duration setting in milliseconds, `fallback` when no layer sets it. Refused, naming where it
 * came from: text that is not a duration, 0 or less when `least` is more, and anything longer
 * than a timer can wait.
 */
export function durationSetting(chosen: From<string | number> | undefined, fallback: number, example: string, least = 0): number {
  if (!chosen) return fallback;
  const ms = parseDuration(chosen.value);
  const range = `it takes ${least === 0 ? '0' : `${least}ms`} to 24 days`;
  if (ms === undefined && looksNegative(chosen.value)) throw invalid(chosen.from, `"${chosen.value}" is negative: ${range}, such as ${example}`);
  if (ms === undefined) throw invalid(chosen.from, `"${chosen.value}" is not a duration such as ${example}; ${range}`);
  if (ms < least)
    throw invalid(
      chosen.from,
      least === 1 ? `"${chosen.value}" must be more than 0: ${range}` : `"${chosen.value}" is below the ${least} ms it takes at least: ${range}`,
    );
  if (ms > LONGEST_WAIT_MS) throw invalid(chosen.from, `"${chosen.value}" is longer than 24 days, the longest wait a timer takes`);
  return ms;
}
