import { z } from 'zod';

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

/** The config file (occs-lb.config.*, .occs-lbrc*, package.json#occs-lb). Unknown keys are errors. */
export const fileConfigSchema = z
  .object({
    kv: nonEmpty.optional(),
    tokenFile: nonEmpty.optional(),
    prefixes: z.array(z.string()).min(1).optional(),
    template: nonEmpty.optional(),
    kvTimeout: z.union([nonEmpty, z.number().nonnegative()]).optional(),
    kvMaxSize: z.union([nonEmpty, z.number().int().positive()]).optional(),
    kvCa: nonEmpty.optional(),
    kvCert: nonEmpty.optional(),
    kvKey: nonEmpty.optional(),
    kvUser: nonEmpty.optional(),
    kvPasswordFile: nonEmpty.optional(),
    insecure: z.boolean().optional(),
    strict: z.boolean().optional(),
    logFormat: z.enum(['text', 'json']).optional(),
    bind: nonEmpty.optional(),
    frontendPort: z.number().int().optional(),
    statsPort: z.number().int().optional(),
    statsUser: nonEmpty.optional(),
    statsPassword: nonEmpty.optional(),
    backendName: nonEmpty.optional(),
    balance: nonEmpty.optional(),
    adminSocket: z.string().optional(),
    runtimeApi: z.boolean().optional(),
    drainTimeout: z.union([nonEmpty, z.number().nonnegative()]).optional(),
    resources: z.array(resourceSchema).min(1).optional(),
    haproxyBinary: nonEmpty.optional(),
    haproxyConfig: nonEmpty.optional(),
    masterSocket: nonEmpty.optional(),
    pidFile: nonEmpty.optional(),
    reloadCmd: nonEmpty.optional(),
    reloadTimeout: z.union([nonEmpty, z.number().positive()]).optional(),
    minServers: z.number().int().nonnegative().optional(),
    wait: nonEmpty.optional(),
    interval: z.union([nonEmpty, z.number().positive()]).optional(),
    exec: nonEmpty.optional(),
    listen: nonEmpty.optional(),
    stopTimeout: z.union([nonEmpty, z.number().positive()]).optional(),
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
      const keys = issue.keys.map((k) => `"${at ? `${at}.` : ''}${k}"`).join(', ');
      return `unknown setting ${keys}`;
    }
    return `${at || '(top level)'}: ${issue.message}`;
  });
}
