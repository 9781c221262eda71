import type { IncomingHttpHeaders } from 'node:http';
import type { OccsError } from '../errors.js';
import type { KeptListings } from './consul-kept.js';
import type { PrefixReading } from './consul-loop.js';
import type { HttpResponse } from './http-answer.js';
import { bodySnippet, type StoreErrors } from './store-errors.js';

/** What Consul says about an answer in its headers; each absent when not sent (OCCS sends only the index, if that). */
export interface ConsulMeta {
  /** X-Consul-Index, when a positive integer. */
  index?: number;
  /** X-Consul-KnownLeader: whether the server that answered knows a leader. */
  knownLeader?: boolean;
  /** X-Consul-LastContact: how long ago that server last heard from its leader (0 from the leader). */
  lastContactMs?: number;
}

export function consulMeta(headers: IncomingHttpHeaders): ConsulMeta {
  const number = (name: string) => {
    const text = headers[name];
    const value = typeof text === 'string' && /^\d+$/.test(text.trim()) ? Number(text) : undefined;
    return value !== undefined && Number.isSafeInteger(value) ? value : undefined;
  };
  const leader = headers['x-consul-knownleader'];
  const index = number('x-consul-index');
  return {
    index: index !== undefined && index > 0 ? index : undefined,
    knownLeader: leader === 'true' ? true : leader === 'false' ? false : undefined,
    lastContactMs: number('x-consul-lastcontact'),
  };
}

/** Consul's answer to a recursive read of a prefix: its pairs (read against the last listing), and X-Consul-Index. */
export function prefixReading(
  kept: { kept: KeptListings; as: string },
  prefix: string,
  response: HttpResponse,
  errors: StoreErrors,
  token: string | undefined,
): PrefixReading {
  const { index } = consulMeta(response.headers);
  // Any web server answers 404 to a path it does not know; Consul's KV API says "no keys" with X-Consul-Index.
  if (response.status === 404 && !hasIndex(response.headers)) throw refusal(notConsul(errors, prefix, 'HTTP 404 without X-Consul-Index'));
  if (response.status === 404) {
    kept.kept.forget(kept.as);
    return { pairs: [], index };
  }
  if (response.status !== 200) throw answered(response, prefix, errors, token);
  const without = hasIndex(response.headers) ? '' : ', without X-Consul-Index';
  return { index, ...kept.kept.read(kept.as, response.body, (what) => notConsul(errors, prefix, `${what}${without}`)) };
}

/**
 * Consul's answer to `?keys&separator=/`: the names in a folder (`apps/web/` for a folder,
 * `apps/readme` for a key), none when it holds no key. No names at all (the folder is then read
 * without listing it) from a store that answers the query, but not as Consul does: HTTP 400 or
 * 405, a 404 without X-Consul-Index, or a body that is not a list of names.
 */
export function folderListing(response: HttpResponse, folder: string, errors: StoreErrors, token: string | undefined): FolderListing {
  const { index } = consulMeta(response.headers);
  if (response.status === 404) return hasIndex(response.headers) ? { names: [], index } : {};
  if (response.status === 400 || response.status === 405) return {};
  if (response.status !== 200) throw answered(response, folder, errors, token);
  try {
    const names: unknown = JSON.parse(response.body.toString('utf8'));
    return Array.isArray(names) && names.every((n) => typeof n === 'string') ? { names, index } : {};
  } catch {
    return {};
  }
}

/** Consul's `?keys&separator=/` answer: the names in a folder; `names` undefined when the store cannot list (not Consul's API). */
export interface FolderListing {
  names?: string[];
  index?: number;
}

/** Whether an answer carries X-Consul-Index: every answer of Consul's KV API does, a 404 included. */
export const hasIndex = (headers: IncomingHttpHeaders): boolean => headers['x-consul-index'] !== undefined;

const refusals = new WeakSet<object>();

/** An error of a store that answered, and refused this one request (a 3xx or 4xx): not an outage, which ends for every request at once. */
export const refusal = <E extends object>(error: E): E => (refusals.add(error), error);
export const isRefusal = (error: unknown): boolean => typeof error === 'object' && error !== null && refusals.has(error);

/** The error of an answer other than 200: a refusal when its status is 3xx or 4xx (but 429, too many requests). */
function answered(response: HttpResponse, prefix: string, errors: StoreErrors, token: string | undefined): OccsError {
  const { status } = response;
  if (status === 401 || status === 403) return refusal(errors.unauthorised(prefix, `answered HTTP ${status}`, tokenHint(token)));
  const error = errors.failed(prefix, `answered HTTP ${status}${bodySnippet(response.body, [token])}`);
  return status < 500 && status !== 429 ? refusal(error) : error;
}

/**
 * The error of a server that answers, but not as Consul's KV API does (a web server, a proxy's
 * own 404): `answered` says how ("HTTP 404 without X-Consul-Index", "an HTML page"), never with its page.
 */
export function notConsul(errors: StoreErrors, prefix: string, answered: string): OccsError {
  return errors.wrongKind(
    prefix,
    `does not look like Consul's (or OCCS's) key/value API: it answered ${answered}`,
    "check the host and port (KV_IP/KV_PORT, or --kv): Consul's HTTP port is usually 8500, and its key/value API answers under /v1/kv/; if it is etcd, use etcd://",
  );
}

/**
 * Which of `count` servers a host asks first when any server may answer (stale reads): one picked
 * by a hash of its name (FNV-1a), so the hosts of a fleet spread over the servers, and each host
 * keeps to the same one across restarts (its logs name one server, and a crash loop does not
 * walk over them all).
 */
export function spreadIndex(name: string, count: number): number {
  let hash = 0x811c9dc5;
  for (const byte of Buffer.from(name, 'utf8')) hash = Math.imul(hash ^ byte, 0x01000193) >>> 0;
  return count > 0 ? hash % count : 0;
}

/** Every prefix of the request path is encoded segment by segment; `/` stays a separator. */
export const encodePrefix = (prefix: string): string => prefix.split('/').map(encodeURIComponent).join('/');

/** One GET as the source sends it, to whichever server is in use. */
export interface Get {
  prefix: string;
  query: string;
  timeoutMs: number;
  signal?: AbortSignal;
  /** Sent with `?stale`: the server answers from its own copy, and its X-Consul-LastContact says how old that is. */
  local: boolean;
  /** A buffer to read the answer into (answer-buffers.ts). */
  into?: (size: number) => Buffer;
}

/** What to do about a 401 or 403, with or without a token sent. */
export function tokenHint(token: string | undefined): string {
  return token
    ? 'check OCCS_API_TOKEN or OCCS_API_TOKEN_FILE (or --token/--token-file)'
    : 'no token was sent: set OCCS_API_TOKEN or OCCS_API_TOKEN_FILE (or --token/--token-file)';
}
