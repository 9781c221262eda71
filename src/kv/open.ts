import { isAbsolute, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { usageError } from '../errors.js';
import type { KvSource, KvSourceOptions } from './source.js';

export type KvLocation = { kind: 'consul'; base: URL } | { kind: 'file'; path: string };

const DEFAULT_PORTS: Record<string, string> = { 'occs:': '9109', 'consul:': '8500' };

const badKv = (spec: string, why: string) =>
  usageError(`--kv "${spec}" ${why}`, {
    hint: 'use http(s)://HOST:PORT, occs://HOST:PORT, consul://HOST:PORT or file:PATH',
  });

/** Parses a `--kv` value. Relative `file:` paths are resolved against `cwd`. */
export function parseKvLocation(spec: string, cwd: string): KvLocation {
  if (spec.startsWith('file:')) {
    const rest = spec.slice('file:'.length);
    const path = rest.startsWith('//') ? fileURLToPath(spec) : rest;
    if (!path) throw badKv(spec, 'names no file');
    return { kind: 'file', path: isAbsolute(path) ? path : resolve(cwd, path) };
  }
  let url: URL;
  try {
    url = new URL(spec);
  } catch {
    throw badKv(spec.replace(/\/\/[^/@]*@/, '//***@'), 'is not a URL');
  }
  if (url.username || url.password) {
    throw badKv(`${url.protocol}//***@${url.host}`, 'carries credentials');
  }
  if (!['http:', 'https:', 'occs:', 'consul:'].includes(url.protocol)) {
    throw badKv(spec, `has an unknown scheme "${url.protocol}"`);
  }
  if ((url.pathname !== '/' && url.pathname !== '') || url.search || url.hash) {
    throw badKv(spec, 'has a path; give the prefix with --prefix or OCCS_BACKEND_KEY instead');
  }
  const secure = url.protocol === 'https:';
  const port = url.port || DEFAULT_PORTS[url.protocol] || '';
  const base = new URL(`${secure ? 'https' : 'http'}://${url.hostname}${port ? `:${port}` : ''}/`);
  return { kind: 'consul', base };
}

/** Opens the source for a location; each kind's module is loaded only when used. */
export async function openKvSource(location: KvLocation, options: KvSourceOptions): Promise<KvSource> {
  if (location.kind === 'file') {
    const { FileSource } = await import('./file.js');
    return new FileSource(location.path);
  }
  const { ConsulSource } = await import('./consul.js');
  return new ConsulSource(location.base, options);
}
