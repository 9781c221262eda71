import { text, anyText, yesNo, texts, port, textOrJson, duration, size, formats, consistencies, consistency, type SettingEntry } from './setting-entry.js';
import { stackSpec } from './stack-spec.js';
import { COMMAND_SETTINGS } from './table-commands.js';

/**
 * Every setting and option, once: the commander options (options.ts), the config file's zod
 * schema (schema.ts) and the `Flags` type (types.ts) are derived from this table, and a test
 * checks the README's options table against it. Resolving the values (precedence, validation)
 * is settings.ts's work.
 */

/** The commands that read the store and render: reload only reloads what is installed. */
const rendering = ['render', 'validate', 'watch'] as const;

// The order is the help's: options appear in it in this order, in each command.
export const SETTINGS = [
  {
    name: 'kv',
    commands: rendering,
    flag: '--kv <url>',
    env: ['KV_IP', 'KV_PORT'],
    file: { kv: text },
    help: 'key/value source: http(s)://, occs://, consul://, etcd(s):// or file:PATH; a cluster as several HOST:PORT separated by commas (consul://h1:8500,h2:8500, etcd://h1,h2,h3)',
  },
  { name: 'token', commands: rendering, flag: '--token <token>', env: ['OCCS_API_TOKEN'], help: 'API token (prefer OCCS_API_TOKEN_FILE: flags show in ps)' },
  {
    name: 'tokenFile',
    commands: rendering,
    flag: '--token-file <file>',
    env: ['OCCS_API_TOKEN_FILE'],
    file: { tokenFile: text },
    help: 'read the API token from a file',
  },
  {
    name: 'prefix',
    commands: rendering,
    flag: '--prefix <key>',
    env: ['OCCS_BACKEND_KEY'],
    file: { prefixes: texts },
    repeatable: true,
    help: 'key prefix to read (repeatable; the first one holds the servers)',
  },
  { name: 'template', commands: rendering, flag: '--template <file>', file: { template: text }, help: 'EJS template', default: 'the shipped haproxy.cfg.ejs' },
  { name: 'config', flag: '--config <file>', help: 'config file', default: 'searched in the current directory' },
  {
    name: 'kvTimeout',
    commands: rendering,
    flag: '--kv-timeout <duration>',
    file: { kvTimeout: duration },
    help: 'timeout of each key/value request, e.g. 5s',
    default: '10s',
  },
  {
    name: 'kvMaxSize',
    commands: rendering,
    flag: '--kv-max-size <size>',
    file: { kvMaxSize: size },
    help: 'largest answer taken from the store (or file: size), e.g. 64MiB',
    default: '16MiB',
  },
  {
    name: 'kvConsistency',
    commands: rendering,
    flag: '--kv-consistency <mode>',
    file: { kvConsistency: consistency },
    choices: consistencies,
    help: 'Consul/OCCS reads: default (the leader answers), stale (any server answers: reads spread over the servers), consistent (the leader confirms it leads); etcd reads are always linearizable',
    default: 'default',
  },
  {
    name: 'kvMaxStale',
    commands: rendering,
    flag: '--kv-max-stale <duration>',
    file: { kvMaxStale: duration },
    help: 'Consul/OCCS: leave a server that has not heard from its leader for longer than this (X-Consul-LastContact)',
    default: '2s',
  },
  { name: 'kvCa', commands: rendering, flag: '--kv-ca <file>', file: { kvCa: text }, help: 'PEM file of one more CA to trust for https key/value stores' },
  {
    name: 'kvCert',
    commands: rendering,
    flag: '--kv-cert <file>',
    file: { kvCert: text },
    help: 'client certificate (PEM) for the key/value store (with --kv-key)',
  },
  { name: 'kvKey', commands: rendering, flag: '--kv-key <file>', file: { kvKey: text }, help: 'key of the client certificate (PEM)' },
  {
    name: 'kvUser',
    commands: rendering,
    flag: '--kv-user <name>',
    env: ['KV_USER'],
    file: { kvUser: text },
    help: 'etcd user (a token is asked with the password)',
  },
  {
    name: 'kvPassword',
    commands: rendering,
    flag: '--kv-password <password>',
    env: ['KV_PASSWORD'],
    help: 'etcd password (prefer KV_PASSWORD_FILE: flags show in ps)',
  },
  {
    name: 'kvPasswordFile',
    commands: rendering,
    flag: '--kv-password-file <file>',
    env: ['KV_PASSWORD_FILE'],
    file: { kvPasswordFile: text },
    help: 'read the etcd password from a file',
  },
  { name: 'insecure', commands: rendering, flag: '--insecure', file: { insecure: yesNo }, help: "do not verify the key/value store's TLS certificate" },
  { name: 'strict', commands: rendering, flag: '--strict', file: { strict: yesNo }, help: 'fail (exit 5) instead of skipping invalid key/value entries' },
  { name: 'bind', commands: rendering, flag: '--bind <address>', file: { bind: text }, help: 'address the frontend and stats listener bind', default: '*' },
  { name: 'frontendPort', commands: rendering, flag: '--frontend-port <port>', file: { frontendPort: port }, help: 'frontend port', default: '5000' },
  { name: 'statsPort', commands: rendering, flag: '--stats-port <port>', file: { statsPort: port }, help: 'stats page port', default: '1936' },
  { name: 'statsUser', env: ['OCCS_LB_STATS_USER'], file: { statsUser: text }, help: 'stats page user (the demo one warns)', default: 'occsdemo' },
  {
    name: 'statsPassword',
    env: ['OCCS_LB_STATS_PASSWORD'],
    file: { statsPassword: text },
    help: 'stats page password (the demo one warns)',
    default: 'occspass',
  },
  {
    name: 'statsPasswordFile',
    env: ['OCCS_LB_STATS_PASSWORD_FILE'],
    file: { statsPasswordFile: text },
    help: 'read the stats page password from a file (a mounted secret)',
  },
  { name: 'backendName', commands: rendering, flag: '--backend-name <name>', file: { backendName: text }, help: 'name of the backend', default: 'nginx_80' },
  { name: 'balance', commands: rendering, flag: '--balance <algorithm>', file: { balance: text }, help: 'balance algorithm', default: 'roundrobin' },
  {
    name: 'adminSocket',
    commands: rendering,
    flag: '--admin-socket <path>',
    file: { adminSocket: anyText },
    help: 'put an admin stats socket (the runtime API) in the config at PATH',
    default: 'none',
  },
  {
    name: 'stack',
    commands: rendering,
    flag: '--stack <prefix>',
    file: { stack: stackSpec },
    help: 'stack mode: a backend per app under PREFIX, routed by host and path',
  },
  {
    name: 'controlPrefix',
    commands: rendering,
    flag: '--control-prefix <prefix>',
    help: 'stack mode: where routes, weights, states, TLS policies and certificates are',
    default: 'lb',
  },
  { name: 'defaultService', commands: rendering, flag: '--default-service <app>', help: 'stack mode: the app for requests no route matches', default: 'a 404' },
  {
    name: 'httpsPort',
    commands: rendering,
    flag: '--https-port <port>',
    file: { httpsPort: port },
    help: 'serve HTTPS on --bind:PORT too (HTTP/2 and HTTP/1.1), with the certificates of --cert-dir and, in stack mode, of the store (<control>/certs/<name>)',
  },
  {
    name: 'certDir',
    commands: rendering,
    flag: '--cert-dir <dir>',
    file: { certDir: text },
    help: 'HTTPS: a directory of certificate bundles (NAME.pem, NAME.crt + NAME.key, or tls.crt + tls.key as a Kubernetes Secret mounts them), followed for changes',
  },
  {
    name: 'defaultCert',
    commands: rendering,
    flag: '--default-cert <name>',
    file: { defaultCert: text },
    help: 'HTTPS: the certificate for clients whose server name no certificate matches',
    default: 'the first by name',
  },
  {
    name: 'certWarn',
    commands: rendering,
    flag: '--cert-warn <duration>',
    file: { certWarn: duration },
    help: 'HTTPS: warn (log and /healthz) when a certificate expires within this, e.g. 14d or 336h',
    default: '14d',
  },
  { name: 'logFormat', flag: '--log-format <format>', file: { logFormat: textOrJson }, choices: formats, help: 'log format on stderr' },
  { name: 'quiet', flag: '-q, --quiet', help: 'print errors only' },
  { name: 'verbose', flag: '-v, --verbose', help: 'print debug logs and stack traces' },

  // The commands' own options (table-commands.ts).
  ...COMMAND_SETTINGS,
] as const satisfies readonly SettingEntry[];
