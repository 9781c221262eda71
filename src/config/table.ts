import type { z } from 'zod';

/**
 * Every setting and option, once: the commander options (options.ts), the config file's zod
 * schema (schema.ts) and the `Flags` type (types.ts) are derived from this table, and a test
 * checks the README's options table against it. Resolving the values (precedence, validation)
 * is settings.ts's work.
 */

export type CommandName = 'render' | 'validate' | 'reload' | 'watch';

/** The zod type of a config-file key, built only when a config file is read (zod loads lazily). */
export type FileType = (zod: typeof z) => z.ZodTypeAny;

export interface SettingEntry {
  /** The key in `Flags`: commander's attribute name of the flag (`--no-x` sets `x`). */
  readonly name: string;
  /** commander's flags: `--name <value>`, a boolean `--name`, a negation `--no-name`; none: no flag. */
  readonly flag?: string;
  /** The environment variables it reads (their precedence is settings.ts's). */
  readonly env?: readonly string[];
  /** Its config-file key with that key's zod type, e.g. `{ kvTimeout: duration }` (one key). */
  readonly file?: { readonly [key: string]: FileType };
  /** The commands that take it; absent: every command (an option of the program itself). */
  readonly commands?: readonly CommandName[];
  /** One text, or one per command. */
  readonly help: string | { readonly [C in CommandName]?: string };
  /** Shown in the help as "(default: …)"; the value itself comes from settings.ts. */
  readonly default?: string;
  readonly choices?: readonly string[];
  /** A value commander sets when the flag is absent (and shows with the choices). */
  readonly initial?: string;
  /** Repeatable: the values collect into an array. */
  readonly repeatable?: true;
}

const text = (zod: typeof z) => zod.string().min(1);
const anyText = (zod: typeof z) => zod.string();
const yesNo = (zod: typeof z) => zod.boolean();
const texts = (zod: typeof z) => zod.array(zod.string()).min(1);
const port = (zod: typeof z) => zod.number().int();
const count = (zod: typeof z) => zod.number().int().nonnegative();
const formats = ['text', 'json'] as const;
const textOrJson = (zod: typeof z) => zod.enum(formats);
/** A duration: text such as `5s`, or milliseconds. */
const duration = (zod: typeof z) => zod.union([zod.string().min(1), zod.number().nonnegative()]);
const positiveDuration = (zod: typeof z) => zod.union([zod.string().min(1), zod.number().positive()]);
const size = (zod: typeof z) => zod.union([zod.string().min(1), zod.number().int().positive()]);

const reloading = ['reload', 'watch'] as const;

