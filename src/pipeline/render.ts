import { usageError } from '../errors.js';
import type { Settings, Resource } from '../config/settings.js';
import { filterSnapshot, isUnderPrefix } from '../kv/keys.js';
import { describeKvLocation, openKvSource, parseKvLocation, type KvLocation } from '../kv/open.js';
import type { KvSnapshot, KvSourceOptions } from '../kv/source.js';
import { createHelpers, type RenderDiagnostics } from '../template/helpers.js';
import { loadTemplate, renderTemplate, type CompiledTemplate } from '../template/engine.js';

export interface RenderedResource {
  resource: Resource;
  text: string;
  diagnostics: RenderDiagnostics;
}

/** Every prefix any resource reads, each once. */
export function allPrefixes(resources: readonly Resource[]): string[] {
  return [...new Set(resources.flatMap((r) => r.prefixes))];
}

/** Compiles each distinct template once; template errors surface before the store is touched. */
export async function compileTemplates(resources: readonly Resource[]): Promise<Map<string, CompiledTemplate>> {
  const paths = [...new Set(resources.map((r) => r.template))];
  const compiled = await Promise.all(paths.map((path) => loadTemplate(path)));
  return new Map(compiled.map((t) => [t.path, t]));
}

/**
 * Where the store is and what to read from it, checked: exit 2 when no store is configured, it
 * is malformed, or a resource has no key prefix.
 */
export function storeLocation(settings: Readonly<Settings>): KvLocation {
  if (!settings.kv) {
    throw usageError('no key/value store configured', {
      hint: "set KV_IP and KV_PORT (the old image's variables), or pass --kv URL (e.g. --kv file:examples/kv.properties)",
    });
  }
  const location = parseKvLocation(settings.kv.spec, settings.kv.base);
  if (settings.resources.some((r) => r.prefixes.length === 0)) {
    throw usageError('no key prefix to read', {
      hint: 'set OCCS_BACKEND_KEY (e.g. apps/myapp/containers), or pass --prefix KEY',
    });
  }
  return location;
}

/** "reading apps/x from http://host:port": what a spinner or a debug line says; no secrets. */
export function describeRead(settings: Readonly<Settings>): string {
  return `reading ${allPrefixes(settings.resources).join(', ') || '/'} from ${describeKvLocation(storeLocation(settings))}`;
}

/** How to talk to the store, from the settings. */
export function sourceOptions(settings: Readonly<Settings>, extra: Partial<KvSourceOptions> = {}): KvSourceOptions {
  return {
    token: settings.token,
    user: settings.kvUser,
    password: settings.kvPassword,
    timeoutMs: settings.kvTimeoutMs,
    maxBytes: settings.kvMaxBytes,
    caFile: settings.kvCa,
    certFile: settings.kvCert,
    keyFile: settings.kvKey,
    insecure: settings.insecure,
    ...extra,
  };
}

/** Reads the prefixes of all resources from the configured store, in one go. */
export async function readStore(settings: Readonly<Settings>, signal?: AbortSignal): Promise<KvSnapshot> {
  const location = storeLocation(settings);
  const source = await openKvSource(location, sourceOptions(settings));
  try {
    return await source.read(allPrefixes(settings.resources), signal);
  } finally {
    await source.close();
  }
}

/** Whether a key is the prefix itself or lies in it as in a directory (`apps/x` holds `/apps/x/one`, not `/apps/xy`). */
const inDirectory = (key: string, prefix: string) => prefix === '' || key === `/${prefix}` || key.startsWith(`/${prefix}/`);

/** The prefixes in which the snapshot holds no key at all (often a typo in the prefix). */
export function emptyPrefixes(settings: Readonly<Settings>, snapshot: KvSnapshot): string[] {
  return allPrefixes(settings.resources).filter((prefix) => !snapshot.pairs.some((p) => inDirectory(p.key, prefix)));
}

/**
 * The warning for `emptyPrefixes`: which prefix, at which store, the likely cause, and a near
 * directory that does hold keys (`apps/myapp/containers` for `apps/myapp/container`).
 */
export function emptyPrefixWarning(settings: Readonly<Settings>, prefix: string, snapshot?: KvSnapshot): string {
  const near = snapshot?.pairs.find((p) => isUnderPrefix(p.key, prefix))?.key;
  const nearDir = near && near.slice(1, near.indexOf('/', prefix.length + 1) > 0 ? near.indexOf('/', prefix.length + 1) : undefined);
  const hint = nearDir ? `did you mean "${nearDir}"?` : 'a typo in --prefix or OCCS_BACKEND_KEY?';
  return `prefix "${prefix}" holds no keys at ${describeKvLocation(storeLocation(settings))}: a backend it fills has no servers (${hint})`;
}

/** Pure: renders each resource from its part of the snapshot. */
export function renderResources(settings: Readonly<Settings>, templates: ReadonlyMap<string, CompiledTemplate>, snapshot: KvSnapshot): RenderedResource[] {
  return settings.resources.map((resource) => {
    const own = filterSnapshot(snapshot, resource.prefixes);
    const { helpers, diagnostics, keysHolding } = createHelpers(own.pairs, resource.prefixes[0] ?? '');
    const locals = { ...helpers, settings: settings.vars, prefixes: resource.prefixes };
    const text = renderTemplate(templates.get(resource.template)!, locals, keysHolding);
    return { resource, text, diagnostics: diagnostics() };
  });
}
