import type { StoreEndpoints } from './endpoints.js';

/**
 * The largest answer a store may send by default: 16 MiB, ten times what 10,000 servers take
 * (about 1.5 MB). A store that sends more is broken or hostile, and buffering it (then decoding
 * it twice over) would cost the watch many times that in memory.
 */
export const DEFAULT_MAX_ANSWER_BYTES = 16 * 1024 * 1024;

/** One key/value entry. Keys always start with `/` (`/apps/myapp/containers/one`), whatever the store. */
export interface KvPair {
  key: string;
  value: string;
}

/** What a store held under some prefixes at one moment: unique keys, sorted. */
export interface KvSnapshot {
  pairs: readonly KvPair[];
  /** What the source noticed of its keys while reading them (a file that gives a key twice), to be told as warnings. */
  notices?: readonly KvNotice[];
  /**
   * For a prefix in which no key lies at all: the directories beside it that hold keys (its
   * parent's, `apps/nginx` beside `apps/ngnix`), when the source could tell (file, Consul/OCCS).
   */
  siblings?: Readonly<Record<string, readonly string[]>>;
  /**
   * The only keys that may differ from the source's snapshot before, whose pairs were `pairs`
   * (that very array): a change of a few keys among 10,000 is found without comparing every
   * pair. Set by a source that knows (etcd's events); trusted only for that same array.
   */
  since?: { pairs: readonly KvPair[]; keys: readonly string[] };
}

/** A warning about one key of a store, in words the user reads. */
export interface KvNotice {
  key: string;
  message: string;
}

/**
 * What a watching source reports. It never stops on its own: after an error it retries. `scope`
 * names the part of the source concerned (a prefix), so one failing part is told apart from
 * another that works.
 */
export interface KvWatchListener {
  /** The prefixes' contents, whenever they differ from the last snapshot reported (never the same twice in a row). */
  snapshot(snapshot: KvSnapshot): void;
  /** A successful reading, changed or not: the store is reachable. */
  alive(scope: string): void;
  /** A failed reading; the source retries with backoff and reports again. */
  error(error: unknown, scope: string): void;
}

/** A key/value store the templates read from. Implementations: consul.ts, etcd.ts, file.ts. */
export interface KvSource {
  /** Where the data comes from, safe to log: never contains a token. */
  readonly description: string;
  /** Reads every key under each prefix (prefixes are normalised, without leading or trailing `/`). */
  read(prefixes: readonly string[], signal?: AbortSignal): Promise<KvSnapshot>;
  /**
   * Reports the prefixes' contents now and on every change, by the store's own means (Consul's
   * blocking queries, file-system events), until `signal` aborts. Errors are reported and
   * retried with backoff, forever.
   */
  watch(prefixes: readonly string[], listener: KvWatchListener, signal: AbortSignal): Promise<void>;
  /** Releases connections; the source is not used afterwards. */
  close(): Promise<void>;
  /** A store of several endpoints (a cluster): which is in use, which answer, failovers. */
  readonly endpoints?: StoreEndpoints;
  /**
   * Consul: X-Consul-LastContact of the last answer a server gave from its own copy, in ms: how
   * far behind its leader the server in use is. Undefined for other stores, and until known.
   */
  readonly lastContactMs?: number;
}

/** Consul's read consistency: the leader answers (default), any server (stale), or the leader once it confirmed it leads (consistent). */
export type KvConsistency = 'default' | 'stale' | 'consistent';

/**
 * How long a Consul server may have gone without hearing from its leader before it is left
 * (--kv-max-stale): consul-template's default max_stale. A healthy follower hears from its leader
 * every few hundred milliseconds, and 2 s plus a probe interval keeps a server cut off from its
 * leader noticed within 15 s.
 */
export const DEFAULT_MAX_STALE_MS = 2_000;

export interface KvSourceOptions extends TlsFiles {
  /** Consul/OCCS: the API token. */
  token?: string;
  /** etcd: user and password (a token is requested with them). */
  user?: string;
  password?: string;
  timeoutMs: number;
  /** How often to poll a store that offers no change notification (Consul without X-Consul-Index). */
  pollIntervalMs?: number;
  /** Consul/OCCS: the read consistency (default: `default`, no query parameter). */
  consistency?: KvConsistency;
  /** Consul/OCCS: a server whose X-Consul-LastContact is above this is left (DEFAULT_MAX_STALE_MS by default). */
  maxStaleMs?: number;
  /** Consul/OCCS: prefixes watch reads in parts, a blocking query each (stack mode's apps; kv/consul-split.ts). */
  watchInParts?: readonly string[];
}

/** TLS settings of a store, as files (read once, when the client is made), and the answer size limit. */
export interface TlsFiles {
  /** The largest answer taken (DEFAULT_MAX_ANSWER_BYTES by default). */
  maxBytes?: number;
  /** One more CA to trust, besides the system's. */
  caFile?: string;
  /** A client certificate and its key (mutual TLS). */
  certFile?: string;
  keyFile?: string;
  /** Skip certificate verification (explicit opt-out). */
  insecure: boolean;
}
