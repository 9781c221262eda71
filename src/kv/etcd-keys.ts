import { normalizeKey } from './keys.js';
import type { KvPair } from './source.js';

/** A range of etcd keys, `key` ≤ k < `rangeEnd`; `label` is the prefix as written, `prefix` without a leading slash. */
export interface KeyRange {
  label: string;
  prefix: string;
  key: Buffer;
  rangeEnd: Buffer;
}

/** The first key after every key that starts with `prefix` (etcd's range_end for a prefix). */
export function prefixEnd(prefix: Buffer): Buffer {
  const end = Buffer.from(prefix);
  for (let i = end.length - 1; i >= 0; i--) {
    if (end[i]! < 0xff) {
      end[i]! += 1;
      return end.subarray(0, i + 1);
    }
  }
  return Buffer.from([0]); // all keys
}

/**
 * The key ranges a prefix stands for. etcd users write keys with a leading slash (confd's
 * habit) or without; both are read, so the same prefix and templates work either way. The
 * plain shape comes first: where a key exists in both shapes, the slashed one (read later) wins.
 */
export function rangesOf(prefix: string): KeyRange[] {
  if (prefix === '') return [{ label: '', prefix: '', key: Buffer.from([0]), rangeEnd: Buffer.from([0]) }];
  return [prefix, `/${prefix}`].map((p) => ({ label: p, prefix, key: Buffer.from(p), rangeEnd: prefixEnd(Buffer.from(p)) }));
}

export interface EtcdKv {
  key?: string;
  value?: string;
}

/** An etcd key/value in the shape templates see; undefined for a "folder" key ending in `/`. */
export function toPair(kv: EtcdKv): (KvPair & { slashed: boolean }) | undefined {
  const key = Buffer.from(kv.key ?? '', 'base64').toString('utf8');
  if (key === '' || key.endsWith('/')) return undefined;
  return { key: normalizeKey(key), value: kv.value ? Buffer.from(kv.value, 'base64').toString('utf8') : '', slashed: key.startsWith('/') };
}

/** Pairs ordered so that, merged last-wins, a slashed key beats the same key without the slash. */
export function slashedLast<T extends { slashed: boolean }>(pairs: T[]): T[] {
  return [...pairs.filter((p) => !p.slashed), ...pairs.filter((p) => p.slashed)];
}
