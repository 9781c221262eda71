import type { Settings } from '../config/settings.js';
import { usageError } from '../errors.js';
import { describeKvLocation, openKvSource, parseKvLocation, type KvLocation } from '../kv/open.js';
import type { KvSnapshot, KvSource, KvSourceOptions } from '../kv/source.js';
import { allPrefixes } from '../plan/render.js';
import { WithCertDir } from '../kv/with-cert-dir.js';

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

/** The store as logs name it (no secrets): `http://host:port`, `etcd …`, `file:PATH`. */
export const storeName = (settings: Readonly<Settings>): string => describeKvLocation(storeLocation(settings));

/** "reading apps/x from http://host:port": what a spinner or a debug line says; no secrets. */
export function describeRead(settings: Readonly<Settings>): string {
  return `reading ${allPrefixes(settings.resources).join(', ') || '/'} from ${storeName(settings)}`;
}

/** How to talk to the store, from the settings. */
function sourceOptions(settings: Readonly<Settings>, extra: Partial<KvSourceOptions> = {}): KvSourceOptions {
  return {
    token: settings.token,
    user: settings.kvUser,
    password: settings.kvPassword,
    timeoutMs: settings.kvTimeoutMs,
    maxBytes: settings.kvMaxBytes,
    consistency: settings.kvConsistency,
    maxStaleMs: settings.kvMaxStaleMs,
    caFile: settings.kvCa,
    certFile: settings.kvCert,
    keyFile: settings.kvKey,
    insecure: settings.insecure,
    watchInParts: settings.stack?.apps === undefined ? undefined : [settings.stack.apps],
    ...extra,
  };
}

/** The configured store, open (`pollIntervalMs`: how often to poll one that cannot block), with --cert-dir's bundles beside it. */
export async function openStore(settings: Readonly<Settings>, extra: Partial<KvSourceOptions> = {}): Promise<KvSource> {
  const store = await openKvSource(storeLocation(settings), sourceOptions(settings, extra));
  return settings.tls?.certDir ? new WithCertDir(store, settings.tls.certDir) : store;
}

/** Reads the prefixes of all resources from the configured store, in one go. */
export async function readStore(settings: Readonly<Settings>, signal?: AbortSignal): Promise<KvSnapshot> {
  const source = await openStore(settings);
  try {
    return await source.read(allPrefixes(settings.resources), signal);
  } finally {
    await source.close();
  }
}
