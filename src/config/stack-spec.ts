import type { z } from 'zod';
import { balance } from './setting-entry.js';

/** Stack mode in the config file: the apps prefix, the control prefix, the default service and services listed by hand. */
export const stackSpec = (zod: typeof z) =>
  zod
    .object({
      apps: zod.string().min(1).optional(),
      control: zod.string().min(1).optional(),
      defaultService: zod.string().min(1).optional(),
      services: zod
        .array(
          zod
            .object({
              name: zod.string().min(1),
              prefix: zod.string().min(1),
              routes: zod.array(zod.string()).optional(),
              balance: balance(zod).optional(),
              /** A health-check path; true: HEAD /; false: no health checks. */
              check: zod.union([zod.string().min(1), zod.boolean()]).optional(),
            })
            .strict(),
        )
        .optional(),
    })
    .strict();
