import type { z } from 'zod';
import { fileConfigSchema } from './schema.js';
import type { SettingEntry } from './setting-entry.js';
import { SETTINGS } from './table.js';

type JsonSchema = Record<string, unknown>;

/**
 * The config file's JSON Schema, made from the same zod schema that checks the file (itself
 * made from the settings table), so editors can complete and check it. Written to
 * dist/occs-lb.schema.json at build time; a config file points at it with "$schema".
 */
export function configJsonSchema(): JsonSchema {
  const help = new Map<string, string>();
  for (const entry of SETTINGS as readonly SettingEntry[]) {
    const text = typeof entry.help === 'string' ? entry.help : Object.values(entry.help)[0];
    for (const key of Object.keys(entry.file ?? {})) if (text) help.set(key, entry.default ? `${text} (default: ${entry.default})` : text);
  }
  const schema = toJsonSchema(fileConfigSchema);
  for (const [key, property] of Object.entries(schema.properties as Record<string, JsonSchema>)) {
    if (help.has(key)) property.description = help.get(key);
  }
  return { $schema: 'http://json-schema.org/draft-07/schema#', title: 'occs-lb config file', ...schema };
}

/** The zod types the config file uses, as JSON Schema (draft 7). */
function toJsonSchema(type: z.ZodTypeAny): JsonSchema {
  const def = type._def as { typeName: string; checks?: Array<{ kind: string; value?: number; inclusive?: boolean }> } & Record<string, unknown>;
  const check = (kind: string) => def.checks?.find((c) => c.kind === kind);
  switch (def.typeName) {
    case 'ZodOptional':
      return toJsonSchema(def.innerType as z.ZodTypeAny);
    case 'ZodString':
      return { type: 'string', ...(check('min') ? { minLength: check('min')!.value } : {}) };
    case 'ZodNumber': {
      const min = check('min');
      const bound = min ? (min.inclusive ? { minimum: min.value } : { exclusiveMinimum: min.value }) : {};
      return { type: check('int') ? 'integer' : 'number', ...bound };
    }
    case 'ZodBoolean':
      return { type: 'boolean' };
    case 'ZodEnum':
      return { type: 'string', enum: def.values };
    case 'ZodUnion':
      return { anyOf: (def.options as z.ZodTypeAny[]).map(toJsonSchema) };
    case 'ZodArray': {
      const min = (def.minLength as { value: number } | null)?.value;
      return { type: 'array', items: toJsonSchema(def.type as z.ZodTypeAny), ...(min ? { minItems: min } : {}) };
    }
    case 'ZodObject': {
      const shape = (type as z.AnyZodObject).shape as Record<string, z.ZodTypeAny>;
      const properties = Object.fromEntries(Object.entries(shape).map(([key, value]) => [key, toJsonSchema(value)]));
      const required = Object.entries(shape)
        .filter(([, value]) => !value.isOptional())
        .map(([key]) => key);
      return { type: 'object', properties, ...(required.length ? { required } : {}), additionalProperties: def.unknownKeys !== 'strict' };
    }
    default:
      throw new Error(`no JSON Schema for ${def.typeName}`);
  }
}

// `tsx src/config/json-schema.ts` (the build) prints it.
if (process.argv[1]?.endsWith('json-schema.ts')) process.stdout.write(`${JSON.stringify(configJsonSchema(), null, 2)}\n`);
