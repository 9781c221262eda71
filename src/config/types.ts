import type { ReloadStrategy } from '../haproxy/reload.js';
import type { KvConsistency } from '../kv/source.js';
import type { LogFormat, Verbosity } from '../log.js';
import type { Route } from '../values/routes.js';
import type { FileConfig } from './schema.js';
import type { SETTINGS } from './table.js';

/**
 * The types the config files share. It imports only types, and in src/config only from table.ts
 * and schema.ts, which import nothing back: settings.ts and the resolve* files import from here.
 */

type FlagEntry = Extract<(typeof SETTINGS)[number], { flag: string }>;
type FlagValue<E> = E extends { repeatable: true } ? string[] : E extends { flag: `${string}<${string}>` } ? string : boolean;

/**
 * Options as commander hands them over, one per entry of the table: `<value>` flags are strings,
 * repeatable ones arrays, the others booleans (`--no-haproxy` and `--haproxy <path>` share `haproxy`).
 */
export type Flags = { [E in FlagEntry as E['name']]?: FlagValue<E> };

export interface LoadedFile {
  path: string;
  config: FileConfig;
  /** The file holds nothing at all (cosmiconfig reads that as no settings): noted, as it is seldom meant. */
  empty?: boolean;
}

/** The values the default template prints besides servers; all strictly validated. */
export interface TemplateVars {
  bind: string;
  frontendPort: number;
  statsPort: number;
  statsUser: string;
  statsPassword: string;
  backendName: string;
  balance: string;
  /** The admin `stats socket` path ('' leaves it out): the runtime API watch uses. */
  adminSocket: string;
  /** The HTTPS port (--https-port), when HTTPS is served. */
  httpsPort?: number;
}

/** One template → destination pair (confd's template resource). */
export interface Resource {
  template: string;
  /** Absent: print to stdout. */
  destination?: string;
  /** Key prefixes read for this resource, normalised; the first is the default of servers(). */
  prefixes: string[];
  /** Whether the output is an HAProxy config (checked with haproxy -c, servers counted). */
  haproxy: boolean;
}

/** How occs-lb reaches HAProxy: the binary for checks, the installed config, the reload path. */
export interface HaproxySettings {
  binary: string;
  config: string;
  reload?: ReloadStrategy;
  reloadTimeoutMs: number;
}

export interface Settings {
  /** The --kv spec (or the URL made of KV_IP/KV_PORT) and where it came from. */
  kv?: { spec: string; from: string; base: string };
  token?: string;
  /** etcd: user and password. */
  kvUser?: string;
  kvPassword?: string;
  kvTimeoutMs: number;
  /** The largest answer taken from the store (or size of a file: source). */
  kvMaxBytes: number;
  /** Consul/OCCS: the read consistency, and how long a server may go without hearing from its leader. */
  kvConsistency: KvConsistency;
  kvMaxStaleMs: number;
  kvCa?: string;
  /** A client certificate and key for the store (mutual TLS). */
  kvCert?: string;
  kvKey?: string;
  insecure: boolean;
  strict: boolean;
  resources: Resource[];
  vars: TemplateVars;
  haproxy: HaproxySettings;
  /** Refuse an answer with fewer servers than this in any backend (0: no minimum). */
  minServers: number;
  watch: WatchSettings;
  /** Undefined: the command's default (text for one-shot commands). */
  logFormat?: LogFormat;
  verbosity: Verbosity;
  configFile?: string;
  /** What is odd about the settings themselves (an empty secret file, say): each command warns of it. */
  notices: string[];
  /** Stack mode: every app a service, routed by host and path (none: the one-service default). */
  stack?: StackSettings;
  /** HTTPS (--https-port): where certificates come from and the files they go to. */
  tls?: TlsSettings;
}

/** HTTPS: the certificates served, where they come from and where they are written beside the config. */
export interface TlsSettings {
  port: number;
  /** A directory of bundles (absolute), followed for changes. */
  certDir?: string;
  /** The bundle served when no certificate matches the client's server name (none: the first by name). */
  defaultCert?: string;
  /** Warn when a certificate expires within this. */
  warnMs: number;
  /** The crt-list HAProxy's HTTPS bind reads: one line per bundle file. */
  crtList: string;
  /** The directory (0700) of the bundle files (0600), each named after its bundle. */
  certsDir: string;
  /** Stack mode's per-app policies: redirect or HTTPS only (by backend), and the HSTS header (by backend). */
  maps: { policy: string; hsts: string };
}

/** A service the config file lists: its servers are the keys directly under `prefix`. */
export interface ServiceSpec {
  name: string;
  prefix: string;
  routes: Route[];
  /** Undefined: --balance. */
  balance?: string;
  /** A health-check path, or false for none; undefined: `HEAD /`. */
  check?: string | false;
}

/** Stack mode: where apps, routes, weights and states are, and the map files the routes go to. */
export interface StackSettings {
  /** Every directory under it is an app: `<apps>/<app>/containers/<name> = ip:port`. */
  apps?: string;
  /** `<control>/routes/<app>`, `<control>/weights/<app>/<name>`, `<control>/state/<app>/<name>`. */
  control: string;
  services: ServiceSpec[];
  /** The app for requests no route matches (none: a 404 from HAProxy). */
  defaultService?: string;
  /** The map files beside the config: routes with a host, and routes on any host. */
  maps: { hosts: string; paths: string };
}

/** How `watch` waits, polls, supervises and reports. */
export interface WatchSettings {
  /** Quiescence: act after this much quiet… */
  waitMinMs: number;
  /** …or at the latest this long after the first change of a burst. */
  waitMaxMs: number;
  /** Poll the store at this interval instead of using its change notification. */
  intervalMs?: number;
  /** The HAProxy command to run and supervise (master-worker mode). */
  exec?: string;
  /** Where /livez, /readyz, /healthz and /metrics are served ('' host: every address). */
  listen?: { host: string; port: number };
  /** How long HAProxy's soft stop may take (after SIGTERM to watch) before it is terminated. */
  stopTimeoutMs: number;
  /** After SIGTERM, how long HAProxy keeps serving (and /readyz answers 503) before its soft stop. */
  shutdownDelayMs: number;
  /** Install an answer that leaves no server in any backend while HAProxy serves some (else it is held). */
  allowEmpty: boolean;
  /** Apply server-only changes through HAProxy's runtime API, without a reload. */
  runtimeApi: boolean;
  /** How long a removed server may keep its sessions before they are shut. */
  drainTimeoutMs: number;
  /** How often HAProxy's live state is read and what drifted put back (0: never). */
  verifyIntervalMs: number;
}

export interface SettingsInput {
  flags: Flags;
  env: NodeJS.ProcessEnv;
  file?: LoadedFile;
  cwd: string;
  defaultTemplate: string;
  /** The template stack mode renders unless --template names another (default: the shipped stack.cfg.ejs). */
  stackTemplate?: string;
  /** Where flags taken from the environment came from, by long name (`min-servers` → `environment OCCS_LB_MIN_SERVERS`). */
  origins?: Readonly<Record<string, string>>;
  /** Reads a secret's file (`setting`: where its path came from, for the error); I/O is the caller's. */
  readSecret: (path: string, setting: string) => string;
}
