import { text, port, textOrJson, duration, formats, letters, balance, bindAddress, socketPath, type SettingEntry } from './setting-entry.js';
import { MAX_NAME_LENGTH } from '../values/server.js';
import { stackSpec } from './stack-spec.js';
import { COMMAND_SETTINGS } from './table-commands.js';
import { rendering, STORE_SETTINGS } from './table-store.js';

/**
 * Every setting and option, once: the commander options (options.ts), the config file's zod
 * schema (schema.ts) and the `Flags` type (types.ts) are derived from this table, and a test
 * checks the options table of docs/configuration.md against it (docs/reference.md is generated from it). Resolving the values (precedence, validation)
 * is settings.ts's work.
 */

// The help lists the options by group (HELP_GROUPS' order), and in this order within a group.
export const SETTINGS = [
  // The store's options (table-store.ts).
  ...STORE_SETTINGS,
  {
    name: 'template',
    group: 'template',
    commands: rendering,
    flag: '--template <file>',
    file: { template: text },
    help: 'EJS template',
    default: 'the shipped haproxy.cfg.ejs',
  },
  {
    name: 'bind',
    group: 'template',
    commands: rendering,
    flag: '--bind <address>',
    file: { bind: bindAddress },
    help: 'address the frontend and stats listener bind',
    default: '*',
  },
  {
    name: 'frontendPort',
    group: 'template',
    commands: rendering,
    flag: '--frontend-port <port>',
    file: { frontendPort: port },
    help: 'frontend port',
    default: '5000',
  },
  {
    name: 'statsPort',
    group: 'template',
    commands: rendering,
    flag: '--stats-port <port>',
    file: { statsPort: port },
    help: 'stats page port',
    default: '1936',
  },
  {
    name: 'statsUser',
    group: 'template',
    env: ['OCCS_LB_STATS_USER'],
    file: { statsUser: letters('._-') },
    help: 'stats page user (the demo one warns)',
    default: 'occsdemo',
  },
  {
    name: 'statsPassword',
    group: 'template',
    env: ['OCCS_LB_STATS_PASSWORD'],
    file: { statsPassword: text },
    help: 'stats page password (the demo one warns)',
    default: 'occspass',
  },
  {
    name: 'statsPasswordFile',
    group: 'template',
    env: ['OCCS_LB_STATS_PASSWORD_FILE'],
    file: { statsPasswordFile: text },
    help: 'read the stats page password from a file (a mounted secret)',
  },
  {
    name: 'backendName',
    group: 'template',
    commands: rendering,
    flag: '--backend-name <name>',
    file: { backendName: letters('._:-', MAX_NAME_LENGTH) },
    help: 'name of the backend',
    default: 'nginx_80',
  },
  {
    name: 'balance',
    group: 'template',
    commands: rendering,
    flag: '--balance <algorithm>',
    file: { balance },
    help: 'balance algorithm',
    default: 'roundrobin',
  },
  {
    name: 'adminSocket',
    group: 'template',
    commands: rendering,
    flag: '--admin-socket <path>',
    file: { adminSocket: socketPath },
    help: 'put an admin stats socket (the runtime API) in the config at PATH',
    default: 'none',
  },
  {
    name: 'stack',
    group: 'stack',
    commands: rendering,
    flag: '--stack <prefix>',
    file: { stack: stackSpec },
    help: 'stack mode: a backend per app under PREFIX, routed by host and path',
  },
  {
    name: 'controlPrefix',
    group: 'stack',
    commands: rendering,
    flag: '--control-prefix <prefix>',
    help: 'stack mode: where routes, weights, states, TLS policies and certificates are',
    default: 'lb',
  },
  {
    name: 'defaultService',
    group: 'stack',
    commands: rendering,
    flag: '--default-service <app>',
    help: 'stack mode: the app for requests no route matches',
    default: 'a 404',
  },
  {
    name: 'httpsPort',
    group: 'tls',
    commands: rendering,
    flag: '--https-port <port>',
    file: { httpsPort: port },
    help: 'serve HTTPS on --bind:PORT too (HTTP/2 and HTTP/1.1), with the certificates of --cert-dir and, in stack mode, of the store (<control>/certs/<name>)',
  },
  {
    name: 'certDir',
    group: 'tls',
    commands: rendering,
    flag: '--cert-dir <dir>',
    file: { certDir: text },
    help: 'HTTPS: a directory of certificate bundles (NAME.pem, NAME.crt + NAME.key, or tls.crt + tls.key as a Kubernetes Secret mounts them), followed for changes',
  },
  {
    name: 'defaultCert',
    group: 'tls',
    commands: rendering,
    flag: '--default-cert <name>',
    file: { defaultCert: text },
    help: 'HTTPS: the certificate for clients whose server name no certificate matches',
    default: 'the first by name',
  },
  {
    name: 'certWarn',
    group: 'tls',
    commands: rendering,
    flag: '--cert-warn <duration>',
    file: { certWarn: duration },
    help: 'HTTPS: warn (log and /healthz) when a certificate expires within this, e.g. 14d or 336h',
    default: '14d',
  },
  { name: 'config', group: 'program', flag: '--config <file>', help: 'config file', default: 'searched in the current directory, then /etc/occs-lb/' },
  {
    name: 'logFormat',
    group: 'program',
    flag: '--log-format <format>',
    file: { logFormat: textOrJson },
    choices: formats,
    help: 'log format on stderr',
    default: 'text (watch: json when stderr is not a terminal)',
  },
  { name: 'quiet', group: 'program', flag: '-q, --quiet', help: 'print errors only' },
  { name: 'verbose', group: 'program', flag: '-v, --verbose', help: 'print debug logs and stack traces' },

  // The commands' own options (table-commands.ts).
  ...COMMAND_SETTINGS,
] as const satisfies readonly SettingEntry[];
