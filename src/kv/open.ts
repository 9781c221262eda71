import { isAbsolute, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { usageError } from '../errors.js';
import { clusterName } from './endpoints.js';
import type { KvSource, KvSourceOptions } from './source.js';

/** Where the store is: a file, or one or more endpoints of one cluster (the first tried first). */
export type KvLocation = { kind: 'consul' | 'etcd'; endpoints: URL[] } | { kind: 'file'; path: string };

const DEFAULT_PORTS: Record<string, string> = { 'occs:': '9109', 'consul:': '8500', 'etcd:': '2379', 'etcds:': '2379' };

/**
 * A `--kv` value as it may be shown: user info and query (Consul takes `?token=`) masked.
 * Used in every message that quotes what the user passed.
 */
export function safeKvSpec(spec: string): string {
  return spec.replace(/^([a-z][a-z0-9+.-]*:\/\/)[^/?#]*@/i, '$1***@').replace(/\?.*$/s, '?***');
}

const badSpec = (spec: string, why: string) =>
  usageError(`--kv: "${safeKvSpec(spec)}" ${why}`, {
    hint: 'use http(s)://HOST:PORT, occs://HOST:PORT, consul://HOST:PORT, etcd(s)://HOST:PORT (a cluster: SCHEME://HOST:PORT,HOST:PORT,…) or file:PATH',
  });

const SCHEMES = ['http:', 'https:', 'occs:', 'consul:', 'etcd:', 'etcds:'];

/**
 * Parses a `--kv` value. Relative `file:` paths are resolved against `cwd`. A cluster (etcd members,
 * Consul servers) may be given as several endpoints of one scheme, separated by commas
 * (`etcd://h1:2379,h2:2379`, `consul://h1:8500,h2:8500`).
 */
export function parseKvLocation(spec: string, cwd: string): KvLocation {
  if (spec.startsWith('file:')) return { kind: 'file', path: parseFileSpec(spec, cwd) };
  const several = /^([a-z][a-z0-9+.-]*:\/\/)([^/?#]*,[^/?#]*)(.*)$/is.exec(spec);
  if (!several) return parseEndpoint(spec);
  const [, scheme, hosts, rest] = several as unknown as [string, string, string, string];
  const parts = hosts.split(',').map((host) => host.trim());
  if (parts.some((host) => host === '')) throw badSpec(spec, 'has an empty endpoint between commas');
  const endpoints = parts.map((host) => parseEndpoint(`${scheme}${host}${rest}`, spec));
  const unique = [...new Map(endpoints.map((e) => [e.endpoints[0]!.href, e.endpoints[0]!])).values()];
  return { kind: endpoints[0]!.kind, endpoints: unique };
}

/** One endpoint of a `--kv` value (a URL of a known scheme naming a host). */
function parseEndpoint(spec: string, whole = spec): Extract<KvLocation, { kind: 'consul' | 'etcd' }> {
  const givenPort = /^[a-z][a-z0-9+.-]*:\/\/(?:\[[^\]]*\]|[^/?#:]*):(\d+)(?:[/?#]|$)/i.exec(spec)?.[1];
  if (givenPort !== undefined && !(Number(givenPort) >= 1 && Number(givenPort) <= 65535))
    throw badSpec(whole, `has port ${givenPort}, out of range (1 to 65535)`);
  const scheme = /^([a-z][a-z0-9+.-]*:)\/\//i.exec(spec)?.[1]?.toLowerCase();
  if (scheme && !SCHEMES.includes(scheme)) throw badSpec(whole, `has an unknown scheme "${scheme}"`);
  if (/^[a-z][a-z0-9+.-]*:\/\/(?::\d*)?(?:[/?#]|$)/i.test(spec)) throw badSpec(whole, 'names no host');
  let url: URL;
  try {
    url = new URL(spec);
  } catch {
    throw badSpec(whole, 'is not a URL');
  }
  if (!url.hostname) throw badSpec(whole, 'names no host');
  if (url.username || url.password) throw badSpec(whole, 'carries credentials; use the token settings instead');
  if (!SCHEMES.includes(url.protocol)) {
    throw badSpec(whole, `has an unknown scheme "${url.protocol}"`);
  }
  if ((url.pathname !== '/' && url.pathname !== '') || url.search || url.hash) {
    throw badSpec(whole, 'has a path or query; give the prefix with --prefix or OCCS_BACKEND_KEY, the token with the token settings');
  }
  const secure = url.protocol === 'https:' || url.protocol === 'etcds:';
  const port = url.port || DEFAULT_PORTS[url.protocol] || '';
  const base = new URL(`${secure ? 'https' : 'http'}://${url.hostname}${port ? `:${port}` : ''}/`);
  return { kind: url.protocol.startsWith('etcd') ? 'etcd' : 'consul', endpoints: [base] };
}

function parseFileSpec(spec: string, cwd: string): string {
  const rest = spec.slice('file:'.length);
  let path = rest;
  if (rest.startsWith('//')) {
    try {
      path = fileURLToPath(spec);
    } catch (error) {
      throw badSpec(spec, `is not a local file URL (${(error as Error).message})`);
    }
  }
  if (!path) throw badSpec(spec, 'names no file');
  return isAbsolute(path) ? path : resolve(cwd, path);
}

/** How a location is named in logs: never carries credentials. */
export function describeKvLocation(location: KvLocation): string {
  if (location.kind === 'file') return `file:${location.path}`;
  return clusterName(location.kind === 'etcd' ? 'etcd' : '', location.endpoints);
}

/** Opens the source for a location; each kind's module is loaded only when used. */
export async function openKvSource(location: KvLocation, options: KvSourceOptions): Promise<KvSource> {
  if (location.kind === 'file') {
    const { FileSource } = await import('./file.js');
    return new FileSource(location.path, options.maxBytes);
  }
  if (location.kind === 'etcd') {
    const { EtcdSource } = await import('./etcd.js');
    return new EtcdSource(location.endpoints, options);
  }
  const { ConsulSource } = await import('./consul.js');
  return new ConsulSource(location.endpoints, options);
}
