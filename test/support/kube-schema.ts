import { createRequire } from 'node:module';

/**
 * Offline validation of Kubernetes manifests against the API's OpenAPI schema (Kubernetes 1.33,
 * as kubernetes-models 4.5 compiles it into ajv validators): types, formats, enums and required
 * fields. Those validators accept unknown fields, as the API server's non-strict mode does; the
 * strict mode (`kubectl apply --validate=strict`) rejects them, and so does this: every object the
 * validator walks is wrapped in a Proxy that records the properties it reads. A compiled
 * validator reads each property its schema declares (and, for a map, enumerates every key), so a
 * key that was never read is a key the schema does not have: a typo such as `readinessProb`.
 */

const require = createRequire(import.meta.url);

interface Model {
  prototype: { validate(this: unknown): void };
}

/** The problems of one manifest, each naming the path (`/spec/replicas: must be integer`); empty when valid. */
export function validateManifest(doc: unknown): string[] {
  if (!isObject(doc) || typeof doc.apiVersion !== 'string' || typeof doc.kind !== 'string') return ['(top level): needs a string apiVersion and kind'];
  const model = loadModel(doc.apiVersion, doc.kind);
  if (!model) return [`(top level): no schema for ${doc.apiVersion} ${doc.kind}`];
  const reads = new Map<object, { path: string; keys: Set<string> }>();
  const problems: string[] = [];
  try {
    model.prototype.validate.call(recordReads(doc, '', reads, new WeakMap()));
  } catch (error) {
    problems.push(...schemaErrors(error));
  }
  for (const [value, { path, keys }] of reads) {
    if (Array.isArray(value)) continue;
    for (const key of Object.keys(value)) if (!keys.has(key)) problems.push(`${path}/${key}: unknown field`);
  }
  return problems;
}

/** kubernetes-models lays its models out by apiVersion: `kubernetes-models/apps/v1/Deployment`, `kubernetes-models/v1/Service`. */
function loadModel(apiVersion: string, kind: string): Model | undefined {
  if (!/^[a-z0-9.]+(\/[a-z0-9]+)?$/.test(apiVersion) || !/^[A-Za-z]+$/.test(kind)) return undefined;
  try {
    return (require(`kubernetes-models/${apiVersion}/${kind}`) as Record<string, Model | undefined>)[kind];
  } catch {
    return undefined;
  }
}

/** `value` behind a Proxy (one per object, nested ones too) that notes each property read. */
function recordReads(value: unknown, path: string, reads: Map<object, { path: string; keys: Set<string> }>, proxies: WeakMap<object, object>): unknown {
  if (!isObject(value) && !Array.isArray(value)) return value;
  const known = proxies.get(value);
  if (known) return known;
  const keys = new Set<string>();
  reads.set(value, { path, keys });
  const proxy = new Proxy(value, {
    get(target, key, receiver) {
      const child: unknown = Reflect.get(target, key, receiver);
      if (typeof key !== 'string') return child;
      keys.add(key);
      return Object.hasOwn(target, key) ? recordReads(child, `${path}/${key}`, reads, proxies) : child;
    },
  });
  proxies.set(value, proxy);
  return proxy;
}

/** kubernetes-models throws one ValidationError whose `errors` are ajv's. */
function schemaErrors(error: unknown): string[] {
  const errors = (error as { errors?: Array<{ instancePath: string; message?: string }> }).errors;
  if (!Array.isArray(errors)) throw error;
  return errors.map((e) => `${e.instancePath || '(top level)'}: ${e.message ?? 'invalid'}`);
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