// The order is the help's: options appear in it in this order, in each command.
export const SETTINGS = [
  {
    name: 'kv',
    flag: '--kv <url>',
    env: ['KV_IP', 'KV_PORT'],
    file: { kv: text },
    help: 'key/value source: http(s)://, occs://, consul://, etcd(s):// or file:PATH',
  },
  { name: 'token', flag: '--token <token>', env: ['OCCS_API_TOKEN'], help: 'API token (prefer OCCS_API_TOKEN_FILE: flags show in ps)' },
  { name: 'tokenFile', flag: '--token-file <file>', env: ['OCCS_API_TOKEN_FILE'], file: { tokenFile: text }, help: 'read the API token from a file' },
  {
    name: 'prefix',
    flag: '--prefix <key>',
    env: ['OCCS_BACKEND_KEY'],
    file: { prefixes: texts },
    repeatable: true,
    help: 'key prefix to read (repeatable; the first one holds the servers)',
  },
  { name: 'template', flag: '--template <file>', file: { template: text }, help: 'EJS template', default: 'the shipped haproxy.cfg.ejs' },
  { name: 'config', flag: '--config <file>', help: 'config file', default: 'searched in the current directory' },
  { name: 'kvTimeout', flag: '--kv-timeout <duration>', file: { kvTimeout: duration }, help: 'timeout of each key/value request, e.g. 5s', default: '10s' },
  {
    name: 'kvMaxSize',
    flag: '--kv-max-size <size>',
    file: { kvMaxSize: size },
    help: 'largest answer taken from the store (or file: size), e.g. 64MiB',
    default: '16MiB',
  },
  { name: 'kvCa', flag: '--kv-ca <file>', file: { kvCa: text }, help: 'PEM file of one more CA to trust for https key/value stores' },
  { name: 'kvCert', flag: '--kv-cert <file>', file: { kvCert: text }, help: 'client certificate (PEM) for the key/value store (with --kv-key)' },
  { name: 'kvKey', flag: '--kv-key <file>', file: { kvKey: text }, help: 'key of the client certificate (PEM)' },
  { name: 'kvUser', flag: '--kv-user <name>', env: ['KV_USER'], file: { kvUser: text }, help: 'etcd user (a token is asked with the password)' },
  { name: 'kvPassword', flag: '--kv-password <password>', env: ['KV_PASSWORD'], help: 'etcd password (prefer KV_PASSWORD_FILE: flags show in ps)' },
  {
    name: 'kvPasswordFile',
    flag: '--kv-password-file <file>',
    env: ['KV_PASSWORD_FILE'],
    file: { kvPasswordFile: text },
    help: 'read the etcd password from a file',
  },
  { name: 'insecure', flag: '--insecure', file: { insecure: yesNo }, help: "do not verify the key/value store's TLS certificate" },
  { name: 'strict', flag: '--strict', file: { strict: yesNo }, help: 'fail (exit 5) instead of skipping invalid key/value entries' },
  { name: 'bind', flag: '--bind <address>', file: { bind: text }, help: 'address the frontend and stats listener bind', default: '*' },
  { name: 'frontendPort', flag: '--frontend-port <port>', file: { frontendPort: port }, help: 'frontend port', default: '5000' },
  { name: 'statsPort', flag: '--stats-port <port>', file: { statsPort: port }, help: 'stats page port', default: '1936' },
  { name: 'statsUser', env: ['OCCS_LB_STATS_USER'], file: { statsUser: text }, help: 'stats page user (the demo one warns)', default: 'occsdemo' },
  {
    name: 'statsPassword',
    env: ['OCCS_LB_STATS_PASSWORD'],
    file: { statsPassword: text },
    help: 'stats page password (the demo one warns)',
    default: 'occspass',
  },
  { name: 'backendName', flag: '--backend-name <name>', file: { backendName: text }, help: 'name of the backend', default: 'nginx_80' },
  { name: 'balance', flag: '--balance <algorithm>', file: { balance: text }, help: 'balance algorithm', default: 'roundrobin' },
  {
    name: 'adminSocket',
    flag: '--admin-socket <path>',
    file: { adminSocket: anyText },
    help: 'put an admin stats socket (the runtime API) in the config at PATH',
    default: 'none',
  },
  { name: 'logFormat', flag: '--log-format <format>', file: { logFormat: textOrJson }, choices: formats, help: 'log format on stderr' },
  { name: 'quiet', flag: '-q, --quiet', help: 'print errors only' },
  { name: 'verbose', flag: '-v, --verbose', help: 'print debug logs and stack traces' },

  // The commands' own options.
  { name: 'format', flag: '--format <format>', commands: ['validate', 'reload'], choices: formats, initial: 'text', help: 'report format on stdout' },
  {
    name: 'check',
    flag: '--no-check',
    commands: ['render', 'reload'],
    help: { render: 'install with --out without haproxy -c of the new config first', reload: 'skip haproxy -c of the installed config' },
  },
  {
    name: 'out',
    flag: '-o, --out <file>',
    commands: ['render', 'watch'],
    help: {
      render: 'install the config at FILE instead of printing it: checked with haproxy -c, then written atomically',
      watch: 'the installed HAProxy config (written atomically, checked with haproxy -c first)',
    },
  },
  {
    name: 'exec',
    flag: '--exec <command>',
    commands: ['watch'],
    file: { exec: text },
    help: 'run and supervise HAProxy in master-worker mode, e.g. "haproxy -W -db -f /etc/haproxy/haproxy.cfg"',
  },
  {
    name: 'wait',
    flag: '--wait <min[:max]>',
    commands: ['watch'],
    file: { wait: text },
    help: 'quiescence: act after MIN of quiet, at most MAX after the first change',
    default: '200ms:2s',
  },
  {
    name: 'interval',
    flag: '--interval <duration>',
    commands: ['watch'],
    file: { interval: positiveDuration },
    help: 'poll the store at this interval instead of following its changes (the old image: 5s)',
  },
  {
    name: 'minServers',
    flag: '--min-servers <n>',
    commands: ['validate', 'watch'],
    file: { minServers: count },
    help: { validate: 'fail when a backend has fewer servers', watch: 'refuse a store answer that leaves a backend with fewer servers' },
    default: '0',
  },
  { name: 'allowWarnings', flag: '--allow-warnings', commands: ['validate'], help: 'HAProxy warnings do not fail the check' },
  { name: 'listen', flag: '--listen <host:port>', commands: ['watch'], file: { listen: text }, help: 'serve /healthz and /metrics (Prometheus) here' },
  {
    name: 'stopTimeout',
    flag: '--stop-timeout <duration>',
    commands: ['watch'],
    file: { stopTimeout: positiveDuration },
    help: "on SIGTERM/SIGINT, how long HAProxy's soft stop may take before it is terminated",
    default: '8s',
  },
  {
    name: 'runtimeApi',
    flag: '--no-runtime-api',
    commands: ['watch'],
    file: { runtimeApi: yesNo },
    help: "apply every change by reload, never through HAProxy's runtime API",
  },
  {
    name: 'drainTimeout',
    flag: '--drain-timeout <duration>',
    commands: ['watch'],
    file: { drainTimeout: duration },
    help: 'runtime API: how long a removed server keeps its sessions before they are shut',
    default: '5s',
  },
  { name: 'once', flag: '--once', commands: ['watch'], help: 'run the pipeline once (render, check, install, reload) and exit' },
  {
    name: 'masterSocket',
    flag: '--master-socket <path>',
    commands: reloading,
    file: { masterSocket: text },
    help: 'HAProxy master CLI socket (-S): send "reload", verify with "show proc"',
  },
  {
    name: 'pidFile',
    flag: '--pid-file <path>',
    commands: reloading,
    file: { pidFile: text },
    help: 'HAProxy pid file (-p): SIGUSR2 to a master-worker master, or a new -sf process',
  },
  {
    name: 'reloadCmd',
    flag: '--reload-cmd <command>',
    commands: reloading,
    file: { reloadCmd: text },
    help: "run this shell command to reload (like confd's reload_cmd)",
  },
  {
    name: 'haproxyConfig',
    flag: '--haproxy-config <file>',
    commands: reloading,
    file: { haproxyConfig: text },
    help: 'the installed HAProxy config',
    default: 'the single destination, from --out or the config file, else /etc/haproxy/haproxy.cfg',
  },
  {
    name: 'reloadTimeout',
    flag: '--reload-timeout <duration>',
    commands: reloading,
    file: { reloadTimeout: positiveDuration },
    help: 'how long a reload may take before it counts as failed',
    default: '10s',
  },
  {
    name: 'haproxy',
    flag: '--haproxy <path>',
    commands: ['render', 'validate', ...reloading],
    file: { haproxyBinary: text },
    help: 'the haproxy executable',
    default: 'haproxy on PATH',
  },
  // After --haproxy: commander then leaves `haproxy` unset unless one of the two is given.
  { name: 'haproxy', flag: '--no-haproxy', commands: ['validate'], help: 'skip the haproxy -c step (and say so in the report)' },
] as const satisfies readonly SettingEntry[];
