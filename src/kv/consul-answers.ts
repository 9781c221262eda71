import type { IncomingHttpHeaders } from 'node:http';
import { normalizeKey } from './keys.js';
import type { KvPair } from './source.js';
import type { OccsError } from '../errors.js';
import { bodyKind, type StoreErrors } from './store-errors.js';

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

/** Whether an answer carries X-Consul-Index: every answer of Consul's KV API does, a 404 included. */
export const hasIndex = (headers: IncomingHttpHeaders): boolean => headers['x-consul-index'] !== undefined;

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

/** The pairs of a prefix's last listing by the key as Consul gives it, with the base64 value each was made from. */
export type KeptPairs = Map<string, { raw: string; pair: KvPair }>;

/**
 * A recursive listing's pairs: keys normalised, base64 values decoded (null: empty), folders
 * (keys ending in `/`) left out. `fail` makes the error of an answer that is no such listing,
 * given what it was ("an HTML page", "JSON that is not a list of keys"). With `kept` (the last
 * listing's `kept`), an entry whose value is as it was is the same pair object as before, not
 * decoded again: at 10,000 keys a change of one decodes one, and what follows
 * finds the others unchanged at a glance.
 */
export function parseListing(body: Buffer, fail: (what: string) => Error, kept?: KeptPairs): { pairs: KvPair[]; kept: KeptPairs } {
  let entries: unknown;
  try {
    entries = JSON.parse(body.toString('utf8'));
  } catch {
    throw fail(bodyKind(body) === 'an HTML page' ? 'an HTML page, which is not JSON' : 'something that is not JSON');
  }
  if (!Array.isArray(entries)) throw fail('JSON that is not a list of keys');
  const pairs: KvPair[] = [];
  const now: KeptPairs = new Map();
  for (const entry of entries) {
    const { Key: key, Value: value } = (entry ?? {}) as { Key?: unknown; Value?: unknown };
    if (typeof key !== 'string' || !(typeof value === 'string' || value === null || value === undefined)) {
      throw fail('a list whose entries have no Key/Value');
    }
    if (key.endsWith('/')) continue;
    const raw = value ?? '';
    const last = kept?.get(key);
    const pair = last?.raw === raw ? last.pair : { key: normalizeKey(key), value: raw ? fromBase64(raw) : '' };
    now.set(key, { raw, pair });
    pairs.push(pair);
  }
  return { pairs, kept: now };
}

/** Decoding room reused for every value: a listing of 10,000 keys would otherwise make 10,000 buffers. */
const scratch = Buffer.allocUnsafe(64 * 1024);

/** Consul's base64 value as UTF-8 text. */
function fromBase64(value: string): string {
  if (value.length > (scratch.length / 3) * 4) return Buffer.from(value, 'base64').toString('utf8');
  return scratch.toString('utf8', 0, scratch.write(value, 0, 'base64'));
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
}
