import { z } from 'zod';
import { SETTINGS, type SettingEntry } from './table.js';

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
export const fileConfigSchema = z.object({ ...tableShape(), resources: z.array(resourceSchema).min(1).optional() }).strict();

export type FileConfig = z.infer<typeof fileConfigSchema>;

/** One line per problem, each naming the setting: `unknown setting "prefix"`, `statsPort: Expected number…`. */
export function describeSchemaIssues(error: z.ZodError): string[] {
  return error.issues.map((issue) => {
    const at = issue.path
      .map((p) => (typeof p === 'number' ? `[${p}]` : `.${p}`))
      .join('')
      .replace(/^\./, '');
    if (issue.code === 'unrecognized_keys') {
      const keys = issue.keys.map((k) => `"${at ? `${at}.` : ''}${k}"`).join(', ');
      return `unknown setting ${keys}`;
    }
    return `${at || '(top level)'}: ${issue.message}`;
  });
}
