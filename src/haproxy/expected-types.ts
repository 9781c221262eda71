/** What a config says HAProxy should run (expected-state.ts reads it; expected-patch.ts patches it). */
import type { MapEntry } from './map-file.js';

/** A server as the config file says HAProxy should run it. */
export interface ExpectedServer {
  readonly name: string;
  /** As HAProxy prints it back; absent when the line names a host (HAProxy resolves it) or no port. */
  readonly address?: { host: string; port: number };
  /** Absent when something else sets it while HAProxy runs (an agent check). */
  readonly weight?: number;
  /** The line (or a `default-server`) says `disabled`: the server must be in maintenance. */
  readonly disabled: boolean;
  /** An agent check sets its admin state while HAProxy runs (`drain`, `maint`, `ready`): not compared, a correction would not last. */
  readonly agent: boolean;
  /** The words of its line (`server NAME ADDRESS OPTIONS…`), read as `add server` would take them only when needed. */
  readonly words: readonly string[];
}

export interface ExpectedBackend {
  /** A `backend`, or a `listen` (with servers or not: HAProxy runs both as backends). */
  name: string;
  servers: ReadonlyMap<string, ExpectedServer>;
  /** Why servers cannot be added to it or removed from it at runtime (config-diff's policy), if so. */
  fixed?: string;
  /** Why none of its servers can be made or set right at runtime, if so (`default-server` settings). */
  frozen?: string;
  /** Why its servers are not compared at all, if so (only that it exists is). */
  unverifiable?: string;
}

/** What the installed config and its map files say HAProxy should run. */
export interface ExpectedState {
  backends: ReadonlyMap<string, ExpectedBackend>;
  /** Each map file the config loads: its entries, in the file's order. */
  maps: ReadonlyMap<string, readonly MapEntry[]>;
  /** What is not checked, and why (for the log). */
  unverifiable: readonly string[];
}
