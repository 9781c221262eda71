import { z } from 'zod';
import type { SettingEntry } from './setting-entry.js';
import { SETTINGS } from './table.js';
import { nearest } from '../util/nearest.js';

const nonEmpty = z.string().min(1);

const resourceSchema = z
  .object({
    template: nonEmpty,
    destination: nonEmpty.optional(),
    prefixes: z.array(z.string()).min(1).optional(),
    /** false for a resource that is not an HAProxy config (not checked with haproxy -c). */
    haproxy: z.boolean().optional(),
  })
  .strict();

type FileEntry = Extract<(typeof SETTINGS)[number], { file: object }>;
type ZodOf<T> = T extends (zod: typeof z) => infer Z ? (Z extends z.ZodTypeAny ? Z : never) : never;
/** Each config-file key of the table, optional, with its zod type. */
type TableShape = { [E in FileEntry as keyof E['file'] & string]: z.ZodOptional<ZodOf<E['file'][keyof E['file']]>> };

function tableShape(): TableShape {
  const shape: Record<string, z.ZodTypeAny> = {};
  for (const entry of SETTINGS as readonly SettingEntry[]) {
    for (const [key, type] of Object.entries(entry.file ?? {})) shape[key] = type(z).optional();
  }
  return shape as TableShape;
}

/** The config file (occs-lb.config.*, .occs-lbrc*, package.json#occs-lb): the table's keys and the resources. Unknown keys are errors. */
export const fileConfigSchema = z
  .object({
    /** Where an editor finds the file's JSON Schema (dist/occs-lb.schema.json); not a setting. */
    $schema: z.string().optional(),
    ...tableShape(),
    resources: z.array(resourceSchema).min(1).optional(),
  })
  .strict();

export type FileConfig = z.infer<typeof fileConfigSchema>;

/** One line per problem, each naming the setting: `unknown setting "prefix"`, `statsPort: Expected number…`. */
export function describeSchemaIssues(error: z.ZodError): string[] {
  return error.issues.map((issue) => {
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
    return `${at || '(top level)'}: ${issue.message}`;
  });
}

/** The keys an object in the config file may hold, by where it is (`resources[0]`, `stack`, `stack.services[1]`). */
function knownKeys(at: string): string[] {
  if (at === '') return Object.keys(fileConfigSchema.shape);
  if (at.startsWith('resources')) return Object.keys(resourceSchema.shape);
  if (at.startsWith('stack.services')) return ['name', 'prefix', 'routes', 'balance', 'check'];
  return at === 'stack' ? ['apps', 'control', 'defaultService', 'services'] : [];
}
