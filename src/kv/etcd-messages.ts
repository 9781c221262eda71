import { kvError } from '../errors.js';
import { formatSize } from '../util/size.js';
import { toPair, type EtcdKv, type KeyRange } from './etcd-keys.js';
import { AnswerTooLargeError } from './http.js';
import { storeText } from './store-errors.js';
import type { OccsError } from '../errors.js';

/** One line of etcd's watch stream (JSON gateway). */
export interface EtcdWatchMessage {
  result?: {
    header?: { revision?: string };
    events?: Array<{ type?: string; kv?: EtcdKv & { mod_revision?: string } }>;
    created?: boolean;
    canceled?: boolean;
    compact_revision?: string;
    cancel_reason?: string;
  };
  error?: { message?: string; code?: number };
}

/** Where a range stands: its keys, and the revision they are as of. */
export interface Followed {
  keys: Map<string, string>;
  revision: number;
  /** Told each key an event set or deleted. */
  touched?(key: string): void;
}

/** How a stream ended, when it did not break. */
export type Outcome = 'compacted' | 'idle' | 'token' | 'moved' | 'rebuilt';

/**
 * One message of a watch stream applied to `followed`: events (the revision moves on with them),
 * the stream's creation, its end, or nothing (a progress note, which moves the revision too).
 */
export function applyMessage(message: EtcdWatchMessage, range: KeyRange, followed: Followed): Outcome | 'events' | 'created' | undefined {
  if (message.error) {
    throw kvError('KV_ERROR', `etcd's watch of "${range.label}" failed: ${storeText(String(message.error.message ?? ''), []) || 'unknown error'}`);
  }
  const result = message.result;
  if (!result) return undefined;
  if (result.canceled) {
    if (/auth token|unauthenticated/i.test(result.cancel_reason ?? '')) return 'token';
    if (result.compact_revision !== undefined && result.compact_revision !== '0') return 'compacted';
    const reason = result.cancel_reason ? `: ${storeText(String(result.cancel_reason), [])}` : '';
    throw kvError('KV_ERROR', `etcd cancelled the watch of "${range.label}"${reason}`);
  }
  const revision = Number(result.header?.revision);
  if (result.created) {
    // A member whose store is behind what was seen was rebuilt (or restored): only a read says what it holds.
    return Number.isInteger(revision) && revision < followed.revision ? 'rebuilt' : 'created';
  }
  for (const event of result.events ?? []) {
    const pair = event.kv && toPair(event.kv);
    const at = Number(event.kv?.mod_revision);
    if (Number.isInteger(at)) followed.revision = Math.max(followed.revision, at);
    if (!pair) continue;
    if (event.type === 'DELETE') followed.keys.delete(pair.key);
    else followed.keys.set(pair.key, pair.value);
    followed.touched?.(pair.key);
  }
  // Every event up to the header's revision has been sent on this stream.
  if (Number.isInteger(revision)) followed.revision = Math.max(followed.revision, revision);
  return result.events?.length ? 'events' : undefined;
}

/** A stream that broke: too large a message (the user can raise the limit), or cut. */
export function streamFailure(error: unknown, range: KeyRange): OccsError {
  if (error instanceof AnswerTooLargeError) {
    return kvError('KV_TOO_LARGE', `etcd's watch stream of "${range.label}" sent an event larger than ${formatSize(error.maxBytes)}`, {
      hint: 'check the prefix: does it hold more than servers? If the store really holds that much, raise --kv-max-size',
      cause: error,
    });
  }
  return kvError('KV_UNREACHABLE', `etcd's watch stream of "${range.label}" broke (${(error as Error).message})`, { cause: error });
}
