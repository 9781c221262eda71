/** One key/value entry. Keys always start with `/` (`/apps/myapp/containers/one`), whatever the store. */
export interface KvPair {
  key: string;
  value: string;
}

/** What a store held under some prefixes at one moment: unique keys, sorted. */
export interface KvSnapshot {
  pairs: readonly KvPair[];
}

/** A key/value store the templates read from. Implementations: consul.ts, file.ts. */
export interface KvSource {
  /** Where the data comes from, safe to log: never contains a token. */
  readonly description: string;
  /** Reads every key under each prefix (prefixes are normalised, without leading or trailing `/`). */
  read(prefixes: readonly string[], signal?: AbortSignal): Promise<KvSnapshot>;
  /** Releases connections; the source is not used afterwards. */
  close(): Promise<void>;
}

export interface KvSourceOptions {
  token?: string;
  timeoutMs: number;
  /** PEM file of extra certificate authorities for https. */
  caFile?: string;
  /** Skip TLS certificate verification (explicit opt-out). */
  insecure: boolean;
}
