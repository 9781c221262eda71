import { z } from 'zod';
import type { SettingEntry } from './setting-entry.js';
import { typeProblem } from './schema-words.js';
import { SETTINGS } from './table.js';
import { nearest } from '../util/nearest.js';

type FileEntry = Extract<(typeof SETTINGS)[number], { file: object }>;
type ZodOf<T> = T extends (zod: typeof z) => infer Z ? (Z extends z.ZodTypeAny ? Z : never) : never;
/** Each config-file key of the table, optional, with its zod type. */
type TableShape = { [E in FileEntry as keyof E['file'] & string]: z.ZodOptional<ZodOf<E['file'][keyof E['file']]>> };

/**
 * The config file (occs-lb.config.*, .occs-lbrc*, package.json#occs-lb): the table's keys and the
 * resources. Unknown keys are errors. Made with the zod given: the one occs-lb runs with, or the
 * newer one whose converter writes the JSON Schema (json-schema.ts); the table's types use only
 * what both have.
 */
export function fileSchemaWith(zod: typeof z) {
  const nonEmpty = zod.string().min(1);
  const resource = zod
    .object({
      template: nonEmpty,
      destination: nonEmpty.optional(),
      prefixes: zod.array(zod.string()).min(1).optional(),
      /** false for a resource that is not an HAProxy config (not checked with haproxy -c). */
      haproxy: zod.boolean().optional(),
    })
    .strict();
  const shape: Record<string, z.ZodTypeAny> = {};
  for (const entry of SETTINGS as readonly SettingEntry[]) {
    const help = typeof entry.help === 'string' ? entry.help : Object.values(entry.help)[0]!;
    const described = entry.default ? `${help} (default: ${entry.default})` : help;
    for (const [key, type] of Object.entries(entry.file ?? {})) shape[key] = type(zod).optional().describe(described);
  }
  return zod
    .object({
      $schema: zod.string().optional().describe('where an editor finds this schema (dist/occs-lb.schema.json); not a setting'),
      ...(shape as TableShape),
      resources: zod.array(resource).min(1).optional().describe('templates rendered and where each goes; replaces --template and --out'),
    })
    .strict();
}

export const fileConfigSchema = fileSchemaWith(z);

export type FileConfig = z.infer<typeof fileConfigSchema>;

/** One line per problem, each naming the setting: `unknown setting "prefix"`, `statsPort: "80" is text; it must be a number…`. */
export function describeSchemaIssues(issues: readonly z.ZodIssue[], raw: unknown): string[] {
  return issues.map((issue) => {
    const at = issue.path
      .map((p) => (typeof p === 'number' ? `[${p}]` : `.${p}`))
      .join('')
      .replace(/^\./, '');
    if (issue.code === 'unrecognized_keys') {
      const known = knownKeys(at);
      return issue.keys
        .map((k) => {
          const near = nearest(k, known);
          return `unknown setting "${at ? `${at}.` : ''}${k}"${near ? `, did you mean "${near}"?` : ''}`;
        })
        .join('; ');
    }
    const value = issue.path.reduce<unknown>((inner, key) => (inner as Record<string | number, unknown> | undefined)?.[key], raw);
    return `${at || '(top level)'}: ${typeProblem(issue, value) ?? issue.message}`;
  });
}

/**
 * Whether an issue is a value of the right type that breaks a rule (a pattern, a number's range,
 * one of the choices): settings.ts refuses those with the value and the rule in the message.
 * An empty text or list is the schema's to report (`String must contain at least 1 character`).
 */
export function isRuleIssue(issue: z.ZodIssue): boolean {
  if (issue.code === 'invalid_string' || issue.code === 'invalid_enum_value') return true;
  return (issue.code === 'too_small' || issue.code === 'too_big') && (issue.type === 'number' || (issue.code === 'too_big' && issue.type === 'string'));
}

/** The keys an object in the config file may hold, by where it is (`resources[0]`, `stack`, `stack.services[1]`). */
function knownKeys(at: string): string[] {
  if (at === '') return Object.keys(fileConfigSchema.shape);
  if (at.startsWith('resources')) return Object.keys(fileConfigSchema.shape.resources.unwrap().element.shape);
  if (at.startsWith('stack.services')) return ['name', 'prefix', 'routes', 'balance', 'check'];
  return at === 'stack' ? ['apps', 'control', 'defaultService', 'services'] : [];
}
