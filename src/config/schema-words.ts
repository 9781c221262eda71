import type { z } from 'zod';

/** What a config-file type is, in words: `a number`, `a list`. */
const WORDS: Record<string, string> = {
  string: 'text',
  number: 'a number',
  integer: 'a whole number',
  boolean: 'true or false',
  array: 'a list',
  object: 'an object of settings',
};
const word = (type: string) => WORDS[type] ?? type;

/** A value and what it is: `"80" is text`, `is a list`. */
function shown(value: unknown): string {
  const type = Array.isArray(value) ? 'array' : value === null ? 'null' : typeof value;
  if (type === 'array' || type === 'object' || type === 'null') return `is ${word(type)}`;
  const text = JSON.stringify(value);
  return `${text.length > 40 ? `${text.slice(0, 39)}…` : text} is ${type === 'boolean' ? 'a boolean' : word(type)}`;
}

/**
 * A value of the wrong type, or empty, stated as the rule: `"80" is text; it must be a number
 * (write 80, without quotes)`, `is empty: list one prefix or more, or leave the key out`.
 */
export function typeProblem(issue: z.ZodIssue, value: unknown): string | undefined {
  let expected: string[] | undefined;
  if (issue.code === 'invalid_type' && issue.received !== 'undefined') expected = [issue.expected];
  if (issue.code === 'invalid_union') {
    const types = issue.unionErrors.flatMap((e) => e.issues.flatMap((i) => (i.code === 'invalid_type' ? [i.expected as string] : [])));
    if (types.length === issue.unionErrors.length) expected = [...new Set(types)];
  }
  if (expected) {
    const must = expected.map(word).join(' or ');
    if (expected.includes('integer') && typeof value === 'number') return `${value} is not a whole number`;
    const unquoted = typeof value === 'string' && (expected.includes('number') || expected.includes('integer') || expected.includes('boolean'));
    const listed = typeof value === 'string' && expected.includes('array') ? ` (write [${JSON.stringify(value)}])` : '';
    const hint = unquoted && JSON.stringify(parseLoosely(value)) !== undefined ? ` (write ${value.trim()}, without quotes)` : listed;
    return `${shown(value)}; it must be ${must}${hint}`;
  }
  if (issue.code === 'too_small' && issue.type === 'array') return 'is an empty list: list one or more, or leave the key out';
  if (issue.code === 'too_small' && issue.type === 'string') return 'is empty: give a value, or leave the key out';
  return undefined;
}

/** A text that reads as JSON's number or boolean, as that; else undefined. */
function parseLoosely(text: string): unknown {
  try {
    const value: unknown = JSON.parse(text);
    return typeof value === 'number' || typeof value === 'boolean' ? value : undefined;
  } catch {
    return undefined;
  }
}
