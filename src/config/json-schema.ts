import type { z } from 'zod';
import { z as zod4 } from 'zod/v4';
import { fileSchemaWith } from './schema.js';

/**
 * The config file's JSON Schema, so editors can complete and check it: the same zod schema that
 * checks the file (made from the settings table), built with zod 4, whose converter writes it.
 * zod 3 checks the file at run time: it loads in about a third of zod 4's time. Written to
 * dist/occs-lb.schema.json at build time; a config file points at it with "$schema".
 */
export function configJsonSchema(): Record<string, unknown> {
  const schema = fileSchemaWith(zod4 as unknown as typeof z) as unknown as zod4.ZodType;
  const { $schema, ...rest } = zod4.toJSONSchema(schema, { target: 'draft-7' });
  return { $schema, title: 'occs-lb config file', ...rest };
}

// `tsx src/config/json-schema.ts` (the build) prints it.
if (process.argv[1]?.endsWith('json-schema.ts')) process.stdout.write(`${JSON.stringify(configJsonSchema(), null, 2)}\n`);
