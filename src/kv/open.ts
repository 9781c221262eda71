import { isAbsolute, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { usageError } from '../errors.js';
import type { KvSource, KvSourceOptions } from './source.js';

export type KvLocation = { kind: 'consul' | 'etcd'; base: URL } | { kind: 'file'; path: string };

const DEFAULT_PORTS: Record<string, string> = { 'occs:': '9109', 'consul:': '8500', 'etcd:': '2379', 'etcds:': '2379' };

/**
 * A `--kv` value as it may be shown: user info and query (Consul takes `?token=`) masked.
 * Used in every message that quotes what the user passed.
 */
export function safeKvSpec(spec: string): string {
  return spec.replace(/^([a-z][a-z0-9+.-]*:\/\/)[^/?#]*@/i, '$1***@').replace(/\?.*$/s, '?***');
}

const badKv = (spec: string, why: string) =>
  usageError(`--kv "${safeKvSpec(spec)}" ${why}`, {
    hint: 'use http(s)://HOST:PORT, occs://HOST:PORT, consul://HOST:PORT, etcd(s)://HOST:PORT or file:PATH',
  });

const SCHEMES = ['http:', 'https:', 'occs:', 'consul:', 'etcd:', 'etcds:'];

/** Parses a `--kv` value. Relative `file:` paths are resolved against `cwd`. */
export function parseKvLocation(spec: string, cwd: string): KvLocation {
  if (spec.startsWith('file:')) return { kind: 'file', path: parseFileSpec(spec, cwd) };
  const givenPort = /^[a-z][a-z0-9+.-]*:\/\/(?:\[[^\]]*\]|[^/?#:]*):(\d+)(?:[/?#]|$)/i.exec(spec)?.[1];
  if (givenPort !== undefined && !(Number(givenPort) >= 1 && Number(givenPort) <= 65535)) throw badKv(spec, `has port ${givenPort}, out of range (1 to 65535)`);
  const scheme = /^([a-z][a-z0-9+.-]*:)\/\//i.exec(spec)?.[1]?.toLowerCase();
  if (scheme && !SCHEMES.includes(scheme)) throw badKv(spec, `has an unknown scheme "${scheme}"`);
  if (/^[a-z][a-z0-9+.-]*:\/\/(?::\d*)?(?:[/?#]|$)/i.test(spec)) throw badKv(spec, 'names no host');
  let url: URL;
  try {
    url = new URL(spec);
  } catch {
    throw badKv(spec, 'is not a URL');
  }
  if (!url.hostname) throw badKv(spec, 'names no host');
  if (url.username || url.password) throw badKv(spec, 'carries credentials; use the token settings instead');
  if (!SCHEMES.includes(url.protocol)) {
    throw badKv(spec, `has an unknown scheme "${url.protocol}"`);
  }
  if ((url.pathname !== '/' && url.pathname !== '') || url.search || url.hash) {
    throw badKv(spec, 'has a path or query; give the prefix with --prefix or OCCS_BACKEND_KEY, the token with the token settings');
  }
  const secure = url.protocol === 'https:' || url.protocol === 'etcds:';
  const port = url.port || DEFAULT_PORTS[url.protocol] || '';
  const base = new URL(`${secure ? 'https' : 'http'}://${url.hostname}${port ? `:${port}` : ''}/`);
  return { kind: url.protocol.startsWith('etcd') ? 'etcd' : 'consul', base };
}

function parseFileSpec(spec: string, cwd: string): string {
  const rest = spec.slice('file:'.length);
  let path = rest;
  if (rest.startsWith('//')) {
    try {
      path = fileURLToPath(spec);
    } catch (error) {
      throw badKv(spec, `is not a local file URL (${(error as Error).message})`);
    }
  }
  if (!path) throw badKv(spec, 'names no file');
  return isAbsolute(path) ? path : resolve(cwd, path);
}

/** How a location is named in logs: never carries credentials. */
export function describeKvLocation(location: KvLocation): string {
  if (location.kind === 'file') return `file:${location.path}`;
  return location.kind === 'etcd' ? `etcd ${location.base.origin}` : location.base.origin;
}

/** Opens the source for a location; each kind's module is loaded only when used. */
export async function openKvSource(location: KvLocation, options: KvSourceOptions): Promise<KvSource> {
  if (location.kind === 'file') {
    const { FileSource } = await import('./file.js');
    return new FileSource(location.path, options.maxBytes);
  }
  if (location.kind === 'etcd') {
    const { EtcdSource } = await import('./etcd.js');
    return new EtcdSource(location.base, options);
  }
  const { ConsulSource } = await import('./consul.js');
  return new ConsulSource(location.base, options);
}
